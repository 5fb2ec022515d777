// Owns the typed model of an OVSDB schema (RFC 7047 §3.2) and checking operations against it before
// they are sent. It must never reject what the server would accept: when in doubt, let the server judge.

import {
  type Atom,
  isAtom,
  isMap,
  isNamedUuid,
  isSet,
  isUuid,
  type Operation,
  OvsdbError,
  type Row,
  type Value,
} from './types.js';

export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';

export interface BaseType {
  type: AtomicType;
  /** Allowed values, when the column is an enumeration. */
  enum?: Atom[];
  minInteger?: number;
  maxInteger?: number;
  minReal?: number;
  maxReal?: number;
  minLength?: number;
  maxLength?: number;
  refTable?: string;
  refType?: 'strong' | 'weak';
}

export interface ColumnType {
  key: BaseType;
  /** Present for map columns. */
  value?: BaseType;
  min: number;
  /** A number, or Infinity for "unlimited". */
  max: number;
}

export interface ColumnSchema {
  name: string;
  type: ColumnType;
  ephemeral: boolean;
  mutable: boolean;
}

export interface TableSchema {
  name: string;
  columns: Record<string, ColumnSchema>;
  maxRows?: number;
  isRoot: boolean;
  indexes: string[][];
}

export interface DatabaseSchema {
  name: string;
  version: string;
  cksum?: string;
  tables: Record<string, TableSchema>;
}

/** Columns every table has without declaring them. */
const IMPLICIT_COLUMNS: Record<string, ColumnSchema> = {
  _uuid: { name: '_uuid', type: { key: { type: 'uuid' }, min: 1, max: 1 }, ephemeral: false, mutable: false },
  _version: {
    name: '_version',
    type: { key: { type: 'uuid' }, min: 1, max: 1 },
    ephemeral: false,
    mutable: false,
  },
};

const ATOMIC_TYPES = new Set<string>(['integer', 'real', 'boolean', 'string', 'uuid']);

type Json = unknown;

function fail(what: string): never {
  throw new OvsdbError('syntax error', what, { context: 'schema' });
}

function obj(x: Json, what: string): Record<string, Json> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(`${what} is not an object`);
  return x as Record<string, Json>;
}

function optNumber(x: Json, what: string): number | undefined {
  if (x === undefined) return undefined;
  if (typeof x !== 'number') fail(`${what} is not a number`);
  return x;
}

function parseBaseType(x: Json, what: string): BaseType {
  if (typeof x === 'string') {
    if (!ATOMIC_TYPES.has(x)) fail(`${what}: unknown type "${x}"`);
    return { type: x as AtomicType };
  }
  const o = obj(x, what);
  if (typeof o.type !== 'string' || !ATOMIC_TYPES.has(o.type))
    fail(`${what}: unknown type ${String(o.type)}`);
  const base: BaseType = { type: o.type as AtomicType };
  if (o.enum !== undefined) {
    const e = o.enum as Value;
    if (isSet(e)) base.enum = e[1];
    else if (isAtom(e)) base.enum = [e];
    else fail(`${what}: enum is neither a set nor an atom`);
  }
  for (const k of ['minInteger', 'maxInteger', 'minReal', 'maxReal', 'minLength', 'maxLength'] as const) {
    const v = optNumber(o[k], `${what}.${k}`);
    if (v !== undefined) base[k] = v;
  }
  if (typeof o.refTable === 'string') {
    base.refTable = o.refTable;
    base.refType = o.refType === 'weak' ? 'weak' : 'strong';
  }
  return base;
}

function parseColumnType(x: Json, what: string): ColumnType {
  if (typeof x === 'string') return { key: parseBaseType(x, what), min: 1, max: 1 };
  const o = obj(x, what);
  const type: ColumnType = {
    key: parseBaseType(o.key, `${what}.key`),
    min: optNumber(o.min, `${what}.min`) ?? 1,
    max: o.max === 'unlimited' ? Number.POSITIVE_INFINITY : (optNumber(o.max, `${what}.max`) ?? 1),
  };
  if (o.value !== undefined) type.value = parseBaseType(o.value, `${what}.value`);
  return type;
}

/** The typed model of a schema as get_schema returns it (or a .ovsschema file holds it). */
export function parseSchema(json: Json): DatabaseSchema {
  const o = obj(json, 'schema');
  if (typeof o.name !== 'string') fail('schema has no name');
  const tables: Record<string, TableSchema> = {};
  for (const [tname, tjson] of Object.entries(obj(o.tables, 'tables'))) {
    const t = obj(tjson, `table ${tname}`);
    const columns: Record<string, ColumnSchema> = {};
    for (const [cname, cjson] of Object.entries(obj(t.columns, `table ${tname} columns`))) {
      const c = obj(cjson, `column ${tname}.${cname}`);
      columns[cname] = {
        name: cname,
        type: parseColumnType(c.type, `column ${tname}.${cname}`),
        ephemeral: c.ephemeral === true,
        mutable: c.mutable !== false,
      };
    }
    const table: TableSchema = {
      name: tname,
      columns,
      isRoot: t.isRoot === true,
      indexes: Array.isArray(t.indexes) ? (t.indexes as string[][]) : [],
    };
    const maxRows = optNumber(t.maxRows, `table ${tname} maxRows`);
    if (maxRows !== undefined) table.maxRows = maxRows;
    tables[tname] = table;
  }
  const schema: DatabaseSchema = {
    name: o.name,
    version: typeof o.version === 'string' ? o.version : '',
    tables,
  };
  if (typeof o.cksum === 'string') schema.cksum = o.cksum;
  return schema;
}

/** A column holding more than one value (a set or map with max > 1): the server diffs these. */
export function isComposite(type: ColumnType): boolean {
  return type.max > 1;
}

/** The column, including the implicit _uuid and _version; undefined when the table lacks it. */
export function columnOf(table: TableSchema, name: string): ColumnSchema | undefined {
  return Object.hasOwn(table.columns, name) ? table.columns[name] : IMPLICIT_COLUMNS[name];
}

const KNOWN_OPS = new Set<string>([
  'insert',
  'select',
  'update',
  'mutate',
  'delete',
  'wait',
  'commit',
  'abort',
  'comment',
  'assert',
]);

function atomFits(atom: Atom, base: BaseType): boolean {
  switch (base.type) {
    case 'integer':
      return typeof atom === 'number' && Number.isInteger(atom);
    case 'real':
      return typeof atom === 'number';
    case 'boolean':
      return typeof atom === 'boolean';
    case 'string':
      return typeof atom === 'string';
    case 'uuid':
      return isUuid(atom) || isNamedUuid(atom);
  }
}

/** Why a value cannot go in a column (wrong shape or atom type), or undefined when it fits. */
export function valueMismatch(value: Value, type: ColumnType): string | undefined {
  const show = (a: Atom) => JSON.stringify(a);
  if (type.value !== undefined) {
    if (!isMap(value) && !(isSet(value) && value[1].length === 0)) return 'expected a map';
    if (!isMap(value)) return undefined;
    for (const [k, v] of value[1]) {
      if (!atomFits(k, type.key)) return `map key ${show(k)} is not ${type.key.type}`;
      if (!atomFits(v, type.value)) return `map value ${show(v)} is not ${type.value.type}`;
    }
    return undefined;
  }
  if (isMap(value)) return `expected ${type.max > 1 || type.min === 0 ? 'a set or ' : ''}${type.key.type}`;
  const atoms = isSet(value) ? value[1] : isAtom(value) ? [value] : undefined;
  if (atoms === undefined) return 'not an OVSDB value';
  for (const a of atoms) {
    if (!atomFits(a, type.key)) return `${show(a)} is not ${type.key.type}`;
  }
  return undefined;
}

/** How errors name an operation of a transaction: "transact op 2 (insert Port)". */
export function describeOp(op: Operation, i: number): string {
  return 'table' in op ? `transact op ${i} (${op.op} ${op.table})` : `transact op ${i} (${op.op})`;
}

/**
 * Checks every operation's table and column names (and the atom types of written rows) against the
 * schema; throws an OvsdbError naming the first problem and the operation's index.
 */
export function validateOperations(schema: DatabaseSchema, ops: readonly Operation[]): void {
  for (const [i, op] of ops.entries()) {
    const bad = (error: string, details: string) =>
      new OvsdbError(error, details, { opIndex: i, context: describeOp(op, i) });
    if (typeof op !== 'object' || op === null || !KNOWN_OPS.has((op as { op: string }).op)) {
      throw bad('unknown operation', `${JSON.stringify((op as { op?: unknown })?.op)}`);
    }
    if (!('table' in op)) continue;
    const table = Object.hasOwn(schema.tables, op.table) ? schema.tables[op.table] : undefined;
    if (table === undefined) throw bad('unknown table', `no table "${op.table}" in database ${schema.name}`);
    const column = (name: string, where: string): ColumnSchema => {
      const c = columnOf(table, name);
      if (c === undefined) throw bad('unknown column', `no column "${name}" in table ${op.table} (${where})`);
      return c;
    };
    const checkRow = (row: Row, where: string) => {
      for (const [name, value] of Object.entries(row)) {
        const c = column(name, where);
        if (name.startsWith('_'))
          throw bad('constraint violation', `column ${name} cannot be written (${where})`);
        const why = valueMismatch(value, c.type);
        if (why !== undefined) throw bad('syntax error', `column ${op.table}.${name} (${where}): ${why}`);
      }
    };
    if ('where' in op) {
      for (const cond of op.where) {
        if (!Array.isArray(cond) || cond.length !== 3)
          throw bad('syntax error', `condition ${JSON.stringify(cond)}`);
        column(cond[0], 'where');
      }
    }
    switch (op.op) {
      case 'insert':
        checkRow(op.row, 'row');
        break;
      case 'update':
        checkRow(op.row, 'row');
        break;
      case 'select':
        for (const c of op.columns ?? []) column(c, 'columns');
        break;
      case 'wait':
        for (const c of op.columns) column(c, 'columns');
        for (const row of op.rows) for (const c of Object.keys(row)) column(c, 'rows');
        break;
      case 'mutate':
        for (const m of op.mutations) column(m[0], 'mutations');
        break;
      case 'delete':
        break;
    }
  }
}

/** Checks a monitor request's tables and columns; throws an OvsdbError naming the first unknown one. */
export function validateMonitorRequest(
  schema: DatabaseSchema,
  requests: Record<string, { columns?: string[]; where?: unknown[] }>,
  method: string,
): void {
  for (const [tname, req] of Object.entries(requests)) {
    const table = Object.hasOwn(schema.tables, tname) ? schema.tables[tname] : undefined;
    if (table === undefined) {
      throw new OvsdbError('unknown table', `no table "${tname}" in database ${schema.name}`, {
        context: method,
      });
    }
    const names = [...(req.columns ?? [])];
    for (const cond of req.where ?? []) if (Array.isArray(cond)) names.push(String(cond[0]));
    for (const c of names) {
      if (columnOf(table, c) === undefined) {
        throw new OvsdbError('unknown column', `no column "${c}" in table ${tname}`, { context: method });
      }
    }
  }
}
