// Owns the names DNS answers, per tenant: container names, group names (bare and `group.network`),
// serviceLB names → addresses, and addresses → names for PTR. It is fed store keys (put/delete/
// replaceAll) and never reads the store itself; store-feed.ts keeps it current. Tenants never see
// each other's names.
import { isIPv4, isIPv6 } from 'node:net';
import { ipv4ToNumber } from '../policy/ipam/addr.js';
import { ENDPOINT_PREFIX, type EndpointRecord } from '../policy/model/endpoint.js';
import type { EndpointGroupConfig, NetworkConfig } from '../policy/model/generated.js';
import { SERVICE_VIP_PREFIX, type ServiceVipRecord } from '../policy/model/service.js';
import { nameKey, reverseName } from './names.js';

export const CONFIG_PREFIX = '/contiv.io/config/';
const GROUP_PREFIX = `${CONFIG_PREFIX}endpointGroup/`;
const NETWORK_PREFIX = `${CONFIG_PREFIX}network/`;
/** The store prefixes the registry is built from. */
export const REGISTRY_PREFIXES = [ENDPOINT_PREFIX, GROUP_PREFIX, SERVICE_VIP_PREFIX, NETWORK_PREFIX] as const;

/** A name of ours: its addresses (possibly none: a group without members still exists). */
export interface NameEntry {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

/** What a tenant's name resolves to: an entry, 'nxdomain' (in our zones, unknown), or undefined (not ours). */
export type Lookup = NameEntry | 'nxdomain' | undefined;

/** The part of a store record the registry keeps: one source of names for one tenant. */
interface Source {
  tenant: string;
  /** Lookup keys this source gives addresses to (or makes exist, with no addresses). */
  names: string[];
  v4: string[];
  v6: string[];
  /** Network name of the tenant this source proves exists (a zone for `x.network`). */
  zone?: string;
  /** Name PTR answers give for this source's addresses. */
  ptrName?: string;
}

/** Counts per value: several sources may give a name the same address (or none may any more). */
type Counts = Map<string, number>;

function bump(m: Counts, k: string, by: number): void {
  const n = (m.get(k) ?? 0) + by;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}

interface NameState {
  /** Sources giving this name (it exists while > 0, with or without addresses). */
  refs: number;
  v4: Counts;
  v6: Counts;
  /** Sorted addresses, made on the first lookup after a change. */
  entry: NameEntry | undefined;
}

/** One tenant's names, kept up to date source by source (a change costs its own names, not the tenant's). */
class TenantTable {
  private readonly names = new Map<string, NameState>();
  private readonly zones: Counts = new Map();
  private readonly ptr = new Map<string, Counts>();
  private readonly ptrSorted = new Map<string, string[]>();

  /**
   * Adds (by 1) or removes (by -1) what one source contributes. Returns the lookup keys whose
   * answers may change, or undefined when a zone came or went (any name of the tenant may).
   */
  apply(s: Source, by: 1 | -1): string[] | undefined {
    const touched = [...s.names];
    for (const n of s.names) {
      let st = this.names.get(n);
      if (!st) {
        st = { refs: 0, v4: new Map(), v6: new Map(), entry: undefined };
        this.names.set(n, st);
      }
      st.refs += by;
      for (const a of s.v4) bump(st.v4, a, by);
      for (const a of s.v6) bump(st.v6, a, by);
      st.entry = undefined;
      if (st.refs <= 0) this.names.delete(n);
    }
    let zoneChanged = false;
    if (s.zone) {
      const had = this.zones.has(s.zone);
      bump(this.zones, s.zone, by);
      zoneChanged = had !== this.zones.has(s.zone);
    }
    if (s.ptrName) {
      for (const a of [...s.v4, ...s.v6]) {
        const rev = reverseName(a)!;
        touched.push(rev);
        const m = this.ptr.get(rev) ?? new Map<string, number>();
        bump(m, s.ptrName, by);
        if (m.size > 0) this.ptr.set(rev, m);
        else this.ptr.delete(rev);
        this.ptrSorted.delete(rev);
      }
    }
    return zoneChanged ? undefined : touched;
  }

  get empty(): boolean {
    return this.names.size === 0 && this.zones.size === 0 && this.ptr.size === 0;
  }

  name(key: string): NameEntry | undefined {
    const st = this.names.get(key);
    if (!st) return undefined;
    st.entry ??= { v4: sortIps([...st.v4.keys()]), v6: sortIps([...st.v6.keys()]) };
    return st.entry;
  }

  hasZone(zone: string): boolean {
    return this.zones.has(zone);
  }

  ptrNames(rev: string): readonly string[] | undefined {
    let sorted = this.ptrSorted.get(rev);
    if (!sorted) {
      const m = this.ptr.get(rev);
      if (!m) return undefined;
      sorted = [...m.keys()].sort();
      this.ptrSorted.set(rev, sorted);
    }
    return sorted;
  }
}

export interface KeyValue {
  key: string;
  value: string;
}

export type ChangeListener = (tenant: string, names: readonly string[] | undefined) => void;

export class NameRegistry {
  private readonly sources = new Map<string, Source>();
  private readonly tables = new Map<string, TenantTable>();
  private readonly listeners = new Set<ChangeListener>();

  /**
   * Called with the tenant whose names changed ('*' after replaceAll: every tenant) and the lookup
   * keys that changed (undefined: possibly all of the tenant's).
   */
  onChange(fn: ChangeListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Replaces everything with these keys (a fresh listing of REGISTRY_PREFIXES). */
  replaceAll(kvs: readonly KeyValue[]): void {
    this.sources.clear();
    this.tables.clear();
    for (const kv of kvs) {
      const s = toSource(kv.key, kv.value);
      if (!s) continue;
      this.sources.set(kv.key, s);
      this.table(s.tenant).apply(s, 1);
    }
    this.emit('*', undefined);
  }

  put(key: string, value: string): void {
    const before = this.sources.get(key);
    const after = toSource(key, value);
    const removed = before ? this.table(before.tenant).apply(before, -1) : [];
    let added: string[] | undefined = [];
    if (after) {
      this.sources.set(key, after);
      added = this.table(after.tenant).apply(after, 1);
    } else {
      this.sources.delete(key);
    }
    if (before && after && before.tenant === after.tenant) {
      this.changed(before.tenant, removed && added ? [...removed, ...added] : undefined);
    } else {
      if (before) this.changed(before.tenant, removed);
      if (after) this.changed(after.tenant, added);
    }
  }

  delete(key: string): void {
    const before = this.sources.get(key);
    if (!before) return;
    this.sources.delete(key);
    this.changed(before.tenant, this.table(before.tenant).apply(before, -1));
  }

  /** A forward name (A/AAAA) in a tenant. */
  lookup(tenant: string, name: string): Lookup {
    const t = this.tables.get(tenant);
    if (!t) return undefined;
    const key = nameKey(name);
    const e = t.name(key);
    if (e) return e;
    // `x.<network>` is in our zone even when x is unknown; a bare unknown name is not ours.
    const dot = key.lastIndexOf('.');
    return dot > 0 && t.hasZone(key.slice(dot + 1)) ? 'nxdomain' : undefined;
  }

  /** The names of one of our addresses, by its reverse name; undefined when not ours. */
  lookupPtr(tenant: string, reverse: string): readonly string[] | undefined {
    return this.tables.get(tenant)?.ptrNames(nameKey(reverse));
  }

  private changed(tenant: string, names: readonly string[] | undefined): void {
    if (this.tables.get(tenant)?.empty) this.tables.delete(tenant);
    this.emit(tenant, names);
  }

  private emit(tenant: string, names: readonly string[] | undefined): void {
    for (const fn of this.listeners) fn(tenant, names);
  }

  private table(tenant: string): TenantTable {
    let t = this.tables.get(tenant);
    if (!t) {
      t = new TenantTable();
      this.tables.set(tenant, t);
    }
    return t;
  }
}

/** Deterministic order (rotation starts from it): numeric for IPv4, text for IPv6. */
function sortIps(ips: string[]): string[] {
  const num = (ip: string) => ipv4ToNumber(ip) ?? 0;
  return ips.sort((a, b) => (isIPv4(a) && isIPv4(b) ? num(a) - num(b) : a < b ? -1 : a > b ? 1 : 0));
}

/** `10.1.1.2/24` → `10.1.1.2`; '' or anything not an address of that family → undefined. */
function addr(text: string | undefined, v6: boolean): string | undefined {
  const ip = (text ?? '').split('/')[0]!;
  return (v6 ? isIPv6(ip) : isIPv4(ip)) ? ip : undefined;
}

/** A usable label sequence: DNS allows 63 bytes per label, 253 for the name. */
function validName(key: string): boolean {
  return key.length > 0 && key.length <= 253 && key.split('.').every((l) => l.length > 0 && l.length <= 63);
}

function parse<T>(value: string): Partial<T> | undefined {
  try {
    const v: unknown = JSON.parse(value);
    return v !== null && typeof v === 'object' ? (v as Partial<T>) : undefined;
  } catch {
    return undefined;
  }
}

/** What one store key contributes; undefined for keys (or values) that give no names. */
function toSource(key: string, value: string): Source | undefined {
  if (key.startsWith(ENDPOINT_PREFIX)) {
    const ep = parse<EndpointRecord>(value);
    if (!ep?.tenant) return undefined;
    const names: string[] = [];
    // Contiv's records may hold Docker's `/name` form; the name is without the slash.
    const container = nameKey((ep.containerName ?? '').replace(/^\//, ''));
    if (container) names.push(container);
    const group = nameKey(ep.endpointGroup ?? '');
    const network = nameKey(ep.network ?? '');
    if (group) names.push(group, ...(network ? [`${group}.${network}`] : []));
    const v4 = addr(ep.ipAddress, false);
    const v6 = addr(ep.ipv6Address, true);
    return {
      tenant: ep.tenant,
      names: names.filter(validName),
      v4: v4 ? [v4] : [],
      v6: v6 ? [v6] : [],
      ...(network ? { zone: network } : {}),
      ...(container && validName(container) ? { ptrName: container } : {}),
    };
  }
  if (key.startsWith(GROUP_PREFIX)) {
    const g = parse<EndpointGroupConfig>(value);
    if (!g?.tenantName || !g.groupName) return undefined;
    const group = nameKey(g.groupName);
    const network = nameKey(g.networkName ?? '');
    const names = [group, ...(network ? [`${group}.${network}`] : [])].filter(validName);
    return { tenant: g.tenantName, names, v4: [], v6: [], ...(network ? { zone: network } : {}) };
  }
  if (key.startsWith(SERVICE_VIP_PREFIX)) {
    // The address netmaster allocated, not the config's preferred one (which may be empty).
    const s = parse<ServiceVipRecord>(value);
    if (!s?.tenantName || !s.serviceName) return undefined;
    const name = nameKey(s.serviceName);
    if (!validName(name)) return undefined;
    const v4 = addr(s.serviceVip, false);
    return { tenant: s.tenantName, names: [name], v4: v4 ? [v4] : [], v6: [], ptrName: name };
  }
  if (key.startsWith(NETWORK_PREFIX)) {
    const n = parse<NetworkConfig>(value);
    if (!n?.tenantName || !n.networkName) return undefined;
    return { tenant: n.tenantName, names: [], v4: [], v6: [], zone: nameKey(n.networkName) };
  }
  return undefined;
}
