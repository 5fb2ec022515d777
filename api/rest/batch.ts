// Owns group commit of netmaster writes: concurrent writes that touch disjoint keys go to the store
// as one transaction holding all their compares and ops (one etcd round trip for many creates).
// It must never let a write land without all of its own compares holding in the transaction it lands in.
import type { Compare, KV, Store, TxnOp } from '../../state/store.js';

/** One write: its compares, its ops, and the keys to read back if it fails (for its next attempt). */
export interface BatchItem {
  compares: Compare[];
  ops: TxnOp[];
  readBack: string[];
}

export interface BatchOutcome {
  succeeded: boolean;
  revision: number;
  /** On failure: readBack's keys as the store had them, in readBack order. */
  reads: (KV | undefined)[];
}

interface Queued {
  item: BatchItem;
  resolve: (o: BatchOutcome) => void;
  reject: (e: Error) => void;
  /** Times this item's batch failed although its own compares held (another item's did not). */
  bystander: number;
}

export interface BatcherOptions {
  /** Writes per transaction (default 16). */
  maxItems?: number;
  /** Transactions in flight at once (default 2: one fills while the other travels). */
  maxInFlight?: number;
  /** Cap on compares, ops and reads per transaction (etcd's --max-txn-ops defaults to 128). */
  maxOps?: number;
}

const writtenKeys = (ops: TxnOp[]): string[] =>
  ops.flatMap((op) => (op.type === 'put' || op.type === 'delete' ? [op.key] : []));

/** Whether one compare holds against a key as read (undefined: absent). Mirrors etcd's semantics. */
export function holds(c: Compare, kv: KV | undefined): boolean {
  let actual: string | number;
  switch (c.target) {
    case 'value':
      if (!kv) return false; // etcd: a value compare on an absent key fails
      actual = kv.value;
      break;
    case 'version':
      actual = kv?.version ?? 0;
      break;
    case 'mod':
      actual = kv?.modRevision ?? 0;
      break;
    default:
      actual = kv?.createRevision ?? 0;
  }
  const want = c.value;
  switch (c.op) {
    case '==':
      return actual === want;
    case '!=':
      return actual !== want;
    case '<':
      return actual < want;
    default:
      return actual > want;
  }
}

export class TxnBatcher {
  private readonly queue: Queued[] = [];
  private inFlight = 0;
  private readonly maxItems: number;
  private readonly maxInFlight: number;
  private readonly maxOps: number;

  constructor(
    private readonly store: Store,
    opts: BatcherOptions = {},
  ) {
    this.maxItems = opts.maxItems ?? 16;
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.maxOps = opts.maxOps ?? 120;
  }

  submit(item: BatchItem): Promise<BatchOutcome> {
    if (this.maxInFlight === Number.POSITIVE_INFINITY) return this.alone(item);
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject, bystander: 0 });
      this.pump();
    });
  }

  /** Without a limit there is nothing to batch: the write goes straight to the store. */
  private async alone(item: BatchItem): Promise<BatchOutcome> {
    const r = await this.store.txn(
      item.compares,
      item.ops,
      item.readBack.map((key) => ({ type: 'get', key })),
    );
    return { succeeded: r.succeeded, revision: r.revision, reads: r.succeeded ? [] : r.reads };
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The next batch: queued writes in order, skipping any that touches a key another one writes or reads. */
  private take(): Queued[] {
    const batch: Queued[] = [];
    const written = new Set<string>();
    const compared = new Set<string>();
    let compares = 0;
    let ops = 0;
    let reads = 0;
    for (let i = 0; i < this.queue.length && batch.length < this.maxItems; ) {
      const q = this.queue[i]!;
      const w = writtenKeys(q.item.ops);
      const c = q.item.compares.map((x) => x.key);
      // A write that failed as a bystander too often goes alone (its own outcome, nobody else's).
      const alone = q.bystander >= 2;
      const clash =
        w.some((k) => written.has(k) || compared.has(k)) ||
        c.some((k) => written.has(k)) ||
        (batch.length > 0 &&
          (alone ||
            compares + q.item.compares.length > this.maxOps ||
            ops + q.item.ops.length > this.maxOps ||
            reads + q.item.readBack.length > this.maxOps));
      if (clash) {
        i++;
        continue;
      }
      batch.push(q);
      this.queue.splice(i, 1);
      for (const k of w) written.add(k);
      for (const k of c) compared.add(k);
      compares += q.item.compares.length;
      ops += q.item.ops.length;
      reads += q.item.readBack.length;
      if (alone) break;
    }
    return batch;
  }

  private async send(batch: Queued[]): Promise<void> {
    const compares: Compare[] = [];
    const seenCompare = new Set<string>();
    const ops: TxnOp[] = [];
    const readKeys: string[] = [];
    const readIndex = new Map<string, number>();
    for (const q of batch) {
      for (const c of q.item.compares) {
        const id = `${c.key}\0${c.target}\0${c.op}\0${c.value}`;
        if (seenCompare.has(id)) continue;
        seenCompare.add(id);
        compares.push(c);
      }
      ops.push(...q.item.ops);
      for (const k of [...q.item.readBack, ...q.item.compares.map((c) => c.key)]) {
        if (readIndex.has(k)) continue;
        readIndex.set(k, readKeys.length);
        readKeys.push(k);
      }
    }
    let r: Awaited<ReturnType<Store['txn']>>;
    try {
      r = await this.store.txn(
        compares,
        ops,
        readKeys.map((key) => ({ type: 'get', key })),
      );
    } catch (err) {
      for (const q of batch) q.reject(err as Error);
      return;
    }
    if (r.succeeded) {
      for (const q of batch) q.resolve({ succeeded: true, revision: r.revision, reads: [] });
      return;
    }
    const requeue: Queued[] = [];
    for (const q of batch) {
      const got = (k: string) => r.reads[readIndex.get(k)!];
      const own = q.item.compares.every((c) => holds(c, got(c.key)));
      if (own && batch.length > 1) {
        // Only another write's compares failed: this one goes again, ahead of newer writes.
        q.bystander++;
        requeue.push(q);
      } else {
        q.resolve({ succeeded: false, revision: r.revision, reads: q.item.readBack.map(got) });
      }
    }
    this.queue.unshift(...requeue);
  }
}
