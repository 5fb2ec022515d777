import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bigWorld, hostFacts } from '../../bench/policy.js';
import { FEATURE_SHIFT, Feature } from '../../controller/openflow/cookie.js';
import { allFeatures } from '../../datapath/pipeline/all.js';
import { checkFlow, cookieFor, type FlowSpec, makeFlow } from '../../datapath/pipeline/builder.js';
import { gotoTable } from '../../datapath/pipeline/regs.js';
import { PIPELINE, table } from '../../datapath/pipeline/tables.js';
import { compile } from '../../policy/compiler/compile.js';

const cookie = cookieFor(Feature.Arp, 'test');

function arpFlow(over: Partial<FlowSpec>): FlowSpec {
  return { table: 'arp', priority: 10, match: { ethType: 0x0806 }, instructions: [], cookie, ...over };
}

describe('the flow builder', () => {
  test('a declared flow is built in its table', () => {
    const f = makeFlow(Feature.Arp, arpFlow({ instructions: [gotoTable('dns')] }));
    assert.equal(f.tableId, table('arp'));
  });

  test('a goto to a table not listed as next throws, naming table, feature and target', () => {
    assert.throws(
      () => makeFlow(Feature.Arp, arpFlow({ instructions: [gotoTable('output')] })),
      /table arp: a flow of feature Arp goes to output, which is not among its next tables \(dns\)/,
    );
  });

  test('a ct recirculation to an undeclared table throws', () => {
    const ct = { type: 'ct' as const, table: table('qos') };
    assert.throws(
      () => makeFlow(Feature.Arp, arpFlow({ instructions: [{ type: 'applyActions', actions: [ct] }] })),
      /table arp: a flow of feature Arp recirculates to qos/,
    );
  });

  test('a foreign match field throws, naming the field', () => {
    assert.throws(
      () => makeFlow(Feature.Arp, arpFlow({ match: { ethType: 0x0800, tcpDst: 80 } })),
      /table arp: a flow of feature Arp matches tcpDst, which the table does not declare/,
    );
  });

  test('a feature not listed as a writer throws', () => {
    assert.throws(
      () => makeFlow(Feature.Policy, arpFlow({})),
      /table arp: a flow of feature Policy is not allowed: the table does not list the feature as a writer/,
    );
  });

  test("every flow of the policy-compile benchmark's world keeps to the declaration", () => {
    const intent = bigWorld();
    const flows = compile(intent, hostFacts(intent), allFeatures).flows;
    assert.ok(flows.length > 40_000);
    const names = new Map(PIPELINE.map((t) => [t.id, t.name]));
    for (const f of flows) {
      const name = names.get(f.tableId);
      assert.ok(name, `table ${f.tableId} is declared`);
      const feature = Number(f.cookie >> FEATURE_SHIFT) as Feature;
      checkFlow(feature, { ...f, table: name });
    }
  });
});
