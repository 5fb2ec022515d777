// Owns the embedded store's watches: the watchers, the event history kept for replay and where it is
// compacted, delivery of durable events. A watcher's bug never breaks the store.
import type { WatchEvent, Watcher, WatchOptions } from '../store.js';

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

interface WatchState {
  prefix: string;
  fn: (e: WatchEvent) => void;
  onError: ((err: Error) => void) | undefined;
  closed: boolean;
  /** Events below this revision are not this watcher's (they were before it started). */
  from: number;
}

export class WatchHub {
  /** Events in revision order; history[0] is the oldest a watch can replay. */
  private history: WatchEvent[] = [];
  private watchers = new Set<WatchState>();

  constructor(
    private readonly historyEvents: number,
    /** Revisions ≤ this cannot be replayed. */
    private compactedThrough: number,
  ) {}

  /** Starts a watch; `rev` is the store's revision now (events not yet durable reach it with their flush). */
  watch(prefix: string, onEvent: (e: WatchEvent) => void, opts: WatchOptions, rev: number): Watcher {
    const from = opts.fromRevision;
    const w: WatchState = {
      prefix,
      fn: onEvent,
      onError: opts.onError,
      closed: false,
      from: from ?? rev + 1,
    };
    let replay: WatchEvent[] = [];
    if (from !== undefined && from <= rev) {
      if (from <= this.compactedThrough) throw new CompactedError(from, this.compactedThrough + 1);
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

  /** Keeps durable events for replay, dropping the oldest whole revisions past historyEvents. */
  remember(events: WatchEvent[]): void {
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

  /** Remembers durable events and delivers them to the watchers of their keys. */
  publish(events: WatchEvent[]): void {
    this.remember(events);
    for (const e of events) for (const w of this.watchers) if (e.key.startsWith(w.prefix)) this.deliver(w, e);
  }

  /** Ends every watch (the store closed or failed): each owner hears it once through onError. */
  end(err: Error): void {
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
}
