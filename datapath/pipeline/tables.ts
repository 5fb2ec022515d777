// Owns the pipeline's shape, declared as data: which tables exist, in what order, which match
// fields each table's flows may use, which features may write it, where its flows may go next,
// and what each register carries between tables. Features build flows through builder.ts, which
// holds every flow to this declaration; nothing else in the project uses a raw table number or
// register. Changing an id here changes every switch's flows: ids are spaced so tables can be
// inserted without renumbering.

import type { FieldRange } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';
import type { MatchField } from '../../controller/openflow/match.js';

export interface TableSpec {
  readonly id: number;
  readonly name: string;
  /** The features whose flows may sit here (the base feature writes every table's miss flow too). */
  readonly writers: readonly Feature[];
  /** The only fields the table's flows may match on. */
  readonly matches: readonly MatchField[];
  /** The tables its flows may continue in: goto_table, ct(table=…) and resubmit targets. */
  readonly next: readonly TableName[];
  /** Where a packet goes when no flow matches. */
  readonly miss: 'drop' | 'next' | TableName;
  readonly purpose: string;
}

export type TableName =
  | 'classify'
  | 'srcGroup'
  | 'arp'
  | 'dns'
  | 'serviceLb'
  | 'serviceSelect'
  | 'dstLookup'
  | 'conntrack'
  | 'egressPolicy'
  | 'ingressPolicy'
  | 'commit'
  | 'qos'
  | 'output';

// Both policy tables: the group clause (flags + group register), the peer's group register, the
// rule's own fields, the conjunction id.
const POLICY_MATCHES: readonly MatchField[] = [
  'reg0',
  'reg4',
  'reg5',
  'ethType',
  'ipProto',
  'tcpDst',
  'udpDst',
  'ipv4Src',
  'ipv4Dst',
  'conjId',
];

/** The pipeline in packet order. Registers: REG below (reg0 flags, reg4 source group, ...). */
export const PIPELINE: readonly (TableSpec & { name: TableName })[] = [
  {
    id: 0,
    name: 'classify',
    writers: [Feature.Classifier, Feature.HostAccess, Feature.Bgp],
    // Host port: in_port, ipv4_dst (a tenant NAT address), ARP for the private /16. BGP: eth_dst
    // and untagged vlan_vid from the uplink.
    matches: [
      'inPort',
      'ethSrc',
      'ethDst',
      'ethType',
      'ipv4Src',
      'ipv4Dst',
      'arpOp',
      'arpSpa',
      'arpSha',
      'arpTpa',
      'tunnelId',
      'vlanVid',
    ],
    // dstLookup: replies from the host, after conntrack un-NATs them.
    next: ['srcGroup', 'dstLookup'],
    miss: 'drop',
    purpose:
      'where the packet came from: a local endpoint (spoof guard on source MAC + IP; loads network, VRF, source group), a tunnel (VNI → network), the uplink (VLAN tag → network, tag popped), the host port (replies to a tenant NAT address: VRF by that address, un-NATed in its zone, on to dstLookup; ARP for the private /16 answered); BGP: the router port and untagged uplink frames to each other, packets the ToR routes to a local endpoint taken in as routed to the router MAC',
  },
  {
    id: 10,
    name: 'srcGroup',
    writers: [Feature.Classifier],
    matches: ['reg6', 'ethType', 'ipv4Src'],
    next: ['arp'],
    miss: 'next',
    purpose: 'source group of packets from other hosts, by source address (the sending host guards it)',
  },
  {
    id: 20,
    name: 'arp',
    writers: [Feature.Arp, Feature.HostAccess, Feature.ServiceLb],
    matches: ['ethType', 'reg0', 'reg6', 'arpOp', 'arpTpa'],
    next: ['dns'],
    miss: 'next',
    purpose:
      'bridge + proxy mode: requests for known endpoints answered in the datapath; routing: every request answered with the router MAC (gateway included); host access: the gateway answered with the router MAC; a service VIP answered with its MAC (every mode); flood mode and misses: on to forwarding',
  },
  {
    id: 30,
    name: 'dns',
    writers: [Feature.Dns],
    matches: ['reg0', 'ethType', 'ipProto', 'udpDst'],
    next: ['serviceLb'],
    miss: 'next',
    purpose: 'DNS queries from local endpoints go to the controller (service discovery)',
  },
  {
    id: 35,
    name: 'serviceLb',
    writers: [Feature.ServiceLb],
    matches: ['reg7', 'ethType', 'ipv4Dst', 'ipProto', 'tcpDst', 'udpDst'],
    next: ['serviceSelect', 'dstLookup'],
    miss: 'dstLookup',
    purpose:
      "connections to a service's VIP:port through conntrack in the VRF zone, taking an established connection's translation to its provider; other traffic to a VIP dropped",
  },
  {
    id: 36,
    name: 'serviceSelect',
    writers: [Feature.ServiceLb],
    matches: ['reg7', 'ethType', 'ctState', 'ipv4Dst', 'ipProto', 'tcpDst', 'udpDst'],
    next: ['dstLookup'],
    miss: 'drop',
    purpose:
      "new connections to a VIP:port: the service's select group picks a provider (destination address, port and MAC rewritten, VIP and port kept in registers until commit); established ones: the provider's MAC; on to dstLookup",
  },
  {
    id: 40,
    name: 'dstLookup',
    writers: [Feature.L2Forwarding, Feature.L3Forwarding, Feature.HostAccess, Feature.Bgp],
    // ip_proto and icmp_type: the gateway's echo reply; ct_state: replies from the host.
    matches: ['reg0', 'reg6', 'reg7', 'ethDst', 'ethType', 'ipv4Dst', 'ipProto', 'icmpv4Type', 'ctState'],
    next: ['conntrack'],
    miss: 'next',
    purpose:
      "bridge: destination MAC → output port (local, tunnel or uplink) and destination group; routing: destination IP → same, with MAC rewrite and TTL decrement; a miss floods (bridge) or goes to the uplink (routing); host access: the router MAC (bridge) or unknown destinations (routing) → host port, un-NATed replies from the host → the local endpoint; BGP: learned prefixes → the next hop's MAC, uplink untagged (priority by prefix length)",
  },
  {
    id: 50,
    name: 'conntrack',
    writers: [Feature.Policy, Feature.HostAccess, Feature.ServiceLb],
    // reg7 + source address and port: replies from a service provider.
    matches: ['ethType', 'reg0', 'reg7', 'ipv4Src', 'ipProto', 'tcpSrc', 'udpSrc'],
    next: ['egressPolicy', 'output'],
    miss: 'output',
    purpose:
      "IP traffic through conntrack in the VRF zone (with NAT to the host; a service provider's replies un-NATed to the VIP), then policy; other traffic straight to output",
  },
  {
    id: 60,
    name: 'egressPolicy',
    writers: [Feature.Policy],
    matches: [...POLICY_MATCHES, 'ctState'],
    // Established and related skip the rules.
    next: ['ingressPolicy', 'qos'],
    miss: 'next',
    purpose:
      'rules of direction "out" of the source endpoint\'s groups; established and related pass on to qos',
  },
  {
    id: 70,
    name: 'ingressPolicy',
    writers: [Feature.Policy],
    matches: POLICY_MATCHES,
    next: ['commit'],
    miss: 'next',
    purpose: 'rules of direction "in" of the destination endpoint\'s groups',
  },
  {
    id: 80,
    name: 'commit',
    writers: [Feature.Policy, Feature.HostAccess, Feature.ServiceLb],
    // Destination address and port: a service's provider.
    matches: ['ethType', 'ctState', 'reg0', 'reg7', 'ipv4Dst', 'ipProto', 'tcpDst', 'udpDst'],
    next: ['qos'],
    miss: 'next',
    purpose:
      'allowed new connections are committed to conntrack (to the host: with source NAT; to a service: VIP and port put back, committed with destination NAT to the provider)',
  },
  {
    id: 90,
    name: 'qos',
    writers: [Feature.NetProfile],
    matches: ['inPort', 'ethType'],
    next: ['output'],
    miss: 'next',
    purpose: "netprofile: DSCP marking and rate limiting of a local endpoint's traffic, by its port",
  },
  {
    id: 100,
    name: 'output',
    writers: [Feature.Output, Feature.HostAccess, Feature.Bgp],
    // reg0: output kind and origin; reg6: the destination network (high half).
    matches: ['reg0', 'reg6'],
    next: [],
    miss: 'drop',
    purpose:
      "local port: output to reg1; tunnel: set the network's VNI; uplink: push the network's VLAN; flood per network",
  },
];

const byName = new Map(PIPELINE.map((t) => [t.name, t]));

export function table(name: TableName): number {
  const t = byName.get(name);
  if (!t) throw new Error(`pipeline: no table named ${name}`);
  return t.id;
}

/** The table after `name` in packet order (what "next" means). */
export function nextTable(name: TableName): number {
  const i = PIPELINE.findIndex((t) => t.name === name);
  const next = PIPELINE[i + 1];
  if (i < 0 || !next) throw new Error(`pipeline: no table after ${name}`);
  return next.id;
}

/**
 * Registers carried between tables. Each is a named bit range; features load and match them by
 * name so two features can never disagree on a layout.
 */
export const REG = {
  /** reg0 flags: where the packet came from and what kind of output it takes. */
  flags: { field: 'reg0', ofs: 0, nBits: 32 },
  /** Output port chosen by dstLookup. */
  outPort: { field: 'reg1', ofs: 0, nBits: 32 },
  /** Destination endpoint's policy-set id (0: none, unrestricted). */
  dstPolicySet: { field: 'reg2', ofs: 0, nBits: 16 },
  /** Source endpoint's policy-set id (0: none). */
  srcPolicySet: { field: 'reg3', ofs: 0, nBits: 16 },
  /** Source endpoint group id (ipam epg id; 0: none or unknown). */
  srcGroup: { field: 'reg4', ofs: 0, nBits: 16 },
  /** Destination endpoint group id. */
  dstGroup: { field: 'reg5', ofs: 0, nBits: 16 },
  /** Network id (the network's bridge VLAN: pkt-tag for VLAN networks, local VLAN for VXLAN). */
  network: { field: 'reg6', ofs: 0, nBits: 16 },
  /** Destination network id (routing mode; equals network in bridge mode). */
  dstNetwork: { field: 'reg6', ofs: 16, nBits: 16 },
  /** VRF: the tenant id; also the conntrack zone. */
  vrf: { field: 'reg7', ofs: 0, nBits: 16 },
  /** A new service connection's VIP, from serviceSelect to commit. */
  serviceVip: { field: 'reg8', ofs: 0, nBits: 32 },
  /** Its service port. */
  servicePort: { field: 'reg9', ofs: 0, nBits: 16 },
} as const satisfies Record<string, FieldRange>;

/** Bits of REG.flags. */
export const FLAG = {
  fromLocal: 1 << 0,
  fromTunnel: 1 << 1,
  fromUplink: 1 << 2,
  fromHost: 1 << 3,
  /** The destination is a local endpoint (ingress policy applies here). */
  toLocal: 1 << 8,
  toTunnel: 1 << 9,
  toUplink: 1 << 10,
  toHost: 1 << 11,
  /** dstLookup missed: flood within the network. */
  flood: 1 << 12,
  /** A new connection to a service VIP: commit puts the VIP back and commits with DNAT. */
  service: 1 << 13,
} as const;
