// Owns the lookups features need over the intent (by key, by network, by host), kept up to date
// one object at a time so an incremental compile never rebuilds them. It never decides flows.

import type {
  EndpointIntent,
  GlobalIntent,
  GroupIntent,
  HostFacts,
  HostIntent,
  Intent,
  NetProfileIntent,
  NetworkIntent,
  PolicyIntent,
  ServiceIntent,
  TenantIntent,
} from './intent.js';

/** `tenant/name`: how objects of a tenant are keyed here. */
export const tkey = (tenant: string, name: string) => `${tenant}/${name}`;

function multiAdd<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s) s.add(v);
  else m.set(k, new Set([v]));
}

function multiDelete<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

const EMPTY: ReadonlySet<never> = new Set();

/** One label (or selector) of a tenant, as the label indexes key it. */
const labelKey = (tenant: string, k: string, v: string) => `${tenant}\0${k}=${v}`;

/** Does an endpoint with these labels provide a service with these selectors (every one held)? */
function selects(
  selectors: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  let any = false;
  for (const k in selectors) {
    if (labels?.[k] !== selectors[k]) return false;
    any = true;
  }
  return any;
}

/** Indexed intent plus this host's facts. Mutated only through its methods. */
export class IntentIndex {
  global: GlobalIntent;
  host: HostFacts;
  readonly tenants = new Map<string, TenantIntent>();
  readonly networks = new Map<string, NetworkIntent>();
  readonly groups = new Map<string, GroupIntent>();
  readonly policies = new Map<string, PolicyIntent>();
  readonly netProfiles = new Map<string, NetProfileIntent>();
  readonly endpoints = new Map<string, EndpointIntent>();
  readonly hosts = new Map<string, HostIntent>();
  readonly services = new Map<string, ServiceIntent>();
  private readonly epsByNetwork = new Map<string, Set<string>>();
  private readonly epsByGroup = new Map<string, Set<string>>();
  private readonly groupsByPolicy = new Map<string, Set<string>>();
  private readonly groupsByNetProfile = new Map<string, Set<string>>();
  private readonly networkById = new Map<number, string>();
  /** labelKey → endpoints carrying that label. */
  private readonly epsByLabel = new Map<string, Set<string>>();
  /** labelKey → services selecting on it. */
  private readonly servicesBySelector = new Map<string, Set<string>>();

  constructor(intent: Intent, host: HostFacts) {
    this.global = intent.global;
    this.host = host;
    for (const t of intent.tenants) this.tenants.set(t.name, t);
    for (const n of intent.networks) this.putNetwork(n);
    for (const g of intent.groups) this.putGroup(g);
    for (const p of intent.policies) this.policies.set(tkey(p.tenant, p.name), p);
    for (const p of intent.netProfiles) this.netProfiles.set(tkey(p.tenant, p.name), p);
    for (const e of intent.endpoints) this.putEndpoint(e);
    for (const h of intent.hosts) this.hosts.set(h.name, h);
    for (const v of intent.services ?? []) this.putService(v);
  }

  /** The intent held, as the constructor takes it (to compile it from scratch). */
  intent(): Intent {
    return {
      global: this.global,
      tenants: [...this.tenants.values()],
      networks: [...this.networks.values()],
      groups: [...this.groups.values()],
      policies: [...this.policies.values()],
      netProfiles: [...this.netProfiles.values()],
      endpoints: [...this.endpoints.values()],
      hosts: [...this.hosts.values()],
      services: [...this.services.values()],
    };
  }

  putTenant(t: TenantIntent): TenantIntent | undefined {
    const old = this.tenants.get(t.name);
    this.tenants.set(t.name, t);
    return old;
  }

  deleteTenant(name: string): TenantIntent | undefined {
    const old = this.tenants.get(name);
    this.tenants.delete(name);
    return old;
  }

  putNetwork(n: NetworkIntent): NetworkIntent | undefined {
    const key = tkey(n.tenant, n.name);
    const old = this.networks.get(key);
    if (old) this.networkById.delete(old.id);
    this.networks.set(key, n);
    this.networkById.set(n.id, key);
    return old;
  }

  deleteNetwork(key: string): NetworkIntent | undefined {
    const old = this.networks.get(key);
    if (!old) return undefined;
    this.networks.delete(key);
    this.networkById.delete(old.id);
    return old;
  }

  putGroup(g: GroupIntent): GroupIntent | undefined {
    const key = tkey(g.tenant, g.name);
    const old = this.deleteGroup(key);
    this.groups.set(key, g);
    for (const p of g.policies) multiAdd(this.groupsByPolicy, tkey(g.tenant, p), key);
    if (g.netProfile) multiAdd(this.groupsByNetProfile, tkey(g.tenant, g.netProfile), key);
    return old;
  }

  deleteGroup(key: string): GroupIntent | undefined {
    const old = this.groups.get(key);
    if (!old) return undefined;
    this.groups.delete(key);
    for (const p of old.policies) multiDelete(this.groupsByPolicy, tkey(old.tenant, p), key);
    if (old.netProfile) multiDelete(this.groupsByNetProfile, tkey(old.tenant, old.netProfile), key);
    return old;
  }

  putPolicy(p: PolicyIntent): PolicyIntent | undefined {
    const key = tkey(p.tenant, p.name);
    const old = this.policies.get(key);
    this.policies.set(key, p);
    return old;
  }

  deletePolicy(key: string): PolicyIntent | undefined {
    const old = this.policies.get(key);
    this.policies.delete(key);
    return old;
  }

  putNetProfile(p: NetProfileIntent): NetProfileIntent | undefined {
    const key = tkey(p.tenant, p.name);
    const old = this.netProfiles.get(key);
    this.netProfiles.set(key, p);
    return old;
  }

  deleteNetProfile(key: string): NetProfileIntent | undefined {
    const old = this.netProfiles.get(key);
    this.netProfiles.delete(key);
    return old;
  }

  putEndpoint(e: EndpointIntent): EndpointIntent | undefined {
    const old = this.deleteEndpoint(e.id);
    this.endpoints.set(e.id, e);
    multiAdd(this.epsByNetwork, tkey(e.tenant, e.network), e.id);
    if (e.group) multiAdd(this.epsByGroup, tkey(e.tenant, e.group), e.id);
    for (const k in e.labels) multiAdd(this.epsByLabel, labelKey(e.tenant, k, e.labels[k] as string), e.id);
    return old;
  }

  deleteEndpoint(id: string): EndpointIntent | undefined {
    const old = this.endpoints.get(id);
    if (!old) return undefined;
    this.endpoints.delete(id);
    multiDelete(this.epsByNetwork, tkey(old.tenant, old.network), id);
    if (old.group) multiDelete(this.epsByGroup, tkey(old.tenant, old.group), id);
    for (const k in old.labels)
      multiDelete(this.epsByLabel, labelKey(old.tenant, k, old.labels[k] as string), id);
    return old;
  }

  putHost(h: HostIntent): HostIntent | undefined {
    const old = this.hosts.get(h.name);
    this.hosts.set(h.name, h);
    return old;
  }

  deleteHost(name: string): HostIntent | undefined {
    const old = this.hosts.get(name);
    this.hosts.delete(name);
    return old;
  }

  putService(v: ServiceIntent): ServiceIntent | undefined {
    const key = tkey(v.tenant, v.name);
    const old = this.deleteService(key);
    this.services.set(key, v);
    for (const k in v.selectors)
      multiAdd(this.servicesBySelector, labelKey(v.tenant, k, v.selectors[k] as string), key);
    return old;
  }

  deleteService(key: string): ServiceIntent | undefined {
    const old = this.services.get(key);
    if (!old) return undefined;
    this.services.delete(key);
    for (const k in old.selectors)
      multiDelete(this.servicesBySelector, labelKey(old.tenant, k, old.selectors[k] as string), key);
    return old;
  }

  /** The service's providers (endpoint ids, sorted): the tenant's endpoints it selects. */
  providersOf(v: ServiceIntent): string[] {
    // The rarest selector's endpoints are the candidates.
    let fewest: ReadonlySet<string> | undefined;
    for (const k in v.selectors) {
      const s = this.epsByLabel.get(labelKey(v.tenant, k, v.selectors[k] as string)) ?? EMPTY;
      if (!fewest || s.size < fewest.size) fewest = s;
    }
    const out: string[] = [];
    for (const id of fewest ?? EMPTY) if (selects(v.selectors, this.endpoints.get(id)?.labels)) out.push(id);
    return out.sort();
  }

  /** Keys of the services an endpoint with these labels (in its tenant) provides. */
  servicesSelecting(e: Pick<EndpointIntent, 'tenant' | 'labels'>): string[] {
    const out = new Set<string>();
    for (const k in e.labels) {
      for (const key of this.servicesBySelector.get(labelKey(e.tenant, k, e.labels[k] as string)) ?? EMPTY) {
        const v = this.services.get(key);
        if (v && selects(v.selectors, e.labels)) out.add(key);
      }
    }
    return [...out];
  }

  endpointsOfNetwork(networkKey: string): ReadonlySet<string> {
    return this.epsByNetwork.get(networkKey) ?? EMPTY;
  }

  endpointsOfGroup(groupKey: string): ReadonlySet<string> {
    return this.epsByGroup.get(groupKey) ?? EMPTY;
  }

  groupsWithPolicy(policyKey: string): ReadonlySet<string> {
    return this.groupsByPolicy.get(policyKey) ?? EMPTY;
  }

  groupsWithNetProfile(profileKey: string): ReadonlySet<string> {
    return this.groupsByNetProfile.get(profileKey) ?? EMPTY;
  }

  networkKeyById(id: number): string | undefined {
    return this.networkById.get(id);
  }

  /** The endpoint's network, or undefined when the intent does not (yet) hold it. */
  networkOf(e: EndpointIntent): NetworkIntent | undefined {
    return this.networks.get(tkey(e.tenant, e.network));
  }

  groupOf(e: EndpointIntent): GroupIntent | undefined {
    return e.group ? this.groups.get(tkey(e.tenant, e.group)) : undefined;
  }

  isLocal(e: EndpointIntent): boolean {
    return e.host === this.host.name;
  }

  /** The OVS port of a local endpoint, undefined for remote ones and local ones not plugged yet. */
  localPort(e: EndpointIntent): number | undefined {
    return e.host === this.host.name ? this.host.endpointPorts.get(e.id) : undefined;
  }
}
