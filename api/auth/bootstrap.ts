// Owns netmaster's security at start: its certificates (shared through the store by every
// netmaster on it, so followers and leader trust one CA), the first admin, and the local admin
// credential that root's netctl on this host finds (as kubeadm writes admin.conf).
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Store } from '../../state/store.js';
import { type Accounts, AUTH_PREFIX } from './accounts.js';
import { writeFileAtomic } from './files.js';
import { ensurePki, type Pki, type PkiOptions } from './pki.js';

/** Where netmaster writes, and netctl looks for, the local admin credential by default. */
export const DEFAULT_ADMIN_CONF = '/etc/contiv/admin.conf';
/** Where the managed plugin (v2plugin) writes it: the host's /run, through its host_run mount. */
export const PLUGIN_ADMIN_CONF = '/run/contiv/admin.conf';
/** The principal of the local admin credential (not a user: it has no password). */
export const LOCAL_ADMIN = 'local-admin';

export interface LocalCredential {
  /** https://127.0.0.1:PORT */
  netmaster: string;
  token: string;
  /** PEM of the CA that signed netmaster's certificate. */
  ca: string;
}

const SHARED_CA = `${AUTH_PREFIX}ca`;

/**
 * The certificates, and with a store other netmasters share, one CA for all of them: the first
 * netmaster's goes into the store; the others take it (and re-issue their server certificate).
 */
export async function preparePki(dataDir: string, opts: PkiOptions, store?: Store): Promise<Pki> {
  const pki = await ensurePki(dataDir, opts);
  if (!store || !pki.dir || !pki.caKey) return pki;
  const mine = JSON.stringify({ cert: pki.ca, key: pki.caKey });
  const r = await store.txn(
    [{ key: SHARED_CA, target: 'create', op: '==', value: 0 }],
    [{ type: 'put', key: SHARED_CA, value: mine }],
    [{ type: 'get', key: SHARED_CA }],
  );
  if (r.succeeded) return pki;
  const shared = JSON.parse(r.reads[0]?.value ?? '{}') as { cert?: string; key?: string };
  if (!shared.cert || !shared.key || shared.cert === pki.ca) return pki;
  await writeFileAtomic(join(pki.dir, 'ca.key'), shared.key, 0o600);
  await writeFileAtomic(join(pki.dir, 'ca.crt'), shared.cert, 0o644);
  return ensurePki(dataDir, opts);
}

/**
 * The first admin (its password from passwordFile, else made up and returned to be printed once)
 * and the local admin credential, kept across restarts while its token is still good.
 */
export async function prepareAccounts(
  accounts: Accounts,
  opts: { passwordFile?: string; adminConf: string; netmaster: string; ca: string },
): Promise<{ credential: LocalCredential; madePassword?: string }> {
  const given = opts.passwordFile ? (await readFile(opts.passwordFile, 'utf8')).trim() : undefined;
  const madePassword = await accounts.ensureAdmin(given);
  await accounts.addAuthorization({ principalName: LOCAL_ADMIN, local: false, role: 'admin' });
  const old = readLocalCredential(opts.adminConf);
  const still = old ? await accounts.rightsOf(old.token) : undefined;
  const token =
    still?.admin && still.principal === LOCAL_ADMIN && old
      ? old.token
      : await accounts.issue(LOCAL_ADMIN, false, 0);
  await mkdir(dirname(opts.adminConf), { recursive: true, mode: 0o700 });
  const credential: LocalCredential = { netmaster: opts.netmaster, token, ca: opts.ca };
  await writeFileAtomic(opts.adminConf, `${JSON.stringify(credential, null, 2)}\n`, 0o600);
  return madePassword ? { credential, madePassword } : { credential };
}

/** The local admin credential, when this user can read it. */
export function readLocalCredential(path: string): LocalCredential | undefined {
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as Partial<LocalCredential>;
    if (typeof c.netmaster === 'string' && typeof c.token === 'string' && typeof c.ca === 'string')
      return { netmaster: c.netmaster, token: c.token, ca: c.ca };
  } catch {
    // Absent or unreadable (not root): netctl goes on without it.
  }
  return undefined;
}
