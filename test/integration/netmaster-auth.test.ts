// Proves logins and roles on a real netmaster process over TLS: without a token nothing is read
// or written (401, the store unchanged); a wrong password is refused; ops works only inside its
// tenant (403 naming the role it lacks, lists filtered); tokens end at logout; the certificate is
// signed by the CA in the local admin credential; our netctl and Contiv's own log in and work.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { main } from '../../cli/netctl/main.js';
import { CONTIV_NETCTL, contivToolsPresent } from '../harness/contiv.js';
import { tempDirPrefix } from '../harness/names.js';
import { type NetmasterProcess, startNetmaster } from '../harness/netmaster.js';

interface Reply {
  status: number;
  body: unknown;
}

describe('netmaster logins and roles over TLS', () => {
  let nm: NetmasterProcess;
  let dir: string;
  let ca: string;
  let adminToken: string;
  let opsToken: string;

  const call = (method: string, path: string, token?: string, body?: unknown): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const u = new URL(path, nm.secureUrl);
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        u,
        {
          method,
          ca,
          headers: {
            ...(token ? { 'x-auth-token': token } : {}),
            ...(data ? { 'content-type': 'application/json' } : {}),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
          });
          res.on('end', () => {
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {}
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });

  const plainList = async (plural: string): Promise<string[]> => {
    const r = await fetch(`${nm.url}/api/v1/${plural}/`);
    assert.equal(r.status, 200);
    return ((await r.json()) as { key: string }[]).map((o) => o.key).sort();
  };

  const errOf = (r: Reply): string => JSON.stringify(r.body);

  before(async () => {
    dir = await mkdtemp(tempDirPrefix('nm-auth'));
    writeFileSync(join(dir, 'pw'), 'Adm1n-secret\n', { mode: 0o600 });
    nm = await startNetmaster(['--admin-password-file', join(dir, 'pw')]);
    const cred = JSON.parse(readFileSync(nm.adminConf, 'utf8')) as {
      netmaster: string;
      token: string;
      ca: string;
    };
    assert.equal(statSync(nm.adminConf).mode & 0o777, 0o600);
    assert.equal(cred.netmaster, nm.secureUrl);
    ca = cred.ca;
  });

  after(async () => {
    nm?.p.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  test('without a token nothing is read or written, and the store is unchanged', async () => {
    const before = await plainList('networks');
    const list = await call('GET', '/api/v1/networks/');
    assert.equal(list.status, 401);
    assert.match(errOf(list), /not signed in/);
    const create = await call('POST', '/api/v1/networks/default:n1/', undefined, {
      tenantName: 'default',
      networkName: 'n1',
      encap: 'vxlan',
      subnet: '10.1.1.0/24',
    });
    assert.equal(create.status, 401);
    assert.equal((await call('GET', '/api/v1/auth_proxy/local_users/', 'no-such-token')).status, 401);
    assert.deepEqual(await plainList('networks'), before);
    // What anyone may ask before logging in.
    assert.equal((await call('GET', '/api/v1/auth_proxy/health/')).status, 200);
  });

  test('a wrong password is refused; the right one gives a token that works', async () => {
    const bad = await call('POST', '/api/v1/auth_proxy/login/', undefined, {
      username: 'admin',
      password: 'wrong',
    });
    assert.equal(bad.status, 401);
    const ok = await call('POST', '/api/v1/auth_proxy/login/', undefined, {
      username: 'admin',
      password: 'Adm1n-secret',
    });
    assert.equal(ok.status, 200, errOf(ok));
    adminToken = (ok.body as { token: string }).token;
    assert.equal((await call('GET', '/api/v1/tenants/', adminToken)).status, 200);
  });

  test('admin makes tenants, a user and an ops authorization for one tenant', async () => {
    for (const t of ['blue', 'red']) {
      const r = await call('POST', `/api/v1/tenants/${t}/`, adminToken, { tenantName: t });
      assert.equal(r.status, 200, errOf(r));
    }
    const red = await call('POST', '/api/v1/networks/red:rnet/', adminToken, {
      tenantName: 'red',
      networkName: 'rnet',
      encap: 'vxlan',
      subnet: '10.9.1.0/24',
    });
    assert.equal(red.status, 200, errOf(red));
    const u = await call('POST', '/api/v1/auth_proxy/local_users/', adminToken, {
      username: 'alice',
      password: 'Al1ce-secret',
    });
    assert.equal(u.status, 200, errOf(u));
    assert.equal(JSON.stringify(u.body).includes('Al1ce'), false, 'the password is never given back');
    const a = await call('POST', '/api/v1/auth_proxy/authorizations/', adminToken, {
      principalName: 'alice',
      local: true,
      role: 'ops',
      tenantName: 'blue',
    });
    assert.equal(a.status, 200, errOf(a));
    const bad = await call('POST', '/api/v1/auth_proxy/authorizations/', adminToken, {
      principalName: 'alice',
      local: true,
      role: 'root',
      tenantName: 'blue',
    });
    assert.equal(bad.status, 400);
    assert.match(errOf(bad), /role/);
    const login = await call('POST', '/api/v1/auth_proxy/login/', undefined, {
      username: 'alice',
      password: 'Al1ce-secret',
    });
    assert.equal(login.status, 200, errOf(login));
    opsToken = (login.body as { token: string }).token;
  });

  test('ops reads every tenant and writes only inside its own', async () => {
    const mine = await call('POST', '/api/v1/networks/blue:bnet/', opsToken, {
      tenantName: 'blue',
      networkName: 'bnet',
      encap: 'vxlan',
      subnet: '10.9.2.0/24',
    });
    assert.equal(mine.status, 200, errOf(mine));
    const before = await plainList('networks');
    const theirs = await call('POST', '/api/v1/networks/red:r2/', opsToken, {
      tenantName: 'red',
      networkName: 'r2',
      encap: 'vxlan',
      subnet: '10.9.3.0/24',
    });
    assert.equal(theirs.status, 403);
    assert.match(errOf(theirs), /alice \(ops for blue\) may not write network red:r2/);
    // ops reads every tenant, writes only its own.
    assert.equal((await call('GET', '/api/v1/networks/red:rnet/', opsToken)).status, 200);
    assert.equal((await call('DELETE', '/api/v1/networks/red:rnet/', opsToken)).status, 403);
    assert.equal(
      (await call('POST', '/api/v1/tenants/green/', opsToken, { tenantName: 'green' })).status,
      403,
    );
    assert.equal((await call('GET', '/api/v1/auth_proxy/local_users/', opsToken)).status, 403);
    // Cluster-wide settings: read by anyone signed in, written by admins.
    assert.equal((await call('GET', '/api/v1/globals/global/', opsToken)).status, 200);
    assert.equal((await call('POST', '/api/v1/globals/global/', opsToken, { name: 'global' })).status, 403);
    assert.deepEqual(await plainList('networks'), before, 'refused writes change nothing');

    const list = await call('GET', '/api/v1/networks/', opsToken);
    assert.equal(list.status, 200);
    assert.deepEqual((list.body as { key: string }[]).map((n) => n.key).sort(), ['blue:bnet', 'red:rnet']);
    const all = await call('GET', '/api/v1/networks/', adminToken);
    assert.deepEqual((all.body as { key: string }[]).map((n) => n.key).sort(), ['blue:bnet', 'red:rnet']);
  });

  test('our netctl logs in as the ops user and works inside its tenant', async () => {
    const home = join(dir, 'home');
    const netctl = async (argv: string[]) => {
      let out = '';
      let err = '';
      const code = await main(
        ['--netmaster', nm.secureUrl, '--insecure', ...argv],
        { HOME: home, CONTIV_ADMIN_CONF: join(dir, 'none.conf') },
        {
          out: (t) => {
            out += t;
          },
          err: (t) => {
            err += t;
          },
        },
      );
      return { code, out, err };
    };
    const login = await netctl(['login', '-u', 'alice', '-p', 'Al1ce-secret']);
    assert.equal(login.code, 0, login.err);
    const ls = await netctl(['net', 'ls', '-a', '-q']);
    assert.equal(ls.code, 0, ls.err);
    assert.deepEqual(ls.out.trim().split('\n').sort(), ['bnet', 'rnet']);
    const refused = await netctl(['net', 'create', '-t', 'red', '-s', '10.9.4.0/24', 'r3']);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /needs admin or ops for tenant red/);
  });

  test("Contiv's own netctl logs in (the password typed at its prompt) and works as the ops user", async () => {
    if (!contivToolsPresent()) throw new Error(`Contiv's netctl missing from ${CONTIV_NETCTL}`);
    // Contiv's netctl keeps its token in the passwd home's .netctl/config.json: a private mount
    // namespace puts a directory of ours there, so the machine's own home is never touched.
    const home = join(dir, 'contiv-home');
    mkdirSync(home);
    const contiv = (argv: string[], typed: string[] = []) =>
      promisify(execFile)(
        'python3',
        [
          '-c',
          PTY_DRIVER,
          JSON.stringify(typed),
          'unshare',
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$1" "$2" && shift 2 && exec "$@"',
          'sh',
          home,
          userInfo().homedir,
          CONTIV_NETCTL,
          '--netmaster',
          nm.secureUrl,
          '--insecure',
          ...argv,
        ],
        { timeout: 20_000 },
      );
    const login = await contiv(['login'], ['alice', 'Al1ce-secret']);
    assert.match(login.stdout, /Login succeeded\./);
    assert.ok(statSync(join(home, '.netctl', 'config.json')).isFile());
    const ls = await contiv(['net', 'ls', '-t', 'blue', '-q']);
    assert.equal(ls.stdout.trim(), 'bnet');
    await assert.rejects(
      contiv(['net', 'create', '-t', 'red', '-s', '10.9.5.0/24', 'r4']),
      (e: { stdout?: string }) => {
        assert.match(e.stdout ?? '', /needs admin or ops for tenant red/);
        return true;
      },
    );
    await assert.rejects(contiv(['tenant', 'create', 'green']), (e: { stdout?: string }) => {
      assert.match(e.stdout ?? '', /needs the admin role/);
      return true;
    });
  });

  test('netctl manages users and authorizations as the local admin; ops may not', async () => {
    const run = async (argv: string[], env: NodeJS.ProcessEnv) => {
      let out = '';
      let err = '';
      const code = await main(['--netmaster', nm.secureUrl, ...argv], env, {
        out: (t) => {
          out += t;
        },
        err: (t) => {
          err += t;
        },
      });
      return { code, out, err };
    };
    // root on the host: the local admin credential (its token and CA), no login.
    const root = (argv: string[]) =>
      run(argv, { HOME: join(dir, 'root-home'), CONTIV_ADMIN_CONF: nm.adminConf });
    const made = await root(['user', 'create', 'bob', '--password', 'B0b-secret']);
    assert.equal(made.code, 0, made.err);
    assert.equal(made.out, 'Creating user bob\n');
    const noPw = await root(['user', 'create', 'carol']);
    assert.equal(noPw.code, 1);
    assert.match(noPw.err, /--password is required/);
    const authz = await root(['authorization', 'create', 'bob', '--role', 'ops', '--tenant', 'blue']);
    assert.equal(authz.code, 0, authz.err);
    const id = /Authorization (\S+):/.exec(authz.out)?.[1] ?? '';
    assert.match((await root(['user', 'ls', '-q'])).out, /^bob$/m);
    assert.match(
      (await root(['authorization', 'ls'])).out,
      new RegExp(`${id}\\s+bob\\s+true\\s+ops\\s+blue`),
    );
    const badRole = await root(['authorization', 'create', 'bob', '--role', 'root']);
    assert.equal(badRole.code, 1);
    assert.match(badRole.err, /role: "root" is not one of admin, ops/);
    assert.equal((await root(['user', 'set-password', 'bob', '--password', 'B0b-secret2'])).code, 0);
    const bob = await call('POST', '/api/v1/auth_proxy/login/', undefined, {
      username: 'bob',
      password: 'B0b-secret2',
    });
    assert.equal(bob.status, 200, errOf(bob));
    // An ops user may not see or manage people.
    const asOps = (argv: string[]) =>
      run(['--insecure', ...argv], { HOME: join(dir, 'home'), CONTIV_ADMIN_CONF: join(dir, 'none.conf') });
    const refused = await asOps(['user', 'ls']);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /needs the admin role/);
    assert.equal((await root(['authorization', 'rm', id])).code, 0);
    assert.equal((await root(['user', 'rm', 'bob'])).code, 0);
    assert.doesNotMatch((await root(['user', 'ls', '-q'])).out, /bob/);
  });

  test('admins read the audit of writes (who, from where, what, the result); ops may not', async () => {
    const r = await call('GET', '/api/v1/auth_proxy/audit/?limit=500', adminToken);
    assert.equal(r.status, 200, errOf(r));
    const entries = r.body as { who: string; from: string; method: string; url: string; status: number }[];
    assert.ok(
      entries.some(
        (e) =>
          e.who === 'alice' &&
          e.method === 'POST' &&
          e.url === '/api/v1/networks/red:r2/' &&
          e.status === 403,
      ),
      'the refused write, naming who tried',
    );
    assert.ok(
      entries.some((e) => e.who === 'alice' && e.url === '/api/v1/networks/blue:bnet/' && e.status === 200),
    );
    assert.ok(
      entries.some((e) => e.who === 'admin' && e.url === '/api/v1/auth_proxy/login/' && e.status === 200),
    );
    assert.ok(entries.every((e) => e.from === '127.0.0.1'));
    assert.equal((await call('GET', '/api/v1/auth_proxy/audit/', opsToken)).status, 403);
    const bad = await call('GET', '/api/v1/auth_proxy/audit/?limit=0', adminToken);
    assert.equal(bad.status, 400);
    assert.match((bad.body as { Err: string }).Err, /limit: "0" is not a whole number/);
  });

  test('a token ends at logout', async () => {
    assert.equal((await call('POST', '/api/v1/auth_proxy/logout/', opsToken)).status, 200);
    assert.equal((await call('GET', '/api/v1/networks/', opsToken)).status, 401);
    assert.equal((await call('GET', '/api/v1/networks/', adminToken)).status, 200);
  });
});

/** Runs argv[2:] on a pseudo-terminal, typing each of the JSON list argv[1] at each prompt (a line ending in ": "). */
const PTY_DRIVER = `
import json, os, pty, sys
typed = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b''
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if typed and out.rstrip(b' ').endswith(b':'):
        os.write(fd, (typed.pop(0) + '\\n').encode())
        out += b'\\n'
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;
