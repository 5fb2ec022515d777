// The policy feature together with the forwarding features under the generic incremental property
// (test/harness/intents.ts): random worlds whose policies, rules and group attachments change
// along with endpoints, networks, groups, tenants, modes and host facts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { forwardingFeatures } from '../../datapath/pipeline/index.js';
import { policyFeature } from '../../datapath/pipeline/policy.js';
import type { Intent, PolicyIntent } from '../../policy/compiler/intent.js';
import { checkIncremental, type IntentStep } from '../harness/intents.js';
import { randomRule } from '../harness/policy-eval.js';

const pick = <T>(rand: () => number, xs: readonly T[]): T | undefined =>
  xs.length === 0 ? undefined : xs[Math.floor(rand() * xs.length)];

const NAMES = ['p1', 'p2', 'p3'];

/** A policy of the tenant written anew: random rules naming the tenant's groups and networks. */
const putPolicy: IntentStep = (rand, intent) => {
  const tenant = pick(rand, intent.tenants)?.name;
  if (!tenant) return undefined;
  const nets = intent.networks.filter((n) => n.tenant === tenant);
  if (nets.length === 0) return undefined;
  const groups = intent.groups.filter((g) => g.tenant === tenant).map((g) => g.name);
  const name = pick(rand, NAMES)!;
  const p: PolicyIntent = {
    tenant,
    name,
    rules: Array.from({ length: Math.floor(rand() * 6) }, (_, i) => randomRule(rand, `r${i}`, groups, nets)),
  };
  return {
    ...intent,
    policies: [...intent.policies.filter((x) => x.tenant !== tenant || x.name !== name), p],
  };
};

const deletePolicy: IntentStep = (rand, intent) => {
  const p = pick(rand, intent.policies);
  return p && { ...intent, policies: intent.policies.filter((x) => x !== p) };
};

/** A group's policy list, possibly naming policies that do not exist (yet). */
const attach: IntentStep = (rand, intent): Intent | undefined => {
  const g = pick(rand, intent.groups);
  if (!g) return undefined;
  const next = { ...g, policies: NAMES.filter(() => rand() < 0.4) };
  return { ...intent, groups: intent.groups.map((x) => (x === g ? next : x)) };
};

describe('policy feature: incremental property with the forwarding features', () => {
  test('deltas applied in order equal full compiles', () => {
    checkIncremental([...forwardingFeatures, policyFeature], {
      seeds: 25,
      steps: 40,
      world: { extraSteps: [putPolicy, putPolicy, attach, attach, deletePolicy] },
    });
  });

  test('endpoints touch no policy owner', () => {
    checkIncremental([policyFeature], {
      seeds: 5,
      steps: 30,
      world: { extraSteps: [putPolicy, attach] },
      onDelta(d, change) {
        if (change.kind === 'endpoint') assert.equal(d.owners, 0);
      },
    });
  });
});
