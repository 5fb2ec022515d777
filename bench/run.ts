// Owns the benchmark command line: which benchmarks run (names given, or all) and how figures print
// (JSON lines with --json, a table otherwise). It never measures anything itself.

import { runCleanups } from '../test/harness/cleanup.js';

/** One measured figure, compared with a peer (another implementation, or a fixed target). */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** What the value is compared with: a peer program ("ovs-ofctl …") or "target". */
  peer: string;
  peerValue: number;
  /** value ÷ peerValue; whether lower or higher is better depends on the unit. */
  ratio: number;
  /** Other figures that explain the value (a ceiling, latencies), by name. */
  context?: Record<string, number | string>;
}

export interface Benchmark {
  /** What is measured and the target, one line. */
  describe: string;
  run(): Promise<BenchResult[]>;
}

type Loader = () => Promise<Benchmark>;

// Modules load lazily: a codec run should not pay for (or depend on) the OVS harness.
const BENCHMARKS: Readonly<Record<string, Loader>> = {
  'bgp-announce': async () => (await import('./bgp.js')).announceBenchmark,
  'bgp-learn': async () => (await import('./bgp.js')).learnBenchmark,
  'dns-qps': async () => (await import('./dns-qps.js')).benchmark,
  'docker-attach': async () => (await import('./docker-attach.js')).benchmark,
  'endpoint-churn': async () => (await import('./endpoint-churn.js')).benchmark,
  'openflow-codec': async () => (await import('./openflow-codec.js')).benchmark,
  'openflow-install': async () => (await import('./openflow-install.js')).benchmark,
  'openflow-reconcile': async () => (await import('./openflow-reconcile.js')).benchmark,
  'ovsdb-ports': async () => (await import('./ovsdb-ports.js')).benchmark,
  'plugin-enable': async () => (await import('./swarm.js')).enableBenchmark,
  'policy-compile': async () => (await import('./policy.js')).compileBenchmark,
  'policy-incremental': async () => (await import('./policy.js')).incrementalBenchmark,
  'policy-install': async () => (await import('./policy.js')).installBenchmark,
  'rest-create': async () => (await import('./rest-create.js')).benchmark,
  'service-update': async () => (await import('./service.js')).updateBenchmark,
  'swarm-scale': async () => (await import('./swarm.js')).scaleBenchmark,
};

function usage(): string {
  return `usage: run.js [--json] [name...]\nbenchmarks: ${Object.keys(BENCHMARKS).join(', ')}`;
}

function round(v: number): number {
  return Number(v.toPrecision(4));
}

function table(results: BenchResult[]): string {
  const rows = [
    ['name', 'value', 'unit', 'peer', 'peer value', 'ratio'],
    ...results.map((r) => [
      r.name,
      String(round(r.value)),
      r.unit,
      r.peer,
      String(round(r.peerValue)),
      String(round(r.ratio)),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const names = argv.filter((a) => a !== '--json');
  if (names.some((n) => n === '-h' || n === '--help')) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown benchmark${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}\n${usage()}\n`,
    );
    return 2;
  }
  const chosen = names.length > 0 ? names : Object.keys(BENCHMARKS);
  const all: BenchResult[] = [];
  try {
    for (const name of chosen) {
      const bench = await BENCHMARKS[name]!();
      process.stderr.write(`# ${name}: ${bench.describe}\n`);
      const results = await bench.run();
      for (const r of results) {
        // Lines go out as soon as a benchmark ends, so a later failure still leaves these figures.
        if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
        all.push(r);
      }
    }
  } finally {
    await runCleanups();
  }
  if (!json) process.stdout.write(`${table(all)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
