// Owns the shapes of Docker's legacy remote plugin protocol (libnetwork's remote NetworkDriver and
// IpamDriver APIs) as they travel on the wire, and the error type whose message Docker shows.
// It never does anything; the drivers use these types.

export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json';

/** Docker's "generic" driver options key: `-o k=v` arrive under it in CreateNetwork's Options. */
export const GENERIC_OPTIONS = 'com.docker.network.generic';
/** RequestAddress option telling a gateway request from a container's. */
export const REQUEST_ADDRESS_TYPE = 'RequestAddressType';
export const GATEWAY_REQUEST = 'com.docker.network.gateway';

/** A refusal Docker passes on to the user as `{"Err": message}`. */
export class PluginError extends Error {
  override readonly name = 'PluginError';
}

// --- NetworkDriver -------------------------------------------------------------------------------

export interface IpamData {
  AddressSpace?: string;
  /** CIDR of the pool. */
  Pool: string;
  /** Gateway with prefix length, e.g. "10.1.0.1/24". */
  Gateway?: string;
  AuxAddresses?: Record<string, string>;
}

export interface CreateNetworkRequest {
  NetworkID: string;
  Options?: Record<string, unknown>;
  IPv4Data?: IpamData[];
  IPv6Data?: IpamData[];
}

/** Swarm's manager-side call, once per swarm network: its answer's Options become the nodes' generic options. */
export interface AllocateNetworkRequest {
  NetworkID: string;
  Options?: Record<string, string> | null;
  IPv4Data?: IpamData[] | null;
}

export interface NetworkIdRequest {
  NetworkID: string;
}

export interface EndpointInterface {
  /** With prefix length, as the IPAM driver answered. */
  Address?: string;
  AddressIPv6?: string;
  MacAddress?: string;
}

export interface CreateEndpointRequest {
  NetworkID: string;
  EndpointID: string;
  Interface?: EndpointInterface;
  Options?: Record<string, unknown>;
}

export interface CreateEndpointResponse {
  /** Only what Docker did not set itself may be answered (it refuses to overwrite). */
  Interface?: { MacAddress?: string };
}

export interface EndpointRequest {
  NetworkID: string;
  EndpointID: string;
}

export interface JoinRequest {
  NetworkID: string;
  EndpointID: string;
  SandboxKey: string;
  Options?: Record<string, unknown>;
}

export interface JoinResponse {
  InterfaceName: { SrcName: string; DstPrefix: string };
  Gateway?: string;
  GatewayIPv6?: string;
  StaticRoutes?: { Destination: string; RouteType: number; NextHop?: string }[];
  DisableGatewayService?: boolean;
}

export interface EndpointOperInfoResponse {
  Value: Record<string, unknown>;
}

// --- IpamDriver ----------------------------------------------------------------------------------

export interface RequestPoolRequest {
  AddressSpace: string;
  Pool?: string;
  SubPool?: string;
  Options?: Record<string, string> | null;
  V6?: boolean;
}

export interface RequestPoolResponse {
  PoolID: string;
  Pool: string;
  Data?: Record<string, string>;
}

export interface RequestAddressRequest {
  PoolID: string;
  /** A specific address asked for (`--ip`, `--gateway`), without prefix length; '' for any. */
  Address?: string;
  Options?: Record<string, string> | null;
}

export interface RequestAddressResponse {
  /** With prefix length. */
  Address: string;
  Data?: Record<string, string>;
}

export interface ReleaseAddressRequest {
  PoolID: string;
  Address: string;
}

/** One plugin call: the parsed JSON body in, the JSON answer out. */
export type Handler = (body: unknown) => unknown | Promise<unknown>;
