// The service feature compiled: which endpoints a service's buckets list (every selector held, in
// its tenant), that deltas of label, selector and deletion changes equal a full compile, and that
// a provider added among 1,000 compiled services changes one group and a few flows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardingFeatures } from '../../datapath/pipeline/index.js';
import { policyFeature } from '../../datapath/pipeline/policy.js';
import { serviceFeature, serviceGroup } from '../../datapath/pipeline/service.js';
import { Compilation, compile } from '../../policy/compiler/compile.js';
import type { Change } from '../../policy/compiler/diff.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import type { EndpointIntent, HostFacts, Intent, ServiceIntent } from '../../policy/compiler/intent.js';
import { macFromIPv4 } from '../../policy/ipam/addr.js';
import { DeltaSwitch, stateText } from '../harness/intents.js';

const features = [...forwardingFeatures, policyFeature, serviceFeature];
const facts: HostFacts = {
  name: 'h1',
  endpointPorts: new Map([
    ['a', 1],
    ['b', 2],
    ['c', 3],
  ]),
  tunnelPorts: new Map(),
};

function ep(id: string, ip: string, labels: Record<string, string>, tenant = 't1'): EndpointIntent {
  return { id, tenant, network: 'n1', group: '', ip, mac: macFromIPv4(ip), host: 'h1', labels };
}

function service(name: string, id: number, vip: string, selectors: Record<string, string>): ServiceIntent {
  return {
    tenant: 't1',
    name,
    network: 'n1',
    id,
    vip,
    ports: [
      { port: 80, targetPort: 8080, protocol: 6 },
      { port: 53, targetPort: 5353, protocol: 17 },
    ],
    selectors,
  };
}

function world(services: ServiceIntent[], endpoints: EndpointIntent[]): Intent {
  const net = (tenant: string, id: number) => ({
    tenant,
    name: 'n1',
    id,
    encap: 'vxlan' as const,
    pktTag: 5000 + id,
    subnet: '10.1.0.0/16',
    gateway: '',
  });
  return {
    global: { fwdMode: 'bridge', arpMode: 'proxy', pvtSubnet: '172.19.0.0/16' },
    tenants: [
      { name: 't1', id: 1 },
      { name: 't2', id: 2 },
    ],
    networks: [net('t1', 10), net('t2', 20)],
    groups: [],
    policies: [],
    netProfiles: [],
    endpoints,
    hosts: [{ name: 'h1', vtepIP: '192.0.2.1' }],
    services,
  };
}

const bucketIps = (
  c: { groups: { groupId: number; buckets: { actions: { type: string; value?: unknown }[] }[] }[] },
  id: number,
) =>
  c.groups
    .find((g) => g.groupId === id)
    ?.buckets.map((b) => b.actions.find((a) => a.type === 'setField')?.value);

test("a service's buckets are the tenant's endpoints holding every selector", () => {
  const intent = world(
    [service('web', 1, '10.1.9.1', { app: 'web', tier: 'a' })],
    [
      ep('a', '10.1.0.1', { app: 'web', tier: 'a', extra: 'x' }),
      ep('b', '10.1.0.2', { app: 'web' }),
      ep('c', '10.1.0.3', { app: 'web', tier: 'a' }),
      ep('d', '10.1.0.4', { app: 'web', tier: 'a' }, 't2'),
    ],
  );
  const state = compile(intent, facts, features);
  assert.deepEqual(bucketIps(state, serviceGroup(1, 0)), ['10.1.0.1', '10.1.0.3']);
  assert.deepEqual(bucketIps(state, serviceGroup(1, 1)), ['10.1.0.1', '10.1.0.3']);
  // No selectors: no providers, and the group still exists (new connections are dropped).
  const none = compile(world([service('x', 2, '10.1.9.2', {})], intent.endpoints), facts, features);
  assert.deepEqual(bucketIps(none, serviceGroup(2, 0)), []);
});

test('deltas of label, selector and delete changes equal a full compile', () => {
  const eps = [
    ep('a', '10.1.0.1', { app: 'web' }),
    ep('b', '10.1.0.2', {}),
    ep('c', '10.1.0.3', { app: 'db' }),
  ];
  const intent = world([service('web', 1, '10.1.9.1', { app: 'web' })], eps);
  const comp = new Compilation(structuredClone(intent), facts, features);
  const sw = new DeltaSwitch(comp.state());
  const steps: [Change, (ix: IntentIndex) => unknown, (i: Intent) => void][] = [
    [
      { kind: 'endpoint', id: 'b' },
      (ix) => ix.putEndpoint(ep('b', '10.1.0.2', { app: 'web' })),
      (i) => {
        i.endpoints[1] = ep('b', '10.1.0.2', { app: 'web' });
      },
    ],
    [
      { kind: 'service', key: 't1/web' },
      (ix) => ix.putService(service('web', 1, '10.1.9.1', { app: 'db' })),
      (i) => {
        i.services = [service('web', 1, '10.1.9.1', { app: 'db' })];
      },
    ],
    [
      { kind: 'endpoint', id: 'c' },
      (ix) => ix.deleteEndpoint('c'),
      (i) => {
        i.endpoints = i.endpoints.filter((e) => e.id !== 'c');
      },
    ],
    [
      { kind: 'service', key: 't1/api' },
      (ix) => ix.putService(service('api', 2, '10.1.9.2', { app: 'web' })),
      (i) => {
        i.services = [...(i.services ?? []), service('api', 2, '10.1.9.2', { app: 'web' })];
      },
    ],
    [
      { kind: 'service', key: 't1/web' },
      (ix) => ix.deleteService('t1/web'),
      (i) => {
        i.services = (i.services ?? []).filter((v) => v.name !== 'web');
      },
    ],
  ];
  for (const [change, mutate, edit] of steps) {
    sw.apply(comp.change(change, mutate));
    edit(intent);
    const full = stateText(compile(intent, facts, features));
    assert.deepEqual(sw.text(), full, JSON.stringify(change));
    assert.deepEqual(stateText(comp.state()), full, JSON.stringify(change));
  }
});

test('one provider added among 1,000 services: its two groups and five flows', () => {
  const services: ServiceIntent[] = [];
  const eps: EndpointIntent[] = [];
  for (let i = 1; i <= 1000; i++) {
    const vip = `10.1.${100 + Math.floor(i / 250)}.${i % 250}`;
    services.push(service(`s${i}`, i, vip, { app: `s${i}` }));
    eps.push(ep(`e${i}`, `10.1.${10 + Math.floor(i / 250)}.${i % 250}`, { app: `s${i}` }));
  }
  const comp = new Compilation(world(services, eps), facts, features);
  const added = ep('new', '10.1.50.1', { app: 's500' });
  const svcFlows = () =>
    new Set(
      stateText({ ...comp.state(), flows: comp.state().flows.filter((f) => f.cookie >> 56n === 9n) }).flows,
    );
  const before = svcFlows();
  const d = comp.change({ kind: 'endpoint', id: 'new' }, (ix) => ix.putEndpoint(added));
  // The service's own new flows: the provider's MAC flow, and reply un-NAT + commit for each of its
  // two ports (the service's unchanged flows are re-sent, which the switch manager drops).
  const added5 = [...svcFlows()].filter((f) => !before.has(f));
  assert.equal(added5.length, 5, 'service flows added');
  assert.ok(d.owners <= 12, `owners recomputed: ${d.owners}`);
  assert.equal(d.removeFlows.length, 0);
  assert.deepEqual(
    d.putGroups
      .map((g) => g.groupId)
      .filter((id) => id >= 0x3000_0000)
      .sort(),
    [serviceGroup(500, 0), serviceGroup(500, 1)].sort(),
  );
});
