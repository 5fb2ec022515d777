// Host plumbing against the real kernel: plugContainer into namespaces by name, by pid and by path, checked
// with ip/ethtool; idempotent re-runs; a failing step leaves no veth behind. Nothing is made in the root netns.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  configureInterface,
  createVethPair,
  deleteLink,
  HostCommandError,
  linkExists,
  moveToNetns,
  plugContainer,
  readMac,
} from '../../datapath/host/index.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { uniqueName } from '../harness/names.js';
import { addNamespace, type Namespace } from '../harness/netns.js';
import { isAlive, stopPids } from '../harness/procs.js';
import { missingFor } from '../harness/require.js';
import { run } from '../harness/run.js';

const NEEDED = ['ip', 'ethtool', 'nsenter', 'sleep'];
const missing = missingFor(...NEEDED);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  address: string;
  link_index?: number;
}

async function links(ns: string): Promise<IpLink[]> {
  return JSON.parse(await run('ip', ['-n', ns, '-j', 'link', 'show'])) as IpLink[];
}

async function link(ns: string, dev: string): Promise<IpLink> {
  const [l] = JSON.parse(await run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', dev])) as IpLink[];
  assert.ok(l, `no ${dev} in ${ns}`);
  return l;
}

async function addrs(ns: string, dev: string): Promise<string[]> {
  const [e] = JSON.parse(await run('ip', ['-n', ns, '-4', '-j', 'addr', 'show', 'dev', dev])) as {
    addr_info: { local: string; prefixlen: number }[];
  }[];
  return (e?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

async function defaultRoutes(ns: string): Promise<{ gateway?: string; dev?: string }[]> {
  return JSON.parse((await run('ip', ['-n', ns, '-4', '-j', 'route', 'show', 'default'])) || '[]');
}

async function txChecksumming(ns: string, dev: string): Promise<string> {
  const out = await run('ethtool', ['-k', dev], { netns: ns });
  return /^tx-checksumming: (\w+)/m.exec(out)?.[1] ?? `? ${out}`;
}

/** Names of links in ns other than lo. */
async function linkNames(ns: string): Promise<string[]> {
  return (await links(ns)).map((l) => l.ifname).filter((n) => n !== 'lo');
}

/** A process sleeping inside ns, so the namespace can be named by its pid; stopped at cleanup. */
function sleeperIn(ns: string): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, 'sleep', '600'], { stdio: 'ignore' });
  const pid = child.pid;
  onCleanup(
    async () => {
      if (pid !== undefined && isAlive(pid)) await stopPids([pid]);
    },
    { label: `sleeper in ${ns}` },
  );
  return child;
}

describe('host plumbing against the kernel', { skip }, () => {
  let host: Namespace;

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    // The "host" side is a namespace too: nothing is created in the root namespace.
    host = await addNamespace();
  });
  after(runCleanups);

  test('plugContainer into a namespace by name: name, MAC, MTU, address, route, offload; re-run changes nothing', async () => {
    const c = await addNamespace();
    const hostIf = uniqueName('v');
    const res = await plugContainer({
      hostNetns: host.name,
      hostIf,
      netns: { name: c.name },
      ifName: 'eth0',
      ip: '10.20.0.2/24',
      gateway: '10.20.0.1',
      mtu: 1400,
    });
    assert.deepEqual(res, { hostIf, mac: '02:02:0a:14:00:02' });

    const eth0 = await link(c.name, 'eth0');
    assert.equal(eth0.address, '02:02:0a:14:00:02');
    assert.equal(eth0.mtu, 1400);
    assert.ok(eth0.flags.includes('UP'), `eth0 flags ${eth0.flags}`);
    assert.deepEqual(await addrs(c.name, 'eth0'), ['10.20.0.2/24']);
    assert.deepEqual(
      (await defaultRoutes(c.name)).map((r) => [r.gateway, r.dev]),
      [['10.20.0.1', 'eth0']],
    );
    assert.equal(await txChecksumming(c.name, 'eth0'), 'off');
    // Only eth0 in the container; only the host end (no temporary peer name) on the host side.
    assert.deepEqual(await linkNames(c.name), ['eth0']);
    assert.deepEqual(await linkNames(host.name), [hostIf]);
    const hostEnd = await link(host.name, hostIf);
    assert.ok(hostEnd.flags.includes('UP'));
    assert.equal(hostEnd.mtu, 1400);
    assert.equal(hostEnd.link_index, eth0.ifindex);
    assert.equal(await txChecksumming(host.name, hostIf), 'off');
    assert.equal(await readMac('eth0', c.name), '02:02:0a:14:00:02');
    assert.equal(await readMac(hostIf, { name: host.name }), hostEnd.address);

    // Second run: adopts the same pair, no error, nothing differs (same ifindexes, same state).
    const snapshot = async () => ({
      c: await links(c.name),
      h: await links(host.name),
      a: await addrs(c.name, 'eth0'),
      r: await defaultRoutes(c.name),
    });
    const before1 = await snapshot();
    const again = await plugContainer({
      hostNetns: host.name,
      hostIf,
      netns: { name: c.name },
      ifName: 'eth0',
      ip: '10.20.0.2/24',
      gateway: '10.20.0.1',
      mtu: 1400,
    });
    assert.deepEqual(again, res);
    assert.deepEqual(await snapshot(), before1);

    // configureInterface alone, twice, with the same spec: nothing changes either.
    const spec = {
      netns: c.name,
      ifName: 'eth0',
      mac: '02:02:0a:14:00:02',
      mtu: 1400,
      addresses: ['10.20.0.2/24'],
      up: true,
      defaultGateway: '10.20.0.1',
    };
    await configureInterface(spec);
    await configureInterface(spec);
    assert.deepEqual(await snapshot(), before1);
    await c.destroy();
    // The kernel tears a namespace down asynchronously: the veth goes shortly after.
    for (let i = 0; i < 100 && (await linkExists(hostIf, host.name)); i++) await sleep(20);
    assert.equal(await linkExists(hostIf, host.name), false);
  });

  test('plugContainer into a namespace named by the pid of a process in it, and by path', async () => {
    const c = await addNamespace();
    const sleeper = sleeperIn(c.name);
    assert.ok(sleeper.pid);
    const hostIf = uniqueName('v');
    const res = await plugContainer({
      hostNetns: { name: host.name },
      hostIf,
      netns: { pid: sleeper.pid },
      ifName: 'eth1',
      ip: '10.21.0.5/16',
      gateway: '10.21.255.254',
      mac: '02:AA:00:00:00:05',
    });
    assert.equal(res.mac, '02:aa:00:00:00:05');
    const eth1 = await link(c.name, 'eth1');
    assert.equal(eth1.address, '02:aa:00:00:00:05');
    assert.equal(eth1.mtu, 1500);
    assert.deepEqual(await addrs(c.name, 'eth1'), ['10.21.0.5/16']);
    assert.deepEqual(
      (await defaultRoutes(c.name)).map((r) => [r.gateway, r.dev]),
      [['10.21.255.254', 'eth1']],
    );
    assert.equal(await txChecksumming(c.name, 'eth1'), 'off');
    assert.equal(await txChecksumming(host.name, hostIf), 'off');
    // By path: the same namespace through its bind mount, a second interface without a gateway.
    const hostIf2 = uniqueName('v');
    await plugContainer({
      hostNetns: { path: `/var/run/netns/${host.name}` },
      hostIf: hostIf2,
      netns: { path: `/var/run/netns/${c.name}` },
      ifName: 'eth2',
      ip: '10.22.0.5/24',
    });
    assert.deepEqual(await addrs(c.name, 'eth2'), ['10.22.0.5/24']);
    assert.equal((await link(c.name, 'eth2')).address, '02:02:0a:16:00:05');
    assert.deepEqual((await linkNames(c.name)).sort(), ['eth1', 'eth2']);
    await deleteLink(hostIf, host.name);
    await deleteLink(hostIf2, host.name);
    assert.deepEqual(await linkNames(c.name), []);
  });

  test('a failing step midway (unreachable gateway) leaves no veth behind, and names the command', async () => {
    const c = await addNamespace();
    const hostIf = uniqueName('v');
    await assert.rejects(
      plugContainer({
        hostNetns: host.name,
        hostIf,
        netns: { name: c.name },
        ifName: 'eth0',
        ip: '10.23.0.2/24',
        gateway: '10.99.0.1', // not on the link: the kernel refuses the route after everything else is done
      }),
      (err: unknown) => {
        assert.ok(err instanceof HostCommandError, String(err));
        assert.match(err.message, /ip -4 route replace default via 10\.99\.0\.1 dev eth0/);
        assert.match(err.message, /invalid gateway|unreachable/i);
        return true;
      },
    );
    assert.deepEqual(await linkNames(c.name), []);
    assert.deepEqual(await linkNames(host.name), []);

    // A name already taken in the container fails after the move: the pair goes again.
    // (No dummy module in this kernel: a veth pair stands in.)
    await run('ip', ['-n', c.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'occupier']);
    await assert.rejects(
      plugContainer({
        hostNetns: host.name,
        hostIf,
        netns: { name: c.name },
        ifName: 'eth0',
        ip: '10.23.0.2/24',
      }),
      /File exists/,
    );
    assert.deepEqual((await linkNames(c.name)).sort(), ['eth0', 'occupier']);
    assert.deepEqual(await linkNames(host.name), []);

    // An existing hostIf that is a veth but not peered with the container's eth0 is refused and left alone.
    await run('ip', ['-n', host.name, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'other']);
    await assert.rejects(
      plugContainer({
        hostNetns: host.name,
        hostIf,
        netns: { name: c.name },
        ifName: 'eth0',
        ip: '10.23.0.2/24',
      }),
      /already exists .* not a veth peered with "eth0"/,
    );
    assert.equal(await linkExists(hostIf, host.name), true);
    await deleteLink(hostIf, host.name);
  });

  test('veth pair, move, rename; deleteLink and linkExists on missing links', async () => {
    const c = await addNamespace();
    const a = uniqueName('v');
    const b = uniqueName('v');
    await createVethPair(a, b, { netns: host.name });
    await assert.rejects(createVethPair(a, uniqueName('v'), { netns: host.name }), (err: unknown) => {
      assert.ok(err instanceof HostCommandError);
      assert.match(err.message, /ip link add .* type veth/);
      assert.match(err.stderr, /File exists/);
      return true;
    });
    await moveToNetns(b, { name: c.name }, { fromNetns: host.name });
    assert.equal(await linkExists(b, host.name), false);
    assert.equal(await linkExists(b, c.name), true);
    await configureInterface({ netns: c.name, ifName: b, rename: 'in0', up: true, mtu: 9000 });
    // Run again: the link is found under its new name.
    await configureInterface({ netns: c.name, ifName: b, rename: 'in0', up: true, mtu: 9000 });
    const in0 = await link(c.name, 'in0');
    assert.equal(in0.mtu, 9000);
    assert.ok(in0.flags.includes('UP'));
    await configureInterface({ netns: c.name, ifName: 'in0', up: false });
    assert.ok(!(await link(c.name, 'in0')).flags.includes('UP'));
    await assert.rejects(configureInterface({ netns: c.name, ifName: 'nope0' }), /no link "nope0" in netns/);
    await deleteLink(a, host.name);
    await deleteLink(a, host.name); // missing: no error
    assert.equal(await linkExists('in0', c.name), false);
    await assert.rejects(readMac('nope0', c.name), /no link "nope0"/);
  });
});
