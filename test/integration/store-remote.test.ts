// The Store contract over netmaster's store API: the conformance suite through a real HTTP server
// in front of an embedded store, plus what is particular to it: write permissions, leases that
// lapse when their remote holder goes silent, watches that report their stream's end.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerStoreProxy } from '../../api/rest/store-proxy.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { RemoteStore, RemoteStoreError } from '../../state/remote.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { tempDirPrefix } from '../harness/names.js';
import { storeConformance } from '../harness/store-conformance.js';

async function serve(
  writable: (key: string) => boolean,
): Promise<{ app: FastifyInstance; backing: EmbeddedStore; url: string }> {
  const dir = await mkdtemp(tempDirPrefix('remote'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  const backing = await EmbeddedStore.open(dir);
  onCleanup(() => backing.close());
  const app = Fastify();
  registerStoreProxy(app, { store: backing, writable, heartbeatMs: 200 });
  onCleanup(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  assert.ok(addr && typeof addr === 'object');
  return { app, backing, url: `http://127.0.0.1:${addr.port}` };
}

function client(url: string): RemoteStore {
  const store = new RemoteStore(url);
  onCleanup(() => store.close());
  return store;
}

storeConformance('RemoteStore (netmaster store API over an embedded store)', async () => {
  const { url } = await serve(() => true);
  return { store: client(url), prefix: '/conf/' };
});

describe('RemoteStore specifics', () => {
  test('writes outside the writable keys are refused, with the key named; reads are not', async () => {
    const { url, backing } = await serve((k) => k.startsWith('/contiv.io/oper/hosts/'));
    const store = client(url);
    await backing.put('/contiv.io/config/tenant/default', '{}');
    assert.equal((await store.get('/contiv.io/config/tenant/default'))?.value, '{}');
    await store.put('/contiv.io/oper/hosts/h1', 'x');
    await assert.rejects(store.put('/contiv.io/config/tenant/evil', '{}'), (e: unknown) => {
      assert.ok(e instanceof RemoteStoreError);
      assert.equal(e.status, 403);
      assert.match(e.message, /key \/contiv.io\/config\/tenant\/evil: not writable/);
      return true;
    });
    await assert.rejects(store.txn([], [{ type: 'deletePrefix', prefix: '/contiv.io/' }]), /not writable/);
    assert.ok(await backing.get('/contiv.io/config/tenant/default'), 'nothing was deleted');
  });

  test('a lease whose remote holder goes silent lapses and takes its keys', async () => {
    const { url, backing } = await serve(() => true);
    const holder = new RemoteStore(url);
    const lease = await holder.grantLease(1);
    await holder.put('/hosts/h1', 'up', { lease: lease.id });
    await sleep(1500);
    assert.ok(await backing.get('/hosts/h1'), 'renewed while the holder lives');
    await holder.close();
    // Renewals stop with the holder; the proxy revokes after one TTL without one.
    const deadline = Date.now() + 4000;
    while ((await backing.get('/hosts/h1')) && Date.now() < deadline) await sleep(100);
    assert.equal(await backing.get('/hosts/h1'), undefined);
  });

  test('a watch whose stream ends reports it once', async () => {
    const { url, app } = await serve(() => true);
    const store = new RemoteStore(url);
    const events: string[] = [];
    let ended: Error | undefined;
    let endings = 0;
    await store.watch('/w/', (e) => events.push(e.key), {
      onError: (err) => {
        ended = err;
        endings++;
      },
    });
    await store.put('/w/a', '1');
    while (events.length < 1) await sleep(20);
    await app.close();
    const deadline = Date.now() + 3000;
    while (!ended && Date.now() < deadline) await sleep(20);
    assert.ok(ended, 'onError called');
    await sleep(100);
    assert.equal(endings, 1);
    await store.close();
  });
});

after(runCleanups);
