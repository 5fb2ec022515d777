// Owns a process-local copy of some key prefixes of a store, kept current by a watch: writers read
// it instead of the store and guard their transaction with compares on what they read, so a stale
// copy costs a retry, never a wrong write. It must never be trusted without such a compare.
import type { KV, Store, WatchEvent, Watcher } from './store.js';

/** A cached key: its value and the revision of its last write (what a writer compares on). */
export interface CachedKV {
  key: string;
  value: string;
  modRevision: number;
}

export interface CacheOptions {
  /** Told when the watch broke (the copy is then stale until it is rebuilt, which it retries by itself). */
  onError?: (err: Error) => void;
  /** Delay before rebuilding after a broken watch (doubles up to 5 s). Default 100 ms. */
  retryMs?: number;
}

export class PrefixCache {
  private readonly kv = new Map<string, CachedKV>();
  private readonly watchers: Watcher[] = [];
  private readonly listeners: ((e: WatchEvent) => void)[] = [];
  private closed = false;
  private healthy = false;
  private retryMs: number;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly store: Store,
    private readonly prefixes: readonly string[],
    private readonly opts: CacheOptions,
  ) {
    this.retryMs = opts.retryMs ?? 100;
  }

  /** Loads the prefixes and starts watching them. */
  static async open(
    store: Store,
    prefixes: readonly string[],
    opts: CacheOptions = {},
  ): Promise<PrefixCache> {
    const c = new PrefixCache(store, prefixes, opts);
    await c.load();
    return c;
  }

  /** False while the watch is broken and the copy is being rebuilt: callers read the store instead. */
  get ready(): boolean {
    return this.healthy && !this.closed;
  }

  get(key: string): CachedKV | undefined {
    return this.kv.get(key);
  }

  /** Cached keys under prefix (any order). */
  *under(prefix: string): Iterable<CachedKV> {
    for (const [k, v] of this.kv) if (k.startsWith(prefix)) yield v;
  }

  /**
   * Called for each applied change (watch events, and what note() learnt), after the copy changed,
   * and with a synthetic put for every key whenever the copy is (re)loaded.
   */
  onChange(fn: (e: WatchEvent) => void): void {
    this.listeners.push(fn);
  }

  /**
   * What a writer learnt first-hand (its own committed write, or a read from the store): applied
   * when newer than what the copy holds, so the copy catches up before the watch delivers it.
   */
  note(key: string, kv: KV | undefined, atRevision: number): void {
    if (!this.prefixes.some((p) => key.startsWith(p))) return;
    if (kv) this.apply({ type: 'put', key, value: kv.value, revision: kv.modRevision });
    else this.apply({ type: 'delete', key, revision: atRevision });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.healthy = false;
    clearTimeout(this.timer);
    const ws = this.watchers.splice(0);
    await Promise.all(ws.map((w) => w.close().catch(() => {})));
  }

  // Deletes are remembered by revision for a while so that an older put (a lagging watch event
  // after a first-hand note) does not bring a deleted key back.
  private readonly tombstones = new Map<string, number>();

  private apply(e: WatchEvent): void {
    const cur = this.kv.get(e.key);
    const dead = this.tombstones.get(e.key);
    if (cur && e.revision <= cur.modRevision) return;
    if (dead !== undefined && e.revision <= dead) return;
    if (e.type === 'put') {
      this.tombstones.delete(e.key);
      this.kv.set(e.key, { key: e.key, value: e.value ?? '', modRevision: e.revision });
    } else {
      this.kv.delete(e.key);
      this.tombstones.set(e.key, e.revision);
      if (this.tombstones.size > 10_000) this.tombstones.clear(); // only a hint; compares stay the guard
    }
    for (const fn of this.listeners) fn(e);
  }

  private async load(): Promise<void> {
    const rev = await this.store.revision();
    const fresh = new Map<string, CachedKV>();
    for (const p of this.prefixes) {
      for (const kv of await this.store.list(p)) {
        fresh.set(kv.key, { key: kv.key, value: kv.value, modRevision: kv.modRevision });
      }
    }
    // Events after `rev` are replayed by the watches; those the list already shows are skipped by
    // apply() (not newer than the listed modRevision).
    const buffered: WatchEvent[] = [];
    let loading = true;
    const onEvent = (e: WatchEvent) => {
      if (loading) buffered.push(e);
      else this.apply(e);
    };
    let loadErr: Error | undefined;
    const onError = (err: Error) => {
      if (loading) loadErr ??= err;
      else this.broken(err);
    };
    try {
      for (const p of this.prefixes) {
        this.watchers.push(await this.store.watch(p, onEvent, { fromRevision: rev + 1, onError }));
      }
      if (loadErr) throw loadErr;
    } catch (err) {
      await Promise.all(this.watchers.splice(0).map((w) => w.close().catch(() => {})));
      throw err;
    }
    this.kv.clear();
    this.tombstones.clear();
    for (const [k, v] of fresh) this.kv.set(k, v);
    loading = false;
    for (const e of buffered) this.apply(e);
    for (const v of fresh.values()) {
      for (const fn of this.listeners)
        fn({ type: 'put', key: v.key, value: v.value, revision: v.modRevision });
    }
    this.healthy = true;
    this.retryMs = this.opts.retryMs ?? 100;
  }

  private broken(err: Error): void {
    if (this.closed || !this.healthy) return;
    this.healthy = false;
    this.opts.onError?.(err);
    const ws = this.watchers.splice(0);
    void Promise.all(ws.map((w) => w.close().catch(() => {})));
    this.scheduleReload();
  }

  private scheduleReload(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.load().catch(() => {
        this.retryMs = Math.min(this.retryMs * 2, 5000);
        this.scheduleReload();
      });
    }, this.retryMs);
    this.timer.unref();
  }
}
