// Owns the embedded single-host store: an in-memory keyspace made durable by a framed, fsynced log and
// snapshots. The file formats, the lock, leases and watches are each their own module in embedded/;
// this class composes them: revisions, transactions, group commit, lease expiry.
// It must never acknowledge a write before its log record is fsynced, nor let two processes open one dir.
//
// No npm engine fitted (level/classic-level and better-sqlite3 are native addons; nedb has no revisions
// and no grouped fsync), so the log is our own:
//   <dir>/LOCK      pid of the owner (a live other pid, or this process already holding it, refuses)
//   <dir>/snapshot  JSON of the whole state at log sequence `seq`, replaced atomically (tmp + rename)
//   <dir>/log       records [u32 payload length][u32 crc32(payload)][payload JSON], appended + fdatasync
// Recovery loads the snapshot, replays log records with seq > snapshot.seq and stops at the first torn
// or corrupt record, truncating the file there: such a record was never acknowledged, because a
// write resolves only after the fdatasync that covers it.
// A write is applied to memory when issued (so a txn's compare sees every earlier write) and acknowledged
// after its fsync; a read may therefore see a write a few milliseconds before it is acknowledged. Watch
// events are delivered only once durable.
// Leases: grants and revocations are logged; keep-alive refreshes are not. On open, every surviving
// lease gets a fresh full TTL (as etcd does on leader change): its holder died with the old process,
// so nobody refreshes it and its keys disappear one TTL after the restart. While the process lives, a
// lease stays alive until revoked or abandon()ed (the in-process stand-in for its holder dying).
import { type FileHandle, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Entry, holds, toKV } from './embedded/keyspace.js';
import { EmbeddedLease, type LeaseState } from './embedded/leases.js';
import { acquireLock, releaseLock } from './embedded/lock.js';
import { type Effect, frame, type LogRecord, openLog } from './embedded/log.js';
import { readSnapshot, type Snapshot, writeSnapshot } from './embedded/snapshot.js';
import { WatchHub } from './embedded/watch.js';
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

export { EmbeddedLease } from './embedded/leases.js';
export { StoreLockedError } from './embedded/lock.js';
export { parseLog } from './embedded/log.js';
export { CompactedError } from './embedded/watch.js';

export interface EmbeddedOptions {
  /** Log size after which a snapshot replaces it (bytes). */
  snapshotBytes?: number;
  /** Watch events kept in memory for replay (beyond that, older revisions count as compacted). */
  historyEvents?: number;
  /** How often lease expiry is checked (ms). */
  leaseTickMs?: number;
  /** Test hook: a pause between judging a stale LOCK and taking it over, widening that race (ms). */
  staleLockPauseMs?: number;
}

export class EmbeddedStore implements Store {
  private kv = new Map<string, Entry>();
  private leases = new Map<string, LeaseState>();
  private rev = 1;
  private seq = 0;
  private nextLease = 1;
  private watches: WatchHub;
  private pending: Buffer[] = [];
  private pendingEvents: WatchEvent[] = [];
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private failed: Error | undefined;
  private closed = false;
  private wantSnapshot = false;
  private logBytes: number;
  private leaseTimer: NodeJS.Timeout;
  private readonly snapshotBytes: number;

  private constructor(
    readonly dir: string,
    private log: FileHandle,
    snap: Snapshot | undefined,
    records: LogRecord[],
    logBytes: number,
    opts: EmbeddedOptions,
  ) {
    this.snapshotBytes = opts.snapshotBytes ?? 8 * 1024 * 1024;
    const now = Date.now();
    if (snap) {
      this.seq = snap.seq;
      this.rev = snap.rev;
      this.nextLease = snap.nextLease;
      for (const [k, e] of snap.kv) this.kv.set(k, { ...e, lease: e.lease ?? undefined });
      for (const [id, ttl] of snap.leases)
        this.leases.set(id, { ttlSec: ttl, expiresAt: 0, keys: new Set(), handle: undefined });
      for (const [k, e] of this.kv) if (e.lease) this.leases.get(e.lease)?.keys.add(k);
    }
    this.watches = new WatchHub(opts.historyEvents ?? 100_000, snap ? snap.rev : 0);
    for (const r of records) {
      if (r.seq <= this.seq) continue; // already in the snapshot (crash between snapshot and truncation)
      this.seq = r.seq;
      const events = this.applyEffects(r.e, r.rev);
      this.rev = r.rev;
      this.watches.remember(events);
    }
    for (const l of this.leases.values()) l.expiresAt = now + l.ttlSec * 1000;
    this.logBytes = logBytes;
    this.leaseTimer = setInterval(() => this.expireLeases(), opts.leaseTickMs ?? 100);
    this.leaseTimer.unref();
  }

  /** Opens (creating if needed) the store in dir, recovering from the snapshot and the log. */
  static async open(dir: string, opts: EmbeddedOptions = {}): Promise<EmbeddedStore> {
    dir = resolve(dir);
    await mkdir(dir, { recursive: true });
    acquireLock(dir, opts.staleLockPauseMs);
    try {
      const snap = readSnapshot(dir);
      const { log, records, validBytes } = await openLog(dir);
      return new EmbeddedStore(dir, log, snap, records, validBytes, opts);
    } catch (err) {
      releaseLock(dir);
      throw err;
    }
  }

  // ---- reads

  async get(key: string): Promise<KV | undefined> {
    this.check();
    return this.toKV(key);
  }

  async list(prefix: string): Promise<KV[]> {
    this.check();
    const keys: { k: string; b: Buffer }[] = [];
    for (const k of this.kv.keys()) if (k.startsWith(prefix)) keys.push({ k, b: Buffer.from(k) });
    // Byte order, as etcd sorts keys (plain string comparison is UTF-16 order, which differs above U+E000).
    keys.sort((x, y) => Buffer.compare(x.b, y.b));
    return keys.map(({ k }) => this.toKV(k)!);
  }

  async revision(): Promise<number> {
    this.check();
    return this.rev;
  }

  // ---- writes

  async put(key: string, value: string, opts: { lease?: string } = {}): Promise<number> {
    this.check();
    this.checkLease(opts.lease);
    const eff: Effect = opts.lease === undefined ? { p: key, v: value } : { p: key, v: value, l: opts.lease };
    const rev = this.commit([eff]);
    await this.durable();
    return rev;
  }

  async delete(key: string): Promise<boolean> {
    this.check();
    if (!this.kv.has(key)) return false;
    this.commit([{ d: key }]);
    await this.durable();
    return true;
  }

  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    this.check();
    const succeeded = compare.every((c) => holds(c, this.kv.get(c.key)));
    const ops = succeeded ? success : failure;
    for (const op of ops) if (op.type === 'put') this.checkLease(op.lease);
    // Reads see the state before the transaction's writes, as in etcd (a txn is one revision).
    const reads: (KV | undefined)[] = [];
    const effects: Effect[] = [];
    const deleted = new Set<string>();
    for (const op of ops) {
      switch (op.type) {
        case 'get':
          reads.push(this.toKV(op.key));
          break;
        case 'put':
          reads.push(undefined);
          effects.push(
            op.lease === undefined ? { p: op.key, v: op.value } : { p: op.key, v: op.value, l: op.lease },
          );
          deleted.delete(op.key);
          break;
        case 'delete':
          reads.push(undefined);
          if (this.kv.has(op.key) && !deleted.has(op.key)) {
            effects.push({ d: op.key });
            deleted.add(op.key);
          }
          break;
        case 'deletePrefix':
          reads.push(undefined);
          for (const k of this.kv.keys())
            if (k.startsWith(op.prefix) && !deleted.has(k)) {
              effects.push({ d: k });
              deleted.add(k);
            }
          break;
      }
    }
    const revision = effects.length > 0 ? this.commit(effects) : this.rev;
    if (effects.length > 0) await this.durable();
    return { succeeded, revision, reads };
  }

  // ---- watches

  async watch(prefix: string, onEvent: (e: WatchEvent) => void, opts: WatchOptions = {}): Promise<Watcher> {
    this.check();
    return this.watches.watch(prefix, onEvent, opts, this.rev);
  }

  // ---- leases

  async grantLease(ttlSec: number): Promise<Lease> {
    this.check();
    if (!(ttlSec > 0)) throw new Error(`lease TTL must be positive, got ${ttlSec}`);
    const id = (this.nextLease++).toString(16);
    const handle = new EmbeddedLease(this, id, ttlSec);
    this.leases.set(id, { ttlSec, expiresAt: Date.now() + ttlSec * 1000, keys: new Set(), handle });
    this.append({ seq: ++this.seq, rev: this.rev, e: [{ lg: id, ttl: ttlSec }] }, []);
    await this.durable();
    return handle;
  }

  /** @internal */
  async revokeLease(id: string): Promise<void> {
    if (this.closed || this.failed || !this.leases.has(id)) return;
    this.dropLease(id);
    await this.durable();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.leaseTimer);
    for (const l of this.leases.values()) l.handle?.stopKeepAlive(); // closed like a dead holder
    this.watches.end(new Error(`store ${this.dir} closed`));
    try {
      await this.flushing;
      if (this.pending.length > 0) await this.flush();
    } finally {
      await this.log.close();
      releaseLock(this.dir);
    }
  }

  // ---- internals

  private check(): void {
    if (this.closed) throw new Error(`store ${this.dir} is closed`);
    if (this.failed) throw new Error(`store ${this.dir} failed, reopen it: ${this.failed.message}`);
  }

  private checkLease(lease: string | undefined): void {
    if (lease !== undefined && !this.leases.has(lease)) throw new Error(`lease ${lease} not found`);
  }

  private toKV(key: string): KV | undefined {
    return toKV(key, this.kv.get(key));
  }

  /** Applies effects at revision rev to memory, returning the watch events. Shared by writes and replay. */
  private applyEffects(effects: Effect[], rev: number): WatchEvent[] {
    const events: WatchEvent[] = [];
    for (const f of effects) {
      if ('p' in f) {
        const old = this.kv.get(f.p);
        if (old?.lease) this.leases.get(old.lease)?.keys.delete(f.p);
        this.kv.set(f.p, {
          value: f.v,
          createRevision: old ? old.createRevision : rev,
          modRevision: rev,
          version: old ? old.version + 1 : 1,
          lease: f.l,
        });
        if (f.l) this.leases.get(f.l)?.keys.add(f.p);
        events.push({ type: 'put', key: f.p, value: f.v, revision: rev });
      } else if ('d' in f) {
        const old = this.kv.get(f.d);
        if (!old) continue;
        if (old.lease) this.leases.get(old.lease)?.keys.delete(f.d);
        this.kv.delete(f.d);
        events.push({ type: 'delete', key: f.d, value: old.value, revision: rev });
      } else if ('lg' in f) {
        this.leases.set(f.lg, { ttlSec: f.ttl, expiresAt: 0, keys: new Set(), handle: undefined });
        this.nextLease = Math.max(this.nextLease, Number.parseInt(f.lg, 16) + 1);
      } else {
        this.leases.delete(f.lr);
      }
    }
    return events;
  }

  /** Applies a write at the next revision and queues its record; returns that revision. */
  private commit(effects: Effect[]): number {
    const rev = this.rev + 1;
    const events = this.applyEffects(effects, rev);
    this.rev = rev;
    this.append({ seq: ++this.seq, rev, e: effects }, events);
    return rev;
  }

  private append(rec: LogRecord, events: WatchEvent[]): void {
    this.pending.push(frame(rec));
    for (const e of events) this.pendingEvents.push(e);
  }

  private dropLease(id: string): void {
    const l = this.leases.get(id);
    if (!l) return;
    const effects: Effect[] = [...l.keys].sort().map((k) => ({ d: k }));
    effects.push({ lr: id });
    if (l.keys.size > 0) this.commit(effects);
    else this.append({ seq: ++this.seq, rev: this.rev, e: effects }, []);
    this.leases.delete(id);
  }

  private expireLeases(): void {
    if (this.closed || this.failed) return;
    const now = Date.now();
    let any = false;
    for (const [id, l] of this.leases) {
      if (l.handle?.keepingAlive) l.expiresAt = now + l.ttlSec * 1000;
      if (l.expiresAt > now) continue;
      const handle = l.handle;
      this.dropLease(id);
      handle?.lost(new Error(`lease ${id} expired`));
      any = true;
    }
    if (any) this.durable().catch(() => {}); // failure is recorded in this.failed
  }

  /** Resolves when everything queued so far is fsynced. Concurrent callers share one fsync. */
  private durable(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    // Yield once so writers issued in the same tick join this batch.
    try {
      await new Promise<void>((r) => setImmediate(r));
      while (this.pending.length > 0 || this.waiters.length > 0) await this.flush();
    } finally {
      // Cleared in the same job as the last check, so no waiter can slip in between and be stranded.
      this.flushing = undefined;
    }
  }

  private async flush(): Promise<void> {
    const bufs = this.pending;
    const events = this.pendingEvents;
    const waiters = this.waiters;
    this.pending = [];
    this.pendingEvents = [];
    this.waiters = [];
    try {
      if (this.failed) throw this.failed;
      if (bufs.length > 0) {
        const data = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
        const { bytesWritten } = await this.log.write(data);
        if (bytesWritten !== data.length)
          throw new Error(`log append wrote ${bytesWritten} of ${data.length} bytes`);
        this.logBytes += data.length;
      }
    } catch (err) {
      // Memory is now ahead of the disk: refuse everything until the store is reopened.
      this.failed ??= err instanceof Error ? err : new Error(String(err));
      for (const w of waiters) w.reject(this.failed);
      this.watches.end(this.failed);
      return;
    }
    this.watches.publish(events);
    // Snapshot before acknowledging: with nothing pending, memory equals the log, so it can replace it.
    if ((this.wantSnapshot || this.logBytes > this.snapshotBytes) && this.pending.length === 0) {
      this.wantSnapshot = false;
      try {
        await this.snapshotNow();
      } catch (err) {
        this.failed ??= err instanceof Error ? err : new Error(String(err));
        for (const w of waiters) w.reject(this.failed);
        this.watches.end(this.failed);
        return;
      }
    }
    for (const w of waiters) w.resolve();
  }

  /** Replaces the log by a snapshot of the state now (it also happens by itself past snapshotBytes). */
  async snapshot(): Promise<void> {
    this.check();
    this.wantSnapshot = true;
    await this.durable();
  }

  /** Writes the state (everything is durable at this point) and empties the log. */
  private async snapshotNow(): Promise<void> {
    const snap: Snapshot = {
      seq: this.seq,
      rev: this.rev,
      nextLease: this.nextLease,
      kv: [...this.kv],
      leases: [...this.leases].map(([id, l]) => [id, l.ttlSec]),
    };
    writeSnapshot(this.dir, snap);
    // A crash before this truncation is harmless: replay skips records with seq ≤ snapshot.seq.
    await this.log.truncate(0);
    await this.log.sync();
    this.logBytes = 0;
  }
}
