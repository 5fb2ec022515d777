// Owns pure address arithmetic for IPAM: IPv4/IPv6 text ↔ bigint, subnets with Contiv's range syntax,
// ip-pools and first-free search. It must never touch the store or keep state between calls.

/** A refused subnet, pool, range or address; `reason` is the bare explanation the model layer quotes. */
export class IpamError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'IpamError';
  }
}

export type Family = 4 | 6;

export interface IP {
  family: Family;
  value: bigint;
}

const V4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function parseIPv4(s: string): bigint | undefined {
  if (!V4_RE.test(s)) return undefined;
  return s.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

export function formatIPv4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 255n)).join('.');
}

/** parseIPv4 as an unsigned 32-bit number, for flow matches and masks. */
export function ipv4ToNumber(s: string): number | undefined {
  const v = parseIPv4(s);
  return v === undefined ? undefined : Number(v);
}

export function numberToIPv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** The IPv4 netmask of a prefix length (0..32), as an unsigned number. */
export function ipv4Mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export function parseIPv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.length > 45) return undefined;
  let text = s;
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIPv4(tail);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${((v4 >> 16n) & 0xffffn).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): string[] | undefined => {
    if (h === '') return [];
    const g = h.split(':');
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g : undefined;
  };
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (!head || !rest) return undefined;
  const n = head.length + rest.length;
  if (halves.length === 2 ? n > 7 : n !== 8) return undefined;
  const all = [...head, ...Array<string>(8 - n).fill('0'), ...rest];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** RFC 5952 text: lower case, the longest run (≥ 2) of zero groups compressed. */
export function formatIPv6(v: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function parseIP(s: string): IP | undefined {
  const v4 = parseIPv4(s);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = s.includes(':') ? parseIPv6(s) : undefined;
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

export function formatIP(family: Family, v: bigint): string {
  return family === 4 ? formatIPv4(v) : formatIPv6(v);
}

const bitsOf = (f: Family) => (f === 4 ? 32 : 128);

/** A network's address space: the subnet, and the addresses IPAM may hand out (Contiv's "A-B/len" range). */
export interface Subnet {
  family: Family;
  /** Canonical "network/len" text (host bits cleared). */
  cidr: string;
  prefixLen: number;
  network: bigint;
  /** Last address of the subnet (the IPv4 broadcast). */
  broadcast: bigint;
  /** Allocatable addresses, inclusive: the given range, or the subnet minus network (and v4 broadcast). */
  first: bigint;
  last: bigint;
  /** True when the text carried an explicit range. */
  ranged: boolean;
}

/**
 * "10.1.1.0/24", "10.1.1.10-10.1.1.20/24" or "2001:db8::/64". Host bits in the address are accepted
 * (Contiv's docs create "200.1.1.1/24"). Prefix limits follow Contiv's model: 1..31 (v4), 1..127 (v6).
 */
export function parseSubnet(text: string): Subnet {
  const slash = text.lastIndexOf('/');
  if (slash < 0) throw new IpamError('must be ADDRESS/PREFIX (optionally FIRST-LAST/PREFIX)');
  const addrPart = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  const dash = addrPart.indexOf('-');
  const startText = dash < 0 ? addrPart : addrPart.slice(0, dash);
  const start = parseIP(startText);
  if (!start) throw new IpamError(`"${startText}" is not an IP address`);
  const bits = bitsOf(start.family);
  const maxLen = bits - 1;
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) < 1 || Number(lenText) > maxLen) {
    throw new IpamError(`prefix length must be 1..${maxLen}`);
  }
  const prefixLen = Number(lenText);
  const size = 1n << BigInt(bits - prefixLen);
  const network = start.value & ~(size - 1n) & ((1n << BigInt(bits)) - 1n);
  const broadcast = network + size - 1n;
  let first = network + 1n;
  let last = start.family === 4 ? broadcast - 1n : broadcast;
  let ranged = false;
  if (dash >= 0) {
    const endText = addrPart.slice(dash + 1);
    const end = parseIP(endText);
    if (!end || end.family !== start.family)
      throw new IpamError(`range end "${endText}" is not an IP address`);
    if (end.value < start.value) throw new IpamError('range start must not be after its end');
    if (start.value < network || end.value > broadcast) {
      throw new IpamError(
        `range ${startText}-${endText} is not inside ${formatIP(start.family, network)}/${prefixLen}`,
      );
    }
    // The network and broadcast addresses are never handed out, even when the range names them.
    first = start.value > network ? start.value : network + 1n;
    last = end.value < last ? end.value : last;
    ranged = true;
  }
  return {
    family: start.family,
    cidr: `${formatIP(start.family, network)}/${prefixLen}`,
    prefixLen,
    network,
    broadcast,
    first,
    last,
    ranged,
  };
}

export function contains(subnet: Subnet, ip: IP): boolean {
  return ip.family === subnet.family && ip.value >= subnet.network && ip.value <= subnet.broadcast;
}

/** A group's ip-pool "A-B": both ends inside the network's subnet, A ≤ B. */
export function parsePool(text: string, subnet?: Subnet): { first: bigint; last: bigint } {
  const dash = text.indexOf('-');
  const aText = dash < 0 ? text : text.slice(0, dash);
  const bText = dash < 0 ? text : text.slice(dash + 1);
  const a = parseIP(aText);
  const b = parseIP(bText);
  if (!a || !b || a.family !== b.family) throw new IpamError('must be FIRST-LAST addresses');
  if (b.value < a.value) throw new IpamError('pool start must not be after its end');
  if (subnet && (!contains(subnet, a) || !contains(subnet, b))) {
    throw new IpamError(`pool is not inside the network's subnet ${subnet.cidr}`);
  }
  return { first: a.value, last: b.value };
}

/** "A-B" id range (vlans, vxlans), inclusive, checked against lo..hi. */
export function parseIdRange(text: string, lo: number, hi: number): { lo: number; hi: number } {
  const m = /^(\d{1,8})-(\d{1,8})$/.exec(text);
  if (!m) throw new IpamError('must be FIRST-LAST');
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (a < lo || b > hi) throw new IpamError(`must lie within ${lo}-${hi}`);
  if (a > b) throw new IpamError('range start must not be after its end');
  return { lo: a, hi: b };
}

/** Smallest value in [first, last] that is neither taken nor excluded; at most |taken|+|exclude|+1 steps. */
export function firstFree(
  first: bigint,
  last: bigint,
  taken: ReadonlySet<bigint>,
  exclude: readonly bigint[] = [],
): bigint | undefined {
  for (let v = first; v <= last; v++) {
    if (!taken.has(v) && !exclude.includes(v)) return v;
  }
  return undefined;
}

/** Contiv's MAC for an endpoint: 02:02 and the four IPv4 bytes. */
export function macFromIPv4(ip: string): string {
  const v = parseIPv4(ip);
  if (v === undefined) throw new IpamError(`"${ip}" is not an IPv4 address`);
  const bytes = [24n, 16n, 8n, 0n].map((sh) => Number((v >> sh) & 255n));
  return ['02', '02', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
