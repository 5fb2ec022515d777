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
/** The recipe's -Q caps our native path (it reaches 200k): the same again with a cap nobody reaches. */
const UNCAPPED_ARGS = ['-c', '4', '-Q', '2000000'];

interface Run {
  qps: number;
  latencies: number[];
  /** The server's CPU per answered query (µs, all its threads). */
  cpuUs: number;
}

/** A server's CPU time so far (µs, user + system, every thread). */
type CpuClock = () => Promise<number>;

const ownCpu: CpuClock = async () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Another process's CPU time from /proc (clock ticks of 10 ms: a 3 s run has a few hundred). */
const cpuOf =
  (pid: number): CpuClock =>
  async () => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  };

interface DnsResult extends BenchResult {
  target: number;
  p50Ms: number;
  p99Ms: number;
  peerP50Ms: number;
  peerP99Ms: number;
  /** CPU per answered query (µs), median of the runs: ours (every thread) and dnsmasq's. */
  cpuUsPerQuery: number;
  peerCpuUsPerQuery: number;
}

const ipOf = (i: number) => `10.9.${i >> 8}.${(i & 255) + 1}`;

/** One dnsperf run; -v gives each query's latency, written to a file so the pipe never slows it. */
async function dnsperf(
  dir: string,
  port: number,
  queries: string,
  label: string,
  seconds: number,
  clientArgs: readonly string[],
  cpu: CpuClock,
): Promise<Run> {
  const out = join(dir, `dnsperf-${label}.out`);
  const fh = await open(out, 'w');
  const cpu0 = await cpu();
  try {
    const child = spawn(
      'dnsperf',
      ['-s', '127.0.0.1', '-p', String(port), '-d', queries, ...clientArgs, '-l', String(seconds), '-v'],
      {
        stdio: ['ignore', fh.fd, 'ignore'],
      },
    );
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    if (code !== 0) throw new Error(`dnsperf against ${label} exited ${code}`);
  } finally {
    await fh.close();
  }
  const cpuUsed = (await cpu()) - cpu0;
  const text = await readFile(out, 'utf8');
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const latencies: number[] = [];
  for (const m of text.matchAll(/^> NOERROR \S+ A ([\d.]+)$/gm)) latencies.push(Number(m[1]) * 1000);
  const cpuUs = cpuUsed / Math.max(latencies.length, 1);
  log(
    `${label}: ${Math.round(qps)} qps, ${lost} lost, ${latencies.length} answered, ${cpuUs.toFixed(2)} µs CPU each`,
  );
  return { qps, latencies, cpuUs };
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
  // As shipped: the native hot path (one thread); and node:dgram alone, for what the native path buys.
  const server = await DnsServer.start({ registry, port: 0, upstreams: [] });
  onCleanup(() => server.close(), { label: 'dns bench server' });
  if (server.udpPath !== 'native') throw new Error('the native UDP hot path is not built (make build)');
  const dgram = await DnsServer.start({ registry, port: 0, upstreams: [], udp: 'dgram' });
  onCleanup(() => dgram.close(), { label: 'dns bench server (dgram)' });

  const targets = [
    { label: 'ours', port: server.port, args: CLIENT_ARGS, cpu: ownCpu, runs: [] as Run[] },
    { label: 'ours-dgram', port: dgram.port, args: CLIENT_ARGS, cpu: ownCpu, runs: [] as Run[] },
    { label: 'dnsmasq', port: dnsmasq.port, args: CLIENT_ARGS, cpu: cpuOf(dnsmasq.pid), runs: [] as Run[] },
    { label: 'ours-uncapped', port: server.port, args: UNCAPPED_ARGS, cpu: ownCpu, runs: [] as Run[] },
    {
      label: 'dnsmasq-uncapped',
      port: dnsmasq.port,
      args: UNCAPPED_ARGS,
      cpu: cpuOf(dnsmasq.pid),
      runs: [] as Run[],
    },
  ];
  // Untimed warm-up: the JIT and our answer cache; dnsmasq's cache too.
  for (const t of targets.slice(0, 3))
    await dnsperf(dir, t.port, queries, `${t.label}-warmup`, 1, t.args, t.cpu);
  for (let round = 0; round < ROUNDS; round++) {
    // Who goes first rotates, so that none always meets a quieter (or busier) machine.
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(round + i) % targets.length]!;
      t.runs.push(await dnsperf(dir, t.port, queries, `${t.label}-${round}`, SECONDS, t.args, t.cpu));
    }
  }
  const [ours, viaDgram, capped, uncapped, peerUncapped] = targets.map((t) => t.runs) as Run[][] as [
    Run[],
    Run[],
    Run[],
    Run[],
    Run[],
  ];
  const lat = (runs: Run[]) => runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const figure = (name: string, mine: Run[], peer = capped, args = CLIENT_ARGS): DnsResult => {
    const [a, b] = [lat(mine), lat(peer)];
    const value = median(mine.map((r) => r.qps));
    const peerValue = median(peer.map((r) => r.qps));
    return {
      name,
      value,
      unit: 'qps',
      peer: `dnsmasq (same 1,000 names from a hosts file; dnsperf ${args.join(' ')})`,
      peerValue,
      ratio: value / peerValue,
      target: 1,
      p50Ms: percentile(a, 0.5),
      p99Ms: percentile(a, 0.99),
      peerP50Ms: percentile(b, 0.5),
      peerP99Ms: percentile(b, 0.99),
      cpuUsPerQuery: median(mine.map((r) => r.cpuUs)),
      peerCpuUsPerQuery: median(peer.map((r) => r.cpuUs)),
    };
  };
  const stats = server.udpStats();
  log(
    `native path: ${stats?.hits} answered natively, ${stats?.misses} by JavaScript, ${stats?.dropped} dropped`,
  );
  return [
    figure('dns-qps', ours),
    figure('dns-qps-uncapped', uncapped, peerUncapped, UNCAPPED_ARGS),
    figure('dns-qps-dgram', viaDgram),
  ];
}

export const benchmark: Benchmark = {
  describe: `dnsperf ${CLIENT_ARGS.join(' ')} -l ${SECONDS} (${NAMES} names, loopback) against our server (native UDP path; and node:dgram alone) and dnsmasq, and both again with -Q ${UNCAPPED_ARGS[3]}; median of ${ROUNDS} (target ratio ≥ 1)`,
  run: qpsBench,
};
