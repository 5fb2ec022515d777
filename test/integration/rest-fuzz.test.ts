// Fuzzes netmaster's REST API with logins on (fast-check): generated and mutated requests (any
// method, object paths with odd keys, inspect and unknown paths, JSON of every shape and broken
// JSON), from every kind of principal. Checks: never a 5xx, a refused write leaves the store as it
// was, and a principal with no role is never shown a tenant's object. Reports how many it sent.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { Accounts } from '../../api/auth/accounts.js';
import { buildServer } from '../../api/rest/server.js';
import { CONFIG_PREFIX, OBJECT_TYPES, PLURALS, specOf } from '../../policy/model/index.js';
import { EmbeddedStore } from '../../state/index.js';
import { tempDirPrefix } from '../harness/names.js';

const RUNS = 2000;
const PRINCIPALS = ['anonymous', 'admin', 'ops-blue', 'no-role'] as const;
type Principal = (typeof PRINCIPALS)[number];

const keyPart = fc.oneof(
  fc.constantFrom('blue', 'red', 'default', 'n1', 'g1', 'p1', '1'),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('..', '%2e%2e', '%00', 'a'.repeat(300), '<script>', "' OR 1=1"),
);
const key = fc.array(keyPart, { minLength: 0, maxLength: 4 }).map((p) => p.join(':'));
const typeArb = fc.constantFrom(...OBJECT_TYPES);
const path = fc.oneof(
  fc.tuple(typeArb, key).map(([t, k]) => `/api/v1/${PLURALS[t]}/${encodeURIComponent(k)}/`),
  fc.tuple(typeArb, key).map(([t, k]) => `/api/v1/inspect/${PLURALS[t]}/${encodeURIComponent(k)}/`),
  typeArb.map((t) => `/api/v1/${PLURALS[t]}/`),
  fc.constantFrom(
    '/api/v1/auth_proxy/local_users/',
    '/api/v1/auth_proxy/authorizations/',
    '/api/v1/auth_proxy/audit/?limit=5',
    '/api/v1/auth_proxy/login/',
    '/store/v1/keys/contiv.io/auth/tokens/',
    '/plugin/allocAddress',
    '/plugin/createEndpoint',
    '/info',
  ),
  // A request line always carries a path that starts with /.
  fc
    .webPath()
    .map((p) => (p.startsWith('/') ? p : `/${p}`)),
);
/** A body shaped like an object of some type (its real field names, values of any JSON kind). */
const modelBody = typeArb.chain((t) =>
  fc.dictionary(
    fc.constantFrom(...[...specOf(t).fields.keys()], 'tenantName', 'username', 'role'),
    fc.jsonValue(),
    {
      maxKeys: 6,
    },
  ),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  modelBody.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
);
const request = fc.record({
  who: fc.constantFrom(...PRINCIPALS),
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
  path,
  body,
});

/** Whether v holds an object of a tenant (a tenantName that is not empty). */
function holdsTenantObject(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(holdsTenantObject);
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.tenantName === 'string' && o.tenantName !== '') return true;
  return Object.values(o).some(holdsTenantObject);
}

describe('REST fuzz (logins on)', () => {
  let dir: string;
  let store: EmbeddedStore;
  let app: FastifyInstance;
  const tokens = new Map<Principal, string>();

  before(async () => {
    dir = await mkdtemp(tempDirPrefix('rest-fuzz'));
    store = await EmbeddedStore.open(dir);
    const accounts = new Accounts(store);
    app = buildServer({ store, auth: { accounts } });
    await app.ready();
    await accounts.ensureAdmin('Adm1n-secret');
    tokens.set('admin', await accounts.login('admin', 'Adm1n-secret'));
    await accounts.createUser({ username: 'ops-blue', password: 'Ops-blue-1' });
    await accounts.createUser({ username: 'no-role', password: 'No-role-1' });
    await accounts.addAuthorization({
      principalName: 'ops-blue',
      local: true,
      role: 'ops',
      tenantName: 'blue',
    });
    tokens.set('ops-blue', await accounts.login('ops-blue', 'Ops-blue-1'));
    tokens.set('no-role', await accounts.login('no-role', 'No-role-1'));
    const admin = { 'x-auth-token': tokens.get('admin') ?? '' };
    for (const t of ['blue', 'red']) {
      await app.inject({
        method: 'POST',
        url: `/api/v1/tenants/${t}/`,
        headers: admin,
        payload: { tenantName: t },
      });
      const r = await app.inject({
        method: 'POST',
        url: `/api/v1/networks/${t}:n1/`,
        headers: admin,
        payload: { tenantName: t, networkName: 'n1', encap: 'vxlan', subnet: '10.5.0.0/24' },
      });
      assert.equal(r.statusCode, 200, r.body);
    }
  });

  after(async () => {
    await app?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const snapshot = async () =>
    JSON.stringify((await store.list('/contiv.io/')).map((kv) => [kv.key, kv.value, kv.modRevision]));

  test(`${RUNS} generated requests: no 5xx, refused writes change nothing, no role sees no tenant`, async () => {
    let sent = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (q) => {
        const token = tokens.get(q.who);
        const write = q.method !== 'GET';
        const before = write ? await snapshot() : '';
        const r = await app.inject({
          method: q.method as 'GET',
          url: q.path,
          headers: {
            ...(token ? { 'x-auth-token': token } : {}),
            ...(q.body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(q.body !== undefined && q.method !== 'GET' ? { payload: q.body } : {}),
        });
        sent++;
        statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
        const what = `${q.who} ${q.method} ${q.path} ${String(q.body).slice(0, 80)} → ${r.statusCode} ${r.body.slice(0, 160)}`;
        assert.ok(r.statusCode < 500, `5xx: ${what}`);
        assert.doesNotMatch(r.body, /\n\s+at .+:\d+:\d+/, `a stack trace in the answer: ${what}`);
        if (write && (r.statusCode === 401 || r.statusCode === 403))
          assert.equal(await snapshot(), before, `a refused write changed the store: ${what}`);
        if (q.who === 'no-role' && r.statusCode === 200 && !q.path.includes('auth_proxy/login')) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(r.body);
          } catch {
            parsed = undefined;
          }
          assert.ok(!holdsTenantObject(parsed), `a tenant's object shown to a user with no role: ${what}`);
        }
      }),
      { numRuns: RUNS },
    );
    process.stdout.write(
      `# rest fuzz: ${sent} requests; statuses ${[...statuses]
        .sort(([a], [b]) => a - b)
        .map(([s, n]) => `${s}×${n}`)
        .join(' ')}\n`,
    );
    assert.ok(sent >= RUNS);
    // The store still holds what the setup made, readable by admin.
    const nets = await app.inject({
      method: 'GET',
      url: '/api/v1/networks/',
      headers: { 'x-auth-token': tokens.get('admin') ?? '' },
    });
    assert.equal(nets.statusCode, 200);
    assert.ok(CONFIG_PREFIX.length > 0);
  });
});
