// Owns netmaster's people and their rights as Contiv's auth_proxy had them: local users (argon2id
// hashes, never the password), authorizations (a principal's role, admin or ops, and for ops the
// tenant), and login tokens (kept as their SHA-256 only, with an expiry, so any netmaster on the
// store can check one). Every refusal names the field and the reason.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { hash, verify } from 'argon2';
import type { Store } from '../../state/store.js';

export const AUTH_PREFIX = '/contiv.io/auth/';
const USERS = `${AUTH_PREFIX}users/`;
const AUTHZ = `${AUTH_PREFIX}authorizations/`;
const TOKENS = `${AUTH_PREFIX}tokens/`;

export type Role = 'admin' | 'ops';
export const ROLES: readonly Role[] = ['admin', 'ops'];

export interface LocalUser {
  username: string;
  firstname: string;
  lastname: string;
  disable: boolean;
}
interface StoredUser extends LocalUser {
  passwordHash: string;
}

/** Contiv's authorization: principalName holds role; an ops role is for one tenant. */
export interface Authorization {
  authzUUID: string;
  principalName: string;
  local: boolean;
  role: Role;
  tenantName: string;
}

/** What a request may do: everything (admin), or read and write the tenants listed (ops). */
export interface Rights {
  principal: string;
  admin: boolean;
  tenants: ReadonlySet<string>;
}

export class AccountError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'AccountError';
  }
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,63}$/;
const MAX_PASSWORD_BYTES = 256;

export function checkUsername(v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new AccountError(400, 'username: required');
  if (!NAME_RE.test(v))
    throw new AccountError(
      400,
      `username: "${v}" must be 1-64 letters, digits, _ . @ - (starting alphanumeric)`,
    );
  return v;
}

export function checkPassword(v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new AccountError(400, 'password: required');
  if (Buffer.byteLength(v) > MAX_PASSWORD_BYTES)
    throw new AccountError(400, `password: longer than ${MAX_PASSWORD_BYTES} bytes`);
  return v;
}

const optString = (o: Record<string, unknown>, f: string): string | undefined => {
  const v = o[f];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > 128)
    throw new AccountError(400, `${f}: must be a string of at most 128 characters`);
  return v;
};
const optBool = (o: Record<string, unknown>, f: string): boolean | undefined => {
  const v = o[f];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new AccountError(400, `${f}: must be true or false`);
  return v;
};

const parse = <T>(value: string | undefined): T | undefined => {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
};
const publicUser = (u: StoredUser): LocalUser => ({
  username: u.username,
  firstname: u.firstname,
  lastname: u.lastname,
  disable: u.disable,
});
const tokenKey = (token: string) => `${TOKENS}${createHash('sha256').update(token).digest('hex')}`;

interface StoredToken {
  principal: string;
  local: boolean;
  expiresAt: number;
}

export interface AccountsOptions {
  /** Login tokens' lifetime (default 12 h). */
  tokenTtlMs?: number;
  /**
   * How long a token's rights are taken as read (default 1 s): every request checks its token, and
   * three store reads each would cost more than the request. A logout, a removed authorization or a
   * disabled user takes effect at once on this netmaster and within this time on the others.
   */
  rightsCacheMs?: number;
  now?: () => number;
}

/** Tokens whose rights are remembered at most: a flood of distinct tokens cannot grow memory. */
const RIGHTS_CACHE_MAX = 10_000;

export class Accounts {
  private readonly ttlMs: number;
  private readonly rightsCacheMs: number;
  private readonly now: () => number;
  private readonly recentRights = new Map<string, { rights: Rights; until: number }>();
  /** Bumped after every change of users, authorizations or tokens: a read begun before it is not remembered. */
  private generation = 0;
  /** Verifying a login costs the same for unknown users (a hash of nothing to compare against). */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly store: Store,
    opts: AccountsOptions = {},
  ) {
    this.ttlMs = opts.tokenTtlMs ?? 12 * 3600_000;
    this.rightsCacheMs = opts.rightsCacheMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  async listUsers(): Promise<LocalUser[]> {
    return (await this.store.list(USERS))
      .map((kv) => parse<StoredUser>(kv.value))
      .filter((u): u is StoredUser => u !== undefined)
      .map(publicUser);
  }

  async getUser(name: string): Promise<LocalUser> {
    const u = parse<StoredUser>((await this.store.get(`${USERS}${checkUsername(name)}`))?.value);
    if (!u) throw new AccountError(404, `local user ${name} not found`);
    return publicUser(u);
  }

  async createUser(body: Record<string, unknown>): Promise<LocalUser> {
    const username = checkUsername(body.username);
    const password = checkPassword(body.password);
    const u: StoredUser = {
      username,
      firstname: optString(body, 'firstname') ?? '',
      lastname: optString(body, 'lastname') ?? '',
      disable: optBool(body, 'disable') ?? false,
      passwordHash: await hash(password),
    };
    const key = `${USERS}${username}`;
    const r = await this.store.txn(
      [{ key, target: 'create', op: '==', value: 0 }],
      [{ type: 'put', key, value: JSON.stringify(u) }],
    );
    if (!r.succeeded) throw new AccountError(409, `local user ${username} exists already`);
    return publicUser(u);
  }

  /** Changes names, disable and password; a disabled user's tokens stop working at once. */
  async updateUser(name: string, body: Record<string, unknown>): Promise<LocalUser> {
    const key = `${USERS}${checkUsername(name)}`;
    const kv = await this.store.get(key);
    const u = parse<StoredUser>(kv?.value);
    if (!kv || !u) throw new AccountError(404, `local user ${name} not found`);
    if (body.username !== undefined && body.username !== name)
      throw new AccountError(400, `username: "${String(body.username)}" does not match the URL`);
    const next: StoredUser = {
      ...u,
      firstname: optString(body, 'firstname') ?? u.firstname,
      lastname: optString(body, 'lastname') ?? u.lastname,
      disable: optBool(body, 'disable') ?? u.disable,
      passwordHash: body.password !== undefined ? await hash(checkPassword(body.password)) : u.passwordHash,
    };
    if (next.disable && !u.disable) await this.refuseLastAdmin(name, 'disable');
    const r = await this.store.txn(
      [{ key, target: 'mod', op: '==', value: kv.modRevision }],
      [{ type: 'put', key, value: JSON.stringify(next) }],
    );
    if (!r.succeeded) throw new AccountError(409, `local user ${name}: changed meanwhile; try again`);
    this.rightsChanged();
    return publicUser(next);
  }

  async deleteUser(name: string): Promise<void> {
    const key = `${USERS}${checkUsername(name)}`;
    if (!(await this.store.get(key))) throw new AccountError(404, `local user ${name} not found`);
    await this.refuseLastAdmin(name, 'delete');
    await this.store.delete(key);
    for (const a of await this.listAuthorizations()) {
      if (a.local && a.principalName === name) await this.store.delete(`${AUTHZ}${a.authzUUID}`);
    }
    this.rightsChanged();
  }

  private async refuseLastAdmin(name: string, verb: string): Promise<void> {
    const users = new Map((await this.listUsers()).map((u) => [u.username, u]));
    const admins = (await this.listAuthorizations()).filter(
      (a) => a.role === 'admin' && a.local && users.get(a.principalName)?.disable === false,
    );
    if (admins.length > 0 && admins.every((a) => a.principalName === name))
      throw new AccountError(409, `local user ${name}: the last enabled admin; cannot ${verb} it`);
  }

  async listAuthorizations(): Promise<Authorization[]> {
    return (await this.store.list(AUTHZ))
      .map((kv) => parse<Authorization>(kv.value))
      .filter((a): a is Authorization => a !== undefined);
  }

  async addAuthorization(body: Record<string, unknown>): Promise<Authorization> {
    const principalName = checkUsername(body.principalName ?? '');
    const local = optBool(body, 'local') ?? true;
    const role = body.role;
    if (role !== 'admin' && role !== 'ops')
      throw new AccountError(400, `role: "${String(role)}" is not one of ${ROLES.join(', ')}`);
    const tenantName = optString(body, 'tenantName') ?? '';
    if (role === 'ops' && tenantName === '') throw new AccountError(400, 'tenantName: required for role ops');
    if (role === 'admin' && tenantName !== '')
      throw new AccountError(400, 'tenantName: admin is for every tenant; give none');
    if (local) await this.getUser(principalName);
    const same = (await this.listAuthorizations()).find(
      (a) =>
        a.principalName === principalName &&
        a.local === local &&
        a.role === role &&
        a.tenantName === tenantName,
    );
    if (same) return same;
    const a: Authorization = { authzUUID: randomUUID(), principalName, local, role, tenantName };
    await this.store.put(`${AUTHZ}${a.authzUUID}`, JSON.stringify(a));
    this.rightsChanged();
    return a;
  }

  async removeAuthorization(uuid: string): Promise<void> {
    const a = parse<Authorization>((await this.store.get(`${AUTHZ}${uuid}`))?.value);
    if (!a) throw new AccountError(404, `authorization ${uuid} not found`);
    if (a.role === 'admin' && a.local) {
      const others = (await this.listAuthorizations()).filter(
        (o) => o.role === 'admin' && o.local && o.authzUUID !== uuid,
      );
      if (others.length === 0)
        throw new AccountError(409, `authorization ${uuid}: the last admin's; cannot remove it`);
    }
    await this.store.delete(`${AUTHZ}${uuid}`);
    this.rightsChanged();
  }

  /** A token for a local user's right password; the same refusal for every wrong pair. */
  async login(username: unknown, password: unknown): Promise<string> {
    const name = typeof username === 'string' ? username : '';
    const pw = typeof password === 'string' ? password : '';
    const u = NAME_RE.test(name)
      ? parse<StoredUser>((await this.store.get(`${USERS}${name}`))?.value)
      : undefined;
    this.dummyHash ??= hash('no such user');
    const ok = u
      ? await verify(u.passwordHash, pw).catch(() => false)
      : await verify(await this.dummyHash, pw).then(() => false);
    if (!u || !ok || u.disable) throw new AccountError(401, 'invalid username or password');
    return this.issue(name, true, this.ttlMs);
  }

  /** A token for a principal without a password (the host's admin credential): ttlMs 0 = no expiry. */
  async issue(principal: string, local: boolean, ttlMs: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const rec: StoredToken = { principal, local, expiresAt: ttlMs > 0 ? this.now() + ttlMs : 0 };
    await this.store.put(tokenKey(token), JSON.stringify(rec));
    return token;
  }

  async logout(token: string): Promise<void> {
    await this.store.delete(tokenKey(token));
    this.rightsChanged();
  }

  /** What this netmaster remembered is void: the next check of every token reads the store. */
  private rightsChanged(): void {
    this.generation++;
    this.recentRights.clear();
  }

  /** The rights a token carries now, or undefined (unknown, expired, or its user disabled). */
  async rightsOf(token: string | undefined): Promise<Rights | undefined> {
    if (!token || token.length > 128) return undefined;
    const now = this.now();
    const known = this.recentRights.get(token);
    if (known && known.until > now) return known.rights;
    const generation = this.generation;
    const read = await this.readRights(token);
    if (!read) {
      this.recentRights.delete(token);
      return undefined;
    }
    if (generation === this.generation) {
      if (this.recentRights.size >= RIGHTS_CACHE_MAX) this.recentRights.clear();
      const until = now + this.rightsCacheMs;
      this.recentRights.set(token, {
        rights: read.rights,
        until: read.expiresAt ? Math.min(until, read.expiresAt) : until,
      });
    }
    return read.rights;
  }

  private async readRights(token: string): Promise<{ rights: Rights; expiresAt: number } | undefined> {
    const t = parse<StoredToken>((await this.store.get(tokenKey(token)))?.value);
    if (!t) return undefined;
    if (t.expiresAt !== 0 && t.expiresAt <= this.now()) {
      await this.store.delete(tokenKey(token));
      return undefined;
    }
    if (t.local) {
      const u = parse<StoredUser>((await this.store.get(`${USERS}${t.principal}`))?.value);
      if (!u || u.disable) return undefined;
    }
    const mine = (await this.listAuthorizations()).filter(
      (a) => a.principalName === t.principal && a.local === t.local,
    );
    const rights: Rights = {
      principal: t.principal,
      admin: mine.some((a) => a.role === 'admin'),
      tenants: new Set(mine.filter((a) => a.role === 'ops').map((a) => a.tenantName)),
    };
    return { rights, expiresAt: t.expiresAt };
  }

  /**
   * First start: an `admin` user with the admin role, its password from passwordFile or random.
   * Returns the password when this call made one up (the daemon prints it once), else undefined.
   */
  async ensureAdmin(password?: string): Promise<string | undefined> {
    if ((await this.listUsers()).length > 0) return undefined;
    const made = password === undefined ? randomBytes(12).toString('base64url') : undefined;
    try {
      await this.createUser({ username: 'admin', password: password ?? made });
    } catch (e) {
      if (e instanceof AccountError && e.status === 409) return undefined;
      throw e;
    }
    await this.addAuthorization({ principalName: 'admin', local: true, role: 'admin' });
    return made;
  }
}
