// Owns keeping a NameRegistry equal to the store: list REGISTRY_PREFIXES, then watch them from the
// revision taken before the listing + 1 (events replayed over the listing are idempotent puts and
// deletes); a watch that ends by itself triggers a fresh listing after a short backoff.
import type { Store, Watcher } from '../state/store.js';
import { type KeyValue, type NameRegistry, REGISTRY_PREFIXES } from './registry.js';

export interface StoreFeed {
  /** Resolves once the first listing is in the registry. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export interface StoreFeedOptions {
  /** Called when a watch ends or a listing fails (the feed retries by itself). */
  onError?: (err: Error) => void;
  /** First retry delay; doubles up to 2 s. */
  retryMs?: number;
}

export function feedRegistry(store: Store, registry: NameRegistry, opts: StoreFeedOptions = {}): StoreFeed {
  let closed = false;
  let watchers: Watcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let delay = opts.retryMs ?? 100;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    markReady = r;
  });

  const stopWatches = async () => {
    const ws = watchers;
    watchers = [];
    await Promise.allSettled(ws.map((w) => w.close()));
  };

  const retry = (err: Error) => {
    if (closed || timer) return;
    opts.onError?.(err);
    void stopWatches();
    timer = setTimeout(() => {
      timer = undefined;
      void start();
    }, delay);
    delay = Math.min(delay * 2, 2000);
  };

  const start = async () => {
    try {
      const rev = await store.revision();
      const lists = await Promise.all(REGISTRY_PREFIXES.map((p) => store.list(p)));
      if (closed) return;
      const kvs: KeyValue[] = lists.flat();
      registry.replaceAll(kvs);
      for (const prefix of REGISTRY_PREFIXES) {
        const w = await store.watch(
          prefix,
          (e) => (e.type === 'put' ? registry.put(e.key, e.value ?? '') : registry.delete(e.key)),
          { fromRevision: rev + 1, onError: retry },
        );
        if (closed) {
          await w.close();
          return;
        }
        watchers.push(w);
      }
      delay = opts.retryMs ?? 100;
      markReady();
    } catch (err) {
      retry(err instanceof Error ? err : new Error(String(err)));
    }
  };
  void start();

  return {
    ready,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await stopWatches();
    },
  };
}
