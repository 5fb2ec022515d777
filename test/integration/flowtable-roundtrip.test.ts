// Every kind of match and action the compiler may emit survives a trip through ovs-vswitchd
// unchanged: a manager that re-reads the switch finds nothing to do. If OVS normalised any of
// them differently from our canonical encoding, every reconnect would rewrite those flows.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import { Feature, makeCookie } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import { ctState } from '../../controller/openflow/match.js';
import { FlowModFlags, GroupType, MeterFlags, OFPP } from '../../controller/openflow/messages.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';
import { runCleanups } from '../harness/cleanup.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const IP = 0x0800;
let nextId = 1;
function flow(
  tableId: number,
  f: Omit<Flow, 'tableId' | 'cookie' | 'priority'> & { priority?: number },
): Flow {
  const id = nextId++;
  return { tableId, priority: f.priority ?? 1000 + id, cookie: makeCookie(Feature.Test, id), ...f };
}
const apply = (...actions: import('../../controller/openflow/actions.js').Action[]) => [
  { type: 'applyActions' as const, actions },
];

/** One flow per match and action kind, as the pipeline and policy compiler use them. */
function richFlows(): Flow[] {
  nextId = 1;
  return [
    flow(0, {
      match: { inPort: 3 },
      instructions: [
        { type: 'writeMetadata', metadata: 0x10n, mask: 0xffn },
        { type: 'gotoTable', tableId: 1 },
      ],
    }),
    flow(0, {
      match: { inPort: 4, vlanVid: 0x1000 | 100 },
      instructions: [...apply({ type: 'popVlan' }), { type: 'gotoTable', tableId: 1 }],
    }),
    flow(0, {
      match: { vlanVid: 0 },
      instructions: apply(
        { type: 'pushVlan', ethertype: 0x8100 },
        { type: 'setField', field: 'vlanVid', value: 0x1000 | 7 },
      ),
    }),
    flow(0, { match: { vlanVid: { value: 0x1000, mask: 0x1000 }, vlanPcp: 3 }, instructions: [] }),
    flow(1, {
      match: { metadata: { value: 0x10n, mask: 0xffn }, ethDst: '02:02:14:01:01:02' },
      instructions: apply({ type: 'output', port: 7 }),
    }),
    flow(1, {
      match: { ethSrc: { value: '02:00:00:00:00:00', mask: 'ff:ff:00:00:00:00' } },
      instructions: apply({ type: 'output', port: OFPP.NORMAL }),
    }),
    flow(1, {
      match: { ethType: 0x0806, arpOp: 1, arpTpa: '20.1.1.254' },
      instructions: apply({ type: 'output', port: OFPP.CONTROLLER }),
    }),
    flow(1, {
      match: {
        ethType: 0x0806,
        arpSpa: { value: '20.1.1.0', mask: '255.255.255.0' },
        arpSha: '02:02:14:01:01:02',
      },
      instructions: apply({ type: 'output', port: OFPP.IN_PORT }),
    }),
    flow(2, {
      match: {
        ethType: IP,
        ipv4Src: { value: '10.1.0.0', mask: '255.255.0.0' },
        ipv4Dst: '20.1.1.2',
        ipProto: 6,
        tcpDst: 80,
      },
      instructions: [{ type: 'gotoTable', tableId: 3 }],
    }),
    flow(2, {
      match: { ethType: IP, ipProto: 17, udpDst: { value: 0x1000, mask: 0xf000 }, udpSrc: 53 },
      instructions: [],
    }),
    flow(2, {
      match: { ethType: IP, ipProto: 1, icmpv4Type: 8, icmpv4Code: 0 },
      instructions: apply({ type: 'decTtl' }, { type: 'output', port: 2 }),
    }),
    flow(2, {
      match: { ethType: IP, ipDscp: 46, ipEcn: 1 },
      instructions: apply(
        { type: 'setField', field: 'ipDscp', value: 10 },
        { type: 'setQueue', queueId: 2 },
        { type: 'output', port: 1 },
      ),
    }),
    flow(2, {
      match: {
        ethType: 0x86dd,
        ipv6Src: { value: '2001:db8::', mask: 'ffff:ffff::' },
        ipv6Dst: '2001:db8::1',
        ipProto: 58,
        icmpv6Type: 135,
        ipv6NdTarget: '2001:db8::2',
      },
      instructions: [],
    }),
    flow(2, {
      match: { ethType: 0x86dd, ipv6Flabel: 5, ipProto: 6, tcpSrc: 443 },
      instructions: apply({ type: 'setNwTtl', ttl: 9 }),
    }),
    // Policy: conjunctive clauses and the conjunction flow, stateful.
    flow(3, {
      priority: 500,
      match: { ethType: IP, ctState: ctState('+trk+new'), ipv4Src: '10.1.1.1' },
      instructions: apply({ type: 'conjunction', id: 7, clause: 1, nClauses: 3 }),
    }),
    flow(3, {
      priority: 500,
      match: { ethType: IP, ctState: ctState('+trk+new'), ipv4Dst: '10.1.1.2' },
      instructions: apply({ type: 'conjunction', id: 7, clause: 2, nClauses: 3 }),
    }),
    flow(3, {
      priority: 500,
      match: { ethType: IP, ctState: ctState('+trk+new'), ipProto: 6, tcpDst: 22 },
      instructions: apply({ type: 'conjunction', id: 7, clause: 3, nClauses: 3 }),
    }),
    flow(3, {
      priority: 500,
      match: { conjId: 7, ethType: IP },
      instructions: apply(
        { type: 'ct', commit: true, zone: 1, actions: [{ type: 'setField', field: 'ctMark', value: 0x7 }] },
        { type: 'resubmit', table: 4 },
      ),
    }),
    flow(3, {
      match: {
        ethType: IP,
        ctState: ctState('-new+est-rel-inv+trk'),
        ctMark: { value: 1, mask: 0xf },
        ctZone: 1,
      },
      instructions: [{ type: 'gotoTable', tableId: 4 }],
    }),
    flow(3, {
      match: { ethType: IP, ctLabel: { value: 1n, mask: 0xffn } },
      instructions: apply({ type: 'ctClear' }),
    }),
    flow(3, {
      match: { ethType: IP },
      instructions: apply({ type: 'ct', zone: { field: 'reg6', ofs: 0, nBits: 16 }, table: 4 }),
    }),
    flow(3, {
      match: { ethType: IP, ipProto: 6 },
      instructions: apply({
        type: 'ct',
        commit: true,
        zone: 2,
        actions: [
          {
            type: 'nat',
            kind: 'src',
            ipMin: '172.19.0.1',
            ipMax: '172.19.0.9',
            portMin: 1024,
            portMax: 65535,
            random: true,
          },
        ],
      }),
    }),
    flow(3, {
      match: { ethType: IP, ipProto: 17 },
      instructions: apply({ type: 'ct', table: 4, zone: 3, actions: [{ type: 'nat' }] }),
    }),
    // Registers and tunnels.
    flow(4, {
      match: { reg0: 5, reg6: { value: 0x10, mask: 0xff }, xxreg2: { value: 1n, mask: 0xffffn } },
      instructions: apply(
        { type: 'regLoad', dst: { field: 'reg1', ofs: 0, nBits: 16 }, value: 0x1234n },
        {
          type: 'regMove',
          src: { field: 'reg0', ofs: 0, nBits: 16 },
          dst: { field: 'reg2', ofs: 16, nBits: 16 },
        },
      ),
    }),
    flow(4, {
      match: { tunId: 5000n, tunIpv4Src: '192.168.50.2' },
      instructions: apply({ type: 'output', port: 1 }),
    }),
    flow(4, {
      match: { tunIpv4Dst: { value: '192.168.50.0', mask: '255.255.255.0' } },
      instructions: apply({ type: 'setField', field: 'tunId', value: 6000n }, { type: 'output', port: 100 }),
    }),
    flow(4, {
      match: { ethType: IP, ipv4Dst: '20.1.1.2' },
      instructions: apply(
        { type: 'setField', field: 'ethDst', value: '02:02:14:01:01:02' },
        { type: 'setField', field: 'ipv4Src', value: '20.1.1.254' },
        { type: 'group', groupId: 5 },
      ),
    }),
    flow(4, {
      match: { ethType: IP, ipv4Dst: '20.1.1.3' },
      instructions: [
        { type: 'meter', meterId: 2 },
        { type: 'writeActions', actions: [{ type: 'output', port: 3 }] },
      ],
    }),
    flow(4, {
      match: { ethType: IP, ipv4Dst: '20.1.1.4' },
      instructions: [
        { type: 'clearActions' },
        ...apply({ type: 'note', data: Buffer.from('contiv-ts') }, { type: 'controller', maxLen: 128 }),
      ],
    }),
    flow(4, {
      match: { ethType: IP, ipv4Dst: '20.1.1.5' },
      idleTimeout: 300,
      hardTimeout: 3600,
      flags: FlowModFlags.SEND_FLOW_REM,
      instructions: apply({ type: 'output', port: 5, maxLen: 0 }),
    }),
    flow(4, { priority: 0, match: {}, instructions: apply({ type: 'resubmit', port: 3, table: 5 }) }),
  ];
}

describe('flows survive a trip through ovs-vswitchd unchanged', { skip }, () => {
  let ovs: OvsInstance;
  let br: string;
  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    ovs = await startOvs();
    br = await ovs.addBridge({ failMode: 'secure' });
  });
  after(runCleanups);

  test('install everything, re-read from a fresh session: nothing to change', async () => {
    const groups = [
      {
        groupId: 5,
        groupType: GroupType.ALL,
        buckets: [
          {
            weight: 0,
            watchPort: OFPP.ANY,
            watchGroup: 0xffffffff,
            actions: [{ type: 'output' as const, port: 1 }],
          },
          {
            weight: 0,
            watchPort: OFPP.ANY,
            watchGroup: 0xffffffff,
            actions: [{ type: 'output' as const, port: 2 }],
          },
        ],
      },
    ];
    const meters = [
      { meterId: 2, flags: MeterFlags.PKTPS, bands: [{ bandType: 1, rate: 100, burstSize: 0 }] },
    ];
    const first = await connectSwitch(ovs.mgmt(br));
    try {
      const mgr = new FlowTableManager();
      mgr.setGroups(groups);
      mgr.setMeters(meters);
      mgr.setFlows(richFlows());
      const stats = await mgr.attach(first);
      assert.equal(stats.flowsAdded, richFlows().length);
      assert.equal((await ovs.dumpFlows(br)).length, richFlows().length);
    } finally {
      first.close();
    }

    const second = await connectSwitch(ovs.mgmt(br));
    try {
      const mgr = new FlowTableManager();
      mgr.setGroups(groups);
      mgr.setMeters(meters);
      mgr.setFlows(richFlows());
      const stats = await mgr.attach(second);
      assert.deepEqual(
        [stats.flowsAdded, stats.flowsModified, stats.flowsDeleted, stats.groupsChanged, stats.metersChanged],
        [0, 0, 0, 0, 0],
        'a fresh manager with the same desired state must find the switch converged',
      );
    } finally {
      second.close();
    }
  });
});
