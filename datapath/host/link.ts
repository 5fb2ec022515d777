// Owns host link plumbing: veth pairs, moving links between namespaces, link/address/route setup, TX offload.
// It must never leave a half-made container interface behind (plugContainer undoes what it created) and
// never touch a link it was not named.
//
// Implementation: ip(8) and ethtool(8) through execFile (see exec.ts). The one netlink package on npm
// ("netlink" 0.3.0) is a native addon typed for Node 12, and switching namespaces per call from a Node
// thread is fragile; iproute2's JSON output (`ip -j`) gives structured state without parsing text.
import { randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { macFromIPv4 } from '../../policy/ipam/addr.js';
import { describeNetns, HostCommandError, ipNetnsArg, type NetnsRef, runHost } from './exec.js';

export type { NetnsRef } from './exec.js';
export { HostCommandError } from './exec.js';

/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_IFNAME = 15;

/** Throws unless name is a usable Linux interface name (1–15 bytes, no "/", ":" or whitespace). */
export function validateIfName(name: string, what = 'interface name'): void {
  if (typeof name !== 'string' || name.length === 0) throw new Error(`${what} is empty`);
  if (Buffer.byteLength(name) > MAX_IFNAME)
    throw new Error(
      `${what} "${name}" is ${Buffer.byteLength(name)} bytes; Linux allows at most ${MAX_IFNAME}`,
    );
  if (name === '.' || name === '..' || /[/:\s]/.test(name))
    throw new Error(
      `${what} "${name}" is not a valid Linux interface name (no "/", ":", whitespace, "." or "..")`,
    );
  // ip(8) would read a leading "-" as an option.
  if (name.startsWith('-')) throw new Error(`${what} "${name}" must not start with "-"`);
}

export interface Cidr {
  address: string;
  prefixLen: number;
  family: 4 | 6;
}

/** Parses "10.1.0.2/24" or "fd00::2/64"; the prefix length is required. */
export function parseCidr(text: string): Cidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(typeof text === 'string' ? text : '');
  if (!m) throw new Error(`invalid CIDR "${String(text)}": expected address/prefix, e.g. 10.1.0.2/24`);
  const address = m[1]!;
  const prefixLen = Number(m[2]);
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family === undefined) throw new Error(`invalid CIDR "${text}": "${address}" is not an IP address`);
  const max = family === 4 ? 32 : 128;
  if (prefixLen > max) throw new Error(`invalid CIDR "${text}": prefix length ${prefixLen} exceeds ${max}`);
  return { address: family === 6 ? canonicalIpv6(address) : address, prefixLen, family };
}

function canonicalIpv6(address: string): string {
  // The URL parser implements RFC 5952 compression, the same text iproute2 prints.
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function validateIp(ip: string, what: string): 4 | 6 {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip)) return 6;
  throw new Error(`${what} "${String(ip)}" is not an IP address`);
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/** Lower-cases and checks a MAC; multicast and all-zero addresses are refused (the kernel would refuse them). */
export function normalizeMac(mac: string): string {
  const m = typeof mac === 'string' ? mac.toLowerCase() : '';
  if (!MAC.test(m))
    throw new Error(`invalid MAC "${String(mac)}": expected six hex pairs like 02:02:0a:01:00:02`);
  if (Number.parseInt(m.slice(0, 2), 16) & 1) throw new Error(`invalid MAC "${mac}": a multicast address`);
  if (m === '00:00:00:00:00:00') throw new Error(`invalid MAC "${mac}": all zeros`);
  return m;
}

function validateMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)
    throw new Error(`invalid MTU ${String(mtu)}: an integer from 68 to 65535`);
}

/** What `ip -j -d link show` says about one link (the fields used here). */
interface LinkState {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  address?: string;
  link_index?: number;
  linkinfo?: { info_kind?: string };
}

/**
 * The link is not there. "No such device" (ENODEV): it went away between ip's name lookup and its
 * request, as a veth does when its peer's namespace is being deleted.
 */
export function isMissingLink(err: unknown): boolean {
  return (
    err instanceof HostCommandError && /does not exist|Cannot find device|No such device/.test(err.stderr)
  );
}

async function getLink(netns: NetnsRef | undefined, name: string): Promise<LinkState | undefined> {
  try {
    const out = await runHost(netns, 'ip', ['-j', '-d', 'link', 'show', 'dev', name]);
    const [link] = JSON.parse(out) as LinkState[];
    return link;
  } catch (err) {
    if (isMissingLink(err)) return undefined;
    throw err;
  }
}

function ip(netns: NetnsRef | undefined, ...args: string[]): Promise<string> {
  return runHost(netns, 'ip', args);
}

/** Creates a veth pair hostName <-> peerName (both in opts.netns, default the current namespace). */
export async function createVethPair(
  hostName: string,
  peerName: string,
  opts: { netns?: NetnsRef } = {},
): Promise<void> {
  validateIfName(hostName, 'veth name');
  validateIfName(peerName, 'veth peer name');
  if (hostName === peerName) throw new Error(`veth pair needs two different names, got "${hostName}" twice`);
  await ip(opts.netns, 'link', 'add', hostName, 'type', 'veth', 'peer', 'name', peerName);
}

/** Moves ifName (found in opts.fromNetns, default the current namespace) into target. */
export async function moveToNetns(
  ifName: string,
  target: { pid: number } | { path: string } | { name: string },
  opts: { fromNetns?: NetnsRef } = {},
): Promise<void> {
  validateIfName(ifName);
  await ip(opts.fromNetns, 'link', 'set', 'dev', ifName, 'netns', ipNetnsArg(target));
}

/** True when a link of that name exists in netns. */
export async function linkExists(name: string, netns?: NetnsRef): Promise<boolean> {
  validateIfName(name);
  return (await getLink(netns, name)) !== undefined;
}

/** Deletes a link; a link that does not exist is not an error. Deleting one veth end removes both. */
export async function deleteLink(name: string, netns?: NetnsRef): Promise<void> {
  validateIfName(name);
  try {
    await ip(netns, 'link', 'del', 'dev', name);
  } catch (err) {
    if (!isMissingLink(err)) throw err;
  }
}

/** Names of the veths in netns whose alias is `alias` (how a component marks the veths it owns). */
export async function vethsWithAlias(alias: string, netns?: NetnsRef): Promise<string[]> {
  const links = JSON.parse(await ip(netns, '-j', 'link', 'show', 'type', 'veth')) as (LinkState & {
    ifalias?: string;
  })[];
  return links.filter((l) => l.ifalias === alias).map((l) => l.ifname);
}

/** The link's MAC, lower case, read with ip(8): under nsenter /sys still shows the caller's namespace. */
export async function readMac(name: string, netns?: NetnsRef): Promise<string> {
  validateIfName(name);
  const link = await getLink(netns, name);
  if (link === undefined) throw new Error(`readMac: no link "${name}" in ${describeNetns(netns)}`);
  if (!link.address) throw new Error(`readMac: link "${name}" in ${describeNetns(netns)} has no MAC`);
  return link.address.toLowerCase();
}

/**
 * TX checksum offload on or off. With the userspace datapath it must be off on both ends of every veth:
 * otherwise packets leave with partial checksums that OVS never completes, and TCP through conntrack
 * silently fails (ICMP and ARP still work).
 */
export async function setTxOffload(ifName: string, on: boolean, netns?: NetnsRef): Promise<void> {
  validateIfName(ifName);
  await runHost(netns, 'ethtool', ['-K', ifName, 'tx', on ? 'on' : 'off']);
}

export interface InterfaceSpec {
  netns?: NetnsRef;
  ifName: string;
  rename?: string;
  mac?: string;
  mtu?: number;
  /** CIDRs to be present (others already on the link are left alone). */
  addresses?: string[];
  /** true: up; false: down; undefined: as it was (a link taken down for a rename comes back up). */
  up?: boolean;
  defaultGateway?: string;
}

function validateInterfaceSpec(spec: InterfaceSpec): void {
  validateIfName(spec.ifName);
  if (spec.rename !== undefined) validateIfName(spec.rename, 'new interface name');
  if (spec.mac !== undefined) normalizeMac(spec.mac);
  if (spec.mtu !== undefined) validateMtu(spec.mtu);
  for (const a of spec.addresses ?? []) parseCidr(a);
  if (spec.defaultGateway !== undefined) validateIp(spec.defaultGateway, 'default gateway');
  // A reference that cannot resolve fails here, before any command runs.
  if (spec.netns !== undefined) ipNetnsArg(spec.netns);
}

/**
 * Brings a link to the state asked for, in the order down → rename → MAC → MTU → addresses → up →
 * default route. Idempotent: it reads the link first and only changes what differs, so a second run
 * changes nothing (the link is not even taken down) and a link already renamed is found by its new name.
 */
export async function configureInterface(spec: InterfaceSpec): Promise<void> {
  validateInterfaceSpec(spec);
  const ns = spec.netns;
  let name = spec.ifName;
  let link = await getLink(ns, name);
  if (link === undefined && spec.rename !== undefined) {
    link = await getLink(ns, spec.rename);
    if (link !== undefined) name = spec.rename;
  }
  if (link === undefined)
    throw new Error(
      `configureInterface: no link "${spec.ifName}"${spec.rename ? ` (nor "${spec.rename}")` : ''} in ${describeNetns(ns)}`,
    );
  const mac = spec.mac === undefined ? undefined : normalizeMac(spec.mac);
  const renaming = spec.rename !== undefined && spec.rename !== name;
  const macDiffers = mac !== undefined && link.address?.toLowerCase() !== mac;
  const wasUp = link.flags.includes('UP');
  // The kernel renames and re-addresses only links that are down.
  const goDown = wasUp && (renaming || macDiffers || spec.up === false);
  if (goDown) await ip(ns, 'link', 'set', 'dev', name, 'down');
  if (renaming) {
    await ip(ns, 'link', 'set', 'dev', name, 'name', spec.rename!);
    name = spec.rename!;
  }
  if (macDiffers) await ip(ns, 'link', 'set', 'dev', name, 'address', mac!);
  if (spec.mtu !== undefined && link.mtu !== spec.mtu)
    await ip(ns, 'link', 'set', 'dev', name, 'mtu', String(spec.mtu));
  if (spec.addresses !== undefined && spec.addresses.length > 0) {
    const present = await addressesOf(ns, name);
    for (const text of spec.addresses) {
      const c = parseCidr(text);
      if (!present.has(`${c.address}/${c.prefixLen}`))
        await ip(ns, 'addr', 'add', `${c.address}/${c.prefixLen}`, 'dev', name);
    }
  }
  const wantUp = spec.up ?? wasUp;
  if (wantUp && (goDown || !wasUp)) await ip(ns, 'link', 'set', 'dev', name, 'up');
  if (spec.defaultGateway !== undefined) await ensureDefaultRoute(ns, name, spec.defaultGateway);
}

async function addressesOf(ns: NetnsRef | undefined, name: string): Promise<Set<string>> {
  const out = await ip(ns, '-j', 'addr', 'show', 'dev', name);
  const [entry] = JSON.parse(out) as { addr_info?: { family: string; local: string; prefixlen: number }[] }[];
  const set = new Set<string>();
  for (const a of entry?.addr_info ?? []) {
    const local = a.family === 'inet6' ? canonicalIpv6(a.local) : a.local;
    set.add(`${local}/${a.prefixlen}`);
  }
  return set;
}

async function ensureDefaultRoute(ns: NetnsRef | undefined, dev: string, gateway: string): Promise<void> {
  const fam = validateIp(gateway, 'default gateway') === 4 ? '-4' : '-6';
  const gw = fam === '-6' ? canonicalIpv6(gateway) : gateway;
  const out = await ip(ns, fam, '-j', 'route', 'show', 'default');
  const routes = JSON.parse(out || '[]') as { gateway?: string; dev?: string }[];
  const same = routes.length === 1 && routes[0]!.dev === dev && routes[0]!.gateway === gw;
  if (!same) await ip(ns, fam, 'route', 'replace', 'default', 'via', gw, 'dev', dev);
}

export interface PlugSpec {
  /** Namespace of the host end (default the current one): where the OVS port will be. */
  hostNetns?: NetnsRef;
  hostIf: string;
  netns: { pid: number } | { path: string } | { name: string };
  /** Name inside the container, e.g. eth0. */
  ifName: string;
  /** The container's address with prefix length. */
  ip: string;
  gateway?: string;
  /** Applied to both ends. */
  mtu?: number;
  /** Default: macFromIPv4(ip) for an IPv4 address; required for IPv6. */
  mac?: string;
}

export interface PlugResult {
  hostIf: string;
  mac: string;
}

function plugPlan(spec: PlugSpec): { mac: string; cidr: Cidr } {
  validateIfName(spec.hostIf, 'host interface name');
  validateIfName(spec.ifName, 'container interface name');
  const cidr = parseCidr(spec.ip);
  if (spec.gateway !== undefined) validateIp(spec.gateway, 'gateway');
  if (spec.mtu !== undefined) validateMtu(spec.mtu);
  if (spec.hostNetns !== undefined) ipNetnsArg(spec.hostNetns);
  ipNetnsArg(spec.netns);
  if (spec.mac === undefined && cidr.family !== 4)
    throw new Error(`plugContainer: an IPv6 address (${spec.ip}) needs an explicit mac`);
  const mac = spec.mac === undefined ? macFromIPv4(cidr.address) : normalizeMac(spec.mac);
  return { mac, cidr };
}

/**
 * Everything a container's interface needs: a veth pair (host end hostIf in hostNetns), the peer moved
 * into the container namespace, renamed to ifName, given its MAC, MTU, address, brought up, the default
 * route, TX offload off on both ends, the host end up. Validates everything before running anything.
 *
 * If a step fails, the pair is deleted again (deleting the host end removes the peer wherever it is), so
 * nothing half-made stays behind. Run again for a pair that already exists (hostIf's peer is ifName in
 * the container), it converges the existing pair instead of failing; a hostIf that is anything else is
 * refused and left alone.
 */
export async function plugContainer(spec: PlugSpec): Promise<PlugResult> {
  const { mac, cidr } = plugPlan(spec);
  const existing = await getLink(spec.hostNetns, spec.hostIf);
  if (existing !== undefined) {
    await checkOwnPair(spec, existing);
    await finishPlug(spec, spec.ifName, mac, cidr);
    return { hostIf: spec.hostIf, mac };
  }
  // The peer starts in the host namespace under a throw-away name, so it cannot collide with ifName there.
  const tmp = `tmp${randomBytes(5).toString('hex')}`;
  await createVethPair(spec.hostIf, tmp, { netns: spec.hostNetns });
  try {
    await moveToNetns(tmp, spec.netns, { fromNetns: spec.hostNetns });
    await finishPlug(spec, tmp, mac, cidr);
  } catch (err) {
    try {
      await deleteLink(spec.hostIf, spec.hostNetns);
    } catch (undo) {
      throw new AggregateError(
        [err, undo],
        `plugContainer ${spec.hostIf}: ${(err as Error).message}; and removing the half-made pair failed: ${(undo as Error).message}`,
      );
    }
    throw err;
  }
  return { hostIf: spec.hostIf, mac };
}

async function finishPlug(spec: PlugSpec, peerNow: string, mac: string, cidr: Cidr): Promise<void> {
  await configureInterface({
    netns: spec.netns,
    ifName: peerNow,
    rename: spec.ifName,
    mac,
    ...(spec.mtu !== undefined ? { mtu: spec.mtu } : {}),
    addresses: [`${cidr.address}/${cidr.prefixLen}`],
    up: true,
    ...(spec.gateway !== undefined ? { defaultGateway: spec.gateway } : {}),
  });
  await setTxOffload(spec.ifName, false, spec.netns);
  await setTxOffload(spec.hostIf, false, spec.hostNetns);
  await configureInterface({
    ...(spec.hostNetns !== undefined ? { netns: spec.hostNetns } : {}),
    ifName: spec.hostIf,
    ...(spec.mtu !== undefined ? { mtu: spec.mtu } : {}),
    up: true,
  });
}

/** A hostIf that already exists is adopted only when it is a veth whose peer is ifName in the container. */
async function checkOwnPair(spec: PlugSpec, host: LinkState): Promise<void> {
  const peer = await getLink(spec.netns, spec.ifName);
  const where = describeNetns(spec.netns);
  // ifindexes are per namespace, so both ends must name each other.
  const paired = peer !== undefined && peer.link_index === host.ifindex && host.link_index === peer.ifindex;
  if (host.linkinfo?.info_kind !== 'veth' || !paired)
    throw new Error(
      `plugContainer: "${spec.hostIf}" already exists in ${describeNetns(spec.hostNetns)} and is not a veth ` +
        `peered with "${spec.ifName}" in ${where}; refusing to touch it`,
    );
}
