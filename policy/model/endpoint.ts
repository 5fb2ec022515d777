// Owns the operational records netplugin writes and everyone else reads: endpoints (one per
// container interface) and hosts (one per netplugin). They are state, not intent: REST never
// creates them, netplugin does, and the compiler, DNS and inspect views read them.

/** `/contiv.io/oper/endpoints/<endpointID>` → EndpointRecord (JSON). */
export const ENDPOINT_PREFIX = '/contiv.io/oper/endpoints/';
/** `/contiv.io/oper/hosts/<name>` → HostRecord (JSON), held under the netplugin's lease. */
export const HOST_PREFIX = '/contiv.io/oper/hosts/';

export const endpointKey = (id: string) => `${ENDPOINT_PREFIX}${id}`;
export const hostKey = (name: string) => `${HOST_PREFIX}${name}`;

/** Endpoint ids are Docker endpoint ids, or `<containerID>-<ifname>` for CNI: safe in a key. */
export const ENDPOINT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Field names follow contivmodel's endpoint operProperties where one exists. */
export interface EndpointRecord {
  endpointID: string;
  tenant: string;
  /** Network name within the tenant. */
  network: string;
  /** Endpoint group name within the tenant, '' when the endpoint is in the network only. */
  endpointGroup: string;
  /** The group's id (ipam `epg`), 0 when none: the number the datapath marks the group with. */
  endpointGroupId: number;
  ipAddress: string;
  /** '' when the network has no IPv6 subnet. */
  ipv6Address: string;
  macAddress: string;
  /** Host name of the netplugin that owns the endpoint. */
  homingHost: string;
  /** OVS port (interface) name on that host. */
  intfName: string;
  containerID: string;
  containerName: string;
  labels: Record<string, string>;
}

export interface HostRecord {
  name: string;
  /** Address other hosts' VXLAN tunnels reach this host at. */
  vtepIP: string;
  /** Address netmaster and peers reach the netplugin at. */
  controlIP: string;
  /** VLAN uplink interface names. */
  uplinks: string[];
}

/**
 * `/contiv.io/oper/bgp/<host>` → BgpOperRecord (JSON): the host agent's live view of its BGP
 * speaker, held under the netplugin's lease; `netctl bgp inspect` shows it.
 */
export const BGP_OPER_PREFIX = '/contiv.io/oper/bgp/';
export const bgpOperKey = (host: string) => `${BGP_OPER_PREFIX}${host}`;

/** Contiv's Bgp oper fields (numRoutes, neighborStatus, adminStatus, routes) and what we add. */
export interface BgpOperRecord {
  /** The session state gobgpd reports (ESTABLISHED, ACTIVE, …), or NONE. */
  neighborStatus: string;
  /** configured | unconfigured | error: … */
  adminStatus: string;
  neighbor: string;
  /** Routes learned from the peer. */
  numRoutes: number;
  routes: string[];
  /** The /32s this host announces. */
  announced: string[];
  /** A misconfiguration in words ('' when none). */
  problem: string;
}

/**
 * `/contiv.io/oper/docknet/<host>/<dockerNetworkID>` → {tenant, network, group} (JSON): which Contiv
 * object a Docker network of that host is, written by its netplugin at CreateNetwork (see
 * api/docker/target.ts, StoreNetworkMemory).
 */
export const DOCKNET_PREFIX = '/contiv.io/oper/docknet/';

/**
 * `/contiv.io/oper/dockernet/<tenant>:<network>` → DockerNetRecord (JSON): the Contiv network was
 * made for a Docker network (swarm's `docker network create --subnet …` without a contiv-tag); it
 * is written and removed in the same transaction as the network, and only that Docker network's
 * removal removes it.
 */
export const DOCKERNET_PREFIX = '/contiv.io/oper/dockernet/';
export const dockerNetKey = (tenant: string, network: string) => `${DOCKERNET_PREFIX}${tenant}:${network}`;

export interface DockerNetRecord {
  /** Docker's network id. */
  networkID: string;
  /** Docker's network name (also the Contiv network's). */
  name: string;
}

/**
 * `/contiv.io/oper/dockersync/<host>` → DockerSyncMark (JSON), held under the netplugin's lease:
 * how far that host's engine has caught up with the Contiv networks and groups. netmaster answers
 * a network or group write once every live host's mark has reached it, as Contiv's netmaster
 * answered once it had made the Docker network.
 */
export const DOCKER_SYNC_PREFIX = '/contiv.io/oper/dockersync/';
export const dockerSyncKey = (host: string) => `${DOCKER_SYNC_PREFIX}${encodeURIComponent(host)}`;

export interface DockerSyncMark {
  /** The store revision the host's last finished pass read: every write up to it is in its engine. */
  revision: number;
  /** Set while the host's passes fail (its dockerd down): nobody waits for it meanwhile. */
  error?: string;
}

/**
 * `/contiv.io/oper/dockerscope/<host>` → "local" | "global": the scope that host's dockerd needs
 * of the driver (global with a cluster store), kept past restarts for a dockerd that asks before
 * it serves its API (api/docker/scope.ts).
 */
export const DOCKER_SCOPE_PREFIX = '/contiv.io/oper/dockerscope/';
export const dockerScopeKey = (host: string) => `${DOCKER_SCOPE_PREFIX}${encodeURIComponent(host)}`;

/**
 * Held (under its lease) by the one netplugin that makes the global networks of engines sharing a
 * cluster store: every engine sees them, so one must make them, or two would make two of a name.
 */
export const DOCKER_GLOBAL_MAKER_KEY = '/contiv.io/oper/dockerglobal/maker';
