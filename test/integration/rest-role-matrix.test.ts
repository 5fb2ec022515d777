// Proves the role matrix on netmaster's REST server with logins on, over its embedded store: every
// object type × every verb (read, list, inspect, create, update, delete) × every principal (no
// token, admin, ops of the object's tenant, ops of another tenant, a user with no role), in the
// object's tenant and another. ops reads every tenant and writes only its own. Refusals are 401 (no token) or 403 naming the missing right, and a
// refused write leaves the store exactly as it was; allowed requests are never 401/403.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Accounts } from '../../api/auth/accounts.js';
import { buildServer } from '../../api/rest/server.js';
import { CONFIG_PREFIX, OBJECT_TYPES, type ObjType, PLURALS, specOf } from '../../policy/model/index.js';
import { EmbeddedStore } from '../../state/index.js';
import { tempDirPrefix } from '../harness/names.js';

type Principal = 'anonymous' | 'admin' | 'ops-blue' | 'ops-red' | 'no-role';
type Verb = 'read' | 'list' | 'inspect' | 'create' | 'update' | 'delete';
const PRINCIPALS: readonly Principal[] = ['anonymous', 'admin', 'ops-blue', 'ops-red', 'no-role'];
const VERBS: readonly Verb[] = ['read', 'list', 'inspect', 'create', 'update', 'delete'];
const CLUSTER_WIDE = (t: ObjType) => !specOf(t).key.includes('tenantName') && t !== 'tenant';

/** The key of an object of type t in tenant (the tenant's own name for a tenant). */
function keyOf(t: ObjType, tenant: string): string {
  if (t === 'tenant') return tenant;
  return specOf(t)
    .key.map((f) => (f === 'tenantName' ? tenant : `m${f.length}`))
    .join(':');
}

/** What the matrix expects: 'ok' (neither 401 nor 403), 401 or 403. */
function expected(p: Principal, t: ObjType, tenant: string, v: Verb): 'ok' | 401 | 403 {
  if (p === 'anonymous') return 401;
  if (p === 'admin') return 'ok';
  if (v === 'list') return 'ok';
  const write = v === 'create' || v === 'update' || v === 'delete';
  if (CLUSTER_WIDE(t)) return write ? 403 : 'ok';
  if (t === 'tenant' && write) return 403;
  const own = p === 'ops-blue' ? 'blue' : p === 'ops-red' ? 'red' : undefined;
  if (!write && own) return 'ok';
  return own === tenant ? 'ok' : 403;
}

describe('REST role matrix', () => {
  let dir: string;
  let store: EmbeddedStore;
  let app: FastifyInstance;
  const tokens = new Map<Principal, string>();

  before(async () => {
    dir = await mkdtemp(tempDirPrefix('role-matrix'));
    store = await EmbeddedStore.open(dir);
    const accounts = new Accounts(store);
    app = buildServer({ store, auth: { accounts } });
    await app.ready();
    await accounts.ensureAdmin('Adm1n-secret');
    tokens.set('admin', await accounts.login('admin', 'Adm1n-secret'));
    for (const [p, tenant] of [
      ['ops-blue', 'blue'],
      ['ops-red', 'red'],
      ['no-role', undefined],
    ] as const) {
      await accounts.createUser({ username: p, password: `${p}-Secret1` });
      if (tenant)
        await accounts.addAuthorization({ principalName: p, local: true, role: 'ops', tenantName: tenant });
      tokens.set(p, await accounts.login(p, `${p}-Secret1`));
    }
    for (const t of ['blue', 'red']) {
      const r = await app.inject({
        method: 'POST',
        url: `/api/v1/tenants/${t}/`,
        headers: { 'x-auth-token': tokens.get('admin') ?? '' },
        payload: { tenantName: t },
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
    JSON.stringify((await store.list(CONFIG_PREFIX)).map((kv) => [kv.key, kv.value, kv.modRevision]));

  test('every type × verb × principal × tenant', async () => {
    let cases = 0;
    const wrong: string[] = [];
    for (const t of OBJECT_TYPES) {
      for (const tenant of CLUSTER_WIDE(t) ? ['-'] : ['blue', 'red']) {
        const key = keyOf(t, tenant);
        const url = `/api/v1/${PLURALS[t]}/${encodeURIComponent(key)}/`;
        for (const p of PRINCIPALS) {
          for (const v of VERBS) {
            const want = expected(p, t, tenant, v);
            const [method, path] =
              v === 'read'
                ? ['GET', url]
                : v === 'list'
                  ? ['GET', `/api/v1/${PLURALS[t]}/`]
                  : v === 'inspect'
                    ? ['GET', `/api/v1/inspect/${PLURALS[t]}/${encodeURIComponent(key)}/`]
                    : v === 'create'
                      ? ['POST', url]
                      : v === 'update'
                        ? ['PUT', url]
                        : ['DELETE', url];
            const token = tokens.get(p);
            const before = want === 'ok' ? '' : await snapshot();
            const r = await app.inject({
              method: method as 'GET',
              url: path,
              headers: token ? { 'x-auth-token': token } : {},
              ...(method === 'POST' || method === 'PUT' ? { payload: {} } : {}),
            });
            cases++;
            const got = r.statusCode === 401 || r.statusCode === 403 ? r.statusCode : 'ok';
            const what = `${p} ${v} ${t} ${key}: ${r.statusCode} ${r.body.slice(0, 120)}`;
            if (got !== want) wrong.push(`want ${want}: ${what}`);
            if (
              want === 403 &&
              !/may not .* it needs (the admin role|admin or ops for tenant \w+)/.test(r.body)
            )
              wrong.push(`403 without the missing right: ${what}`);
            if (want !== 'ok' && (await snapshot()) !== before) wrong.push(`store changed: ${what}`);
          }
        }
      }
    }
    process.stdout.write(`# role matrix: ${cases} requests\n`);
    assert.deepEqual(wrong, []);
    assert.ok(cases >= 600, `${cases} cases`);
  });

  test('lists show each principal only what it may read (ops: all; no role: cluster-wide only)', async () => {
    const admin = tokens.get('admin') ?? '';
    // The matrix's admin deleted them: make them again.
    for (const t of ['blue', 'red'])
      await app.inject({
        method: 'POST',
        url: `/api/v1/tenants/${t}/`,
        headers: { 'x-auth-token': admin },
        payload: { tenantName: t },
      });
    for (const [t, name] of [
      ['blue', 'bn'],
      ['red', 'rn'],
    ]) {
      const r = await app.inject({
        method: 'POST',
        url: `/api/v1/networks/${t}:${name}/`,
        headers: { 'x-auth-token': admin },
        payload: {
          tenantName: t,
          networkName: name,
          encap: 'vxlan',
          subnet: `10.${t === 'blue' ? 1 : 2}.0.0/24`,
        },
      });
      assert.equal(r.statusCode, 200, r.body);
    }
    const keys = async (p: Principal, plural: string) =>
      (
        JSON.parse(
          (
            await app.inject({
              method: 'GET',
              url: `/api/v1/${plural}/`,
              headers: { 'x-auth-token': tokens.get(p) ?? '' },
            })
          ).body,
        ) as { key: string }[]
      )
        .map((o) => o.key)
        .sort();
    assert.deepEqual(await keys('ops-blue', 'networks'), ['blue:bn', 'red:rn']);
    assert.deepEqual(await keys('no-role', 'networks'), []);
    assert.deepEqual(await keys('admin', 'networks'), ['blue:bn', 'red:rn']);
    assert.deepEqual(await keys('no-role', 'tenants'), []);
    assert.deepEqual(await keys('no-role', 'globals'), ['global']);
  });
});
