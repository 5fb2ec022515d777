// Proves netctl's login and --insecure as Contiv had them, against a stand-in auth_proxy on https
// with a self-signed certificate (made by openssl here): the certificate is refused unless
// --insecure (or INSECURE=true) is given, login stores the token in ~/.netctl/config.json (0600),
// and later calls send it as X-Auth-Token.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../../cli/netctl/main.js';
import { tempDirPrefix } from '../harness/names.js';
import { missingFor } from '../harness/require.js';

const missing = missingFor('openssl');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('netctl login and --insecure', { skip }, () => {
  let dir: string;
  let server: Server;
  let url: string;
  const seenTokens: (string | undefined)[] = [];

  before(async () => {
    dir = await mkdtemp(tempDirPrefix('netctl-login'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=auth-proxy',
      ],
      { stdio: 'ignore' },
    );
    server = createServer(
      { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) },
      (req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => {
          body += d.toString();
        });
        req.on('end', () => {
          res.setHeader('content-type', 'application/json');
          if (req.method === 'POST' && req.url === '/api/v1/auth_proxy/login/') {
            const c = JSON.parse(body) as { username?: string; password?: string };
            if (c.username === 'admin' && c.password === 's3cret') return res.end('{"token":"tok-123"}');
            res.statusCode = 401;
            return res.end('{"Err":"invalid username or password"}');
          }
          const token = req.headers['x-auth-token'];
          seenTokens.push(typeof token === 'string' ? token : undefined);
          if (token !== 'tok-123') {
            res.statusCode = 401;
            return res.end('{"Err":"no valid token"}');
          }
          res.end('[{"key":"default","tenantName":"default"}]');
        });
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  async function netctl(argv: string[], env: NodeJS.ProcessEnv = {}) {
    let out = '';
    let err = '';
    const code = await main(
      argv,
      { HOME: dir, ...env },
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
  }

  test('a self-signed certificate is refused without --insecure', async () => {
    const r = await netctl(['--netmaster', url, 'login', '-u', 'admin', '-p', 's3cret']);
    assert.equal(r.code, 1);
    assert.match(r.err, /self[- ]signed certificate/i);
  });

  test('a wrong password fails with auth_proxy message and stores nothing', async () => {
    const r = await netctl(['--netmaster', url, '--insecure', 'login', '-u', 'admin', '-p', 'nope']);
    assert.equal(r.code, 1);
    assert.match(r.err, /invalid username or password/);
    await assert.rejects(stat(join(dir, '.netctl', 'config.json')));
  });

  test('login with --insecure stores the token (0600), and later calls send it', async () => {
    const r = await netctl([
      'login',
      '--insecure',
      '--netmaster',
      url,
      '--username=admin',
      '--password=s3cret',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'Login succeeded.\n');
    const file = join(dir, '.netctl', 'config.json');
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { token: 'tok-123' });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, '.netctl'))).mode & 0o777, 0o700);

    // INSECURE=true as Contiv's env var; the token goes along.
    const ls = await netctl(['--netmaster', url, 'tenant', 'ls', '-q'], { INSECURE: 'true' });
    assert.equal(ls.code, 0, ls.err);
    assert.equal(ls.out.trim(), 'default');
    assert.equal(seenTokens.at(-1), 'tok-123');
  });
});
