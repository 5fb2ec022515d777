// OVSDB value helpers, the schema model (from the installed vswitch.ovsschema), operation validation
// before sending, and the monitor_cond replica that turns update2 diffs back into full rows.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { applyColumnDiff, defaultValue, Replica } from '../../datapath/ovsdb/replica.js';
import {
  type ColumnType,
  type DatabaseSchema,
  isComposite,
  parseSchema,
  validateMonitorRequest,
  validateOperations,
} from '../../datapath/ovsdb/schema.js';
import {
  map,
  mapEntries,
  namedUuid,
  type Operation,
  OvsdbError,
  set,
  setAtoms,
  uuid,
  uuidOf,
  valuesEqual,
} from '../../datapath/ovsdb/types.js';

const SCHEMA_FILE = '/usr/share/openvswitch/vswitch.ovsschema';
const missingSchema = !existsSync(SCHEMA_FILE);
const skip = missingSchema && process.env.CI !== 'true' ? `missing ${SCHEMA_FILE}` : false;

function vswitch(): DatabaseSchema {
  if (missingSchema) throw new Error(`missing ${SCHEMA_FILE} (CI=true: a missing component fails)`);
  return parseSchema(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
}

const U1 = '11111111-1111-1111-1111-111111111111';
const U2 = '22222222-2222-2222-2222-222222222222';

/** The OvsdbError the function throws (fails when it throws nothing or something else). */
function ovsdbErrorOf(fn: () => unknown): OvsdbError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OvsdbError, `expected an OvsdbError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an OvsdbError, nothing was thrown');
}

describe('value helpers', () => {
  test('constructors build the RFC 7047 notation', () => {
    assert.deepEqual(uuid(U1), ['uuid', U1]);
    assert.deepEqual(namedUuid('row1'), ['named-uuid', 'row1']);
    assert.deepEqual(set(['a', 1, true]), ['set', ['a', 1, true]]);
    assert.deepEqual(set(new Set([uuid(U1)])), ['set', [['uuid', U1]]]);
    assert.deepEqual(map({ a: '1', b: 2 }), [
      'map',
      [
        ['a', '1'],
        ['b', 2],
      ],
    ]);
    assert.deepEqual(map([[1, uuid(U1)]]), ['map', [[1, ['uuid', U1]]]]);
    assert.deepEqual(map(new Map([['k', 'v']])), ['map', [['k', 'v']]]);
  });

  test('setAtoms reads a bare atom (the server sends one-element sets so) and a set', () => {
    assert.deepEqual(setAtoms('x'), ['x']);
    assert.deepEqual(setAtoms(uuid(U1)), [['uuid', U1]]);
    assert.deepEqual(setAtoms(set([])), []);
    assert.deepEqual(setAtoms(set([1, 2])), [1, 2]);
    assert.throws(() => setAtoms(map({ a: 'b' })), TypeError);
  });

  test('mapEntries reads a map; an empty set is an empty map', () => {
    assert.deepEqual(mapEntries(map({ a: 'b' })), [['a', 'b']]);
    assert.deepEqual(mapEntries(set([])), []);
    assert.throws(() => mapEntries('a'), /not a map/);
  });

  test('uuidOf accepts a uuid, a named uuid or a one-element set of one', () => {
    assert.equal(uuidOf(uuid(U1)), U1);
    assert.equal(uuidOf(namedUuid('n')), 'n');
    assert.equal(uuidOf(set([uuid(U2)])), U2);
    assert.throws(() => uuidOf(set([])), /not a single uuid/);
    assert.throws(() => uuidOf(set([uuid(U1), uuid(U2)])), /not a single uuid/);
    assert.throws(() => uuidOf('abc'), TypeError);
  });

  test('valuesEqual ignores set and map order and the bare-atom spelling of a one-element set', () => {
    assert.ok(valuesEqual(set([1, 2]), set([2, 1])));
    assert.ok(valuesEqual('a', set(['a'])));
    assert.ok(valuesEqual(map({ a: '1', b: '2' }), map({ b: '2', a: '1' })));
    assert.ok(valuesEqual(map({}), set([])));
    assert.ok(!valuesEqual(map({ a: '1' }), map({ a: '2' })));
    assert.ok(!valuesEqual(set([1]), set([1, 2])));
    assert.ok(!valuesEqual(uuid(U1), uuid(U2)));
  });

  test('OvsdbError names context, error and details', () => {
    const e = new OvsdbError('constraint violation', 'duplicate name', {
      opIndex: 2,
      context: 'transact op 2 (insert Port)',
    });
    assert.equal(e.message, 'transact op 2 (insert Port): constraint violation: duplicate name');
    assert.equal(e.error, 'constraint violation');
    assert.equal(e.details, 'duplicate name');
    assert.equal(e.opIndex, 2);
    assert.equal(new OvsdbError('not owner').message, 'not owner');
  });
});

describe('schema model', { skip }, () => {
  test('vswitch.ovsschema parses into tables, columns and types', () => {
    const s = vswitch();
    assert.equal(s.name, 'Open_vSwitch');
    assert.match(s.version, /^\d+\.\d+\.\d+$/);
    for (const t of ['Open_vSwitch', 'Bridge', 'Port', 'Interface', 'Controller']) assert.ok(s.tables[t], t);
    const bridge = s.tables.Bridge!;
    assert.equal(bridge.isRoot, false);
    assert.equal(s.tables.Open_vSwitch!.isRoot, true);
    assert.deepEqual(bridge.indexes, [['name']]);
    assert.equal(bridge.columns.name?.mutable, false);
    assert.deepEqual(bridge.columns.name?.type, { key: { type: 'string' }, min: 1, max: 1 });
    const ports = bridge.columns.ports!.type;
    assert.equal(ports.key.refTable, 'Port');
    assert.equal(ports.key.refType, 'strong');
    assert.equal(ports.min, 0);
    assert.equal(ports.max, Number.POSITIVE_INFINITY);
    assert.ok(isComposite(ports));
    const other = bridge.columns.other_config!.type;
    assert.equal(other.value?.type, 'string');
    assert.equal(s.tables.Open_vSwitch!.maxRows, 1);
    const failMode = bridge.columns.fail_mode!.type;
    assert.deepEqual(failMode.key.enum?.slice().sort(), ['secure', 'standalone']);
    assert.ok(!isComposite(failMode), 'an optional (0..1) column is not diffed element-wise');
    const tag = s.tables.Port.columns.tag!.type;
    assert.equal(tag.key.minInteger, 0);
    assert.equal(tag.key.maxInteger, 4095);
    assert.equal(s.tables.Interface!.columns.ofport?.ephemeral, false);
  });

  test('a bad schema is a typed error', () => {
    assert.throws(() => parseSchema({ name: 'x', tables: { T: { columns: { c: { type: 'float' } } } } }), {
      name: 'OvsdbError',
      message: /unknown type "float"/,
    });
    assert.throws(() => parseSchema([]), /schema is not an object/);
  });

  test('valid operations of every kind pass', () => {
    const ops: Operation[] = [
      { op: 'insert', table: 'Interface', row: { name: 'p1', type: 'internal' }, 'uuid-name': 'i' },
      {
        op: 'insert',
        table: 'Port',
        row: { name: 'p1', interfaces: namedUuid('i'), tag: 10 },
        'uuid-name': 'p',
      },
      {
        op: 'mutate',
        table: 'Bridge',
        where: [['name', '==', 'br0']],
        mutations: [['ports', 'insert', set([namedUuid('p')])]],
      },
      { op: 'select', table: 'Bridge', where: [['_uuid', '==', uuid(U1)]], columns: ['name', '_version'] },
      {
        op: 'update',
        table: 'Bridge',
        where: [],
        row: { other_config: map({ a: 'b' }), fail_mode: set([]) },
      },
      { op: 'delete', table: 'Port', where: [['name', '==', 'p1']] },
      {
        op: 'wait',
        table: 'Bridge',
        where: [],
        columns: ['name'],
        until: '==',
        rows: [{ name: 'br0' }],
        timeout: 0,
      },
      { op: 'commit', durable: false },
      { op: 'abort' },
      { op: 'comment', comment: 'hello' },
      { op: 'assert', lock: 'l' },
    ];
    validateOperations(vswitch(), ops);
  });

  test('an unknown table, column or operation is refused, naming it and the operation', () => {
    const s = vswitch();
    let e = ovsdbErrorOf(() =>
      validateOperations(s, [
        { op: 'comment', comment: 'x' },
        { op: 'insert', table: 'Bridges', row: {} },
      ]),
    );
    assert.equal(e.error, 'unknown table');
    assert.equal(e.opIndex, 1);
    assert.match(e.message, /^transact op 1 \(insert Bridges\): unknown table: no table "Bridges"/);

    e = ovsdbErrorOf(() =>
      validateOperations(s, [{ op: 'update', table: 'Bridge', where: [], row: { nmae: 'x' } }]),
    );
    assert.equal(e.error, 'unknown column');
    assert.match(e.message, /no column "nmae" in table Bridge \(row\)/);

    e = ovsdbErrorOf(() =>
      validateOperations(s, [{ op: 'select', table: 'Port', where: [['tags', '==', 1]] }]),
    );
    assert.match(e.message, /no column "tags" in table Port \(where\)/);

    e = ovsdbErrorOf(() =>
      validateOperations(s, [{ op: 'select', table: 'Port', where: [], columns: ['name', 'bogus'] }]),
    );
    assert.match(e.message, /no column "bogus" in table Port \(columns\)/);

    e = ovsdbErrorOf(() =>
      validateOperations(s, [{ op: 'mutate', table: 'Port', where: [], mutations: [['tagz', '+=', 1]] }]),
    );
    assert.match(e.message, /no column "tagz" .*\(mutations\)/);

    e = ovsdbErrorOf(() =>
      validateOperations(s, [
        { op: 'wait', table: 'Port', where: [], columns: ['name'], until: '==', rows: [{ nam: 'x' }] },
      ]),
    );
    assert.match(e.message, /no column "nam" .*\(rows\)/);

    e = ovsdbErrorOf(() => validateOperations(s, [{ op: 'frobnicate' } as unknown as Operation]));
    assert.equal(e.error, 'unknown operation');
  });

  test('written values of the wrong type are refused before sending', () => {
    const s = vswitch();
    const bad = (row: Record<string, unknown>) =>
      ovsdbErrorOf(() => validateOperations(s, [{ op: 'insert', table: 'Port', row } as Operation]));
    assert.match(bad({ tag: 'ten' }).message, /Port\.tag \(row\): "ten" is not integer/);
    assert.match(bad({ tag: 1.5 }).message, /is not integer/);
    assert.match(bad({ interfaces: 'x' }).message, /"x" is not uuid/);
    assert.match(bad({ other_config: set(['a']) }).message, /expected a map/);
    assert.match(bad({ other_config: map({ a: 1 }) }).message, /map value 1 is not string/);
    assert.match(bad({ name: map({ a: 'b' }) }).message, /expected string/);
    assert.match(bad({ _uuid: uuid(U1) }).message, /column _uuid cannot be written/);
  });

  test('monitor requests are checked for tables and columns', () => {
    const s = vswitch();
    validateMonitorRequest(
      s,
      { Bridge: { columns: ['name', 'ports'], where: [['name', '==', 'x'], true] } },
      'monitor_cond',
    );
    assert.throws(() => validateMonitorRequest(s, { Brdge: {} }, 'monitor'), /monitor: unknown table/);
    assert.throws(
      () => validateMonitorRequest(s, { Bridge: { columns: ['nme'] } }, 'monitor'),
      /no column "nme"/,
    );
    assert.throws(
      () => validateMonitorRequest(s, { Bridge: { where: [['nme', '==', 'x']] } }, 'monitor_cond'),
      /no column "nme"/,
    );
  });
});

describe('monitor_cond replica', { skip }, () => {
  const setType: ColumnType = { key: { type: 'string' }, min: 0, max: Number.POSITIVE_INFINITY };
  const mapType: ColumnType = {
    key: { type: 'string' },
    value: { type: 'string' },
    min: 0,
    max: Number.POSITIVE_INFINITY,
  };
  const optional: ColumnType = { key: { type: 'string' }, min: 0, max: 1 };

  test('set diffs toggle elements; map diffs add, replace and remove keys; scalars are replaced', () => {
    assert.deepEqual(applyColumnDiff(set(['a', 'b']), set(['b', 'c']), setType), set(['a', 'c']));
    assert.deepEqual(applyColumnDiff('a', 'b', setType), set(['a', 'b']));
    assert.deepEqual(
      applyColumnDiff(set(['a', 'b']), 'a', setType),
      'b',
      'one element travels as the bare atom',
    );
    assert.deepEqual(
      applyColumnDiff(
        map({ keep: '1', drop: '2', change: '3' }),
        map({ drop: '2', change: '9', add: '4' }),
        mapType,
      ),
      map({ keep: '1', change: '9', add: '4' }),
    );
    assert.deepEqual(applyColumnDiff('secure', set([]), optional), set([]));
    assert.deepEqual(applyColumnDiff(set([]), 'standalone', optional), 'standalone');
  });

  test('defaults fill the columns update2 leaves out', () => {
    assert.deepEqual(defaultValue(setType), set([]));
    assert.deepEqual(defaultValue(mapType), map({}));
    assert.equal(defaultValue({ key: { type: 'integer' }, min: 1, max: 1 }), 0);
    assert.equal(defaultValue({ key: { type: 'boolean' }, min: 1, max: 1 }), false);
  });

  test('initial, insert, modify and delete become TableUpdates with full rows', () => {
    const r = new Replica(vswitch(), { Bridge: ['name', 'ports', 'other_config', 'fail_mode'] });
    const initial = r.apply({ Bridge: { [U1]: { initial: { name: 'br0', fail_mode: 'secure' } } } });
    const full = { name: 'br0', ports: set([]), other_config: map({}), fail_mode: 'secure' };
    assert.deepEqual(initial, { Bridge: { [U1]: { new: full } } });
    const mod = r.apply({
      Bridge: { [U1]: { modify: { ports: uuid(U2), other_config: map({ a: 'b' }), fail_mode: set([]) } } },
    });
    const after = { name: 'br0', ports: uuid(U2), other_config: map({ a: 'b' }), fail_mode: set([]) };
    assert.deepEqual(mod, {
      Bridge: { [U1]: { old: { ports: set([]), other_config: map({}), fail_mode: 'secure' }, new: after } },
    });
    assert.deepEqual(r.rows('Bridge').get(U1), after);
    assert.deepEqual(r.apply({ Bridge: { [U1]: { delete: null } } }), { Bridge: { [U1]: { old: after } } });
    assert.equal(r.rows('Bridge').size, 0);
    const ins = r.apply({ Bridge: { [U2]: { insert: { name: 'br1' } } } });
    assert.equal(ins.Bridge?.[U2]?.new?.name, 'br1');
  });
});
