// One conformance suite for the Store contract: revisions, list order, txn compares and ops,
// watches with replay, leases, concurrent CAS. Store tests run it against every implementation.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Compare, Lease, Store, WatchEvent } from '../../state/store.js';
import { waitFor } from './wait.js';

/** A fresh store (or a shared one) and a key prefix no other test uses. */
export type StoreFactory = () => Promise<{ store: Store; prefix: string }>;

export function storeConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    test('puts, gets and deletes keep etcd revision semantics', async () => {
      const { store, prefix: p } = await factory();
      const r0 = await store.revision();
      const r1 = await store.put(`${p}a`, '1');
      assert.equal(r1, r0 + 1);
      assert.deepEqual(await store.get(`${p}a`), {
        key: `${p}a`,
        value: '1',
        createRevision: r1,
        modRevision: r1,
        version: 1,
      });
      const r2 = await store.put(`${p}a`, '2');
      assert.equal(r2, r1 + 1);
      const kv = await store.get(`${p}a`);
      assert.equal(kv?.createRevision, r1);
      assert.equal(kv?.modRevision, r2);
      assert.equal(kv?.version, 2);
      assert.equal(await store.revision(), r2);
      assert.equal(await store.delete(`${p}a`), true);
      assert.equal(await store.revision(), r2 + 1);
      assert.equal(await store.get(`${p}a`), undefined);
      assert.equal(await store.delete(`${p}a`), false);
      assert.equal(await store.revision(), r2 + 1, 'deleting nothing is no write');
      const r3 = await store.put(`${p}a`, 'again');
      assert.equal((await store.get(`${p}a`))?.createRevision, r3, 'recreated key starts over');
      assert.equal((await store.get(`${p}a`))?.version, 1);
    });

    test('list returns the keys under the prefix in byte order', async () => {
      const { store, prefix: p } = await factory();
      const keys = ['b', 'a/2', 'a/10', 'a', 'c/x', 'B', 'z'];
      for (const k of keys) await store.put(`${p}l/${k}`, k);
      await store.put(`${p}m`, 'outside');
      const got = (await store.list(`${p}l/`)).map((kv) => kv.key.slice(`${p}l/`.length));
      assert.deepEqual(got, ['B', 'a', 'a/10', 'a/2', 'b', 'c/x', 'z']);
      assert.deepEqual(
        (await store.list(`${p}l/a`)).map((kv) => kv.value),
        ['a', 'a/10', 'a/2'],
      );
      assert.deepEqual(await store.list(`${p}nothing/`), []);
    });

    test('txn compares every target with every op', async () => {
      const { store, prefix: p } = await factory();
      const k = `${p}t`;
      const c1 = await store.put(k, 'b');
      const m2 = await store.put(k, 'b');
      const check = async (c: Omit<Compare, 'key'>, want: boolean, key = k) => {
        const res = await store.txn([{ key, ...c }], [], []);
        assert.equal(res.succeeded, want, `${key} ${c.target} ${c.op} ${c.value}`);
      };
      const nums: [Compare['target'], number][] = [
        ['version', 2],
        ['mod', m2],
        ['create', c1],
      ];
      for (const [target, have] of nums) {
        await check({ target, op: '==', value: have }, true);
        await check({ target, op: '==', value: have + 1 }, false);
        await check({ target, op: '!=', value: have + 1 }, true);
        await check({ target, op: '!=', value: have }, false);
        await check({ target, op: '<', value: have + 1 }, true);
        await check({ target, op: '<', value: have }, false);
        await check({ target, op: '>', value: have - 1 }, true);
        await check({ target, op: '>', value: have }, false);
        // An absent key has 0 for every number.
        await check({ target, op: '==', value: 0 }, true, `${p}absent`);
      }
      await check({ target: 'value', op: '==', value: 'b' }, true);
      await check({ target: 'value', op: '==', value: 'c' }, false);
      await check({ target: 'value', op: '!=', value: 'c' }, true);
      await check({ target: 'value', op: '!=', value: 'b' }, false);
      await check({ target: 'value', op: '<', value: 'c' }, true);
      await check({ target: 'value', op: '<', value: 'a' }, false);
      await check({ target: 'value', op: '>', value: 'a' }, true);
      await check({ target: 'value', op: '>', value: 'b' }, false);
      await check({ target: 'value', op: '!=', value: 'x' }, false, `${p}absent`);
      // All compares must hold.
      const both = await store.txn(
        [
          { key: k, target: 'version', op: '==', value: 2 },
          { key: k, target: 'value', op: '==', value: 'nope' },
        ],
        [],
      );
      assert.equal(both.succeeded, false);
    });

    test('txn runs one branch atomically at one revision, reads see the state before it', async () => {
      const { store, prefix: p } = await factory();
      await store.put(`${p}x`, 'old');
      await store.put(`${p}d/1`, '1');
      await store.put(`${p}d/2`, '2');
      const before = await store.revision();
      const res = await store.txn(
        [{ key: `${p}x`, target: 'value', op: '==', value: 'old' }],
        [
          { type: 'get', key: `${p}x` },
          { type: 'put', key: `${p}x`, value: 'new' },
          { type: 'put', key: `${p}y`, value: 'y' },
          { type: 'deletePrefix', prefix: `${p}d/` },
          { type: 'get', key: `${p}nothing` },
        ],
        [{ type: 'put', key: `${p}failed`, value: '1' }],
      );
      assert.equal(res.succeeded, true);
      assert.equal(res.revision, before + 1);
      assert.equal(res.reads.length, 5);
      assert.equal(res.reads[0]?.value, 'old');
      assert.equal(res.reads[1], undefined);
      assert.equal(res.reads[4], undefined);
      assert.equal((await store.get(`${p}x`))?.modRevision, before + 1);
      assert.equal((await store.get(`${p}y`))?.modRevision, before + 1);
      assert.deepEqual(await store.list(`${p}d/`), []);
      assert.equal(await store.get(`${p}failed`), undefined);

      const fail = await store.txn(
        [{ key: `${p}x`, target: 'value', op: '==', value: 'old' }],
        [{ type: 'put', key: `${p}x`, value: 'never' }],
        [
          { type: 'get', key: `${p}x` },
          { type: 'delete', key: `${p}y` },
        ],
      );
      assert.equal(fail.succeeded, false);
      assert.equal(fail.reads[0]?.value, 'new');
      assert.equal(fail.revision, before + 2);
      assert.equal(await store.get(`${p}y`), undefined);
      const ro = await store.txn([], [{ type: 'get', key: `${p}x` }]);
      assert.equal(ro.revision, before + 2, 'a read-only txn writes nothing');
    });

    test('watch sees live events and replays from a revision', async () => {
      const { store, prefix: p } = await factory();
      const r1 = await store.put(`${p}w/a`, '1');
      await store.put(`${p}other`, 'x');
      const r2 = await store.put(`${p}w/b`, '2');
      const r3 = await store.put(`${p}w/a`, '3');
      const live: WatchEvent[] = [];
      const replay: WatchEvent[] = [];
      const w1 = await store.watch(`${p}w/`, (e) => live.push(e));
      const w2 = await store.watch(`${p}w/`, (e) => replay.push(e), { fromRevision: r1 });
      try {
        const r4 = await store.delete(`${p}w/a`).then(() => store.revision());
        const r5 = await store.put(`${p}w/c`, '5');
        await store.put(`${p}x`, 'not watched');
        await waitFor('live events', () => live.length >= 2);
        await waitFor('replayed events', () => replay.length >= 5);
        await sleep(100);
        assert.deepEqual(live, [
          { type: 'delete', key: `${p}w/a`, value: '3', revision: r4 },
          { type: 'put', key: `${p}w/c`, value: '5', revision: r5 },
        ]);
        assert.deepEqual(
          replay.map((e) => [e.type, e.key, e.revision]),
          [
            ['put', `${p}w/a`, r1],
            ['put', `${p}w/b`, r2],
            ['put', `${p}w/a`, r3],
            ['delete', `${p}w/a`, r4],
            ['put', `${p}w/c`, r5],
          ],
        );
      } finally {
        await w1.close();
        await w2.close();
      }
      // A watcher resuming at lastSeen + 1 misses nothing and sees nothing twice.
      const resumed: WatchEvent[] = [];
      const from = await store.revision();
      const r6 = await store.put(`${p}w/d`, '6');
      const w3 = await store.watch(`${p}w/`, (e) => resumed.push(e), { fromRevision: from + 1 });
      try {
        const r7 = await store.put(`${p}w/e`, '7');
        await waitFor('resumed events', () => resumed.length >= 2);
        await sleep(100);
        assert.deepEqual(
          resumed.map((e) => e.revision),
          [r6, r7],
        );
      } finally {
        await w3.close();
      }
    });

    test('a closed watcher gets no more events', async () => {
      const { store, prefix: p } = await factory();
      const got: WatchEvent[] = [];
      const w = await store.watch(p, (e) => got.push(e));
      await store.put(`${p}1`, '1');
      await waitFor('first event', () => got.length === 1);
      await w.close();
      await store.put(`${p}2`, '2');
      await sleep(200);
      assert.equal(got.length, 1);
    });

    test('lease keys vanish on revoke and on expiry', async () => {
      const { store, prefix: p } = await factory();
      const lease = await store.grantLease(5);
      await store.put(`${p}l1`, 'v', { lease: lease.id });
      await store.txn([], [{ type: 'put', key: `${p}l2`, value: 'v', lease: lease.id }]);
      assert.equal((await store.get(`${p}l1`))?.lease, lease.id);
      assert.equal((await store.get(`${p}l2`))?.lease, lease.id);
      await store.put(`${p}plain`, 'v');
      assert.equal((await store.get(`${p}plain`))?.lease, undefined);
      await lease.revoke();
      assert.equal(await store.get(`${p}l1`), undefined);
      assert.equal(await store.get(`${p}l2`), undefined);
      assert.ok(await store.get(`${p}plain`));
      await assert.rejects(store.put(`${p}l3`, 'v', { lease: lease.id }));

      // Kept alive: survives several TTLs (etcd rounds TTLs up to its minimum, about 2 s).
      const kept = await store.grantLease(1);
      await store.put(`${p}kept`, 'v', { lease: kept.id });
      await sleep(2500);
      assert.ok(await store.get(`${p}kept`), 'a kept-alive lease keeps its key');
      // Abandoned (a dead holder): expires by itself.
      (kept as Lease & { abandon(): void }).abandon();
      await waitFor(
        'expiry of an abandoned lease',
        async () => (await store.get(`${p}kept`)) === undefined,
        8000,
      );
    });

    test('100 concurrent CAS increments of one counter give exactly 100', async () => {
      const { store, prefix: p } = await factory();
      const key = `${p}counter`;
      let conflicts = 0;
      const incr = async () => {
        for (;;) {
          const kv = await store.get(key);
          const n = kv ? Number(kv.value) : 0;
          const guard: Compare = kv
            ? { key, target: 'mod', op: '==', value: kv.modRevision }
            : { key, target: 'create', op: '==', value: 0 };
          const res = await store.txn([guard], [{ type: 'put', key, value: String(n + 1) }]);
          if (res.succeeded) return;
          conflicts++;
        }
      };
      await Promise.all(Array.from({ length: 100 }, incr));
      const kv = await store.get(key);
      assert.equal(kv?.value, '100');
      assert.equal(kv?.version, 100);
      assert.ok(conflicts > 0, 'the increments really raced');
    });
  });
}
