// Owns host access: containers reach the host's own addresses and, through the host's routing,
// the outside world, by the host port `contivh0` (an internal port in the host namespace holding
// `<pvt>.255.254/16`). Traffic to the host is source-NATed by conntrack in the tenant's zone to
// the tenant's address in the private /16 (`<pvt base> + tenant id`), so overlapping container
// addresses of different tenants stay apart on the host; the reply, addressed to that tenant
// address, picks the zone by it and is un-NATed there, then delivered by (VRF, container IP).
// The host only answers: a connection it opens towards a tenant address is dropped.
//
// Which container traffic goes to the host: in bridge mode, where the datapath stands in for the
// gateway (a VXLAN network, or a VLAN network this host has no uplink for), the gateway's ARP is
// answered with the router MAC and IP sent to that MAC goes to the host; in routing mode, the
// host's address always, and unknown destinations where they would otherwise be dropped (the
// uplink, when there is one, stays the way out). Policy applies as to any traffic: "out" rules of
// the source decide the new connection before it is committed with its NAT.
//
// Flows outside the tables' usual owners are coordinated through registers only: FLAG.toHost and
// FLAG.fromHost, REG.outPort, REG.vrf. Priorities sit above the forwarding and policy flows they
// refine.

import type { Action, Instruction } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import { ctState } from '../../controller/openflow/match.js';
import type { OwnedState, PipelineFeature } from '../../policy/compiler/feature.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import type { HostFacts } from '../../policy/compiler/intent.js';
import { numberToIPv4 } from '../../policy/ipam/addr.js';
import { cookieFor, flowBuilder } from './builder.js';
import {
  EP,
  endpointContext,
  forwardingAffected,
  forwardingOwners,
  NET,
  type NetworkContext,
  networkContext,
} from './context.js';
import {
  ARP_REQUEST,
  arpReply,
  ETH_ARP,
  ETH_IP,
  gotoNext,
  gotoTable,
  instructions,
  load,
  matchFlags,
  matchReg,
  note,
  ROUTER_MAC,
  setFlags,
} from './regs.js';
import { FLAG, REG, table } from './tables.js';

/** The host port's interface name (Contiv's). */
export const HOST_PORT_NAME = 'contivh0';
/** Offset of the host's own address in the private /16 (x.y.255.254). */
const HOST_OFFSET = 0xfffe;

const PRIO_CLASSIFY = 200;
const PRIO_CLASSIFY_GUARD = 100;
const PRIO_ARP = 100;
const PRIO_FROM_HOST = 150;
const PRIO_TO_HOST_IP = 105;
const PRIO_TO_HOST = 100;
const PRIO_GATEWAY = 101;
const PRIO_UNKNOWN = 11;
const PRIO_CT = 110;
const flow = flowBuilder(Feature.HostAccess);

/** Base of a private /16 as a number, or undefined when the text is not `a.b.0.0/16`-shaped. */
function pvtBase(pvtSubnet: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}\/16$/.exec(pvtSubnet);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a > 255 || b > 255 ? undefined : ((a << 24) | (b << 16)) >>> 0;
}

/** The host port's address on every host (the link never leaves the host, see docs). */
export function hostPortAddress(pvtSubnet: string): string | undefined {
  const base = pvtBase(pvtSubnet);
  return base === undefined ? undefined : numberToIPv4(base + HOST_OFFSET);
}

/**
 * The address a tenant's traffic to the host is NATed to: base + tenant id. Tenant ids that would
 * hit the host's own address or the broadcast get none (no host access for them).
 */
export function tenantNatAddress(pvtSubnet: string, tenantId: number): string | undefined {
  const base = pvtBase(pvtSubnet);
  if (base === undefined || tenantId < 1 || tenantId >= HOST_OFFSET) return undefined;
  return numberToIPv4(base + tenantId);
}

type HostPort = NonNullable<HostFacts['hostPort']>;

const STATIC = 'static';
const HOST = 'host';
const TENANT = 'tenant:';

/** Active when the host has its port and the private subnet is usable. */
function hostPortOf(ix: IntentIndex): HostPort | undefined {
  const hp = ix.host.hostPort;
  return hp && pvtBase(ix.global.pvtSubnet) !== undefined ? hp : undefined;
}

function staticFlows(cookie: bigint): Flow[] {
  const ctNat = (t: number): Action => ({
    type: 'ct',
    zone: REG.vrf,
    table: t,
    actions: [{ type: 'nat' }],
  });
  return [
    flow({
      table: 'conntrack',
      priority: PRIO_CT,
      // Established traffic to the host takes its NAT here; new connections get it at commit.
      match: matchFlags({ ethType: ETH_IP }, FLAG.toHost),
      instructions: instructions([ctNat(table('egressPolicy'))]),
      cookie,
    }),
    flow({
      table: 'conntrack',
      priority: PRIO_CT,
      // Replies from the host went through conntrack (and un-NAT) in classify: not again.
      match: matchFlags({ ethType: ETH_IP }, FLAG.fromHost),
      instructions: [gotoTable('egressPolicy')],
      cookie,
    }),
    flow({
      table: 'output',
      priority: 100,
      match: matchFlags({}, FLAG.toHost),
      instructions: instructions([{ type: 'outputReg', src: REG.outPort }]),
      cookie,
    }),
  ];
}

function hostFlows(ix: IntentIndex, hp: HostPort, cookie: bigint): Flow[] {
  const pvt = numberToIPv4(pvtBase(ix.global.pvtSubnet) ?? 0);
  return [
    flow({
      table: 'classify',
      priority: PRIO_CLASSIFY,
      // The host asks for tenant addresses (its replies' next hop): all answered by the router MAC.
      match: {
        inPort: hp.ofport,
        ethType: ETH_ARP,
        arpOp: ARP_REQUEST,
        arpTpa: { value: pvt, mask: '255.255.0.0' },
      },
      instructions: instructions(arpReply(ROUTER_MAC)),
      cookie,
    }),
    flow({
      table: 'classify',
      priority: PRIO_CLASSIFY_GUARD,
      match: { inPort: hp.ofport },
      instructions: instructions([note('host port: replies only')]),
      cookie,
    }),
  ];
}

function tenantFlows(ix: IntentIndex, hp: HostPort, name: string, cookie: bigint): Flow[] {
  const t = ix.tenants.get(name);
  const nat = t && tenantNatAddress(ix.global.pvtSubnet, t.id);
  if (!t || !nat) return [];
  const qos: Instruction = gotoTable('qos');
  return [
    flow({
      table: 'classify',
      priority: PRIO_CLASSIFY,
      match: { inPort: hp.ofport, ethType: ETH_IP, ipv4Dst: nat },
      instructions: instructions([
        load(REG.vrf, t.id),
        ...setFlags(FLAG.fromHost),
        { type: 'ct', zone: t.id, table: table('dstLookup'), actions: [{ type: 'nat' }] },
      ]),
      cookie,
    }),
    flow({
      table: 'commit',
      priority: PRIO_CT,
      match: matchReg(matchFlags({ ethType: ETH_IP, ctState: ctState('+trk') }, FLAG.toHost), REG.vrf, t.id),
      instructions: [
        {
          type: 'applyActions',
          actions: [
            { type: 'ct', commit: true, zone: t.id, actions: [{ type: 'nat', kind: 'src', ipMin: nat }] },
          ],
        },
        qos,
      ],
      cookie,
    }),
  ];
}

/** Does the datapath stand in for this network's gateway in bridge mode? */
function standsInForGateway(ix: IntentIndex, c: NetworkContext): boolean {
  return c.net.gateway !== '' && (c.net.encap === 'vxlan' || ix.host.uplinkPort === undefined);
}

function toHost(hp: HostPort, c: NetworkContext): Action[] {
  return [
    { type: 'setField', field: 'ethSrc', value: ROUTER_MAC },
    { type: 'setField', field: 'ethDst', value: hp.mac },
    { type: 'decTtl' },
    load(REG.outPort, hp.ofport),
    load(REG.dstNetwork, c.net.id),
    ...setFlags(FLAG.toHost),
  ];
}

function networkFlows(ix: IntentIndex, hp: HostPort, c: NetworkContext, cookie: bigint): Flow[] {
  const fromLocalIp = () => matchFlags(matchReg({ ethType: ETH_IP }, REG.network, c.net.id), FLAG.fromLocal);
  const go = gotoNext('dstLookup');
  if (ix.global.fwdMode === 'bridge') {
    if (!standsInForGateway(ix, c)) return [];
    return [
      flow({
        table: 'arp',
        priority: PRIO_ARP,
        match: {
          ...matchFlags(
            matchReg({ ethType: ETH_ARP, arpOp: ARP_REQUEST }, REG.network, c.net.id),
            FLAG.fromLocal,
          ),
          arpTpa: c.net.gateway,
        },
        instructions: instructions(arpReply(ROUTER_MAC, c.net.gateway)),
        cookie,
      }),
      flow({
        table: 'dstLookup',
        priority: PRIO_TO_HOST,
        match: { ...fromLocalIp(), ethDst: ROUTER_MAC },
        instructions: instructions(toHost(hp, c), go),
        cookie,
      }),
      flow({
        table: 'dstLookup',
        priority: PRIO_GATEWAY,
        // The gateway itself is nobody: not the host's business.
        match: { ...fromLocalIp(), ethDst: ROUTER_MAC, ipv4Dst: c.net.gateway },
        instructions: instructions([note('gateway')]),
        cookie,
      }),
    ];
  }
  const flows: Flow[] = [
    flow({
      table: 'dstLookup',
      priority: PRIO_TO_HOST_IP,
      match: { ...fromLocalIp(), ethDst: ROUTER_MAC, ipv4Dst: hp.ip },
      instructions: instructions(toHost(hp, c), go),
      cookie,
    }),
  ];
  const uplink = c.net.encap === 'vlan' && ix.host.uplinkPort !== undefined;
  if (!uplink) {
    flows.push(
      flow({
        table: 'dstLookup',
        priority: PRIO_UNKNOWN,
        match: { ...fromLocalIp(), ethDst: ROUTER_MAC },
        instructions: instructions(toHost(hp, c), go),
        cookie,
      }),
    );
  }
  return flows;
}

/** Replies from the host, un-NATed: delivered to the local endpoint by (VRF, address). */
function endpointFlows(ix: IntentIndex, id: string, cookie: bigint): Flow[] {
  const c = endpointContext(ix, id);
  const port = c && ix.localPort(c.e);
  if (!c || port === undefined || !tenantNatAddress(ix.global.pvtSubnet, c.vrf)) return [];
  const actions: Action[] = [
    { type: 'setField', field: 'ethSrc', value: ROUTER_MAC },
    { type: 'setField', field: 'ethDst', value: c.e.mac },
    { type: 'decTtl' },
    load(REG.outPort, port),
    load(REG.network, c.net.id),
    load(REG.dstNetwork, c.net.id),
  ];
  if (c.group !== 0) actions.push(load(REG.dstGroup, c.group));
  actions.push(...setFlags(FLAG.toLocal));
  return [
    flow({
      table: 'dstLookup',
      priority: PRIO_FROM_HOST,
      match: matchReg(
        matchFlags({ ethType: ETH_IP, ipv4Dst: c.e.ip, ctState: ctState('-new-inv+trk') }, FLAG.fromHost),
        REG.vrf,
        c.vrf,
      ),
      instructions: instructions(actions, gotoNext('dstLookup')),
      cookie,
    }),
  ];
}

function* allOwners(ix: IntentIndex): Iterable<string> {
  yield* forwardingOwners(ix, [STATIC, HOST]);
  for (const name of ix.tenants.keys()) yield TENANT + name;
}

export const hostAccessFeature: PipelineFeature = {
  name: 'hostaccess',
  feature: Feature.HostAccess,

  owners: (ix) => allOwners(ix),

  build(ix, owner): OwnedState {
    const hp = hostPortOf(ix);
    if (!hp) return { flows: [] };
    const cookie = cookieFor(Feature.HostAccess, owner);
    if (owner === STATIC) return { flows: staticFlows(cookie) };
    if (owner === HOST) return { flows: hostFlows(ix, hp, cookie) };
    if (owner.startsWith(TENANT)) return { flows: tenantFlows(ix, hp, owner.slice(TENANT.length), cookie) };
    if (owner.startsWith(EP)) return { flows: endpointFlows(ix, owner.slice(EP.length), cookie) };
    if (owner.startsWith(NET)) {
      const c = networkContext(ix, owner.slice(NET.length));
      return { flows: c ? networkFlows(ix, hp, c, cookie) : [] };
    }
    return { flows: [] };
  },

  *affected(ix, change, before) {
    if (change.kind === 'hostFacts') {
      const old = (before as HostFacts | undefined)?.hostPort;
      const now = ix.host.hostPort;
      if (old?.ofport !== now?.ofport || old?.ip !== now?.ip || old?.mac !== now?.mac) {
        yield* allOwners(ix);
        return;
      }
    }
    if (change.kind === 'global') {
      yield* allOwners(ix);
      return;
    }
    // A tenant's id is its VRF and NAT address; its networks and endpoints follow below.
    if (change.kind === 'tenant') yield TENANT + change.name;
    yield* forwardingAffected(ix, change, before);
  },
};
