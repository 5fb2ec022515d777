// Proves endpoints as operational state through real netmaster processes, on the embedded store and
// on a real etcd: the /plugin routes (address allocation, endpoint create/delete with the address in
// the same transaction), the endpoint inspect view, endpoint lists in the other inspect views,
// deletes refused while endpoints exist, and netctl's endpoint inspect; the Contiv networks made
// for swarm's Docker networks without a contiv-tag (/plugin/dockerNetwork).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EtcdStore } from '../../state/etcd.js';
import { RemoteStore } from '../../state/remote.js';
import { runCleanups } from '../harness/cleanup.js';
import { startEtcd } from '../harness/etcd.js';
import { tempDirPrefix } from '../harness/names.js';
import { startNetmaster } from '../harness/netmaster.js';
import { missingFor } from '../harness/require.js';

const NETCTL = fileURLToPath(new URL('../../cli/netctl/main.js', import.meta.url));
const run = promisify(execFile);

after(async () => {
  await runCleanups();
});

type Json = Record<string, unknown> & { Err?: string };
async function call(url: string, method: string, path: string, body?: unknown) {
  const r = await fetch(`${url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as Json };
}
const post = (url: string, path: string, body: unknown) => call(url, 'POST', path, body);

/** putHost writes netplugin's host record (on etcd the test can; the embedded store is netmaster's alone). */
async function scenario(url: string, putHost?: (name: string, value: string) => Promise<void>) {
  const vtep = putHost ? '192.168.2.11' : '';
  const ok = async (p: Promise<{ status: number; body: Json }>) => {
    const r = await p;
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  await ok(
    post(url, '/api/v1/networks/default:epnet/', {
      tenantName: 'default',
      networkName: 'epnet',
      subnet: '10.9.1.0/24',
      gateway: '10.9.1.254',
      ipv6Subnet: '2001:db8:9::/64',
    }),
  );
  await ok(post(url, '/api/v1/policys/default:pweb/', { tenantName: 'default', policyName: 'pweb' }));
  await ok(
    post(url, '/api/v1/endpointGroups/default:web/', {
      tenantName: 'default',
      groupName: 'web',
      networkName: 'epnet',
      policies: ['pweb'],
      ipPool: '10.9.1.100-10.9.1.110',
    }),
  );
  await putHost?.('h1', JSON.stringify({ name: 'h1', vtepIP: vtep, controlIP: vtep, uplinks: [] }));

  // Docker's order: IPAM allocates, then the driver creates the endpoint with that address.
  const a = await ok(
    post(url, '/plugin/allocAddress', { tenant: 'default', network: 'epnet', group: 'web' }),
  );
  assert.equal(a.address, '10.9.1.100/24');
  const ep1 = await ok(
    post(url, '/plugin/createEndpoint', {
      endpointID: 'ep1',
      tenant: 'default',
      network: 'epnet',
      group: 'web',
      ipAddress: '10.9.1.100',
      host: 'h1',
      intfName: 'vport1',
      containerID: 'c0ffee',
      containerName: 'web1',
      labels: { app: 'web', tier: 'front' },
    }),
  );
  assert.equal(ep1.macAddress, '02:02:0a:09:01:64');
  assert.equal(ep1.ipv6Address, '2001:db8:9::1');
  assert.ok(Number(ep1.endpointGroupId) >= 1, 'the endpoint carries its group id');
  // Retried create: the same record back.
  assert.deepEqual(
    await ok(
      post(url, '/plugin/createEndpoint', {
        endpointID: 'ep1',
        tenant: 'default',
        network: 'epnet',
        group: 'web',
        ipAddress: '10.9.1.100',
        host: 'h1',
      }),
    ),
    ep1,
  );
  // An endpoint without a prior allocation gets the first free address of the network (pools skipped).
  const ep2 = await ok(
    post(url, '/plugin/createEndpoint', {
      endpointID: 'ep2',
      tenant: 'default',
      network: 'epnet',
      host: 'h2',
    }),
  );
  assert.equal(ep2.ipAddress, '10.9.1.1');
  // A requested address is honoured, and an address in use is refused naming its endpoint.
  const ep3 = await ok(
    post(url, '/plugin/createEndpoint', {
      endpointID: 'ep3',
      tenant: 'default',
      network: 'epnet',
      ipAddress: '10.9.1.50',
      host: 'h2',
    }),
  );
  assert.equal(ep3.macAddress, '02:02:0a:09:01:32');
  const clash = await post(url, '/plugin/createEndpoint', {
    endpointID: 'ep4',
    tenant: 'default',
    network: 'epnet',
    ipAddress: '10.9.1.50',
    host: 'h2',
  });
  assert.equal(clash.status, 409);
  assert.match(String(clash.body.Err), /ipAddress: 10\.9\.1\.50 .*ep3/);
  // Errors name the field.
  const bad = await post(url, '/plugin/createEndpoint', { endpointID: 'ep5', tenant: 'default', host: 'h1' });
  assert.equal(bad.status, 400);
  assert.match(String(bad.body.Err), /^network/);
  const nonet = await post(url, '/plugin/createEndpoint', {
    endpointID: 'ep5',
    tenant: 'default',
    network: 'nope',
    host: 'h1',
  });
  assert.equal(nonet.status, 404);
  assert.match(String(nonet.body.Err), /^network: default:nope does not exist/);
  assert.equal((await post(url, '/plugin/allocAddress', { tenant: 'default' })).status, 400);

  // Inspect: Contiv's shape.
  const ins = await ok(call(url, 'GET', '/api/v1/inspect/endpoints/ep1/'));
  assert.deepEqual(ins.Oper, {
    endpointID: 'ep1',
    network: 'epnet.default',
    endpointGroupId: ep1.endpointGroupId,
    endpointGroupKey: 'web:default',
    ipAddress: ['10.9.1.100', '2001:db8:9::1'],
    macAddress: '02:02:0a:09:01:64',
    homingHost: 'h1',
    intfName: 'vport1',
    vtepIP: vtep,
    labels: 'map[app:web tier:front]',
    containerID: 'c0ffee',
    containerName: 'web1',
  });
  assert.equal((await call(url, 'GET', '/api/v1/inspect/endpoints/nope/')).status, 404);
  const ids = (o: Json) => ((o.endpoints as Json[]) ?? []).map((e) => e.endpointID).sort();
  const net = (await ok(call(url, 'GET', '/api/v1/inspect/networks/default:epnet/'))).Oper as Json;
  assert.equal(net.numEndpoints, 3);
  assert.deepEqual(ids(net), ['ep1', 'ep2', 'ep3']);
  const grp = (await ok(call(url, 'GET', '/api/v1/inspect/endpointGroups/default:web/'))).Oper as Json;
  assert.equal(grp.numEndpoints, 1);
  assert.deepEqual(ids(grp), ['ep1']);
  const pol = (await ok(call(url, 'GET', '/api/v1/inspect/policys/default:pweb/'))).Oper as Json;
  assert.deepEqual([pol.numEndpoints, ids(pol)], [1, ['ep1']]);
  const ten = (await ok(call(url, 'GET', '/api/v1/inspect/tenants/default/'))).Oper as Json;
  assert.deepEqual([ten.totalEndpoints, ten.totalNetworks, ten.totalEPGs], [3, 1, 1]);
  const onH2 = (await ok(call(url, 'GET', '/plugin/endpoints?host=h2'))) as unknown as Json[];
  assert.deepEqual(onH2.map((e) => e.endpointID).sort(), ['ep2', 'ep3']);

  // netctl shows it.
  const out = await run(process.execPath, [NETCTL, '--netmaster', url, 'endpoint', 'inspect', 'ep1']);
  assert.match(out.stdout, /"endpointGroupKey": "web:default"/);
  assert.match(out.stdout, new RegExp(`"vtepIP": "${vtep}"`));

  // Concurrent creates never share an address; concurrent deletes give them all back.
  const many = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      post(url, '/plugin/createEndpoint', {
        endpointID: `c${i}`,
        tenant: 'default',
        network: 'epnet',
        host: 'h3',
      }),
    ),
  );
  for (const r of many) assert.equal(r.status, 200, JSON.stringify(r.body));
  const addrs = many.map((r) => String(r.body.ipAddress));
  assert.equal(new Set(addrs).size, 30, `duplicate addresses: ${addrs.join(' ')}`);
  for (const a of addrs) assert.ok(!a.startsWith('10.9.1.10') || a === '10.9.1.10', `${a} is in web's pool`);
  const gone = await Promise.all(
    Array.from({ length: 30 }, (_, i) => post(url, '/plugin/deleteEndpoint', { endpointID: `c${i}` })),
  );
  for (const r of gone) assert.equal(r.status, 200, JSON.stringify(r.body));

  // Deleting what endpoints use is refused, naming them.
  const delNet = await call(url, 'DELETE', '/api/v1/networks/default:epnet/');
  assert.equal(delNet.status, 409);
  assert.match(String(delNet.body.Err), /3 endpoint\(s\): ep1, ep2, ep3/);
  const delGrp = await call(url, 'DELETE', '/api/v1/endpointGroups/default:web/');
  assert.equal(delGrp.status, 409);
  assert.match(String(delGrp.body.Err), /endpoint\(s\): ep1/);

  // deleteEndpoint gives the address back with the record; twice is fine; Docker's releaseAddress after it too.
  for (const id of ['ep1', 'ep1', 'ep2', 'ep3'])
    await ok(post(url, '/plugin/deleteEndpoint', { endpointID: id }));
  await ok(
    post(url, '/plugin/releaseAddress', { tenant: 'default', network: 'epnet', address: '10.9.1.100/24' }),
  );
  const after1 = (await ok(call(url, 'GET', '/api/v1/inspect/networks/default:epnet/'))).Oper as Json;
  assert.equal(after1.numEndpoints, 0);
  assert.equal(after1.allocatedAddressesCount, 0, JSON.stringify(after1));
  // An unbound allocation goes back through releaseAddress.
  const b = await ok(
    post(url, '/plugin/allocAddress', { tenant: 'default', network: 'epnet', preferred: '10.9.1.7' }),
  );
  assert.equal(b.address, '10.9.1.7/24');
  await ok(post(url, '/plugin/releaseAddress', { tenant: 'default', network: 'epnet', address: '10.9.1.7' }));
  await ok(call(url, 'DELETE', '/api/v1/endpointGroups/default:web/'));
  await ok(call(url, 'DELETE', '/api/v1/networks/default:epnet/'));
}

describe('netmaster endpoints (real processes)', () => {
  test('on the embedded store', async () => {
    const dir = await mkdtemp(tempDirPrefix('nm-endpoints'));
    try {
      const nm = await startNetmaster(['--data-dir', dir]);
      try {
        await scenario(nm.url);
        const info = (await call(nm.url, 'GET', '/info')).body;
        assert.deepEqual(
          [info.Role, info.IsLeader, info.StoreKind, info.Store, info.FwdMode],
          ['standalone', true, 'embedded', `embedded:${dir}`, 'bridge'],
        );
      } finally {
        nm.p.kill('SIGTERM');
        await new Promise((r) => nm.p.once('exit', r));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const missing = missingFor('etcd');
  const skipEtcd = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;
  test('on etcd', { skip: skipEtcd }, async () => {
    const etcd = await startEtcd();
    const store = await EtcdStore.connect([etcd.endpoint]);
    try {
      const nm = await startNetmaster(['--etcd', etcd.endpoint]);
      try {
        await scenario(nm.url, async (name, value) => {
          await store.put(`/contiv.io/oper/hosts/${name}`, value);
        });
        const info = (await call(nm.url, 'GET', '/info')).body;
        assert.deepEqual(
          [info.Role, info.Leader, info.StoreKind, info.Store],
          ['leader', nm.secureUrl, 'etcd', `etcd://${etcd.endpoint}`],
        );
      } finally {
        nm.p.kill('SIGTERM');
        await new Promise((r) => nm.p.once('exit', r));
      }
    } finally {
      await store.close();
      await etcd.stop();
    }
  });

  test('networks made for Docker networks: checked by field, idempotent, removed only with theirs', async () => {
    const dir = await mkdtemp(tempDirPrefix('nm-dockernet'));
    try {
      const nm = await startNetmaster(['--data-dir', dir]);
      try {
        const make = (body: unknown) => post(nm.url, '/plugin/dockerNetwork', body);
        const svc = { networkID: 'abc', name: 'svc-net1', subnet: '100.1.1.0/24', gateway: '100.1.1.254' };
        const expect = async (p: Promise<{ status: number; body: Json }>, status: number, err?: RegExp) => {
          const r = await p;
          assert.equal(r.status, status, JSON.stringify(r.body));
          if (err) assert.match(r.body.Err ?? '', err);
        };
        await expect(make({}), 400, /^networkID is required/);
        await expect(
          make({ ...svc, networkID: 'ABC/x' }),
          400,
          /^networkID: "ABC\/x" is not a Docker network id/,
        );
        await expect(make({ ...svc, subnet: 7 }), 400, /^subnet must be a string/);
        await expect(make({ ...svc, subnet: '100.1.1.0' }), 400, /subnet/);
        await expect(make(svc), 200);
        await expect(make(svc), 200); // swarm allocating again after a manager restart
        const net = (await call(nm.url, 'GET', '/api/v1/networks/default:svc-net1/')).body;
        assert.deepEqual([net.subnet, net.gateway, net.encap], ['100.1.1.0/24', '100.1.1.254', 'vxlan']);
        await expect(make({ ...svc, networkID: 'def' }), 409, /^name: .*another Docker network \(abc\)/);
        await expect(
          post(nm.url, '/api/v1/networks/default:plain/', {
            tenantName: 'default',
            networkName: 'plain',
            subnet: '10.2.0.0/24',
          }),
          200,
        );
        await expect(
          make({ ...svc, networkID: 'def', name: 'plain', subnet: '10.3.0.0/24', gateway: '' }),
          409,
          /^name: .* exists already/,
        );
        await expect(
          make({ networkID: 'def', name: 'other', subnet: '100.1.0.0/16' }),
          400,
          /subnet .*overlaps network default:svc-net1/,
        );
        await expect(
          call(nm.url, 'DELETE', '/api/v1/networks/default:svc-net1/'),
          409,
          /made for Docker network svc-net1 \(abc\); remove it with docker network rm/,
        );
        await expect(post(nm.url, '/plugin/deleteDockerNetwork', { networkID: 'abc' }), 200);
        await expect(call(nm.url, 'GET', '/api/v1/networks/default:svc-net1/'), 404);
        await expect(post(nm.url, '/plugin/deleteDockerNetwork', { networkID: 'abc' }), 200);
        // Name and subnet are free again, the record went with the network.
        await expect(make({ ...svc, networkID: 'def' }), 200);
        // A netplugin without etcd keeps its Docker networks' Contiv objects through the store API.
        const remote = new RemoteStore(nm.url);
        try {
          await remote.put(
            '/contiv.io/oper/docknet/h1/def',
            '{"tenant":"default","network":"svc-net1","group":""}',
          );
          await assert.rejects(remote.put('/contiv.io/oper/dockernet/default:x', '{}'), /not writable/);
        } finally {
          await remote.close();
        }
      } finally {
        nm.p.kill('SIGTERM');
        await new Promise((r) => nm.p.once('exit', r));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
