// Owns making this host's CNI endpoints agree with what exists when netplugin starts: a record
// whose host veth is gone (its pod's namespace went without a DEL reaching us, e.g. a reboot or a
// runtime that gave up) is deleted with its bridge port, so its address goes back. Runs before the
// CNI socket opens, so no ADD is half-way through while it decides. Docker's endpoints (64-hex
// ids) are the Docker side's (api/docker/reconcile.ts).

import { linkExists, type NetnsRef } from '../../datapath/host/index.js';
import type { HostAttach, NetmasterClient } from '../docker/ports.js';
import { cniHostIf } from './handler.js';

export interface CniReconcileOptions {
  netmaster: NetmasterClient;
  agent: HostAttach;
  hostName: string;
  hostNetns?: NetnsRef;
}

export async function reconcileCniEndpoints(
  opts: CniReconcileOptions,
): Promise<{ kept: string[]; removed: string[] }> {
  const result = { kept: [] as string[], removed: [] as string[] };
  const list = opts.netmaster.listEndpoints;
  if (!list) return result;
  for (const rec of await list.call(opts.netmaster, opts.hostName)) {
    // Only records the CNI handler made carry its host interface name.
    const hostIf = cniHostIf(rec.endpointID);
    if (rec.intfName !== hostIf) continue;
    if (await linkExists(hostIf, opts.hostNetns)) {
      result.kept.push(rec.endpointID);
      continue;
    }
    await opts.agent.detachEndpoint(rec.endpointID, hostIf);
    await opts.netmaster.deleteEndpoint(rec.endpointID);
    result.removed.push(rec.endpointID);
  }
  return result;
}
