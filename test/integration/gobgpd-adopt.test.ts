// gobgpd's supervisor on a real gobgpd (no BGP session: StartBgp is never called, so nothing
// listens on port 179): left running by a stopped supervisor, adopted by the next one with its
// state intact; one not answering on the recorded address replaced; a dead one restarted; a
// leftover stopped; the API address given as HOST:PORT.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { GobgpApi } from '../../datapath/bgp/gobgp-api.js';
import { type GobgpdOptions, GobgpdSupervisor, parseGobgpApi } from '../../datapath/bgp/gobgpd.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { tempDirPrefix } from '../harness/names.js';
import { missingFor } from '../harness/require.js';
import { waitFor } from '../harness/wait.js';

const missing = missingFor('gobgpd');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A supervisor started, and its first 'up'. */
async function up(opts: GobgpdOptions): Promise<{ s: GobgpdSupervisor; api: GobgpApi; adopted: boolean }> {
  const s = new GobgpdSupervisor(opts);
  onCleanup(() => s.stop({ kill: true }));
  const [api, how] = await new Promise<[GobgpApi, { adopted: boolean }]>((resolve) => {
    s.once('up', (a, h) => resolve([a, h]));
    s.start();
  });
  return { s, api, adopted: how.adopted };
}

describe('gobgpd supervisor: adoption across restarts', { skip }, () => {
  after(() => runCleanups());

  const stateDir = async () => {
    const d = await mkdtemp(tempDirPrefix('gbd'));
    onCleanup(() => rm(d, { recursive: true, force: true }));
    return d;
  };

  test('left running, adopted with its state; killed, restarted; stopped for good', async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    const dir = await stateDir();
    const first = await up({ stateDir: dir });
    assert.equal(first.adopted, false);
    const pid = first.s.pid as number;
    assert.ok(existsSync(join(dir, 'gobgpd.pid')));
    // State only a running gobgpd keeps: its global config and a path (no listener: this
    // namespace is shared).
    await first.api.startBgp(65001, '10.0.0.1', -1);
    await first.api.addPath('20.9.9.9/32', '10.0.0.1');
    await first.s.stop({ kill: false });
    assert.ok(alive(pid), 'gobgpd outlives its supervisor');

    const second = await up({ stateDir: dir });
    assert.equal(second.adopted, true);
    assert.equal(second.s.pid, pid);
    assert.deepEqual(await second.api.globalAs(), { asn: 65001, routerId: '10.0.0.1' });
    const rib = await second.api.listRib({ originated: true });
    assert.deepEqual(
      rib.originated.map((p) => [p.prefix, p.nextHop]),
      [['20.9.9.9/32', '10.0.0.1']],
    );

    // Dead while adopted (not our child): noticed by polling, a fresh one started.
    const exited = new Promise((resolve) => second.s.once('exit', resolve));
    const again = new Promise<boolean>((resolve) => second.s.once('up', (_a, h) => resolve(h.adopted)));
    process.kill(pid, 'SIGKILL');
    await exited;
    assert.equal(await again, false);
    const pid2 = second.s.pid as number;
    assert.notEqual(pid2, pid);
    assert.equal(second.s.restartCount, 1);

    // Stopped for good: gone, and nothing left to adopt.
    await second.s.stop({ kill: true });
    await waitFor('gobgpd gone', () => !alive(pid2));
    assert.equal(existsSync(join(dir, 'gobgpd.pid')), false);
  });

  test('a gobgpd listening on another address is replaced, not adopted', async () => {
    const dir = await stateDir();
    const a = await up({ stateDir: dir });
    const pid = a.s.pid as number;
    await a.s.stop({ kill: false });
    const b = await up({ stateDir: dir, api: `unix://${join(dir, 'other.sock')}` });
    assert.equal(b.adopted, false);
    assert.notEqual(b.s.pid, pid);
    await waitFor('the old one gone', () => !alive(pid));
  });

  test('HOST:PORT API address; a leftover stopped', async () => {
    const dir = await stateDir();
    // A port of our own (pid-derived): others run tests on this machine too.
    const port = 40_000 + (process.pid % 20_000);
    const a = await up({ stateDir: dir, api: `127.0.0.1:${port}` });
    assert.equal(a.api.target, `127.0.0.1:${port}`);
    const pid = a.s.pid as number;
    await a.s.stop({ kill: false });
    assert.equal(await GobgpdSupervisor.stopLeftover(dir), true);
    assert.ok(!alive(pid));
    assert.equal(await GobgpdSupervisor.stopLeftover(dir), false);
  });

  test('a state dir that cannot be made is reported and retried, not a crash', async () => {
    const dir = await stateDir();
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const s = new GobgpdSupervisor({ stateDir: join(file, 'sub') });
    const exit = new Promise<{ stderr: string }>((resolve) => s.once('exit', resolve));
    s.start();
    assert.match((await exit).stderr, /ENOTDIR/);
    await s.stop({ kill: true });
  });

  test('the API address is checked, naming the flag', () => {
    assert.equal(parseGobgpApi('--bgp-api', 'unix:///run/x.sock'), 'unix:///run/x.sock');
    assert.equal(parseGobgpApi('--bgp-api', '127.0.0.1:50051'), '127.0.0.1:50051');
    assert.equal(parseGobgpApi('--bgp-api', '[::1]:50051'), '[::1]:50051');
    for (const bad of ['unix://rel.sock', '50051', 'host:0', 'host:x', '/run/x.sock']) {
      assert.throws(
        () => parseGobgpApi('--bgp-api', bad),
        /--bgp-api: ".*" is not unix:\/\/\/PATH or HOST:PORT/,
      );
    }
  });
});
