// Proves netmaster's group commit (api/rest/batch.ts): writes batched into one transaction each
// land only if their own compares hold; a write whose compares fail does not sink the others, and
// gets back what it read; writes touching the same key never share a transaction.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { test } from 'node:test';
import { holds, TxnBatcher } from '../../api/rest/batch.js';
import { EmbeddedStore } from '../../state/embedded.js';
import type { Compare, Store, TxnOp } from '../../state/store.js';
import { tempDirPrefix } from '../harness/names.js';

async function withStore(fn: (s: EmbeddedStore) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(tempDirPrefix('txn-batch'));
  const s = await EmbeddedStore.open(dir);
  try {
    await fn(s);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Counts the store's transactions. */
function counting(s: Store): { store: Store; txns: () => number } {
  let n = 0;
  const store = Object.create(s) as Store;
  store.txn = (c: Compare[], ok: TxnOp[], ko?: TxnOp[]) => {
    n++;
    return s.txn(c, ok, ko);
  };
  return { store, txns: () => n };
}

const absent = (key: string): Compare => ({ key, target: 'create', op: '==', value: 0 });
const put = (key: string, value = 'v'): TxnOp => ({ type: 'put', key, value });

test('batched writes share transactions; a failing one neither lands nor sinks the others', async () => {
  await withStore(async (s) => {
    await s.put('/p/parent', 'x');
    const parent = (await s.get('/p/parent'))!;
    await s.put('/k/taken', 'already');
    const { store, txns } = counting(s);
    const b = new TxnBatcher(store, { maxInFlight: 1 });
    const items = Array.from({ length: 20 }, (_, i) => {
      const key = i === 7 ? '/k/taken' : `/k/${i}`;
      const compares: Compare[] = [
        absent(key),
        { key: '/p/parent', target: 'mod', op: '==', value: parent.modRevision },
      ];
      return b.submit({ compares, ops: [put(key, String(i))], readBack: [key, '/p/parent'] });
    });
    const out = await Promise.all(items);
    for (const [i, o] of out.entries()) assert.equal(o.succeeded, i !== 7, `item ${i}`);
    assert.equal(out[7]!.reads[0]?.value, 'already', 'the failed write gets the key as it was');
    assert.equal(out[7]!.reads[1]?.modRevision, parent.modRevision);
    for (let i = 0; i < 20; i++) if (i !== 7) assert.equal((await s.get(`/k/${i}`))?.value, String(i));
    assert.equal((await s.get('/k/taken'))?.value, 'already');
    assert.ok(txns() < 20, `20 writes took ${txns()} transactions`);
  });
});

test('two writes of one key never share a transaction; the second sees the first', async () => {
  await withStore(async (s) => {
    const b = new TxnBatcher(s, { maxInFlight: 1 });
    const w = () => b.submit({ compares: [absent('/x')], ops: [put('/x')], readBack: ['/x'] });
    const [a, c] = await Promise.all([w(), w()]);
    assert.deepEqual([a.succeeded, c.succeeded], [true, false]);
    assert.equal(c.reads[0]?.value, 'v');
  });
});

test('holds() mirrors etcd compare semantics on present and absent keys', () => {
  const kv = { key: '/a', value: 'v', createRevision: 3, modRevision: 5, version: 2 };
  assert.equal(holds({ key: '/a', target: 'mod', op: '==', value: 5 }, kv), true);
  assert.equal(holds({ key: '/a', target: 'create', op: '==', value: 0 }, kv), false);
  assert.equal(holds({ key: '/a', target: 'create', op: '==', value: 0 }, undefined), true);
  assert.equal(holds({ key: '/a', target: 'value', op: '==', value: 'v' }, kv), true);
  assert.equal(holds({ key: '/a', target: 'value', op: '!=', value: 'w' }, undefined), false);
  assert.equal(holds({ key: '/a', target: 'version', op: '>', value: 1 }, kv), true);
});
