// Owns one monitor_cond replica: the rows a monitor covers, kept current from update2 messages, turned
// back into RFC 7047 TableUpdates with full new rows. It must never talk to the server.

import { type ColumnType, columnOf, type DatabaseSchema, isComposite, type TableSchema } from './schema.js';
import {
  type Atom,
  atomKey,
  mapEntries,
  type Row,
  setAtoms,
  type TableUpdates,
  type Value,
} from './types.js';

/** One row's change in a monitor_cond update (ovsdb-server(7), "update2"). */
export interface RowUpdate2 {
  initial?: Row;
  insert?: Row;
  delete?: null;
  modify?: Row;
}
export type TableUpdates2 = Record<string, Record<string, RowUpdate2>>;

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

function defaultAtom(type: ColumnType['key']): Atom {
  switch (type.type) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return ['uuid', ZERO_UUID];
  }
}

/** The value a column holds when nothing was written to it (update2 omits such columns). */
export function defaultValue(type: ColumnType): Value {
  if (type.value !== undefined) {
    return type.min === 0 ? ['map', []] : ['map', [[defaultAtom(type.key), defaultAtom(type.value)]]];
  }
  return type.min === 0 ? ['set', []] : defaultAtom(type.key);
}

/** The server's own convention: a one-element set travels as the bare atom. */
function setValue(atoms: Atom[]): Value {
  return atoms.length === 1 ? (atoms[0] as Atom) : ['set', atoms];
}

/**
 * Applies an update2 "modify" diff of one column. For sets and maps with more than one element
 * allowed, the diff lists elements to toggle: a set element present is removed, absent is added; a
 * map key with the same value is removed, with another value is replaced, absent is added. Other
 * columns carry their new value whole.
 */
export function applyColumnDiff(old: Value, diff: Value, type: ColumnType): Value {
  if (!isComposite(type)) return diff;
  if (type.value !== undefined) {
    const entries = new Map<string, [Atom, Atom]>(mapEntries(old).map((e) => [atomKey(e[0]), e]));
    for (const [k, v] of mapEntries(diff)) {
      const key = atomKey(k);
      const had = entries.get(key);
      if (had !== undefined && atomKey(had[1]) === atomKey(v)) entries.delete(key);
      else entries.set(key, [k, v]);
    }
    return ['map', [...entries.values()]];
  }
  const atoms = new Map<string, Atom>(setAtoms(old).map((a) => [atomKey(a), a]));
  for (const a of setAtoms(diff)) {
    const key = atomKey(a);
    if (atoms.has(key)) atoms.delete(key);
    else atoms.set(key, a);
  }
  return setValue([...atoms.values()]);
}

/** The rows of the tables one monitor_cond covers. */
export class Replica {
  private readonly tables = new Map<string, Map<string, Row>>();

  constructor(
    private readonly schema: DatabaseSchema,
    /** Per table, the monitored columns (undefined: all of them). */
    private readonly columns: Record<string, string[] | undefined>,
  ) {}

  clear(): void {
    this.tables.clear();
  }

  rows(table: string): ReadonlyMap<string, Row> {
    return this.tables.get(table) ?? new Map();
  }

  /** Applies one update2 message and returns it as TableUpdates (old: changed columns only). */
  apply(updates: TableUpdates2): TableUpdates {
    const out: TableUpdates = {};
    for (const [tname, rows] of Object.entries(updates)) {
      const table = this.schema.tables[tname];
      let replica = this.tables.get(tname);
      if (replica === undefined) {
        replica = new Map();
        this.tables.set(tname, replica);
      }
      const changes: TableUpdates[string] = {};
      out[tname] = changes;
      for (const [id, change] of Object.entries(rows)) {
        const full = change.initial ?? change.insert;
        if (full !== undefined) {
          const row = table === undefined ? { ...full } : this.withDefaults(table, full);
          replica.set(id, row);
          changes[id] = { new: row };
        } else if (change.modify !== undefined) {
          const before = replica.get(id) ?? {};
          const after: Row = { ...before };
          const old: Row = {};
          for (const [col, diff] of Object.entries(change.modify)) {
            const column = table === undefined ? undefined : columnOf(table, col);
            const prev = before[col] ?? (column ? defaultValue(column.type) : undefined);
            after[col] =
              column === undefined || prev === undefined ? diff : applyColumnDiff(prev, diff, column.type);
            if (prev !== undefined) old[col] = prev;
          }
          replica.set(id, after);
          changes[id] = { old, new: after };
        } else if ('delete' in change) {
          const before = replica.get(id);
          replica.delete(id);
          changes[id] = before === undefined ? {} : { old: before };
        }
      }
    }
    return out;
  }

  private withDefaults(table: TableSchema, row: Row): Row {
    const names = this.columns[table.name] ?? Object.keys(table.columns);
    const full: Row = {};
    for (const name of names) {
      const column = columnOf(table, name);
      if (name in row) full[name] = row[name] as Value;
      else if (column !== undefined && !name.startsWith('_')) full[name] = defaultValue(column.type);
    }
    for (const [name, value] of Object.entries(row)) if (!(name in full)) full[name] = value;
    return full;
  }
}
