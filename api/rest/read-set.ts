// Owns what one write attempt read: each key with the revision it saw, so that the write can
// require exactly those in its transaction, and the parsed objects it read them as.
import type { PlainObject } from '../../policy/model/index.js';
import type { CachedKV, PrefixCache } from '../../state/cache.js';
import type { Compare, KV, Store } from '../../state/store.js';

export const absent = (key: string): Compare => ({ key, target: 'create', op: '==', value: 0 });
export const unchanged = (kv: KV): Compare => ({
  key: kv.key,
  target: 'mod',
  op: '==',
  value: kv.modRevision,
});

/** A record's JSON value; undefined when absent or not JSON. */
export function parseObj<T = PlainObject>(kv: KV | undefined): T | undefined {
  if (!kv) return undefined;
  try {
    return JSON.parse(kv.value) as T;
  } catch {
    return undefined;
  }
}

/** Parsed values of the watch-fed copy's entries: each create reads its parents, parsed once. */
const parsedEntries = new WeakMap<object, Readonly<PlainObject>>();

/** A read's object; shared between requests while its entry is unchanged, so frozen. */
export function parseCached(kv: { value: string } | undefined): Readonly<PlainObject> | undefined {
  if (!kv) return undefined;
  const known = parsedEntries.get(kv);
  if (known) return known;
  try {
    const obj = Object.freeze(JSON.parse(kv.value) as PlainObject);
    parsedEntries.set(kv, obj);
    return obj;
  } catch {
    return undefined;
  }
}

/** Conflicts past this many attempts are answered 409 (each attempt re-reads what changed). */
export const MAX_WRITE_ATTEMPTS = 8;

/**
 * The keys one write attempt read, each with the revision it saw (0: absent), so the write can
 * require exactly those (compares) and, when they no longer hold, read them back in the same
 * round trip (failureReads) for the next attempt.
 */
export class ReadSet {
  private readonly seen = new Map<string, { value: string; modRevision: number } | undefined>();
  usedCache = false;
  /** After a failed transaction: the keys as the store had them then. */
  readonly fresh = new Map<string, KV | undefined>();

  constructor(
    private readonly store: Store,
    private readonly cache: PrefixCache | undefined,
    private readonly known: Map<string, KV | undefined> | undefined,
  ) {}

  async get(key: string): Promise<{ value: string; modRevision: number } | undefined> {
    if (this.seen.has(key)) return this.seen.get(key);
    let v: { value: string; modRevision: number } | undefined;
    if (this.known?.has(key)) v = this.known.get(key);
    else if (this.cache) {
      v = this.cache.get(key) as CachedKV | undefined;
      this.usedCache = true;
    } else v = await this.store.get(key);
    this.seen.set(key, v);
    return v;
  }

  compares(): Compare[] {
    return [...this.seen].map(([key, v]) =>
      v ? { key, target: 'mod', op: '==', value: v.modRevision } : absent(key),
    );
  }

  keys(): string[] {
    return [...this.seen.keys()];
  }

  learn(reads: (KV | undefined)[], revision: number): void {
    const keys = [...this.seen.keys()];
    keys.forEach((key, i) => {
      const kv = reads[i];
      this.fresh.set(key, kv);
      this.cache?.note(key, kv, revision);
    });
  }
}
