// The forwarding features of the pipeline with real packets: containers (netns) on a private OVS
// whose flows and groups come from compile() through our controller (FlowTableManager over the
// bridge's management socket). Bridge mode on one host: reach within a network, none across
// networks, spoofed MAC/IP dropped, ARP answered by the datapath (proxy) or flooded (flood).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';
import { applyDelta, applyState, forwardingFeatures } from '../../datapath/pipeline/index.js';
import { Compilation, compile } from '../../policy/compiler/compile.js';
import type { Change } from '../../policy/compiler/diff.js';
import { hostFactsChange } from '../../policy/compiler/diff.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import type { EndpointIntent, HostFacts, Intent } from '../../policy/compiler/intent.js';
import { macFromIPv4 as macOf } from '../../policy/ipam/addr.js';
import { startCapture } from '../harness/capture.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { joinHostBridges } from '../harness/host-bridges.js';
import { type Host, startHosts } from '../harness/hosts.js';
import { addContainer, type Container } from '../harness/netns.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS, 'tcpdump');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

function endpoint(id: string, network: string, ip: string, host: string, group = ''): EndpointIntent {
  return { id, tenant: 't1', network, group, ip, mac: macOf(ip), host };
}

/** One tenant, two networks (10.1.1.0/24 and 10.1.2.0/24), groups g1 (n1) and g2 (n2). */
function baseIntent(endpoints: EndpointIntent[], encap: 'vxlan' | 'vlan' = 'vxlan'): Intent {
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
      {
        tenant: 't1',
        name: 'n2',
        id: 12,
        encap,
        pktTag: encap === 'vxlan' ? 5012 : 112,
        subnet: '10.1.2.0/24',
        gateway: '10.1.2.254',
      },
    ],
    groups: [
      { tenant: 't1', name: 'g1', network: 'n1', id: 21, policies: [], netProfile: '' },
      { tenant: 't1', name: 'g2', network: 'n2', id: 22, policies: [], netProfile: '' },
    ],
    policies: [],
    netProfiles: [],
    endpoints,
    hosts: [],
  };
}

/** Counts of packets of the flows whose dump line matches `re`. */
async function packets(ovs: OvsInstance, br: string, re: RegExp): Promise<number> {
  const out = await ovs.ofctl('dump-flows', ovs.mgmt(br));
  let n = 0;
  for (const line of out.split('\n')) {
    if (re.test(line)) n += Number(/n_packets=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return n;
}

/** Whether the count grows past `from` within 3 s (the userspace datapath reports flow stats late). */
async function grows(ovs: OvsInstance, br: string, re: RegExp, from: number): Promise<boolean> {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    if ((await packets(ovs, br, re)) > from) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('pipeline forwarding, one host, bridge mode', { skip }, () => {
  let ovs: OvsInstance;
  let br: string;
  let conn: SwitchConnection;
  const manager = new FlowTableManager();
  let comp: Compilation;
  let a1: Container;
  let a2: Container;
  let a3: Container;
  let b1: Container;

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    ovs = await startOvs();
    br = await ovs.addBridge();
    // /16 on every container: hosts of the other network are "on link", so nothing but our flows
    // keeps n1 and n2 apart.
    const mk = (name: string, ip: string, ofport: number) =>
      addContainer(ovs, br, { name, ip: `${ip}/16`, mac: macOf(ip), ofport });
    a1 = await mk('a1', '10.1.1.1', 1);
    a2 = await mk('a2', '10.1.1.2', 2);
    a3 = await mk('a3', '10.1.1.3', 3);
    b1 = await mk('b1', '10.1.2.1', 4);
    const eps = [
      endpoint('a1', 'n1', a1.ip, 'h1', 'g1'),
      endpoint('a2', 'n1', a2.ip, 'h1', 'g1'),
      endpoint('a3', 'n1', a3.ip, 'h1'),
      endpoint('b1', 'n2', b1.ip, 'h1', 'g2'),
    ];
    const facts: HostFacts = {
      name: 'h1',
      endpointPorts: new Map([
        ['a1', a1.ofport],
        ['a2', a2.ofport],
        ['a3', a3.ofport],
        ['b1', b1.ofport],
      ]),
      tunnelPorts: new Map(),
    };
    comp = new Compilation(baseIntent(eps), facts, forwardingFeatures);
    conn = await connectSwitch(ovs.mgmt(br));
    onCleanup(() => conn.close(), { label: 'switch connection' });
    await manager.attach(conn);
    await applyState(manager, comp.state());
  });
  after(runCleanups);

  test('endpoints of one network ping and connect over TCP', async () => {
    assert.ok(await a1.ping(a2.ip, { timeoutSec: 5 }), 'a1 → a2');
    assert.ok(await a3.ping(a1.ip, { timeoutSec: 5 }), 'a3 → a1');
    const l = await a2.tcpListen(8080);
    assert.ok(await a1.tcpConnect(a2.ip, 8080, 3000), 'TCP a1 → a2:8080');
    await l.stop();
  });

  test('networks are apart in bridge mode, even with the peer MAC known', async () => {
    assert.equal(await a1.ping(b1.ip, { timeoutSec: 1 }), false, 'a1 → b1 (ARP unanswered)');
    await a1.exec('ip', ['neigh', 'replace', b1.ip, 'lladdr', b1.mac, 'dev', 'eth0']);
    await b1.exec('ip', ['neigh', 'replace', a1.ip, 'lladdr', a1.mac, 'dev', 'eth0']);
    assert.equal(await a1.ping(b1.ip, { timeoutSec: 1 }), false, 'a1 → b1 with a static neighbour');
    const l = await b1.tcpListen(8081);
    assert.equal(await a1.tcpConnect(b1.ip, 8081, 1000), false, 'TCP a1 → b1');
    await l.stop();
  });

  test('spoofed source IP or MAC is dropped at the port', async () => {
    const guard = new RegExp(`table=0,.*priority=100,in_port=${a1.ofport} `);
    const dropped = await packets(ovs, br, guard);
    // Another address on a1, and a neighbour entry so a2 need not answer an ARP.
    await a1.exec('ip', ['addr', 'add', '10.1.1.50/16', 'dev', 'eth0']);
    try {
      await a1.exec('ip', ['neigh', 'replace', a2.ip, 'lladdr', a2.mac, 'dev', 'eth0']);
      assert.equal(
        await a1.exec('ping', ['-c1', '-W1', '-I', '10.1.1.50', a2.ip]).then(
          () => true,
          () => false,
        ),
        false,
      );
    } finally {
      await a1.exec('ip', ['addr', 'del', '10.1.1.50/16', 'dev', 'eth0']);
      await a1.exec('ip', ['neigh', 'del', a2.ip, 'dev', 'eth0']);
    }
    assert.ok(await grows(ovs, br, guard, dropped), 'the spoof guard counted the spoofed packet');

    await a1.exec('ip', ['link', 'set', 'eth0', 'address', '02:02:0a:01:01:63']);
    try {
      assert.equal(await a1.ping(a2.ip, { timeoutSec: 1 }), false, 'a1 with a foreign MAC');
    } finally {
      await a1.exec('ip', ['link', 'set', 'eth0', 'address', a1.mac]);
    }
    assert.ok(await a1.ping(a2.ip, { timeoutSec: 5 }), 'a1 → a2 with its own MAC again');
  });

  test('proxy ARP: the datapath answers, the peer never sees the request', async () => {
    await a1.exec('ip', ['neigh', 'flush', 'dev', 'eth0']);
    await a2.exec('ip', ['neigh', 'flush', 'dev', 'eth0']);
    const proxy = new RegExp(`table=20,.*arp_tpa=${a2.ip.replaceAll('.', '\\.')}[, ]`);
    const answered = await packets(ovs, br, proxy);
    const cap = await startCapture(a2.name, 'eth0', ['arp']);
    assert.ok(await a1.ping(a2.ip, { timeoutSec: 5 }), 'a1 → a2');
    const lines = await cap.stop();
    assert.ok(await grows(ovs, br, proxy, answered), 'the proxy flow for a2 answered');
    assert.equal(lines.filter((l) => l.includes(`tell ${a1.ip}`)).length, 0, lines.join('\n'));
    const neigh = await a1.exec('ip', ['neigh', 'show', a2.ip]);
    assert.match(neigh, new RegExp(a2.mac), 'a1 learnt a2 MAC from the datapath');
  });

  test('an endpoint joins and leaves at runtime; the switch then holds exactly a full compile', async () => {
    const d1 = await addContainer(ovs, br, {
      name: 'd1',
      ip: '10.1.1.9/16',
      mac: macOf('10.1.1.9'),
      ofport: 9,
    });
    const ep = endpoint('d1', 'n1', d1.ip, 'h1', 'g1');
    const facts = (ports: ReadonlyMap<string, number>) =>
      hostFactsChange({ ...comp.ix.host, endpointPorts: ports });
    const withD1 = new Map(comp.ix.host.endpointPorts).set('d1', d1.ofport);
    const steps = [
      comp.change({ kind: 'endpoint', id: 'd1' }, (ix) => ix.putEndpoint(ep)),
      (() => {
        const f = facts(withD1);
        return comp.change(f.change, f.mutate);
      })(),
    ];
    for (const d of steps) await applyDelta(manager, d);
    assert.ok(await d1.ping(a2.ip, { timeoutSec: 5 }), 'd1 → a2 once its flows are in');
    assert.ok(await a1.ping(d1.ip, { timeoutSec: 5 }), 'a1 → d1');

    await d1.destroy();
    const without = new Map(withD1);
    without.delete('d1');
    const f = facts(without);
    await applyDelta(
      manager,
      comp.change({ kind: 'endpoint', id: 'd1' }, (ix) => ix.deleteEndpoint('d1')),
    );
    await applyDelta(manager, comp.change(f.change, f.mutate));
    const lines = await ovs.dumpFlows(br);
    assert.equal(lines.filter((l) => l.includes('10.1.1.9')).length, 0, 'no flow names d1 any more');

    // A second controller with the full compile as desired state finds nothing to change.
    const full = compile(comp.ix.intent(), comp.ix.host, forwardingFeatures);
    const conn2 = await connectSwitch(ovs.mgmt(br));
    try {
      const fresh = new FlowTableManager();
      fresh.setFlows(full.flows);
      fresh.setGroups(full.groups);
      const stats = await fresh.attach(conn2);
      assert.deepEqual(
        [stats.flowsAdded, stats.flowsModified, stats.flowsDeleted, stats.groupsChanged],
        [0, 0, 0, 0],
      );
    } finally {
      conn2.close();
    }
  });

  test('flood mode: ARP requests reach the peers, which answer', async () => {
    const delta = comp.change({ kind: 'global' }, (ix) => {
      const old = ix.global;
      ix.global = { ...old, arpMode: 'flood' };
      return old;
    });
    await applyDelta(manager, delta);
    try {
      await a1.exec('ip', ['neigh', 'flush', 'dev', 'eth0']);
      const cap2 = await startCapture(a2.name, 'eth0', ['arp']);
      const cap3 = await startCapture(a3.name, 'eth0', ['arp']);
      const capB = await startCapture(b1.name, 'eth0', ['arp']);
      assert.ok(await a1.ping(a2.ip, { timeoutSec: 5 }), 'a1 → a2 with flooded ARP');
      const [l2, l3, lb] = await Promise.all([cap2.stop(), cap3.stop(), capB.stop()]);

      const req = (l: string) => l.includes(`who-has ${a2.ip} tell ${a1.ip}`);
      assert.ok(l2.some(req), `a2 saw the request:\n${l2.join('\n')}`);
      assert.ok(l3.some(req), `a3 (same network) saw the flood:\n${l3.join('\n')}`);
      assert.ok(!lb.some(req), `b1 (other network) saw no flood:\n${lb.join('\n')}`);
    } finally {
      const back = comp.change({ kind: 'global' }, (ix) => {
        const old = ix.global;
        ix.global = { ...old, arpMode: 'proxy' };
        return old;
      });
      await applyDelta(manager, back);
    }
  });
});

/** One host of a two-host lab: its OVS, our manager on its bridge, its compilation. */
interface LabHost {
  host: Host;
  manager: FlowTableManager;
  comp: Compilation;
}

const TUNNEL_PORT = 100;
const UPLINK_PORT = 200;

/**
 * Two hosts, containers a1 (n1) and c1 (n2) on h1, b1 (n1) and c2 (n2) on h2, every one with a
 * /24 and its network's gateway as default route; flows compiled per host and installed.
 */
async function twoHosts(encap: 'vxlan' | 'vlan') {
  const hosts = await startHosts(2);
  const [h1, h2] = hosts as [Host, Host];
  await joinHostBridges([h1, h2], encap, { tunnel: TUNNEL_PORT, uplink: UPLINK_PORT });
  const mk = (h: Host, name: string, ip: string, gateway: string, ofport: number) =>
    h.addContainer({ name, ip: `${ip}/24`, gateway, bridge: 'brint', ofport, mtu: 1450, mac: macOf(ip) });
  const a1 = await mk(h1, 'a1', '10.1.1.1', '10.1.1.254', 1);
  const c1 = await mk(h1, 'c1', '10.1.2.1', '10.1.2.254', 2);
  const b1 = await mk(h2, 'b1', '10.1.1.2', '10.1.1.254', 1);
  const c2 = await mk(h2, 'c2', '10.1.2.2', '10.1.2.254', 2);
  const eps = [
    endpoint('a1', 'n1', a1.ip, h1.name, 'g1'),
    endpoint('c1', 'n2', c1.ip, h1.name, 'g2'),
    endpoint('b1', 'n1', b1.ip, h2.name, 'g1'),
    endpoint('c2', 'n2', c2.ip, h2.name, 'g2'),
  ];
  const lab: LabHost[] = [];
  for (const [h, peer, local] of [
    [h1, h2, { a1, c1 }],
    [h2, h1, { b1, c2 }],
  ] as const) {
    const facts: HostFacts = {
      name: h.name,
      endpointPorts: new Map(Object.entries(local).map(([id, c]) => [id, c.ofport])),
      tunnelPorts: encap === 'vxlan' ? new Map([[peer.name, TUNNEL_PORT]]) : new Map(),
      ...(encap === 'vlan' ? { uplinkPort: UPLINK_PORT } : {}),
    };
    const comp = new Compilation(baseIntent(eps, encap), facts, forwardingFeatures);
    const conn = await connectSwitch(h.ovs.mgmt('brint'));
    onCleanup(() => conn.close(), { label: `switch connection ${h.name}` });
    const manager = new FlowTableManager();
    await manager.attach(conn);
    await applyState(manager, comp.state());
    lab.push({ host: h, manager, comp });
  }
  const containers = { a1, c1, b1, c2 };
  /** The same change on every host, each host's delta applied to its switch. */
  const change = async (c: Change, mutate: (ix: IntentIndex) => unknown) => {
    for (const l of lab) await applyDelta(l.manager, l.comp.change(c, mutate));
  };
  const flushNeighbours = () =>
    Promise.all(Object.values(containers).map((c) => c.exec('ip', ['neigh', 'flush', 'all'])));
  return { hosts: [h1, h2] as const, lab, containers, change, flushNeighbours };
}

/** The TTL of the echo reply from ip, undefined when none came. */
async function replyTtl(c: Container, ip: string): Promise<number | undefined> {
  const out = await c.exec('ping', ['-n', '-c1', '-W2', ip]).catch(() => '');
  const ttl = /ttl=(\d+)/.exec(out)?.[1];
  return ttl === undefined ? undefined : Number(ttl);
}

for (const encap of ['vxlan', 'vlan'] as const) {
  describe(`pipeline forwarding, two hosts, ${encap}`, { skip }, () => {
    let lab: Awaited<ReturnType<typeof twoHosts>>;

    before(async () => {
      if (missing.length > 0)
        throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
      lab = await twoHosts(encap);
    });
    after(runCleanups);

    test('bridge mode: one network reaches across hosts, the other network does not', async () => {
      const { a1, b1, c1, c2 } = lab.containers;
      const [h1] = lab.hosts;
      const wire = await startCapture(
        h1.netns,
        h1.underlayIf,
        encap === 'vxlan' ? ['udp', 'port', '4789'] : ['vlan'],
      );
      assert.ok(await a1.ping(b1.ip, { timeoutSec: 10 }), 'a1 → b1 (n1, across hosts)');
      assert.ok(await c2.ping(c1.ip, { timeoutSec: 10 }), 'c2 → c1 (n2, across hosts)');
      const l = await b1.tcpListen(8080);
      assert.ok(await a1.tcpConnect(b1.ip, 8080, 5000), 'TCP a1 → b1:8080');
      await l.stop();
      assert.equal(await a1.ping(c2.ip, { timeoutSec: 1 }), false, 'a1 → c2 (another network)');
      const lines = await wire.stop();
      if (encap === 'vxlan') {
        assert.ok(
          lines.some((x) => /vni 5011/.test(x)),
          `n1 crossed with VNI 5011:\n${lines.join('\n')}`,
        );
        assert.ok(
          lines.some((x) => /vni 5012/.test(x)),
          'n2 crossed with VNI 5012',
        );
      } else {
        assert.ok(
          lines.some((x) => /vlan 111,/.test(x)),
          `n1 crossed tagged 111:\n${lines.join('\n')}`,
        );
        assert.ok(
          lines.some((x) => /vlan 112,/.test(x)),
          'n2 crossed tagged 112',
        );
      }
    });

    test('flood mode: ARP crosses to the other host (flood group) and is answered there', async () => {
      const { a1, b1 } = lab.containers;
      const setArp = (arpMode: 'proxy' | 'flood') =>
        lab.change({ kind: 'global' }, (ix) => {
          const old = ix.global;
          ix.global = { ...old, arpMode };
          return old;
        });
      await setArp('flood');
      try {
        await lab.flushNeighbours();
        const cap = await startCapture(b1.name, 'eth0', ['arp']);
        assert.ok(await a1.ping(b1.ip, { timeoutSec: 10 }), 'a1 → b1 with flooded ARP');
        const lines = await cap.stop();
        assert.ok(
          lines.some((l) => l.includes(`who-has ${b1.ip} tell ${a1.ip}`)),
          `b1 saw a1's request:\n${lines.join('\n')}`,
        );
      } finally {
        await setArp('proxy');
      }
    });

    test('routing mode: subnets of the tenant reach each other through the gateway, TTL decremented', async () => {
      const { a1, b1, c1, c2 } = lab.containers;
      await lab.change({ kind: 'global' }, (ix) => {
        const old = ix.global;
        ix.global = { ...old, fwdMode: 'routing' };
        return old;
      });
      await lab.flushNeighbours();
      assert.ok(await a1.ping(c2.ip, { timeoutSec: 10 }), 'a1 → c2 (n1 → n2, across hosts)');
      // Linux answers with TTL 64: the reply's TTL shows the one routing hop on its way back.
      assert.equal(await replyTtl(a1, c2.ip), 63, 'a1 → c2: the reply was routed once');
      assert.equal(await replyTtl(c2, a1.ip), 63, 'c2 → a1: the reply was routed once');
      assert.ok(await a1.ping(c1.ip, { timeoutSec: 5 }), 'a1 → c1 (n1 → n2, same host)');
      assert.ok(await b1.ping(a1.ip, { timeoutSec: 5 }), 'b1 → a1 (n1, across hosts, routed)');
      const l = await c2.tcpListen(8443);
      assert.ok(await a1.tcpConnect(c2.ip, 8443, 5000), 'TCP a1 → c2:8443');
      await l.stop();
      assert.ok(await a1.ping('10.1.1.254', { timeoutSec: 3 }), 'the gateway answers ping');
      assert.ok(await c2.ping('10.1.2.254', { timeoutSec: 3 }), 'the gateway of n2 answers ping');
      // A destination the tenant does not know: out of the uplink in a1's network's VLAN (the
      // outside router is there), or nowhere with VXLAN.
      const [h1] = lab.hosts;
      const noRoute = /table=40,.*priority=10,.*reg6=0xb\/0xffff/;
      const before = await packets(h1.ovs, 'brint', noRoute);
      const wire = await startCapture(h1.netns, h1.underlayIf, ['icmp', 'or', '(vlan', 'and', 'icmp)']);
      assert.equal(await a1.ping('192.0.2.1', { timeoutSec: 1 }), false, 'nobody answers 192.0.2.1');
      const out = (await wire.stop()).filter((l) => l.includes('> 192.0.2.1'));
      assert.ok(
        await grows(h1.ovs, 'brint', noRoute, before),
        "the network's unknown-destination flow took it",
      );
      if (encap === 'vlan')
        assert.ok(
          out.some((l) => /vlan 111,/.test(l)),
          `left tagged 111:\n${out.join('\n')}`,
        );
      const neigh = await a1.exec('ip', ['neigh', 'show', '10.1.1.254']);
      assert.match(neigh, /00:00:11:11:11:11/, 'the gateway answers with the router MAC');
    });
  });
}
