// Service load balancing through real OVS on two hosts (VXLAN and VLAN, bridge and routing mode):
// connections to a serviceLB's VIP spread over every provider the selectors pick (on both hosts),
// TCP and UDP, the provider's port translated and its replies coming back from the VIP; policy
// applies to the provider's group and port; a connection stays on its provider while another is
// removed and ends only when its own goes; selector and label changes move the provider set. Each
// host compiles the same intent for itself, changes go to both as deltas.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';
import { applyDelta, applyState, forwardingFeatures } from '../../datapath/pipeline/index.js';
import { policyFeature } from '../../datapath/pipeline/policy.js';
import { serviceFeature } from '../../datapath/pipeline/service.js';
import { Compilation } from '../../policy/compiler/compile.js';
import type { Change } from '../../policy/compiler/diff.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import type { EndpointIntent, HostFacts, Intent, ServiceIntent } from '../../policy/compiler/intent.js';
import { macFromIPv4 as macOf } from '../../policy/ipam/addr.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { joinHostBridges } from '../harness/host-bridges.js';
import { type Host, startHosts } from '../harness/hosts.js';
import { rule } from '../harness/intents.js';
import type { Container } from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { waitFor } from '../harness/wait.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const TUNNEL_PORT = 100;
const UPLINK_PORT = 200;
const VIP = '10.1.1.200';
const ECHO = fileURLToPath(new URL('../harness/svc-echo.js', import.meta.url));
/** Connections per spread; each provider must get at least SHARE of its fair part. */
const N = 90;
const SHARE = 0.5;

const LABELS: Record<string, Record<string, string>> = {
  p1: { app: 'web' },
  p2: { app: 'web', tier: 'b' },
  p3: { app: 'web' },
  db: { app: 'db' },
};

const WEB: ServiceIntent = {
  tenant: 't1',
  name: 'websvc',
  network: 'n1',
  id: 3,
  vip: VIP,
  ports: [
    { port: 80, targetPort: 8080, protocol: 6 },
    { port: 53, targetPort: 5353, protocol: 17 },
    // The providers' group refuses 9090: the service cannot open it either.
    { port: 81, targetPort: 9090, protocol: 6 },
  ],
  selectors: { app: 'web' },
};

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
    groups: [{ tenant: 't1', name: 'web', network: 'n1', id: 21, policies: ['web_in'], netProfile: '' }],
    policies: [
      {
        tenant: 't1',
        name: 'web_in',
        rules: [rule({ ruleId: '1', protocol: 6, port: 9090, action: 'deny' })],
      },
    ],
    netProfiles: [],
    endpoints,
    hosts: [],
    services: [WEB],
  };
}

/** `node svc-echo.js MODE …` inside a container; resolves with what it printed. */
function echo(c: Container, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', c.name, process.execPath, ECHO, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`svc-echo ${args[0]}: ${err}`)),
    );
  });
}

/** `svc-echo serve NAME PORT` in a container, once it listens (the namespace's removal stops it). */
function serve(c: Container, name: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ip',
      ['netns', 'exec', c.name, process.execPath, ECHO, 'serve', name, String(port)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    onCleanup(() => void child.kill('SIGKILL'), { label: `svc-echo serve ${name}:${port}` });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) resolve();
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`svc-echo serve ${name}:${port} exited ${code}: ${err}`)));
  });
}

async function spread(
  c: Container,
  proto: 'tcp' | 'udp',
  port: number,
  n = N,
): Promise<Record<string, number>> {
  return JSON.parse(await echo(c, ['spread', proto, VIP, String(port), String(n)])) as Record<string, number>;
}

function assertSpread(counts: Record<string, number>, providers: string[], n = N): void {
  assert.equal(counts[''] ?? 0, 0, `failed connections: ${JSON.stringify(counts)}`);
  assert.deepEqual(Object.keys(counts).sort(), [...providers].sort(), JSON.stringify(counts));
  for (const p of providers)
    assert.ok(
      (counts[p] ?? 0) >= (n / providers.length) * SHARE,
      `${p} got too few: ${JSON.stringify(counts)}`,
    );
}

/** A held connection to VIP:80: what it reports, line by line. */
class Hold {
  private out = '';
  readonly child: ChildProcess;
  constructor(c: Container) {
    this.child = spawn('ip', ['netns', 'exec', c.name, process.execPath, ECHO, 'hold', VIP, '80'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (d: Buffer) => {
      this.out += d.toString();
    });
    onCleanup(() => void this.child.kill('SIGKILL'), { label: 'held service connection' });
  }
  get provider(): string {
    return this.out.split('\n')[0] ?? '';
  }
  get lost(): boolean {
    return this.out.includes('lost');
  }
  /** Echoes counted so far. */
  get echoed(): number {
    const m = [...this.out.matchAll(/ok (\d+)/g)].pop();
    return m ? Number(m[1]) : 0;
  }
  async started(): Promise<void> {
    await waitFor('the held connection', () => this.echoed > 3 || this.lost, 5000);
  }
}

for (const encap of ['vxlan', 'vlan'] as const) {
  describe(`service load balancing on two hosts, ${encap}`, { skip }, () => {
    const comps: { comp: Compilation; manager: FlowTableManager }[] = [];
    const c: Record<string, Container> = {};
    const eps = new Map<string, EndpointIntent>();

    async function change(ch: Change, mutate: (ix: IntentIndex) => unknown): Promise<void> {
      for (const { comp, manager } of comps) await applyDelta(manager, comp.change(ch, mutate));
    }
    const relabel = (id: string, labels: Record<string, string>) => {
      const e = { ...eps.get(id)!, labels };
      eps.set(id, e);
      return change({ kind: 'endpoint', id }, (ix) => ix.putEndpoint(e));
    };

    before(async () => {
      if (missing.length > 0)
        throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
      const [h1, h2] = (await startHosts(2)) as [Host, Host];
      await joinHostBridges([h1, h2], encap, { tunnel: TUNNEL_PORT, uplink: UPLINK_PORT });
      // Clients on both hosts, providers on both, one container (db) the selectors leave out.
      const place: [string, Host, string, string, Record<string, string>][] = [
        ['c1', h1, '10.1.1.20', '', {}],
        ['c2', h2, '10.1.1.21', '', {}],
        ['p1', h1, '10.1.1.10', 'web', LABELS.p1!],
        ['p2', h2, '10.1.1.11', 'web', LABELS.p2!],
        ['p3', h2, '10.1.1.12', 'web', LABELS.p3!],
        ['db', h1, '10.1.1.30', '', LABELS.db!],
      ];
      const ports = new Map<string, Map<string, number>>([
        [h1.name, new Map()],
        [h2.name, new Map()],
      ]);
      for (const [name, h, ip, group, labels] of place) {
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
        eps.set(name, {
          id: name,
          tenant: 't1',
          network: 'n1',
          group,
          ip,
          mac: macOf(ip),
          host: h.name,
          labels,
        });
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
        const intent = intentOf(encap, [...eps.values()]);
        intent.hosts = [
          { name: h1.name, vtepIP: h1.underlayIp },
          { name: h2.name, vtepIP: h2.underlayIp },
        ];
        const comp = new Compilation(intent, facts, [...forwardingFeatures, policyFeature, serviceFeature]);
        const conn = await connectSwitch(h.ovs.mgmt('brint'));
        onCleanup(() => conn.close(), { label: `switch connection ${h.name}` });
        const manager = new FlowTableManager();
        await manager.attach(conn);
        await applyState(manager, comp.state());
        comps.push({ comp, manager });
      }
      await Promise.all(
        ['p1', 'p2', 'p3', 'db'].flatMap((n) => [8080, 5353, 9090].map((p) => serve(c[n]!, n, p))),
      );
    });
    after(runCleanups);

    test('TCP connections to the VIP spread over the providers on both hosts', async () => {
      assertSpread(await spread(c.c1!, 'tcp', 80), ['p1', 'p2', 'p3']);
      assertSpread(await spread(c.c2!, 'tcp', 80), ['p1', 'p2', 'p3']);
      // The provider's own address and port still answer directly.
      assert.equal(JSON.stringify(await echoDirect(c.c1!, '10.1.1.11', 8080)), JSON.stringify({ p2: 1 }));
    });

    test('UDP datagrams to the VIP spread too, and their answers come from the VIP', async () => {
      const r = await spread(c.c1!, 'udp', 53);
      assertSpread(r, ['p1', 'p2', 'p3']);
      assertSpread(await spread(c.c2!, 'udp', 53), ['p1', 'p2', 'p3']);
    });

    test("policy applies to the provider's group and port behind the VIP", async () => {
      const counts = await spread(c.c1!, 'tcp', 81, 6);
      assert.deepEqual(counts, { '': 6 }, 'VIP:81 → provider 9090, which the web group refuses');
      assert.deepEqual(
        await echoDirect(c.c1!, '10.1.1.30', 9090),
        { db: 1 },
        'db (no group) answers on 9090',
      );
    });

    test('a connection stays on its provider while another goes, and ends when its own goes', async () => {
      const hold = new Hold(c.c1!);
      await hold.started();
      assert.equal(hold.lost, false);
      const mine = hold.provider;
      assert.ok(['p1', 'p2', 'p3'].includes(mine), `held by ${mine}`);
      const other = ['p1', 'p2', 'p3'].find((p) => p !== mine)!;
      await relabel(other, {});
      const seen = hold.echoed;
      await waitFor('echoes after the change', () => hold.echoed > seen + 10 || hold.lost, 5000);
      assert.equal(hold.lost, false, `the connection to ${mine} broke when ${other} went`);
      const left = ['p1', 'p2', 'p3'].filter((p) => p !== other);
      assertSpread(await spread(c.c2!, 'tcp', 80, 40), left, 40);
      await relabel(mine, {});
      await waitFor(`the connection to ${mine} to end`, () => hold.lost, 5000);
      const last = left.filter((p) => p !== mine);
      assertSpread(await spread(c.c1!, 'tcp', 80, 10), last, 10);
      await relabel(mine, LABELS[mine]!);
      await relabel(other, LABELS[other]!);
      assertSpread(await spread(c.c1!, 'tcp', 80), ['p1', 'p2', 'p3']);
    });

    test('a selector change moves the service to the endpoints it now selects', async () => {
      const narrower = { ...WEB, selectors: { app: 'web', tier: 'b' } };
      await change({ kind: 'service', key: 't1/websvc' }, (ix) => ix.putService(narrower));
      assertSpread(await spread(c.c1!, 'tcp', 80, 10), ['p2'], 10);
      await change({ kind: 'service', key: 't1/websvc' }, (ix) =>
        ix.putService({ ...WEB, selectors: { app: 'db' } }),
      );
      assertSpread(await spread(c.c2!, 'tcp', 80, 10), ['db'], 10);
      await change({ kind: 'service', key: 't1/websvc' }, (ix) => ix.putService(WEB));
      assertSpread(await spread(c.c2!, 'tcp', 80), ['p1', 'p2', 'p3']);
    });

    test('routing mode: the same service balances', async () => {
      await change({ kind: 'global' }, (ix) => {
        const old = ix.global;
        ix.global = { ...old, fwdMode: 'routing' };
        return old;
      });
      await Promise.all(Object.values(c).map((x) => x.exec('ip', ['neigh', 'flush', 'all'])));
      assertSpread(await spread(c.c1!, 'tcp', 80), ['p1', 'p2', 'p3']);
      assertSpread(await spread(c.c2!, 'udp', 53), ['p1', 'p2', 'p3']);
    });

    test('a deleted service answers no more', async () => {
      await change({ kind: 'service', key: 't1/websvc' }, (ix) => ix.deleteService('t1/websvc'));
      assert.deepEqual(await spread(c.c1!, 'tcp', 80, 3), { '': 3 });
    });
  });
}

async function echoDirect(from: Container, ip: string, port: number): Promise<Record<string, number>> {
  return JSON.parse(await echo(from, ['spread', 'tcp', ip, String(port), '1'])) as Record<string, number>;
}
