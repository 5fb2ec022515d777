import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeEntry } from '../../controller/flowtable/flow-index.js';
import type { Action } from '../../controller/openflow/actions.js';
import { type Flow, flowKey } from '../../controller/openflow/flow.js';
import { fnv1a32 } from '../../datapath/pipeline/hash.js';
import {
  conjPriority,
  directPriority,
  matchOwner,
  PRIO,
  policyFeature,
  slotOf,
} from '../../datapath/pipeline/policy.js';
import { FLAG, table } from '../../datapath/pipeline/tables.js';
import { Compilation, compile } from '../../policy/compiler/compile.js';
import type { Change } from '../../policy/compiler/diff.js';
import { type IntentIndex, tkey } from '../../policy/compiler/index-intent.js';
import type { HostFacts, Intent, PolicyIntent, RuleIntent } from '../../policy/compiler/intent.js';
import {
  intersectPrefixes,
  parseAddressSpec,
  prefixText,
  rangeToPrefixes,
} from '../../policy/compiler/ip-range.js';
import { rule as contivRule } from '../harness/intents.js';
import { addressIn, randomRule, randomWorld } from '../harness/policy-eval.js';
import { prng } from '../harness/prng.js';

const HOST: HostFacts = { name: 'h1', endpointPorts: new Map(), tunnelPorts: new Map() };

/** A rule with Contiv's defaults; ruleId '1' unless given. */
const rule = (over: Partial<RuleIntent>): RuleIntent => contivRule({ ruleId: '1', ...over });

/** Policy p on web and app (so rules are conjunctions), and a db group policies can name as a peer. */
function seed(rules: RuleIntent[], groupsWithPolicy = ['web', 'app']): Intent {
  return {
    global: { fwdMode: 'bridge', arpMode: 'proxy', pvtSubnet: '172.19.0.0/16' },
    tenants: [{ name: 't', id: 7 }],
    networks: [
      { tenant: 't', name: 'n1', id: 10, encap: 'vxlan', pktTag: 1, subnet: '10.1.0.0/24', gateway: '' },
    ],
    groups: ['web', 'db', 'app'].map((name, i) => ({
      tenant: 't',
      name,
      network: 'n1',
      id: 100 + i,
      policies: groupsWithPolicy.includes(name) ? ['p'] : [],
      netProfile: '',
    })),
    policies: [{ tenant: 't', name: 'p', rules }],
    netProfiles: [],
    endpoints: [],
    hosts: [],
  };
}

function policyFlows(intent: Intent): Flow[] {
  return compile(intent, HOST, [policyFeature]).flows;
}

/** Flows of the rule tables only (not the fixed conntrack/commit ones). */
function ruleFlows(flows: Flow[]): Flow[] {
  return flows.filter((f) => f.priority >= PRIO.ruleBase && f.priority < PRIO.established);
}

function actionsOf(f: Flow): Action[] {
  return f.instructions.flatMap((i) => (i.type === 'applyActions' ? i.actions : []));
}

function conjActions(f: Flow) {
  return actionsOf(f).filter((a) => a.type === 'conjunction');
}

/** Encoded flows, sorted: equal arrays mean identical switch state (cookies included). */
function canon(flows: readonly Flow[]): string[] {
  return flows.map((f) => encodeEntry(f).msg).sort();
}

describe('ip-range', () => {
  test('ranges split into the fewest prefixes', () => {
    const p = parseAddressSpec('10.1.1.5-20/24')!;
    assert.deepEqual(p.map(prefixText), [
      '10.1.1.5/32',
      '10.1.1.6/31',
      '10.1.1.8/29',
      '10.1.1.16/30',
      '10.1.1.20/32',
    ]);
    assert.deepEqual(parseAddressSpec('10.1.1.0-255')!.map(prefixText), ['10.1.1.0/24']);
    assert.deepEqual(rangeToPrefixes(0, 0xffffffff).map(prefixText), ['0.0.0.0/0']);
    assert.deepEqual(parseAddressSpec('10.1.1.77/24')!.map(prefixText), ['10.1.1.0/24']);
    assert.deepEqual(parseAddressSpec('10.1.1.77')!.map(prefixText), ['10.1.1.77/32']);
    assert.equal(parseAddressSpec('10.1.1.9-3'), undefined);
    assert.equal(parseAddressSpec('10.1.1'), undefined);
  });

  test('split ranges cover exactly the addresses of the range', () => {
    const rand = prng(3);
    for (let i = 0; i < 200; i++) {
      const lo = Math.floor(rand() * 256);
      const hi = lo + Math.floor(rand() * (256 - lo));
      const spec = `10.0.0.${lo}-${hi}`;
      const ps = parseAddressSpec(spec)!;
      for (let x = 0; x < 256; x++) {
        const ip = `10.0.0.${x}`;
        const inPs = ps.some((p) => addressIn(ip, prefixText(p)));
        assert.equal(inPs, addressIn(ip, spec), `${ip} in ${spec}`);
      }
    }
  });

  test('intersection keeps the narrower of nested prefixes', () => {
    const a = parseAddressSpec('10.1.0.0/16')!;
    const b = parseAddressSpec('10.1.2.4-9')!;
    assert.deepEqual(intersectPrefixes(a, b).map(prefixText), ['10.1.2.4/30', '10.1.2.8/31']);
    assert.deepEqual(intersectPrefixes(parseAddressSpec('10.2.0.0/16')!, b), []);
  });
});

describe('policy compiler: rule shapes', () => {
  test('fixed flows: conntrack in the VRF zone, established/related pass, invalid drops, commit', () => {
    const flows = policyFlows(seed([]));
    const ct = flows.find((f) => f.tableId === table('conntrack'))!;
    assert.deepEqual(actionsOf(ct), [
      { type: 'ct', zone: { field: 'reg7', ofs: 0, nBits: 16 }, table: table('egressPolicy') },
    ]);
    const est = flows.filter((f) => f.priority === PRIO.established);
    assert.equal(est.length, 2);
    for (const f of est) assert.deepEqual(f.instructions, [{ type: 'gotoTable', tableId: table('qos') }]);
    const inv = flows.find((f) => f.priority === PRIO.invalid)!;
    assert.deepEqual(inv.instructions, []);
    const commit = flows.find((f) => f.tableId === table('commit'))!;
    assert.deepEqual(actionsOf(commit), [
      { type: 'ct', commit: true, zone: { field: 'reg7', ofs: 0, nBits: 16 } },
    ]);
    // A policy without rules and groups without policy cost nothing.
    assert.equal(ruleFlows(flows).length, 0);
  });

  test('the seed policy: deny tcp in, allow 80 and 443 at priority 10', () => {
    const intent = seed([
      rule({ ruleId: '1', protocol: 6, action: 'deny' }),
      rule({ ruleId: '2', protocol: 6, port: 80, priority: 10 }),
      rule({ ruleId: '3', protocol: 6, port: 443, priority: 10 }),
    ]);
    const flows = ruleFlows(policyFlows(intent));
    const ingress = table('ingressPolicy');
    assert.ok(flows.every((f) => f.tableId === ingress));
    // Slot 10/allow: clause 2 for port 80 and 443, conj_id flows, one group clause with both ids.
    const p10 = flows.filter((f) => f.priority === conjPriority(slotOf(10, 'allow')));
    const groupClause = p10.find((f) => f.match.reg5 !== undefined)!;
    assert.deepEqual(groupClause.match, {
      reg0: { value: FLAG.toLocal, mask: FLAG.toLocal },
      reg5: { value: 100, mask: 0xffff },
    });
    const ids = conjActions(groupClause).map((a) => a.id);
    assert.equal(ids.length, 2);
    for (const port of [80, 443]) {
      const c2 = p10.find((f) => f.match.tcpDst === port)!;
      assert.deepEqual(c2.match, { ethType: 0x0800, ipProto: 6, tcpDst: port });
      const [a] = conjActions(c2);
      assert.equal(a?.clause, 2);
      assert.ok(ids.includes(a!.id));
      const conj = p10.find((f) => f.match.conjId === a.id)!;
      assert.deepEqual(conj.instructions, [{ type: 'gotoTable', tableId: table('commit') }]);
    }
    // Slot 1/deny: tcp, dropped.
    const p1 = flows.filter((f) => f.priority === conjPriority(slotOf(1, 'deny')));
    assert.equal(p1.length, 4, 'clause 2, conj_id, the clauses of web and app');
    assert.deepEqual(p1.find((f) => f.match.conjId !== undefined)!.instructions, []);
    assert.ok(conjPriority(slotOf(10, 'allow')) > conjPriority(slotOf(1, 'deny')));
  });

  test('out rules: group clause on the source, peer group on the destination register', () => {
    const flows = ruleFlows(policyFlows(seed([rule({ direction: 'out', toGroup: 'db', action: 'deny' })])));
    assert.ok(flows.every((f) => f.tableId === table('egressPolicy')));
    const g = flows.find((f) => f.match.reg4 !== undefined)!;
    assert.deepEqual(g.match.reg0, { value: FLAG.fromLocal, mask: FLAG.fromLocal });
    const c2 = flows.find((f) => f.match.reg5 !== undefined)!;
    assert.deepEqual(c2.match, { ethType: 0x0800, reg5: { value: 101, mask: 0xffff } });
    const allow = ruleFlows(policyFlows(seed([rule({ direction: 'out', toIp: '10.9.0.0/16' })])));
    const c = allow.find((f) => f.match.ipv4Dst !== undefined)!;
    assert.deepEqual(c.match.ipv4Dst, { value: '10.9.0.0', mask: '255.255.0.0' });
    assert.deepEqual(allow.find((f) => f.match.conjId !== undefined)!.instructions, [
      { type: 'gotoTable', tableId: table('ingressPolicy') },
    ]);
  });

  test('from group, network and addresses; a range is one match flow per prefix', () => {
    const r = (over: Partial<RuleIntent>) => ruleFlows(policyFlows(seed([rule(over)])));
    const fromGroup = r({ fromGroup: 'db', protocol: 17, port: 53 });
    assert.ok(fromGroup.some((f) => f.match.reg4 !== undefined && f.match.udpDst === 53));
    const fromNet = r({ fromNetwork: 'n1' });
    assert.ok(
      fromNet.some((f) => JSON.stringify(f.match.ipv4Src) === '{"value":"10.1.0.0","mask":"255.255.255.0"}'),
    );
    const range = r({ fromIp: '10.1.0.5-9', protocol: 1 });
    assert.equal(range.filter((f) => f.match.ipv4Src !== undefined).length, 3);
    assert.equal(range.filter((f) => f.match.conjId !== undefined).length, 3);
    // Network narrowed by an address: the intersection.
    const both = r({ fromNetwork: 'n1', fromIp: '10.1.0.8/29' });
    assert.deepEqual(both.find((f) => f.match.ipv4Src)!.match.ipv4Src, {
      value: '10.1.0.8',
      mask: '255.255.255.248',
    });
    // A port without a protocol: tcp and udp. A port with icmp is ignored.
    const anyProto = r({ port: 80 });
    assert.ok(anyProto.some((f) => f.match.tcpDst === 80) && anyProto.some((f) => f.match.udpDst === 80));
    const icmp = r({ protocol: 1, port: 80 });
    assert.ok(icmp.some((f) => f.match.ipProto === 1 && f.match.tcpDst === undefined));
    // In rules may name their own member's address (toIp) too.
    const own = r({ fromGroup: 'db', toIp: '10.1.0.3' });
    assert.ok(own.some((f) => f.match.ipv4Dst === '10.1.0.3' && f.match.reg4 !== undefined));
  });

  test('a match flow carried by one group is one direct flow; by none, nothing', () => {
    const one = ruleFlows(policyFlows(seed([rule({ protocol: 6, port: 80, priority: 10 })], ['web'])));
    assert.equal(one.length, 1);
    assert.deepEqual(one[0]!.match, {
      ethType: 0x0800,
      ipProto: 6,
      tcpDst: 80,
      reg0: { value: FLAG.toLocal, mask: FLAG.toLocal },
      reg5: { value: 100, mask: 0xffff },
    });
    assert.equal(ruleFlows(policyFlows(seed([rule({ protocol: 6 })], []))).length, 0);
  });

  test('rules that can match nothing cost nothing; a rule matching everything is one flow per group', () => {
    assert.equal(ruleFlows(policyFlows(seed([rule({ fromGroup: 'nosuch' })]))).length, 0);
    assert.equal(ruleFlows(policyFlows(seed([rule({ fromNetwork: 'nosuch' })]))).length, 0);
    assert.equal(ruleFlows(policyFlows(seed([rule({ fromNetwork: 'n1', fromIp: '10.9.0.1' })]))).length, 0);
    const all = ruleFlows(policyFlows(seed([rule({ action: 'deny', priority: 3 })], ['web', 'db'])));
    assert.equal(all.length, 2);
    for (const f of all) {
      assert.equal(f.priority, directPriority(slotOf(3, 'deny')));
      assert.deepEqual(f.instructions, []);
    }
  });

  test('identical rules and shared match flows merge; one group flow per slot with all conj ids', () => {
    const intent = seed([rule({ protocol: 6, port: 80 })], ['web', 'db', 'app']);
    intent.policies.push({
      tenant: 't',
      name: 'q',
      rules: [rule({ protocol: 6, port: 80 }), rule({ ruleId: '2', protocol: 6, port: 81 })],
    });
    intent.groups[0]!.policies.push('q');
    const flows = ruleFlows(policyFlows(intent));
    // Port 80 (three groups): match flow + conj_id flow + the clauses of web, db, app; port 81
    // (web alone, through q): one direct flow.
    assert.equal(flows.length, 6);
    const web = flows.find(
      (f) => JSON.stringify(f.match.reg5) === '{"value":100,"mask":65535}' && !f.match.tcpDst,
    )!;
    assert.equal(conjActions(web).length, 1);
    const direct = flows.find((f) => f.match.tcpDst === 81)!;
    assert.equal(direct.priority, directPriority(slotOf(1, 'allow')));
    assert.deepEqual(direct.match.reg5, { value: 100, mask: 0xffff });
    assert.deepEqual(direct.instructions, [{ type: 'gotoTable', tableId: table('commit') }]);
    const keys = new Set(flows.map(flowKey));
    assert.equal(keys.size, flows.length);
  });
});

function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('policy compiler: determinism and structure', () => {
  test('the same intent, in any order, gives identical flows', () => {
    for (let seedN = 1; seedN <= 30; seedN++) {
      const { intent } = randomWorld(seedN, 6, 5, 8);
      const a = canon(policyFlows(intent));
      const rand = prng(seedN * 7);
      const b = canon(
        policyFlows({
          ...intent,
          groups: shuffled(intent.groups, rand),
          policies: shuffled(intent.policies, rand),
          networks: shuffled(intent.networks, rand),
        }),
      );
      assert.deepEqual(a, b);
      assert.deepEqual(a, canon(policyFlows(structuredClone(intent))));
    }
  });

  test('conjunctions are well formed (as OVS requires)', () => {
    for (let seedN = 1; seedN <= 50; seedN++) {
      const { intent } = randomWorld(seedN, 6, 5, 8);
      const flows = policyFlows(intent);
      assert.equal(new Set(flows.map(flowKey)).size, flows.length, 'no two flows share an identity');
      // (table, priority, id) → clauses seen; conj_id flows present.
      const clauses = new Map<string, Set<number>>();
      const conjFlows = new Set<string>();
      for (const f of flows) {
        const acts = actionsOf(f);
        const conj = conjActions(f);
        if (conj.length > 0) {
          assert.equal(conj.length, acts.length, 'a flow with conjunction actions has no others');
          assert.equal(f.instructions.length, 1);
          for (const c of conj) {
            assert.equal(c.nClauses, 2);
            const k = `${f.tableId}/${f.priority}/${c.id}`;
            const s = clauses.get(k) ?? new Set();
            s.add(c.clause);
            clauses.set(k, s);
          }
        }
        if (f.match.conjId !== undefined) conjFlows.add(`${f.tableId}/${f.priority}/${f.match.conjId}`);
      }
      for (const k of conjFlows) assert.ok(clauses.get(k)?.has(2), `conj_id ${k} has clause 2`);
      for (const [k, s] of clauses) {
        assert.ok(conjFlows.has(k), `conjunction ${k} has a conj_id flow at its priority`);
        assert.ok(s.has(2), `conjunction ${k} has clause 2`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Incremental compile == full compile.

interface Step {
  change: Change;
  mutate: (ix: IntentIndex) => unknown;
}

function randomStep(ix: IntentIndex, rand: () => number, n: number): Step {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const groups = [...ix.groups.values()];
  const policies = [...ix.policies.values()];
  const nets = [...ix.networks.values()];
  const groupNames = groups.map((g) => g.name);
  const k = rand();
  if (k < 0.3 && policies.length > 0) {
    // Add, remove or replace a rule.
    const p = pick(policies);
    const rules = [...p.rules];
    const op = rand();
    if (op < 0.4 || rules.length === 0) rules.push(randomRule(rand, `x${n}`, [...groupNames, 'late'], nets));
    else if (op < 0.7) rules.splice(Math.floor(rand() * rules.length), 1);
    else rules[Math.floor(rand() * rules.length)] = randomRule(rand, `x${n}`, groupNames, nets);
    const next: PolicyIntent = { ...p, rules };
    return { change: { kind: 'policy', key: tkey(p.tenant, p.name) }, mutate: (x) => x.putPolicy(next) };
  }
  if (k < 0.4) {
    const name = rand() < 0.5 && policies.length > 0 ? pick(policies).name : `np${n}`;
    const key = tkey('t1', name);
    if (ix.policies.has(key) && rand() < 0.5) {
      return { change: { kind: 'policy', key }, mutate: (x) => x.deletePolicy(key) };
    }
    const next: PolicyIntent = { tenant: 't1', name, rules: [randomRule(rand, 'r0', groupNames, nets)] };
    return { change: { kind: 'policy', key }, mutate: (x) => x.putPolicy(next) };
  }
  if (k < 0.65 && groups.length > 0) {
    // Attach/detach policies (including ones that do not exist yet).
    const g = pick(groups);
    const names = [...policies.map((p) => p.name), 'np-later'];
    const next = { ...g, policies: names.filter(() => rand() < 0.4) };
    return { change: { kind: 'group', key: tkey(g.tenant, g.name) }, mutate: (x) => x.putGroup(next) };
  }
  if (k < 0.75) {
    // Create 'late' (a peer some rules name before it exists), or delete a group, or renumber one.
    const op = rand();
    if (op < 0.4) {
      const g = {
        tenant: 't1',
        name: 'late',
        network: 'net1',
        id: 90 + (n % 5),
        policies: [],
        netProfile: '',
      };
      return { change: { kind: 'group', key: 't1/late' }, mutate: (x) => x.putGroup(g) };
    }
    if (groups.length > 0 && op < 0.7) {
      const g = pick(groups);
      return {
        change: { kind: 'group', key: tkey(g.tenant, g.name) },
        mutate: (x) => x.deleteGroup(tkey(g.tenant, g.name)),
      };
    }
    if (groups.length > 0) {
      const g = { ...pick(groups), id: 200 + n };
      return { change: { kind: 'group', key: tkey(g.tenant, g.name) }, mutate: (x) => x.putGroup(g) };
    }
  }
  if (k < 0.85 && nets.length > 0) {
    const net = pick(nets);
    const next = {
      ...net,
      subnet: rand() < 0.5 ? net.subnet : `10.${Math.floor(rand() * 3)}.0.0/${pick([16, 24])}`,
    };
    return {
      change: { kind: 'network', key: tkey(net.tenant, net.name) },
      mutate: (x) => x.putNetwork(next),
    };
  }
  const ep = pick([...ix.endpoints.values()]);
  const next = { ...ep, group: pick(groupNames.length > 0 ? groupNames : ['']) };
  return { change: { kind: 'endpoint', id: ep.id }, mutate: (x) => x.putEndpoint(next) };
}

describe('policy compiler: incremental', () => {
  test('incremental compiles equal full compiles over random change sequences', () => {
    for (let seedN = 1; seedN <= 40; seedN++) {
      const { intent } = randomWorld(seedN, 5, 4, 6);
      const c = new Compilation(structuredClone(intent), HOST, [policyFeature]);
      // Switch state reconstructed from the deltas alone.
      const sw = new Map<string, string>();
      for (const f of c.state().flows) sw.set(flowKey(f), encodeEntry(f).msg);
      const rand = prng(seedN * 31);
      for (let n = 0; n < 40; n++) {
        const step = randomStep(c.ix, rand, n);
        const d = c.change(step.change, step.mutate);
        for (const f of d.removeFlows) sw.delete(flowKey(f));
        for (const f of d.addFlows) sw.set(flowKey(f), encodeEntry(f).msg);
        const full = canon(policyFlows(c.ix.intent()));
        assert.deepEqual(
          canon(c.state().flows),
          full,
          `seed ${seedN} step ${n} ${JSON.stringify(step.change)}`,
        );
        assert.deepEqual([...sw.values()].sort(), full, `seed ${seedN} step ${n}: deltas`);
      }
    }
  });

  test('a rule added touches only its own owners and its groups; endpoints touch nothing', () => {
    const intent = seed(
      Array.from({ length: 50 }, (_, i) => rule({ ruleId: `r${i}`, protocol: 6, port: 1000 + i })),
      ['web', 'db'],
    );
    const c = new Compilation(intent, HOST, [policyFeature]);
    const p = c.ix.policies.get('t/p')!;
    const next = { ...p, rules: [...p.rules, rule({ ruleId: 'new', protocol: 17, port: 53, priority: 5 })] };
    const d = c.change({ kind: 'policy', key: 't/p' }, (ix) => ix.putPolicy(next));
    // The new match flow's owner + the two groups' clause owners.
    assert.equal(d.owners, 3);
    assert.equal(d.removeFlows.length, 0);
    assert.equal(d.addFlows.filter((f) => f.match.udpDst === 53).length, 1);
    const e = c.change({ kind: 'endpoint', id: 'x' }, (ix) =>
      ix.putEndpoint({
        id: 'x',
        tenant: 't',
        network: 'n1',
        group: 'web',
        ip: '10.1.0.9',
        mac: '02:02:0a:01:00:09',
        host: 'h1',
      }),
    );
    assert.equal(e.owners, 0);
  });
});

describe('policy compiler: conj id collisions', () => {
  test('two match flows whose hashes collide get distinct ids, kept consistent incrementally', () => {
    // Find two tcp ports whose match-flow owners share the hash bits of a conj id (slot 10/allow).
    const slot = slotOf(10, 'allow');
    const seen = new Map<number, number>();
    let pair: [number, number] | undefined;
    for (let port = 1; port < 65536 && !pair; port++) {
      const key = matchOwner('in', slot, { proto: 6, port, peerGroup: -1, src: undefined, dst: undefined });
      const h = fnv1a32(key) >>> 4;
      const other = seen.get(h);
      if (other !== undefined) pair = [other, port];
      seen.set(h, port);
    }
    assert.ok(pair, 'some pair of ports collides');
    const [p1, p2] = pair;
    // Both policies on two groups each: their match flows are conjunctions, which hold conj ids.
    const intent = seed([rule({ protocol: 6, port: p2, priority: 10 })], ['web', 'app']);
    intent.policies.push({ tenant: 't', name: 'q', rules: [] });
    intent.groups[1]!.policies.push('q');
    intent.groups[2]!.policies.push('q');
    const c = new Compilation(intent, HOST, [policyFeature]);
    const steps: [string, RuleIntent[]][] = [
      ['q', [rule({ protocol: 6, port: p1, priority: 10 })]],
      ['p', []],
      ['p', [rule({ protocol: 6, port: p2, priority: 10 })]],
      ['q', []],
    ];
    const sizes: number[] = [];
    for (const [name, rules] of steps) {
      c.change({ kind: 'policy', key: `t/${name}` }, (ix) => ix.putPolicy({ tenant: 't', name, rules }));
      const flows = c.state().flows;
      assert.deepEqual(canon(flows), canon(policyFlows(c.ix.intent())));
      const ids = flows.filter((f) => f.match.conjId !== undefined).map((f) => f.match.conjId);
      assert.equal(new Set(ids).size, ids.length);
      sizes.push(ids.length);
    }
    // Both colliding conjunctions existed at once, and each alone.
    assert.deepEqual(sizes, [2, 1, 2, 1]);
  });
});

describe('Compilation.streamed', () => {
  test('streams the same flows as a full compile and ends as a complete compilation', () => {
    const { intent } = randomWorld(5, 6, 5, 8);
    const { compilation, flows } = Compilation.streamed(structuredClone(intent), HOST, [policyFeature]);
    const streamed = [...flows];
    assert.deepEqual(canon(streamed), canon(policyFlows(intent)));
    assert.deepEqual(canon(compilation.state().flows), canon(streamed));
    const d = compilation.change({ kind: 'policy', key: 't1/p0' }, (ix) => ix.deletePolicy('t1/p0'));
    assert.ok(d.owners > 0);
  });
});
