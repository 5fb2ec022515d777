// Owns the flow-install benchmark (100k flows into an empty bridge, ours vs ovs-ofctl --bundle
// add-flows) and the lab helpers the reconcile benchmark shares. It never touches a system OVS.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ApplyStats, FlowTableManager } from '../controller/flowtable/manager.js';
import type { Flow } from '../controller/openflow/flow.js';
import type { SwitchConnection } from '../controller/switch/connection.js';
import { connectSwitch } from '../controller/switch/endpoint.js';
import { type OvsInstance, startOvs, stripFlowStats } from '../test/harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../test/harness/require.js';
import { run } from '../test/harness/run.js';
import { generateFlows } from './flows.js';
import type { Benchmark, BenchResult } from './run.js';

export const FLOWS = 100_000;
export const ROUNDS = 3;
// 100k-flow operations take seconds; the harness's 10 s command timeout is for tests.
const LONG_MS = 600_000;

export interface Lab {
  ovs: OvsInstance;
  /** Ours. */
  a: string;
  /** ovs-ofctl's. */
  b: string;
}

/** One private OVS with two empty secure OpenFlow 1.3 bridges; stopped by runCleanups(). */
export async function startLab(): Promise<Lab> {
  const missing = missingFor(...LAB_COMMANDS);
  if (missing.length > 0) throw new Error(`benchmark needs ${missing.join(', ')}`);
  const ovs = await startOvs();
  const a = await ovs.addBridge({ failMode: 'secure', protocols: ['OpenFlow13'] });
  const b = await ovs.addBridge({ failMode: 'secure', protocols: ['OpenFlow13'] });
  return { ovs, a, b };
}

export function ofctl(lab: Lab, ...args: string[]): Promise<string> {
  return run('ovs-ofctl', ['-O', 'OpenFlow13', ...args], { env: lab.ovs.env, timeoutMs: LONG_MS });
}

export async function writeFlowFile(lab: Lab, name: string, lines: readonly string[]): Promise<string> {
  const file = join(lab.ovs.dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** One figure: the medians of our rounds and the peer's, in seconds, and ours ÷ peer. */
export function secondsResult(name: string, ours: number[], peerName: string, peer: number[]): BenchResult {
  const value = median(ours);
  const peerValue = median(peer);
  return { name, value, unit: 's', peer: peerName, peerValue, ratio: value / peerValue };
}

/** Runs both, swapping who goes first each round, so that neither always meets a warmer (or busier) switch. */
export async function alternate(
  round: number,
  ours: () => Promise<unknown>,
  peer: () => Promise<unknown>,
): Promise<void> {
  if (round % 2 === 0) {
    await ours();
    await peer();
  } else {
    await peer();
    await ours();
  }
}

/** Wall time of fn in seconds. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A session that survives the long silences of a 100k-flow commit. */
export function connectLong(lab: Lab, bridge: string): Promise<SwitchConnection> {
  return connectSwitch(lab.ovs.mgmt(bridge), {
    requestTimeoutMs: LONG_MS,
    deadPeerMs: LONG_MS,
    echoIntervalMs: 60_000,
  });
}

/** A fresh manager attached to an (empty or not) bridge; attaching is not part of any timing. */
export async function attachedManager(
  lab: Lab,
  bridge: string,
): Promise<{ mgr: FlowTableManager; conn: SwitchConnection }> {
  const conn = await connectLong(lab, bridge);
  const mgr = new FlowTableManager();
  await mgr.attach(conn);
  return { mgr, conn };
}

/**
 * Ours: seconds from handing the manager the new desired flows until the bundle commit is
 * confirmed (`sync`: setFlows + apply, streamed so the switch parses while we encode).
 */
export async function setAndApply(
  mgr: FlowTableManager,
  flows: readonly Flow[],
): Promise<{ seconds: number; stats: ApplyStats }> {
  const t0 = performance.now();
  const stats = await mgr.sync(flows);
  return { seconds: (performance.now() - t0) / 1000, stats };
}

/** Fails unless apply() sent exactly the expected changes (a no-op apply would look very fast). */
export function expectStats(
  stats: ApplyStats,
  want: Pick<ApplyStats, 'flowsAdded' | 'flowsModified' | 'flowsDeleted'>,
): void {
  const got = {
    flowsAdded: stats.flowsAdded,
    flowsModified: stats.flowsModified,
    flowsDeleted: stats.flowsDeleted,
  };
  if (
    got.flowsAdded !== want.flowsAdded ||
    got.flowsModified !== want.flowsModified ||
    got.flowsDeleted !== want.flowsDeleted
  ) {
    throw new Error(`apply sent ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
}

export async function dump(lab: Lab, bridge: string): Promise<string[]> {
  const out = await ofctl(lab, 'dump-flows', lab.ovs.mgmt(bridge));
  return out
    .split('\n')
    .filter((l) => /^\s+cookie=/.test(l))
    .map(stripFlowStats)
    .sort();
}

/**
 * Fails loudly unless both bridges hold exactly `expected` flows and the same ones: a benchmark
 * that installed the wrong thing must not report a figure.
 */
export async function verifyEqual(lab: Lab, expected: number): Promise<void> {
  const [da, db] = await Promise.all([dump(lab, lab.a), dump(lab, lab.b)]);
  if (da.length !== expected || db.length !== expected) {
    throw new Error(
      `verify: expected ${expected} flows on both bridges, ours has ${da.length}, ovs-ofctl's ${db.length}`,
    );
  }
  for (let i = 0; i < da.length; i++) {
    if (da[i] !== db[i]) {
      throw new Error(
        `verify: bridges differ at sorted line ${i}:\n  ours:      ${da[i]}\n  ovs-ofctl: ${db[i]}`,
      );
    }
  }
}

export async function clear(lab: Lab): Promise<void> {
  await Promise.all([
    ofctl(lab, 'del-flows', lab.ovs.mgmt(lab.a)),
    ofctl(lab, 'del-flows', lab.ovs.mgmt(lab.b)),
  ]);
}

export function log(msg: string): void {
  process.stderr.write(`  ${msg}\n`);
}

async function installBench(): Promise<BenchResult[]> {
  const set = generateFlows(FLOWS, 1);
  const lab = await startLab();
  const file = await writeFlowFile(lab, 'flows.txt', set.lines);
  const ours: number[] = [];
  const peer: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r > 0) await clear(lab);
    const { mgr, conn } = await attachedManager(lab, lab.a);
    try {
      const doOurs = async () => {
        const { seconds, stats } = await setAndApply(mgr, set.flows);
        expectStats(stats, { flowsAdded: FLOWS, flowsModified: 0, flowsDeleted: 0 });
        ours.push(seconds);
      };
      const doPeer = async () =>
        peer.push(await timed(() => ofctl(lab, '--bundle', 'add-flows', lab.ovs.mgmt(lab.b), file)));
      await alternate(r, doOurs, doPeer);
    } finally {
      conn.close();
    }
    log(`round ${r + 1}: ours ${ours[r]!.toFixed(3)} s, ovs-ofctl ${peer[r]!.toFixed(3)} s`);
  }
  await verifyEqual(lab, FLOWS);
  await lab.ovs.stop();
  return [secondsResult('openflow-install', ours, 'ovs-ofctl --bundle add-flows', peer)];
}

export const benchmark: Benchmark = {
  describe: `${FLOWS} flows into an empty bridge, sync (setFlows+apply, streamed) vs ovs-ofctl --bundle add-flows (median of ${ROUNDS}; target ratio ≤ 1)`,
  run: installBench,
};
