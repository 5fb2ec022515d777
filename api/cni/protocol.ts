// Owns the CNI wire shapes (spec 1.0.0, with the 0.3/0.4 result forms runtimes may still ask
// for): the versions we speak, error codes and the error JSON, CNI_ARGS parsing, the result, and
// the request the plugin executable forwards to netplugin. Pure: no I/O, so the executable that
// imports it starts fast.

/** Result versions we can produce; CHECK exists from 0.4.0 on. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const DEFAULT_SOCKET = '/run/contiv/cni.sock';

/** Spec error codes (1-99 are the spec's; 100+ would be ours). */
export const ERR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  io: 5,
  decode: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
} as const;

export interface CniErrorBody {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** A failure answered as CNI error JSON on stdout with a non-zero exit. */
export class CniError extends Error {
  override readonly name = 'CniError';
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }

  body(cniVersion: string): CniErrorBody {
    return {
      cniVersion,
      code: this.code,
      msg: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/** What the plugin executable sends netplugin: the CNI environment and the network config. */
export interface CniRequest {
  command: CniCommand;
  containerID: string;
  /** CNI_NETNS; may be '' on DEL. */
  netns: string;
  ifName: string;
  /** CNI_ARGS, raw. */
  args: string;
  config: NetConf;
}

/** The network configuration on stdin; our keys besides the spec's are documented here. */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  /** Contiv object the pod joins unless its labels say otherwise; tenant defaults to "default". */
  tenant?: string;
  network?: string;
  group?: string;
  /** netplugin's CNI socket (default /run/contiv/cni.sock). */
  socket?: string;
  /** Overrides the MTU (default 1450 on VXLAN networks, else the kernel's). */
  mtu?: number;
  /** Passed through into the result. */
  dns?: CniDns;
  /** CNI convention: `args.cni.labels` = [{key, value}] carries pod labels. */
  args?: { cni?: { labels?: { key: string; value: string }[]; ips?: string[] } };
  /** Runtime-supplied: `labels` (map) and `ips` (capability "ips") are read. */
  runtimeConfig?: { labels?: Record<string, string>; ips?: string[] };
  prevResult?: CniResult;
  [key: string]: unknown;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniIp {
  /** Only in 0.3.x/0.4.0 results. */
  version?: '4' | '6';
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIp[];
  routes?: CniRoute[];
  dns?: CniDns;
}

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** VERSION's answer. */
export function versionResult(): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: '1.0.0', supportedVersions: [...SUPPORTED_VERSIONS] };
}

/** CNI_ARGS "K1=V1;K2=V2" as a map; a pair without "=" is refused (the spec's form). */
export function parseCniArgs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const i = pair.indexOf('=');
    if (i <= 0) throw new CniError(ERR.invalidEnv, `CNI_ARGS: "${pair}" is not KEY=VALUE`);
    out.set(pair.slice(0, i), pair.slice(i + 1));
  }
  return out;
}

/** Results before 1.0.0 tag each address with its family. */
export function resultFor(version: string, r: Omit<CniResult, 'cniVersion'>): CniResult {
  const old = version !== '1.0.0';
  const ips = r.ips?.map((ip) => {
    const { version: _v, ...rest } = ip;
    return old ? { version: ip.address.includes(':') ? ('6' as const) : ('4' as const), ...rest } : rest;
  });
  return { cniVersion: version, ...r, ...(ips ? { ips } : {}) };
}

/** Throws a CniError unless the config is an object with a supported cniVersion and a name. */
export function checkNetConf(raw: unknown): NetConf {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new CniError(ERR.decode, 'the network configuration on stdin is not a JSON object');
  const c = raw as NetConf;
  if (typeof c.cniVersion !== 'string' || !isSupportedVersion(c.cniVersion))
    throw new CniError(
      ERR.incompatibleVersion,
      `cniVersion ${JSON.stringify(c.cniVersion)} is not supported`,
      `supported: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  if (typeof c.name !== 'string' || c.name === '')
    throw new CniError(ERR.invalidConfig, 'the network configuration has no "name"');
  for (const k of ['tenant', 'network', 'group', 'socket'] as const) {
    if (c[k] !== undefined && typeof c[k] !== 'string')
      throw new CniError(ERR.invalidConfig, `"${k}" must be a string, not ${JSON.stringify(c[k])}`);
  }
  if (c.mtu !== undefined && (!Number.isInteger(c.mtu) || c.mtu < 68 || c.mtu > 65535))
    throw new CniError(ERR.invalidConfig, `"mtu" must be an integer from 68 to 65535`);
  return c;
}
