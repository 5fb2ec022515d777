// Owns turning what the store holds (netmaster's config objects, IPAM allocations, netplugins'
// endpoint and host records) into the compiler's Intent. Pure: the caller reads the keys, this
// only parses; an object whose parent is missing is left out (it is being created or deleted).

import { IPAM_PREFIX } from '../ipam/allocator.js';
import type { EndpointRecord, HostRecord } from '../model/endpoint.js';
import { ENDPOINT_PREFIX, HOST_PREFIX } from '../model/endpoint.js';
import type {
  EndpointGroupConfig,
  GlobalConfig,
  NetprofileConfig,
  NetworkConfig,
  PolicyConfig,
  RuleConfig,
  ServiceLBConfig,
  TenantConfig,
} from '../model/generated.js';
import { CONFIG_PREFIX } from '../model/schema.js';
import { SERVICE_VIP_PREFIX, type ServiceVipRecord } from '../model/service.js';
import type {
  ArpMode,
  Encap,
  FwdMode,
  GroupIntent,
  Intent,
  NetworkIntent,
  PolicyIntent,
  RuleIntent,
  ServiceIntent,
  ServicePortIntent,
} from './intent.js';

/** The prefixes whose keys make up the intent, for a caller that lists or watches them. */
export const INTENT_PREFIXES = [
  CONFIG_PREFIX,
  IPAM_PREFIX,
  ENDPOINT_PREFIX,
  HOST_PREFIX,
  SERVICE_VIP_PREFIX,
] as const;

export const DEFAULT_PVT_SUBNET = '172.19.0.0/16';

export interface KeyValue {
  key: string;
  value: string;
}

const PROTOCOLS: Record<string, number> = { '': 0, tcp: 6, udp: 17, icmp: 1 };

export function protocolNumber(text: string | undefined): number {
  const t = (text ?? '').toLowerCase();
  const known = PROTOCOLS[t];
  if (known !== undefined) return known;
  const n = Number(t);
  if (!Number.isInteger(n) || n < 0 || n > 255)
    throw new Error(`rule: protocol "${text}" is not tcp, udp, icmp or 0..255`);
  return n;
}

/** Contiv's bandwidth text ("10 mbps", "10Mbps", "10m", "500kb") in kbit/s; '' is 0 (no limit). */
export function bandwidthKbps(text: string | undefined): number {
  const t = (text ?? '').trim();
  if (t === '') return 0;
  const m = /^([1-9][0-9]*)\s*([kmg])(?:bps|b)?$/i.exec(t);
  if (!m) throw new Error(`netprofile: bandwidth "${text}" is not like "10 mbps"`);
  const scale = { k: 1, m: 1000, g: 1_000_000 }[(m[2] as string).toLowerCase() as 'k' | 'm' | 'g'];
  return Number(m[1]) * scale;
}

/** A serviceLB's `ports` entries (SERVICEPORT:PROVIDERPORT:TCP|UDP, as the model validated them). */
function servicePorts(ports: readonly string[] | undefined): ServicePortIntent[] {
  const out: ServicePortIntent[] = [];
  for (const p of ports ?? []) {
    const [port, targetPort, proto] = p.split(':');
    out.push({
      port: Number(port),
      targetPort: Number(targetPort),
      protocol: proto?.toLowerCase() === 'udp' ? 17 : 6,
    });
  }
  return out;
}

/** A serviceLB's `selectors` entries (KEY=VALUE) as a map. */
function serviceSelectors(selectors: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of selectors ?? []) {
    const i = s.indexOf('=');
    if (i > 0) out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}

function parse<T>(kv: KeyValue): T | undefined {
  try {
    return JSON.parse(kv.value) as T;
  } catch {
    return undefined;
  }
}

/** Builds the intent from every key under INTENT_PREFIXES. */
export function intentFromStore(kvs: Iterable<KeyValue>): Intent {
  let global: GlobalConfig | undefined;
  const tenants: TenantConfig[] = [];
  const networks: NetworkConfig[] = [];
  const groups: EndpointGroupConfig[] = [];
  const policies: PolicyConfig[] = [];
  const rules: RuleConfig[] = [];
  const profiles: NetprofileConfig[] = [];
  const endpoints: EndpointRecord[] = [];
  const hosts: HostRecord[] = [];
  const services: ServiceLBConfig[] = [];
  const vips = new Map<string, ServiceVipRecord>();
  const serviceIds = new Map<string, number>();
  const tenantIds = new Map<string, number>();
  const epgIds = new Map<string, number>();
  const tags = new Map<string, { pktTag?: number; localVlan?: number; encap?: Encap }>();

  for (const kv of kvs) {
    const k = kv.key;
    if (k.startsWith(CONFIG_PREFIX)) {
      const type = k.slice(CONFIG_PREFIX.length, k.indexOf('/', CONFIG_PREFIX.length));
      const list = {
        global: undefined,
        tenant: tenants,
        network: networks,
        endpointGroup: groups,
        policy: policies,
        rule: rules,
        netprofile: profiles,
        serviceLB: services,
      }[type];
      const obj = parse<never>(kv);
      if (obj === undefined) continue;
      if (type === 'global') global = obj as GlobalConfig;
      else (list as unknown[] | undefined)?.push(obj);
    } else if (k.startsWith(ENDPOINT_PREFIX)) {
      const e = parse<EndpointRecord>(kv);
      if (e) endpoints.push(e);
    } else if (k.startsWith(SERVICE_VIP_PREFIX)) {
      const v = parse<ServiceVipRecord>(kv);
      if (v) vips.set(k.slice(SERVICE_VIP_PREFIX.length), v);
    } else if (k.startsWith(HOST_PREFIX)) {
      const h = parse<HostRecord>(kv);
      if (h) hosts.push(h);
    } else if (k.startsWith(IPAM_PREFIX)) {
      const [kind, id] = k.slice(IPAM_PREFIX.length).split('/');
      const owner = parse<{ owner?: string; use?: string }>(kv);
      const n = Number(id);
      if (!owner?.owner || !Number.isInteger(n)) continue;
      if (kind === 'tenant') tenantIds.set(owner.owner, n);
      else if (kind === 'epg') epgIds.set(owner.owner, n);
      else if (kind === 'service') serviceIds.set(owner.owner, n);
      else if (kind === 'vlan' || kind === 'vxlan') {
        const t = tags.get(owner.owner) ?? {};
        if (owner.use === 'localVlan') t.localVlan = n;
        else {
          t.pktTag = n;
          t.encap = kind;
        }
        tags.set(owner.owner, t);
      }
    }
  }

  const tenantNames = new Set(tenants.map((t) => t.tenantName).filter((t) => tenantIds.has(t)));
  const outNetworks: NetworkIntent[] = [];
  for (const n of networks) {
    const t = tags.get(`${n.tenantName}:${n.networkName}`);
    if (!tenantNames.has(n.tenantName) || !t?.encap || t.pktTag === undefined) continue;
    const id = t.encap === 'vlan' ? t.pktTag : t.localVlan;
    if (id === undefined) continue;
    outNetworks.push({
      tenant: n.tenantName,
      name: n.networkName,
      id,
      encap: t.encap,
      pktTag: t.pktTag,
      subnet: n.subnet ?? '',
      gateway: n.gateway ?? '',
    });
  }
  const networkKeys = new Set(outNetworks.map((n) => `${n.tenant}:${n.name}`));

  const outGroups: GroupIntent[] = [];
  for (const g of groups) {
    const id = epgIds.get(`${g.tenantName}:${g.groupName}`);
    if (id === undefined || !g.networkName || !networkKeys.has(`${g.tenantName}:${g.networkName}`)) continue;
    outGroups.push({
      tenant: g.tenantName,
      name: g.groupName,
      network: g.networkName,
      id,
      policies: [...(g.policies ?? [])],
      netProfile: g.netProfile ?? '',
    });
  }

  const byPolicy = new Map<string, RuleIntent[]>();
  for (const r of rules) {
    const key = `${r.tenantName}:${r.policyName}`;
    const list = byPolicy.get(key) ?? [];
    list.push({
      ruleId: r.ruleId,
      direction: r.direction === 'out' ? 'out' : 'in',
      priority: r.priority ?? 1,
      action: r.action === 'deny' ? 'deny' : 'allow',
      protocol: protocolNumber(r.protocol),
      port: r.port ?? 0,
      fromGroup: r.fromEndpointGroup ?? '',
      toGroup: r.toEndpointGroup ?? '',
      fromNetwork: r.fromNetwork ?? '',
      toNetwork: r.toNetwork ?? '',
      fromIp: r.fromIpAddress ?? '',
      toIp: r.toIpAddress ?? '',
    });
    byPolicy.set(key, list);
  }
  const outPolicies: PolicyIntent[] = policies
    .filter((p) => tenantNames.has(p.tenantName))
    .map((p) => ({
      tenant: p.tenantName,
      name: p.policyName,
      rules: (byPolicy.get(`${p.tenantName}:${p.policyName}`) ?? []).sort((a, b) =>
        a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0,
      ),
    }));

  const outServices: ServiceIntent[] = [];
  for (const v of services) {
    const key = `${v.tenantName}:${v.serviceName}`;
    const id = serviceIds.get(key);
    const vip = vips.get(key)?.serviceVip;
    if (id === undefined || !vip || !networkKeys.has(`${v.tenantName}:${v.networkName}`)) continue;
    outServices.push({
      tenant: v.tenantName,
      name: v.serviceName,
      network: v.networkName ?? '',
      id,
      vip,
      ports: servicePorts(v.ports),
      selectors: serviceSelectors(v.selectors),
    });
  }

  return {
    global: {
      fwdMode: (global?.fwdMode === 'routing' ? 'routing' : 'bridge') as FwdMode,
      arpMode: (global?.arpMode === 'flood' ? 'flood' : 'proxy') as ArpMode,
      pvtSubnet: global?.pvtSubnet || DEFAULT_PVT_SUBNET,
    },
    tenants: [...tenantNames].map((name) => ({ name, id: tenantIds.get(name) as number })),
    networks: outNetworks,
    groups: outGroups,
    policies: outPolicies,
    netProfiles: profiles
      .filter((p) => tenantNames.has(p.tenantName))
      .map((p) => ({
        tenant: p.tenantName,
        name: p.profileName,
        dscp: p.DSCP ?? 0,
        bandwidthKbps: bandwidthKbps(p.bandwidth),
        burstKb: p.burst ?? 0,
      })),
    endpoints: endpoints
      .filter((e) => networkKeys.has(`${e.tenant}:${e.network}`))
      .map((e) => ({
        id: e.endpointID,
        tenant: e.tenant,
        network: e.network,
        group: e.endpointGroup,
        ip: e.ipAddress,
        mac: e.macAddress,
        host: e.homingHost,
        ...(e.labels && Object.keys(e.labels).length > 0 ? { labels: e.labels } : {}),
      })),
    hosts: hosts.map((h) => ({ name: h.name, vtepIP: h.vtepIP })),
    services: outServices,
  };
}
