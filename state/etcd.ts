// Owns the cluster store: the Store contract mapped onto etcd v3 through the etcd3 client (raw KV RPCs).
// It must never hide an etcd error behind a default value, nor revoke leases on close (a closed client is a dead holder).
import {
  Etcd3,
  type Lease as EtcdLease,
  type Watcher as EtcdWatcher,
  type IKeyValue,
  type IRequestOp,
} from 'etcd3';
import { CompactedError } from './embedded.js';
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

const b = (s: string) => Buffer.from(s, 'utf8');

/** The range_end that selects every key starting with prefix (etcd's "prefix end"). */
export function prefixEnd(prefix: string): Buffer {
  const key = b(prefix);
  for (let i = key.length - 1; i >= 0; i--) {
    if (key[i]! < 0xff) {
      const end = Buffer.from(key.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  return Buffer.from([0]); // empty prefix (or all 0xff): to the end of the keyspace
}

function rangeOf(prefix: string): { key: Buffer; range_end: Buffer } {
  return { key: prefix === '' ? Buffer.from([0]) : b(prefix), range_end: prefixEnd(prefix) };
}

function toKV(kv: IKeyValue): KV {
  const out: KV = {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
  };
  if (kv.lease && kv.lease !== '0') out.lease = String(kv.lease);
  return out;
}

const TARGET = { value: 'Value', version: 'Version', mod: 'Mod', create: 'Create' } as const;
const RESULT = { '==': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;

function toRequestOp(op: TxnOp): IRequestOp {
  switch (op.type) {
    case 'get':
      return { request_range: { key: b(op.key) } };
    case 'put':
      return {
        request_put: { key: b(op.key), value: b(op.value), ...(op.lease ? { lease: op.lease } : {}) },
      };
    case 'delete':
      return { request_delete_range: { key: b(op.key) } };
    case 'deletePrefix':
      return { request_delete_range: rangeOf(op.prefix) };
  }
}

class EtcdStoreLease implements Lease {
  private lostFns: ((err: Error) => void)[] = [];
  private done = false;

  constructor(
    private readonly lease: EtcdLease,
    readonly id: string,
    readonly ttlSec: number,
  ) {
    lease.on('lost', (err) => {
      if (this.done) return;
      this.done = true;
      for (const fn of this.lostFns) fn(err);
    });
  }

  async revoke(): Promise<void> {
    this.done = true;
    await this.lease.revoke();
  }

  onLost(fn: (err: Error) => void): void {
    this.lostFns.push(fn);
  }

  /** Stops the keep-alive without revoking (as a dead holder would): the lease expires by itself. */
  abandon(): void {
    this.done = true;
    this.lease.release();
  }
}

export class EtcdStore implements Store {
  private leases = new Set<EtcdStoreLease>();
  private watchers = new Set<EtcdWatcher>();
  /** Watches etcd cancelled (most recent last), for diagnostics. */
  readonly watchErrors: Error[] = [];

  private constructor(private readonly client: Etcd3) {}

  /** Connects and checks the cluster answers (so a wrong endpoint fails here, not on first use). */
  static async connect(endpoints: string[], opts: { dialTimeoutMs?: number } = {}): Promise<EtcdStore> {
    if (endpoints.length === 0) throw new Error('EtcdStore.connect: no endpoints');
    const client = new Etcd3({
      hosts: endpoints.map((e) => (/^\w+:\/\//.test(e) ? e : `http://${e}`)),
      dialTimeout: opts.dialTimeoutMs ?? 5000,
    });
    const store = new EtcdStore(client);
    try {
      await store.revision();
    } catch (err) {
      client.close();
      throw new Error(`etcd at ${endpoints.join(',')} does not answer: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return store;
  }

  async get(key: string): Promise<KV | undefined> {
    const res = await this.client.kv.range({ key: b(key) });
    return res.kvs[0] ? toKV(res.kvs[0]) : undefined;
  }

  async list(prefix: string): Promise<KV[]> {
    const res = await this.client.kv.range({ ...rangeOf(prefix), sort_order: 'Ascend', sort_target: 'Key' });
    return res.kvs.map(toKV);
  }

  async put(key: string, value: string, opts: { lease?: string } = {}): Promise<number> {
    const res = await this.client.kv.put({
      key: b(key),
      value: b(value),
      ...(opts.lease ? { lease: opts.lease } : {}),
    });
    return Number(res.header.revision);
  }

  async delete(key: string): Promise<boolean> {
    const res = await this.client.kv.deleteRange({ key: b(key) });
    return Number(res.deleted) > 0;
  }

  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    const res = await this.client.kv.txn({
      compare: compare.map((c) => {
        const base = { key: b(c.key), target: TARGET[c.target], result: RESULT[c.op] };
        switch (c.target) {
          case 'value':
            return { ...base, value: b(String(c.value)) };
          case 'version':
            return { ...base, version: Number(c.value) };
          case 'mod':
            return { ...base, mod_revision: Number(c.value) };
          default:
            return { ...base, create_revision: Number(c.value) };
        }
      }),
      success: success.map(toRequestOp),
      failure: failure.map(toRequestOp),
    });
    const ops = res.succeeded ? success : failure;
    const reads = ops.map((op, i) => {
      if (op.type !== 'get') return undefined;
      const kv = res.responses[i]?.response_range?.kvs[0];
      return kv ? toKV(kv) : undefined;
    });
    return { succeeded: res.succeeded, revision: Number(res.header.revision), reads };
  }

  async watch(prefix: string, onEvent: (e: WatchEvent) => void, opts: WatchOptions = {}): Promise<Watcher> {
    let builder = this.client.watch().prefix(prefix).withPreviousKV();
    if (opts.fromRevision !== undefined) {
      // etcd accepts a watch from a compacted revision and cancels it a moment later; a read at that
      // revision fails at once instead, so the caller gets the same error as from the embedded store.
      try {
        await this.client.kv.range({ key: b(prefix), revision: opts.fromRevision, count_only: true });
      } catch (err) {
        if (/compacted/.test((err as Error).message)) throw new CompactedError(opts.fromRevision, undefined);
        if (!/future revision/.test((err as Error).message)) throw err;
      }
      builder = builder.startRevision(String(opts.fromRevision));
    }
    const w = await builder.create();
    this.watchers.add(w);
    let ended = false;
    // etcd3 would resume a watch after a broken stream by itself, but silently, and forever while etcd
    // is away. Here the watch ends instead and its owner hears it ('disconnected': the stream broke;
    // 'error': etcd cancelled it, e.g. its start revision was compacted); the owner re-watches from its
    // last revision + 1 and misses nothing. An unhandled 'error' would crash the process.
    const end = (err: Error) => {
      if (ended) return;
      ended = true;
      this.watchErrors.push(err);
      this.watchers.delete(w);
      w.removeAllListeners('data');
      void w.cancel().catch(() => {});
      try {
        opts.onError?.(err);
      } catch {
        // an owner's bug must not break the client
      }
    };
    w.on('error', (err) => end(err));
    w.on('disconnected', (err) => end(new Error(`etcd watch on ${prefix} lost its stream: ${err.message}`)));
    // 'data' carries a whole response's events in revision order (per-event emitters would too, but
    // this keeps deletes and puts of one txn together).
    w.on('data', (res) => {
      for (const ev of res.events) {
        const isDelete = ev.type === 'Delete';
        const value = isDelete ? ev.prev_kv?.value.toString('utf8') : ev.kv.value.toString('utf8');
        const e: WatchEvent = {
          type: isDelete ? 'delete' : 'put',
          key: ev.kv.key.toString('utf8'),
          revision: Number(ev.kv.mod_revision),
        };
        if (value !== undefined) e.value = value;
        try {
          onEvent(e);
        } catch {
          // a watcher's bug must not end the watch stream
        }
      }
    });
    return {
      close: async () => {
        ended = true;
        this.watchers.delete(w);
        await w.cancel();
      },
    };
  }

  async grantLease(ttlSec: number): Promise<Lease> {
    const lease = this.client.lease(ttlSec, { autoKeepAlive: true });
    const id = await lease.grant();
    const handle = new EtcdStoreLease(lease, String(id), ttlSec);
    this.leases.add(handle);
    return handle;
  }

  async revision(): Promise<number> {
    const res = await this.client.kv.range({ key: Buffer.from([0]), count_only: true });
    return Number(res.header.revision);
  }

  async close(): Promise<void> {
    for (const l of this.leases) l.abandon();
    for (const w of this.watchers) await w.cancel().catch(() => {});
    this.client.close();
  }
}
