// The asynchronous and auxiliary messages against a real ovs-vswitchd: PACKET_IN and PACKET_OUT
// with real packets, FLOW_REMOVED, PORT_STATUS, ROLE, SET/GET_CONFIG and the statistics multiparts.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ControllerRole,
  type FlowMod,
  FlowModCommand,
  FlowModFlags,
  type FlowRemoved,
  MultipartType,
  OFP_NO_BUFFER,
  OFPG_ANY,
  OFPP,
  type PacketIn,
  type PortStatus,
} from '../../controller/openflow/messages.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';
import { runCleanups } from '../harness/cleanup.js';
import { addContainer, type Container } from '../harness/netns.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

function flowMod(over: Partial<FlowMod>): FlowMod {
  return {
    type: 'flowMod',
    xid: 0,
    cookie: 0n,
    cookieMask: 0n,
    tableId: 0,
    command: FlowModCommand.ADD,
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 100,
    bufferId: OFP_NO_BUFFER,
    outPort: OFPP.ANY,
    outGroup: OFPG_ANY,
    flags: 0,
    match: {},
    instructions: [],
    ...over,
  };
}

function next<T>(
  conn: SwitchConnection,
  event: 'packetIn' | 'flowRemoved' | 'portStatus',
  ms: number,
  want: (m: T) => boolean,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.off(event, on as never);
      reject(new Error(`no matching ${event} within ${ms} ms`));
    }, ms);
    const on = (m: T) => {
      if (!want(m)) return;
      clearTimeout(timer);
      conn.off(event, on as never);
      resolve(m);
    };
    conn.on(event, on as never);
  });
}

const ARP = 0x0806;

describe('switch messages against ovs-vswitchd', { skip }, () => {
  let ovs: OvsInstance;
  let br: string;
  let c1: Container;
  let c2: Container;
  let conn: SwitchConnection;

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    ovs = await startOvs();
    br = await ovs.addBridge({ failMode: 'secure' });
    c1 = await addContainer(ovs, br, { name: 'c1', ip: '10.9.1.1/24', ofport: 1 });
    c2 = await addContainer(ovs, br, { name: 'c2', ip: '10.9.1.2/24', ofport: 2 });
    conn = await connectSwitch(ovs.mgmt(br));
  });
  after(async () => {
    conn?.close();
    await runCleanups();
  });

  test('ARP goes to the controller as PACKET_IN; PACKET_OUT delivers it, and the answer comes back', async () => {
    // All ARP to us; IPv4 between the two ports directly.
    await conn.bundle([
      flowMod({
        priority: 200,
        match: { ethType: ARP },
        instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: OFPP.CONTROLLER }] }],
      }),
      flowMod({
        match: { inPort: 1, ethType: 0x0800 },
        instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: 2 }] }],
      }),
      flowMod({
        match: { inPort: 2, ethType: 0x0800 },
        instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: 1 }] }],
      }),
    ]);
    // We play the wire: every ARP the switch punts goes out of the other port.
    const relay = (m: PacketIn) => {
      const out = m.match.inPort === 1 ? 2 : 1;
      conn.send({
        type: 'packetOut',
        xid: 0,
        bufferId: OFP_NO_BUFFER,
        inPort: m.match.inPort ?? OFPP.CONTROLLER,
        actions: [{ type: 'output', port: out }],
        data: Buffer.from(m.data),
      });
    };
    conn.on('packetIn', relay);
    try {
      const request = next<PacketIn>(conn, 'packetIn', 5_000, (m) => m.match.inPort === 1);
      const reply = next<PacketIn>(conn, 'packetIn', 5_000, (m) => m.match.inPort === 2);
      const ping = c1.ping(c2.ip, { count: 2, timeoutSec: 4 });
      const req = await request;
      assert.equal(req.data.readUInt16BE(12), ARP);
      assert.equal(req.data.readUInt16BE(20), 1, 'an ARP request');
      assert.equal(req.totalLen, req.data.length);
      const rep = await reply;
      assert.equal(rep.data.readUInt16BE(20), 2, 'c2 answered the request we delivered');
      assert.equal(await ping, true, 'and ping works through our relay');
    } finally {
      conn.off('packetIn', relay);
    }
  });

  test('a flow with a hard timeout and SEND_FLOW_REM is reported as removed', async () => {
    const removed = next<FlowRemoved>(conn, 'flowRemoved', 5_000, (m) => m.cookie === 0xabcn);
    await conn.bundle([
      flowMod({
        tableId: 3,
        cookie: 0xabcn,
        hardTimeout: 1,
        flags: FlowModFlags.SEND_FLOW_REM,
        match: { inPort: 9 },
      }),
    ]);
    const m = await removed;
    assert.equal(m.tableId, 3);
    assert.equal(m.reason, 1, 'OFPRR_HARD_TIMEOUT');
    assert.deepEqual(m.match, { inPort: 9 });
  });

  test('adding a port is announced by PORT_STATUS', async () => {
    const added = next<PortStatus>(conn, 'portStatus', 5_000, (m) => m.reason === 0 && m.desc.portNo === 3);
    const c3 = await addContainer(ovs, br, { name: 'c3', ip: '10.9.1.3/24', ofport: 3 });
    const m = await added;
    assert.equal(m.desc.name, c3.hostIf);
    const gone = next<PortStatus>(conn, 'portStatus', 5_000, (s) => s.reason === 1 && s.desc.portNo === 3);
    await c3.destroy();
    await ovs.vsctl('--if-exists', 'del-port', br, c3.hostIf);
    await gone;
  });

  test('role, switch config and statistics', async () => {
    assert.equal(await conn.setRole(ControllerRole.MASTER, 1n), ControllerRole.MASTER);
    conn.send({ type: 'setConfig', xid: 0, flags: 0, missSendLen: 256 });
    const cfg = await conn.request({ type: 'getConfigRequest', xid: 0 });
    assert.equal(cfg.type === 'getConfigReply' && cfg.missSendLen, 256);

    const [desc] = await conn.multipart({ mpType: MultipartType.DESC });
    assert.ok(
      desc?.mpType === MultipartType.DESC && /Nicira/.test(desc.desc.mfrDesc),
      'OVS describes itself',
    );
    const [agg] = await conn.multipart({
      mpType: MultipartType.AGGREGATE,
      request: {
        tableId: 0xff,
        outPort: OFPP.ANY,
        outGroup: OFPG_ANY,
        cookie: 0n,
        cookieMask: 0n,
        match: {},
      },
    });
    const flows = await conn.dumpFlows();
    assert.ok(agg?.mpType === MultipartType.AGGREGATE && agg.aggregate.flowCount === flows.length);
    const ports = await conn.multipart({ mpType: MultipartType.PORT_STATS, portNo: OFPP.ANY });
    const stats = ports.flatMap((p) => (p.mpType === MultipartType.PORT_STATS ? p.ports : []));
    const p1 = stats.find((s) => s.portNo === 1);
    assert.ok(p1 && p1.rxPackets > 0n, 'port 1 received the packets of the ping test');
  });
});
