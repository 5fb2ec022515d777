// Owns what our bridge ports say about themselves: the external_ids naming what each port is for,
// the tunnel port names, and the host facts read back from them (so a restart finds its ports,
// and the endpoints', again without a local database).

import type { HostFacts } from '../../policy/compiler/intent.js';
import { macFromIPv4 } from '../../policy/ipam/addr.js';
import type { PortInfo } from '../vswitch.js';

/** external_ids of our ports: which endpoint or remote host a port is for. */
export const EXT_ENDPOINT = 'contiv-endpoint';
export const EXT_REMOTE_HOST = 'contiv-remote-host';
export const EXT_ROLE = 'contiv-role';
/** EXT_ROLE of a port plugged ahead of use (see api/docker/veth-pool.ts). */
export const ROLE_SPARE = 'spare';
/** The host port's address, so facts read back from OVS say it (and a new address replaces the port). */
export const EXT_HOST_IP = 'contiv-host-ip';
/** The BGP router port's address (a.b.c.d/n): a new address replaces the port. */
export const EXT_ROUTER_IP = 'contiv-router-ip';

/** Tunnel port name for a remote VTEP: "vx" + the address in hex (fits IFNAMSIZ). */
export function tunnelPortName(vtepIP: string): string {
  return `vx${vtepIP
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')}`;
}

export function factsFrom(
  name: string,
  ports: readonly PortInfo[],
  uplinks: readonly string[],
  bgpRoutes: ReadonlyMap<string, string> = new Map(),
): HostFacts {
  const endpointPorts = new Map<string, number>();
  const tunnelPorts = new Map<string, number>();
  let uplinkPort: number | undefined;
  let hostPort: HostFacts['hostPort'];
  let bgp: HostFacts['bgp'];
  for (const p of ports) {
    if (p.ofport === undefined || p.ofport < 0) continue;
    const ep = p.externalIds[EXT_ENDPOINT];
    const remote = p.externalIds[EXT_REMOTE_HOST];
    const hostIp = p.externalIds[EXT_ROLE] === 'hostport' ? p.externalIds[EXT_HOST_IP] : undefined;
    const routerIp = p.externalIds[EXT_ROLE] === 'router' ? p.externalIds[EXT_ROUTER_IP] : undefined;
    if (ep) endpointPorts.set(ep, p.ofport);
    else if (remote) tunnelPorts.set(remote, p.ofport);
    else if (hostIp) hostPort = { ofport: p.ofport, ip: hostIp, mac: macFromIPv4(hostIp) };
    else if (routerIp)
      bgp = {
        routerPort: p.ofport,
        routerMac: macFromIPv4(routerIp.split('/')[0] as string),
        routes: bgpRoutes,
      };
    else if (uplinks.includes(p.name) && uplinkPort === undefined) uplinkPort = p.ofport;
  }
  return {
    name,
    endpointPorts,
    tunnelPorts,
    ...(uplinkPort !== undefined ? { uplinkPort } : {}),
    ...(hostPort ? { hostPort } : {}),
    ...(bgp ? { bgp } : {}),
  };
}

/** Equal facts whatever the maps' order: a read-back that says nothing new keeps the old object. */
export function sameFacts(a: HostFacts, b: HostFacts): boolean {
  return JSON.stringify(serializeFacts(a)) === JSON.stringify(serializeFacts(b));
}

function serializeFacts(f: HostFacts): unknown {
  return {
    ...f,
    endpointPorts: [...f.endpointPorts].sort(),
    tunnelPorts: [...f.tunnelPorts].sort(),
    bgp: f.bgp ? { ...f.bgp, routes: [...f.bgp.routes].sort() } : undefined,
  };
}
