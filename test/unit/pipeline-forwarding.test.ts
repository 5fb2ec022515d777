import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { forwardingFeatures } from '../../datapath/pipeline/index.js';
import { PIPELINE } from '../../datapath/pipeline/tables.js';
import { Compilation, compile } from '../../policy/compiler/compile.js';
import { hostFactsChange } from '../../policy/compiler/diff.js';
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

  test('a port plugged or unplugged touches O(1) owners; new tunnels touch everything', () => {
    const w = new RandomWorld(11, { endpoints: 80, hosts: ['h1', 'h2'] });
    w.facts = { name: 'h1', endpointPorts: w.facts.endpointPorts, tunnelPorts: new Map([['h2', 100]]) };
    const comp = new Compilation(structuredClone(w.intent), w.facts, forwardingFeatures);
    for (let i = 0; i < 20; i++) {
      const d = comp.change({ kind: 'hostFacts' }, hostFactsChange(w.plugStep()).mutate);
      // Per feature at most the endpoint's owner and its network's.
      assert.ok(d.owners <= 2 * forwardingFeatures.length, `${d.owners} owners for one port`);
    }
    const tunnels = { ...w.facts, tunnelPorts: new Map([['h2', 101]]) };
    const d = comp.change({ kind: 'hostFacts' }, hostFactsChange(tunnels).mutate);
    assert.ok(d.owners >= w.intent.endpoints.length, 'a tunnel port renumbered: every owner');
    assert.deepEqual(stateText(comp.state()), stateText(compile(w.intent, tunnels, forwardingFeatures)));
  });
});

describe('the pipeline declaration', () => {
  // The flow builder checks each flow against its table's declaration as it is made: a compile
  // that returns kept to it.
  test("forwarding flows keep to their tables' declarations in both modes", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const w = new RandomWorld(seed);
      for (const mode of ['bridge', 'routing'] as const) {
        const intent = { ...w.intent, global: { ...w.intent.global, fwdMode: mode } };
        assert.ok(compile(intent, w.facts, forwardingFeatures).flows.length > 0);
      }
    }
  });
});
