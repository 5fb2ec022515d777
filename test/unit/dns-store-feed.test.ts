// Owns the tests of keeping the DNS registry equal to the store: the first listing, events from
// the listed revision on, and a fresh listing after a watch ends by itself.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NameRegistry } from '../../dns/registry.js';
import { feedRegistry } from '../../dns/store-feed.js';
import { EmbeddedStore } from '../../state/embedded.js';
import type { Store, WatchEvent, Watcher, WatchOptions } from '../../state/store.js';

const key = (id: string) => `/contiv.io/oper/endpoints/${id}`;
const ep = (name: string, ip: string) =>
  JSON.stringify({
    tenant: 'default',
    network: 'net',
    endpointGroup: '',
    containerName: name,
    ipAddress: ip,
  });

/** The store, except that its watches can be made to end by themselves (as an etcd cancel does). */
class BreakableStore {
  readonly ends: (() => void)[] = [];
  watches = 0;
  constructor(readonly inner: Store) {}
  revision() {
    return this.inner.revision();
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  async watch(prefix: string, fn: (e: WatchEvent) => void, opts: WatchOptions = {}): Promise<Watcher> {
    this.watches++;
    let live = true;
    const w = await this.inner.watch(prefix, (e) => live && fn(e), opts);
    this.ends.push(() => {
      live = false;
      void w.close();
      opts.onError?.(new Error('watch cancelled'));
    });
    return { close: () => w.close() };
  }
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > 2000) assert.fail(`${what}: not within 2 s`);
    await sleep(10);
  }
}

describe('dns store feed', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('lists, follows events, and lists again after a watch ends by itself', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dns-feed-'));
    dirs.push(dir);
    const store = await EmbeddedStore.open(dir);
    try {
      await store.put(key('a'), ep('alpha', '10.0.0.1'));
      const breakable = new BreakableStore(store);
      const registry = new NameRegistry();
      const errors: Error[] = [];
      const feed = feedRegistry(breakable as unknown as Store, registry, {
        onError: (e) => errors.push(e),
        retryMs: 10,
      });
      await feed.ready;
      assert.deepEqual(registry.lookup('default', 'alpha'), { v4: ['10.0.0.1'], v6: [] });
      await store.put(key('b'), ep('beta', '10.0.0.2'));
      await until('beta', () => registry.lookup('default', 'beta') !== undefined);
      // The watch ends; meanwhile a write it never delivers: the new listing must bring it.
      const watchesBefore = breakable.watches;
      for (const end of breakable.ends.splice(0)) end();
      await store.put(key('c'), ep('gamma', '10.0.0.3'));
      await store.delete(key('a'));
      await until('gamma after re-listing', () => registry.lookup('default', 'gamma') !== undefined);
      await until('alpha gone', () => registry.lookup('default', 'alpha') === undefined);
      assert.ok(breakable.watches > watchesBefore, 'watched again');
      assert.equal(errors.length, 1);
      // And events flow again on the new watches.
      await store.put(key('d'), ep('delta', '10.0.0.4'));
      await until('delta', () => registry.lookup('default', 'delta') !== undefined);
      await feed.close();
    } finally {
      await store.close();
    }
  });
});
