// Owns making this host's endpoints agree with Docker when netplugin starts: endpoint records
// netmaster holds for this host whose Docker endpoint is gone (removed while netplugin was down,
// so Docker's DeleteEndpoint never reached us) are deleted, with their port and veth; then the
// spare ports and every veth of the plugin's mark but live endpoints' (a kill -9 left them) go.
// It runs before the plugin socket opens, so no Docker call is half-way through while it decides.

import type { DockerEngine } from './engine.js';
import { hostIfName, hostLinks, type Links } from './network-driver.js';
import type { HostAttach, NetmasterClient, SparePorts } from './ports.js';

export interface ReconcileOptions {
  engine: DockerEngine;
  /** Must implement listEndpoints. */
  netmaster: NetmasterClient;
  host: HostAttach;
  hostName: string;
  /** Only networks of this driver are ours. */
  pluginName: string;
  links?: Links;
  /** The alias of the plugin's veths (VethSpec.owner): those no live endpoint has are deleted. */
  owner?: string;
  /** Where a pooled endpoint's host interface is found (it is not named after the endpoint); spares. */
  spares?: Pick<SparePorts, 'pluggedPorts' | 'unplugSpares'>;
}

export interface ReconcileResult {
  /** Endpoint ids Docker still has: kept. */
  kept: string[];
  /** Records deleted (and their ports and veths removed). */
  removed: string[];
  /** Spare ports unplugged and veths deleted that no endpoint had. */
  swept: string[];
}

/** Endpoint ids of every container attached to a network of ours, as the engine reports them. */
export async function dockerEndpointIds(engine: DockerEngine, pluginName: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const n of await engine.listNetworks({ driver: [pluginName] })) {
    const full = await engine.inspectNetwork(n.Id);
    for (const c of Object.values(full?.Containers ?? {})) ids.add(c.EndpointID);
  }
  return ids;
}

export async function reconcileEndpoints(opts: ReconcileOptions): Promise<ReconcileResult> {
  const links = opts.links ?? hostLinks;
  const list = opts.netmaster.listEndpoints;
  if (!list) throw new Error('reconcileEndpoints: this netmaster client cannot list endpoints');
  const live = await dockerEndpointIds(opts.engine, opts.pluginName);
  const result: ReconcileResult = { kept: [], removed: [], swept: [] };
  const plugged = (await opts.spares?.pluggedPorts())?.endpoints;
  for (const rec of await list.call(opts.netmaster, opts.hostName)) {
    // CNI endpoints ("<container>-<ifname>") share the host; only Docker's 64-hex ids are ours here.
    if (!/^[0-9a-f]{64}$/.test(rec.endpointID)) continue;
    if (live.has(rec.endpointID)) {
      result.kept.push(rec.endpointID);
      continue;
    }
    const ifName = plugged?.get(rec.endpointID) ?? hostIfName(rec.endpointID);
    await opts.host.detachEndpoint(rec.endpointID, ifName);
    await links.deleteLink(ifName);
    await opts.netmaster.deleteEndpoint(rec.endpointID);
    result.removed.push(rec.endpointID);
  }
  const spares = (await opts.spares?.pluggedPorts())?.spares ?? [];
  if (spares.length > 0) await opts.spares?.unplugSpares(spares);
  const gone = new Set(spares);
  if (opts.owner !== undefined) {
    const keep = new Set(result.kept.map((id) => plugged?.get(id) ?? hostIfName(id)));
    for (const n of await links.ownedVeths(opts.owner)) if (!keep.has(n)) gone.add(n);
  }
  // A spare's veth carries the mark too; one whose veth is already gone is only unplugged.
  for (const n of gone) await links.deleteLink(n);
  result.swept.push(...gone);
  return result;
}
