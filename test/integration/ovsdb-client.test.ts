// The OVSDB client against a real private ovsdb-server, with ovs-vsctl (and ovsdb-tool/ovsdb-client)
// reading the same database as the oracle; and against fake servers that misbehave on purpose.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  map,
  namedUuid,
  OvsdbClient,
  OvsdbConnectionError,
  OvsdbError,
  type Row,
  set,
  setAtoms,
  type TableUpdates,
  type UpdateHandler,
  uuid,
  uuidOf,
} from '../../datapath/ovsdb/index.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { missingFor } from '../harness/require.js';
import { run } from '../harness/run.js';

const NEEDED = ['ovsdb-tool', 'ovsdb-server', 'ovsdb-client', 'ovs-vswitchd', 'ovs-vsctl'];
const missing = missingFor(...NEEDED);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const DB = 'Open_vSwitch';

/** Polls until the condition holds; fails naming what it waited for. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The state a monitor describes, rebuilt from scratch on every initial=true delivery. */
class Mirror {
  readonly tables = new Map<string, Map<string, Row>>();
  initials = 0;
  readonly changes: TableUpdates[] = [];
  readonly onUpdate: UpdateHandler = (updates, initial) => {
    if (initial) {
      this.tables.clear();
      this.initials++;
    } else {
      this.changes.push(updates);
    }
    for (const [table, rows] of Object.entries(updates)) {
      let t = this.tables.get(table);
      if (t === undefined) {
        t = new Map();
        this.tables.set(table, t);
      }
      for (const [id, change] of Object.entries(rows)) {
        if (change.new !== undefined) t.set(id, change.new);
        else t.delete(id);
      }
    }
  };

  rows(table: string): Row[] {
    return [...(this.tables.get(table)?.values() ?? [])];
  }

  byName(table: string, name: string): Row | undefined {
    return this.rows(table).find((r) => r.name === name);
  }

  names(table: string): string[] {
    return this.rows(table)
      .map((r) => String(r.name))
      .sort();
  }
}

describe('OVSDB client against ovsdb-server', { skip }, () => {
  let ovs: OvsInstance;
  let client: OvsdbClient;
  let seq = 0;
  const unique = (prefix: string) => `${prefix}${process.pid % 1000}x${++seq}`;

  async function connect(): Promise<OvsdbClient> {
    const c = await OvsdbClient.connect(`unix:${ovs.dbSock}`, { minRetryMs: 50, maxRetryMs: 400 });
    onCleanup(() => c.close(), { label: 'ovsdb client' });
    return c;
  }

  /** Creates a bridge with its local port as ovs-vsctl add-br does, in one transaction of ours. */
  async function addBridge(name: string): Promise<string> {
    const [, , br] = await client.transact(DB, [
      { op: 'insert', table: 'Interface', row: { name, type: 'internal' }, 'uuid-name': 'iface' },
      { op: 'insert', table: 'Port', row: { name, interfaces: namedUuid('iface') }, 'uuid-name': 'port' },
      {
        op: 'insert',
        table: 'Bridge',
        row: { name, ports: namedUuid('port'), datapath_type: 'dummy', fail_mode: 'secure' },
        'uuid-name': 'br',
      },
      { op: 'mutate', table: DB, where: [], mutations: [['bridges', 'insert', set([namedUuid('br')])]] },
    ]);
    return uuidOf(br?.uuid ?? set([]));
  }

  const vsctl = (...args: string[]) => ovs.vsctl(...args).then((s) => s.trim());

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    ovs = await startOvs();
    client = await connect();
  });
  after(runCleanups);

  test('list_dbs and get_schema agree with ovsdb-client', async () => {
    const dbs = await client.listDbs();
    assert.ok(dbs.includes(DB), `list_dbs: ${dbs.join(', ')}`);
    const schema = await client.getSchema(DB);
    const version = await run('ovsdb-client', ['get-schema-version', `unix:${ovs.dbSock}`, DB]);
    assert.equal(schema.version, version.trim());
    assert.equal(schema.name, DB);
    const tables = (await run('ovsdb-client', ['list-tables', `unix:${ovs.dbSock}`, DB]))
      .split('\n')
      .slice(2);
    assert.deepEqual(
      Object.keys(schema.tables).sort(),
      tables
        .map((t) => t.trim())
        .filter(Boolean)
        .sort(),
    );
    assert.equal(schema.tables.Bridge?.columns.ports?.type.key.refTable, 'Port');
  });

  test('insert with uuid-name references builds a bridge ovs-vsctl sees', async () => {
    const name = unique('bi');
    const id = await addBridge(name);
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.ok((await vsctl('list-br')).split('\n').includes(name));
    assert.equal(await vsctl('list-ports', name), '', 'the local port is not listed by list-ports');
    assert.equal(await vsctl('get', 'Bridge', name, '_uuid'), id);
    assert.equal(await vsctl('get', 'Interface', name, 'type'), 'internal');
    assert.equal(await vsctl('get', 'Bridge', name, 'datapath_type'), 'dummy');
  });

  test('select returns the rows and columns asked for', async () => {
    const name = unique('bs');
    await vsctl('add-br', name, '--', 'set', 'Bridge', name, 'datapath_type=dummy', 'external_ids:k=v');
    const [res] = await client.transact(DB, [
      {
        op: 'select',
        table: 'Bridge',
        where: [['name', '==', name]],
        columns: ['name', 'external_ids', '_uuid'],
      },
    ]);
    assert.equal(res?.rows?.length, 1);
    const row = res?.rows?.[0] as Row;
    assert.deepEqual(Object.keys(row).sort(), ['_uuid', 'external_ids', 'name']);
    assert.deepEqual(row.external_ids, map({ k: 'v' }));
    assert.equal(uuidOf(row._uuid as Row[string]), await vsctl('get', 'Bridge', name, '_uuid'));
    const [all] = await client.transact(DB, [
      { op: 'select', table: 'Bridge', where: [], columns: ['name'] },
    ]);
    const names = (all?.rows ?? []).map((r) => r.name).sort();
    assert.deepEqual(names, (await vsctl('list-br')).split('\n').sort());
  });

  test('update writes a map and an optional column; count says how many rows', async () => {
    const name = unique('bu');
    await addBridge(name);
    const [res] = await client.transact(DB, [
      {
        op: 'update',
        table: 'Bridge',
        where: [['name', '==', name]],
        row: { other_config: map({ hwaddr: '02:00:00:00:00:01', foo: 'bar' }), fail_mode: 'standalone' },
      },
    ]);
    assert.equal(res?.count, 1);
    assert.equal(await vsctl('get', 'Bridge', name, 'other_config:foo'), 'bar');
    assert.equal(await vsctl('get', 'Bridge', name, 'fail_mode'), 'standalone');
    await client.transact(DB, [
      { op: 'update', table: 'Bridge', where: [['name', '==', name]], row: { fail_mode: set([]) } },
    ]);
    assert.equal(await vsctl('get', 'Bridge', name, 'fail_mode'), '[]');
  });

  test('mutate: set insert/delete, map insert/delete, integer +=', async () => {
    const name = unique('bm');
    await addBridge(name);
    const where: [string, '==', string][] = [['name', '==', name]];
    await client.transact(DB, [
      { op: 'mutate', table: 'Bridge', where, mutations: [['flood_vlans', 'insert', set([10, 20, 30])]] },
    ]);
    assert.equal(await vsctl('get', 'Bridge', name, 'flood_vlans'), '[10, 20, 30]');
    await client.transact(DB, [
      { op: 'mutate', table: 'Bridge', where, mutations: [['flood_vlans', 'delete', set([10, 30])]] },
    ]);
    assert.equal(await vsctl('get', 'Bridge', name, 'flood_vlans'), '[20]');
    await client.transact(DB, [
      {
        op: 'mutate',
        table: 'Bridge',
        where,
        mutations: [['external_ids', 'insert', map({ a: '1', b: '2' })]],
      },
    ]);
    assert.equal(await vsctl('get', 'Bridge', name, 'external_ids'), '{a="1", b="2"}');
    // Deleting map entries by key (a set of keys), and by key-value pair (only when the value matches).
    const [byKey] = await client.transact(DB, [
      { op: 'mutate', table: 'Bridge', where, mutations: [['external_ids', 'delete', set(['a'])]] },
      { op: 'mutate', table: 'Bridge', where, mutations: [['external_ids', 'delete', map({ b: 'other' })]] },
    ]);
    assert.equal(byKey?.count, 1);
    assert.equal(await vsctl('get', 'Bridge', name, 'external_ids'), '{b="2"}');
    await vsctl('add-port', name, `${name}p`, '--', 'set', 'Port', `${name}p`, 'tag=10');
    await client.transact(DB, [
      { op: 'mutate', table: 'Port', where: [['name', '==', `${name}p`]], mutations: [['tag', '+=', 5]] },
    ]);
    assert.equal(await vsctl('get', 'Port', `${name}p`, 'tag'), '15');
  });

  test('delete removes the row (after its last strong reference went in the same transaction)', async () => {
    const name = unique('bd');
    await addBridge(name);
    const port = `${name}p`;
    await vsctl('add-port', name, port, '--', 'set', 'Interface', port, 'type=internal');
    const portUuid = await vsctl('get', 'Port', port, '_uuid');
    const [, del] = await client.transact(DB, [
      {
        op: 'mutate',
        table: 'Bridge',
        where: [['name', '==', name]],
        mutations: [['ports', 'delete', set([uuid(portUuid)])]],
      },
      { op: 'delete', table: 'Port', where: [['_uuid', '==', uuid(portUuid)]] },
    ]);
    assert.equal(del?.count, 1);
    assert.equal(await vsctl('list-ports', name), '');
    assert.equal(await vsctl('--bare', '--columns=name', 'find', 'Port', `name=${port}`), '');
  });

  test('wait: a met condition passes; an unmet one times out and nothing of the transaction applies', async () => {
    const name = unique('bw');
    await addBridge(name);
    const other = unique('bx');
    await client.transact(DB, [
      {
        op: 'wait',
        table: 'Bridge',
        where: [['name', '==', name]],
        columns: ['name', 'fail_mode'],
        until: '==',
        rows: [{ name, fail_mode: 'secure' }],
        timeout: 0,
      },
      {
        op: 'update',
        table: 'Bridge',
        where: [['name', '==', name]],
        row: { external_ids: map({ waited: 'yes' }) },
      },
    ]);
    assert.equal(await vsctl('get', 'Bridge', name, 'external_ids:waited'), 'yes');
    const t0 = Date.now();
    await assert.rejects(
      client.transact(DB, [
        {
          op: 'update',
          table: 'Bridge',
          where: [['name', '==', name]],
          row: { external_ids: map({ w: '2' }) },
        },
        {
          op: 'wait',
          table: 'Bridge',
          where: [['name', '==', name]],
          columns: ['fail_mode'],
          until: '==',
          rows: [{ fail_mode: 'standalone' }],
          timeout: 150,
        },
      ]),
      (err: unknown) => {
        assert.ok(err instanceof OvsdbError);
        assert.equal(err.error, 'timed out');
        assert.equal(err.opIndex, 1);
        assert.match(err.message, /^transact op 1 \(wait Bridge\): timed out/);
        return true;
      },
    );
    assert.ok(Date.now() - t0 >= 140, 'the server waited for the timeout');
    assert.equal(await vsctl('get', 'Bridge', name, 'external_ids'), '{waited=yes}');
    assert.ok(!(await vsctl('list-br')).split('\n').includes(other));
  });

  test('comment lands in the database log; commit durable and not; abort undoes the transaction', async () => {
    const name = unique('bc');
    const text = `contiv-ts comment ${name}`;
    await client.transact(DB, [
      { op: 'comment', comment: text },
      { op: 'mutate', table: DB, where: [], mutations: [['external_ids', 'insert', map({ [name]: '1' })]] },
      { op: 'commit', durable: true },
    ]);
    const log = await run('ovsdb-tool', ['show-log', join(ovs.dir, 'conf.db')]);
    assert.ok(log.includes(text), 'ovsdb-tool show-log lists the comment');
    await client.transact(DB, [
      {
        op: 'mutate',
        table: DB,
        where: [],
        mutations: [['external_ids', 'insert', map({ [`${name}b`]: '2' })]],
      },
      { op: 'commit', durable: false },
    ]);
    // ovs-vsctl quotes a string that would read as a number.
    assert.equal(await vsctl('get', 'Open_vSwitch', '.', `external_ids:${name}b`), '"2"');
    await assert.rejects(
      client.transact(DB, [
        {
          op: 'mutate',
          table: DB,
          where: [],
          mutations: [['external_ids', 'insert', map({ [`${name}c`]: '3' })]],
        },
        { op: 'abort' },
      ]),
      { name: 'OvsdbError', error: 'aborted', opIndex: 1 },
    );
    const ids = await vsctl('get', 'Open_vSwitch', '.', 'external_ids');
    assert.ok(ids.includes(`${name}b`) && !ids.includes(`${name}c`), ids);
  });

  test('assert fails without the lock and passes while holding it', async () => {
    const lock = unique('lock');
    const write = (v: string) =>
      client.transact(DB, [
        { op: 'assert', lock },
        { op: 'mutate', table: DB, where: [], mutations: [['external_ids', 'insert', map({ [lock]: v })]] },
      ]);
    await assert.rejects(write('no'), (err: unknown) => {
      assert.ok(err instanceof OvsdbError);
      assert.equal(err.error, 'not owner');
      assert.equal(err.opIndex, 0);
      return true;
    });
    assert.equal(await client.lock(lock), true);
    await write('yes');
    assert.equal(await vsctl('get', 'Open_vSwitch', '.', `external_ids:${lock}`), 'yes');
    await client.unlock(lock);
    await assert.rejects(write('again'), { error: 'not owner' });
  });

  test('monitor: initial state, then insert, modify and delete caused by ovs-vsctl; cancel stops it', async () => {
    const existing = unique('bo');
    await addBridge(existing);
    const mirror = new Mirror();
    const mon = await client.monitor(
      DB,
      { Bridge: { columns: ['name', 'external_ids', 'ports'] }, Port: { columns: ['name'] } },
      mirror.onUpdate,
    );
    assert.equal(mirror.initials, 1, 'initial state delivered before monitor() resolved');
    assert.deepEqual(mirror.names('Bridge'), (await vsctl('list-br')).split('\n').sort());
    const name = unique('bn');
    await vsctl('add-br', name, '--', 'set', 'Bridge', name, 'datapath_type=dummy');
    await until(() => mirror.byName('Bridge', name) !== undefined, `insert of ${name}`);
    const brUuid = await vsctl('get', 'Bridge', name, '_uuid');
    assert.ok(mirror.tables.get('Bridge')?.has(brUuid));
    await vsctl('set', 'Bridge', name, 'external_ids:x=1');
    await until(
      () => mirror.byName('Bridge', name)?.external_ids?.toString() === map({ x: '1' }).toString(),
      'modify',
    );
    const modify = mirror.changes.find((u) => u.Bridge?.[brUuid]?.old?.external_ids !== undefined);
    assert.deepEqual(
      modify?.Bridge?.[brUuid]?.old,
      { external_ids: map({}) },
      'old holds the changed column',
    );
    await vsctl('del-br', name);
    await until(() => mirror.byName('Bridge', name) === undefined, `delete of ${name}`);
    const deletion = mirror.changes.find(
      (u) => u.Bridge?.[brUuid] !== undefined && u.Bridge[brUuid]?.new === undefined,
    );
    assert.equal(deletion?.Bridge?.[brUuid]?.old?.name, name);
    assert.ok(!mirror.names('Port').includes(name), 'the local port went with it');

    await mon.cancel();
    const before = mirror.changes.length;
    await vsctl('add-br', unique('bz'), '--', 'set', 'Bridge', '.', 'datapath_type=dummy').catch(
      () => undefined,
    );
    await vsctl('set', 'Bridge', existing, 'external_ids:after=cancel');
    await sleep(300);
    assert.equal(mirror.changes.length, before, 'no update after cancel');
    await mon.cancel(); // idempotent
  });

  test('monitor_cond: only rows matching the condition; modify diffs arrive as full rows', async () => {
    const watched = unique('bw');
    const ignored = unique('bi');
    await addBridge(watched);
    await addBridge(ignored);
    const mirror = new Mirror();
    const mon = await client.monitorCond(
      DB,
      {
        Bridge: {
          columns: ['name', 'flood_vlans', 'external_ids', 'fail_mode'],
          where: [['name', '==', watched]],
        },
      },
      mirror.onUpdate,
    );
    assert.deepEqual(mirror.names('Bridge'), [watched]);
    const row0 = mirror.byName('Bridge', watched) as Row;
    assert.deepEqual(row0.flood_vlans, set([]), 'columns the server leaves out hold their defaults');
    assert.deepEqual(row0.external_ids, map({}));
    await vsctl('set', 'Bridge', ignored, 'external_ids:a=1');
    await vsctl('set', 'Bridge', watched, 'flood_vlans=1,2,3', 'external_ids:a=1', 'external_ids:b=2');
    await until(
      () => setAtoms(mirror.byName('Bridge', watched)?.flood_vlans ?? set([])).length === 3,
      'modify',
    );
    await vsctl(
      'remove',
      'Bridge',
      watched,
      'flood_vlans',
      '2',
      '--',
      'set',
      'Bridge',
      watched,
      'external_ids:a=9',
    );
    await vsctl('remove', 'Bridge', watched, 'external_ids', 'b');
    await until(() => mirror.changes.length >= 3, 'three modifies');
    const row = mirror.byName('Bridge', watched) as Row;
    assert.deepEqual(setAtoms(row.flood_vlans as Row[string]).sort(), [1, 3]);
    assert.deepEqual(row.external_ids, map({ a: '9' }));
    assert.equal(row.fail_mode, 'secure');
    assert.deepEqual(mirror.names('Bridge'), [watched], 'the other bridge never showed up');
    // The replica agrees with the database as ovs-vsctl reads it.
    assert.equal(await vsctl('get', 'Bridge', watched, 'flood_vlans'), '[1, 3]');
    assert.equal(await vsctl('get', 'Bridge', watched, 'external_ids'), '{a="9"}');
    await vsctl('del-br', watched);
    await until(() => mirror.byName('Bridge', watched) === undefined, 'delete');
    await mon.cancel();
  });

  test('lock, steal and unlock between two clients', async () => {
    const other = await connect();
    const lock = unique('L');
    const events: string[] = [];
    client.on('locked', (id) => id === lock && events.push('a locked'));
    client.on('stolen', (id) => id === lock && events.push('a stolen'));
    other.on('locked', (id) => id === lock && events.push('b locked'));
    assert.equal(await client.lock(lock), true);
    assert.equal(await other.lock(lock), false, 'the second client waits');
    assert.equal(other.holdsLock(lock), false);
    await other.steal(lock);
    await until(() => events.includes('a stolen'), 'stolen notification');
    assert.equal(client.holdsLock(lock), false);
    assert.equal(other.holdsLock(lock), true);
    await other.unlock(lock);
    await until(() => events.includes('a locked'), 'the lock returns to the waiting client');
    assert.equal(client.holdsLock(lock), true);
    // B asks again and waits; A releases; B is told.
    assert.equal(await other.lock(lock), false);
    await client.unlock(lock);
    await until(() => events.includes('b locked'), 'locked notification to the waiter');
    assert.equal(other.holdsLock(lock), true);
    assert.deepEqual(events, ['a stolen', 'a locked', 'b locked']);
    await other.close();
  });

  test('echo round trip', async () => {
    await client.echo();
  });

  test('unknown table or column: OvsdbError naming it, nothing sent, the client still works', async () => {
    await assert.rejects(client.transact(DB, [{ op: 'select', table: 'Bridgez', where: [] }]), {
      name: 'OvsdbError',
      error: 'unknown table',
      opIndex: 0,
      message: /transact op 0 \(select Bridgez\): unknown table: no table "Bridgez"/,
    });
    await assert.rejects(
      client.monitor(DB, { Bridge: { columns: ['nmae'] } }, () => undefined),
      /no column "nmae"/,
    );
    await assert.rejects(client.transact('Nope', [{ op: 'comment', comment: 'x' }]), {
      name: 'OvsdbError',
      error: 'unknown database',
    });
    await client.echo();
  });

  test('constraint and referential-integrity violations from the server name the failure', async () => {
    const name = unique('bv');
    await addBridge(name);
    await assert.rejects(addBridge(name), (err: unknown) => {
      assert.ok(err instanceof OvsdbError);
      assert.equal(err.error, 'constraint violation');
      assert.equal(err.opIndex, undefined, 'a commit-time failure belongs to no single operation');
      assert.match(err.message, /^transact \(commit\): constraint violation: .*identical values/);
      return true;
    });
    await assert.rejects(
      client.transact(DB, [
        {
          op: 'insert',
          table: 'Port',
          row: { name: `${name}p`, interfaces: uuid('11111111-2222-3333-4444-555555555555') },
          'uuid-name': 'p',
        },
        {
          op: 'mutate',
          table: 'Bridge',
          where: [['name', '==', name]],
          mutations: [['ports', 'insert', namedUuid('p')]],
        },
      ]),
      { name: 'OvsdbError', error: 'referential integrity violation', message: /references nonexistent row/ },
    );
    await assert.rejects(
      client.transact(DB, [
        { op: 'update', table: 'Bridge', where: [['name', '==', name]], row: { name: 'renamed' } },
      ]),
      {
        error: 'constraint violation',
        opIndex: 0,
        message: /^transact op 0 \(update Bridge\): .*immutable column name/,
      },
    );
    assert.ok((await vsctl('list-br')).split('\n').includes(name));
    assert.ok((await client.listDbs()).includes(DB), 'the client is still usable');
  });

  test('ovsdb-server restart: requests in flight fail clearly, the monitor delivers the full state again, locks come back', async () => {
    const name = unique('br');
    await addBridge(name);
    const mirror = new Mirror();
    const monitored = await connect();
    const condMirror = new Mirror();
    await monitored.monitor(DB, { Bridge: { columns: ['name', 'external_ids'] } }, mirror.onUpdate);
    await monitored.monitorCond(
      DB,
      { Bridge: { columns: ['name', 'external_ids'], where: [['name', '==', name]] } },
      condMirror.onUpdate,
    );
    const lock = unique('R');
    assert.equal(await monitored.lock(lock), true);
    const events: string[] = [];
    monitored.on('disconnected', (e) => events.push(`disconnected: ${e.message}`));
    monitored.on('connected', () => events.push('connected'));
    monitored.on('locked', (id) => id === lock && events.push('locked'));
    // A wait without timeout blocks until the row changes: it is in flight when the server dies.
    const blocked = monitored.transact(DB, [
      {
        op: 'wait',
        table: 'Bridge',
        where: [['name', '==', name]],
        columns: ['name'],
        until: '!=',
        rows: [{ name }],
      },
    ]);
    await sleep(100);

    // Handled from now on: it rejects while the restart is still under way.
    const blockedFails = assert.rejects(blocked, (err: unknown) => {
      assert.ok(err instanceof OvsdbConnectionError, String(err));
      assert.match(err.message, /^transact: connection to unix:.* lost before the reply/);
      return true;
    });
    await ovs.restartOvsdb();
    await blockedFails;
    // Changed while the client is away (or reconnecting): the re-issued monitor must show it.
    const added = unique('ba');
    await vsctl('add-br', added, '--', 'set', 'Bridge', added, 'datapath_type=dummy');
    await vsctl('set', 'Bridge', name, 'external_ids:after=restart');
    await until(() => events.includes('connected'), 'reconnect', 10_000);
    await until(() => mirror.byName('Bridge', added) !== undefined, 'the new bridge in the monitor');
    assert.ok(mirror.initials >= 2, 'the state was delivered again as initial');
    assert.ok(condMirror.initials >= 2);
    await until(
      () =>
        JSON.stringify(condMirror.byName('Bridge', name)?.external_ids) ===
        JSON.stringify(map({ after: 'restart' })),
      'monitor_cond state after restart',
    );
    assert.deepEqual(mirror.names('Bridge'), (await vsctl('list-br')).split('\n').sort());
    await until(() => events.includes('locked'), 'the lock re-acquired');
    assert.ok(monitored.holdsLock(lock));
    assert.match(events[0] ?? '', /^disconnected: /);
    // Updates keep flowing on the new connection.
    await vsctl('del-br', added);
    await until(() => mirror.byName('Bridge', added) === undefined, 'delete after reconnect');
    await monitored.transact(DB, [{ op: 'assert', lock }]);
    await monitored.close();
    // The shared client reconnected too.
    await until(() => client.connected, 'shared client reconnect', 10_000);
    await client.echo();
  });
});

// ---- fake servers: what a broken or hostile peer does must never crash the client ----

type Reply = (msg: { method: string; params: unknown[]; id: unknown }, socket: Socket, conn: number) => void;

interface Fake {
  target: string;
  methods: string[];
  server: Server;
  connections: number;
  sockets: Socket[];
}

async function fakeServer(dir: string, reply: Reply): Promise<Fake> {
  const path = join(dir, `fake${Math.random().toString(36).slice(2)}.sock`);
  const fake: Fake = {
    target: `unix:${path}`,
    methods: [],
    server: createServer(),
    connections: 0,
    sockets: [],
  };
  fake.server.on('connection', (socket) => {
    const conn = ++fake.connections;
    fake.sockets.push(socket);
    let buf = '';
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      buf += d.toString();
      // Requests from our client come one JSON object after another; split on the boundary.
      const parts = buf.split(/(?<=\})(?=\{)/);
      buf = '';
      for (const p of parts) {
        try {
          const msg = JSON.parse(p);
          fake.methods.push(msg.method);
          reply(msg, socket, conn);
        } catch {
          buf = p; // incomplete: keep for the next chunk
        }
      }
    });
  });
  await new Promise<void>((resolve) => fake.server.listen(path, resolve));
  onCleanup(() => new Promise<void>((resolve) => fake.server.close(() => resolve())), {
    label: 'fake ovsdb',
  });
  return fake;
}

const answer = (socket: Socket, id: unknown, result: unknown) =>
  socket.write(JSON.stringify({ id, result, error: null }));

const TINY_SCHEMA = {
  name: 'Tiny',
  version: '1.0.0',
  tables: { T: { columns: { name: { type: 'string' } } } },
};

describe('OVSDB client against misbehaving servers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ovsdb-fake-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }), { label: 'fake dir' });
  });
  after(runCleanups);

  async function connect(fake: Fake, opts = {}): Promise<OvsdbClient> {
    const c = await OvsdbClient.connect(fake.target, { minRetryMs: 20, maxRetryMs: 100, ...opts });
    onCleanup(() => c.close(), { label: 'client' });
    return c;
  }

  test('malformed JSON: the request fails, the connection is dropped and re-made, the client works after', async () => {
    const fake = await fakeServer(dir, (msg, socket, conn) => {
      if (conn === 1) socket.write('{"id": 1, "result": [tru');
      if (conn === 1) socket.write('e}, "error": null]');
      else answer(socket, msg.id, ['Tiny']);
    });
    const client = await connect(fake);
    const reasons: Error[] = [];
    client.on('disconnected', (e) => reasons.push(e));
    await assert.rejects(client.listDbs(), (err: unknown) => {
      assert.ok(err instanceof OvsdbConnectionError);
      assert.match(err.message, /^list_dbs: connection to unix:.* lost before the reply \(malformed JSON: /);
      return true;
    });
    assert.equal(reasons[0]?.name, 'FramerError');
    assert.deepEqual(await client.listDbs(), ['Tiny']);
    assert.equal(fake.connections, 2);
  });

  test('a message over the size limit: typed error, then recovery (default 64 MiB limit)', async () => {
    const fake = await fakeServer(dir, (msg, socket, conn) => {
      if (conn > 1) return answer(socket, msg.id, ['Tiny']);
      socket.write(`{"id": ${JSON.stringify(msg.id)}, "error": null, "result": ["`);
      const mib = Buffer.alloc(1024 * 1024, 0x61);
      for (let i = 0; i < 65; i++) socket.write(mib);
      socket.write('"]}');
    });
    const client = await connect(fake);
    await assert.rejects(client.listDbs(), /oversize: message exceeds 67108864 bytes/);
    assert.deepEqual(await client.listDbs(), ['Tiny']);
  });

  test('a smaller configured limit applies', async () => {
    const fake = await fakeServer(dir, (msg, socket) => {
      socket.write(JSON.stringify({ id: msg.id, error: null, result: ['x'.repeat(5000)] }));
    });
    const client = await connect(fake, { maxMessageBytes: 4096, reconnect: false });
    await assert.rejects(client.listDbs(), /oversize/);
    await assert.rejects(client.listDbs(), /not connected/, 'reconnect: false stays down');
  });

  test("the server's echo requests are answered; a silent server is declared dead", async () => {
    let echoReply: unknown;
    const fake = await fakeServer(dir, (msg, socket) => {
      if (msg.method === 'list_dbs')
        socket.write(JSON.stringify({ method: 'echo', params: ['ping', 1], id: 'echo' }));
      if (msg.method === undefined) echoReply = msg;
    });
    const client = await connect(fake, { echoIntervalMs: 100, deadPeerMs: 400, requestTimeoutMs: 5000 });
    const dropped = new Promise<Error>((resolve) => client.once('disconnected', resolve));
    const pending = client.listDbs();
    await until(() => echoReply !== undefined, 'the echo reply');
    assert.deepEqual(echoReply, { result: ['ping', 1], error: null, id: 'echo' });
    assert.match((await dropped).message, /silent for \d+ ms/);
    assert.ok(fake.methods.includes('echo'), 'the client probed the idle server with an echo first');
    await assert.rejects(pending, OvsdbConnectionError);
  });

  test('a request without reply times out; an error reply and an unknown method are handled', async () => {
    const fake = await fakeServer(dir, (msg, socket) => {
      if (msg.method === 'get_schema') answer(socket, msg.id, TINY_SCHEMA);
      if (msg.method === 'transact') {
        socket.write(JSON.stringify({ method: 'bogus', params: [], id: 77 }));
        socket.write(
          JSON.stringify({ id: msg.id, result: null, error: { error: 'unknown database', details: 'nope' } }),
        );
      }
      // list_dbs: never answered
    });
    const client = await connect(fake, { requestTimeoutMs: 200 });
    await assert.rejects(client.listDbs(), /list_dbs: no reply from unix:.* within 200 ms/);
    await assert.rejects(client.transact('Tiny', [{ op: 'select', table: 'T', where: [] }]), {
      name: 'OvsdbError',
      message: 'transact: unknown database: nope',
    });
    // Validation happens before sending: an unknown table never reaches the server.
    const sent = fake.methods.filter((m) => m === 'transact').length;
    await assert.rejects(client.transact('Tiny', [{ op: 'select', table: 'U', where: [] }]), /unknown table/);
    await assert.rejects(
      client.transact('Tiny', [{ op: 'insert', table: 'T', row: { nope: 'x' } }]),
      /no column "nope" in table T/,
    );
    assert.equal(fake.methods.filter((m) => m === 'transact').length, sent);
    assert.ok(client.connected);
  });

  test('a server that is gone: reconnect attempts back off; close() stops them and rejects what waits', async () => {
    const fake = await fakeServer(dir, (msg, socket) => answer(socket, msg.id, ['Tiny']));
    const client = await connect(fake, { minRetryMs: 20, maxRetryMs: 80 });
    const delays: number[] = [];
    client.on('retry', (_e, ms) => delays.push(ms));
    const down = new Promise((resolve) => client.once('disconnected', resolve));
    // Closing the listener leaves accepted connections open: end them too.
    const closed = new Promise<void>((resolve) => fake.server.close(() => resolve()));
    for (const s of fake.sockets) s.destroy();
    await closed;
    await down;
    const queued = client.listDbs();
    await until(() => delays.length >= 4, 'several retries');
    assert.deepEqual(delays.slice(0, 4), [40, 80, 80, 80], 'doubling, capped');
    await client.close();
    await assert.rejects(queued, /list_dbs: client for unix:.* closed/);
  });
});
