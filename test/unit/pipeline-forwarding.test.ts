import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { forwardingFeatures } from '../../datapath/pipeline/index.js';
import { PIPELINE } from '../../datapath/pipeline/tables.js';
import { compile } from '../../policy/compiler/compile.js';
import { checkIncremental, RandomWorld, stateText } from '../harness/intents.js';

describe('forwarding features', () => {
  test('compile is deterministic and every table has its miss flow', () => {
    const w = new RandomWorld(7);
    const a = compile(structuredClone(w.intent), w.facts, forwardingFeatures);
    const b = compile(structuredClone(w.intent), w.facts, forwardingFeatures);
    assert.deepEqual(stateText(a), stateText(b));
    for (const t of PIPELINE) {
      assert.ok(
        a.flows.some((f) => f.tableId === t.id && f.priority === 0),
        `table ${t.name} has a miss flow`,
      );
    }
  });

  test('incremental deltas equal full compiles over random change sequences', () => {
    checkIncremental(forwardingFeatures, { seeds: 25, steps: 40 });
  });

  test('an endpoint joining or leaving touches O(1) owners: its own and its network flood owner', () => {
    checkIncremental(forwardingFeatures, {
      seeds: 5,
      steps: 30,
      world: { endpoints: 60 },
      onDelta(d, change) {
        if (change.kind !== 'endpoint') return;
        // Per feature: the endpoint's owner, and the old and new network's (output's flood groups).
        assert.ok(d.owners <= 3 * forwardingFeatures.length, `${d.owners} owners for one endpoint`);
        assert.ok(d.addFlows.length + d.removeFlows.length <= 20, 'flows changed by one endpoint');
      },
    });
  });
});
