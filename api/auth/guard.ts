// Owns what each REST request needs and whether a principal's rights cover it: public routes,
// admin-only routes (accounts, the store API and the routes netplugins call), and config objects,
// whose tenant (from the key) decides: admin may do anything; ops reads every tenant and writes
// only inside its own; cluster-wide objects (global, Bgp, aciGw) are read by anyone signed in and
// written by admins; a principal with no role reads only those.
import { type ObjType, parseKey, typeOfPlural } from '../../policy/model/index.js';
import type { Rights } from './accounts.js';

export type Need =
  | { kind: 'public' }
  | { kind: 'signed-in' }
  | { kind: 'admin'; what: string }
  | { kind: 'object'; type: ObjType; tenant: string | undefined; write: boolean; what: string }
  /** A list: anyone signed in; the answer holds only what the rights cover. */
  | { kind: 'list'; type: ObjType };

const PUBLIC = new Set([
  'GET /version',
  'POST /api/v1/auth_proxy/login',
  'GET /api/v1/auth_proxy/health',
  'GET /api/v1/auth_proxy/version',
]);
const SIGNED_IN = new Set(['POST /api/v1/auth_proxy/logout', 'GET /info', 'GET /api/v1/openapi.json']);

/** The tenant an object of type t with this key belongs to; undefined for cluster-wide types. */
export function tenantOf(t: ObjType, key: string): string | undefined {
  if (t === 'tenant') return key;
  const f = parseKey(t, key);
  return f && typeof f.tenantName === 'string' ? f.tenantName : undefined;
}

/** What method + path (no query) needs. Unknown paths need admin: a 404 tells nobody else anything. */
export function needOf(method: string, url: string): Need {
  const path = (url.split('?')[0] ?? '').replace(/\/+$/, '') || '/';
  const m = method === 'HEAD' ? 'GET' : method;
  if (PUBLIC.has(`${m} ${path}`)) return { kind: 'public' };
  if (SIGNED_IN.has(`${m} ${path}`)) return { kind: 'signed-in' };
  const parts = path.split('/').slice(1).map(decodeURIComponentSafe);
  if (parts[0] === 'api' && parts[1] === 'v1' && parts[2] !== 'auth_proxy') {
    const inspect = parts[2] === 'inspect';
    const [plural, key, ...rest] = parts.slice(inspect ? 3 : 2);
    const t = plural ? typeOfPlural(plural) : undefined;
    if (t && rest.length === 0) {
      if (key === undefined)
        return m === 'GET' && !inspect ? { kind: 'list', type: t } : { kind: 'admin', what: path };
      const write = m !== 'GET';
      return { kind: 'object', type: t, tenant: tenantOf(t, key), write, what: `${t} ${key}` };
    }
  }
  return { kind: 'admin', what: `${m} ${path}` };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const describe = (r: Rights) =>
  r.admin
    ? `${r.principal} (admin)`
    : r.tenants.size > 0
      ? `${r.principal} (ops for ${[...r.tenants].join(', ')})`
      : `${r.principal} (no role)`;

/** Why these rights do not cover the need, or undefined when they do. */
export function refusal(r: Rights, need: Need): string | undefined {
  if (r.admin) return undefined;
  switch (need.kind) {
    case 'public':
    case 'signed-in':
    case 'list':
      return undefined;
    case 'admin':
      return `${describe(r)} may not ${need.what}: it needs the admin role`;
    case 'object': {
      const verb = need.write ? 'write' : 'read';
      // ops may not make or remove tenants, only work inside its own.
      if (need.type === 'tenant' && need.write)
        return `${describe(r)} may not ${verb} ${need.what}: it needs the admin role`;
      if (need.tenant === undefined)
        return need.write
          ? `${describe(r)} may not ${verb} ${need.what}: it needs the admin role`
          : undefined;
      // ops reads all (as the issue and Contiv's DevOps role have it), writes only its own.
      if (!need.write && r.tenants.size > 0) return undefined;
      if (r.tenants.has(need.tenant)) return undefined;
      return `${describe(r)} may not ${verb} ${need.what}: it needs admin or ops for tenant ${need.tenant}`;
    }
  }
}

/** Whether a list answer may show this object to these rights. */
export function mayRead(r: Rights, tenant: string | undefined): boolean {
  return r.admin || tenant === undefined || r.tenants.size > 0;
}
