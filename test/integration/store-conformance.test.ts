// The Store conformance suite (test/harness/store-conformance.ts) on the embedded store and a real
// etcd, and what is particular to each.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { CompactedError, EmbeddedStore } from '../../state/embedded.js';
import { EtcdStore } from '../../state/etcd.js';
import { openStore } from '../../state/index.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { type EtcdInstance, startEtcd } from '../harness/etcd.js';
import { tempDirPrefix } from '../harness/names.js';
import { missingFor } from '../harness/require.js';
import { storeConformance } from '../harness/store-conformance.js';

// ---- the embedded store: a fresh one per test
storeConformance('EmbeddedStore', async () => {
  const dir = await mkdtemp(tempDirPrefix('store'));
  const store = await EmbeddedStore.open(dir);
  onCleanup(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, prefix: '/t/' };
});

// ---- etcd: one private server, a prefix per test
const missing = missingFor('etcd');
const skipEtcd = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;
describe('etcd', { skip: skipEtcd }, () => {
  let etcd: EtcdInstance;
  let n = 0;
  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    etcd = await startEtcd();
  });
  test('openStore picks etcd when endpoints are given, else the embedded store', async () => {
    const viaEtcd = await openStore({ etcdEndpoints: [etcd.endpoint] });
    onCleanup(() => viaEtcd.close());
    assert.ok(viaEtcd instanceof EtcdStore);
    const dir = await mkdtemp(tempDirPrefix('open'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const embedded = await openStore({ dataDir: dir });
    onCleanup(() => embedded.close());
    assert.ok(embedded instanceof EmbeddedStore);
    await assert.rejects(openStore({ etcdEndpoints: ['127.0.0.1:1'] }), /does not answer/);
  });
  test('a watch from a compacted revision is refused with CompactedError', async () => {
    const store = await EtcdStore.connect([etcd.endpoint]);
    onCleanup(() => store.close());
    const r1 = await store.put('/compact/a', '1');
    const r2 = await store.put('/compact/a', '2');
    const raw = new Etcd3({ hosts: `http://${etcd.endpoint}` });
    try {
      await raw.kv.compact({ revision: r2, physical: true });
    } finally {
      raw.close();
    }
    await assert.rejects(
      store.watch('/compact/', () => {}, { fromRevision: r1 }),
      CompactedError,
    );
    const w = await store.watch('/compact/', () => {}, { fromRevision: r2 });
    await w.close();
  });
  storeConformance('EtcdStore', async () => {
    const store = await EtcdStore.connect([etcd.endpoint]);
    onCleanup(() => store.close());
    n++;
    return { store, prefix: `/t${n}/` };
  });
});

after(runCleanups);
