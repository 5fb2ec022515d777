// Owns store-backed allocation of addresses, VLAN ids and VXLAN VNIs: one key per allocated value, each
// allocation a single compare-and-swap transaction. It must never hand out a value without that CAS.
import type { Compare, KV, Store, TxnOp } from '../../state/store.js';
import {
  type Family,
  formatIP,
  IpamError,
  parseIdRange,
  parseIP,
  parsePool,
  parseSubnet,
  type Subnet,
} from './addr.js';

/**
 * Key layout (one key per allocated value, so a v6 /64 costs nothing until used and every allocation is
 * a "create if absent" compare on its own key):
 *   /contiv.io/ipam/addr/<tenant:network>/<ip>   {"owner": ...}
 *   /contiv.io/ipam/vlan/<id>                     {"owner": "<tenant:network>", "use": "pktTag"|"localVlan"}
 *   /contiv.io/ipam/vxlan/<id>                    {"owner": "<tenant:network>", "use": "pktTag"}
 *   /contiv.io/ipam/epg/<id>                      {"owner": "<tenant:group>"}
 *   /contiv.io/ipam/tenant/<id>                   {"owner": "<tenant>"}
 *   /contiv.io/ipam/service/<id>                  {"owner": "<tenant:service>"}
 */
export const IPAM_PREFIX = '/contiv.io/ipam/';
export type TagKind = 'vlan' | 'vxlan';
/** Id spaces: network tags, and endpoint-group ids (the number the policy compiler marks a group's traffic with). */
export type IdKind = TagKind | 'epg' | 'tenant' | 'service';

export const addrPrefix = (network: string) => `${IPAM_PREFIX}addr/${network}/`;
export const addrKey = (network: string, ip: string) => `${addrPrefix(network)}${ip}`;
export const tagPrefix = (kind: IdKind) => `${IPAM_PREFIX}${kind}/`;
export const tagKey = (kind: IdKind, id: number) => `${tagPrefix(kind)}${id}`;

/** Contiv's defaults for the global vlans/vxlans ranges, and the widest values the model lets them take. */
export const DEFAULT_VLANS = '1-4094';
export const DEFAULT_VXLANS = '1-10000';
export const VLAN_LIMITS = { lo: 1, hi: 4094 } as const;
export const VXLAN_LIMITS = { lo: 1, hi: 16777215 } as const;

/** Endpoint-group ids fit the 16 bits the datapath carries them in; 0 means "no group". */
export const EPG_ID_RANGE = { lo: 1, hi: 65535 } as const;

/** Tenant ids are the datapath's VRF and conntrack zone: 16 bits, 0 unused. */
export const TENANT_ID_RANGE = { lo: 1, hi: 65535 } as const;

/** Service ids number a serviceLB's select groups in the datapath (16 bits of the group id). */
export const SERVICE_ID_RANGE = { lo: 1, hi: 65535 } as const;

/** Conflicts are expected under contention; past this many, something else is wrong. */
const MAX_ATTEMPTS = 1000;

/** An allocation that cannot be made (exhausted, out of range, in use); the message names the network. */
/**
 * A refused allocation. Like the model's errors, the message names the object, the field whose value
 * was refused (when one was) and the reason: `network default:net: pktTag 5000: outside the vlan range 1-4094`.
 */
export class AllocationError extends Error {
  constructor(
    readonly subject: string,
    readonly reason: string,
    readonly field?: { name: string; value?: string | number },
  ) {
    const v = field?.value === undefined ? '' : ` ${JSON.stringify(field.value)}`;
    super(`${subject}: ${field ? `${field.name}${v}: ` : ''}${reason}`);
    this.name = 'AllocationError';
  }
}

/**
 * The caller's own part of the allocating transaction (e.g. "the network key is absent" and "put the
 * network"), so an object and its allocations are written together or not at all.
 */
export interface TxnExtras {
  compares: Compare[];
  ops: TxnOp[];
  /** Told the transaction's revision once it committed. */
  committed?: (revision: number) => void;
}

/** The caller's compares (TxnExtras) failed: its view is stale; nothing was allocated. */
export class CallerConflictError extends Error {
  constructor() {
    super('the transaction conditions given by the caller no longer hold');
    this.name = 'CallerConflictError';
  }
}

/** Runs one allocation attempt with the caller's extras; false means "our compares lost, retry". */
async function tryTxn(store: Store, compares: Compare[], ops: TxnOp[], extras?: TxnExtras): Promise<boolean> {
  const r = await store.txn([...compares, ...(extras?.compares ?? [])], [...ops, ...(extras?.ops ?? [])]);
  if (r.succeeded) {
    extras?.committed?.(r.revision);
    return true;
  }
  if (extras && extras.compares.length > 0 && !(await store.txn(extras.compares, [])).succeeded) {
    throw new CallerConflictError();
  }
  return false;
}

/** Where a network (or one of its groups) takes addresses from. */
export interface AddressSpace {
  /** Network key "tenant:network": the namespace of its addresses. */
  network: string;
  subnet: Subnet;
  gateway?: bigint;
  /** A group's ip-pool narrows the candidates; addresses stay unique in the whole network. */
  pool?: { first: bigint; last: bigint };
}

/** Builds an AddressSpace from the config strings (network subnet/gateway, group ipPool). */
export function addressSpace(
  network: string,
  subnet: string,
  gateway?: string,
  ipPool?: string,
): AddressSpace {
  const s = parseSubnet(subnet);
  const space: AddressSpace = { network, subnet: s };
  if (gateway) {
    const g = parseIP(gateway);
    if (!g || g.family !== s.family)
      throw new IpamError(`gateway "${gateway}" is not an IPv${s.family} address`);
    space.gateway = g.value;
  }
  if (ipPool) space.pool = parsePool(ipPool, s);
  return space;
}

function bounds(space: AddressSpace): { first: bigint; last: bigint } {
  let { first, last } = space.subnet;
  if (space.pool) {
    if (space.pool.first > first) first = space.pool.first;
    if (space.pool.last < last) last = space.pool.last;
  }
  return { first, last };
}

function describe(space: AddressSpace): string {
  const { first, last } = bounds(space);
  const f = space.subnet.family;
  return `${space.subnet.cidr} (addresses ${formatIP(f, first)}-${formatIP(f, last)})`;
}

/** The network field whose addresses ran out: the group's pool when allocating from one, else the subnet. */
function spaceField(space: AddressSpace): { name: string; value: string } {
  const f = space.subnet.family;
  return space.pool
    ? { name: 'ipPool', value: `${formatIP(f, space.pool.first)}-${formatIP(f, space.pool.last)}` }
    : { name: 'subnet', value: space.subnet.cidr };
}

function ownerOf(kv: KV | undefined): string | undefined {
  if (!kv) return undefined;
  try {
    const v = JSON.parse(kv.value) as { owner?: unknown };
    return typeof v.owner === 'string' ? v.owner : undefined;
  } catch {
    return undefined;
  }
}

const absent = (key: string): Compare => ({ key, target: 'create', op: '==', value: 0 });

// Contenders that all read the same snapshot would all pick the same first free value; after a conflict
// each one picks at random among the first few free values, so 100 concurrent allocators finish in
// about log rounds instead of 100. Without contention the first free value is taken, as in Contiv.
function pick<T>(candidates: readonly T[], attempt: number): T | undefined {
  if (attempt === 0 || candidates.length <= 1) return candidates[0];
  return candidates[Math.floor(Math.random() * candidates.length)];
}

async function takenAddresses(store: Store, space: AddressSpace): Promise<Set<bigint>> {
  const taken = new Set<bigint>();
  const prefix = addrPrefix(space.network);
  for (const kv of await store.list(prefix)) {
    const ip = parseIP(kv.key.slice(prefix.length));
    if (ip && ip.family === space.subnet.family) taken.add(ip.value);
  }
  return taken;
}

/**
 * Allocates one address of the network (the first free one, gateway skipped), or exactly `preferred`.
 * Atomic: the address key is created only if absent, so concurrent allocators never share an address.
 */
export async function allocAddress(
  store: Store,
  space: AddressSpace,
  opts: {
    owner: string;
    preferred?: string;
    /** The request field that named `preferred`, for errors (default `ipAddress`). */
    preferredField?: string;
    /** The caller's part of the transaction; a function gets the address being tried (e.g. for a record holding it). */
    extras?: TxnExtras | ((ip: string) => TxnExtras);
  },
): Promise<string> {
  const extrasFor = (ip: string) => (typeof opts.extras === 'function' ? opts.extras(ip) : opts.extras);
  const value = JSON.stringify({ owner: opts.owner });
  const f: Family = space.subnet.family;
  const subject = `network ${space.network}`;
  if (opts.preferred) {
    const asked = { name: opts.preferredField ?? 'ipAddress', value: opts.preferred };
    const ip = parseIP(opts.preferred);
    const { first, last } = bounds(space);
    if (!ip || ip.family !== f || ip.value < first || ip.value > last || ip.value === space.gateway) {
      throw new AllocationError(subject, `not allocatable in ${describe(space)}`, asked);
    }
    const text = formatIP(f, ip.value);
    const key = addrKey(space.network, text);
    const guard: Compare[] = [];
    if (!space.pool && f === 4) {
      const pk = await store.get(poolsKey(space.network));
      for (const [group, range] of Object.entries(readPools(pk))) {
        const r = parsePool(range);
        if (ip.value >= r.first && ip.value <= r.last) {
          throw new AllocationError(subject, `reserved for the ipPool of group ${group}`, asked);
        }
      }
      guard.push({ key: poolsKey(space.network), target: 'mod', op: '==', value: pk?.modRevision ?? 0 });
    }
    if (!(await tryTxn(store, [absent(key), ...guard], [{ type: 'put', key, value }], extrasFor(text)))) {
      const holder = ownerOf(await store.get(key)) ?? 'another endpoint';
      throw new AllocationError(subject, `in use by ${holder}`, asked);
    }
    return text;
  }
  const exclude = space.gateway === undefined ? [] : [space.gateway];
  const { first, last } = bounds(space);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    // Network-wide (IPv4) allocations skip the groups' reserved pools, and only commit if the pool
    // reservations they saw are still the current ones (a pool reserved meanwhile makes them retry).
    const guard: Compare[] = [];
    let skip: { first: bigint; last: bigint }[] = [];
    if (!space.pool && f === 4) {
      const pk = await store.get(poolsKey(space.network));
      guard.push({ key: poolsKey(space.network), target: 'mod', op: '==', value: pk?.modRevision ?? 0 });
      skip = Object.values(readPools(pk)).map((t) => parsePool(t));
    }
    const taken = await takenAddresses(store, space);
    const candidate = pick(freeSkipping(first, last, taken, exclude, skip, attempt === 0 ? 1 : 8), attempt);
    if (candidate === undefined) {
      throw new AllocationError(subject, `no free address left in ${describe(space)}`, spaceField(space));
    }
    const text = formatIP(f, candidate);
    const key = addrKey(space.network, text);
    if (await tryTxn(store, [absent(key), ...guard], [{ type: 'put', key, value }], extrasFor(text)))
      return text;
  }
  throw new AllocationError(subject, 'address allocation kept conflicting; try again');
}

/** Free values in [first, last] outside taken, exclude and the skipped ranges, up to n, in order. */
function freeSkipping(
  first: bigint,
  last: bigint,
  taken: ReadonlySet<bigint>,
  exclude: readonly bigint[],
  skip: readonly { first: bigint; last: bigint }[],
  n: number,
): bigint[] {
  const out: bigint[] = [];
  for (let v = first; v <= last && out.length < n; v++) {
    const r = skip.find((x) => v >= x.first && v <= x.last);
    if (r) {
      v = r.last; // jump over the whole reserved range
      continue;
    }
    if (!taken.has(v) && !exclude.includes(v)) out.push(v);
  }
  return out;
}

/** Where a network's group pools are recorded: {"<tenant:group>": "A-B", ...}, one key so it can be CASed. */
export const poolsKey = (network: string) => `${IPAM_PREFIX}pools/${network}`;

function readPools(kv: KV | undefined): Record<string, string> {
  if (!kv) return {};
  try {
    const v = JSON.parse(kv.value) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * Reserves a group's ip-pool out of its network, as Contiv does: IPv4 only, inside the subnet, not
 * overlapping another group's pool, no address in it already allocated. From then on the network's
 * own (group-less) allocations skip it. Written first, then verified, so an allocation that raced
 * the reservation is either seen here (and the reservation is undone) or retried by its allocator.
 */
export async function reservePool(store: Store, space: AddressSpace, group: string): Promise<void> {
  const pool = space.pool;
  const subject = `endpointGroup ${group}`;
  if (!pool) throw new AllocationError(subject, 'no ipPool to reserve');
  const f = space.subnet.family;
  const text = `${formatIP(f, pool.first)}-${formatIP(f, pool.last)}`;
  const field = { name: 'ipPool', value: text };
  if (f !== 4) throw new AllocationError(subject, 'IPv6 ip-pools are not supported', field);
  const key = poolsKey(space.network);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const kv = await store.get(key);
    const pools = readPools(kv);
    for (const [other, range] of Object.entries(pools)) {
      if (other === group) continue;
      const r = parsePool(range);
      if (r.first <= pool.last && pool.first <= r.last) {
        throw new AllocationError(subject, `overlaps the ipPool ${range} of group ${other}`, field);
      }
    }
    const next = JSON.stringify({ ...pools, [group]: text });
    const r = await store.txn(
      [{ key, target: 'mod', op: '==', value: kv?.modRevision ?? 0 }],
      [{ type: 'put', key, value: next }],
    );
    if (!r.succeeded) continue;
    const inside = [...(await takenAddresses(store, space))].filter((v) => v >= pool.first && v <= pool.last);
    if (inside.length > 0) {
      await releasePool(store, space.network, group);
      const shown = inside
        .sort((a, b) => (a < b ? -1 : 1))
        .slice(0, 5)
        .map((v) => formatIP(f, v));
      throw new AllocationError(subject, `holds allocated address(es) ${shown.join(', ')}`, field);
    }
    return;
  }
  throw new AllocationError(subject, 'ipPool reservation kept conflicting; try again', field);
}

/** Gives a deleted group's ip-pool back to its network. */
export async function releasePool(store: Store, network: string, group: string): Promise<void> {
  const key = poolsKey(network);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const kv = await store.get(key);
    const pools = readPools(kv);
    if (!(group in pools)) return;
    delete pools[group];
    const ops: TxnOp[] =
      Object.keys(pools).length === 0
        ? [{ type: 'delete', key }]
        : [{ type: 'put', key, value: JSON.stringify(pools) }];
    const r = await store.txn([{ key, target: 'mod', op: '==', value: kv?.modRevision ?? 0 }], ops);
    if (r.succeeded) return;
  }
  throw new AllocationError(`endpointGroup ${group}`, 'ipPool release kept conflicting; try again');
}

/** Returns an address to the pool. With owner, only if that owner holds it. True when it was released. */
export async function releaseAddress(
  store: Store,
  network: string,
  ip: string,
  owner?: string,
): Promise<boolean> {
  const parsed = parseIP(ip);
  if (!parsed) throw new IpamError(`"${ip}" is not an IP address`);
  const key = addrKey(network, formatIP(parsed.family, parsed.value));
  if (owner === undefined) return store.delete(key);
  const r = await store.txn(
    [{ key, target: 'value', op: '==', value: JSON.stringify({ owner }) }],
    [{ type: 'delete', key }],
  );
  return r.succeeded;
}

/** Every allocated address of a network with its owner, in address order. */
export async function listAddresses(store: Store, network: string): Promise<{ ip: string; owner: string }[]> {
  const prefix = addrPrefix(network);
  const rows = (await store.list(prefix)).map((kv) => {
    const text = kv.key.slice(prefix.length);
    return { ip: text, owner: ownerOf(kv) ?? '', sort: parseIP(text)?.value ?? 0n };
  });
  rows.sort((a, b) => (a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : 0));
  return rows.map(({ ip, owner }) => ({ ip, owner }));
}

/** Drops every address of a deleted network in one transaction. */
export async function releaseAllAddresses(store: Store, network: string): Promise<void> {
  await store.txn([], [{ type: 'deletePrefix', prefix: addrPrefix(network) }]);
}

/** The global ranges ids come from ("A-B" strings as the global object holds them). */
export interface TagRanges {
  vlans?: string;
  vxlans?: string;
}

export function vlanRange(ranges: TagRanges): { lo: number; hi: number } {
  return parseIdRange(ranges.vlans || DEFAULT_VLANS, VLAN_LIMITS.lo, VLAN_LIMITS.hi);
}

export function vxlanRange(ranges: TagRanges): { lo: number; hi: number } {
  return parseIdRange(ranges.vxlans || DEFAULT_VXLANS, VXLAN_LIMITS.lo, VXLAN_LIMITS.hi);
}

async function takenIds(store: Store, kind: IdKind): Promise<Map<number, string>> {
  const prefix = tagPrefix(kind);
  const out = new Map<number, string>();
  for (const kv of await store.list(prefix)) {
    const id = Number(kv.key.slice(prefix.length));
    if (Number.isInteger(id)) out.set(id, ownerOf(kv) ?? '');
  }
  return out;
}

function freeIds(range: { lo: number; hi: number }, taken: ReadonlyMap<number, string>, n: number): number[] {
  const out: number[] = [];
  for (let id = range.lo; id <= range.hi && out.length < n; id++) if (!taken.has(id)) out.push(id);
  return out;
}

export interface NetworkTags {
  encap: 'vlan' | 'vxlan';
  /** The VLAN id (vlan) or VNI (vxlan) on the wire. */
  pktTag: number;
  /** VXLAN networks only: the VLAN that carries the network on the local bridge. */
  localVlan?: number;
}

/** Every network's tags by "tenant:network", read from the allocator's records (its only record of them). */
export async function networkTagsByOwner(store: Store): Promise<Map<string, NetworkTags>> {
  const out = new Map<string, NetworkTags>();
  const localVlans = new Map<string, number>();
  for (const encap of ['vlan', 'vxlan'] as const) {
    for (const kv of await store.list(tagPrefix(encap))) {
      let v: { owner?: unknown; use?: unknown };
      try {
        v = JSON.parse(kv.value) as typeof v;
      } catch {
        continue;
      }
      if (typeof v.owner !== 'string') continue;
      const id = Number(kv.key.slice(tagPrefix(encap).length));
      if (v.use === 'pktTag') out.set(v.owner, { encap, pktTag: id });
      else if (v.use === 'localVlan') localVlans.set(v.owner, id);
    }
  }
  for (const [owner, id] of localVlans) {
    const tags = out.get(owner);
    if (tags) tags.localVlan = id;
  }
  return out;
}

/**
 * Allocates a network's ids in one transaction: its pkt-tag (the requested one, checked in range and
 * free, or the first free) and, for VXLAN, a local VLAN from the vlan range.
 */
export async function allocNetworkTags(
  store: Store,
  req: { network: string; encap: 'vlan' | 'vxlan'; pktTag?: number },
  ranges: TagRanges,
  extras?: TxnExtras,
): Promise<NetworkTags> {
  const vlans = vlanRange(ranges);
  const tagKind: TagKind = req.encap;
  const tagRange = req.encap === 'vlan' ? vlans : vxlanRange(ranges);
  const subject = `network ${req.network}`;
  const asked = { name: 'pktTag', value: req.pktTag };
  if (req.pktTag !== undefined && req.pktTag !== 0) {
    if (!Number.isInteger(req.pktTag) || req.pktTag < tagRange.lo || req.pktTag > tagRange.hi) {
      const reason = `outside the global ${req.encap}s range ${tagRange.lo}-${tagRange.hi}`;
      throw new AllocationError(subject, reason, asked);
    }
  }
  const pktValue = JSON.stringify({ owner: req.network, use: 'pktTag' });
  const localValue = JSON.stringify({ owner: req.network, use: 'localVlan' });
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const taken = await takenIds(store, tagKind);
    let pktTag: number | undefined;
    if (req.pktTag) {
      const holder = taken.get(req.pktTag);
      if (holder !== undefined) {
        throw new AllocationError(subject, `in use by network ${holder || '(unknown)'}`, asked);
      }
      pktTag = req.pktTag;
    } else {
      pktTag = pick(freeIds(tagRange, taken, attempt === 0 ? 1 : 8), attempt);
      if (pktTag === undefined) {
        const reason = `no free ${req.encap} id left in the global ${req.encap}s range ${tagRange.lo}-${tagRange.hi}`;
        throw new AllocationError(subject, reason, { name: 'encap', value: req.encap });
      }
    }
    const compares: Compare[] = [absent(tagKey(tagKind, pktTag))];
    const ops: TxnOp[] = [{ type: 'put', key: tagKey(tagKind, pktTag), value: pktValue }];
    let localVlan: number | undefined;
    if (req.encap === 'vxlan') {
      const vlanTaken = await takenIds(store, 'vlan');
      localVlan = pick(freeIds(vlans, vlanTaken, attempt === 0 ? 1 : 8), attempt);
      if (localVlan === undefined) {
        const reason = `no free local vlan left in the global vlans range ${vlans.lo}-${vlans.hi}`;
        throw new AllocationError(subject, reason, { name: 'encap', value: 'vxlan' });
      }
      compares.push(absent(tagKey('vlan', localVlan)));
      ops.push({ type: 'put', key: tagKey('vlan', localVlan), value: localValue });
    }
    if (await tryTxn(store, compares, ops, extras))
      return localVlan === undefined ? { encap: req.encap, pktTag } : { encap: req.encap, pktTag, localVlan };
  }
  throw new AllocationError(subject, 'tag allocation kept conflicting; try again');
}

/** Returns a network's ids, each only if this network still holds it. */
export async function releaseNetworkTags(store: Store, network: string, tags: NetworkTags): Promise<void> {
  const drop = async (kind: TagKind, id: number, use: string) => {
    const key = tagKey(kind, id);
    await store.txn(
      [{ key, target: 'value', op: '==', value: JSON.stringify({ owner: network, use }) }],
      [{ type: 'delete', key }],
    );
  };
  await drop(tags.encap, tags.pktTag, 'pktTag');
  if (tags.localVlan !== undefined) await drop('vlan', tags.localVlan, 'localVlan');
}

/** Allocated ids of one kind with their owners, in id order (the global object's vlansInUse/vxlansInUse). */
export async function listTags(store: Store, kind: IdKind): Promise<{ id: number; owner: string }[]> {
  const taken = await takenIds(store, kind);
  return [...taken.entries()].sort((a, b) => a[0] - b[0]).map(([id, owner]) => ({ id, owner }));
}

/** Ids outside `range` (the ones a range change would orphan). Pure. */
export function orphans(
  allocated: readonly { id: number; owner: string }[],
  range: { lo: number; hi: number },
): { id: number; owner: string }[] {
  return allocated.filter((a) => a.id < range.lo || a.id > range.hi);
}

/**
 * Refuses a new global vlans/vxlans range that would leave an allocated id outside it. Returns the
 * store revision it checked at, so a caller can make its global update conditional on nothing newer.
 */
export async function checkRangeChange(store: Store, kind: TagKind, newRange: string): Promise<number> {
  const limits = kind === 'vlan' ? VLAN_LIMITS : VXLAN_LIMITS;
  let range: { lo: number; hi: number };
  try {
    range = parseIdRange(newRange, limits.lo, limits.hi);
  } catch (e) {
    throw new AllocationError('global global', (e as Error).message, { name: `${kind}s`, value: newRange });
  }
  const rev = await store.revision();
  const lost = orphans(await listTags(store, kind), range);
  if (lost.length > 0) {
    const shown = lost
      .slice(0, 10)
      .map((o) => `${o.id} (${o.owner})`)
      .join(', ');
    const reason = `would orphan ${lost.length} allocated id(s): ${shown}${lost.length > 10 ? ', …' : ''}`;
    throw new AllocationError('global global', reason, { name: `${kind}s`, value: newRange });
  }
  return rev;
}

/** Allocates the first free id of a kind within range for owner (e.g. a group's id), one CAS per try. */
export async function allocId(
  store: Store,
  kind: IdKind,
  range: { lo: number; hi: number },
  owner: string,
  extras?: TxnExtras,
): Promise<number> {
  const value = JSON.stringify({ owner });
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const id = pick(freeIds(range, await takenIds(store, kind), attempt === 0 ? 1 : 8), attempt);
    if (id === undefined)
      throw new AllocationError(`${kind} ${owner}`, `no free ${kind} id left in ${range.lo}-${range.hi}`);
    const key = tagKey(kind, id);
    if (await tryTxn(store, [absent(key)], [{ type: 'put', key, value }], extras)) return id;
  }
  throw new AllocationError(`${kind} ${owner}`, `${kind} id allocation kept conflicting; try again`);
}

/**
 * The lowest free id of `kind`, as the caller's own part of a transaction that makes something
 * else too (a serviceLB's address): if another writer takes the id first, the compare fails and
 * the caller's transaction with it (CallerConflictError), and the caller tries again.
 */
export async function idClaim(
  store: Store,
  kind: IdKind,
  range: { lo: number; hi: number },
  owner: string,
): Promise<{ id: number; compares: Compare[]; ops: TxnOp[] }> {
  const id = freeIds(range, await takenIds(store, kind), 1)[0];
  if (id === undefined)
    throw new AllocationError(`${kind} ${owner}`, `no free ${kind} id left in ${range.lo}-${range.hi}`);
  const key = tagKey(kind, id);
  return { id, compares: [absent(key)], ops: [{ type: 'put', key, value: JSON.stringify({ owner }) }] };
}

/** Returns an id allocated by allocId, only if owner still holds it. True when released. */
export async function releaseId(store: Store, kind: IdKind, id: number, owner: string): Promise<boolean> {
  const key = tagKey(kind, id);
  const r = await store.txn(
    [{ key, target: 'value', op: '==', value: JSON.stringify({ owner }) }],
    [{ type: 'delete', key }],
  );
  return r.succeeded;
}

/** Sorted values as Contiv's inspect shows them: runs compressed, "1-5, 8". */
export function formatRuns<T extends number | bigint>(values: readonly T[], show: (v: T) => string): string {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    // Consecutive when the next value is exactly one more (works for number and bigint alike).
    while (j + 1 < sorted.length && String(sorted[j + 1]) === String(BigInt(sorted[j] as T) + 1n)) j++;
    const a = sorted[i] as T;
    const b = sorted[j] as T;
    runs.push(i === j ? show(a) : `${show(a)}-${show(b)}`);
    i = j + 1;
  }
  return runs.join(', ');
}

/** A network's (or group's) address usage for inspect: allocated (the gateway too) and available addresses as runs. */
export async function addressUsage(
  store: Store,
  space: AddressSpace,
): Promise<{ allocatedCount: number; allocated: string; available: string }> {
  const f = space.subnet.family;
  const { first, last } = bounds(space);
  const taken = [...(await takenAddresses(store, space))].filter((v) => v >= first && v <= last);
  const takenSet = new Set(taken);
  // Available runs are the gaps between allocated addresses (and the gateway), never enumerated one by one.
  const blocked = [...takenSet];
  if (
    space.gateway !== undefined &&
    space.gateway >= first &&
    space.gateway <= last &&
    !takenSet.has(space.gateway)
  ) {
    blocked.push(space.gateway);
  }
  blocked.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const gaps: string[] = [];
  let from = first;
  for (const b of [...blocked, last + 1n]) {
    if (b > from)
      gaps.push(b - 1n === from ? formatIP(f, from) : `${formatIP(f, from)}-${formatIP(f, b - 1n)}`);
    from = b + 1n;
  }
  // Contiv lists the gateway among the allocated addresses but counts only the endpoints' ones.
  return {
    allocatedCount: taken.length,
    allocated: formatRuns(blocked, (v) => formatIP(f, v)),
    available: gaps.join(', '),
  };
}
