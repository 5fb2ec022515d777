// Policy across two hosts (VXLAN and VLAN): "in" rules run on the destination's host, "out" rules
// on the source's, and a source group on another host is known by its address (the srcGroup
// table). Each host compiles the same intent for itself; rule changes go to both as deltas.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';
import { applyDelta, applyState, forwardingFeatures } from '../../datapath/pipeline/index.js';
import { policyFeature } from '../../datapath/pipeline/policy.js';
import { Compilation } from '../../policy/compiler/compile.js';
import type { EndpointIntent, HostFacts, Intent, RuleIntent } from '../../policy/compiler/intent.js';
import { macFromIPv4 as macOf } from '../../policy/ipam/addr.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { joinHostBridges } from '../harness/host-bridges.js';
import { type Host, startHosts } from '../harness/hosts.js';
import { rule } from '../harness/intents.js';
import type { Container } from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const TUNNEL_PORT = 100;
const UPLINK_PORT = 200;
const NO_MS = 1500;

const SEED_RULES: RuleIntent[] = [
  rule({ ruleId: '1', protocol: 6, action: 'deny' }),
  rule({ ruleId: '2', protocol: 6, port: 80, priority: 10 }),
  rule({ ruleId: '3', protocol: 6, port: 443, priority: 10 }),
  rule({ ruleId: '4', protocol: 6, port: 22, fromGroup: 'admin', priority: 20 }),
];

function intentOf(encap: 'vxlan' | 'vlan', endpoints: EndpointIntent[]): Intent {
  return {
    global: { fwdMode: 'bridge', arpMode: 'proxy', pvtSubnet: '172.19.0.0/16' },
    tenants: [{ name: 't1', id: 7 }],
    networks: [
      {
        tenant: 't1',
        name: 'n1',
        id: 11,
        encap,
        pktTag: encap === 'vxlan' ? 5011 : 111,
        subnet: '10.1.1.0/24',
        gateway: '10.1.1.254',
      },
    ],
    groups: [
      { tenant: 't1', name: 'web', network: 'n1', id: 21, policies: ['prod_web'], netProfile: '' },
      { tenant: 't1', name: 'client', network: 'n1', id: 22, policies: ['client_out'], netProfile: '' },
      { tenant: 't1', name: 'admin', network: 'n1', id: 23, policies: [], netProfile: '' },
    ],
    policies: [
      { tenant: 't1', name: 'prod_web', rules: SEED_RULES },
      {
        tenant: 't1',
        name: 'client_out',
        rules: [
          rule({ ruleId: '1', direction: 'out', protocol: 6, port: 443, toGroup: 'web', action: 'deny' }),
        ],
      },
    ],
    netProfiles: [],
    endpoints,
    hosts: [
      { name: 'h1', vtepIP: '' },
      { name: 'h2', vtepIP: '' },
    ],
  };
}

for (const encap of ['vxlan', 'vlan'] as const) {
  describe(`policy across two hosts, ${encap}`, { skip }, () => {
    const comps: { comp: Compilation; manager: FlowTableManager }[] = [];
    const c: Record<string, Container> = {};

    before(async () => {
      if (missing.length > 0)
        throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
      const [h1, h2] = (await startHosts(2)) as [Host, Host];
      await joinHostBridges([h1, h2], encap, { tunnel: TUNNEL_PORT, uplink: UPLINK_PORT });
      const place: [string, Host, string, string][] = [
        ['w1', h1, '10.1.1.10', 'web'],
        ['c1', h2, '10.1.1.20', 'client'],
        ['a1', h2, '10.1.1.30', 'admin'],
        ['w2', h2, '10.1.1.11', 'web'],
      ];
      const eps: EndpointIntent[] = [];
      const ports = new Map<string, Map<string, number>>([
        [h1.name, new Map()],
        [h2.name, new Map()],
      ]);
      for (const [name, h, ip, group] of place) {
        const ofport = ports.get(h.name)!.size + 1;
        c[name] = await h.addContainer({
          name,
          ip: `${ip}/24`,
          bridge: 'brint',
          ofport,
          mtu: 1450,
          mac: macOf(ip),
        });
        ports.get(h.name)!.set(name, ofport);
        eps.push({ id: name, tenant: 't1', network: 'n1', group, ip, mac: macOf(ip), host: h.name });
      }
      for (const [h, peer] of [
        [h1, h2],
        [h2, h1],
      ] as const) {
        const facts: HostFacts = {
          name: h.name,
          endpointPorts: ports.get(h.name)!,
          tunnelPorts: encap === 'vxlan' ? new Map([[peer.name, TUNNEL_PORT]]) : new Map(),
          ...(encap === 'vlan' ? { uplinkPort: UPLINK_PORT } : {}),
        };
        const intent = intentOf(encap, eps);
        intent.hosts = [
          { name: h1.name, vtepIP: h1.underlayIp },
          { name: h2.name, vtepIP: h2.underlayIp },
        ];
        const comp = new Compilation(intent, facts, [...forwardingFeatures, policyFeature]);
        const conn = await connectSwitch(h.ovs.mgmt('brint'));
        onCleanup(() => conn.close(), { label: `switch connection ${h.name}` });
        const manager = new FlowTableManager();
        await manager.attach(conn);
        await applyState(manager, comp.state());
        comps.push({ comp, manager });
      }
      for (const p of [22, 80, 443]) {
        await c.w1!.tcpListen(p);
        await c.w2!.tcpListen(p);
      }
      await c.c1!.tcpListen(22);
    });
    after(runCleanups);

    test('"in" rules at the destination host, the source group known by address', async () => {
      assert.ok(await c.c1!.tcpConnect('10.1.1.10', 80, 8000), 'client (h2) → web (h1):80');
      assert.equal(await c.c1!.tcpConnect('10.1.1.10', 22, NO_MS), false, 'client → web:22');
      assert.ok(await c.a1!.tcpConnect('10.1.1.10', 22, 5000), 'admin (h2) → web (h1):22 (fromGroup admin)');
      assert.ok(await c.w1!.tcpConnect('10.1.1.20', 22, 5000), 'web → client:22 (stateful replies)');
      assert.ok(await c.c1!.ping('10.1.1.10', { timeoutSec: 5 }), 'icmp is not restricted');
    });

    test('"out" rules at the source host', async () => {
      assert.equal(await c.c1!.tcpConnect('10.1.1.10', 443, NO_MS), false, 'client → web (h1):443, out deny');
      assert.equal(await c.c1!.tcpConnect('10.1.1.11', 443, NO_MS), false, 'client → web (h2):443, out deny');
      assert.ok(await c.a1!.tcpConnect('10.1.1.10', 443, 5000), 'admin → web:443');
    });

    test('a rule change reaches both hosts as deltas', async () => {
      const next = { tenant: 't1', name: 'client_out', rules: [] as RuleIntent[] };
      for (const { comp, manager } of comps) {
        await applyDelta(
          manager,
          comp.change({ kind: 'policy', key: 't1/client_out' }, (ix) => ix.putPolicy(next)),
        );
      }
      assert.ok(await c.c1!.tcpConnect('10.1.1.10', 443, 5000), 'client → web:443 once the out rule is gone');
      const web = {
        tenant: 't1',
        name: 'prod_web',
        rules: [...SEED_RULES, rule({ ruleId: '5', protocol: 1, action: 'deny', priority: 5 })],
      };
      for (const { comp, manager } of comps) {
        await applyDelta(
          manager,
          comp.change({ kind: 'policy', key: 't1/prod_web' }, (ix) => ix.putPolicy(web)),
        );
      }
      assert.equal(await c.c1!.ping('10.1.1.10', { timeoutSec: 1 }), false, 'client → web icmp denied at h1');
      assert.ok(await c.w1!.ping('10.1.1.20', { timeoutSec: 5 }), 'web → client icmp (replies established)');
    });
    test('routing mode: the same rules hold', async () => {
      for (const { comp, manager } of comps) {
        const delta = comp.change({ kind: 'global' }, (ix) => {
          const old = ix.global;
          ix.global = { ...old, fwdMode: 'routing' };
          return old;
        });
        await applyDelta(manager, delta);
      }
      await Promise.all(Object.values(c).map((x) => x.exec('ip', ['neigh', 'flush', 'all'])));
      assert.ok(await c.c1!.tcpConnect('10.1.1.10', 80, 8000), 'client → web:80, routed');
      assert.equal(await c.c1!.tcpConnect('10.1.1.10', 22, NO_MS), false, 'client → web:22');
      assert.ok(await c.a1!.tcpConnect('10.1.1.10', 22, 5000), 'admin → web:22 (fromGroup admin)');
      assert.equal(await c.c1!.ping('10.1.1.10', { timeoutSec: 1 }), false, 'client → web icmp denied');
      assert.ok(await c.w1!.ping('10.1.1.20', { timeoutSec: 5 }), 'web → client icmp');
      // Linux answers with TTL 64: 63 shows the reply was routed (not bridged).
      const out = await c.w1!.exec('ping', ['-n', '-c1', '-W2', '10.1.1.20']);
      assert.match(out, /ttl=63/, out);
    });
  });
}
