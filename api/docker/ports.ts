// Owns the two interfaces the Docker drivers depend on instead of concrete classes: netmaster (the
// addresses and endpoint records, which it alone allocates) and this host's datapath (plugging an
// interface into the bridge). Unit tests give fakes; netplugin gives the REST client and HostAgent.

import type { EndpointRecord } from '../../policy/model/endpoint.js';

export interface AddressRequest {
  tenant: string;
  network: string;
  /** '' for the network itself; a group with an ip-pool allocates from that pool. */
  group: string;
  /** A specific address (bare, no prefix length), e.g. `docker run --ip`; absent for the first free one. */
  preferred?: string;
}

export interface EndpointRequest {
  endpointID: string;
  tenant: string;
  network: string;
  group: string;
  /** The address Docker's IPAM call already obtained (bare); '' lets netmaster allocate one (CNI). */
  ipAddress: string;
  host: string;
  /** The host end's interface name. */
  intfName?: string;
  containerID?: string;
  containerName?: string;
  labels?: Record<string, string>;
}

export interface EndpointName {
  endpointID: string;
  containerID: string;
  containerName: string;
  /** The container's labels (what serviceLB selectors match); absent: left as they are. */
  labels?: Record<string, string>;
}

/** netmaster's side of an endpoint's life. Errors thrown carry netmaster's message for the user. */
export interface NetmasterClient {
  /** Allocates an address and resolves with it (bare). */
  allocAddress(req: AddressRequest): Promise<string>;
  /** Returns an address; releasing one that is free is not an error. */
  releaseAddress(req: { tenant: string; network: string; address: string }): Promise<void>;
  /** Writes the endpoint record for an address allocated by allocAddress; resolves with the record. */
  createEndpoint(req: EndpointRequest): Promise<EndpointRecord>;
  /** Removes the record; idempotent. */
  deleteEndpoint(endpointID: string): Promise<void>;
  /** Records the container's name (and id) in an existing record; a record gone is left gone. */
  nameEndpoint?(req: EndpointName): Promise<void>;
  /** The records homed on a host (for reconciling at start); optional for clients that cannot list. */
  listEndpoints?(host: string): Promise<EndpointRecord[]>;
  /**
   * Creates the Contiv network (default tenant, named after the Docker network) of a Docker network
   * made without a contiv-tag, with the record tying them; idempotent for the same Docker network.
   */
  createDockerNetwork?(req: DockerNetworkRequest): Promise<void>;
  /** Removes what createDockerNetwork made for that Docker network; nothing made is not an error. */
  deleteDockerNetwork?(networkID: string): Promise<void>;
}

export interface DockerNetworkRequest {
  networkID: string;
  /** Docker's name for it: the Contiv network's name. */
  name: string;
  /** CIDR. */
  subnet: string;
  /** '' for none. */
  gateway: string;
}

/** This host's datapath: HostAgent has these two methods. */
export interface HostAttach {
  /** Plugs the host end of an endpoint's veth into the bridge; resolves with its OpenFlow port. */
  attachEndpoint(endpointId: string, hostIfName: string): Promise<number>;
  /** Unplugs it; idempotent. */
  detachEndpoint(endpointId: string, hostIfName: string): Promise<void>;
}

/**
 * Addresses an endpoint's deletion already gave back to netmaster. Docker calls ReleaseAddress right
 * after DeleteEndpoint; by then the address may be another container's fresh allocation, which that
 * late release must not free. The NetworkDriver notes them, the IpamDriver consumes them.
 */
export class FreedAddresses {
  private readonly keys = new Set<string>();

  private static key(tenant: string, network: string, ip: string): string {
    return `${tenant}:${network}/${ip}`;
  }

  add(tenant: string, network: string, ip: string): void {
    this.keys.add(FreedAddresses.key(tenant, network, ip));
  }

  /** True (once) when the address was given back with its endpoint. */
  take(tenant: string, network: string, ip: string): boolean {
    return this.keys.delete(FreedAddresses.key(tenant, network, ip));
  }
}

/** Ports plugged ahead of use, so that a Join needs no new port on the switch (HostAgent has these). */
export interface SparePorts {
  /** Plugs host ends no endpoint has yet; resolves once the switch has them (their ofports). */
  plugSpares(hostIfNames: readonly string[]): Promise<void>;
  /** Unplugs spares of these names; a name that is not a spare is left alone. */
  unplugSpares(hostIfNames: readonly string[]): Promise<void>;
  /** What is plugged: the host interface of each endpoint's port, and the spares. */
  pluggedPorts(): Promise<{ endpoints: Map<string, string>; spares: string[] }>;
}
