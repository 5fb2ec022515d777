// Proves netmaster's REST API: CRUD and inspect for every object, refusals with {"Err"}, tag allocation, persistence.
// It must never listen beyond 127.0.0.1 nor leave temp dirs or servers behind.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { BatcherOptions } from '../../api/rest/batch.js';
import { buildServer } from '../../api/rest/server.js';
import { OBJECT_TYPES, type ObjType, PLURALS, type PlainObject } from '../../policy/model/index.js';
import { EmbeddedStore } from '../../state/index.js';
import { EXAMPLES } from '../harness/model-examples.js';

const KEYS: Record<ObjType, string> = {
  global: 'global',
  tenant: 'blue',
  network: 'default:contiv-net',
  endpointGroup: 'default:web',
  policy: 'default:prod_web',
  rule: 'default:prod_web:2',
  netprofile: 'default:gold',
  appProfile: 'default:app1',
  extContractsGroup: 'default:ext1',
  Bgp: 'netplugin-node1',
  serviceLB: 'default:svc1',
  aciGw: 'aciGw',
};
// Parents first, so every create finds what it refers to.
const CREATE_ORDER: ObjType[] = [
  'global',
  'tenant',
  'network',
  'policy',
  'rule',
  'netprofile',
  'extContractsGroup',
  'endpointGroup',
  'appProfile',
  'Bgp',
  'serviceLB',
  'aciGw',
];

const dirs: string[] = [];
async function fresh(
  opts: { batch?: BatcherOptions } = {},
): Promise<{ app: FastifyInstance; store: EmbeddedStore; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'netmaster-rest-'));
  dirs.push(dir);
  const store = await EmbeddedStore.open(dir);
  const app = buildServer({ store, ...opts });
  await app.ready();
  return { app, store, dir };
}
async function close(x: { app: FastifyInstance; store: EmbeddedStore }) {
  await x.app.close();
  await x.store.close();
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

type Reply = { status: number; body: PlainObject & { Err?: string } };
async function call(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  body?: unknown,
) {
  const r = await app.inject({ method, url, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined } as Reply;
}
const path = (t: ObjType, key = KEYS[t]) => `/api/v1/${PLURALS[t]}/${key}/`;

describe('netmaster REST', () => {
  let x: Awaited<ReturnType<typeof fresh>>;
  before(async () => {
    x = await fresh();
  });
  after(async () => close(x));

  it('starts with the default tenant and the global object', async () => {
    assert.equal((await call(x.app, 'GET', '/api/v1/tenants/default/')).body.tenantName, 'default');
    const g = await call(x.app, 'GET', '/api/v1/globals/global/');
    assert.equal(g.body.vlans, '1-4094');
    assert.equal(g.body.key, 'global');
  });

  it('creates, gets, lists, updates and inspects every object type', async () => {
    for (const t of CREATE_ORDER) {
      const c = await call(x.app, 'POST', path(t), EXAMPLES[t]);
      assert.equal(c.status, 200, `${t}: ${JSON.stringify(c.body)}`);
      assert.equal(c.body.key, KEYS[t]);
      const g = await call(x.app, 'GET', path(t));
      assert.equal(g.status, 200);
      assert.equal(g.body.key, KEYS[t]);
      const l = await call(x.app, 'GET', `/api/v1/${PLURALS[t]}/`);
      assert.ok(
        (l.body as unknown as PlainObject[]).some((o) => o.key === KEYS[t]),
        t,
      );
      const u = await call(x.app, 'PUT', path(t), g.body);
      assert.equal(u.status, 200, `${t} update: ${JSON.stringify(u.body)}`);
      const i = await call(x.app, 'GET', `/api/v1/inspect/${PLURALS[t]}/${KEYS[t]}/`);
      assert.equal(i.status, 200);
      assert.equal((i.body.Config as PlainObject).key, KEYS[t]);
      assert.equal(typeof i.body.Oper, 'object');
    }
    assert.equal(OBJECT_TYPES.length, CREATE_ORDER.length);
  });

  it('inspects a network with its tags and addresses, and a group with its pkt tag', async () => {
    const i = await call(x.app, 'GET', '/api/v1/inspect/networks/default:contiv-net/');
    const oper = i.body.Oper as PlainObject;
    assert.equal(oper.externalPktTag, 1001);
    assert.equal(typeof oper.pktTag, 'number');
    // The example service's virtual address is the network's only allocated one.
    assert.equal(oper.allocatedAddressesCount, 1);
    assert.equal(oper.allocatedIPAddresses, '20.1.1.200, 20.1.1.254');
    assert.equal(oper.availableIPAddresses, '20.1.1.1-20.1.1.199, 20.1.1.201-20.1.1.253');
    assert.equal(oper.numEndpoints, 0);
    assert.deepEqual(oper.endpoints, []);
    const gi = await call(x.app, 'GET', '/api/v1/inspect/endpointGroups/default:web/');
    assert.equal((gi.body.Oper as PlainObject).pktTag, oper.pktTag);
  });

  it('refuses bad input with a clear Err', async () => {
    const bad = await call(x.app, 'POST', path('network', 'default:n2'), { subnet: '10.9.0.0/33' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.Err ?? '', /subnet/);
    const wrongType = await call(x.app, 'POST', path('rule', 'default:prod_web:9'), {
      ...EXAMPLES.rule,
      ruleId: '9',
      port: 'eighty',
    });
    assert.equal(wrongType.status, 400);
    assert.match(wrongType.body.Err ?? '', /port/);
    const orphan = await call(x.app, 'POST', path('network', 'nosuch:n'), { subnet: '10.9.0.0/24' });
    assert.equal(orphan.status, 400);
    assert.match(orphan.body.Err ?? '', /tenant nosuch does not exist/);
    const mismatch = await call(x.app, 'POST', path('tenant', 'red'), { tenantName: 'green' });
    assert.equal(mismatch.status, 400);
    const missing = await call(x.app, 'GET', path('tenant', 'nosuch'));
    assert.equal(missing.status, 404);
    assert.match(missing.body.Err ?? '', /not found/);
    assert.equal((await call(x.app, 'DELETE', path('tenant', 'nosuch'))).status, 404);
    assert.equal((await call(x.app, 'GET', '/api/v1/nosuchs/')).status, 404);
    const taken = await call(x.app, 'POST', path('network', 'default:other'), {
      subnet: '30.1.1.0/24',
      encap: 'vxlan',
      pktTag: 1001,
    });
    assert.equal(taken.status, 409);
    assert.match(taken.body.Err ?? '', /in use/);
    const immutable = await call(x.app, 'PUT', path('network'), { ...EXAMPLES.network, gateway: '20.1.1.1' });
    assert.equal(immutable.status, 400);
    assert.match(immutable.body.Err ?? '', /gateway/);
  });

  it('answers malformed JSON with 400 and a body over 1 MiB with 413, both as {"Err"}', async () => {
    const r = await x.app.inject({
      method: 'POST',
      url: path('tenant', 'red'),
      headers: { 'content-type': 'application/json' },
      payload: '{"tenantName": ',
    });
    assert.equal(r.statusCode, 400);
    assert.ok(JSON.parse(r.body).Err);
    const huge = await x.app.inject({
      method: 'POST',
      url: path('tenant', 'red'),
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ tenantName: 'red', pad: 'x'.repeat(1024 * 1024 + 10) }),
    });
    assert.equal(huge.statusCode, 413);
    assert.ok(JSON.parse(huge.body).Err);
  });

  it("reads JSON sent with no Content-Type or as text/plain (Contiv's netctl sends none); other types get 415", async () => {
    const send = (name: string, headers: Record<string, string>, payload: string) =>
      x.app.inject({ method: 'POST', url: path('tenant', name), headers, payload });
    const bare = await send('plain1', {}, JSON.stringify({ tenantName: 'plain1' }));
    assert.equal(bare.statusCode, 200, bare.body);
    const text = await send(
      'plain2',
      { 'content-type': 'text/plain; charset=utf-8' },
      JSON.stringify({ tenantName: 'plain2' }),
    );
    assert.equal(text.statusCode, 200, text.body);
    assert.equal((await call(x.app, 'GET', path('tenant', 'plain2'))).body.tenantName, 'plain2');
    const bad = await send('plain3', {}, '{"tenantName": ');
    assert.equal(bad.statusCode, 400);
    assert.match(JSON.parse(bad.body).Err, /request body: invalid JSON/);
    const form = await send(
      'plain3',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'tenantName=plain3',
    );
    assert.equal(form.statusCode, 415);
    assert.match(JSON.parse(form.body).Err, /unsupported media type "application\/x-www-form-urlencoded"/);
    assert.equal((await call(x.app, 'GET', path('tenant', 'plain3'))).status, 404);
    for (const t of ['plain1', 'plain2'])
      assert.equal((await call(x.app, 'DELETE', path('tenant', t))).status, 200);
  });

  it('refuses deleting what is in use, naming the user; cascades a policy to its rules', async () => {
    const used = await call(x.app, 'DELETE', path('network'));
    assert.equal(used.status, 409);
    assert.match(used.body.Err ?? '', /in use by .*endpointGroup default:web/);
    const pol = await call(x.app, 'DELETE', path('policy'));
    assert.equal(pol.status, 409);
    assert.match(pol.body.Err ?? '', /endpointGroup default:web/);
    // Delete children first, in reverse order; the policy takes its rule with it.
    for (const t of [...CREATE_ORDER].reverse()) {
      if (t === 'global' || t === 'rule') continue;
      const d = await call(x.app, 'DELETE', path(t));
      assert.equal(d.status, 200, `${t}: ${JSON.stringify(d.body)}`);
      assert.equal((await call(x.app, 'GET', path(t))).status, 404);
    }
    assert.equal((await call(x.app, 'GET', path('rule'))).status, 404);
  });

  it('releases a deleted network pkt tag so it can be taken again', async () => {
    const again = await call(x.app, 'POST', path('network', 'default:other'), {
      subnet: '30.1.1.0/24',
      pktTag: 1001,
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    // A taken tag is refused with the network, the field and the reason named.
    const taken = await call(x.app, 'POST', path('network', 'default:third'), {
      subnet: '31.1.1.0/24',
      pktTag: 1001,
    });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.Err, 'network default:third: pktTag 1001: in use by network default:other');
    assert.equal((await call(x.app, 'GET', path('network', 'default:third'))).status, 404);
    assert.equal((await call(x.app, 'DELETE', path('network', 'default:other'))).status, 200);
    assert.deepEqual(await x.store.list('/contiv.io/ipam/vxlan/'), []);
  });

  it('reserves a group ip-pool, refuses an overlapping one, and gives it back on delete', async () => {
    const n = await call(x.app, 'POST', path('network', 'default:pooled'), {
      subnet: '60.1.1.0/24',
      encap: 'vlan',
    });
    assert.equal(n.status, 200, JSON.stringify(n.body));
    const g = { networkName: 'pooled', ipPool: '60.1.1.10-60.1.1.20' };
    assert.equal((await call(x.app, 'POST', path('endpointGroup', 'default:g1'), g)).status, 200);
    const clash = await call(x.app, 'POST', path('endpointGroup', 'default:g2'), {
      ...g,
      ipPool: '60.1.1.15-60.1.1.30',
    });
    assert.equal(clash.status, 409);
    assert.equal(
      clash.body.Err,
      'endpointGroup default:g2: ipPool "60.1.1.15-60.1.1.30": overlaps the ipPool 60.1.1.10-60.1.1.20 of group default:g1',
    );
    assert.equal((await call(x.app, 'GET', path('endpointGroup', 'default:g2'))).status, 404);
    const outside = await call(x.app, 'POST', path('endpointGroup', 'default:g3'), {
      ...g,
      ipPool: '61.1.1.1-61.1.1.5',
    });
    assert.equal(outside.status, 400);
    assert.match(outside.body.Err ?? '', /ipPool/);
    assert.equal((await call(x.app, 'DELETE', path('endpointGroup', 'default:g1'))).status, 200);
    assert.equal(
      (
        await call(x.app, 'POST', path('endpointGroup', 'default:g2'), {
          ...g,
          ipPool: '60.1.1.15-60.1.1.30',
        })
      ).status,
      200,
    );
    assert.equal((await call(x.app, 'DELETE', path('endpointGroup', 'default:g2'))).status, 200);
    assert.equal((await call(x.app, 'DELETE', path('network', 'default:pooled'))).status, 200);
    // Everything the network and its groups held went back (tenant ids stay with their tenants).
    assert.deepEqual(
      (await x.store.list('/contiv.io/ipam/')).filter((kv) => !kv.key.startsWith('/contiv.io/ipam/tenant/')),
      [],
    );
  });

  it('refuses global changes that networks or allocations forbid', async () => {
    const g = (await call(x.app, 'GET', '/api/v1/globals/global/')).body;
    const n = await call(x.app, 'POST', path('network', 'default:v'), {
      subnet: '70.1.1.0/24',
      encap: 'vlan',
      pktTag: 300,
    });
    assert.equal(n.status, 200, JSON.stringify(n.body));
    const fwd = await call(x.app, 'POST', '/api/v1/globals/global/', {
      ...g,
      fwdMode: g.fwdMode === 'bridge' ? 'routing' : 'bridge',
    });
    assert.equal(fwd.status, 400);
    assert.match(fwd.body.Err ?? '', /fwdMode/);
    const range = await call(x.app, 'POST', '/api/v1/globals/global/', { ...g, vlans: '1-100' });
    assert.equal(range.status, 409);
    assert.match(
      range.body.Err ?? '',
      /^global global: vlans "1-100": would orphan 1 allocated id\(s\): 300 \(default:v\)/,
    );
    assert.equal(
      (await call(x.app, 'POST', '/api/v1/globals/global/', { ...g, vlans: '1-1000' })).status,
      200,
    );
    assert.equal((await call(x.app, 'DELETE', path('network', 'default:v'))).status, 200);
  });

  it('serves /version, /info and an openapi document with one schema per object type', async () => {
    assert.equal((await call(x.app, 'GET', '/version')).body.Version, '0.1.0');
    assert.equal((await call(x.app, 'GET', '/info')).status, 200);
    const o = await call(x.app, 'GET', '/api/v1/openapi.json');
    const schemas = (
      o.body.components as { schemas: Record<string, { properties: Record<string, unknown> }> }
    ).schemas;
    assert.deepEqual(Object.keys(schemas).sort(), [...OBJECT_TYPES].sort());
    assert.ok(schemas.network?.properties.subnet);
  });
});

describe('netmaster REST: concurrent writes', () => {
  for (const [label, batch] of [
    ['each write its own transaction', undefined],
    ['writes batched into shared transactions', { maxInFlight: 1 }],
  ] as const)
    it(`creates run together, yet a group never outlives its network (${label})`, async () => {
      const x = await fresh(batch ? { batch } : {});
      try {
        for (let round = 0; round < 5; round++) {
          const net = {
            ...EXAMPLES.network,
            networkName: `n${round}`,
            pktTag: 2000 + round,
            subnet: `20.${round}.0.0/24`,
          };
          delete (net as PlainObject).gateway;
          assert.equal((await call(x.app, 'POST', `/api/v1/networks/default:n${round}/`, net)).status, 200);
          // 40 group creates and a delete of their network, all at once.
          // Half the creates start before the delete, half after it.
          const group = (i: number) =>
            call(x.app, 'POST', `/api/v1/endpointGroups/default:g${round}x${i}/`, {
              tenantName: 'default',
              groupName: `g${round}x${i}`,
              networkName: `n${round}`,
            });
          const early = Array.from({ length: 20 }, (_, i) => group(i));
          const del = call(x.app, 'DELETE', `/api/v1/networks/default:n${round}/`);
          const late = Array.from({ length: 20 }, (_, i) => group(20 + i));
          const results = await Promise.all([...early, del, ...late]);
          for (const r of results) assert.ok([200, 400, 404, 409].includes(r.status), JSON.stringify(r));
          // The invariant: every group that exists has its network.
          const all = (await call(x.app, 'GET', '/api/v1/endpointGroups/')).body as unknown as PlainObject[];
          const nets = new Set(
            ((await call(x.app, 'GET', '/api/v1/networks/')).body as unknown as PlainObject[]).map(
              (n) => n.networkName,
            ),
          );
          for (const g of all)
            assert.ok(
              nets.has(g.networkName),
              `group ${String(g.groupName)} outlived network ${String(g.networkName)}`,
            );
          // Every group holds exactly one id and no two groups share one.
          const ids = (await x.store.list('/contiv.io/ipam/epg/')).map(
            (kv) => (JSON.parse(kv.value) as { owner: string }).owner,
          );
          assert.deepEqual([...ids].sort(), all.map((g) => `default:${String(g.groupName)}`).sort());
        }
      } finally {
        await close(x);
      }
    });
});

describe('netmaster REST: persistence and a real listen', () => {
  it('keeps objects and allocations across a restart over the same data dir', async () => {
    const a = await fresh();
    for (const t of ['network', 'policy', 'rule', 'endpointGroup'] as const) {
      const r = await call(a.app, 'POST', path(t), EXAMPLES[t]);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const before = (await call(a.app, 'GET', '/api/v1/inspect/networks/default:contiv-net/')).body;
    await close(a);
    const store = await EmbeddedStore.open(a.dir);
    const app = buildServer({ store });
    const b = { app, store };
    try {
      await app.ready();
      for (const t of ['network', 'policy', 'rule', 'endpointGroup'] as const) {
        assert.equal((await call(app, 'GET', path(t))).status, 200, t);
      }
      assert.deepEqual((await call(app, 'GET', '/api/v1/inspect/networks/default:contiv-net/')).body, before);
      // The allocation survived too: the same pkt tag is still refused to another network.
      const dup = await call(app, 'POST', path('network', 'default:n3'), {
        subnet: '40.1.1.0/24',
        pktTag: 1001,
      });
      assert.equal(dup.status, 409);
    } finally {
      await close(b);
    }
  });

  it('serves over a real socket on 127.0.0.1', async () => {
    const a = await fresh();
    try {
      await a.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (a.app.server.address() as AddressInfo).port;
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/tenants/`);
      assert.equal(r.status, 200);
      assert.deepEqual(
        ((await r.json()) as PlainObject[]).map((t) => t.key),
        ['default'],
      );
    } finally {
      await close(a);
    }
  });
});
