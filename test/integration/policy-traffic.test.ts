// Policy with real packets: containers (netns) on a private OVS whose flows come from the
// forwarding features and the policy compiler, installed by our controller. The seed policy
// (prod_web: deny tcp in, allow tcp 80 and 443 at priority 10), stateful replies, icmp, group,
// network and address peers, out rules, priorities, rules added and removed at runtime
// (Compilation.change + applyDelta), and an established connection outliving rule changes.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';
import { applyDelta, applyState, forwardingFeatures } from '../../datapath/pipeline/index.js';
import { policyFeature } from '../../datapath/pipeline/policy.js';
import { Compilation } from '../../policy/compiler/compile.js';
import type {
  EndpointIntent,
  HostFacts,
  Intent,
  PolicyIntent,
  RuleIntent,
} from '../../policy/compiler/intent.js';
import { macFromIPv4 as macOf } from '../../policy/ipam/addr.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { rule } from '../harness/intents.js';
import { addContainer, type Container, type Listener } from '../harness/netns.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const NO_MS = 1200;

const SEED_RULES: RuleIntent[] = [
  rule({ ruleId: '1', protocol: 6, action: 'deny' }),
  rule({ ruleId: '2', protocol: 6, port: 80, priority: 10 }),
  rule({ ruleId: '3', protocol: 6, port: 443, priority: 10 }),
];

const IPS = { w1: '10.1.1.10', c1: '10.1.1.20', c2: '10.1.1.21', f1: '10.1.1.30', d1: '10.1.1.40' };
const GROUP_OF: Record<keyof typeof IPS, string> = {
  w1: 'web',
  c1: 'client',
  c2: 'client2',
  f1: '',
  d1: 'db',
};

function intentOf(endpoints: EndpointIntent[]): Intent {
  return {
    global: { fwdMode: 'bridge', arpMode: 'proxy', pvtSubnet: '172.19.0.0/16' },
    tenants: [{ name: 't1', id: 7 }],
    networks: [
      {
        tenant: 't1',
        name: 'n1',
        id: 11,
        encap: 'vxlan',
        pktTag: 5011,
        subnet: '10.1.1.0/24',
        gateway: '10.1.1.254',
      },
    ],
    groups: [
      { tenant: 't1', name: 'web', network: 'n1', id: 21, policies: ['prod_web'], netProfile: '' },
      { tenant: 't1', name: 'client', network: 'n1', id: 22, policies: [], netProfile: '' },
      { tenant: 't1', name: 'client2', network: 'n1', id: 23, policies: [], netProfile: '' },
      { tenant: 't1', name: 'db', network: 'n1', id: 24, policies: ['db_out'], netProfile: '' },
    ],
    policies: [
      { tenant: 't1', name: 'prod_web', rules: SEED_RULES },
      { tenant: 't1', name: 'db_out', rules: [] },
    ],
    netProfiles: [],
    endpoints,
    hosts: [{ name: 'h1', vtepIP: '192.168.0.1' }],
  };
}

/** A TCP client kept open (nc with stdin from us), to prove an established connection survives. */
class LongConnection {
  private readonly child: ChildProcess;
  private exited = false;

  constructor(netns: string, ip: string, port: number) {
    this.child = spawn('ip', ['netns', 'exec', netns, 'nc', '-n', ip, String(port)], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    this.child.on('exit', () => {
      this.exited = true;
    });
    onCleanup(() => this.close(), { label: `nc to ${ip}:${port}` });
  }

  get alive(): boolean {
    return !this.exited;
  }

  send(text: string): void {
    this.child.stdin?.write(text);
  }

  close(): void {
    if (!this.exited) this.child.kill('SIGTERM');
  }
}

async function received(l: Listener, text: string, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (l.received().includes(text)) return true;
    await sleep(50);
  }
  return false;
}

describe('policy with real packets, one host, bridge mode', { skip }, () => {
  let ovs: OvsInstance;
  let br: string;
  let conn: SwitchConnection;
  const manager = new FlowTableManager();
  let comp: Compilation;
  const c: Record<string, Container> = {};
  const listeners: Listener[] = [];

  /** Replaces a policy's rules at runtime: one incremental change, one bundle. */
  async function setRules(policy: string, rules: RuleIntent[]): Promise<void> {
    const key = `t1/${policy}`;
    const next: PolicyIntent = { tenant: 't1', name: policy, rules };
    const delta = comp.change({ kind: 'policy', key }, (ix) => ix.putPolicy(next));
    await applyDelta(manager, delta);
  }

  const connects = (from: string, to: string, port: number, ms = 3000) =>
    c[from]!.tcpConnect(IPS[to as keyof typeof IPS], port, ms);

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    ovs = await startOvs();
    br = await ovs.addBridge();
    let port = 1;
    const eps: EndpointIntent[] = [];
    const ports = new Map<string, number>();
    for (const [name, ip] of Object.entries(IPS)) {
      c[name] = await addContainer(ovs, br, { name, ip: `${ip}/24`, mac: macOf(ip), ofport: port });
      ports.set(name, port++);
      eps.push({
        id: name,
        tenant: 't1',
        network: 'n1',
        group: GROUP_OF[name as keyof typeof IPS],
        ip,
        mac: macOf(ip),
        host: 'h1',
      });
    }
    const facts: HostFacts = { name: 'h1', endpointPorts: ports, tunnelPorts: new Map() };
    comp = new Compilation(intentOf(eps), facts, [...forwardingFeatures, policyFeature]);
    conn = await connectSwitch(ovs.mgmt(br));
    onCleanup(() => conn.close(), { label: 'switch connection' });
    await manager.attach(conn);
    await applyState(manager, comp.state());
    for (const p of [22, 80, 443, 8080]) listeners.push(await c.w1!.tcpListen(p));
    for (const name of ['c1', 'c2', 'f1']) listeners.push(await c[name]!.tcpListen(22));
  });
  after(runCleanups);

  test('the seed policy: tcp 80 and 443 connect to prod_web, 22 does not', async () => {
    for (const from of ['c1', 'f1', 'd1']) {
      assert.ok(await connects(from, 'w1', 80), `${from} → web:80`);
      assert.ok(await connects(from, 'w1', 443), `${from} → web:443`);
      assert.equal(await connects(from, 'w1', 22, NO_MS), false, `${from} → web:22`);
    }
    // Groups without policy are unrestricted.
    assert.ok(await connects('w1', 'c1', 22), 'web → client:22');
  });

  test('stateful: the member opens connections and their replies come back; ping both ways', async () => {
    assert.ok(await connects('w1', 'f1', 22), 'web → f1:22 (replies pass despite "deny tcp in")');
    assert.ok(await c.c1!.ping(IPS.w1, { timeoutSec: 3 }), 'client → web icmp (no icmp rule)');
    assert.ok(await c.w1!.ping(IPS.c1, { timeoutSec: 3 }), 'web → client icmp');
  });

  test('icmp per rules, and priorities: a rule added at runtime overrides a lower one', async () => {
    await setRules('prod_web', [
      ...SEED_RULES,
      rule({ ruleId: '4', protocol: 1, action: 'deny', priority: 5 }),
    ]);
    assert.equal(await c.c1!.ping(IPS.w1, { timeoutSec: 1 }), false, 'client → web icmp denied');
    assert.ok(
      await c.w1!.ping(IPS.c1, { timeoutSec: 3 }),
      'web → client icmp (echo replies are established)',
    );
    // Allow icmp from client2 above the deny.
    await setRules('prod_web', [
      ...SEED_RULES,
      rule({ ruleId: '4', protocol: 1, action: 'deny', priority: 5 }),
      rule({ ruleId: '5', protocol: 1, fromGroup: 'client2', priority: 6 }),
    ]);
    assert.ok(await c.c2!.ping(IPS.w1, { timeoutSec: 3 }), 'client2 → web icmp allowed at priority 6');
    assert.equal(await c.c1!.ping(IPS.w1, { timeoutSec: 1 }), false, 'client → web still denied');
    // At equal priority deny wins.
    await setRules('prod_web', [
      ...SEED_RULES,
      rule({ ruleId: '4', protocol: 1, action: 'deny', priority: 6 }),
      rule({ ruleId: '5', protocol: 1, fromGroup: 'client2', priority: 6 }),
    ]);
    assert.equal(await c.c2!.ping(IPS.w1, { timeoutSec: 1 }), false, 'deny wins a tie');
    await setRules('prod_web', SEED_RULES);
    assert.ok(await c.c1!.ping(IPS.w1, { timeoutSec: 3 }), 'rule removed: icmp passes again');
  });

  test('group, network and address peers', async () => {
    await setRules('prod_web', [
      ...SEED_RULES,
      rule({ ruleId: 'g', protocol: 6, port: 22, fromGroup: 'client2', priority: 20 }),
      rule({ ruleId: 'ip', protocol: 6, port: 8080, fromIp: '10.1.1.16-23', priority: 20 }),
      rule({ ruleId: 'net', protocol: 6, port: 443, fromNetwork: 'n1', action: 'deny', priority: 50 }),
    ]);
    assert.ok(await connects('c2', 'w1', 22), 'client2 → web:22 (from group)');
    assert.equal(await connects('c1', 'w1', 22, NO_MS), false, 'client → web:22');
    assert.ok(await connects('c1', 'w1', 8080), 'client (10.1.1.20 in 16-23) → web:8080');
    assert.equal(await connects('f1', 'w1', 8080, NO_MS), false, 'f1 (10.1.1.30) → web:8080');
    assert.equal(await connects('c1', 'w1', 443, NO_MS), false, 'n1 → web:443 denied at priority 50');
    assert.ok(await connects('c1', 'w1', 80), 'client → web:80 still');
    await setRules('prod_web', SEED_RULES);
    assert.ok(await connects('c1', 'w1', 443), 'rules removed: client → web:443 again');
  });

  test('out rules are checked at the source', async () => {
    await setRules('db_out', [
      rule({ ruleId: '1', direction: 'out', protocol: 6, action: 'deny' }),
      rule({ ruleId: '2', direction: 'out', protocol: 6, port: 443, toGroup: 'web', priority: 10 }),
      rule({ ruleId: '3', direction: 'out', protocol: 6, port: 22, toIp: '10.1.1.30', priority: 10 }),
    ]);
    assert.equal(await connects('d1', 'w1', 80, NO_MS), false, 'db → web:80 (out deny tcp)');
    assert.ok(await connects('d1', 'w1', 443), 'db → web:443 (out allow to group web)');
    assert.ok(await connects('d1', 'f1', 22), 'db → f1:22 (out allow to ip)');
    assert.equal(await connects('d1', 'c1', 22, NO_MS), false, 'db → client:22');
    assert.ok(await connects('c1', 'w1', 80), 'others are not affected');
    await setRules('db_out', []);
    assert.ok(await connects('d1', 'w1', 80), 'db_out emptied: db → web:80');
  });

  test('an established allowed connection survives rule changes', async () => {
    const l80 = listeners[1]!;
    const long = new LongConnection(c.c1!.name, IPS.w1, 80);
    long.send('hello-1\n');
    assert.ok(await received(l80, 'hello-1'), 'first line arrives');
    // An unrelated rule, then one that denies new tcp 80 connections from client.
    await setRules('prod_web', [...SEED_RULES, rule({ ruleId: 'u', protocol: 17, port: 53, priority: 3 })]);
    long.send('hello-2\n');
    assert.ok(await received(l80, 'hello-2'), 'after an unrelated rule change');
    await setRules('prod_web', [
      ...SEED_RULES,
      rule({ ruleId: 'x', protocol: 6, port: 80, fromGroup: 'client', action: 'deny', priority: 90 }),
    ]);
    assert.equal(
      await connects('c1', 'w1', 80, NO_MS),
      false,
      'new connections from client to 80 are denied now',
    );
    long.send('hello-3\n');
    assert.ok(await received(l80, 'hello-3'), 'the established connection still carries data');
    assert.ok(long.alive);
    long.close();
    await setRules('prod_web', SEED_RULES);
  });
});
