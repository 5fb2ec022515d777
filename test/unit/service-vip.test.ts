// A serviceLB's virtual address, as Contiv's netmaster gave it: allocated in the service's network
// with the service (the preferred ipAddress, else the first free one), shown as Oper.serviceVip,
// kept across updates, refused when taken, and given back when the service goes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../api/rest/server.js';
import { listAddresses, listTags } from '../../policy/ipam/index.js';
import { serviceVipKey } from '../../policy/model/index.js';
import { EmbeddedStore } from '../../state/embedded.js';

describe('serviceLB virtual addresses', () => {
  let dir: string;
  let store: EmbeddedStore;
  let api: FastifyInstance;
  const call = async (method: 'POST' | 'GET' | 'DELETE', url: string, payload?: object) => {
    const r = await api.inject({ method, url, ...(payload ? { payload } : {}) });
    return { status: r.statusCode, body: r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {} };
  };
  const service = (name: string, extra: object = {}) =>
    call('POST', `/api/v1/serviceLBs/default:${name}/`, {
      tenantName: 'default',
      serviceName: name,
      networkName: 'svc-net',
      selectors: ['app=web'],
      ports: ['80:8080:TCP'],
      ...extra,
    });
  const vip = async (name: string) =>
    ((await call('GET', `/api/v1/inspect/serviceLBs/default:${name}/`)).body.Oper as { serviceVip?: string })
      .serviceVip;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'service-vip-'));
    store = await EmbeddedStore.open(dir);
    api = buildServer({ store });
    await api.ready();
    const net = await call('POST', '/api/v1/networks/default:svc-net/', {
      tenantName: 'default',
      networkName: 'svc-net',
      encap: 'vxlan',
      subnet: '10.96.0.0/24',
      gateway: '10.96.0.254',
    });
    assert.equal(net.status, 200);
  });
  after(async () => {
    await api.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the first free address, or the preferred one; both held in the network', async () => {
    assert.equal((await service('svc1')).status, 200);
    assert.equal(await vip('svc1'), '10.96.0.1');
    assert.equal((await service('svc2', { ipAddress: '10.96.0.50' })).status, 200);
    assert.equal(await vip('svc2'), '10.96.0.50');
    assert.deepEqual(await listAddresses(store, 'default:svc-net'), [
      { ip: '10.96.0.1', owner: 'serviceLB:default:svc1' },
      { ip: '10.96.0.50', owner: 'serviceLB:default:svc2' },
    ]);
    // Each has its service id (its datapath groups' number), taken in the same transaction.
    assert.deepEqual(await listTags(store, 'service'), [
      { id: 1, owner: 'default:svc1' },
      { id: 2, owner: 'default:svc2' },
    ]);
  });

  test('a preferred address already taken, or outside the network, is refused and nothing is written', async () => {
    const taken = await service('svc3', { ipAddress: '10.96.0.50' });
    assert.equal(taken.status, 409);
    assert.match(
      String(taken.body.Err ?? JSON.stringify(taken.body)),
      /ipAddress.*in use by serviceLB:default:svc2/,
    );
    const outside = await service('svc3', { ipAddress: '10.97.0.1' });
    assert.equal(outside.status, 409);
    assert.match(String(outside.body.Err ?? JSON.stringify(outside.body)), /ipAddress/);
    assert.equal((await call('GET', '/api/v1/serviceLBs/default:svc3/')).status, 404);
    assert.equal(await store.get(serviceVipKey('default:svc3')), undefined);
  });

  test('an update keeps the address; changing it is refused, naming the field', async () => {
    assert.equal((await service('svc1', { selectors: ['app=db'] })).status, 200);
    assert.equal(await vip('svc1'), '10.96.0.1');
    const moved = await service('svc1', { ipAddress: '10.96.0.9' });
    assert.equal(moved.status, 400);
    assert.match(
      String(moved.body.Err ?? JSON.stringify(moved.body)),
      /ipAddress cannot change from 10\.96\.0\.1/,
    );
    assert.equal((await service('svc1', { ipAddress: '10.96.0.1' })).status, 200, 'its own address again');
    const renetted = await service('svc1', { networkName: 'other-net' });
    assert.equal(renetted.status, 400);
    assert.match(JSON.stringify(renetted.body), /networkName/);
  });

  test('a network with services cannot be deleted under them', async () => {
    const r = await call('DELETE', '/api/v1/networks/default:svc-net/');
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /serviceLB/);
  });

  test('a deleted service gives its address back', async () => {
    assert.equal((await call('DELETE', '/api/v1/serviceLBs/default:svc1/')).status, 200);
    assert.equal(await store.get(serviceVipKey('default:svc1')), undefined);
    assert.deepEqual(
      (await listAddresses(store, 'default:svc-net')).map((a) => a.ip),
      ['10.96.0.50'],
    );
    assert.deepEqual(await listTags(store, 'service'), [{ id: 2, owner: 'default:svc2' }]);
    assert.equal((await service('svc4')).status, 200);
    assert.equal(await vip('svc4'), '10.96.0.1');
  });
});
