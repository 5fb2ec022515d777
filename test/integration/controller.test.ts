// The controller against a real ovs-vswitchd: handshake both ways, flows installed and read back,
// traffic only through our flows, reconnect and restart convergence, bundle atomicity, groups, meters.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import { Feature, makeCookie } from '../../controller/openflow/cookie.js';
import { OFErrorReply } from '../../controller/openflow/errors.js';
import type { Flow } from '../../controller/openflow/flow.js';
import { ctState } from '../../controller/openflow/match.js';
import { GroupType, MeterFlags, OFPP } from '../../controller/openflow/messages.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import { connectSwitch, SwitchClient, SwitchListener } from '../../controller/switch/endpoint.js';
import { runCleanups } from '../harness/cleanup.js';
import { addContainer, type Container } from '../harness/netns.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { waitFor } from '../harness/wait.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const cookie = (id: number) => makeCookie(Feature.Test, id);

/** Plain L2 between two ports plus a counter-visible table-miss drop. */
function l2Flows(a: Container, b: Container): Flow[] {
  return [
    {
      tableId: 0,
      priority: 100,
      match: { inPort: a.ofport },
      instructions: [{ type: 'gotoTable', tableId: 1 }],
      cookie: cookie(1),
    },
    {
      tableId: 0,
      priority: 100,
      match: { inPort: b.ofport },
      instructions: [{ type: 'gotoTable', tableId: 1 }],
      cookie: cookie(1),
    },
    {
      tableId: 1,
      priority: 50,
      match: { ethDst: a.mac },
      instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: a.ofport }] }],
      cookie: cookie(2),
    },
    {
      tableId: 1,
      priority: 50,
      match: { ethDst: b.mac },
      instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: b.ofport }] }],
      cookie: cookie(3),
    },
    {
      tableId: 1,
      priority: 10,
      match: { ethDst: 'ff:ff:ff:ff:ff:ff' },
      instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: OFPP.FLOOD }] }],
      cookie: cookie(4),
    },
  ];
}

describe('controller against ovs-vswitchd', { skip }, () => {
  let ovs: OvsInstance;
  let br: string;
  let c1: Container;
  let c2: Container;

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    ovs = await startOvs();
    br = await ovs.addBridge({ failMode: 'secure' });
    c1 = await addContainer(ovs, br, { name: 'c1', ip: '10.8.0.1/24', ofport: 1 });
    c2 = await addContainer(ovs, br, { name: 'c2', ip: '10.8.0.2/24', ofport: 2 });
  });
  after(runCleanups);

  test('handshake over the management socket reports the bridge datapath id', async () => {
    const conn = await connectSwitch(ovs.mgmt(br));
    try {
      const dpid = (await ovs.vsctl('get', 'bridge', br, 'datapath_id')).trim().replace(/"/g, '');
      assert.equal(conn.datapathId, BigInt(`0x${dpid}`));
      assert.ok(conn.features.nTables >= 250, `nTables ${conn.features.nTables}`);
      const ports = await conn.portDescs();
      assert.deepEqual(
        ports
          .map((p) => p.portNo)
          .filter((n) => n < OFPP.MAX)
          .sort(),
        [1, 2],
      );
      await conn.barrier();
    } finally {
      conn.close();
    }
  });

  test('the switch connects to our listener (set-controller) and answers echo', async () => {
    const listener = new SwitchListener({ echoIntervalMs: 200, deadPeerMs: 5_000 });
    const target = await listener.listen('tcp:127.0.0.1:0');
    try {
      const got = new Promise<SwitchConnection>((resolve) => listener.once('switch', resolve));
      await ovs.setController(br, target);
      const conn = await got;
      assert.ok(conn.datapathId > 0n);
      // Idle past the echo interval: keep-alive probes are answered and the session survives.
      await new Promise((r) => setTimeout(r, 700));
      assert.ok(conn.isOpen);
      await conn.barrier();
    } finally {
      await ovs.setController(br, undefined);
      await listener.close();
    }
  });

  test('flows installed by the manager are what ovs-ofctl and our multipart read back', async () => {
    const conn = await connectSwitch(ovs.mgmt(br));
    const mgr = new FlowTableManager();
    try {
      await mgr.attach(conn);
      mgr.setFlows(l2Flows(c1, c2));
      const stats = await mgr.apply();
      assert.equal(stats.flowsAdded, 5);
      const lines = await ovs.dumpFlows(br);
      assert.deepEqual(
        lines,
        [
          `cookie=0xfe00000000000001, table=0, priority=100,in_port=1 actions=goto_table:1`,
          `cookie=0xfe00000000000001, table=0, priority=100,in_port=2 actions=goto_table:1`,
          `cookie=0xfe00000000000002, table=1, priority=50,dl_dst=${c1.mac} actions=output:1`,
          `cookie=0xfe00000000000003, table=1, priority=50,dl_dst=${c2.mac} actions=output:2`,
          `cookie=0xfe00000000000004, table=1, priority=10,dl_dst=ff:ff:ff:ff:ff:ff actions=FLOOD`,
        ].sort(),
      );
      const ours = await conn.dumpFlows();
      assert.equal(ours.length, 5);
      const t1 = ours.find((f) => f.tableId === 1 && f.priority === 50 && f.match.ethDst === c2.mac);
      assert.deepEqual(t1?.instructions, [{ type: 'applyActions', actions: [{ type: 'output', port: 2 }] }]);
      // A second apply with nothing changed sends nothing.
      mgr.setFlows(l2Flows(c1, c2));
      assert.deepEqual(pick(await mgr.apply()), { flowsAdded: 0, flowsModified: 0, flowsDeleted: 0 });
    } finally {
      conn.close();
    }
  });

  test('traffic passes only through the flows our controller installed', async () => {
    const conn = await connectSwitch(ovs.mgmt(br));
    const mgr = new FlowTableManager();
    try {
      await mgr.attach(conn);
      mgr.setFlows([]);
      await mgr.apply();
      assert.deepEqual(await ovs.dumpFlows(br), []);
      assert.equal(await c1.ping(c2.ip, { count: 1, timeoutSec: 1 }), false, 'ping without flows');

      mgr.setFlows(l2Flows(c1, c2));
      await mgr.apply();
      assert.equal(await c1.ping(c2.ip, { count: 2, timeoutSec: 2 }), true, 'ping through our flows');
      const listener = await c2.tcpListen(8080);
      try {
        assert.equal(await c1.tcpConnect(c2.ip, 8080, 3000), true, 'tcp through our flows');
      } finally {
        await listener.stop();
      }
      const counted = await conn.dumpFlows({ tableId: 1 });
      const toC2 = counted.find((f) => f.match.ethDst === c2.mac);
      assert.ok(toC2 && toC2.packetCount > 0n, 'our flow counted the packets');

      // Remove the flow toward c2 only: c2 becomes unreachable again.
      mgr.removeFlows([{ tableId: 1, priority: 50, match: { ethDst: c2.mac } }]);
      assert.equal((await mgr.apply()).flowsDeleted, 1);
      assert.equal(await c1.ping(c2.ip, { count: 1, timeoutSec: 1 }), false, 'ping after removal');
    } finally {
      conn.close();
    }
  });

  test('a restarted controller finds its flows and touches none of them', async () => {
    const unused: Flow = {
      tableId: 1,
      priority: 5,
      match: { ethDst: '02:00:00:00:00:99' },
      instructions: [],
      cookie: cookie(8),
    };
    const first = await connectSwitch(ovs.mgmt(br));
    const mgr1 = new FlowTableManager();
    mgr1.setFlows([...l2Flows(c1, c2), unused]);
    await mgr1.attach(first);
    first.close();
    const before = await ovs.dumpFlows(br, '--no-stats');

    const second = await connectSwitch(ovs.mgmt(br));
    try {
      const mgr2 = new FlowTableManager();
      mgr2.setFlows([...l2Flows(c1, c2), unused]);
      assert.deepEqual(pick(await mgr2.attach(second)), { flowsAdded: 0, flowsModified: 0, flowsDeleted: 0 });
      // Only the difference goes out: one changed action, one removed flow, one new flow.
      const next = l2Flows(c1, c2);
      next[4] = {
        ...next[4]!,
        instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: OFPP.ALL }] }],
      };
      next.push({ tableId: 0, priority: 1, match: {}, instructions: [], cookie: cookie(9) });
      mgr2.setFlows(next);
      assert.deepEqual(pick(await mgr2.apply()), { flowsAdded: 1, flowsModified: 1, flowsDeleted: 1 });
      assert.notDeepEqual(await ovs.dumpFlows(br, '--no-stats'), before);
      assert.equal(await c1.ping(c2.ip, { count: 1, timeoutSec: 2 }), true);
    } finally {
      second.close();
    }
  });

  test('traffic does not stop while the controller restarts and re-syncs', async () => {
    const first = await connectSwitch(ovs.mgmt(br));
    const mgr1 = new FlowTableManager();
    await mgr1.attach(first);
    await mgr1.sync(l2Flows(c1, c2));
    assert.equal(await c1.ping(c2.ip, { count: 1, timeoutSec: 2 }), true);
    // 80 pings, 50 ms apart, across a disconnect, a new session and a full re-sync.
    const pings = c1.exec('ping', ['-c', '80', '-i', '0.05', '-W', '1', c2.ip], { timeoutMs: 20_000 });
    await sleep(1_000);
    first.close();
    const second = await connectSwitch(ovs.mgmt(br));
    try {
      const mgr2 = new FlowTableManager();
      mgr2.setFlows(l2Flows(c1, c2));
      const stats = await mgr2.attach(second);
      assert.deepEqual(pick(stats), { flowsAdded: 0, flowsModified: 0, flowsDeleted: 0 });
      await mgr2.sync(l2Flows(c1, c2));
      const out = await pings;
      assert.match(out, /80 packets transmitted, 80 received, 0% packet loss/);
    } finally {
      second.close();
    }
  });

  test('after ovs-vswitchd restarts, the client reconnects and the flows converge', async () => {
    const mgr = new FlowTableManager();
    mgr.setFlows(l2Flows(c1, c2));
    const client = new SwitchClient(ovs.mgmt(br), { minRetryMs: 50, maxRetryMs: 500 });
    const converged: Promise<void>[] = [];
    let attaches = 0;
    const attachedTwice = new Promise<void>((resolve, reject) => {
      client.on('connected', (conn) => {
        converged.push(
          mgr.attach(conn).then(() => {
            attaches++;
            if (attaches === 2) resolve();
          }, reject),
        );
      });
    });
    client.start();
    try {
      await waitFor('first attach', () => attaches === 1, 5_000);
      const expected = await ovs.dumpFlows(br);
      assert.equal(expected.length, 5);
      await ovs.restartVswitchd();
      await Promise.race([
        attachedTwice,
        sleep(20_000).then(() => Promise.reject(new Error('no reattach in 20 s'))),
      ]);
      assert.deepEqual(await ovs.dumpFlows(br), expected);
      assert.equal(await c1.ping(c2.ip, { count: 2, timeoutSec: 2 }), true, 'ping after restart');
    } finally {
      client.stop();
      await Promise.allSettled(converged);
    }
  });

  test('a bundle with one bad flow leaves the table unchanged', async () => {
    const conn = await connectSwitch(ovs.mgmt(br));
    try {
      const mgr = new FlowTableManager();
      mgr.setFlows(l2Flows(c1, c2));
      await mgr.attach(conn);
      const before = await ovs.dumpFlows(br);
      mgr.addFlows([
        {
          tableId: 2,
          priority: 7,
          match: { ethType: 0x0800, ipv4Dst: '10.8.0.2' },
          instructions: [],
          cookie: cookie(5),
        },
        // Output to a group that does not exist: the switch refuses this flow.
        {
          tableId: 2,
          priority: 8,
          match: { ethType: 0x0800 },
          instructions: [{ type: 'applyActions', actions: [{ type: 'group', groupId: 4242 }] }],
          cookie: cookie(6),
        },
      ]);
      await assert.rejects(mgr.apply(), (err: unknown) => {
        assert.ok(err instanceof OFErrorReply, String(err));
        assert.match(err.message, /OFPBAC_BAD_OUT_GROUP/);
        return true;
      });
      assert.deepEqual(await ovs.dumpFlows(br), before);
      assert.ok(conn.isOpen, 'the session survives a rejected bundle');
    } finally {
      conn.close();
    }
  });

  test('sync streams thousands of flows atomically: a refused or bad one leaves the switch as it was', async () => {
    const conn = await connectSwitch(ovs.mgmt(br));
    try {
      const mgr = new FlowTableManager();
      mgr.setFlows(l2Flows(c1, c2));
      await mgr.attach(conn);
      const before = await ovs.dumpFlows(br);
      const many: Flow[] = Array.from({ length: 5000 }, (_, i) => ({
        tableId: 5,
        priority: 10,
        match: { ethType: 0x0800, ipv4Src: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` },
        instructions: [],
        cookie: cookie(100),
      }));
      const refused: Flow = {
        tableId: 5,
        priority: 11,
        match: {},
        instructions: [{ type: 'applyActions', actions: [{ type: 'group', groupId: 777 }] }],
        cookie: cookie(101),
      };
      await assert.rejects(
        mgr.sync([...l2Flows(c1, c2), ...many, refused]),
        /OFPBAC_BAD_OUT_GROUP.*table=5 priority=11/,
      );
      assert.deepEqual(await ovs.dumpFlows(br), before, 'a refused bundle applies nothing');
      const bad = { ...refused, match: { ethType: 0x0800, ipv4Dst: 'not-an-ip' } };
      await assert.rejects(mgr.sync([...l2Flows(c1, c2), ...many, bad]), /ipv4Dst/);
      assert.deepEqual(await ovs.dumpFlows(br), before, 'a discarded bundle applies nothing');

      const stats = await mgr.sync([...l2Flows(c1, c2), ...many]);
      assert.equal(stats.flowsAdded, 5000);
      assert.equal((await ovs.dumpFlows(br, 'table=5')).length, 5000);
      assert.equal(await c1.ping(c2.ip, { count: 1, timeoutSec: 2 }), true);
      const back = await mgr.sync(l2Flows(c1, c2));
      assert.equal(back.flowsDeleted, 5000);
      assert.deepEqual(await ovs.dumpFlows(br), before);
    } finally {
      conn.close();
    }
  });

  test('groups and meters are installed, read back and left alone when unchanged', async () => {
    const conn = await connectSwitch(ovs.mgmt(br));
    try {
      const mgr = new FlowTableManager();
      mgr.setGroups([
        {
          groupId: 10,
          groupType: GroupType.SELECT,
          buckets: [
            {
              weight: 50,
              watchPort: OFPP.ANY,
              watchGroup: 0xffffffff,
              actions: [{ type: 'output', port: 1 }],
            },
            {
              weight: 50,
              watchPort: OFPP.ANY,
              watchGroup: 0xffffffff,
              actions: [{ type: 'output', port: 2 }],
            },
          ],
        },
      ]);
      mgr.setMeters([
        {
          meterId: 3,
          flags: MeterFlags.KBPS | MeterFlags.BURST,
          bands: [{ bandType: 1, rate: 1000, burstSize: 100 }],
        },
      ]);
      mgr.setFlows([
        ...l2Flows(c1, c2),
        {
          tableId: 3,
          priority: 5,
          match: { ethType: 0x0800, ipProto: 6, ctState: ctState('+trk+new') },
          instructions: [
            { type: 'meter', meterId: 3 },
            { type: 'applyActions', actions: [{ type: 'group', groupId: 10 }] },
          ],
          cookie: cookie(7),
        },
      ]);
      const stats = await mgr.attach(conn);
      assert.equal(stats.groupsChanged, 1);
      assert.equal(stats.metersChanged, 1);
      const groups = await ovs.ofctl('dump-groups', ovs.mgmt(br));
      assert.match(
        groups,
        /group_id=10,type=select,bucket=weight:50,actions=output:1,bucket=weight:50,actions=output:2/,
      );
      const meters = await ovs.ofctl('dump-meters', ovs.mgmt(br));
      assert.match(meters, /meter=3 kbps burst bands=\s*type=drop rate=1000 burst_size=100/);
      const flows = await ovs.dumpFlows(br, 'table=3');
      assert.deepEqual(flows, [
        'cookie=0xfe00000000000007, table=3, priority=5,ct_state=+new+trk,tcp actions=meter:3,group:10',
      ]);

      const conn2 = await connectSwitch(ovs.mgmt(br));
      try {
        const fresh = new FlowTableManager();
        fresh.setGroups(mgr.groups());
        fresh.setMeters(mgr.meters());
        fresh.setFlows(mgr.flows());
        const re = await fresh.attach(conn2);
        assert.deepEqual(
          { ...pick(re), groupsChanged: re.groupsChanged, metersChanged: re.metersChanged },
          { flowsAdded: 0, flowsModified: 0, flowsDeleted: 0, groupsChanged: 0, metersChanged: 0 },
        );
        fresh.setFlows(l2Flows(c1, c2));
        fresh.setGroups([]);
        fresh.setMeters([]);
        const removed = await fresh.apply();
        assert.equal(removed.flowsDeleted, 1);
        assert.equal(removed.groupsChanged, 1);
        assert.equal(removed.metersChanged, 1);
        assert.doesNotMatch(await ovs.ofctl('dump-groups', ovs.mgmt(br)), /group_id=10/);
      } finally {
        conn2.close();
      }
    } finally {
      conn.close();
    }
  });
});

function pick(s: { flowsAdded: number; flowsModified: number; flowsDeleted: number }) {
  return { flowsAdded: s.flowsAdded, flowsModified: s.flowsModified, flowsDeleted: s.flowsDeleted };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
