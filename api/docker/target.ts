// Owns how a Docker network is mapped onto Contiv: Docker's network names for Contiv objects, the
// options that select a Contiv (tenant, network, group), the IPAM pool id that carries that choice,
// reading the selected objects' config from the store, and each host's memory of which Contiv object
// its Docker networks are. It never allocates anything.

import { parseSubnet, type Subnet } from '../../policy/ipam/addr.js';
import { DOCKERNET_PREFIX, DOCKNET_PREFIX } from '../../policy/model/endpoint.js';
import type { EndpointGroupConfig, NetworkConfig } from '../../policy/model/generated.js';
import { CONFIG_PREFIX, configKey } from '../../policy/model/schema.js';
import type { Store } from '../../state/store.js';
import { PluginError } from './protocol.js';

export const DEFAULT_TENANT = 'default';
/** Option keys netmaster puts on the Docker networks it creates (driver and IPAM options alike). */
export const OPT_TENANT = 'tenant';
export const OPT_NETWORK = 'network';
export const OPT_GROUP = 'group';
/** `-o contiv-tag=T --ipam-opt contiv-tag=T`: the group (or network) whose cfgdTag is T. */
export const OPT_TAG = 'contiv-tag';

/** Docker's name for a Contiv network or group: NET, GROUP.NET, with /TENANT outside the default tenant. */
export function dockerNetworkName(tenant: string, network: string, group?: string): string {
  const base = group ? `${group}.${network}` : network;
  return tenant === DEFAULT_TENANT ? base : `${base}/${tenant}`;
}

/** What a Docker network was asked to be: an explicit Contiv object, or a tag to look up. */
export type Selector = { tenant: string; network: string; group: string } | { tag: string };

/** The Contiv object a Docker network is attached to, with what the drivers need of its config. */
export interface ContivTarget {
  tenant: string;
  network: string;
  /** '' when the Docker network is the Contiv network itself. */
  group: string;
  /** IPv4 subnet CIDR. */
  subnet: string;
  /** '' when the network has none. */
  gateway: string;
  /** The group's ip-pool "A-B", '' when none. */
  ipPool: string;
  encap: 'vlan' | 'vxlan';
}

/** Reads targets; the driver holds one (tests give a fake). */
export interface TargetResolver {
  resolve(sel: Selector): Promise<ContivTarget>;
}

/** The Contiv networks made for Docker networks (swarm mode without a contiv-tag), found by subnet. */
export interface SubnetPools {
  /** The Contiv network made for a Docker network with exactly this subnet; undefined when none (yet). */
  forSubnet(cidr: string): Promise<ContivTarget | undefined>;
  /**
   * A default-tenant Contiv network whose subnet overlaps cidr, as "NAME (SUBNET)", other than one
   * made for a Docker network with exactly cidr (swarm asks for the pool again on every node).
   */
  overlapping(cidr: string): Promise<string | undefined>;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The selector in a set of options (CreateNetwork's generic options or RequestPool's IPAM options);
 * undefined when they name nothing Contiv.
 */
export function selectorFrom(opts: Record<string, unknown> | null | undefined): Selector | undefined {
  if (!opts) return undefined;
  const tag = str(opts[OPT_TAG]);
  const network = str(opts[OPT_NETWORK]);
  if (tag !== undefined && network !== undefined)
    throw new PluginError(`give either ${OPT_TAG} or ${OPT_NETWORK}/${OPT_GROUP}/${OPT_TENANT}, not both`);
  if (tag !== undefined) return { tag };
  if (network !== undefined)
    return { tenant: str(opts[OPT_TENANT]) ?? DEFAULT_TENANT, network, group: str(opts[OPT_GROUP]) ?? '' };
  if (str(opts[OPT_GROUP]) !== undefined)
    throw new PluginError(`option ${OPT_GROUP} needs ${OPT_NETWORK} as well`);
  return undefined;
}

export function describeSelector(sel: Selector): string {
  if ('tag' in sel) return `${OPT_TAG} "${sel.tag}"`;
  const where = sel.group ? `group ${sel.group} of network ${sel.network}` : `network ${sel.network}`;
  return `${where} in tenant ${sel.tenant}`;
}

const POOL_PREFIX = 'contiv';

/**
 * The IPAM pool id: the target itself, so that address calls need no memory of earlier calls and
 * survive a netplugin restart.
 */
export function poolIdOf(t: { tenant: string; network: string; group: string }): string {
  return [POOL_PREFIX, t.tenant, t.network, t.group].map(encodeURIComponent).join('/');
}

/** The pool id of a Docker network made without a contiv-tag: its subnet (its Contiv network may not exist yet). */
const SUBNET_POOL_PREFIX = 'contiv-docker/';
export const subnetPoolIdOf = (cidr: string) => `${SUBNET_POOL_PREFIX}${cidr}`;

/** The CIDR of a subnet pool id; undefined for any other id. */
export function subnetOfPoolId(id: string): string | undefined {
  return typeof id === 'string' && id.startsWith(SUBNET_POOL_PREFIX)
    ? id.slice(SUBNET_POOL_PREFIX.length)
    : undefined;
}

export function parsePoolId(id: string): { tenant: string; network: string; group: string } {
  const parts = typeof id === 'string' ? id.split('/') : [];
  if (parts.length !== 4 || parts[0] !== POOL_PREFIX || !parts[1] || !parts[2])
    throw new PluginError(`pool id "${String(id)}" is not one this IPAM driver gave out`);
  const [tenant, network, group] = parts.slice(1).map(decodeURIComponent) as [string, string, string];
  return { tenant, network, group };
}

const networkKey = (tenant: string, network: string) => configKey('network', `${tenant}:${network}`);
const groupKey = (tenant: string, group: string) => configKey('endpointGroup', `${tenant}:${group}`);

function parse<T>(value: string | undefined): T | undefined {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}

/** Resolves selectors from the intent in the store (netplugin reads the same store netmaster writes). */
export class StoreTargetResolver implements TargetResolver, SubnetPools {
  constructor(private readonly store: Store) {}

  async forSubnet(cidr: string): Promise<ContivTarget | undefined> {
    for (const kv of await this.store.list(DOCKERNET_PREFIX)) {
      const [tenant = '', network = ''] = kv.key.slice(DOCKERNET_PREFIX.length).split(':');
      const net = parse<NetworkConfig>((await this.store.get(networkKey(tenant, network)))?.value);
      if (net?.subnet && cidrOrUndefined(net.subnet) === cidr) return targetOf(net, undefined);
    }
    return undefined;
  }

  async overlapping(cidr: string): Promise<string | undefined> {
    const made = new Set(
      (await this.store.list(DOCKERNET_PREFIX)).map((kv) => kv.key.slice(DOCKERNET_PREFIX.length)),
    );
    const want = parseSubnet(cidr);
    for (const kv of await this.store.list(`${CONFIG_PREFIX}network/${DEFAULT_TENANT}:`)) {
      const n = parse<NetworkConfig>(kv.value);
      if (!n?.subnet) continue;
      let s: Subnet;
      try {
        s = parseSubnet(n.subnet);
      } catch {
        continue;
      }
      if (s.network > want.broadcast || want.network > s.broadcast) continue;
      if (s.cidr === want.cidr && made.has(`${n.tenantName}:${n.networkName}`)) continue;
      return `${n.networkName} (${n.subnet})`;
    }
    return undefined;
  }

  async resolve(sel: Selector): Promise<ContivTarget> {
    if ('tag' in sel) return this.byTag(sel.tag);
    let networkName = sel.network;
    let group: EndpointGroupConfig | undefined;
    if (sel.group) {
      group = parse<EndpointGroupConfig>((await this.store.get(groupKey(sel.tenant, sel.group)))?.value);
      if (!group) throw new PluginError(`Contiv ${describeSelector(sel)}: no such group`);
      if (group.networkName && group.networkName !== sel.network)
        throw new PluginError(
          `Contiv ${describeSelector(sel)}: the group belongs to network ${group.networkName}`,
        );
      networkName = group.networkName ?? sel.network;
    }
    const net = parse<NetworkConfig>((await this.store.get(networkKey(sel.tenant, networkName)))?.value);
    if (!net) throw new PluginError(`Contiv ${describeSelector(sel)}: no such network`);
    return targetOf(net, group);
  }

  private async byTag(tag: string): Promise<ContivTarget> {
    for (const kv of await this.store.list(`${CONFIG_PREFIX}endpointGroup/`)) {
      const g = parse<EndpointGroupConfig>(kv.value);
      if (g?.cfgdTag === tag)
        return this.resolve({ tenant: g.tenantName, network: g.networkName ?? '', group: g.groupName });
    }
    for (const kv of await this.store.list(`${CONFIG_PREFIX}network/`)) {
      const n = parse<NetworkConfig>(kv.value);
      if (n?.cfgdTag === tag) return targetOf(n, undefined);
    }
    throw new PluginError(`no Contiv group or network has ${OPT_TAG} "${tag}"`);
  }
}

function cidrOrUndefined(text: string): string | undefined {
  try {
    return parseSubnet(text).cidr;
  } catch {
    return undefined;
  }
}

function targetOf(net: NetworkConfig, group: EndpointGroupConfig | undefined): ContivTarget {
  if (!net.subnet)
    throw new PluginError(`Contiv network ${net.networkName} in tenant ${net.tenantName} has no IPv4 subnet`);
  return {
    tenant: net.tenantName,
    network: net.networkName,
    group: group?.groupName ?? '',
    subnet: net.subnet,
    gateway: net.gateway ?? '',
    ipPool: group?.ipPool ?? '',
    encap: net.encap === 'vlan' ? 'vlan' : 'vxlan',
  };
}

/** Which Contiv object each Docker network of this host is, kept across netplugin restarts. */
export interface NetworkMemory {
  remember(networkID: string, t: { tenant: string; network: string; group: string }): Promise<void>;
  /** undefined when the network was never remembered. */
  recall(networkID: string): Promise<{ tenant: string; network: string; group: string } | undefined>;
  forget(networkID: string): Promise<void>;
  /** Every network id remembered on this host. */
  list(): Promise<string[]>;
}

/**
 * Docker calls CreateNetwork once per network, and after a dockerd restart it calls CreateEndpoint
 * and Join for restarting containers before it serves its API: the mapping cannot be read back from
 * the engine then. Kept per host: local-scope networks have a different id on every engine.
 */
export class StoreNetworkMemory implements NetworkMemory {
  private readonly prefix: string;

  constructor(
    private readonly store: Store,
    host: string,
  ) {
    this.prefix = `${DOCKNET_PREFIX}${encodeURIComponent(host)}/`;
  }

  async remember(networkID: string, t: { tenant: string; network: string; group: string }): Promise<void> {
    const value = JSON.stringify({ tenant: t.tenant, network: t.network, group: t.group });
    await this.store.put(this.prefix + networkID, value);
  }

  async recall(networkID: string): Promise<{ tenant: string; network: string; group: string } | undefined> {
    const v = parse<{ tenant?: unknown; network?: unknown; group?: unknown }>(
      (await this.store.get(this.prefix + networkID))?.value,
    );
    if (typeof v?.tenant !== 'string' || typeof v.network !== 'string') return undefined;
    return { tenant: v.tenant, network: v.network, group: typeof v.group === 'string' ? v.group : '' };
  }

  async forget(networkID: string): Promise<void> {
    await this.store.delete(this.prefix + networkID);
  }

  async list(): Promise<string[]> {
    return (await this.store.list(this.prefix)).map((kv) => kv.key.slice(this.prefix.length));
  }
}
