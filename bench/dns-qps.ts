// Owns the DNS throughput benchmark: dnsperf against our server and against dnsmasq serving the
// same 1,000 names (a hosts file), same run, same client settings, alternating who goes first;
// qps and p50/p99 latency of both (target: our qps ÷ dnsmasq's ≥ 1). Loopback only.
import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NameRegistry } from '../dns/registry.js';
import { DnsServer } from '../dns/server.js';
import { ENDPOINT_PREFIX } from '../policy/model/endpoint.js';
import { onCleanup } from '../test/harness/cleanup.js';
import { startDnsmasq } from '../test/harness/dnsmasq.js';
import { missingFor } from '../test/harness/require.js';
import { log, median } from './openflow-install.js';
import type { Benchmark, BenchResult } from './run.js';

const NAMES = 1000;
const ROUNDS = 3;
const SECONDS = 3;
/** dnsperf settings, as the lab recipe (-c 4 -Q 200000), the same for every server. */
const CLIENT_ARGS = ['-c', '4', '-Q', '200000'];
/** The figure is for our server as shipped for the host (one extra UDP process on this 2-core machine). */
const UDP_PROCESSES = 2;

interface Run {
  qps: number;
  latencies: number[];
}

interface DnsResult extends BenchResult {
  target: number;
  p50Ms: number;
  p99Ms: number;
  peerP50Ms: number;
  peerP99Ms: number;
}

const ipOf = (i: number) => `10.9.${i >> 8}.${(i & 255) + 1}`;

/** One dnsperf run; -v gives each query's latency, written to a file so the pipe never slows it. */
async function dnsperf(
  dir: string,
  port: number,
  queries: string,
  label: string,
  seconds = SECONDS,
): Promise<Run> {
  const out = join(dir, `dnsperf-${label}.out`);
  const fh = await open(out, 'w');
  try {
    const child = spawn(
      'dnsperf',
      ['-s', '127.0.0.1', '-p', String(port), '-d', queries, ...CLIENT_ARGS, '-l', String(seconds), '-v'],
      {
        stdio: ['ignore', fh.fd, 'ignore'],
      },
    );
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    if (code !== 0) throw new Error(`dnsperf against ${label} exited ${code}`);
  } finally {
    await fh.close();
  }
  const text = await readFile(out, 'utf8');
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const latencies: number[] = [];
  for (const m of text.matchAll(/^> NOERROR \S+ A ([\d.]+)$/gm)) latencies.push(Number(m[1]) * 1000);
  log(`${label}: ${Math.round(qps)} qps, ${lost} lost, ${latencies.length} answered`);
  return { qps, latencies };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function qpsBench(): Promise<BenchResult[]> {
  const missing = missingFor('dnsperf', 'dnsmasq');
  if (missing.length > 0) throw new Error(`benchmark needs ${missing.join(', ')}`);
  const dir = await mkdtemp(join(tmpdir(), 'contiv-dns-bench-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }), { label: 'dns bench dir' });
  const names = Array.from({ length: NAMES }, (_, i) => `name${i}`);
  const queries = join(dir, 'queries');
  await writeFile(queries, names.map((n) => `${n} A\n`).join(''));
  const dnsmasq = await startDnsmasq(names.map((n, i) => `${ipOf(i)} ${n}\n`).join(''));

  // Our server: the same names as container names of tenant default, no upstream needed.
  const registry = new NameRegistry();
  registry.replaceAll(
    names.map((n, i) => ({
      key: `${ENDPOINT_PREFIX}bench-${i}`,
      value: JSON.stringify({ tenant: 'default', network: 'bench', containerName: n, ipAddress: ipOf(i) }),
    })),
  );
  const server = await DnsServer.start({ registry, port: 0, upstreams: [], udpProcesses: UDP_PROCESSES });
  onCleanup(() => server.close(), { label: 'dns bench server' });
  const single = await DnsServer.start({ registry, port: 0, upstreams: [] });
  onCleanup(() => single.close(), { label: 'dns bench server (one process)' });

  const targets = [
    { label: 'ours', port: server.port, runs: [] as Run[] },
    { label: 'ours-1proc', port: single.port, runs: [] as Run[] },
    { label: 'dnsmasq', port: dnsmasq.port, runs: [] as Run[] },
  ];
  // Untimed warm-up: the JIT and our answer cache; dnsmasq's cache too.
  for (const t of targets) await dnsperf(dir, t.port, queries, `${t.label}-warmup`, 1);
  for (let round = 0; round < ROUNDS; round++) {
    // Who goes first rotates, so that none always meets a quieter (or busier) machine.
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(round + i) % targets.length]!;
      t.runs.push(await dnsperf(dir, t.port, queries, `${t.label}-${round}`));
    }
  }
  const [ours, oneProc, peer] = targets.map((t) => t.runs) as [Run[], Run[], Run[]];
  const lat = (runs: Run[]) => runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const figure = (name: string, mine: Run[]): DnsResult => {
    const [a, b] = [lat(mine), lat(peer)];
    const value = median(mine.map((r) => r.qps));
    const peerValue = median(peer.map((r) => r.qps));
    return {
      name,
      value,
      unit: 'qps',
      peer: 'dnsmasq (same 1,000 names from a hosts file)',
      peerValue,
      ratio: value / peerValue,
      target: 1,
      p50Ms: percentile(a, 0.5),
      p99Ms: percentile(a, 0.99),
      peerP50Ms: percentile(b, 0.5),
      peerP99Ms: percentile(b, 0.99),
    };
  };
  return [figure('dns-qps', ours), figure('dns-qps-one-process', oneProc)];
}

export const benchmark: Benchmark = {
  describe: `dnsperf ${CLIENT_ARGS.join(' ')} -l ${SECONDS} (${NAMES} names, loopback) against our server (${UDP_PROCESSES} UDP processes; and 1) and dnsmasq, median of ${ROUNDS} (target ratio ≥ 1)`,
  run: qpsBench,
};
