// Owns the embedded single-host store: an in-memory keyspace made durable by a framed, fsynced log and snapshots.
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
import {
  closeSync,
  constants as fsConstants,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
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

export interface EmbeddedOptions {
  /** Log size after which a snapshot replaces it (bytes). */
  snapshotBytes?: number;
  /** Watch events kept in memory for replay (beyond that, older revisions count as compacted). */
  historyEvents?: number;
  /** How often lease expiry is checked (ms). */
  leaseTickMs?: number;
}

/** A watch asked for a revision older than the history kept. */
export class CompactedError extends Error {
  constructor(
    readonly requested: number,
    /** Undefined when the store does not say (etcd). */
    readonly oldestAvailable: number | undefined,
  ) {
    super(
      `revision ${requested} is compacted${oldestAvailable === undefined ? '' : `: the oldest revision a watch can start from is ${oldestAvailable}`}`,
    );
    this.name = 'CompactedError';
  }
}

/** The store directory is in use by another opener. */
export class StoreLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly ownerPid: number,
  ) {
    super(`store ${dir} is locked by pid ${ownerPid}${ownerPid === process.pid ? ' (this process)' : ''}`);
    this.name = 'StoreLockedError';
  }
}

interface Entry {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string | undefined;
}

/** One logged effect; replaying them in order rebuilds the state exactly. */
type Effect =
  | { p: string; v: string; l?: string }
  | { d: string }
  | { lg: string; ttl: number }
  | { lr: string };
interface LogRecord {
  seq: number;
  /** Store revision after this record. */
  rev: number;
  e: Effect[];
}
interface Snapshot {
  seq: number;
  rev: number;
  nextLease: number;
  kv: [string, Entry][];
  leases: [string, number][];
}
interface LeaseState {
  ttlSec: number;
  expiresAt: number;
  keys: Set<string>;
  handle: EmbeddedLease | undefined;
}
interface WatchState {
  prefix: string;
  fn: (e: WatchEvent) => void;
  onError: ((err: Error) => void) | undefined;
  closed: boolean;
  /** Events below this revision are not this watcher's (they were before it started). */
  from: number;
}

const HEADER = 8;
const heldDirs = new Set<string>();

function frame(rec: LogRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(rec), 'utf8');
  const buf = Buffer.allocUnsafe(HEADER + payload.length);
  buf.writeUInt32LE(payload.length, 0);
  buf.writeUInt32LE(crc32(payload), 4);
  payload.copy(buf, HEADER);
  return buf;
}

/** Every whole, valid record of a log image, and the byte length they cover (the rest is a torn tail). */
export function parseLog(buf: Buffer): { records: LogRecord[]; validBytes: number } {
  const records: LogRecord[] = [];
  let off = 0;
  while (off + HEADER <= buf.length) {
    const len = buf.readUInt32LE(off);
    const sum = buf.readUInt32LE(off + 4);
    if (off + HEADER + len > buf.length) break;
    const payload = buf.subarray(off + HEADER, off + HEADER + len);
    if (crc32(payload) !== sum) break;
    try {
      records.push(JSON.parse(payload.toString('utf8')) as LogRecord);
    } catch {
      break;
    }
    off += HEADER + len;
  }
  return { records, validBytes: off };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** Tests widen the window between judging a lock stale and taking it over (CONTIV_TEST_LOCK_PAUSE_MS). */
function testPause(): void {
  const ms = Number(process.env.CONTIV_TEST_LOCK_PAUSE_MS);
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Takes <dir>/LOCK for this process. The lock is made by link(2) of a file holding our pid, which
 * fails if LOCK exists, so of several processes creating it one wins. A stale LOCK (its pid dead)
 * is taken over without the race "both judge it stale, one removes it and takes it, the other
 * removes the new one and takes it too": the stale file is renamed aside (atomic), and deleted
 * only if what was moved is the very inode judged stale; a lock another process took meanwhile is
 * linked back. Two processes racing for one dir: exactly one opens it.
 */
function acquireLock(dir: string): void {
  const path = join(dir, 'LOCK');
  if (heldDirs.has(dir)) throw new StoreLockedError(dir, process.pid);
  const mine = join(dir, `LOCK.${process.pid}.new`);
  const aside = join(dir, `LOCK.${process.pid}.stale`);
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, path);
        heldDirs.add(dir);
        return;
      } catch (err) {
        if (code(err) !== 'EEXIST') throw err;
      }
      let judged: { ino: number; dev: number };
      let owner: number;
      try {
        judged = statSync(path);
        owner = Number(readFileSync(path, 'utf8').trim());
      } catch (err) {
        if (code(err) === 'ENOENT') continue; // released meanwhile
        throw err;
      }
      // A live other pid holds it. Our own pid without heldDirs is a leftover of a pid reused after a crash.
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner))
        throw new StoreLockedError(dir, owner);
      testPause();
      try {
        renameSync(path, aside);
      } catch (err) {
        if (code(err) === 'ENOENT') continue; // someone else moved the stale one
        throw err;
      }
      const moved = statSync(aside);
      if (moved.ino !== judged.ino || moved.dev !== judged.dev) {
        // Not the stale lock: another process took over in between. Give its lock back.
        try {
          linkSync(aside, path);
        } finally {
          unlinkSync(aside);
        }
        continue;
      }
      unlinkSync(aside); // the stale one, gone; try to link ours again
    }
    throw new Error(`store ${dir}: could not take the lock`);
  } finally {
    try {
      unlinkSync(mine);
    } catch {
      // already gone
    }
  }
}

export class EmbeddedLease implements Lease {
  private lostFns: ((err: Error) => void)[] = [];
  /**
   * The holder lives in this process, so holding the handle is the keep-alive: the expiry check
   * refreshes such leases instead of timers doing it (a long event-loop stall cannot lose a lease).
   */
  keepingAlive = true;
  done = false;

  constructor(
    private readonly store: EmbeddedStore,
    readonly id: string,
    readonly ttlSec: number,
  ) {}

  async revoke(): Promise<void> {
    this.stopKeepAlive();
    this.done = true;
    await this.store.revokeLease(this.id);
  }

  onLost(fn: (err: Error) => void): void {
    this.lostFns.push(fn);
  }

  /** Stops refreshing without revoking, as a crashed holder would: the lease expires after its TTL. */
  abandon(): void {
    this.stopKeepAlive();
  }

  stopKeepAlive(): void {
    this.keepingAlive = false;
  }

  lost(err: Error): void {
    this.stopKeepAlive();
    if (this.done) return;
    this.done = true;
    for (const fn of this.lostFns) fn(err);
  }
}

export class EmbeddedStore implements Store {
  private kv = new Map<string, Entry>();
  private leases = new Map<string, LeaseState>();
  private rev = 1;
  private seq = 0;
  private nextLease = 1;
  /** Events in revision order; history[0] is the oldest a watch can replay. */
  private history: WatchEvent[] = [];
  /** Revisions ≤ this cannot be replayed. */
  private compactedThrough: number;
  private watchers = new Set<WatchState>();
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
  private readonly historyEvents: number;

  private constructor(
    readonly dir: string,
    private log: FileHandle,
    snap: Snapshot | undefined,
    records: LogRecord[],
    logBytes: number,
    opts: EmbeddedOptions,
  ) {
    this.snapshotBytes = opts.snapshotBytes ?? 8 * 1024 * 1024;
    this.historyEvents = opts.historyEvents ?? 100_000;
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
    this.compactedThrough = snap ? snap.rev : 0;
    for (const r of records) {
      if (r.seq <= this.seq) continue; // already in the snapshot (crash between snapshot and truncation)
      this.seq = r.seq;
      const events = this.applyEffects(r.e, r.rev);
      this.rev = r.rev;
      this.remember(events);
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
    acquireLock(dir);
    try {
      let snap: Snapshot | undefined;
      try {
        snap = JSON.parse(readFileSync(join(dir, 'snapshot'), 'utf8')) as Snapshot;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      let image: Buffer;
      try {
        image = readFileSync(join(dir, 'log'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        image = Buffer.alloc(0);
      }
      const { records, validBytes } = parseLog(image);
      // O_DSYNC: each append returns once its data is on disk, one thread-pool trip per group commit
      // instead of write + fdatasync (same guarantee, fewer hops on the event loop).
      const log = await open(
        join(dir, 'log'),
        fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_APPEND | fsConstants.O_DSYNC,
      );
      if (validBytes < image.length) {
        // Drop the torn tail so new records do not follow garbage.
        await log.truncate(validBytes);
        await log.sync();
      }
      return new EmbeddedStore(dir, log, snap, records, validBytes, opts);
    } catch (err) {
      heldDirs.delete(dir);
      try {
        unlinkSync(join(dir, 'LOCK'));
      } catch {
        // nothing to release
      }
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
    const succeeded = compare.every((c) => this.holds(c));
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
    const from = opts.fromRevision;
    const w: WatchState = {
      prefix,
      fn: onEvent,
      onError: opts.onError,
      closed: false,
      from: from ?? this.rev + 1,
    };
    let replay: WatchEvent[] = [];
    if (from !== undefined && from <= this.rev) {
      if (from <= this.compactedThrough) throw new CompactedError(from, this.compactedThrough + 1);
      // Events not yet durable are in pendingEvents and reach the watcher with their flush.
      replay = this.history.filter((e) => e.revision >= from && e.key.startsWith(prefix));
    }
    this.watchers.add(w);
    if (replay.length > 0)
      queueMicrotask(() => {
        for (const e of replay) if (!w.closed) this.deliver(w, e);
      });
    return {
      close: async () => {
        w.closed = true;
        this.watchers.delete(w);
      },
    };
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
    this.endWatches(new Error(`store ${this.dir} closed`));
    try {
      await this.flushing;
      if (this.pending.length > 0) await this.flush();
    } finally {
      await this.log.close();
      heldDirs.delete(this.dir);
      try {
        unlinkSync(join(this.dir, 'LOCK'));
      } catch {
        // already gone
      }
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
    const e = this.kv.get(key);
    if (!e) return undefined;
    const kv: KV = {
      key,
      value: e.value,
      createRevision: e.createRevision,
      modRevision: e.modRevision,
      version: e.version,
    };
    if (e.lease) kv.lease = e.lease;
    return kv;
  }

  private holds(c: Compare): boolean {
    const e = this.kv.get(c.key);
    let have: string | number;
    switch (c.target) {
      case 'value':
        // etcd: a value compare against an absent key is false whatever the op.
        if (!e) return false;
        have = e.value;
        break;
      case 'version':
        have = e?.version ?? 0;
        break;
      case 'mod':
        have = e?.modRevision ?? 0;
        break;
      case 'create':
        have = e?.createRevision ?? 0;
        break;
    }
    const want = c.target === 'value' ? String(c.value) : Number(c.value);
    if (c.target === 'value') {
      const cmp = Buffer.compare(Buffer.from(have as string), Buffer.from(want as string));
      return c.op === '==' ? cmp === 0 : c.op === '!=' ? cmp !== 0 : c.op === '<' ? cmp < 0 : cmp > 0;
    }
    const h = have as number;
    const w = want as number;
    return c.op === '==' ? h === w : c.op === '!=' ? h !== w : c.op === '<' ? h < w : h > w;
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

  private remember(events: WatchEvent[]): void {
    for (const e of events) this.history.push(e);
    const excess = this.history.length - this.historyEvents;
    if (excess > 0) {
      this.compactedThrough = this.history[excess - 1]!.revision;
      // Never split a revision: drop whole revisions only.
      let cut = excess;
      while (cut < this.history.length && this.history[cut]!.revision === this.compactedThrough) cut++;
      this.history.splice(0, cut);
    }
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
      this.endWatches(this.failed);
      return;
    }
    this.remember(events);
    for (const e of events) for (const w of this.watchers) if (e.key.startsWith(w.prefix)) this.deliver(w, e);
    // Snapshot before acknowledging: with nothing pending, memory equals the log, so it can replace it.
    if ((this.wantSnapshot || this.logBytes > this.snapshotBytes) && this.pending.length === 0) {
      this.wantSnapshot = false;
      try {
        await this.snapshotNow();
      } catch (err) {
        this.failed ??= err instanceof Error ? err : new Error(String(err));
        for (const w of waiters) w.reject(this.failed);
        this.endWatches(this.failed);
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

  /** Ends every watch (the store closed or failed): each owner hears it once through onError. */
  private endWatches(err: Error): void {
    const ws = [...this.watchers];
    this.watchers.clear();
    for (const w of ws) {
      if (w.closed) continue;
      w.closed = true;
      try {
        w.onError?.(err);
      } catch {
        // an owner's bug must not break the store
      }
    }
  }

  private deliver(w: WatchState, e: WatchEvent): void {
    if (w.closed || e.revision < w.from) return;
    try {
      w.fn({ ...e });
    } catch {
      // a watcher's bug must not break the store
    }
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
    const tmp = join(this.dir, 'snapshot.tmp');
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, JSON.stringify(snap));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, 'snapshot'));
    const dfd = openSync(this.dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    // A crash before this truncation is harmless: replay skips records with seq ≤ snapshot.seq.
    await this.log.truncate(0);
    await this.log.sync();
    this.logBytes = 0;
  }
}
