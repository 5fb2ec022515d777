// The benchmarks' flow generator against ovs-vswitchd: its Flow objects (through FlowTableManager)
// and its ovs-ofctl text (through add-flows) must leave identical tables, before and after mutate().

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateFlows, mutate } from '../../bench/flows.js';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';
import { runCleanups } from '../harness/cleanup.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('bench flow generator: objects and ovs-ofctl text are the same flows', { skip }, () => {
  let ovs: OvsInstance;
  let a: string;
  let b: string;
  let conn: SwitchConnection;
  const mgr = new FlowTableManager();

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    ovs = await startOvs();
    a = await ovs.addBridge({ failMode: 'secure' });
    b = await ovs.addBridge({ failMode: 'secure' });
    conn = await connectSwitch(ovs.mgmt(a));
    await mgr.attach(conn);
  });
  after(async () => {
    conn?.close();
    await runCleanups();
  });

  async function loadText(lines: string[], command: 'add-flows' | 'replace-flows'): Promise<void> {
    const file = join(ovs.dir, `flows-${command}.txt`);
    await writeFile(file, `${lines.join('\n')}\n`);
    await ovs.ofctl('--bundle', command, ovs.mgmt(b), file);
  }

  const set = generateFlows(400, 7);

  test('the generator is deterministic and its keys are unique', () => {
    assert.deepEqual(generateFlows(400, 7).lines, set.lines);
    assert.notDeepEqual(generateFlows(400, 8).lines, set.lines);
    assert.equal(set.flows.length, 400);
    assert.equal(set.lines.length, 400);
    const kinds = new Set(set.specs.map((s) => s.kind));
    for (const k of ['classify', 'l2', 'ctEntry', 'ctEst', 'ctNew', 'policy', 'l3', 'miss'] as const) {
      assert.ok(kinds.has(k), `no ${k} flow`);
    }
    const policy = set.specs.filter((s) => s.kind === 'policy').length;
    assert.ok(policy > 400 / 2, `policy flows are most of the table (${policy})`);
  });

  test('installed both ways, the bridges hold the same flows', async () => {
    mgr.setFlows(set.flows);
    const stats = await mgr.apply();
    assert.equal(stats.flowsAdded, 400);
    await loadText(set.lines, 'add-flows');
    const [da, db] = await Promise.all([ovs.dumpFlows(a), ovs.dumpFlows(b)]);
    assert.equal(da.length, 400);
    assert.deepEqual(da, db);
    // The pipeline's distinctive pieces reached the switch as meant.
    assert.ok(da.some((l) => /ct_state=\+est\+trk/.test(l) && /goto_table:40/.test(l)));
    assert.ok(da.some((l) => /ct\(commit,zone=\d+\),goto_table:40/.test(l)));
    assert.ok(da.some((l) => /nw_src=10\.\d+\.\d+\.0\/24/.test(l)));
    assert.ok(da.some((l) => /set_field:02:00:[0-9a-f:]+->eth_dst,output:\d+/.test(l)));
    assert.ok(da.some((l) => /write_metadata:0x[0-9a-f]+\/0xffffffff,goto_table:10/.test(l)));
  });

  test('mutate changes 1%-style fractions, and both forms still agree after reconciling', async () => {
    const changed = mutate(set, 0.05, 3); // 20 touched: 10 modified, 5 deleted, 5 new
    assert.equal(changed.flows.length, 400);
    assert.deepEqual(mutate(set, 0.05, 3).lines, changed.lines);
    mgr.setFlows(changed.flows);
    const stats = await mgr.apply();
    assert.deepEqual(
      { added: stats.flowsAdded, modified: stats.flowsModified, deleted: stats.flowsDeleted },
      { added: 5, modified: 10, deleted: 5 },
    );
    await loadText(changed.lines, 'replace-flows');
    const [da, db] = await Promise.all([ovs.dumpFlows(a), ovs.dumpFlows(b)]);
    assert.equal(da.length, 400);
    assert.deepEqual(da, db);
  });
});
