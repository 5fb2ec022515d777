// Two simulated hosts (a netns and an OVS each) joined by an underlay, a VXLAN overlay between their OVS
// bridges, flows from our controller: containers on different hosts ping and connect over TCP; afterwards
// no namespace, link, directory or process of the test remains.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import { Feature, makeCookie } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';
import { OvsdbClient } from '../../datapath/ovsdb/client.js';
import { VSwitch } from '../../datapath/vswitch.js';
import { runCleanups } from '../harness/cleanup.js';
import { type Host, startHosts } from '../harness/hosts.js';
import type { Container } from '../harness/netns.js';
import { isAlive } from '../harness/procs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { run, succeeds } from '../harness/run.js';
import { findOwnedBy, listLinks, sweepStale } from '../harness/sweep.js';

const missing = missingFor(...LAB_COMMANDS, 'nsenter');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const TUNNEL_PORT = 100;
const VNI = 5000n;
const BROADCAST = 'ff:ff:ff:ff:ff:ff';
const cookie = (id: number) => makeCookie(Feature.Test, id);

/**
 * One host's overlay flows. Table 0 admits local ports and the tunnel with our VNI; table 1 delivers by
 * destination MAC: local → its port, remote → tun_id + the tunnel port. Broadcast (ARP) from a local
 * port goes to the other local ports and the tunnel; from the tunnel only to local ports (no loop).
 */
function overlayFlows(local: Container[], remote: Container[]): Flow[] {
  const out = (port: number) => ({ type: 'output' as const, port });
  const toTunnel = [{ type: 'setField' as const, field: 'tunnelId' as const, value: VNI }, out(TUNNEL_PORT)];
  const flows: Flow[] = [
    {
      tableId: 0,
      priority: 100,
      match: { inPort: TUNNEL_PORT, tunnelId: VNI },
      instructions: [{ type: 'gotoTable', tableId: 1 }],
      cookie: cookie(1),
    },
    {
      tableId: 1,
      priority: 50,
      match: { inPort: TUNNEL_PORT, ethDst: BROADCAST },
      instructions: [{ type: 'applyActions', actions: local.map((c) => out(c.ofport)) }],
      cookie: cookie(4),
    },
  ];
  for (const c of local) {
    flows.push(
      {
        tableId: 0,
        priority: 100,
        match: { inPort: c.ofport },
        instructions: [{ type: 'gotoTable', tableId: 1 }],
        cookie: cookie(1),
      },
      {
        tableId: 1,
        priority: 100,
        match: { ethDst: c.mac },
        instructions: [{ type: 'applyActions', actions: [out(c.ofport)] }],
        cookie: cookie(2),
      },
      {
        tableId: 1,
        priority: 50,
        match: { inPort: c.ofport, ethDst: BROADCAST },
        instructions: [
          {
            type: 'applyActions',
            actions: [...local.filter((o) => o !== c).map((o) => out(o.ofport)), ...toTunnel],
          },
        ],
        cookie: cookie(4),
      },
    );
  }
  for (const c of remote) {
    flows.push({
      tableId: 1,
      priority: 100,
      match: { ethDst: c.mac },
      instructions: [{ type: 'applyActions', actions: toTunnel }],
      cookie: cookie(3),
    });
  }
  return flows;
}

describe('two hosts with a VXLAN overlay', { skip }, () => {
  after(runCleanups);

  for (const underlay of ['bridge', 'veth'] as const) {
    test(`containers on two hosts ping and connect over TCP (${underlay} underlay); nothing remains`, async () => {
      if (missing.length > 0)
        throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
      const linksBefore = new Set(listLinks());
      const hosts = await startHosts(2, { underlay });
      const [h1, h2] = hosts as [Host, Host];
      const vswitchds = hosts.map((h) => h.ovs.vswitchdPid());

      // The underlay works before any OVS is involved, and the root namespace got no address.
      assert.ok(await succeeds('ping', ['-c1', '-W2', h2.underlayIp], { netns: h1.netns }), 'underlay ping');
      for (const l of listLinks().filter((n) => !linksBefore.has(n))) {
        const [entry] = JSON.parse(await run('ip', ['-j', 'addr', 'show', 'dev', l])) as {
          addr_info: unknown[];
        }[];
        assert.deepEqual(entry?.addr_info, [], `root-namespace link ${l} has an address`);
      }

      const bridges: string[] = [];
      for (const [h, peer] of [
        [h1, h2],
        [h2, h1],
      ] as const) {
        assert.equal(await h.vtep(), 'brphy');
        assert.equal(await h.vtep(), 'brphy', 'vtep() is idempotent');
        // The integration bridge and its tunnel port come from the datapath layer itself.
        const client = await OvsdbClient.connect(`unix:${h.ovs.dbSock}`);
        try {
          const vs = new VSwitch(client, { name: 'brint', datapathType: 'netdev', owner: 'netplugin' });
          await vs.ensureBridge();
          const tunnel = await vs.addPort({
            name: 'vx0',
            kind: 'vxlan',
            remoteIp: peer.underlayIp,
            key: 'flow',
            ofportRequest: TUNNEL_PORT,
          });
          assert.equal(tunnel, TUNNEL_PORT);
        } finally {
          await client.close();
        }
        const br = 'brint';
        bridges.push(br);
      }
      // Underlay still reachable, now through the brphy internal ports that hold the VTEP addresses.
      assert.ok(await succeeds('ping', ['-c1', '-W2', h2.underlayIp], { netns: h1.netns }), 'VTEP ping');

      const mk = (h: Host, name: string, ip: string, ofport: number) =>
        h.addContainer({ name, ip, bridge: 'brint', ofport, mtu: 1450 });
      const a1 = await mk(h1, 'a1', '10.30.0.11/24', 1);
      const a2 = await mk(h1, 'a2', '10.30.0.12/24', 2);
      const b1 = await mk(h2, 'b1', '10.30.0.21/24', 1);
      const b2 = await mk(h2, 'b2', '10.30.0.22/24', 2);
      assert.equal(a1.mac, '02:02:0a:1e:00:0b');
      assert.deepEqual([a1.ofport, a2.ofport, b1.ofport, b2.ofport], [1, 2, 1, 2]);

      const conns = await Promise.all(hosts.map((h) => connectSwitch(h.ovs.mgmt('brint'))));
      try {
        const managers = conns.map(() => new FlowTableManager());
        await Promise.all(managers.map((m, i) => m.attach(conns[i]!)));
        // fail_mode=secure and no flows yet: nothing crosses, so what passes below is our flows' doing.
        assert.equal(await a1.ping(b1.ip, { timeoutSec: 1 }), false, 'a1 → b1 without flows');
        await managers[0]!.sync(overlayFlows([a1, a2], [b1, b2]));
        await managers[1]!.sync(overlayFlows([b1, b2], [a1, a2]));

        assert.ok(await a1.ping(a2.ip, { timeoutSec: 5 }), 'a1 → a2 (same host)');
        assert.ok(await a1.ping(b1.ip, { timeoutSec: 10 }), 'a1 → b1 across the tunnel');
        assert.ok(await b2.ping(a2.ip, { timeoutSec: 10 }), 'b2 → a2 across the tunnel');
        assert.ok(await a2.ping(b1.ip, { count: 3, timeoutSec: 5 }), 'a2 → b1 across the tunnel');

        const listener = await b1.tcpListen(8080);
        assert.ok(await a1.tcpConnect(b1.ip, 8080, 5000), 'TCP a1 → b1:8080 across hosts');
        await listener.stop();
        const back = await a2.tcpListen(9090);
        assert.ok(await b2.tcpConnect(a2.ip, 9090, 5000), 'TCP b2 → a2:9090 across hosts');
        await back.stop();

        // The packets took the tunnel: its port counted them on both sides.
        for (const h of hosts) {
          const stats = await h.ovs.ofctl('dump-ports', h.ovs.mgmt('brint'), String(TUNNEL_PORT));
          const rx = Number(/rx pkts=(\d+)/.exec(stats)?.[1] ?? 0);
          assert.ok(rx > 0, `${h.name} tunnel port received nothing:\n${stats}`);
        }
      } finally {
        for (const c of conns) c.close();
      }

      await runCleanups();
      assert.deepEqual(findOwnedBy(process.pid), { netns: [], links: [], dirs: [], pids: [] });
      for (const pid of vswitchds) assert.equal(isAlive(pid), false, `ovs-vswitchd ${pid} still runs`);
      assert.deepEqual(
        listLinks().filter((l) => !linksBefore.has(l)),
        [],
        'links left in the root namespace',
      );
    });
  }

  test('the leftovers of a killed run (hosts, underlay bridge, daemons) are swept', async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    // A child starts two hosts with a container and is SIGKILLed: no cleanup hook of its own runs.
    const hostsJs = fileURLToPath(new URL('../harness/hosts.js', import.meta.url));
    const script = [
      `import { startHosts } from ${JSON.stringify(hostsJs)};`,
      'const [h] = await startHosts(2);',
      "const br = await h.ovs.addBridge('brint');",
      "await h.addContainer({ name: 'x', ip: '10.31.0.1/24', bridge: br });",
      "console.log('ready');",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid!;
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child not ready after 60 s: ${err}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`child exited ${code}: ${err}`));
        });
      });
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) =>
        child.exitCode !== null || child.signalCode !== null ? r(0) : child.once('exit', r),
      );
    }
    const left = findOwnedBy(pid);
    assert.equal(left.netns.length, 3, `two hosts and a container: ${JSON.stringify(left)}`);
    assert.ok(left.links.length >= 1, `the underlay bridge at least: ${JSON.stringify(left)}`);
    assert.ok(left.pids.length >= 4, `two ovsdb-servers, two vswitchds: ${JSON.stringify(left)}`);
    sweepStale();
    assert.deepEqual(findOwnedBy(pid), { netns: [], links: [], dirs: [], pids: [] });
    for (const p of left.pids) assert.equal(isAlive(p), false, `pid ${p} survived the sweep`);
  });
});
