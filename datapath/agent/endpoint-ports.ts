// Owns the bridge ports of local endpoints and the spares plugged ahead of them (the Docker
// driver's veth pool): plugging one for an endpoint relabels a spare when it is one, so a Join
// needs no new port. Which flows follow is the compile loop's.

import type { VSwitch } from '../vswitch.js';
import { EXT_ENDPOINT, EXT_ROLE, ROLE_SPARE } from './port-labels.js';

export class EndpointPorts {
  /** Spare ports plugged by this process: attaching one only relabels it. */
  private readonly spares = new Set<string>();

  constructor(private readonly vswitch: VSwitch) {}

  /** Plugs an endpoint's host-side interface; resolves to its OpenFlow port. */
  async plug(endpointId: string, ifName: string): Promise<number> {
    const externalIds = { [EXT_ENDPOINT]: endpointId };
    return this.spares.delete(ifName)
      ? await this.vswitch.relabelPort(ifName, { [EXT_ROLE]: ROLE_SPARE }, externalIds)
      : await this.vswitch.addPort({ name: ifName, kind: 'system', externalIds });
  }

  /** Unplugs an endpoint's interface from OVSDB, not waiting for ovs-vswitchd to follow. */
  async unplug(ifName: string): Promise<void> {
    await this.vswitch.removePorts([ifName], { applied: false });
  }

  /** Plugs host ends no endpoint has yet: role "spare", no flows. */
  async plugSpares(ifNames: readonly string[]): Promise<void> {
    await this.vswitch.addPorts(
      ifNames.map((name) => ({ name, kind: 'system', externalIds: { [EXT_ROLE]: ROLE_SPARE } })),
    );
    for (const n of ifNames) this.spares.add(n);
  }

  /** Unplugs spares; a name that is not a spare port (an endpoint took it, say) is left alone. */
  async unplugSpares(ifNames: readonly string[]): Promise<void> {
    const wanted = new Set(ifNames);
    const spares = (await this.vswitch.ports())
      .filter((p) => p.ours && wanted.has(p.name) && p.externalIds[EXT_ROLE] === ROLE_SPARE)
      .map((p) => p.name);
    await this.vswitch.removePorts(spares, { applied: false });
    for (const n of ifNames) this.spares.delete(n);
  }

  /** The ports plugged for endpoints (endpoint id → interface) and the spares. */
  async plugged(): Promise<{ endpoints: Map<string, string>; spares: string[] }> {
    const endpoints = new Map<string, string>();
    const spares: string[] = [];
    for (const p of await this.vswitch.ports()) {
      if (!p.ours) continue;
      const ep = p.externalIds[EXT_ENDPOINT];
      if (ep !== undefined) endpoints.set(ep, p.name);
      else if (p.externalIds[EXT_ROLE] === ROLE_SPARE) spares.push(p.name);
    }
    return { endpoints, spares };
  }
}
