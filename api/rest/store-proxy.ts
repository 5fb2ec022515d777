// Owns netmaster's store API for netplugins that cannot reach the store themselves (the embedded
// store lives in netmaster's process): the Store contract over HTTP under /store/v1/, watches as
// NDJSON streams, leases kept alive by the remote holder. Writes are allowed only where the caller
// says (netplugins write their host records); everything else is read-only.

import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Compare, Lease, Store, TxnOp, WatchEvent } from '../../state/store.js';

export const STORE_API = '/store/v1';

export interface StoreProxyOptions {
  store: Store;
  /** Keys remote callers may write (put, delete, in txns too). */
  writable: (key: string) => boolean;
  /** Keys never served, whatever the caller (the accounts' hashes and tokens). */
  hidden?: (key: string) => boolean;
  /** Heartbeat line interval on watch streams, ms (keeps proxies and dead-peer checks honest). */
  heartbeatMs?: number;
}

class Refused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface HeldLease {
  lease: Lease;
  timer: NodeJS.Timeout;
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw new Refused(400, `${field}: required string`);
  return v;
}

export function registerStoreProxy(app: FastifyInstance, opts: StoreProxyOptions): void {
  const { store, writable } = opts;
  const hidden = opts.hidden ?? (() => false);
  const mayRead = (key: string) => {
    if (hidden(key)) throw new Refused(403, `key ${key}: not readable through the store API`);
  };
  const leases = new Map<string, HeldLease>();

  const mayWrite = (key: string) => {
    if (!writable(key)) throw new Refused(403, `key ${key}: not writable through the store API`);
  };

  // A lease the remote holder stopped renewing is revoked: its keys go, as if the holder had died.
  const arm = (id: string) => {
    const held = leases.get(id);
    if (!held) return;
    clearTimeout(held.timer);
    held.timer = setTimeout(() => {
      leases.delete(id);
      void held.lease.revoke().catch(() => undefined);
    }, held.lease.ttlSec * 1000);
    held.timer.unref();
  };

  // Watch streams never end by themselves: end them first, or closing the server waits forever.
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });
  app.addHook('onClose', async () => {
    for (const [id, held] of leases) {
      clearTimeout(held.timer);
      leases.delete(id);
      await held.lease.revoke().catch(() => undefined);
    }
  });

  const send = async (reply: FastifyReply, fn: () => Promise<unknown>) => {
    try {
      return await fn();
    } catch (e) {
      const status = e instanceof Refused ? e.status : 500;
      return reply.code(status).send({ Err: (e as Error).message });
    }
  };

  app.get<{ Querystring: { key?: string } }>(`${STORE_API}/get`, (req, reply) =>
    send(reply, async () => {
      const key = str(req.query.key, 'key');
      mayRead(key);
      return { kv: (await store.get(key)) ?? null };
    }),
  );
  app.get<{ Querystring: { prefix?: string } }>(`${STORE_API}/list`, (req, reply) =>
    send(reply, async () => ({
      kvs: (await store.list(str(req.query.prefix, 'prefix'))).filter((kv) => !hidden(kv.key)),
    })),
  );
  app.get(`${STORE_API}/revision`, (_req, reply) =>
    send(reply, async () => ({ revision: await store.revision() })),
  );
  app.post<{ Body: { key?: unknown; value?: unknown; lease?: unknown } }>(`${STORE_API}/put`, (req, reply) =>
    send(reply, async () => {
      const key = str(req.body?.key, 'key');
      mayWrite(key);
      if (typeof req.body.value !== 'string') throw new Refused(400, 'value: required string');
      const lease = req.body.lease === undefined ? undefined : str(req.body.lease, 'lease');
      return { revision: await store.put(key, req.body.value, lease ? { lease } : undefined) };
    }),
  );
  app.post<{ Body: { key?: unknown } }>(`${STORE_API}/delete`, (req, reply) =>
    send(reply, async () => {
      const key = str(req.body?.key, 'key');
      mayWrite(key);
      return { existed: await store.delete(key) };
    }),
  );
  app.post<{ Body: { compare?: Compare[]; success?: TxnOp[]; failure?: TxnOp[] } }>(
    `${STORE_API}/txn`,
    (req, reply) =>
      send(reply, async () => {
        const { compare = [], success = [], failure = [] } = req.body ?? {};
        if (!Array.isArray(compare) || !Array.isArray(success) || !Array.isArray(failure)) {
          throw new Refused(400, 'compare, success, failure: arrays');
        }
        for (const c of compare) mayRead(String((c as { key?: unknown }).key));
        for (const op of [...success, ...failure]) {
          if (op.type === 'get') mayRead(op.key);
          if (op.type === 'put' || op.type === 'delete') mayWrite(op.key);
          else if (op.type === 'deletePrefix') mayWrite(op.prefix);
          else if (op.type !== 'get')
            throw new Refused(400, `op type ${String((op as { type: unknown }).type)}: unknown`);
        }
        const r = await store.txn(compare, success, failure);
        return { ...r, reads: r.reads.map((kv) => kv ?? null) };
      }),
  );
  app.post<{ Body: { ttlSec?: unknown } }>(`${STORE_API}/lease`, (req, reply) =>
    send(reply, async () => {
      const ttl = req.body?.ttlSec;
      if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > 3600) {
        throw new Refused(400, 'ttlSec: an integer 1..3600');
      }
      const lease = await store.grantLease(ttl);
      leases.set(lease.id, { lease, timer: setTimeout(() => undefined, 0) });
      lease.onLost(() => {
        const held = leases.get(lease.id);
        if (held) clearTimeout(held.timer);
        leases.delete(lease.id);
      });
      arm(lease.id);
      return { id: lease.id, ttlSec: lease.ttlSec };
    }),
  );
  app.post<{ Body: { id?: unknown } }>(`${STORE_API}/lease/keepalive`, (req, reply) =>
    send(reply, async () => {
      const id = str(req.body?.id, 'id');
      if (!leases.has(id)) throw new Refused(404, `lease ${id}: not held (expired or revoked)`);
      arm(id);
      return {};
    }),
  );
  app.post<{ Body: { id?: unknown } }>(`${STORE_API}/lease/revoke`, (req, reply) =>
    send(reply, async () => {
      const id = str(req.body?.id, 'id');
      const held = leases.get(id);
      if (held) {
        clearTimeout(held.timer);
        leases.delete(id);
        await held.lease.revoke();
      }
      return {};
    }),
  );

  // One event per line; `{}` lines are heartbeats; `{"error": …}` ends the stream (the watch ended).
  app.get<{ Querystring: { prefix?: string; fromRevision?: string } }>(
    `${STORE_API}/watch`,
    async (req, reply) => {
      let prefix: string;
      try {
        prefix = str(req.query.prefix, 'prefix');
      } catch (e) {
        return reply.code(400).send({ Err: (e as Error).message });
      }
      const from = req.query.fromRevision === undefined ? undefined : Number(req.query.fromRevision);
      if (from !== undefined && (!Number.isInteger(from) || from < 1)) {
        return reply.code(400).send({ Err: 'fromRevision: a positive integer' });
      }
      const raw = reply.raw;
      const line = (o: WatchEvent | Record<string, unknown>) => raw.write(`${JSON.stringify(o)}\n`);
      // Headers first: a replay from fromRevision starts delivering during store.watch().
      reply.hijack();
      raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      raw.flushHeaders();
      let watcher: Awaited<ReturnType<Store['watch']>>;
      try {
        watcher = await store.watch(prefix, (e) => hidden(e.key) || line(e), {
          ...(from !== undefined ? { fromRevision: from } : {}),
          onError: (err) => {
            line({ error: err.message });
            raw.end();
          },
        });
      } catch (e) {
        line({ error: (e as Error).message });
        raw.end();
        return;
      }
      const beat = setInterval(() => line({}), opts.heartbeatMs ?? 5000);
      beat.unref();
      const stop = () => {
        clearInterval(beat);
        streams.delete(shutdown);
        void watcher.close();
      };
      const shutdown = () => {
        line({ error: 'netmaster is shutting down' });
        raw.end();
        stop();
      };
      streams.add(shutdown);
      raw.once('close', stop);
      req.raw.once('close', stop);
    },
  );
}
