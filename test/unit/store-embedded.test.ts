// The embedded store on its own: revisions and txn semantics, persistence across reopen, watch replay and
// compaction, lease expiry and restart, the directory lock, torn-tail recovery at every offset, snapshots.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompactedError,
  type EmbeddedLease,
  EmbeddedStore,
  parseLog,
  StoreLockedError,
} from '../../state/embedded.js';
import type { Compare, WatchEvent } from '../../state/store.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { tempDirPrefix } from '../harness/names.js';
import { waitFor } from '../harness/wait.js';

after(runCleanups);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(tempDirPrefix('emb'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openIn(dir: string, opts = {}): Promise<EmbeddedStore> {
  const s = await EmbeddedStore.open(dir, opts);
  onCleanup(() => s.close());
  return s;
}

test('revisions, versions and values survive a reopen, and the counter continues', async () => {
  const dir = await tempDir();
  const s = await EmbeddedStore.open(dir);
  assert.equal(await s.revision(), 1, 'an empty store is at revision 1, like etcd');
  const r2 = await s.put('/a', '1');
  await s.put('/a', '2');
  await s.put('/b', 'b');
  await s.delete('/b');
  await s.txn(
    [],
    [
      { type: 'put', key: '/c', value: 'c' },
      { type: 'put', key: '/d', value: 'd' },
    ],
  );
  const before = await s.list('/');
  const rev = await s.revision();
  assert.equal(rev, 6);
  await s.close();
  const s2 = await openIn(dir);
  assert.deepEqual(await s2.list('/'), before);
  assert.equal(await s2.revision(), rev);
  assert.equal((await s2.get('/a'))?.createRevision, r2);
  assert.equal((await s2.get('/a'))?.version, 2);
  assert.equal(await s2.put('/e', 'e'), rev + 1);
});

test('txn compares: each target with each op, absent keys, value against absent is false', async () => {
  const s = await openIn(await tempDir());
  const c = await s.put('k', 'm');
  const m = await s.put('k', 'm');
  const cases: [Compare, boolean][] = [];
  for (const [target, have] of [
    ['version', 2],
    ['mod', m],
    ['create', c],
  ] as const) {
    cases.push(
      [{ key: 'k', target, op: '==', value: have }, true],
      [{ key: 'k', target, op: '!=', value: have }, false],
      [{ key: 'k', target, op: '<', value: have + 1 }, true],
      [{ key: 'k', target, op: '>', value: have }, false],
      [{ key: 'none', target, op: '==', value: 0 }, true],
      [{ key: 'none', target, op: '>', value: 0 }, false],
    );
  }
  cases.push(
    [{ key: 'k', target: 'value', op: '==', value: 'm' }, true],
    [{ key: 'k', target: 'value', op: '<', value: 'n' }, true],
    [{ key: 'k', target: 'value', op: '>', value: 'n' }, false],
    [{ key: 'k', target: 'value', op: '!=', value: 'm' }, false],
    [{ key: 'none', target: 'value', op: '!=', value: 'm' }, false],
    [{ key: 'none', target: 'value', op: '==', value: '' }, false],
  );
  for (const [cmp, want] of cases) {
    const res = await s.txn([cmp], [{ type: 'get', key: 'k' }], []);
    assert.equal(res.succeeded, want, JSON.stringify(cmp));
    assert.equal(res.reads.length, want ? 1 : 0);
  }
});

test('list is in byte order and bounded by the prefix', async () => {
  const s = await openIn(await tempDir());
  for (const k of ['/n/b', '/n/a/2', '/n/é', '/n/Z', '/n/a', '/m', '/o']) await s.put(k, k);
  assert.deepEqual(
    (await s.list('/n/')).map((kv) => kv.key),
    ['/n/Z', '/n/a', '/n/a/2', '/n/b', '/n/é'],
  );
  assert.equal((await s.list('')).length, 7);
});

test('watch replays from a revision, also after a reopen; revisions before the snapshot are compacted', async () => {
  const dir = await tempDir();
  const s = await EmbeddedStore.open(dir);
  const r1 = await s.put('/w/a', '1');
  await s.snapshot();
  const r2 = await s.put('/w/b', '2');
  await s.delete('/w/a');
  await s.close();
  const s2 = await openIn(dir);
  const got: WatchEvent[] = [];
  const w = await s2.watch('/w/', (e) => got.push(e), { fromRevision: r2 });
  const r4 = await s2.put('/w/c', '3');
  await waitFor('events', () => got.length === 3);
  assert.deepEqual(got, [
    { type: 'put', key: '/w/b', value: '2', revision: r2 },
    { type: 'delete', key: '/w/a', value: '1', revision: r2 + 1 },
    { type: 'put', key: '/w/c', value: '3', revision: r4 },
  ]);
  await w.close();
  await assert.rejects(
    s2.watch('/w/', () => {}, { fromRevision: r1 }),
    (err: unknown) => err instanceof CompactedError && err.oldestAvailable === r1 + 1,
  );
  // A future revision is allowed: the watcher starts there.
  const later: WatchEvent[] = [];
  await s2.watch('/w/', (e) => later.push(e), { fromRevision: r4 + 2 });
  await s2.put('/w/x', 'skipped');
  const r6 = await s2.put('/w/y', 'seen');
  await waitFor('future-start event', () => later.length === 1);
  assert.equal(later[0]?.revision, r6);
});

test('the in-memory history is bounded: older revisions report compaction', async () => {
  const s = await openIn(await tempDir(), { historyEvents: 10 });
  const first = await s.put('/h', '0');
  for (let i = 1; i < 30; i++) await s.put('/h', String(i));
  await assert.rejects(
    s.watch('/h', () => {}, { fromRevision: first }),
    CompactedError,
  );
  const rev = await s.revision();
  const got: number[] = [];
  await s.watch('/h', (e) => got.push(e.revision), { fromRevision: rev - 5 });
  await waitFor('replay', () => got.length === 6);
});

test('leases: an abandoned lease expires its keys and reports lost; revoke deletes at once', async () => {
  const s = await openIn(await tempDir(), { leaseTickMs: 20 });
  const lease = (await s.grantLease(0.3)) as EmbeddedLease;
  await s.put('/l/a', 'a', { lease: lease.id });
  await s.put('/l/b', 'b', { lease: lease.id });
  await sleep(600);
  assert.ok(await s.get('/l/a'), 'kept alive past its TTL');
  let lost: Error | undefined;
  lease.onLost((e) => {
    lost = e;
  });
  const events: WatchEvent[] = [];
  await s.watch('/l/', (e) => events.push(e));
  lease.abandon();
  await waitFor('expiry', async () => (await s.list('/l/')).length === 0, 2000);
  await waitFor('lost', () => lost !== undefined);
  await waitFor('delete events', () => events.length === 2);
  assert.equal(events[0]?.revision, events[1]?.revision, 'one revision deletes all the lease keys');
  await assert.rejects(s.put('/l/c', 'c', { lease: lease.id }), /lease .* not found/);

  const l2 = await s.grantLease(10);
  await s.put('/l/d', 'd', { lease: l2.id });
  await s.put('/l/d', 'plain'); // re-put without lease detaches it
  await s.put('/l/e', 'e', { lease: l2.id });
  await l2.revoke();
  assert.equal((await s.get('/l/d'))?.value, 'plain');
  assert.equal(await s.get('/l/e'), undefined);
});

test('leases survive a restart with a fresh TTL, then expire (their holder is gone)', async () => {
  const dir = await tempDir();
  const s = await EmbeddedStore.open(dir);
  const lease = await s.grantLease(1);
  await s.put('/r/a', 'a', { lease: lease.id });
  await s.close();
  const t0 = Date.now();
  const s2 = await openIn(dir, { leaseTickMs: 20 });
  assert.equal((await s2.get('/r/a'))?.lease, lease.id, 'still there right after the restart');
  await waitFor('expiry after restart', async () => (await s2.get('/r/a')) === undefined, 3000);
  assert.ok(Date.now() - t0 >= 900, 'not before a full TTL after the restart');
  const l2 = await s2.grantLease(5);
  assert.notEqual(l2.id, lease.id, 'lease ids are not reused');
});

test('the directory lock refuses a second opener, here and in another live process, and a stale lock is taken', async () => {
  const dir = await tempDir();
  const s = await EmbeddedStore.open(dir);
  await assert.rejects(EmbeddedStore.open(dir), (err: unknown) => {
    assert.ok(err instanceof StoreLockedError);
    assert.match(err.message, new RegExp(`locked by pid ${process.pid}`));
    return true;
  });
  await s.close();

  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  onCleanup(() => {
    sleeper.kill('SIGKILL');
  });
  await writeFile(join(dir, 'LOCK'), `${sleeper.pid}\n`);
  await assert.rejects(EmbeddedStore.open(dir), new RegExp(`locked by pid ${sleeper.pid}`));
  sleeper.kill('SIGKILL');
  await new Promise((r) => sleeper.once('exit', r));
  const s2 = await openIn(dir); // the owner is dead: the lock is stale
  assert.equal((await readFile(join(dir, 'LOCK'), 'utf8')).trim(), String(process.pid));
  await s2.close();
  await assert.rejects(stat(join(dir, 'LOCK')), /ENOENT/, 'close releases the lock');
});

test('torn tail: truncating the log at every offset of the last record loses only that record', async () => {
  const dir = await tempDir();
  const s = await EmbeddedStore.open(dir);
  for (let i = 0; i < 5; i++) await s.put(`/t/${i}`, `value-${i}`);
  await s.put('/t/last', 'the last acknowledged write, long enough to tear in many places');
  await s.close();
  const image = await readFile(join(dir, 'log'));
  const { records, validBytes } = parseLog(image);
  assert.equal(validBytes, image.length);
  assert.equal(records.length, 6);
  const lastStart = parseLog(image.subarray(0, image.length - 1)).validBytes;
  assert.ok(lastStart < image.length);
  const work = join(dir, 'torn');
  for (let cut = lastStart; cut <= image.length; cut++) {
    await rm(work, { recursive: true, force: true });
    await mkdir(work);
    await writeFile(join(work, 'log'), image.subarray(0, cut));
    const t = await EmbeddedStore.open(work);
    try {
      const keys = (await t.list('/t/')).map((kv) => kv.key);
      const whole = cut === image.length;
      assert.equal(keys.length, whole ? 6 : 5, `cut at ${cut}`);
      assert.equal(keys.includes('/t/last'), whole);
      // The store keeps working after recovery, and what it writes now is readable after a reopen.
      await t.put('/t/after', String(cut));
    } finally {
      await t.close();
    }
    const again = await EmbeddedStore.open(work);
    try {
      assert.equal((await again.get('/t/after'))?.value, String(cut), `reopen after cut ${cut}`);
      assert.equal((await again.get('/t/4'))?.value, 'value-4');
    } finally {
      await again.close();
    }
  }
  // A flipped byte inside the last record: the checksum rejects it, the earlier records stay.
  const bad = Buffer.from(image);
  bad[image.length - 3]! ^= 0x55;
  await rm(work, { recursive: true, force: true });
  await mkdir(work);
  await writeFile(join(work, 'log'), bad);
  const t = await openIn(work);
  assert.equal(await t.get('/t/last'), undefined);
  assert.equal((await t.list('/t/')).length, 5);
});

test('snapshots replace the log; reopen restores everything; a crash before truncation is harmless', async () => {
  const dir = await tempDir();
  const s = await EmbeddedStore.open(dir, { snapshotBytes: 4096 });
  for (let i = 0; i < 300; i++) await s.put(`/s/${i % 50}`, `v${i}`);
  const logSize = (await stat(join(dir, 'log'))).size;
  assert.ok(logSize < 4096 + 200, `log truncated by snapshots (${logSize} bytes)`);
  await stat(join(dir, 'snapshot'));
  const before = await s.list('/s/');
  const rev = await s.revision();
  await s.close();
  const s2 = await EmbeddedStore.open(dir);
  assert.deepEqual(await s2.list('/s/'), before);
  assert.equal(await s2.revision(), rev);

  // Keep the log as it was, snapshot, then put the old log back: as if we crashed before truncating.
  await s2.put('/s/extra', 'x');
  await s2.close();
  const oldLog = join(dir, 'log.before');
  await copyFile(join(dir, 'log'), oldLog);
  const s3 = await EmbeddedStore.open(dir);
  await s3.snapshot();
  const snapState = await s3.list('/s/');
  await s3.close();
  await copyFile(oldLog, join(dir, 'log'));
  const s4 = await openIn(dir);
  assert.deepEqual(await s4.list('/s/'), snapState, 'records already in the snapshot are not applied twice');
  assert.equal((await s4.get('/s/extra'))?.version, 1);
});

test('concurrent writers share fsyncs (throughput figure)', async (t) => {
  const s = await openIn(await tempDir());
  const writers = 16;
  const perWriter = 250;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) await s.put(`/p/${w}/${i}`, 'x'.repeat(100));
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = Math.round((writers * perWriter) / secs);
  t.diagnostic(`${writers} writers × ${perWriter} puts: ${rate} puts/s (each acknowledged after fdatasync)`);
  assert.equal((await s.list('/p/')).length, writers * perWriter);
});
