// Owns the bridge's host ports: VXLAN tunnels to the other hosts in the intent, the uplinks, the
// host port and the BGP router port, made to match the intent (a port whose address changed is
// replaced), their host-side devices configured, and the facts read back. Endpoint ports are
// endpoint-ports.ts's.

import type { HostFacts, Intent } from '../../policy/compiler/intent.js';
import type { HostRecord } from '../../policy/model/endpoint.js';
import { ROUTER_PORT_NAME } from '../bgp/hook.js';
import { HOST_PORT_NAME, hostPortAddress } from '../pipeline/hostaccess.js';
import type { PortSpec, VSwitch } from '../vswitch.js';
import type { BgpWiring } from './bgp-wiring.js';
import type { HostNat } from './host-nat.js';
import {
  EXT_HOST_IP,
  EXT_REMOTE_HOST,
  EXT_ROLE,
  EXT_ROUTER_IP,
  factsFrom,
  tunnelPortName,
} from './port-labels.js';

export interface PortSyncOptions {
  vswitch: VSwitch;
  host: HostRecord;
  bgp: Pick<BgpWiring, 'routerAddress' | 'routes' | 'configureRouterDevice'>;
  nat: HostNat;
  /** The tunnels' UDP port; absent: OVS's default, 4789. */
  vxlanPort?: number;
  /** Called with the ofports of tunnels just added (see tunnel-probe.ts). */
  onTunnelsAdded?: (ofports: number[]) => void;
}

export class PortSync {
  constructor(private readonly opts: PortSyncOptions) {}

  /**
   * Makes the bridge's tunnel ports match the other hosts in the intent and reads back which
   * port is what. Endpoint ports are found by their external_ids, so a restart finds them again.
   */
  async sync(intent: Intent): Promise<HostFacts> {
    const { vswitch, host, bgp } = this.opts;
    const ports = await vswitch.ports();
    const wanted = new Map<string, PortSpec>();
    for (const h of intent.hosts) {
      if (h.name === host.name || !h.vtepIP) continue;
      const name = tunnelPortName(h.vtepIP);
      wanted.set(name, {
        name,
        kind: 'vxlan',
        remoteIp: h.vtepIP,
        key: 'flow',
        ...(this.opts.vxlanPort !== undefined && this.opts.vxlanPort !== 4789
          ? { dstPort: this.opts.vxlanPort }
          : {}),
        externalIds: { [EXT_REMOTE_HOST]: h.name, [EXT_ROLE]: 'tunnel' },
      });
    }
    for (const uplink of host.uplinks) {
      wanted.set(uplink, { name: uplink, kind: 'system', externalIds: { [EXT_ROLE]: 'uplink' } });
    }
    const router = bgp.routerAddress;
    const routerCidr = router ? `${router.ip}/${router.prefixLen}` : undefined;
    if (routerCidr) {
      wanted.set(ROUTER_PORT_NAME, {
        name: ROUTER_PORT_NAME,
        kind: 'internal',
        externalIds: { [EXT_ROLE]: 'router', [EXT_ROUTER_IP]: routerCidr },
      });
    }
    const hostIp = hostPortAddress(intent.global.pvtSubnet);
    if (hostIp) {
      wanted.set(HOST_PORT_NAME, {
        name: HOST_PORT_NAME,
        kind: 'internal',
        externalIds: { [EXT_ROLE]: 'hostport', [EXT_HOST_IP]: hostIp },
      });
    }
    const present = new Map(ports.map((p) => [p.name, p]));
    const roles = ['tunnel', 'uplink', 'hostport', 'router'];
    const stale = ports
      .filter((p) => p.ours && roles.includes(p.externalIds[EXT_ROLE] ?? ''))
      .filter((p) => {
        const w = wanted.get(p.name);
        return (
          !w ||
          w.remoteIp !== (p.options.remote_ip ?? undefined) ||
          (w.dstPort === undefined ? undefined : String(w.dstPort)) !== (p.options.dst_port ?? undefined) ||
          w.externalIds?.[EXT_HOST_IP] !== p.externalIds[EXT_HOST_IP] ||
          w.externalIds?.[EXT_ROUTER_IP] !== p.externalIds[EXT_ROUTER_IP]
        );
      })
      .map((p) => p.name);
    if (stale.length > 0) await vswitch.removePorts(stale);
    const missing = [...wanted.values()].filter((s) => !present.has(s.name) || stale.includes(s.name));
    if (missing.length > 0) {
      const added = await vswitch.addPorts(missing);
      const tunnels = missing.filter((m) => m.kind === 'vxlan').map((m) => added.get(m.name));
      const ofports = tunnels.filter((n): n is number => n !== undefined && n > 0);
      if (ofports.length > 0) this.opts.onTunnelsAdded?.(ofports);
    }
    await this.opts.nat.sync(intent.global.pvtSubnet, hostIp);
    if (router && routerCidr) await bgp.configureRouterDevice(router, routerCidr);
    return factsFrom(
      host.name,
      stale.length || missing.length ? await vswitch.ports() : ports,
      host.uplinks,
      bgp.routes,
    );
  }
}
