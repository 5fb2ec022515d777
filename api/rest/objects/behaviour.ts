// Owns the contract of an object type's own behaviour in the REST API: what it checks and
// allocates as it is written, what keeps it from being deleted, what it gives back, and its
// inspect view. The model's checks (policy/model) come first and apply to every type.
import type { EndpointRecord } from '../../../policy/model/endpoint.js';
import type { ObjType, PlainObject } from '../../../policy/model/index.js';
import type { TxnOp } from '../../../state/store.js';
import type { RestContext, TxnExtra } from '../context.js';
import type { ReadSet } from '../read-set.js';

/** One attempt at writing an object: what it read so far, and how it commits. */
export interface Attempt {
  readonly ctx: RestContext;
  readonly rs: ReadSet;
  readonly key: string;
  readonly obj: PlainObject;
  /** A parent or sibling, read through the attempt (so the commit compares on it). */
  lookup(t: ObjType, key: string): Promise<Readonly<PlainObject> | undefined>;
  /** The attempt's compares: every key it read, and the caller's extra ones. */
  compares(): TxnExtra['compares'];
  /** The object's put, the caller's extra ops, then these. */
  ops(...more: TxnOp[]): TxnOp[];
  /** Commits ops under the attempt's compares through the batcher; 'conflict' when they failed. */
  commit(ops: TxnOp[]): Promise<'done' | 'conflict'>;
  /** A create that commits by itself (not through commit) reports its commit's revision here. */
  landed(revision: number): void;
}

/** What a delete adds to its transaction; dockerNetworkID: the Docker network being removed, if any. */
export type DeleteExtra = (ctx: RestContext, key: string, dockerNetworkID?: string) => Promise<TxnExtra>;

export interface ObjectBehaviour {
  /** Its creates and updates run alone (see write-order.ts), not on the watch-fed copy. */
  readonly aloneOnWrite?: boolean;
  /** Checks an update makes beyond the model's, before it commits. */
  checkUpdate?(a: Attempt, old: Readonly<PlainObject>): Promise<void>;
  /** A create that allocates with the object, in the same transaction (default: commit its ops). */
  create?(a: Attempt): Promise<'done' | 'conflict'>;
  /** Whether this endpoint keeps the object (key) from being deleted. */
  usedBy?(e: EndpointRecord, key: string): boolean;
  readonly deleteExtra?: DeleteExtra;
  /** Gives back what the object held, after it is gone: a crash in between leaks, never double-books. */
  release?(ctx: RestContext, key: string, obj: PlainObject): Promise<void>;
  /** The inspect view's Oper (default: {}). */
  oper?(ctx: RestContext, key: string, obj: PlainObject): Promise<PlainObject>;
}
