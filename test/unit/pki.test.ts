// Tests netmaster's PKI: its own CA and server certificate made, kept and re-issued, the operator's
// files checked, and the certificates as real TLS peers see them.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { ensurePki, issueClientCert, PkiError, verifyPeer } from '../../api/auth/pki.js';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'contiv-pki-'));
  dirs.push(d);
  return d;
}

/** Connects to 127.0.0.1:port; resolves to the TLS error, or undefined when the handshake succeeded. */
function handshake(port: number, ca?: string, servername = 'localhost'): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, servername, ...(ca ? { ca } : {}) }, () => {
      s.end();
      resolve(undefined);
    });
    s.on('error', resolve);
  });
}

describe('pki', () => {
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('makes a CA and a server certificate, private files, and reuses them', async () => {
    const dir = await tmp();
    const p = await ensurePki(dir, { hostnames: ['nm.example'], ips: ['203.0.113.7'] });
    assert.equal(p.created, true);
    assert.equal(p.serverIssued, true);
    const ca = new X509Certificate(p.ca);
    assert.equal(ca.ca, true);
    assert.equal(p.caFingerprint, ca.fingerprint256);
    assert.match(p.caFingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const x = new X509Certificate(p.cert);
    assert.equal(x.checkIssued(ca) && x.verify(ca.publicKey), true);
    assert.equal(x.checkHost('nm.example'), 'nm.example');
    assert.equal(x.checkIP('203.0.113.7'), '203.0.113.7');
    assert.equal(x.checkIP('::1'), '::1');
    for (const f of ['ca.key', 'server.key'])
      assert.equal((await stat(join(dir, 'pki', f))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'pki'))).mode & 0o777, 0o700);

    const again = await ensurePki(dir, { hostnames: ['nm.example'], ips: ['203.0.113.7'] });
    assert.deepEqual([again.created, again.serverIssued], [false, false]);
    assert.equal(again.cert, p.cert);
    assert.equal(again.caFingerprint, p.caFingerprint);

    // A name the certificate lacks, or nearing expiry: a new server certificate, same CA.
    const more = await ensurePki(dir, { hostnames: ['other.example'] });
    assert.deepEqual([more.created, more.serverIssued], [false, true]);
    assert.equal(more.caFingerprint, p.caFingerprint);
    const later = new Date(Date.now() + 340 * 86_400_000);
    const renewed = await ensurePki(dir, { hostnames: ['other.example'], now: () => later });
    assert.deepEqual([renewed.created, renewed.serverIssued], [false, true]);
  });

  it('serves TLS that verifies against the CA, and only against it', async () => {
    const p = await ensurePki(await tmp());
    const server = createServer({ cert: p.cert, key: p.key }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      assert.equal(await handshake(port, p.ca), undefined);
      const refused = await handshake(port);
      assert.ok(refused, 'a client without the CA must refuse');
      assert.match(
        (refused as NodeJS.ErrnoException).code ?? '',
        /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/,
      );
      const other = await ensurePki(await tmp());
      assert.ok(await handshake(port, other.ca), 'another CA must not do');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('loads given files, and names the file that is wrong', async () => {
    const own = await ensurePki(await tmp());
    const other = await ensurePki(await tmp());
    const d = await tmp();
    const f = (n: string) => join(d, n);
    await writeFile(f('s.crt'), own.cert);
    await writeFile(f('s.key'), own.key);
    await writeFile(f('ca.crt'), own.ca);
    await writeFile(f('other.key'), other.key);
    await writeFile(f('junk'), 'not pem');
    const p = await ensurePki(d, { certFile: f('s.crt'), keyFile: f('s.key'), caFile: f('ca.crt') });
    assert.deepEqual(
      [p.cert, p.key, p.caFingerprint, p.created],
      [own.cert, own.key, own.caFingerprint, false],
    );
    await assert.rejects(
      ensurePki(d, { certFile: f('s.crt'), keyFile: f('other.key') }),
      (e: Error) =>
        e instanceof PkiError && e.message.includes(f('other.key')) && /does not match/.test(e.message),
    );
    await writeFile(f('other-ca.crt'), other.ca);
    await assert.rejects(
      ensurePki(d, { certFile: f('s.crt'), keyFile: f('s.key'), caFile: f('other-ca.crt') }),
      /not signed by the CA/,
    );
    await assert.rejects(
      ensurePki(d, { certFile: f('junk'), keyFile: f('s.key') }),
      new RegExp(`${f('junk')}: not a PEM`),
    );
    await assert.rejects(ensurePki(d, { certFile: f('s.crt') }), /give both or neither/);
    await assert.rejects(ensurePki(d, { certFile: f('none'), keyFile: f('s.key') }), /cannot read.*ENOENT/);
  });

  it('refuses a CA certificate whose key is gone', async () => {
    const d = await tmp();
    await ensurePki(d);
    await rm(join(d, 'pki', 'ca.key'));
    await assert.rejects(ensurePki(d), /ca\.key: missing/);
  });

  it('issues client certificates that verifyPeer names, and refuses others', async () => {
    const p = await ensurePki(await tmp());
    const c = await issueClientCert(p, 'host-1', 'hosts');
    const v = verifyPeer(p, c.cert);
    assert.ok(v.ok);
    assert.deepEqual([v.peer.commonName, v.peer.org], ['host-1', 'hosts']);
    assert.equal(verifyPeer(p, p.cert).ok, false); // server-only
    const other = await ensurePki(await tmp());
    assert.deepEqual(verifyPeer(other, c.cert), { ok: false, reason: 'not signed by our CA' });
  });
  it('client certificates pass a server that requires them; others do not', async () => {
    const p = await ensurePki(await tmp());
    const c = await issueClientCert(p, 'host-2');
    const server = createServer(
      { cert: p.cert, key: p.key, ca: p.ca, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const peer = (req.socket as import('node:tls').TLSSocket).getPeerX509Certificate();
        const v = peer ? verifyPeer(p, peer) : undefined;
        res.end(v?.ok ? v.peer.commonName : 'no');
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const get = (auth: { cert?: string; key?: string }) =>
      new Promise<string>((resolve, reject) => {
        const port = (server.address() as AddressInfo).port;
        const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: p.ca, ...auth }, () => {
          s.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
        });
        let body = '';
        s.on('data', (d) => {
          body += d;
        });
        s.on('end', () => resolve(body));
        s.on('error', reject);
      });
    try {
      assert.match(await get({ cert: c.cert, key: c.key }), /host-2$/);
      await assert.rejects(get({}));
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
