// Owns the Store contract spoken over netmaster's store API (api/rest/store-proxy.ts), for
// netplugins on hosts that cannot open netmaster's store themselves. Same semantics as the store
// behind it: revisions, compares, watches from a revision, leases (renewed from here).
import http from 'node:http';
import https from 'node:https';
import type {
  Compare,
  KV,
  Lease,
  Store,
  TxnOp,
  TxnResult,
  WatchEvent,
  Watcher,
  WatchOptions,
} from './store.js';

const API = '/store/v1';

export class RemoteStoreError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RemoteStoreError';
  }
}

class RemoteLease implements Lease {
  private lostFns: ((err: Error) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly store: RemoteStore,
    readonly id: string,
    readonly ttlSec: number,
  ) {
    // Three renewals per TTL: one lost request does not lose the lease.
    this.timer = setInterval(() => void this.renew(), Math.max(200, (ttlSec * 1000) / 3));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.ended) return;
    try {
      await this.store.call('POST', '/lease/keepalive', { id: this.id });
    } catch (e) {
      if (e instanceof RemoteStoreError && e.status === 404) this.lost(e);
      // Other failures (netmaster restarting) are retried by the next tick; the TTL decides.
    }
  }

  private lost(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    for (const fn of this.lostFns) fn(err);
  }

  /** Stops renewing without revoking, as a holder that died would (tests; store close). */
  abandon(): void {
    this.ended = true;
    clearInterval(this.timer);
  }

  async revoke(): Promise<void> {
    this.abandon();
    await this.store.call('POST', '/lease/revoke', { id: this.id });
  }

  onLost(fn: (err: Error) => void): void {
    this.lostFns.push(fn);
  }
}

export class RemoteStore implements Store {
  private readonly agent: http.Agent;
  private readonly base: URL;
  private readonly lib: typeof http | typeof https;
  private readonly auth: Record<string, string>;
  private readonly streams = new Set<http.ClientRequest>();
  private readonly leases = new Set<RemoteLease>();

  /**
   * url: netmaster's address, e.g. "https://10.0.0.1:9999"; with https, ca is the CA to trust
   * (netmaster's own) and token the host's credential, sent as X-Auth-Token.
   */
  constructor(url: string, creds: { token?: string; ca?: string } = {}) {
    this.base = new URL(url);
    if (this.base.protocol === 'https:') {
      this.lib = https;
      this.agent = new https.Agent({
        keepAlive: true,
        maxSockets: 16,
        ...(creds.ca ? { ca: creds.ca } : {}),
      });
    } else if (this.base.protocol === 'http:') {
      this.lib = http;
      this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    } else throw new Error(`netmaster url ${url}: use http:// or https://`);
    this.auth = creds.token ? { 'x-auth-token': creds.token } : {};
  }

  /** @internal JSON request to the store API; rejects with the server's {"Err"} message. */
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = this.lib.request(
        {
          host: this.base.hostname,
          port: this.base.port || (this.lib === https ? 443 : 80),
          path: `${API}${path}`,
          method,
          agent: this.agent,
          headers: payload
            ? {
                ...this.auth,
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(payload),
              }
            : this.auth,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              reject(
                new RemoteStoreError(
                  res.statusCode ?? 0,
                  `store API ${path}: bad reply "${text.slice(0, 100)}"`,
                ),
              );
              return;
            }
            if ((res.statusCode ?? 0) >= 300) {
              const msg = (parsed as { Err?: string }).Err ?? text;
              reject(new RemoteStoreError(res.statusCode ?? 0, `store API ${path}: ${msg}`));
            } else resolve(parsed as T);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  async get(key: string): Promise<KV | undefined> {
    const r = await this.call<{ kv: KV | null }>('GET', `/get?key=${encodeURIComponent(key)}`);
    return r.kv ?? undefined;
  }

  async list(prefix: string): Promise<KV[]> {
    return (await this.call<{ kvs: KV[] }>('GET', `/list?prefix=${encodeURIComponent(prefix)}`)).kvs;
  }

  async put(key: string, value: string, opts?: { lease?: string }): Promise<number> {
    return (await this.call<{ revision: number }>('POST', '/put', { key, value, ...opts })).revision;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.call<{ existed: boolean }>('POST', '/delete', { key })).existed;
  }

  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    const r = await this.call<Omit<TxnResult, 'reads'> & { reads: (KV | null)[] }>('POST', '/txn', {
      compare,
      success,
      failure,
    });
    return { ...r, reads: r.reads.map((kv) => kv ?? undefined) };
  }

  async revision(): Promise<number> {
    return (await this.call<{ revision: number }>('GET', '/revision')).revision;
  }

  async grantLease(ttlSec: number): Promise<Lease> {
    const r = await this.call<{ id: string; ttlSec: number }>('POST', '/lease', { ttlSec });
    const lease = new RemoteLease(this, r.id, r.ttlSec);
    this.leases.add(lease);
    return lease;
  }

  watch(prefix: string, onEvent: (e: WatchEvent) => void, opts: WatchOptions = {}): Promise<Watcher> {
    const q = `prefix=${encodeURIComponent(prefix)}${opts.fromRevision ? `&fromRevision=${opts.fromRevision}` : ''}`;
    return new Promise<Watcher>((resolve, reject) => {
      let closed = false;
      let ended = false;
      const end = (err: Error) => {
        if (ended || closed) return;
        ended = true;
        opts.onError?.(err);
      };
      const req = this.lib.get(
        {
          host: this.base.hostname,
          port: this.base.port || (this.lib === https ? 443 : 80),
          path: `${API}/watch?${q}`,
          headers: this.auth,
          // Its own connection (a watch holds it), trusting the same CA.
          ...(this.lib === https ? { ca: (this.agent as https.Agent).options.ca } : {}),
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(
              new RemoteStoreError(
                res.statusCode ?? 0,
                `store API watch ${prefix}: status ${res.statusCode}`,
              ),
            );
            return;
          }
          resolve({
            close: async () => {
              closed = true;
              this.streams.delete(req);
              req.destroy();
            },
          });
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
              const text = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (text === '' || ended || closed) continue;
              const msg = JSON.parse(text) as WatchEvent | { error?: string };
              if ('error' in msg && msg.error !== undefined) end(new Error(msg.error));
              else if ('type' in msg) onEvent(msg);
            }
          });
          res.on('end', () => end(new Error(`store API watch ${prefix}: stream ended`)));
          res.on('error', (err) => end(err));
        },
      );
      this.streams.add(req);
      req.on('error', (err) => {
        this.streams.delete(req);
        if (!ended && !closed) {
          reject(err);
          end(err);
        }
      });
    });
  }

  /** Leases are not revoked: like a dead holder's, they lapse after their TTL. */
  async close(): Promise<void> {
    for (const l of this.leases) l.abandon();
    this.leases.clear();
    for (const req of this.streams) req.destroy();
    this.streams.clear();
    this.agent.destroy();
  }
}
