// The bgp pipeline feature: learned routes as flows (longest prefix first, next hop MAC, untagged
// uplink), and incremental == full over random worlds where routes come and go, BGP turns on and
// off and the intent changes, with the forwarding features alongside (routing.ts defers to it).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bgpFeature } from '../../datapath/pipeline/bgp.js';
import { forwardingFeatures } from '../../datapath/pipeline/index.js';
import { Compilation, compile } from '../../policy/compiler/compile.js';
import type { Change } from '../../policy/compiler/diff.js';
import { diffIntent, hostFactsChange, type IntentChange } from '../../policy/compiler/diff.js';
import type { HostFacts } from '../../policy/compiler/intent.js';
import { DeltaSwitch, RandomWorld, stateText } from '../harness/intents.js';

const features = [...forwardingFeatures, bgpFeature];
const ROUTER_MAC = '02:02:32:01:01:02';

function routesChange(routes: ReadonlyMap<string, string>, prefixes: string[]): IntentChange {
  return {
    change: { kind: 'bgpRoutes', prefixes } as Change,
    mutate: (ix) => {
      const before = ix.host;
      if (before.bgp) ix.host = { ...before, bgp: { ...before.bgp, routes } };
      return before;
    },
  };
}

describe('bgp feature', () => {
  test('a learned route: next hop MAC, untagged uplink, priority by prefix length', () => {
    const world = new RandomWorld(7, { endpoints: 6 });
    world.intent = { ...world.intent, global: { ...world.intent.global, fwdMode: 'routing' } };
    const facts: HostFacts = {
      ...world.facts,
      uplinkPort: 60,
      bgp: {
        routerPort: 61,
        routerMac: ROUTER_MAC,
        routes: new Map([
          ['0.0.0.0/0', '0a:00:00:00:00:01'],
          ['60.1.1.0/24', '0a:00:00:00:00:01'],
          ['20.1.1.3/32', '0a:00:00:00:00:02'],
        ]),
      },
    };
    const s = compile(world.intent, facts, [bgpFeature]);
    const routes = s.flows.filter((f) => f.tableId === 40).sort((a, b) => a.priority - b.priority);
    assert.deepEqual(
      routes.map((f) => f.priority),
      [20, 44, 52],
    );
    const host = routes[2];
    assert.equal(host?.match.ipv4Dst, '20.1.1.3');
    assert.deepEqual(routes[1]?.match.ipv4Dst, { value: '60.1.1.0', mask: '255.255.255.0' });
    const text = JSON.stringify(host?.instructions, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    assert.match(text, /0a:00:00:00:00:02/);
    assert.match(text, new RegExp(ROUTER_MAC));
    // Bridge mode: nothing.
    const bridge = { ...world.intent, global: { ...world.intent.global, fwdMode: 'bridge' as const } };
    assert.equal(compile(bridge, facts, [bgpFeature]).flows.length, 0);
  });

  test('incremental == full: routes, BGP on/off, ports and intent changes', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const world = new RandomWorld(seed);
      world.intent = { ...world.intent, global: { ...world.intent.global, fwdMode: 'routing' } };
      let routes = new Map<string, string>();
      const withBgp = (f: HostFacts, on: boolean): HostFacts => {
        const { bgp: _drop, ...rest } = f;
        return on
          ? { ...rest, uplinkPort: 60, bgp: { routerPort: 61, routerMac: ROUTER_MAC, routes } }
          : rest;
      };
      let on = true;
      world.facts = withBgp(world.facts, on);
      const comp = new Compilation(structuredClone(world.intent), world.facts, features);
      const sw = new DeltaSwitch(comp.state());
      for (let n = 0; n < 40; n++) {
        const r = world.rand();
        let changes: IntentChange[];
        if (r < 0.4) {
          const next = new Map(routes);
          const p = `10.${Math.floor(world.rand() * 4)}.0.0/${8 + Math.floor(world.rand() * 3) * 8}`;
          if (next.has(p) && world.rand() < 0.6) next.delete(p);
          else next.set(p, world.rand() < 0.5 ? '0a:00:00:00:00:01' : '0a:00:00:00:00:02');
          const changed = [...new Set([...next.keys(), ...routes.keys()])].filter(
            (k) => next.get(k) !== routes.get(k),
          );
          routes = next;
          if (world.facts.bgp) world.facts = { ...world.facts, bgp: { ...world.facts.bgp, routes } };
          changes = [routesChange(routes, changed)];
        } else if (r < 0.5) {
          on = !on;
          world.facts = withBgp(world.facts, on);
          changes = [hostFactsChange(world.facts)];
        } else if (r < 0.6) {
          world.facts = withBgp(world.plugStep(), on);
          changes = [hostFactsChange(world.facts)];
        } else {
          const prev = world.intent;
          const next = world.step();
          world.intent = { ...next, global: { ...next.global, fwdMode: 'routing' } };
          changes = diffIntent(prev, world.intent);
        }
        for (const c of changes) sw.apply(comp.change(c.change, c.mutate));
        const full = stateText(compile(world.intent, world.facts, features));
        assert.deepEqual(stateText(comp.state()), full, `seed ${seed} step ${n}: compilation`);
        assert.deepEqual(sw.text(), full, `seed ${seed} step ${n}: deltas`);
      }
    }
  });
});
