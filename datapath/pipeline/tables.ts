// Owns the pipeline's shape, declared as data: which tables exist, in what order, what each
// matches on, which feature owns it, and what each register carries between tables. Features
// build flows against these names; nothing else in the project uses a raw table number or
// register. Changing an id here changes every switch's flows: ids are spaced so tables can be
// inserted without renumbering.

import type { FieldRange } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';

export interface TableSpec {
  readonly id: number;
  readonly name: string;
  readonly owner: Feature;
  /** What the table's flows match on (documentation, and the check that features keep to it). */
  readonly matches: readonly string[];
  /** Where a packet goes when no flow matches. */
  readonly miss: 'drop' | 'next' | TableName;
  readonly purpose: string;
}

export type TableName =
  | 'classify'
  | 'srcGroup'
  | 'arp'
  | 'dns'
  | 'dstLookup'
  | 'conntrack'
  | 'egressPolicy'
  | 'ingressPolicy'
  | 'commit'
  | 'qos'
  | 'output';

/** The pipeline in packet order. */
export const PIPELINE: readonly (TableSpec & { name: TableName })[] = [
  {
    id: 0,
    name: 'classify',
    owner: Feature.Classifier,
    matches: [
      'in_port',
      'eth_src',
      'eth_type',
      'ipv4_src',
      'ipv4_dst (host port: tenant NAT address)',
      'arp_op (host port)',
      'arp_spa',
      'arp_sha',
      'arp_tpa (host port)',
      'tun_id',
      'vlan_vid',
      'eth_dst (untagged from the uplink: the BGP router port)',
    ],
    miss: 'drop',
    purpose:
      'where the packet came from: a local endpoint (spoof guard on source MAC + IP; loads network, VRF, source group), a tunnel (VNI → network), the uplink (VLAN tag → network, tag popped), the host port (replies to a tenant NAT address: VRF by that address, un-NATed in its zone, on to dstLookup; ARP for the private /16 answered); BGP: the router port and untagged uplink frames to each other, packets the ToR routes to a local endpoint taken in as routed to the router MAC',
  },
  {
    id: 10,
    name: 'srcGroup',
    owner: Feature.Classifier,
    matches: ['reg6 (network)', 'eth_type=ip', 'ipv4_src'],
    miss: 'next',
    purpose: 'source group of packets from other hosts, by source address (the sending host guards it)',
  },
  {
    id: 20,
    name: 'arp',
    owner: Feature.Arp,
    matches: ['eth_type=arp', 'reg0 (from local)', 'reg6 (network)', 'arp_op', 'arp_tpa'],
    miss: 'next',
    purpose:
      'bridge + proxy mode: requests for known endpoints answered in the datapath; routing: every request answered with the router MAC (gateway included); flood mode and misses: on to forwarding',
  },
  {
    id: 30,
    name: 'dns',
    owner: Feature.Dns,
    matches: ['reg0 (from local endpoint)', 'ip_proto', 'udp_dst=53', 'tcp_dst=53'],
    miss: 'next',
    purpose: 'DNS queries from local endpoints go to the controller (service discovery)',
  },
  {
    id: 40,
    name: 'dstLookup',
    owner: Feature.L2Forwarding,
    matches: [
      'reg6 (network)',
      'eth_dst',
      'reg7 (VRF)',
      'eth_type=ip',
      'ipv4_dst',
      'reg0 (from local, from host)',
      'ip_proto=icmp (gateway echo)',
      'icmp_type (gateway echo)',
      'ct_state (replies from the host)',
    ],
    miss: 'next',
    purpose:
      "bridge: destination MAC → output port (local, tunnel or uplink) and destination group; routing: destination IP → same, with MAC rewrite and TTL decrement; a miss floods (bridge) or goes to the uplink (routing); host access: the router MAC (bridge) or unknown destinations (routing) → host port, un-NATed replies from the host → the local endpoint; BGP: learned prefixes → the next hop's MAC, uplink untagged (priority by prefix length)",
  },
  {
    id: 50,
    name: 'conntrack',
    owner: Feature.Policy,
    matches: ['eth_type=ip', 'reg0 (to host, from host)'],
    miss: 'output',
    purpose:
      'IP traffic through conntrack in the VRF zone (with NAT to the host), then policy; other traffic straight to output',
  },
  {
    id: 60,
    name: 'egressPolicy',
    owner: Feature.Policy,
    matches: [
      'ct_state',
      'reg0 (source local)',
      'reg3 (source policy set)',
      'reg5 (destination group)',
      'reg6',
      'ip fields',
    ],
    miss: 'next',
    purpose:
      'rules of direction "out" of the source endpoint\'s groups; established and related pass to output',
  },
  {
    id: 70,
    name: 'ingressPolicy',
    owner: Feature.Policy,
    matches: [
      'reg0 (destination local)',
      'reg2 (destination policy set)',
      'reg4 (source group)',
      'reg6',
      'ip fields',
    ],
    miss: 'next',
    purpose: 'rules of direction "in" of the destination endpoint\'s groups',
  },
  {
    id: 80,
    name: 'commit',
    owner: Feature.Policy,
    matches: ['eth_type=ip', 'ct_state', 'reg0 (to host)', 'reg7 (VRF)'],
    miss: 'next',
    purpose: 'allowed new connections are committed to conntrack (to the host: with source NAT)',
  },
  {
    id: 90,
    name: 'qos',
    owner: Feature.NetProfile,
    matches: ['reg0 (source local)', 'reg4 (source group)'],
    miss: 'next',
    purpose: "netprofile: DSCP marking and rate limiting of a group's traffic",
  },
  {
    id: 100,
    name: 'output',
    owner: Feature.Output,
    matches: ['reg0 (output kind, origin)', 'reg6 (destination network, high half)'],
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
} as const;

/** Match value/mask for flag bits that must be set. */
export function flagsSet(bits: number): { value: number; mask: number } {
  return { value: bits >>> 0, mask: bits >>> 0 };
}
