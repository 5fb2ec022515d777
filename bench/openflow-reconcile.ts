// Owns the reconcile benchmark: a 1% change to 100k installed flows, applied by the manager that
// installed them vs ovs-ofctl --bundle replace-flows. It never touches a system OVS.

import { generateFlows, mutate } from './flows.js';
import {
  alternate,
  attachedManager,
  clear,
  expectStats,
  FLOWS,
  log,
  ofctl,
  ROUNDS,
  secondsResult,
  setAndApply,
  startLab,
  timed,
  verifyEqual,
  writeFlowFile,
} from './openflow-install.js';
import type { Benchmark, BenchResult } from './run.js';

async function reconcileBench(): Promise<BenchResult[]> {
  const base = generateFlows(FLOWS, 1);
  const changed = mutate(base, 0.01, 2);
  // mutate(1%) of 100k: 500 modified, 250 deleted, 250 new; the manager must send exactly that.
  const touched = Math.round(FLOWS * 0.01);
  const want = {
    flowsModified: Math.floor(touched / 2),
    flowsDeleted: Math.floor(touched / 4),
    flowsAdded: touched - Math.floor(touched / 2) - Math.floor(touched / 4),
  };
  const lab = await startLab();
  const baseFile = await writeFlowFile(lab, 'base.txt', base.lines);
  const changedFile = await writeFlowFile(lab, 'changed.txt', changed.lines);
  const ours: number[] = [];
  const peer: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Untimed: both bridges hold the base set; ours through the manager, so that it knows it.
    if (r > 0) await clear(lab);
    const { mgr, conn } = await attachedManager(lab, lab.a);
    try {
      expectStats((await setAndApply(mgr, base.flows)).stats, {
        flowsAdded: FLOWS,
        flowsModified: 0,
        flowsDeleted: 0,
      });
      await ofctl(lab, '--bundle', 'add-flows', lab.ovs.mgmt(lab.b), baseFile);
      const doOurs = async () => {
        const { seconds, stats } = await setAndApply(mgr, changed.flows);
        expectStats(stats, want);
        ours.push(seconds);
      };
      const doPeer = async () =>
        peer.push(
          await timed(() => ofctl(lab, '--bundle', 'replace-flows', lab.ovs.mgmt(lab.b), changedFile)),
        );
      await alternate(r, doOurs, doPeer);
    } finally {
      conn.close();
    }
    await verifyEqual(lab, changed.flows.length);
    log(`round ${r + 1}: ours ${ours[r]!.toFixed(3)} s, ovs-ofctl ${peer[r]!.toFixed(3)} s`);
  }
  await lab.ovs.stop();
  return [secondsResult('openflow-reconcile', ours, 'ovs-ofctl --bundle replace-flows', peer)];
}

export const benchmark: Benchmark = {
  describe: `1% change (½ modified, ¼ deleted, ¼ new) to ${FLOWS} installed flows, sync (setFlows+apply, streamed) vs ovs-ofctl --bundle replace-flows (median of ${ROUNDS}; target ratio ≤ 1)`,
  run: reconcileBench,
};
