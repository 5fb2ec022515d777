// Owns finding the MAC of a next hop on the router port: the host kernel's neighbour table
// (the BGP session itself makes the kernel ARP for the peer); an address not there yet is pinged
// once so the kernel asks.

import { type NetnsRef, runHost } from '../host/exec.js';

interface NeighRow {
  dst: string;
  lladdr?: string;
  state?: string[];
}

/** next hop → MAC for those resolved; the others are missing from the map. */
export async function resolveNextHops(
  netns: NetnsRef | undefined,
  dev: string,
  nextHops: Iterable<string>,
): Promise<Map<string, string>> {
  const want = new Set(nextHops);
  const out = new Map<string, string>();
  if (want.size === 0) return out;
  const read = async () => {
    const rows = JSON.parse(
      (await runHost(netns, 'ip', ['-j', 'neigh', 'show', 'dev', dev])) || '[]',
    ) as NeighRow[];
    for (const r of rows) {
      if (want.has(r.dst) && r.lladdr && !r.state?.includes('FAILED')) out.set(r.dst, r.lladdr);
    }
  };
  await read();
  const missing = [...want].filter((ip) => !out.has(ip));
  if (missing.length === 0) return out;
  await Promise.all(
    missing.map((ip) => runHost(netns, 'ping', ['-c', '1', '-W', '1', '-I', dev, ip]).catch(() => '')),
  );
  await read();
  return out;
}
