// Proves that a watch which ends by itself is reported to its owner (Store.watch's onError), on a
// real etcd stopped under the watcher and on the embedded store closed under it, and that the
// watch-fed PrefixCache notices (it stops vouching for its copy) instead of going silently stale.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PrefixCache } from '../../state/cache.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { EtcdStore } from '../../state/etcd.js';
import { elect } from '../../state/leader.js';
import type { WatchEvent } from '../../state/store.js';
import { runCleanups } from '../harness/cleanup.js';
import { startEtcd } from '../harness/etcd.js';
import { tempDirPrefix } from '../harness/names.js';
import { missingFor } from '../harness/require.js';

after(async () => {
  await runCleanups();
});

async function until(what: string, ms: number, cond: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

const missing = missingFor('etcd');
const skipEtcd = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

test(
  'etcd stopped under a watcher: the watch reports its end once and delivers nothing after',
  { skip: skipEtcd },
  async () => {
    const etcd = await startEtcd();
    const store = await EtcdStore.connect([etcd.endpoint], { dialTimeoutMs: 1000 });
    try {
      const events: WatchEvent[] = [];
      const errors: Error[] = [];
      await store.watch('/w/', (e) => events.push(e), { onError: (err) => errors.push(err) });
      const cache = await PrefixCache.open(store, ['/w/'], { retryMs: 50 });
      const cacheErrors: Error[] = [];
      // A second cache with its own onError, to see the owner told.
      const told = await PrefixCache.open(store, ['/w/'], { onError: (err) => cacheErrors.push(err) });
      await store.put('/w/a', '1');
      await until('the event', 5000, () => events.length === 1 && cache.get('/w/a')?.value === '1');
      assert.equal(cache.ready, true);

      await etcd.stop();
      await until('the watch end reported', 10_000, () => errors.length > 0);
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /etcd watch on \/w\/ lost its stream|canceled|cancelled/i);
      await until('the cache owner told', 10_000, () => cacheErrors.length > 0);
      assert.equal(cache.ready, false, 'a cache whose watch broke no longer vouches for its copy');
      assert.equal(told.ready, false);
      await sleep(300);
      assert.equal(errors.length, 1, 'reported once');
      assert.equal(events.length, 1);
      await cache.close();
      await told.close();
    } finally {
      await store.close();
    }
  },
);

test('embedded store closed under a watcher: the watch reports its end', async () => {
  const dir = await mkdtemp(tempDirPrefix('watch-end'));
  try {
    const store = await EmbeddedStore.open(dir);
    const errors: Error[] = [];
    const events: WatchEvent[] = [];
    await store.watch('/w/', (e) => events.push(e), { onError: (err) => errors.push(err) });
    const closedByOwner: Error[] = [];
    const w2 = await store.watch('/w/', () => {}, { onError: (err) => closedByOwner.push(err) });
    await w2.close();
    await store.put('/w/a', '1');
    await until('the event', 2000, () => events.length === 1);
    await store.close();
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /closed/);
    assert.deepEqual(closedByOwner, [], 'a watch its owner closed is not reported');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  'etcd away and back: the cache rebuilds itself, and a follower still hears the leader resign at once',
  { skip: skipEtcd },
  async () => {
    const etcd = await startEtcd();
    const a = await EtcdStore.connect([etcd.endpoint], { dialTimeoutMs: 1000 });
    const b = await EtcdStore.connect([etcd.endpoint], { dialTimeoutMs: 1000 });
    try {
      // TTL 20 s: the once-per-TTL recheck cannot be what notices the resign below.
      const leader = await elect(a, { id: 'a', address: 'http://a', ttlSec: 20 });
      const follower = await elect(b, { id: 'b', address: 'http://b', ttlSec: 20 });
      assert.equal(leader.isLeader, true);
      assert.equal(follower.isLeader, false);
      const cache = await PrefixCache.open(b, ['/w/'], { retryMs: 50 });

      await etcd.restart();
      await until('the cache noticing the broken watch', 10_000, () => !cache.ready);
      await until('the cache rebuilt', 15_000, () => cache.ready);
      await a.put('/w/after', 'yes');
      await until(
        'a write after the restart in the cache',
        5000,
        () => cache.get('/w/after')?.value === 'yes',
      );

      // The follower's leader watch was re-established: a resign is seen well within the TTL.
      await sleep(1500);
      const t0 = Date.now();
      await leader.resign();
      await until('the follower taking over', 5000, () => follower.isLeader);
      assert.ok(Date.now() - t0 < 5000);
      await follower.resign();
      await cache.close();
    } finally {
      await a.close();
      await b.close();
      await etcd.stop();
    }
  },
);
