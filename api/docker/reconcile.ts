// Owns making this host's endpoints agree with Docker when netplugin starts: endpoint records
// netmaster holds for this host whose Docker endpoint is gone (removed while netplugin was down,
// so Docker's DeleteEndpoint never reached us) are deleted, with their port and veth; then the
// veths of the plugin's mark that existed before the socket opened and no live endpoint has (a
// kill -9 left them) go. Endpoints kept whose record names their container otherwise than Docker
// does now (netplugin stopped before it named them, or `docker rename` while it was down) are named
// again, for DNS. It runs once the plugin socket is up (dockerd serves its API only then);
// endpoints Docker has called about since are skipped, so a call half-way through is never undone.
// The spare ports a previous run left are removed before the socket opens (sweepSpares).

import type { DockerEngine } from './engine.js';
import { hostIfName, hostLinks, type Links } from './network-driver.js';
import type { HostAttach, NetmasterClient, SparePorts } from './ports.js';
import type { NetworkMemory } from './target.js';

export interface ReconcileOptions {
  engine: DockerEngine;
  /** Must implement listEndpoints. */
  netmaster: NetmasterClient;
  host: HostAttach;
  hostName: string;
  /** Only networks of this driver are ours. */
  pluginName: string;
  links?: Links;
  /** Endpoint and network ids to leave alone (Docker called about them since the socket opened); read live. */
  skip?: ReadonlySet<string>;
  /** This host's memory of Docker networks: those the engine no longer has are forgotten. */
  memory?: NetworkMemory;
  /**
   * The plugin's marked veths as they were before its socket opened: those no live or skipped
   * endpoint has are deleted. Later ones are Joins' and the pool's, never swept.
   */
  vethsBefore?: readonly string[];
  /** Where a pooled endpoint's host interface is found (it is not named after the endpoint). */
  spares?: Pick<SparePorts, 'pluggedPorts'>;
}

export interface ReconcileResult {
  /** Endpoint ids Docker still has: kept. */
  kept: string[];
  /** Kept endpoints whose container name was written anew. */
  named: string[];
  /** Records deleted (and their ports and veths removed). */
  removed: string[];
  /** Docker networks forgotten (removed while netplugin was down). */
  forgotten: string[];
  /** Veths deleted that no endpoint had. */
  swept: string[];
}

/** Every endpoint of a container attached to a network of ours, as the engine reports them: its container. */
export async function dockerEndpoints(
  engine: DockerEngine,
  pluginName: string,
): Promise<Map<string, { containerID: string; containerName: string }>> {
  const out = new Map<string, { containerID: string; containerName: string }>();
  for (const n of await engine.listNetworks({ driver: [pluginName] })) {
    const full = await engine.inspectNetwork(n.Id);
    for (const [containerID, c] of Object.entries(full?.Containers ?? {}))
      out.set(c.EndpointID, { containerID, containerName: c.Name.replace(/^\//, '') });
  }
  return out;
}

/**
 * Unplugs every spare port and deletes its veth: at start they are all a previous run's (the new
 * pool fills only after a Join). Runs before the plugin socket opens. Returns the names removed.
 */
export async function sweepSpares(
  spares: Pick<SparePorts, 'pluggedPorts' | 'unplugSpares'>,
  links: Links = hostLinks,
): Promise<string[]> {
  const left = (await spares.pluggedPorts()).spares;
  if (left.length > 0) await spares.unplugSpares(left);
  // One whose veth is already gone is only unplugged.
  for (const n of left) await links.deleteLink(n);
  return left;
}

export async function reconcileEndpoints(opts: ReconcileOptions): Promise<ReconcileResult> {
  const links = opts.links ?? hostLinks;
  const list = opts.netmaster.listEndpoints;
  if (!list) throw new Error('reconcileEndpoints: this netmaster client cannot list endpoints');
  // Read before the engine's list: a network created after this is not in it, so not forgotten.
  const remembered = (await opts.memory?.list()) ?? [];
  const live = await dockerEndpoints(opts.engine, opts.pluginName);
  const result: ReconcileResult = { kept: [], named: [], removed: [], forgotten: [], swept: [] };
  if (opts.memory && remembered.length > 0) {
    const networks = new Set((await opts.engine.listNetworks()).map((n) => n.Id));
    for (const id of remembered) {
      if (networks.has(id) || opts.skip?.has(id)) continue;
      await opts.memory.forget(id);
      result.forgotten.push(id);
    }
  }
  const plugged = (await opts.spares?.pluggedPorts())?.endpoints;
  const ifOf = (id: string) => plugged?.get(id) ?? hostIfName(id);
  /** Host ends an endpoint still owns or that went with its record: not the sweep's. */
  const accounted = new Set<string>();
  for (const rec of await list.call(opts.netmaster, opts.hostName)) {
    // CNI endpoints ("<container>-<ifname>") share the host; only Docker's 64-hex ids are ours here.
    if (!/^[0-9a-f]{64}$/.test(rec.endpointID)) continue;
    const ifName = ifOf(rec.endpointID);
    accounted.add(ifName);
    if (opts.skip?.has(rec.endpointID)) {
      result.kept.push(rec.endpointID);
      continue;
    }
    const c = live.get(rec.endpointID);
    if (c) {
      result.kept.push(rec.endpointID);
      const nameEndpoint = opts.netmaster.nameEndpoint;
      if (
        nameEndpoint &&
        c.containerName &&
        (rec.containerName !== c.containerName || rec.containerID !== c.containerID)
      ) {
        await nameEndpoint.call(opts.netmaster, { endpointID: rec.endpointID, ...c });
        result.named.push(rec.endpointID);
      }
      continue;
    }
    await opts.host.detachEndpoint(rec.endpointID, ifName);
    await links.deleteLink(ifName);
    await opts.netmaster.deleteEndpoint(rec.endpointID);
    result.removed.push(rec.endpointID);
  }
  // Read last: skip grows while this runs.
  for (const id of opts.skip ?? []) accounted.add(ifOf(id));
  for (const n of opts.vethsBefore ?? []) {
    if (accounted.has(n)) continue;
    await links.deleteLink(n);
    result.swept.push(n);
  }
  return result;
}
