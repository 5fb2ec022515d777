// netmaster's wait for the Docker hosts after a network or group write: on the hosts' marks in a
// real (embedded) store, with the marks written as netplugins write them.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { DockerSyncWait } from '../../api/rest/docker-sync-wait.js';
import { buildServer } from '../../api/rest/server.js';
import { type DockerSyncMark, dockerSyncKey } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';

describe('DockerSyncWait', () => {
  let dir: string;
  let store: EmbeddedStore;
  let wait: DockerSyncWait;
  const warned: object[] = [];
  const mark = (host: string, m: DockerSyncMark, lease?: string) =>
    store.put(dockerSyncKey(host), JSON.stringify(m), lease ? { lease } : {});

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'docker-sync-wait-'));
    store = await EmbeddedStore.open(dir);
    wait = await DockerSyncWait.open(store, { limitMs: 300, log: { warn: (o: object) => warned.push(o) } });
  });
  after(async () => {
    await wait.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('no host with Docker: nothing to wait for', async () => {
    const t0 = Date.now();
    await wait.until((await store.revision()) + 100);
    assert.ok(Date.now() - t0 < 50);
  });

  test('answers when the last host behind catches up, not before', async () => {
    await mark('h1', { revision: 1 });
    await mark('h/2', { revision: 1 });
    const target = await store.revision();
    await sleep(20);
    assert.deepEqual(wait.behind(target).sort(), ['h/2', 'h1']);
    let done = false;
    const waiting = wait.until(target).then(() => {
      done = true;
    });
    await mark('h1', { revision: target });
    await sleep(30);
    assert.equal(done, false, 'h/2 is still behind');
    await mark('h/2', { revision: target + 5 });
    await waiting;
    assert.deepEqual(wait.behind(target), []);
  });

  test("a failing host's engine is not waited for", async () => {
    const target = (await store.revision()) + 1;
    await mark('h1', { revision: 2, error: 'connect ENOENT /var/run/docker.sock' });
    await mark('h/2', { revision: target });
    const t0 = Date.now();
    await wait.until(target);
    assert.ok(Date.now() - t0 < 250, 'answered without waiting for the limit');
  });

  test('a host that never catches up holds the answer for the limit only, and is named in the log', async () => {
    await store.delete(dockerSyncKey('h/2'));
    await mark('h1', { revision: 1 });
    const target = await store.revision();
    warned.length = 0;
    const t0 = Date.now();
    await wait.until(target);
    const took = Date.now() - t0;
    assert.ok(took >= 290 && took < 1000, `waited ${took} ms`);
    assert.deepEqual((warned[0] as { hosts: string[] }).hosts, ['h1']);
  });

  test('a host that dies (its lease gone) stops holding answers', async () => {
    await store.delete(dockerSyncKey('h1'));
    const lease = await store.grantLease(30);
    await mark('h3', { revision: 1 }, lease.id);
    const target = await store.revision();
    const t0 = Date.now();
    const waiting = wait.until(target);
    await sleep(30);
    await lease.revoke();
    await waiting;
    assert.ok(Date.now() - t0 < 250, 'released by the mark going, not by the limit');
  });
});

describe('network and group writes wait for the Docker hosts', () => {
  let dir: string;
  let store: EmbeddedStore;
  let api: FastifyInstance;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'docker-sync-rest-'));
    store = await EmbeddedStore.open(dir);
    api = buildServer({ store });
    await api.ready();
  });
  after(async () => {
    await api.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  // Each create allocates with the object in a transaction of its own (a network its tags, a
  // group its id): the answer must wait on that transaction's revision, not on none.
  for (const [what, url, body] of [
    [
      'network create',
      '/api/v1/networks/default:n1/',
      { tenantName: 'default', networkName: 'n1', encap: 'vxlan', subnet: '10.7.1.0/24' },
    ],
    [
      'group create',
      '/api/v1/endpointGroups/default:g1/',
      { tenantName: 'default', groupName: 'g1', networkName: 'n1' },
    ],
  ] as const) {
    test(`${what} answers once the host behind has caught up`, async () => {
      await store.put(dockerSyncKey('h1'), JSON.stringify({ revision: await store.revision() }));
      let answered = false;
      const res = api.inject({ method: 'POST', url, payload: body }).then((r) => {
        answered = true;
        return r;
      });
      await sleep(150);
      assert.equal(answered, false, 'answered while h1 was behind');
      await store.put(dockerSyncKey('h1'), JSON.stringify({ revision: (await store.revision()) + 1 }));
      const r = await res;
      assert.equal(r.statusCode, 200, r.body);
    });
  }
});
