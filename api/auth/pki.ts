// Owns netmaster's certificates: the operator's own (given files, checked), or a CA of netmaster's
// making under <dataDir>/pki/ with a server certificate it signs and re-issues when it nears expiry
// or the host's names change, plus client certificates for the hosts' components.
//
// The CA is published by ca.crt: a ca.key without ca.crt is leftover of a crash and is replaced; a
// ca.crt without its key is an error, since replacing a CA hosts already trust would lock them out.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { commitFile, privateDir, stageFile } from './files.js';

export interface PkiOptions {
  /** The operator's server certificate (PEM, may hold a chain) and key; both or neither. */
  certFile?: string;
  keyFile?: string;
  /** The CA that signed certFile; also what clients are told to trust. */
  caFile?: string;
  /** The CA's key, only to let issueClientCert sign with an operator's CA. */
  caKeyFile?: string;
  /** Names and addresses the server certificate must carry besides the host's own. */
  hostnames?: string[];
  ips?: string[];
  /** For tests. */
  now?: () => Date;
}

export interface Pki {
  /** PEM of the CA clients should trust; '' when certFile came from a CA not given (caFile). */
  ca: string;
  cert: string;
  key: string;
  /** SHA-256 of the CA certificate, colon hex as `openssl x509 -fingerprint -sha256` prints; or ''. */
  caFingerprint: string;
  /** True when this call made a new CA (hosts must be given its certificate or fingerprint). */
  created: boolean;
  /** True when this call wrote a new server certificate. */
  serverIssued: boolean;
  /** Present when netmaster can sign (its own CA, or caKeyFile). Never log it. */
  caKey?: string;
  /** Where the files are: <dataDir>/pki, or undefined for operator files. */
  dir?: string;
}

const DAY_MS = 86_400_000;
const CA_DAYS = 3650;
const SERVER_DAYS = 365;
const RENEW_WITHIN_DAYS = 30;
/** Backdated so a peer whose clock is a little behind still accepts a fresh certificate. */
const BACKDATE_MS = 3_600_000;
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

export class PkiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PkiError';
  }
}

export async function ensurePki(dataDir: string, opts: PkiOptions = {}): Promise<Pki> {
  const now = opts.now?.() ?? new Date();
  if (opts.certFile !== undefined || opts.keyFile !== undefined) return loadGiven(opts, now);
  if (opts.caFile !== undefined || opts.caKeyFile !== undefined) {
    throw new PkiError('a CA file is only used with a certificate file and key file (certFile, keyFile)');
  }
  return ensureOwn(dataDir, opts, now);
}

async function loadGiven(opts: PkiOptions, now: Date): Promise<Pki> {
  if (opts.certFile === undefined || opts.keyFile === undefined) {
    throw new PkiError('a certificate file and a key file go together: give both or neither');
  }
  const cert = await readText(opts.certFile, 'certificate');
  const x = parseCert(cert, opts.certFile);
  const key = await readText(opts.keyFile, 'key');
  const k = parseKey(key, opts.keyFile);
  if (!x.checkPrivateKey(k)) {
    throw new PkiError(`${opts.keyFile}: key does not match the certificate in ${opts.certFile}`);
  }
  checkValid(x, opts.certFile, now);
  let ca = '';
  let caX: X509Certificate | undefined;
  if (opts.caFile !== undefined) {
    ca = await readText(opts.caFile, 'CA certificate');
    caX = parseCert(ca, opts.caFile);
    if (!issuedBy(x, caX)) {
      throw new PkiError(`${opts.certFile}: certificate is not signed by the CA in ${opts.caFile}`);
    }
    checkValid(caX, opts.caFile, now);
  } else if (issuedBy(x, x)) {
    // Self-signed: it is its own CA.
    ca = cert;
    caX = x;
  }
  const pki: Pki = {
    ca,
    cert,
    key,
    caFingerprint: caX?.fingerprint256 ?? '',
    created: false,
    serverIssued: false,
  };
  if (opts.caKeyFile !== undefined) {
    if (!caX) throw new PkiError(`${opts.caKeyFile}: a CA key needs its CA certificate (caFile)`);
    const caKey = await readText(opts.caKeyFile, 'CA key');
    if (!caX.checkPrivateKey(parseKey(caKey, opts.caKeyFile))) {
      throw new PkiError(`${opts.caKeyFile}: key does not match the CA certificate in ${opts.caFile}`);
    }
    pki.caKey = caKey;
  }
  return pki;
}

async function ensureOwn(dataDir: string, opts: PkiOptions, now: Date): Promise<Pki> {
  const dir = join(dataDir, 'pki');
  await privateDir(dataDir);
  await privateDir(dir);
  const paths = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
  };

  let created = false;
  let ca = await readOptional(paths.caCert);
  let caKey: string;
  if (ca === undefined) {
    const made = await makeCa(now);
    ca = made.cert;
    caKey = made.key;
    await writePair(paths.caKey, caKey, paths.caCert, ca);
    created = true;
  } else {
    const k = await readOptional(paths.caKey);
    if (k === undefined) {
      throw new PkiError(
        `${paths.caKey}: missing while ${paths.caCert} exists; restore it, or remove ${dir} to make a new CA (hosts must then trust the new one)`,
      );
    }
    caKey = k;
    const caX = parseCert(ca, paths.caCert);
    if (!caX.checkPrivateKey(parseKey(caKey, paths.caKey))) {
      throw new PkiError(`${paths.caKey}: key does not match the CA certificate in ${paths.caCert}`);
    }
    checkValid(caX, paths.caCert, now);
  }
  const caX = new X509Certificate(ca);

  const names = wantedNames(opts);
  let cert = await readOptional(paths.cert);
  let key = await readOptional(paths.key);
  let serverIssued = false;
  if (cert === undefined || key === undefined || !serverCertFits(cert, key, caX, names, now)) {
    const made = await issue(
      { ca, key: caKey },
      {
        commonName: hostname() || 'netmaster',
        org: 'contiv',
        days: SERVER_DAYS,
        now,
        server: true,
        dns: names.dns,
        ips: names.ips,
      },
    );
    cert = made.cert;
    key = made.key;
    await writePair(paths.key, key, paths.cert, cert);
    serverIssued = true;
  }
  return { ca, cert, key, caFingerprint: caX.fingerprint256, created, serverIssued, caKey, dir };
}

/** Signs a certificate for a component (a host's netplugin, netctl): clientAuth only. */
export async function issueClientCert(
  pki: Pick<Pki, 'ca' | 'caKey'>,
  commonName: string,
  org = 'contiv',
  days = 365,
): Promise<{ cert: string; key: string }> {
  if (!pki.caKey || !pki.ca) throw new PkiError('cannot issue certificates: netmaster holds no CA key');
  if (commonName.length === 0 || commonName.length > 64) {
    throw new PkiError('commonName: must be 1 to 64 characters');
  }
  if (!Number.isInteger(days) || days < 1 || days > CA_DAYS) {
    throw new PkiError(`days: must be a whole number from 1 to ${CA_DAYS}`);
  }
  return issue({ ca: pki.ca, key: pki.caKey }, { commonName, org, days, now: new Date(), server: false });
}

export interface PeerIdentity {
  commonName: string;
  org: string | undefined;
  fingerprint256: string;
}

/**
 * Who a client certificate (PEM, DER as a TLS socket gives it, or parsed) names, if our CA signed it
 * for clientAuth and it is valid now; else why not. TLS has checked the chain already when
 * requestCert and ca are set; this also refuses server-only certificates and names the peer.
 */
export function verifyPeer(
  pki: Pick<Pki, 'ca'>,
  peer: string | Buffer | X509Certificate,
  now: Date = new Date(),
): { ok: true; peer: PeerIdentity } | { ok: false; reason: string } {
  if (!pki.ca) return { ok: false, reason: 'no CA to check against' };
  let x: X509Certificate;
  try {
    x = peer instanceof X509Certificate ? peer : new X509Certificate(peer);
  } catch (err) {
    return { ok: false, reason: `not a certificate: ${(err as Error).message}` };
  }
  if (!issuedBy(x, new X509Certificate(pki.ca))) return { ok: false, reason: 'not signed by our CA' };
  const t = now.getTime();
  if (t < Date.parse(x.validFrom)) return { ok: false, reason: `not valid before ${x.validFrom}` };
  if (t > Date.parse(x.validTo)) return { ok: false, reason: `expired on ${x.validTo}` };
  if (x.ca) return { ok: false, reason: 'a CA certificate is not a client certificate' };
  const eku = x.keyUsage;
  if (eku !== undefined && !eku.includes(CLIENT_AUTH_OID)) {
    return { ok: false, reason: 'certificate is not for client authentication' };
  }
  const subject = parseSubject(x.subject);
  const commonName = subject.get('CN');
  if (!commonName) return { ok: false, reason: 'certificate names no common name' };
  return { ok: true, peer: { commonName, org: subject.get('O'), fingerprint256: x.fingerprint256 } };
}

interface IssueSpec {
  commonName: string;
  org: string;
  days: number;
  now: Date;
  server: boolean;
  dns?: string[];
  ips?: string[];
}

async function makeCa(now: Date): Promise<{ cert: string; key: string }> {
  const r = await generate(
    [
      { name: 'commonName', value: 'contiv netmaster CA' },
      { name: 'organizationName', value: 'contiv' },
    ],
    {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(now.getTime() - BACKDATE_MS),
      notAfterDate: new Date(now.getTime() + CA_DAYS * DAY_MS),
      extensions: [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    },
  );
  return { cert: r.cert, key: r.private };
}

async function issue(
  ca: { ca: string; key: string },
  spec: IssueSpec,
): Promise<{ cert: string; key: string }> {
  const altNames = [
    ...(spec.dns ?? []).map((value) => ({ type: 2 as const, value })),
    ...(spec.ips ?? []).map((ip) => ({ type: 7 as const, ip })),
  ];
  const r = await generate(
    [
      { name: 'commonName', value: spec.commonName },
      { name: 'organizationName', value: spec.org },
    ],
    {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(spec.now.getTime() - BACKDATE_MS),
      notAfterDate: new Date(spec.now.getTime() + spec.days * DAY_MS),
      ca: { key: ca.key, cert: ca.ca },
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        spec.server ? { name: 'extKeyUsage', serverAuth: true } : { name: 'extKeyUsage', clientAuth: true },
        ...(altNames.length > 0 ? [{ name: 'subjectAltName' as const, altNames }] : []),
      ],
    },
  );
  return { cert: r.cert, key: r.private };
}

/** localhost, loopback, the host's name and non-loopback addresses, plus the operator's. */
function wantedNames(opts: PkiOptions): { dns: string[]; ips: string[] } {
  const dns = new Set(['localhost']);
  const host = hostname();
  if (host) dns.add(host);
  for (const h of opts.hostnames ?? []) dns.add(h);
  const ips = new Set(['127.0.0.1', '::1']);
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      // Link-local addresses need a zone no URL of a client carries.
      if (a.internal || /^fe80:/i.test(a.address)) continue;
      ips.add(a.address);
    }
  }
  for (const ip of opts.ips ?? []) ips.add(ip);
  return { dns: [...dns], ips: [...ips] };
}

/** Ours to keep: parses, key matches, signed by the current CA, valid past the renewal window, all names. */
function serverCertFits(
  cert: string,
  key: string,
  caX: X509Certificate,
  names: { dns: string[]; ips: string[] },
  now: Date,
): boolean {
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
    if (!x.checkPrivateKey(createPrivateKey(key))) return false;
  } catch {
    return false;
  }
  if (!issuedBy(x, caX)) return false;
  if (Date.parse(x.validFrom) > now.getTime()) return false;
  if (Date.parse(x.validTo) < now.getTime() + RENEW_WITHIN_DAYS * DAY_MS) return false;
  if (!names.dns.every((n) => x.checkHost(n, { subject: 'never', wildcards: false }) === n)) return false;
  return names.ips.every((ip) => x.checkIP(ip) !== undefined);
}

function issuedBy(x: X509Certificate, ca: X509Certificate): boolean {
  try {
    return x.checkIssued(ca) && x.verify(ca.publicKey);
  } catch {
    return false;
  }
}

function checkValid(x: X509Certificate, file: string, now: Date): void {
  if (Date.parse(x.validTo) < now.getTime())
    throw new PkiError(`${file}: certificate expired on ${x.validTo}`);
  if (Date.parse(x.validFrom) > now.getTime()) {
    throw new PkiError(`${file}: certificate is not valid before ${x.validFrom}`);
  }
}

function parseCert(pem: string, file: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new PkiError(`${file}: not a PEM certificate (${(err as Error).message})`);
  }
}

function parseKey(pem: string, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new PkiError(
      `${file}: not a PEM private key, or one protected by a passphrase (${(err as Error).message})`,
    );
  }
}

function parseSubject(subject: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of subject.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && !m.has(line.slice(0, i))) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new PkiError(
      `${file}: cannot read the ${what} file (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Key first, then the certificate that publishes it: a crash between leaves an unpublished key only. */
async function writePair(keyPath: string, key: string, certPath: string, cert: string): Promise<void> {
  const keyTmp = await stageFile(keyPath, key, 0o600);
  const certTmp = await stageFile(certPath, cert, 0o644);
  await commitFile(keyTmp, keyPath);
  await commitFile(certTmp, certPath);
}
