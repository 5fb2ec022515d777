// Owns the RFC 7047 wire model: atoms, sets, maps, rows, conditions, operations and their results,
// small helpers to build and read them, and the OVSDB error types. It must never do I/O.

/** A row reference as the server sends it: ["uuid", "550e8400-…"]. */
export type Uuid = ['uuid', string];
/** A reference to a row inserted earlier in the same transaction (its "uuid-name"). */
export type NamedUuid = ['named-uuid', string];
export type Atom = string | number | boolean | Uuid | NamedUuid;
export type OvsSet = ['set', Atom[]];
export type OvsMap = ['map', [Atom, Atom][]];
export type Value = Atom | OvsSet | OvsMap;
export type Row = Record<string, Value>;

export type ConditionFunction = '==' | '!=' | 'includes' | 'excludes' | '<' | '<=' | '>' | '>=';
export type Condition = [string, ConditionFunction, Value];
/** monitor_cond also accepts the constants true (every row) and false (no row) as clauses. */
export type MonitorCondition = Condition | boolean;
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
export type Mutation = [string, Mutator, Value];

export interface InsertOp {
  op: 'insert';
  table: string;
  row: Row;
  'uuid-name'?: string;
}
export interface SelectOp {
  op: 'select';
  table: string;
  where: Condition[];
  columns?: string[];
}
export interface UpdateOp {
  op: 'update';
  table: string;
  where: Condition[];
  row: Row;
}
export interface MutateOp {
  op: 'mutate';
  table: string;
  where: Condition[];
  mutations: Mutation[];
}
export interface DeleteOp {
  op: 'delete';
  table: string;
  where: Condition[];
}
export interface WaitOp {
  op: 'wait';
  table: string;
  where: Condition[];
  columns: string[];
  until: '==' | '!=';
  rows: Row[];
  /** Milliseconds; 0 means "fail at once if not met", absent means "wait forever". */
  timeout?: number;
}
export interface CommitOp {
  op: 'commit';
  durable: boolean;
}
export interface AbortOp {
  op: 'abort';
}
export interface CommentOp {
  op: 'comment';
  comment: string;
}
export interface AssertOp {
  op: 'assert';
  lock: string;
}

export type Operation =
  | InsertOp
  | SelectOp
  | UpdateOp
  | MutateOp
  | DeleteOp
  | WaitOp
  | CommitOp
  | AbortOp
  | CommentOp
  | AssertOp;

export interface OperationResult {
  uuid?: Uuid;
  rows?: Row[];
  count?: number;
  error?: string;
  details?: string;
}

/** Per table, per row uuid: the row before (old) and after (new) the change; RFC 7047 §4.1.6. */
export type TableUpdates = Record<string, Record<string, { old?: Row; new?: Row }>>;

/**
 * An error the server reported (in an operation result, a top-level RPC error) or a request this
 * client refused to send (unknown table or column). `error` is the RFC 7047 error tag, e.g.
 * "constraint violation"; `opIndex` names the operation of a transaction it belongs to.
 */
export class OvsdbError extends Error {
  readonly error: string;
  readonly details: string | undefined;
  readonly opIndex: number | undefined;

  constructor(error: string, details?: string, opts: { opIndex?: number; context?: string } = {}) {
    const what = details === undefined || details === '' ? error : `${error}: ${details}`;
    super(opts.context === undefined ? what : `${opts.context}: ${what}`);
    this.name = 'OvsdbError';
    this.error = error;
    this.details = details;
    this.opIndex = opts.opIndex;
  }
}

/**
 * The connection failed under a request (lost, timed out, closed, or never there). Whether a
 * transaction in flight was applied is unknown: the caller re-reads before retrying.
 */
export class OvsdbConnectionError extends Error {
  constructor(
    message: string,
    readonly target: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OvsdbConnectionError';
  }
}

export function uuid(s: string): Uuid {
  return ['uuid', s];
}

export function namedUuid(s: string): NamedUuid {
  return ['named-uuid', s];
}

export function set(atoms: Iterable<Atom>): OvsSet {
  return ['set', [...atoms]];
}

/** A map from a record (string keys) or from entries (any atom keys). */
export function map(entries: Record<string, Atom> | Iterable<[Atom, Atom]>): OvsMap {
  if (isIterable(entries)) return ['map', [...entries]];
  return ['map', Object.entries(entries)];
}

function isIterable(x: unknown): x is Iterable<[Atom, Atom]> {
  return typeof x === 'object' && x !== null && Symbol.iterator in x;
}

export function isUuid(v: unknown): v is Uuid {
  return Array.isArray(v) && v.length === 2 && v[0] === 'uuid' && typeof v[1] === 'string';
}

export function isNamedUuid(v: unknown): v is NamedUuid {
  return Array.isArray(v) && v.length === 2 && v[0] === 'named-uuid' && typeof v[1] === 'string';
}

export function isAtom(v: unknown): v is Atom {
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean' || isUuid(v) || isNamedUuid(v);
}

export function isSet(v: unknown): v is OvsSet {
  return Array.isArray(v) && v.length === 2 && v[0] === 'set' && Array.isArray(v[1]);
}

export function isMap(v: unknown): v is OvsMap {
  return Array.isArray(v) && v.length === 2 && v[0] === 'map' && Array.isArray(v[1]);
}

/** The elements of a set column: the server sends a one-element set as the bare atom. */
export function setAtoms(value: Value): Atom[] {
  if (isSet(value)) return value[1];
  if (isAtom(value)) return [value];
  throw new TypeError(`setAtoms: ${JSON.stringify(value)} is a map, not a set or an atom`);
}

/** The entries of a map column; an empty set counts as an empty map. */
export function mapEntries(value: Value): [Atom, Atom][] {
  if (isMap(value)) return value[1];
  if (isSet(value) && value[1].length === 0) return [];
  throw new TypeError(`mapEntries: ${JSON.stringify(value)} is not a map`);
}

/** The uuid text of a reference, also when it comes as a one-element set. */
export function uuidOf(value: Value): string {
  if (isUuid(value) || isNamedUuid(value)) return value[1];
  if (isSet(value) && value[1].length === 1) {
    const only = value[1][0];
    if (isUuid(only) || isNamedUuid(only)) return only[1];
  }
  throw new TypeError(`uuidOf: ${JSON.stringify(value)} is not a single uuid`);
}

/** Equality of values the way OVSDB compares them: sets and maps ignore element order. */
export function valuesEqual(a: Value, b: Value): boolean {
  if (isMap(a) || isMap(b)) {
    if (!isMap(a) && !(isSet(a) && a[1].length === 0)) return false;
    if (!isMap(b) && !(isSet(b) && b[1].length === 0)) return false;
    const ea = mapEntries(a);
    const eb = mapEntries(b);
    if (ea.length !== eb.length) return false;
    const kb = new Map(eb.map(([k, v]) => [atomKey(k), v]));
    return ea.every(([k, v]) => {
      const other = kb.get(atomKey(k));
      return other !== undefined && atomKey(other) === atomKey(v);
    });
  }
  const sa = setAtoms(a);
  const sb = setAtoms(b);
  if (sa.length !== sb.length) return false;
  const keys = new Set(sb.map(atomKey));
  return sa.every((x) => keys.has(atomKey(x)));
}

/** A string that identifies an atom, for use as a Map/Set key ("s:…", "n:…", "u:…"). */
export function atomKey(a: Atom): string {
  switch (typeof a) {
    case 'string':
      return `s:${a}`;
    case 'number':
      return `n:${a}`;
    case 'boolean':
      return a ? 'b:1' : 'b:0';
    default:
      return a[0] === 'uuid' ? `u:${a[1]}` : `N:${a[1]}`;
  }
}
