import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diffIntent } from '../../policy/compiler/diff.js';
import { IntentIndex } from '../../policy/compiler/index-intent.js';
import type { HostFacts, Intent } from '../../policy/compiler/intent.js';

const HOST: HostFacts = { name: 'h1', endpointPorts: new Map(), tunnelPorts: new Map() };

function base(): Intent {
  return {
    global: { fwdMode: 'bridge', arpMode: 'proxy', pvtSubnet: '172.19.0.0/16' },
    tenants: [{ name: 'default', id: 1 }],
    networks: [
      {
        tenant: 'default',
        name: 'n1',
        id: 10,
        encap: 'vxlan',
        pktTag: 1001,
        subnet: '10.1.0.0/24',
        gateway: '',
      },
    ],
    groups: [{ tenant: 'default', name: 'web', network: 'n1', id: 1, policies: ['p'], netProfile: '' }],
    policies: [{ tenant: 'default', name: 'p', rules: [] }],
    netProfiles: [],
    endpoints: [
      {
        id: 'e1',
        tenant: 'default',
        network: 'n1',
        group: 'web',
        ip: '10.1.0.1',
        mac: '02:02:0a:01:00:01',
        host: 'h1',
      },
    ],
    hosts: [{ name: 'h1', vtepIP: '192.168.50.1' }],
  };
}

/** The index's content, comparable. */
function snapshot(ix: IntentIndex): unknown {
  const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    global: ix.global,
    tenants: sorted(ix.tenants),
    networks: sorted(ix.networks),
    groups: sorted(ix.groups),
    policies: sorted(ix.policies),
    netProfiles: sorted(ix.netProfiles),
    endpoints: sorted(ix.endpoints),
    hosts: sorted(ix.hosts),
    web: [...ix.endpointsOfGroup('default/web')].sort(),
    withP: [...ix.groupsWithPolicy('default/p')].sort(),
  };
}

describe('intent diff', () => {
  test('no changes between equal intents', () => {
    assert.deepEqual(diffIntent(base(), base()), []);
  });

  test('applying the changes to the old index gives the new one', () => {
    const prev = base();
    const next = base();
    next.global = { ...next.global, arpMode: 'flood' };
    next.tenants.push({ name: 'blue', id: 2 });
    next.networks.push({
      tenant: 'blue',
      name: 'n1',
      id: 11,
      encap: 'vlan',
      pktTag: 11,
      subnet: '10.1.0.0/24',
      gateway: '10.1.0.254',
    });
    next.groups = [{ tenant: 'default', name: 'db', network: 'n1', id: 2, policies: ['p'], netProfile: '' }];
    next.endpoints = [
      {
        id: 'e2',
        tenant: 'blue',
        network: 'n1',
        group: '',
        ip: '10.1.0.1',
        mac: '02:02:0a:01:00:01',
        host: 'h2',
      },
    ];
    next.hosts.push({ name: 'h2', vtepIP: '192.168.50.2' });
    const changes = diffIntent(prev, next);
    const kinds = changes.map((c) => c.change.kind);
    assert.deepEqual(kinds, [
      'global',
      'tenant',
      'network',
      'group',
      'host',
      'endpoint',
      'endpoint',
      'group',
    ]);
    const ix = new IntentIndex(prev, HOST);
    for (const c of changes) c.mutate(ix);
    assert.deepEqual(snapshot(ix), snapshot(new IntentIndex(next, HOST)));
  });

  test('a mutation returns what it replaced', () => {
    const prev = base();
    const next = base();
    next.endpoints = [];
    const [only] = diffIntent(prev, next);
    assert.deepEqual(only?.change, { kind: 'endpoint', id: 'e1' });
    const ix = new IntentIndex(prev, HOST);
    assert.deepEqual(only?.mutate(ix), prev.endpoints[0]);
  });
});
