// Owns the intent as the store holds it: the intent prefixes listed at one revision and watched
// from the next (nothing written in between is missed, and a replayed event is an idempotent
// put), kept as key → value, with the newest revision the watches have seen.

import { INTENT_PREFIXES } from '../../policy/compiler/from-store.js';
import type { Store, Watcher } from '../../state/store.js';

export interface IntentWatchOptions {
  store: Store;
  /** A key changed (its value is already in the watch). */
  onChange: () => void;
  onError: (err: Error) => void;
}

export class IntentWatch {
  private readonly kvs = new Map<string, string>();
  private readonly watchers: Watcher[] = [];
  private seen = 0;

  constructor(private readonly opts: IntentWatchOptions) {}

  /** Newest store revision seen by the watches (0 before any event). */
  get seenRevision(): number {
    return this.seen;
  }

  /** Lists the intent and starts the watches; resolves to the listing's revision. */
  async start(): Promise<number> {
    const { store } = this.opts;
    const rev = await store.revision();
    for (const prefix of INTENT_PREFIXES) {
      for (const kv of await store.list(prefix)) this.kvs.set(kv.key, kv.value);
    }
    for (const prefix of INTENT_PREFIXES) {
      this.watchers.push(
        await store.watch(
          prefix,
          (e) => {
            if (e.type === 'put' && e.value !== undefined) this.kvs.set(e.key, e.value);
            else this.kvs.delete(e.key);
            if (e.revision > this.seen) this.seen = e.revision;
            this.opts.onChange();
          },
          {
            fromRevision: rev + 1,
            onError: (err) => this.opts.onError(new Error(`store watch on ${prefix} ended: ${err.message}`)),
          },
        ),
      );
    }
    return rev;
  }

  get(key: string): string | undefined {
    return this.kvs.get(key);
  }

  entries(): { key: string; value: string }[] {
    return [...this.kvs].map(([key, value]) => ({ key, value }));
  }

  async close(): Promise<void> {
    for (const w of this.watchers.splice(0)) await w.close();
  }
}
