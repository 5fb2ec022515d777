// FlowTableManager's logic against a recording fake connection: identity and canonical form,
// only differences sent, all-or-nothing changes, retries after a refused bundle, ownership.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { canonicalFlow } from '../../controller/flowtable/canonical.js';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import { Feature, makeCookie } from '../../controller/openflow/cookie.js';
import { type Flow, flowKey } from '../../controller/openflow/flow.js';
import {
  FlowModCommand,
  type FlowStats,
  GroupType,
  type OFMessage,
  OFPG_ANY,
  OFPP,
} from '../../controller/openflow/messages.js';
import { decodeMessage } from '../../controller/openflow/parser.js';
import type { BatchItem, SwitchConnection } from '../../controller/switch/connection.js';

/** What the fake switch was sent, decoded, bundle by bundle. */
class FakeSwitch extends EventEmitter {
  isOpen = true;
  bundles: OFMessage[][] = [];
  discarded = 0;
  /** Fail the next commits with this error. */
  failCommits = 0;
  /** When set, commits wait for it. */
  commitGate: Promise<void> | undefined;
  flows: FlowStats[] = [];

  async dumpFlows(): Promise<FlowStats[]> {
    return this.flows;
  }
  async dumpGroups(): Promise<[]> {
    return [];
  }
  async dumpMeters(): Promise<[]> {
    return [];
  }
  async sendChecked(): Promise<void> {}
  async openBundle() {
    const items: OFMessage[] = [];
    let ended = false;
    return {
      get size() {
        return items.length;
      },
      get ended() {
        return ended;
      },
      add: (m: BatchItem) => {
        items.push(
          typeof m === 'string'
            ? decodeMessage(Buffer.from(m, 'latin1'))
            : Buffer.isBuffer(m)
              ? decodeMessage(m)
              : m,
        );
      },
      pace: async () => {},
      commit: async () => {
        await this.commitGate;
        ended = true;
        if (this.failCommits > 0) {
          this.failCommits--;
          throw new Error('commit refused');
        }
        this.bundles.push(items);
      },
      discard: async () => {
        ended = true;
        this.discarded++;
      },
    };
  }
  get conn(): SwitchConnection {
    return this as unknown as SwitchConnection;
  }
}

const cookie = (id: number) => makeCookie(Feature.Test, id);
const out = (port: number) => [
  { type: 'applyActions' as const, actions: [{ type: 'output' as const, port }] },
];

function flows(n: number, port = 1): Flow[] {
  return Array.from({ length: n }, (_, i) => ({
    tableId: 1,
    priority: 100,
    match: { ethType: 0x0800, ipv4Dst: `10.0.${i >> 8}.${i & 255}` },
    instructions: out(port),
    cookie: cookie(i),
  }));
}

function commands(bundle: OFMessage[] | undefined): string[] {
  return (bundle ?? []).map((m) =>
    m.type === 'flowMod'
      ? `${m.command === FlowModCommand.ADD ? 'add' : 'del'} ${m.match.ipv4Dst ?? ''}`
      : m.type,
  );
}

describe('flow identity', () => {
  test('equal meaning gives equal keys', () => {
    const a = {
      tableId: 2,
      priority: 5,
      match: { ipProto: 6, ethType: 0x0800, tcpDst: { value: 80, mask: 0xffff } },
    };
    const b = { tableId: 2, priority: 5, match: { ethType: 0x0800, tcpDst: 80, ipProto: 6 } };
    assert.equal(flowKey(a), flowKey(b));
    assert.equal(flowKey({ ...a, match: { tunId: 7n } }), flowKey({ ...a, match: { tunnelId: 7n } }));
    assert.equal(
      flowKey({ ...a, match: { xxreg0: { value: 1n, mask: 0xffffn } } }),
      flowKey({ ...a, match: { reg3: { value: 1, mask: 0xffff } } }),
    );
  });

  test('table, priority and match each make a different flow', () => {
    const base = { tableId: 2, priority: 5, match: { inPort: 1 } };
    const keys = new Set([
      flowKey(base),
      flowKey({ ...base, tableId: 3 }),
      flowKey({ ...base, priority: 6 }),
      flowKey({ ...base, match: { inPort: 2 } }),
      flowKey({ ...base, match: {} }),
    ]);
    assert.equal(keys.size, 5);
  });

  test('canonical form puts instructions in execution order and reads tun_id as tunnel_id', () => {
    const f: Flow = {
      tableId: 0,
      priority: 1,
      match: {},
      cookie: 0n,
      instructions: [
        { type: 'gotoTable', tableId: 3 },
        { type: 'applyActions', actions: [{ type: 'setField', field: 'tunId', value: 9n }] },
        { type: 'meter', meterId: 1 },
      ],
    };
    assert.deepEqual(
      canonicalFlow(f).instructions.map((i) => i.type),
      ['meter', 'applyActions', 'gotoTable'],
    );
    assert.deepEqual(canonicalFlow(f).instructions[1], {
      type: 'applyActions',
      actions: [{ type: 'setField', field: 'tunnelId', value: 9n }],
    });
    const already = { ...f, instructions: [{ type: 'gotoTable' as const, tableId: 3 }] };
    assert.equal(canonicalFlow(already), already, 'no copy when nothing changes');
  });
});

describe('FlowTableManager', () => {
  test('sends only the difference, and nothing when nothing changed', async () => {
    const sw = new FakeSwitch();
    const mgr = new FlowTableManager();
    mgr.setFlows(flows(3));
    await mgr.attach(sw.conn);
    assert.deepEqual(commands(sw.bundles[0]), ['add 10.0.0.0', 'add 10.0.0.1', 'add 10.0.0.2']);

    const next = flows(4);
    next.splice(1, 1);
    next[0] = { ...next[0]!, instructions: out(9) };
    mgr.setFlows(next);
    const stats = await mgr.apply();
    assert.deepEqual([stats.flowsAdded, stats.flowsModified, stats.flowsDeleted], [1, 1, 1]);
    assert.deepEqual(commands(sw.bundles[1]).sort(), ['add 10.0.0.0', 'add 10.0.0.3', 'del 10.0.0.1']);

    mgr.setFlows(next);
    await mgr.apply();
    assert.equal(sw.bundles.length, 2, 'no bundle for no change');
  });

  test('a bad flow changes nothing: setFlows, addFlows and sync are all or nothing', async () => {
    const sw = new FakeSwitch();
    const mgr = new FlowTableManager();
    mgr.setFlows(flows(2));
    await mgr.attach(sw.conn);
    const bad = [...flows(5, 2), { ...flows(1)[0]!, match: { ethType: 0x0800, ipv4Dst: '10.0.300.1' } }];
    assert.throws(() => mgr.setFlows(bad), /ipv4Dst/);
    assert.throws(() => mgr.addFlows(bad), /ipv4Dst/);
    assert.throws(() => mgr.setFlows([...flows(2), ...flows(1)]), /the same match twice/);
    await assert.rejects(mgr.sync(bad), /ipv4Dst/);
    assert.equal(sw.discarded, 1, 'the streamed bundle is discarded');
    assert.equal(mgr.desiredCount, 2);
    assert.deepEqual(
      mgr.flows().map((f) => f.instructions),
      [out(1), out(1)],
    );
    assert.equal(sw.bundles.length, 1, 'nothing more was committed');
    await mgr.apply();
    assert.equal(sw.bundles.length, 1, 'and nothing is pending');
  });

  test('sync streams the replacement; other changes wait for it', async () => {
    const sw = new FakeSwitch();
    const mgr = new FlowTableManager();
    await mgr.attach(sw.conn);
    let open!: () => void;
    sw.commitGate = new Promise((r) => {
      open = r;
    });
    const pending = mgr.sync(flows(3));
    // While the bundle waits for its commit, changing desired state is refused.
    await new Promise((r) => setImmediate(r));
    assert.throws(() => mgr.addFlows(flows(1)), /sync\(\) is streaming/);
    open();
    const stats = await pending;
    assert.equal(stats.flowsAdded, 3);
    assert.equal(mgr.desiredCount, 3);
    const again = await mgr.sync(flows(2));
    assert.deepEqual([again.flowsAdded, again.flowsModified, again.flowsDeleted], [0, 0, 1]);
  });

  test('a refused bundle keeps its changes pending for the next apply', async () => {
    const sw = new FakeSwitch();
    const mgr = new FlowTableManager();
    await mgr.attach(sw.conn);
    mgr.setFlows(flows(2));
    sw.failCommits = 1;
    await assert.rejects(mgr.apply(), /commit refused/);
    const stats = await mgr.apply();
    assert.equal(stats.flowsAdded, 2);
    assert.deepEqual(commands(sw.bundles[0]), ['add 10.0.0.0', 'add 10.0.0.1']);
  });

  test('attach adopts what the switch holds: keeps equal flows, fixes the rest', async () => {
    const sw = new FakeSwitch();
    const desired = flows(3);
    const stats = (f: Flow, instructions = f.instructions): FlowStats => ({
      tableId: f.tableId,
      durationSec: 1,
      durationNsec: 0,
      priority: f.priority,
      idleTimeout: 0,
      hardTimeout: 0,
      flags: 0,
      cookie: f.cookie,
      packetCount: 5n,
      byteCount: 500n,
      match: f.match,
      instructions,
    });
    const stray: Flow = { tableId: 9, priority: 1, match: {}, instructions: [], cookie: 0n };
    sw.flows = [stats(desired[0]!), stats(desired[1]!, out(7)), stats(stray)];
    const mgr = new FlowTableManager();
    mgr.setFlows(desired);
    const s = await mgr.attach(sw.conn);
    assert.deepEqual([s.flowsAdded, s.flowsModified, s.flowsDeleted], [1, 1, 1]);
  });

  test('replaceOwned touches only its owner, and refuses a match another owner holds', async () => {
    const mgr = new FlowTableManager();
    const a = makeCookie(Feature.Policy, 1);
    const b = makeCookie(Feature.Policy, 2);
    const mask = 0xff00_0000_ffff_ffffn;
    const flow = (c: bigint, ip: string): Flow => ({
      tableId: 1,
      priority: 1,
      match: { ethType: 0x0800, ipv4Src: ip },
      instructions: [],
      cookie: c,
    });
    mgr.replaceOwned(a, mask, [flow(a, '1.1.1.1'), flow(a, '1.1.1.2')]);
    mgr.replaceOwned(b, mask, [flow(b, '2.2.2.2')]);
    mgr.replaceOwned(a, mask, [flow(a, '1.1.1.3')]);
    assert.deepEqual(
      mgr
        .flows()
        .map((f) => f.match.ipv4Src)
        .sort(),
      ['1.1.1.3', '2.2.2.2'],
    );
    assert.throws(() => mgr.replaceOwned(a, mask, [flow(a, '2.2.2.2')]), /already owned by cookie/);
    assert.throws(() => mgr.replaceOwned(a, mask, [flow(b, '3.3.3.3')]), /is not owned by/);
    assert.equal(mgr.desiredCount, 2, 'refused calls changed nothing');
  });

  test('groups and meters are all or nothing too, and compared by their encoding', () => {
    const mgr = new FlowTableManager();
    const bucket = (port: number) => ({
      weight: 0,
      watchPort: OFPP.ANY,
      watchGroup: OFPG_ANY,
      actions: [{ type: 'output' as const, port }],
    });
    const g = { groupId: 1, groupType: GroupType.ALL, buckets: [bucket(1)] };
    mgr.setGroups([g]);
    const bad = {
      groupId: 2,
      groupType: GroupType.ALL,
      buckets: [{ ...bucket(1), actions: [{ type: 'conjunction' as const, id: 1, clause: 0, nClauses: 2 }] }],
    };
    assert.throws(() => mgr.setGroups([{ ...g, buckets: [bucket(2)] }, bad]), /clause/);
    assert.throws(() => mgr.setGroups([g, g]), /group 1 given twice/);
    assert.deepEqual(mgr.groups(), [g]);
    assert.throws(
      () =>
        mgr.setMeters([
          { meterId: 1, flags: 0, bands: [] },
          { meterId: 1, flags: 0, bands: [] },
        ]),
      /meter 1 given twice/,
    );
    assert.deepEqual(mgr.meters(), []);
  });

  test('changeGroups puts and removes only the groups named, all or nothing', () => {
    const mgr = new FlowTableManager();
    const bucket = (port: number) => ({
      weight: 0,
      watchPort: OFPP.ANY,
      watchGroup: OFPG_ANY,
      actions: [{ type: 'output' as const, port }],
    });
    const g = (id: number, port: number) => ({
      groupId: id,
      groupType: GroupType.ALL,
      buckets: [bucket(port)],
    });
    mgr.setGroups([g(1, 1), g(2, 2), g(3, 3)]);
    mgr.changeGroups([g(2, 9), g(4, 4)], [3]);
    assert.deepEqual(
      mgr.groups().sort((a, b) => a.groupId - b.groupId),
      [g(1, 1), g(2, 9), g(4, 4)],
    );
    // Removed and put in one change: the put wins (an owner moved it).
    mgr.changeGroups([g(1, 5)], [1]);
    assert.deepEqual(
      mgr.groups().find((x) => x.groupId === 1),
      g(1, 5),
    );
    const bad = {
      ...g(5, 1),
      buckets: [{ ...bucket(1), actions: [{ type: 'conjunction' as const, id: 1, clause: 0, nClauses: 2 }] }],
    };
    assert.throws(() => mgr.changeGroups([g(6, 6), bad], [4]), /clause/);
    assert.equal(mgr.groups().length, 3, 'nothing changed');
  });
});
