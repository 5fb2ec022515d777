// Owns service load balancing (Contiv's serviceLB): tables serviceLb and serviceSelect, the VIP's
// ARP answer, and the service flows of conntrack and commit. A new connection to VIP:port goes
// through conntrack in the tenant's zone, the service's select group (one per port) picks a
// provider and rewrites destination address, port and MAC, so forwarding and policy see the real
// destination; once policy allows it, commit puts the VIP and port back (kept in registers) and
// commits the connection with destination NAT to that provider. Later packets take the NAT in
// serviceLb, replies are un-NATed in conntrack by the provider's address and port, so a
// connection stays on its provider while providers come and go.
//
// Owners: `svc:<tenant/name>` (the VIP's flows and groups; its buckets list the providers) and
// `pep:<endpoint id>` (a provider's flows: its MAC for established connections, the reply un-NAT
// and the commit per provider port). Adding a provider changes one group and adds its own few
// flows, whatever the number of services.

import type { Action } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow, Group } from '../../controller/openflow/flow.js';
import { ctState } from '../../controller/openflow/match.js';
import { type Bucket, GroupType } from '../../controller/openflow/messages.js';
import type { OwnedState, PipelineFeature } from '../../policy/compiler/feature.js';
import { type IntentIndex, tkey } from '../../policy/compiler/index-intent.js';
import type { EndpointIntent, ServiceIntent, ServicePortIntent } from '../../policy/compiler/intent.js';
import { ipv4ToNumber, macFromIPv4 } from '../../policy/ipam/addr.js';
import { cookieFor, flowBuilder } from './builder.js';
import {
  ARP_REQUEST,
  arpReply,
  ETH_ARP,
  ETH_IP,
  gotoTable,
  instructions,
  load,
  matchFlags,
  matchReg,
  move,
  ROUTER_MAC,
  setFlags,
} from './regs.js';
import { FLAG, REG, table } from './tables.js';

const SVC = 'svc:';
const PEP = 'pep:';
const PRIO_PORT = 100;
const PRIO_VIP = 10;
const PRIO_PROVIDER = 100;
const PRIO_ARP = 100;
/** Above the policy's catch-all conntrack and commit flows, below host access's. */
const PRIO_CT = 105;
const TCP = 6;
const flow = flowBuilder(Feature.ServiceLb);

/** Select group of a service's port: readable in dump-groups as 0x3<service id><port index>. */
export const serviceGroup = (serviceId: number, portIndex: number) =>
  0x3000_0000 + serviceId * 0x100 + portIndex;
/** Ports of a service past this many have no group id (the model allows 32 characters of ports). */
const MAX_PORTS = 0x100;

/** The MAC a VIP's ARP is answered with (clients send to it; serviceSelect rewrites it). */
export const serviceMac = (vip: string) => macFromIPv4(vip);

const dstPort = (p: { protocol: number }) => (p.protocol === TCP ? 'tcpDst' : 'udpDst');
const srcPort = (p: { protocol: number }) => (p.protocol === TCP ? 'tcpSrc' : 'udpSrc');

function toPort(p: { protocol: number }, port: number) {
  return p.protocol === TCP ? { ipProto: TCP, tcpDst: port } : { ipProto: p.protocol, udpDst: port };
}

interface ServiceContext {
  v: ServiceIntent;
  vrf: number;
  /** The VIP's network id (its ARP is answered there). */
  network: number;
}

function serviceContext(ix: IntentIndex, key: string): ServiceContext | undefined {
  const v = ix.services.get(key);
  const vrf = v && ix.tenants.get(v.tenant)?.id;
  const net = v && ix.networks.get(tkey(v.tenant, v.network));
  return v && vrf !== undefined && net ? { v, vrf, network: net.id } : undefined;
}

/** A provider reachable as far as the intent knows: its network and tenant are there. */
function providerEndpoints(ix: IntentIndex, v: ServiceIntent): EndpointIntent[] {
  const out: EndpointIntent[] = [];
  for (const id of ix.providersOf(v)) {
    const e = ix.endpoints.get(id);
    if (e && ix.networkOf(e)) out.push(e);
  }
  return out;
}

/** The MAC forwarding looks a provider up by: its own (bridge), the router's (routing: by IP). */
const lookupMac = (ix: IntentIndex, e: EndpointIntent) =>
  ix.global.fwdMode === 'routing' ? ROUTER_MAC : e.mac;

function bucketTo(ix: IntentIndex, e: EndpointIntent, p: ServicePortIntent): Bucket {
  return {
    weight: 100,
    watchPort: 0xffffffff,
    watchGroup: 0xffffffff,
    actions: [
      { type: 'setField', field: 'ipv4Dst', value: e.ip },
      { type: 'setField', field: dstPort(p), value: p.targetPort },
      { type: 'setField', field: 'ethDst', value: lookupMac(ix, e) },
      { type: 'resubmit', table: table('dstLookup') },
    ],
  };
}

const portIntoAddress: Action = {
  type: 'regMove',
  src: { field: 'udpSrc', ofs: 0, nBits: 16 },
  dst: { field: 'ipv4Dst', ofs: 0, nBits: 16 },
};

function buildService(ix: IntentIndex, key: string): OwnedState {
  const c = serviceContext(ix, key);
  if (!c) return { flows: [] };
  const { v, vrf } = c;
  const cookie = cookieFor(Feature.ServiceLb, SVC + key);
  const providers = providerEndpoints(ix, v);
  const vipMatch = () => matchReg({ ethType: ETH_IP, ipv4Dst: v.vip }, REG.vrf, vrf);
  const flows: Flow[] = [
    flow({
      table: 'arp',
      priority: PRIO_ARP,
      match: matchFlags(
        matchReg({ ethType: ETH_ARP, arpOp: ARP_REQUEST, arpTpa: v.vip }, REG.network, c.network),
        FLAG.fromLocal,
      ),
      instructions: instructions(arpReply(serviceMac(v.vip), v.vip)),
      cookie,
    }),
    // Nothing but the service's ports answers at a VIP.
    flow({ table: 'serviceLb', priority: PRIO_VIP, match: vipMatch(), instructions: [], cookie }),
  ];
  const groups: Group[] = [];
  v.ports.slice(0, MAX_PORTS).forEach((p, i) => {
    const groupId = serviceGroup(v.id, i);
    flows.push(
      flow({
        table: 'serviceLb',
        priority: PRIO_PORT,
        match: { ...vipMatch(), ...toPort(p, p.port) },
        instructions: instructions([
          { type: 'ct', zone: REG.vrf, table: table('serviceSelect'), actions: [{ type: 'nat' }] },
        ]),
        cookie,
      }),
      flow({
        table: 'serviceSelect',
        priority: PRIO_PORT,
        match: { ...vipMatch(), ...toPort(p, p.port), ctState: ctState('+new+trk') },
        instructions: instructions([
          load(REG.serviceVip, ipv4ToNumber(v.vip) ?? 0),
          load(REG.servicePort, p.port),
          ...setFlags(FLAG.service),
          // OVS's select hash leaves UDP ports out: the source port folded into the destination
          // address (which every bucket rewrites) spreads one client's UDP flows too.
          ...(p.protocol === TCP ? [] : [portIntoAddress]),
          { type: 'group', groupId },
        ]),
        cookie,
      }),
    );
    groups.push({ groupId, groupType: GroupType.SELECT, buckets: providers.map((e) => bucketTo(ix, e, p)) });
  });
  return { flows, groups };
}

/** The distinct (protocol, target port) pairs a provider serves, over every service selecting it. */
function targetsOf(ix: IntentIndex, e: EndpointIntent): { protocol: number; targetPort: number }[] {
  const seen = new Map<string, { protocol: number; targetPort: number }>();
  for (const key of ix.servicesSelecting(e)) {
    if (!serviceContext(ix, key)) continue;
    for (const p of ix.services.get(key)?.ports.slice(0, MAX_PORTS) ?? [])
      seen.set(`${p.protocol}/${p.targetPort}`, { protocol: p.protocol, targetPort: p.targetPort });
  }
  return [...seen.values()];
}

function buildProvider(ix: IntentIndex, id: string): OwnedState {
  const e = ix.endpoints.get(id);
  const vrf = e && ix.tenants.get(e.tenant)?.id;
  if (!e || vrf === undefined || !ix.networkOf(e)) return { flows: [] };
  const targets = targetsOf(ix, e);
  if (targets.length === 0) return { flows: [] };
  const cookie = cookieFor(Feature.ServiceLb, PEP + id);
  const base = () => matchReg({ ethType: ETH_IP }, REG.vrf, vrf);
  const flows: Flow[] = [
    // An established service connection, translated in serviceLb: on to its provider's MAC.
    flow({
      table: 'serviceSelect',
      priority: PRIO_PROVIDER,
      match: { ...base(), ipv4Dst: e.ip, ctState: ctState('-new+est+trk') },
      instructions: [
        { type: 'applyActions', actions: [{ type: 'setField', field: 'ethDst', value: lookupMac(ix, e) }] },
        gotoTable('dstLookup'),
      ],
      cookie,
    }),
  ];
  for (const t of targets) {
    const restore: Action[] = [
      move('reg8', 'ipv4Dst', 32),
      move('reg9', dstPort(t), 16),
      {
        type: 'ct',
        commit: true,
        zone: REG.vrf,
        table: table('qos'),
        actions: [{ type: 'nat', kind: 'dst', ipMin: e.ip, portMin: t.targetPort }],
      },
    ];
    flows.push(
      flow({
        table: 'conntrack',
        priority: PRIO_CT,
        match: { ...base(), ipv4Src: e.ip, ipProto: t.protocol, [srcPort(t)]: t.targetPort },
        instructions: instructions([
          { type: 'ct', zone: REG.vrf, table: table('egressPolicy'), actions: [{ type: 'nat' }] },
        ]),
        cookie,
      }),
      flow({
        table: 'commit',
        priority: PRIO_CT,
        match: {
          ...matchFlags(matchReg({ ethType: ETH_IP }, REG.vrf, vrf), FLAG.service),
          ctState: ctState('+new+trk'),
          ipv4Dst: e.ip,
          ...toPort(t, t.targetPort),
        },
        instructions: instructions(restore),
        cookie,
      }),
    );
  }
  return { flows };
}

function* serviceOwnersOfTenant(ix: IntentIndex, tenant: string): Generator<string> {
  for (const [key, v] of ix.services) {
    if (v.tenant !== tenant) continue;
    yield SVC + key;
    for (const id of ix.providersOf(v)) yield PEP + id;
  }
}

export const serviceFeature: PipelineFeature = {
  name: 'service',
  feature: Feature.ServiceLb,

  *owners(ix) {
    const providers = new Set<string>();
    for (const [key, v] of ix.services) {
      yield SVC + key;
      for (const id of ix.providersOf(v)) providers.add(id);
    }
    for (const id of providers) yield PEP + id;
  },

  build(ix, owner) {
    if (owner.startsWith(SVC)) return buildService(ix, owner.slice(SVC.length));
    if (owner.startsWith(PEP)) return buildProvider(ix, owner.slice(PEP.length));
    return { flows: [] };
  },

  *affected(ix, change, before) {
    switch (change.kind) {
      case 'service': {
        yield SVC + change.key;
        const now = ix.services.get(change.key);
        for (const v of [now, before as ServiceIntent | undefined])
          if (v) for (const id of ix.providersOf(v)) yield PEP + id;
        return;
      }
      case 'endpoint': {
        const now = ix.endpoints.get(change.id);
        const was = before as EndpointIntent | undefined;
        if (!now?.labels && !was?.labels) return;
        yield PEP + change.id;
        for (const e of [now, was]) if (e) for (const key of ix.servicesSelecting(e)) yield SVC + key;
        return;
      }
      case 'tenant':
        yield* serviceOwnersOfTenant(ix, change.name);
        return;
      case 'global':
        // fwdMode: the MAC providers are looked up by.
        yield* this.owners(ix);
        return;
      case 'network':
        for (const [key, v] of ix.services) {
          if (tkey(v.tenant, v.network) === change.key) yield SVC + key;
        }
        // A provider's flows and buckets need its network in the intent too.
        for (const id of ix.endpointsOfNetwork(change.key)) {
          const e = ix.endpoints.get(id);
          if (!e?.labels) continue;
          yield PEP + id;
          for (const key of ix.servicesSelecting(e)) yield SVC + key;
        }
        return;
      default:
        return;
    }
  },
};
