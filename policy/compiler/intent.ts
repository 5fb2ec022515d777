// Owns the compiler's input: the intent (from the store, already validated by the model) and the
// facts of the one host being compiled for (from OVSDB). Plain data, no behaviour, so a test can
// write one by hand and the compiler stays a pure function of it.

export type FwdMode = 'bridge' | 'routing';
export type ArpMode = 'proxy' | 'flood';
export type Encap = 'vlan' | 'vxlan';

export interface GlobalIntent {
  fwdMode: FwdMode;
  arpMode: ArpMode;
  /** Host-access private subnet, a /16 (Contiv's default 172.19.0.0/16). */
  pvtSubnet: string;
}

export interface TenantIntent {
  name: string;
  /** 1..65535, unique: the VRF and conntrack zone of the tenant's traffic. */
  id: number;
}

export interface NetworkIntent {
  tenant: string;
  name: string;
  /** 1..4094, unique: the network's bridge VLAN (pkt-tag for VLAN, local VLAN for VXLAN). */
  id: number;
  encap: Encap;
  /** The VLAN id on the uplink (vlan) or the VNI in tunnels (vxlan). */
  pktTag: number;
  /** "a.b.c.d/n" */
  subnet: string;
  /** '' when the network has no gateway. */
  gateway: string;
}

export interface GroupIntent {
  tenant: string;
  name: string;
  network: string;
  /** 1..65535, unique (ipam epg id). */
  id: number;
  /** Policy names in the group's tenant. */
  policies: string[];
  /** netprofile name in the tenant, '' for none. */
  netProfile: string;
}

export type Direction = 'in' | 'out';
export type RuleAction = 'allow' | 'deny';

export interface RuleIntent {
  ruleId: string;
  direction: Direction;
  /** 1..100, higher wins. */
  priority: number;
  action: RuleAction;
  /** IP protocol number (tcp 6, udp 17, icmp 1), 0 for any. */
  protocol: number;
  /** tcp/udp destination port, 0 for any. */
  port: number;
  /** Peer constraints; '' for none. fromX apply to "in" rules, toX to "out" rules. */
  fromGroup: string;
  toGroup: string;
  fromNetwork: string;
  toNetwork: string;
  /** "a.b.c.d", "a.b.c.d/n" or Contiv's "a.b.c.d-e/n" range. */
  fromIp: string;
  toIp: string;
}

export interface PolicyIntent {
  tenant: string;
  name: string;
  rules: RuleIntent[];
}

export interface NetProfileIntent {
  tenant: string;
  name: string;
  /** 0..63, 0 for no marking. */
  dscp: number;
  /** Rate limit in kbit/s, 0 for none. */
  bandwidthKbps: number;
  /** Burst in KB, 0 for the default. */
  burstKb: number;
}

export interface EndpointIntent {
  id: string;
  tenant: string;
  network: string;
  /** '' when in the network only. */
  group: string;
  ip: string;
  mac: string;
  host: string;
  /** Container or pod labels: what serviceLB selectors match. */
  labels?: Readonly<Record<string, string>>;
}

export interface ServicePortIntent {
  /** The port clients connect to at the VIP. */
  port: number;
  /** The provider's port the connection is translated to. */
  targetPort: number;
  /** 6 (tcp) or 17 (udp). */
  protocol: number;
}

/** A serviceLB with its VIP: connections to VIP:port are balanced over its providers. */
export interface ServiceIntent {
  tenant: string;
  name: string;
  /** The network the VIP is in. */
  network: string;
  /** 1..65535, unique (ipam `service`): numbers the service's select groups. */
  id: number;
  vip: string;
  ports: ServicePortIntent[];
  /**
   * Providers are the tenant's endpoints whose labels hold every one of these; a service without
   * selectors has no providers.
   */
  selectors: Readonly<Record<string, string>>;
}

export interface HostIntent {
  name: string;
  vtepIP: string;
}

export interface Intent {
  global: GlobalIntent;
  tenants: TenantIntent[];
  networks: NetworkIntent[];
  groups: GroupIntent[];
  policies: PolicyIntent[];
  netProfiles: NetProfileIntent[];
  endpoints: EndpointIntent[];
  hosts: HostIntent[];
  /** serviceLBs (absent: none). */
  services?: ServiceIntent[];
}

/** What OVS says about the host being compiled for. */
export interface HostFacts {
  name: string;
  /** Local endpoint id → its OVS port number. Endpoints of this host without a port yet are skipped. */
  endpointPorts: ReadonlyMap<string, number>;
  /** Remote host name → the VXLAN tunnel port to it. */
  tunnelPorts: ReadonlyMap<string, number>;
  /** The VLAN uplink port, if any. */
  uplinkPort?: number;
  /** Host access port (internal port with an address from the private subnet). */
  hostPort?: { ofport: number; ip: string; mac: string };
  /** BGP (routing mode, a Bgp object for this host, an uplink): the router port and learned routes. */
  bgp?: BgpFacts;
}

export interface BgpFacts {
  /** The router port (Contiv's inb01, internal, holding the Bgp object's router IP). */
  routerPort: number;
  routerMac: string;
  /** Learned prefix "a.b.c.d/n" → the MAC of its next hop on the uplink (unresolved ones left out). */
  routes: ReadonlyMap<string, string>;
}
