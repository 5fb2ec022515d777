// Proves the test harness against real OVS and network namespaces: traffic, restart, and clean teardown,
// including runs that crash or are killed. It must never leave anything behind, even when it fails.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { findOwnedBy, onCleanup, runCleanups, sweepStale } from '../harness/cleanup.js';
import { dirMarker, MAX_IFNAME, ownerOfName, ownerOfTempDir, uniqueName } from '../harness/names.js';
import { addContainer, addNamespace } from '../harness/netns.js';
import { ofpPrint } from '../harness/ofctl.js';
import { startOvs, stripFlowStats } from '../harness/ovs.js';
import { isAlive } from '../harness/procs.js';
import { requireCommands, requireLab } from '../harness/require.js';
import { run, succeeds } from '../harness/run.js';

after(runCleanups);

async function netnsNames(): Promise<string[]> {
  return (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '');
}

async function linkNames(netns?: string): Promise<string[]> {
  const out = await run('ip', ['-o', 'link', 'show'], { netns });
  return out.split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '');
}

/** pgrep -f: true when some process's command line contains text. */
function processMentions(text: string): Promise<boolean> {
  return succeeds('pgrep', ['-f', text]);
}

async function assertNothingLeftBy(pid: number): Promise<void> {
  assert.deepEqual(findOwnedBy(pid), { netns: [], links: [], dirs: [], pids: [] });
  assert.equal(await processMentions(dirMarker(pid)), false, `a process still names ${dirMarker(pid)}`);
}

describe('names and helpers', () => {
  test('unique names fit IFNAMSIZ and encode the owner pid', () => {
    const a = uniqueName('br');
    const b = uniqueName('br');
    assert.notEqual(a, b);
    assert.ok(a.length <= MAX_IFNAME, a);
    assert.equal(ownerOfName(a), process.pid);
    assert.equal(ownerOfName('eth0'), undefined);
    assert.equal(ownerOfName('br0'), undefined);
    assert.equal(ownerOfTempDir(`contiv-ts-${process.pid}-ovs-Ab12Cd`), process.pid);
    assert.equal(ownerOfTempDir('contiv-tsx-1-ovs'), undefined);
    assert.throws(() => uniqueName('toolong'));
  });

  test('stripFlowStats keeps cookie, table, priority, match and actions', () => {
    const line =
      ' cookie=0x5, duration=0.016s, table=1, n_packets=3, n_bytes=126, idle_timeout=50, idle_age=2, hard_age=9, priority=10,ip,nw_dst=10.0.0.1 actions=drop';
    assert.equal(
      stripFlowStats(line),
      'cookie=0x5, table=1, idle_timeout=50, priority=10,ip,nw_dst=10.0.0.1 actions=drop',
    );
  });

  test('cleanups run newest first and all run even when one fails', async () => {
    const order: string[] = [];
    onCleanup(() => {
      order.push('first');
    });
    onCleanup(
      () => {
        throw new Error('second broke');
      },
      { label: 'second' },
    );
    onCleanup(() => {
      order.push('third');
    });
    const dropped = onCleanup(() => {
      order.push('disposed');
    });
    dropped.dispose();
    await assert.rejects(runCleanups(), (err: unknown) => {
      assert.ok(err instanceof AggregateError);
      assert.match(err.message, /cleanup "second" failed: second broke/);
      return true;
    });
    assert.deepEqual(order, ['third', 'first']);
  });

  test('requireCommands skips outside CI and fails in CI when a command is missing', () => {
    const saved = process.env.CI;
    const skipped: string[] = [];
    const t = { skip: (why?: string) => void skipped.push(why ?? '') };
    try {
      process.env.CI = 'false';
      assert.equal(requireCommands(t, 'node'), true);
      assert.equal(requireCommands(t, 'no-such-command-cts'), false);
      assert.deepEqual(skipped, ['missing command "no-such-command-cts"']);
      process.env.CI = 'true';
      assert.throws(() => requireCommands(t, 'no-such-command-cts'), /CI=true/);
      assert.equal(skipped.length, 1);
    } finally {
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    }
  });

  test('ofpPrint decodes an OpenFlow 1.3 HELLO with ovs-ofctl', async (t) => {
    if (!requireCommands(t, 'ovs-ofctl')) return;
    const text = await ofpPrint(Buffer.from('0400000800000007', 'hex'));
    assert.match(text, /^OFPT_HELLO \(OF1\.3\) \(xid=0x7\):/);
    // ofp-print exits 0 whatever it is given; ofpPrint turns its complaints into errors.
    await assert.rejects(ofpPrint(Buffer.from('04', 'hex')), /too short/);
    await assert.rejects(ofpPrint(Buffer.from('0400001000000007', 'hex')), /truncated to 8 bytes from 16/);
    assert.match(await ofpPrint(Buffer.from('04', 'hex'), { strict: false }), /too short/);
  });
});

describe('real OVS and containers', () => {
  test('secure bridge: no flows no traffic, NORMAL gives ping and TCP, restart keeps the bridge, stop leaves nothing', async (t) => {
    if (!requireLab(t) || !requireCommands(t, 'pgrep')) return;
    const ovs = await startOvs();
    const br = await ovs.addBridge({ failMode: 'secure' });
    assert.equal((await ovs.vsctl('get', 'Bridge', br, 'datapath_type')).trim(), 'dummy');
    assert.ok(!(await linkNames()).includes(br), 'a dummy-datapath bridge makes no host tap');

    const c1 = await addContainer(ovs, br, { name: 'c1', ip: '10.77.0.1/24', ofport: 11 });
    const c2 = await addContainer(ovs, br, {
      name: 'c2',
      ip: '10.77.0.2/24',
      ofport: 12,
      mac: '02:00:0a:4d:00:02',
    });
    assert.equal(c1.ofport, 11);
    assert.equal(c2.ofport, 12);
    assert.equal(c2.mac, '02:00:0a:4d:00:02');
    assert.match(c1.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    for (const c of [c1, c2]) {
      assert.match(await c.exec('ethtool', ['-k', 'eth0']), /tx-checksumming: off/);
      assert.match(await run('ethtool', ['-k', c.hostIf]), /tx-checksumming: off/);
    }

    assert.deepEqual(await ovs.dumpFlows(br), []);
    assert.equal(
      await c1.ping(c2.ip, { timeoutSec: 1 }),
      false,
      'a secure bridge without flows forwards nothing',
    );

    await ovs.ofctl('add-flow', ovs.mgmt(br), 'actions=NORMAL');
    assert.deepEqual(await ovs.dumpFlows(br), ['cookie=0x0, table=0, actions=NORMAL']);
    assert.equal(await c1.ping(c2.ip), true);
    const listener = await c2.tcpListen(8080);
    assert.equal(await c1.tcpConnect(c2.ip, 8080), true);
    assert.equal(await c1.tcpConnect(c2.ip, 8081, 1000), false, 'nothing listens on 8081');
    assert.match(await ovs.appctl('version'), /ovs-vswitchd/);

    const before = ovs.vswitchdPid();
    await ovs.restartVswitchd();
    assert.notEqual(ovs.vswitchdPid(), before);
    assert.equal(isAlive(before), false);
    assert.ok((await ovs.vsctl('list-br')).split('\n').includes(br));
    assert.deepEqual(await ovs.dumpFlows(br), [], 'flows do not survive a vswitchd restart');
    await ovs.ofctl('add-flow', ovs.mgmt(br), 'actions=NORMAL');
    assert.equal(await c2.ping(c1.ip), true, 'the ports are back after the restart');

    await c1.destroy();
    await c2.destroy();
    assert.equal(isAlive(listener.pid), false);
    await ovs.stop();
    const ns = await netnsNames();
    assert.ok(!ns.includes(c1.name) && !ns.includes(c2.name), `netns left: ${ns.join(' ')}`);
    const links = await linkNames();
    for (const l of [c1.hostIf, c2.hostIf, br]) assert.ok(!links.includes(l), `link ${l} left`);
    assert.equal(await processMentions(ovs.dir), false, 'a daemon of this instance still runs');
    assert.equal(existsSync(ovs.dir), false);
    await assertNothingLeftBy(process.pid);
  });

  test('controller target: the switch connects, reconnects after restartVswitchd, and can be removed', async (t) => {
    if (!requireLab(t) || !requireCommands(t, 'pgrep')) return;
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const port = (server.address() as AddressInfo).port;
    const waitFor = async (n: number) => {
      const deadline = Date.now() + 5000;
      while (sockets.length < n && Date.now() < deadline) await sleep(20);
      assert.ok(sockets.length >= n, `expected ${n} controller connections, got ${sockets.length}`);
    };
    const ovs = await startOvs();
    const br = await ovs.addBridge({ controller: `tcp:127.0.0.1:${port}`, datapathId: '00000000000000aa' });
    assert.equal((await ovs.vsctl('get-controller', br)).trim(), `tcp:127.0.0.1:${port}`);
    assert.equal((await ovs.vsctl('get', 'Controller', br, 'max_backoff')).trim(), '1000');
    assert.match(await ovs.ofctl('show', ovs.mgmt(br)), /dpid:00000000000000aa/);
    await waitFor(1);
    await ovs.restartVswitchd();
    await waitFor(2);
    await ovs.setController(br, undefined);
    assert.equal((await ovs.vsctl('get-controller', br)).trim(), '');
    await ovs.stop();
  });

  test('vswitchd inside a namespace with --enable-dummy: taps there, dummy ports work, all removed', async (t) => {
    if (!requireLab(t) || !requireCommands(t, 'pgrep')) return;
    const host = await addNamespace();
    const ovs = await startOvs({ netns: host.name, dummy: true });
    assert.equal(ovs.datapath, 'netdev');
    const br = await ovs.addBridge();
    assert.equal((await ovs.vsctl('get', 'Bridge', br, 'datapath_type')).trim(), 'netdev');
    assert.ok((await linkNames(host.name)).includes(br), 'the tap is in the namespace');
    await assert.rejects(ovs.addBridge('lo'), /a link named "lo" already exists/);
    assert.ok(!(await linkNames()).includes(br), 'and not in the host');
    await ovs.vsctl('add-port', br, 'd1', '--', 'set', 'Interface', 'd1', 'type=dummy', 'ofport_request=5');
    assert.equal((await ovs.vsctl('get', 'Interface', 'd1', 'ofport')).trim(), '5');
    const c = await addContainer(ovs, br, { name: 'c', ip: '10.79.0.1/24' });
    assert.ok((await linkNames(host.name)).includes(c.hostIf), 'the veth host end is in the namespace');
    assert.ok(c.ofport > 0);
    await ovs.ofctl('add-flow', ovs.mgmt(br), 'priority=5,in_port=5,actions=drop');
    assert.deepEqual(await ovs.dumpFlows(br), ['cookie=0x0, table=0, priority=5,in_port=5 actions=drop']);
    await runCleanups();
    assert.ok(!(await netnsNames()).includes(host.name));
    await assertNothingLeftBy(process.pid);
  });

  test('instances in the host namespace coexist (dummy datapath: no taps, no shared ovs-netdev)', async (t) => {
    if (!requireLab(t) || !requireCommands(t, 'pgrep')) return;
    const [a, b] = await Promise.all([startOvs(), startOvs()]);
    const [brA, brB] = await Promise.all([a.addBridge(), b.addBridge()]);
    await a.ofctl('add-flow', a.mgmt(brA), 'cookie=0xa,actions=drop');
    await b.ofctl('add-flow', b.mgmt(brB), 'cookie=0xb,actions=NORMAL');
    assert.deepEqual(await a.dumpFlows(brA), ['cookie=0xa, table=0, actions=drop']);
    assert.deepEqual(await b.dumpFlows(brB), ['cookie=0xb, table=0, actions=NORMAL']);
    const links = await linkNames();
    assert.ok(!links.includes(brA) && !links.includes(brB));
    await Promise.all([a.stop(), b.stop()]);
    await assertNothingLeftBy(process.pid);
  });
});

/** Runs a child that builds OVS + bridge + container + listener, prints what it made, then `mode`. */
function childScript(): string {
  const url = (m: string) => JSON.stringify(new URL(`../harness/${m}.js`, import.meta.url).href);
  return `
    const { startOvs } = await import(${url('ovs')});
    const { addContainer } = await import(${url('netns')});
    const ovs = await startOvs();
    const br = await ovs.addBridge({ failMode: 'secure' });
    const c = await addContainer(ovs, br, { name: 'c', ip: '10.78.0.1/24' });
    const l = await c.tcpListen(7000);
    const made = { pid: process.pid, dir: ovs.dir, daemons: [ovs.vswitchdPid()], listener: l.pid,
      netns: c.name, links: [c.hostIf] };
    process.stdout.write(JSON.stringify(made) + '\\n');
    if (process.env.HARNESS_CHILD_MODE === 'throw') setTimeout(() => { throw new Error('boom mid-test'); }, 10);
    else setInterval(() => {}, 1000);
  `;
}

interface Made {
  pid: number;
  dir: string;
  daemons: number[];
  listener: number;
  netns: string;
  links: string[];
}

interface ChildRun {
  made: Made;
  signal(sig: NodeJS.Signals): void;
  exited: Promise<{ code: number | null; signal: string | null; stderr: string }>;
}

async function startChild(mode: 'throw' | 'wait'): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', childScript()], {
    env: { ...process.env, HARNESS_CHILD_MODE: mode },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
  const made = await new Promise<Made>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready after 30 s: ${stderr}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Made);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before it was ready: ${stderr}`));
    });
  });
  return { made, signal: (sig) => child.kill(sig), exited };
}

/** Every piece the child made is really there (so "gone" afterwards means something). */
async function assertPresent(made: Made): Promise<void> {
  assert.ok((await netnsNames()).includes(made.netns));
  const links = await linkNames();
  for (const l of made.links) assert.ok(links.includes(l), `link ${l} missing`);
  assert.ok(existsSync(made.dir));
  for (const pid of [...made.daemons, made.listener]) assert.ok(isAlive(pid), `pid ${pid} not running`);
}

async function assertGone(made: Made): Promise<void> {
  for (const pid of [...made.daemons, made.listener])
    assert.equal(isAlive(pid), false, `pid ${pid} still runs`);
  assert.ok(!(await netnsNames()).includes(made.netns), `netns ${made.netns} left`);
  const links = await linkNames();
  for (const l of made.links) assert.ok(!links.includes(l), `link ${l} left`);
  assert.equal(existsSync(made.dir), false, `${made.dir} left`);
  await assertNothingLeftBy(made.pid);
}

describe('interrupted runs leave nothing', () => {
  test('an uncaught exception mid-test: the exit hook cleans up', async (t) => {
    if (!requireLab(t) || !requireCommands(t, 'pgrep')) return;
    const child = await startChild('throw');
    const { code, stderr } = await child.exited;
    assert.equal(code, 1);
    assert.match(stderr, /boom mid-test/);
    await assertGone(child.made);
  });

  test('SIGTERM mid-test: the signal hook runs the cleanups and exits 143', async (t) => {
    if (!requireLab(t) || !requireCommands(t, 'pgrep')) return;
    const child = await startChild('wait');
    await assertPresent(child.made);
    child.signal('SIGTERM');
    const { code } = await child.exited;
    assert.equal(code, 143);
    await assertGone(child.made);
  });

  test('SIGKILL mid-test: sweepStale removes the leftovers and spares live owners', async (t) => {
    if (!requireLab(t) || !requireCommands(t, 'pgrep')) return;
    const mine = await startOvs();
    const myBridge = await mine.addBridge();
    const child = await startChild('wait');
    child.signal('SIGKILL');
    assert.equal((await child.exited).signal, 'SIGKILL');
    await assertPresent(child.made);
    const removed = sweepStale();
    assert.ok(removed.netns.includes(child.made.netns));
    assert.ok(removed.dirs.includes(child.made.dir));
    await assertGone(child.made);
    assert.ok(existsSync(mine.dir), 'a live owner keeps its dir');
    assert.ok(isAlive(mine.vswitchdPid()), 'and its daemons');
    assert.deepEqual(await mine.dumpFlows(myBridge), [], 'and its bridge still answers');
    await mine.stop();
  });
});
