// Owns the flows of routing mode with BGP (HostFacts.bgp): the router port (inb01) talks to the
// ToR through the uplink untagged; routes learned from the ToR send local endpoints' packets to
// it (destination MAC = the next hop's, longest prefix first); packets the ToR routes to this
// host's router MAC for a local endpoint are taken in and routed to it by dstLookup.
//
// The ToR is one routing domain: learned routes hold for every VRF, and endpoints of all tenants
// are announced into it (Contiv's BGP had one table too). Policy still applies: routed packets go
// through conntrack and the policy tables like any other.

import type { Action } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import type { OwnedState, PipelineFeature } from '../../policy/compiler/feature.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import type { HostFacts } from '../../policy/compiler/intent.js';
import { ipv4Mask, ipv4ToNumber, numberToIPv4 } from '../../policy/ipam/addr.js';
import { cookieFor, flowBuilder } from './builder.js';
import { EP, endpointContext } from './context.js';
import { ETH_IP, gotoNext, instructions, load, matchFlags, matchReg, ROUTER_MAC, setFlags } from './regs.js';
import { FLAG, REG } from './tables.js';

const PORT = 'port';
const ROUTE = 'r:';
/** Routes sit below endpoint routes (routing.ts, 90–110) and above the unknown-destination flow (10). */
const PRIO_ROUTE_BASE = 20;
const PRIO_IN_ENDPOINT = 210;
const PRIO_ROUTER_PORT = 150;
/** Untagged on the uplink (OFPVID_NONE). */
const UNTAGGED = 0;
const flow = flowBuilder(Feature.Bgp);

interface Ctx {
  uplink: number;
  port: number;
  mac: string;
}

function ctxOf(ix: IntentIndex): Ctx | undefined {
  const b = ix.host.bgp;
  const uplink = ix.host.uplinkPort;
  if (ix.global.fwdMode !== 'routing' || !b || uplink === undefined) return undefined;
  return { uplink, port: b.routerPort, mac: b.routerMac };
}

function prefixMatch(prefix: string): { value: string; mask: string } | string | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(prefix);
  if (!m) return undefined;
  const len = Number(m[2]);
  if (len === 32) return m[1] as string;
  const mask = ipv4Mask(len);
  const addr = ipv4ToNumber(m[1] as string);
  if (addr === undefined) return undefined;
  const v = (addr & mask) >>> 0;
  // Host bits set: not a prefix BGP would carry, and two such spellings would share one flow.
  if (v !== addr) return undefined;
  return { value: numberToIPv4(v), mask: numberToIPv4(mask) };
}

function portFlows(c: Ctx, cookie: bigint): Flow[] {
  return [
    flow({
      table: 'classify',
      priority: PRIO_ROUTER_PORT,
      match: { inPort: c.port },
      instructions: instructions([{ type: 'output', port: c.uplink }]),
      cookie,
    }),
    flow({
      // Untagged frames from the ToR that are not routed to an endpoint: ARP, BGP, ICMP to the router.
      table: 'classify',
      priority: PRIO_ROUTER_PORT,
      match: { inPort: c.uplink, vlanVid: UNTAGGED },
      instructions: instructions([{ type: 'output', port: c.port }]),
      cookie,
    }),
    flow({
      // Routed to the ToR: out of the uplink as it is (no network, so no VLAN tag).
      table: 'output',
      priority: 100,
      match: matchReg(matchFlags({}, FLAG.toUplink, FLAG.fromUplink), REG.dstNetwork, 0),
      instructions: instructions([{ type: 'outputReg', src: REG.outPort }]),
      cookie,
    }),
  ];
}

function endpointFlows(ix: IntentIndex, c: Ctx, id: string, cookie: bigint): Flow[] {
  const e = endpointContext(ix, id);
  if (!e || e.net.encap !== 'vlan' || ix.localPort(e.e) === undefined) return [];
  const actions: Action[] = [
    load(REG.network, e.net.id),
    load(REG.vrf, e.vrf),
    ...setFlags(FLAG.fromUplink),
    // From here on it is a packet to the router MAC, which dstLookup routes to the endpoint.
    { type: 'setField', field: 'ethDst', value: ROUTER_MAC },
  ];
  return [
    flow({
      table: 'classify',
      priority: PRIO_IN_ENDPOINT,
      match: { inPort: c.uplink, vlanVid: UNTAGGED, ethDst: c.mac, ethType: ETH_IP, ipv4Dst: e.e.ip },
      instructions: instructions(actions, gotoNext('classify')),
      cookie,
    }),
  ];
}

function routeFlows(ix: IntentIndex, c: Ctx, prefix: string, cookie: bigint): Flow[] {
  const peerMac = ix.host.bgp?.routes.get(prefix);
  const dst = prefixMatch(prefix);
  if (!peerMac || dst === undefined) return [];
  const len = Number(prefix.split('/')[1]);
  return [
    flow({
      table: 'dstLookup',
      priority: PRIO_ROUTE_BASE + len,
      match: matchFlags({ ethDst: ROUTER_MAC, ethType: ETH_IP, ipv4Dst: dst }, FLAG.fromLocal),
      instructions: instructions(
        [
          { type: 'setField', field: 'ethSrc', value: c.mac },
          { type: 'setField', field: 'ethDst', value: peerMac },
          { type: 'decTtl' },
          load(REG.outPort, c.uplink),
          load(REG.dstNetwork, 0),
          ...setFlags(FLAG.toUplink),
        ],
        gotoNext('dstLookup'),
      ),
      cookie,
    }),
  ];
}

function* allOwners(ix: IntentIndex): Iterable<string> {
  yield PORT;
  for (const [id, e] of ix.endpoints) if (ix.isLocal(e)) yield EP + id;
  for (const p of ix.host.bgp?.routes.keys() ?? []) yield ROUTE + p;
}

export const bgpFeature: PipelineFeature = {
  name: 'bgp',
  feature: Feature.Bgp,

  owners: allOwners,

  build(ix, owner): OwnedState {
    const c = ctxOf(ix);
    if (!c) return { flows: [] };
    const cookie = cookieFor(Feature.Bgp, owner);
    if (owner === PORT) return { flows: portFlows(c, cookie) };
    if (owner.startsWith(EP)) return { flows: endpointFlows(ix, c, owner.slice(EP.length), cookie) };
    if (owner.startsWith(ROUTE)) return { flows: routeFlows(ix, c, owner.slice(ROUTE.length), cookie) };
    return { flows: [] };
  },

  *affected(ix, change, before) {
    switch (change.kind) {
      case 'bgpRoutes':
        for (const p of change.prefixes) yield ROUTE + p;
        return;
      case 'hostFacts': {
        const old = before as HostFacts | undefined;
        const now = ix.host;
        if (
          !old ||
          old.uplinkPort !== now.uplinkPort ||
          old.bgp?.routerPort !== now.bgp?.routerPort ||
          old.bgp?.routerMac !== now.bgp?.routerMac
        ) {
          yield* allOwners(ix);
          // Routes gone with the facts (BGP off) must be rebuilt to nothing.
          for (const p of old?.bgp?.routes.keys() ?? []) yield ROUTE + p;
          return;
        }
        for (const [id, port] of now.endpointPorts) if (old.endpointPorts.get(id) !== port) yield EP + id;
        for (const id of old.endpointPorts.keys()) if (!now.endpointPorts.has(id)) yield EP + id;
        return;
      }
      case 'endpoint':
        yield EP + change.id;
        return;
      case 'global':
      case 'tenant':
      case 'network':
        yield* allOwners(ix);
        return;
      default:
        return;
    }
  },
};
