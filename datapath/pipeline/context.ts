// Owns the questions forwarding features ask of the intent about one endpoint or network: its
// ids (network, VRF, group) and the way out of this host towards it. Pure lookups, no flows.

import type { Feature } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import type { Change } from '../../policy/compiler/diff.js';
import type { OwnedState, PipelineFeature } from '../../policy/compiler/feature.js';
import { type IntentIndex, tkey } from '../../policy/compiler/index-intent.js';
import type { EndpointIntent, FwdMode, HostFacts, NetworkIntent } from '../../policy/compiler/intent.js';
import { cookieFor } from './builder.js';
import { FLAG } from './tables.js';

export interface NetworkContext {
  net: NetworkIntent;
  /** The tenant id (VRF, conntrack zone). */
  vrf: number;
}

export interface EndpointContext extends NetworkContext {
  e: EndpointIntent;
  /** Group id, 0 when in no group (or the group is not in the intent). */
  group: number;
}

/** Where a packet for an endpoint leaves this host: the port and the REG.flags bit saying how. */
export interface Path {
  port: number;
  flag: number;
}

export function networkContext(ix: IntentIndex, key: string): NetworkContext | undefined {
  const net = ix.networks.get(key);
  const vrf = net && ix.tenants.get(net.tenant)?.id;
  return net && vrf !== undefined ? { net, vrf } : undefined;
}

/** Undefined while the endpoint's network or tenant is missing from the intent (no flows then). */
export function endpointContext(ix: IntentIndex, id: string): EndpointContext | undefined {
  const e = ix.endpoints.get(id);
  if (!e) return undefined;
  const net = ix.networkOf(e);
  const vrf = net && ix.tenants.get(net.tenant)?.id;
  if (!net || vrf === undefined) return undefined;
  return { e, net, vrf, group: ix.groupOf(e)?.id ?? 0 };
}

/**
 * Local endpoints: their port. Remote ones: the tunnel to their host (VXLAN) or the uplink
 * (VLAN). Undefined when this host has no such port (yet): such an endpoint is unreachable here.
 */
export function pathTo(ix: IntentIndex, e: EndpointIntent, net: NetworkIntent): Path | undefined {
  if (ix.isLocal(e)) {
    const port = ix.localPort(e);
    return port === undefined ? undefined : { port, flag: FLAG.toLocal };
  }
  if (net.encap === 'vxlan') {
    const port = ix.host.tunnelPorts.get(e.host);
    return port === undefined ? undefined : { port, flag: FLAG.toTunnel };
  }
  const port = ix.host.uplinkPort;
  return port === undefined ? undefined : { port, flag: FLAG.toUplink };
}

/** Keys of the networks of a tenant (a tenant's id changes every one of them). */
export function networksOfTenant(ix: IntentIndex, tenant: string): string[] {
  const out: string[] = [];
  for (const [key, n] of ix.networks) if (n.tenant === tenant) out.push(key);
  return out;
}

export const EP = 'ep:';
export const NET = 'net:';

function samePorts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

function* changedKeys(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): Iterable<string> {
  for (const [k, v] of a) if (b.get(k) !== v) yield k;
  for (const k of b.keys()) if (!a.has(k)) yield k;
}

/** Owners of a forwarding feature: one per endpoint, one per network, plus fixed ones. */
export function* forwardingOwners(ix: IntentIndex, fixed: readonly string[] = []): Iterable<string> {
  yield* fixed;
  for (const key of ix.networks.keys()) yield NET + key;
  for (const id of ix.endpoints.keys()) yield EP + id;
}

/**
 * Which owners of a forwarding feature a change touches. Endpoint flows depend on the endpoint,
 * its network, tenant and group; network flows on the network and tenant, and, when
 * `networkHasEndpoints` (flood groups list the local ports), on the network's endpoints too.
 */
export function* forwardingAffected(
  ix: IntentIndex,
  change: Change,
  before: unknown,
  opts: { fixed?: readonly string[]; networkHasEndpoints?: boolean } = {},
): Iterable<string> {
  switch (change.kind) {
    case 'global':
      yield* forwardingOwners(ix, opts.fixed);
      return;
    case 'hostFacts': {
      const old = before as HostFacts | undefined;
      const now = ix.host;
      if (
        !old ||
        old.name !== now.name ||
        old.uplinkPort !== now.uplinkPort ||
        (old.bgp === undefined) !== (now.bgp === undefined) ||
        !samePorts(old.tunnelPorts, now.tunnelPorts)
      ) {
        yield* forwardingOwners(ix, opts.fixed);
        return;
      }
      // Only endpoint ports came or went (the common case: a container plugged): those endpoints,
      // and their networks when network state lists local ports.
      for (const id of changedKeys(old.endpointPorts, now.endpointPorts)) {
        yield EP + id;
        const e = opts.networkHasEndpoints ? ix.endpoints.get(id) : undefined;
        if (e) yield NET + tkey(e.tenant, e.network);
      }
      return;
    }
    case 'tenant':
      for (const key of networksOfTenant(ix, change.name)) {
        yield NET + key;
        for (const id of ix.endpointsOfNetwork(key)) yield EP + id;
      }
      return;
    case 'network':
      yield NET + change.key;
      for (const id of ix.endpointsOfNetwork(change.key)) yield EP + id;
      return;
    case 'group':
      for (const id of ix.endpointsOfGroup(change.key)) yield EP + id;
      return;
    case 'endpoint': {
      yield EP + change.id;
      if (!opts.networkHasEndpoints) return;
      const now = ix.endpoints.get(change.id);
      if (now) yield NET + tkey(now.tenant, now.network);
      const old = before as EndpointIntent | undefined;
      if (old) yield NET + tkey(old.tenant, old.network);
      return;
    }
    default:
      // Policies, netprofiles and host records (vtep addresses) change no forwarding flow: the
      // ports to other hosts are host facts.
      return;
  }
}

/** What an endpoint-and-network feature computes; `mode` limits it to one forwarding mode. */
export interface EndpointNetworkFlows {
  name: string;
  feature: Feature;
  mode?: FwdMode;
  endpointFlows(ix: IntentIndex, id: string, cookie: bigint): Flow[];
  networkFlows(ix: IntentIndex, key: string, cookie: bigint): Flow[];
}

/**
 * A forwarding feature whose owners are the intent's endpoints and networks (the classifier, ARP,
 * bridge and routing lookups): one shape, so their owners and affected sets cannot drift apart.
 */
export function endpointNetworkFeature(spec: EndpointNetworkFlows): PipelineFeature {
  return {
    name: spec.name,
    feature: spec.feature,
    owners: (ix) => forwardingOwners(ix),
    build(ix, owner): OwnedState {
      if (spec.mode !== undefined && ix.global.fwdMode !== spec.mode) return { flows: [] };
      const cookie = cookieFor(spec.feature, owner);
      if (owner.startsWith(EP)) return { flows: spec.endpointFlows(ix, owner.slice(EP.length), cookie) };
      if (owner.startsWith(NET)) return { flows: spec.networkFlows(ix, owner.slice(NET.length), cookie) };
      return { flows: [] };
    },
    affected: (ix, change, before) => forwardingAffected(ix, change, before),
  };
}
