// Owns the contract every state store meets (etcd for clusters, the embedded store for one host):
// keys and values, revisions, transactions, watches, leases. It holds no data and opens nothing.

/** One key as stored. Revisions are store-wide and only grow; a key's modRevision is its last write. */
export interface KV {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  /** Number of writes since creation (1 after the first put). */
  version: number;
  /** Lease the key is attached to, if any: it disappears when the lease expires. */
  lease?: string;
}

/** A condition on one key, all of which must hold for a transaction's success branch. */
export interface Compare {
  key: string;
  /** value: the stored value; version/mod/create: the numbers of KV (0 when the key is absent). */
  target: 'value' | 'version' | 'mod' | 'create';
  op: '==' | '!=' | '<' | '>';
  value: string | number;
}

export type TxnOp =
  | { type: 'put'; key: string; value: string; lease?: string }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string }
  | { type: 'get'; key: string };

export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the transaction. */
  revision: number;
  /** For each op of the branch that ran: the KV read by a 'get' (or undefined), nothing for writes. */
  reads: (KV | undefined)[];
}

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  /** The new value (put) or the value before the delete, when known. */
  value?: string;
  /** Revision of the write that caused the event. */
  revision: number;
}

export interface WatchOptions {
  fromRevision?: number;
  /** Called once if the watch ends by itself (not by close()); no event follows it. */
  onError?: (err: Error) => void;
}

export interface Watcher {
  close(): Promise<void>;
}

export interface Lease {
  readonly id: string;
  readonly ttlSec: number;
  /** Stop keeping it alive and delete its keys now. */
  revoke(): Promise<void>;
  /** Called once if the lease is lost (expired, or the store could not keep it alive). */
  onLost(fn: (err: Error) => void): void;
}

export interface Store {
  get(key: string): Promise<KV | undefined>;
  /** Every key that starts with prefix, in key order. */
  list(prefix: string): Promise<KV[]>;
  /** Returns the new store revision. */
  put(key: string, value: string, opts?: { lease?: string }): Promise<number>;
  /** True when the key existed. */
  delete(key: string): Promise<boolean>;
  /** Compare-and-swap: all compares hold → success ops, else failure ops; atomically. */
  txn(compare: Compare[], success: TxnOp[], failure?: TxnOp[]): Promise<TxnResult>;
  /**
   * Events for keys under prefix, in revision order. With fromRevision, starts there (events
   * already past are replayed), so a watcher that reconnects with lastSeen + 1 misses nothing.
   * A watch that ends without close() (etcd cancelled it, the connection to etcd broke, the store
   * closed) calls onError once and delivers nothing more: its owner re-watches from lastSeen + 1.
   */
  watch(prefix: string, onEvent: (e: WatchEvent) => void, opts?: WatchOptions): Promise<Watcher>;
  /** A lease kept alive by the store client until revoked or lost. */
  grantLease(ttlSec: number): Promise<Lease>;
  /** The current store revision. */
  revision(): Promise<number>;
  close(): Promise<void>;
}
