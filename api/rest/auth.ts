// Owns logins on the REST API, Contiv's auth_proxy way: /api/v1/auth_proxy/ (login, logout,
// health, version, local_users, authorizations), the X-Auth-Token every other request carries,
// the 401/403 for requests without the right, and one audit line per write.
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AccountError, type Accounts, type Rights } from '../auth/accounts.js';
import { needOf, refusal } from '../auth/guard.js';
import { HttpError } from './http-error.js';
import { VERSION } from './version.js';

export interface AuthOptions {
  accounts: Accounts;
  /**
   * Requests that did not come over TLS act as the local admin: only the loopback listener an
   * operator asks for (--insecure-listen) carries them, for Contiv clients that cannot send a token
   * without TLS. Leave unset when the server itself is plain HTTP.
   */
  trustPlainLocal?: boolean;
  /**
   * The local admin's token, which a plain local request carries on when a follower forwards it to
   * the leader (the leader trusts no plain request of another host).
   */
  localAdminToken?: () => string | undefined;
}

const rightsByRequest = new WeakMap<FastifyRequest, Rights>();

/** One write as the audit keeps it: who (principal, or the username a login tried), from where, what, and the result. */
export interface AuditEntry {
  time: string;
  who: string;
  from: string;
  method: string;
  url: string;
  status: number;
}

/** Writes each netmaster keeps for GET /api/v1/auth_proxy/audit/ (admins only). */
export const AUDIT_KEPT = 10_000;

/** The rights the request came with; undefined when the server has no logins. */
export const requestRights = (req: FastifyRequest): Rights | undefined => rightsByRequest.get(req);

const LOCAL_ADMIN: Rights = { principal: 'local (insecure listener)', admin: true, tenants: new Set() };

const token = (req: FastifyRequest): string | undefined => {
  const h = req.headers['x-auth-token'];
  return typeof h === 'string' ? h : undefined;
};

/** The username a login body names, for its audit line (any body: a bad one was refused already). */
const loginName = (b: unknown): string =>
  typeof b === 'object' && b !== null && !Array.isArray(b)
    ? String((b as Record<string, unknown>).username ?? '')
    : '';

const bodyObject = (b: unknown): Record<string, unknown> => {
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    throw new HttpError(400, 'the request body must be a JSON object');
  return b as Record<string, unknown>;
};

export function registerAuth(app: FastifyInstance, opts: AuthOptions): void {
  const { accounts } = opts;
  app.addHook('onRequest', async (req) => {
    const need = needOf(req.method, req.url);
    if (need.kind === 'public') return;
    const plain = (req.raw.socket as Partial<TLSSocket>).encrypted !== true;
    const plainLocal = opts.trustPlainLocal === true && plain;
    const rights = plainLocal ? LOCAL_ADMIN : await accounts.rightsOf(token(req));
    const carried = plainLocal ? opts.localAdminToken?.() : undefined;
    if (carried) req.headers['x-auth-token'] = carried;
    if (!rights)
      throw new HttpError(401, 'not signed in: log in (netctl login) and send the token as X-Auth-Token');
    // Set before the check, so that a refused write's audit line names who tried.
    rightsByRequest.set(req, rights);
    const why = refusal(rights, need);
    if (why) throw new HttpError(403, why);
  });
  // The newest writes, for admins through the API; the log lines are the durable record.
  const audit: AuditEntry[] = [];
  app.addHook('onResponse', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const path = req.url.split('?')[0] ?? '';
    const entry: AuditEntry = {
      time: new Date().toISOString(),
      who: path.startsWith('/api/v1/auth_proxy/login')
        ? loginName(req.body)
        : (rightsByRequest.get(req)?.principal ?? ''),
      from: req.ip,
      method: req.method,
      url: path,
      status: reply.statusCode,
    };
    req.log.info({ audit: true, ...entry }, 'audit');
    audit.push(entry);
    // Trimmed in batches: one shift of the whole array per AUDIT_KEPT writes, not per write.
    if (audit.length >= 2 * AUDIT_KEPT) audit.splice(0, audit.length - AUDIT_KEPT);
  });

  const P = '/api/v1/auth_proxy';
  app.post(`${P}/login/`, async (req) => {
    const b = bodyObject(req.body);
    return { token: await accounts.login(b.username, b.password) };
  });
  app.post(`${P}/logout/`, async (req) => {
    const t = token(req);
    if (t) await accounts.logout(t);
    return {};
  });
  app.get(`${P}/health/`, async () => ({
    status: 'healthy',
    version: VERSION,
    netmaster: { status: 'healthy', version: VERSION },
  }));
  app.get(`${P}/version/`, async () => ({ version: VERSION }));
  app.get<{ Querystring: { limit?: string } }>(`${P}/audit/`, async (req) => {
    const n = req.query.limit === undefined ? AUDIT_KEPT : Number(req.query.limit);
    if (!Number.isInteger(n) || n < 1 || n > AUDIT_KEPT)
      throw new HttpError(400, `limit: "${req.query.limit}" is not a whole number from 1 to ${AUDIT_KEPT}`);
    return audit.slice(-n);
  });

  app.get(`${P}/local_users/`, () => accounts.listUsers());
  app.post(`${P}/local_users/`, (req) => accounts.createUser(bodyObject(req.body)));
  app.get<{ Params: { name: string } }>(`${P}/local_users/:name/`, (req) =>
    accounts.getUser(req.params.name),
  );
  const update = (req: FastifyRequest<{ Params: { name: string } }>) =>
    accounts.updateUser(req.params.name, bodyObject(req.body));
  app.patch<{ Params: { name: string } }>(`${P}/local_users/:name/`, update);
  app.put<{ Params: { name: string } }>(`${P}/local_users/:name/`, update);
  app.delete<{ Params: { name: string } }>(`${P}/local_users/:name/`, async (req) => {
    await accounts.deleteUser(req.params.name);
    return {};
  });

  app.get(`${P}/authorizations/`, () => accounts.listAuthorizations());
  app.post(`${P}/authorizations/`, (req) => accounts.addAuthorization(bodyObject(req.body)));
  app.get<{ Params: { id: string } }>(`${P}/authorizations/:id/`, async (req) => {
    const a = (await accounts.listAuthorizations()).find((x) => x.authzUUID === req.params.id);
    if (!a) throw new AccountError(404, `authorization ${req.params.id} not found`);
    return a;
  });
  app.delete<{ Params: { id: string } }>(`${P}/authorizations/:id/`, async (req) => {
    await accounts.removeAuthorization(req.params.id);
    return {};
  });
}
