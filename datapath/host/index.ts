// Owns the public surface of host plumbing (links, namespaces, container interfaces) for netplugin.
// It must never hold logic of its own; it only re-exports.
export type { NetnsRef, RunOptions } from './exec.js';
export { HostCommandError, netnsPath, runHost } from './exec.js';
export type { Cidr, InterfaceSpec, PlugResult, PlugSpec } from './link.js';
export {
  configureInterface,
  createVethPair,
  deleteLink,
  isMissingLink,
  linkExists,
  MAX_IFNAME,
  moveToNetns,
  normalizeMac,
  parseCidr,
  plugContainer,
  readMac,
  setTxOffload,
  validateIfName,
  vethsWithAlias,
} from './link.js';
export { ensureHostNat, removeHostNat } from './nat.js';
