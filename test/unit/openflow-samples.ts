// Owns one sample of every OpenFlow message kind (and every multipart body), shared by the codec tests.
// It never does I/O; the values are in the canonical form the decoder returns, so they round-trip exactly.

import type { Action, Instruction } from '../../controller/openflow/actions.js';
import type { Match } from '../../controller/openflow/match.js';
import {
  BundleCtrlType,
  BundleFlags,
  ControllerRole,
  FlowModCommand,
  GroupModCommand,
  GroupType,
  MeterFlags,
  MeterModCommand,
  MultipartType,
  type OFMessage,
  OFP_NO_BUFFER,
  OFPG_ANY,
  OFPP,
  OFPTT_ALL,
  type PortDesc,
} from '../../controller/openflow/messages.js';

export interface Sample {
  /** Unique label for test names. */
  name: string;
  msg: OFMessage;
}

export const tcpMatch: Match = {
  inPort: 1,
  ethType: 0x0800,
  ipProto: 6,
  ipv4Src: '10.0.0.1',
  ipv4Dst: { value: '10.1.0.0', mask: '255.255.0.0' },
  tcpDst: 80,
};

const outputActions: Action[] = [{ type: 'output', port: 2 }];

export const flowInstructions: Instruction[] = [
  {
    type: 'applyActions',
    actions: [{ type: 'setField', field: 'ethDst', value: '00:11:22:33:44:55' }, ...outputActions],
  },
  { type: 'gotoTable', tableId: 3 },
];

export const flowMod: OFMessage & { type: 'flowMod' } = {
  type: 'flowMod',
  xid: 0x10,
  cookie: 0x0102030405060708n,
  cookieMask: 0n,
  tableId: 2,
  command: FlowModCommand.ADD,
  idleTimeout: 10,
  hardTimeout: 20,
  priority: 100,
  bufferId: OFP_NO_BUFFER,
  outPort: OFPP.ANY,
  outGroup: OFPG_ANY,
  flags: 1,
  match: tcpMatch,
  instructions: flowInstructions,
};

export const portDesc: PortDesc = {
  portNo: 1,
  hwAddr: 'aa:bb:cc:dd:ee:01',
  name: 'veth1',
  config: 0,
  state: 4,
  curr: 0x2840,
  advertised: 0,
  supported: 0,
  peer: 0,
  currSpeed: 10000000,
  maxSpeed: 0,
};

const flowStatsRequest = {
  tableId: OFPTT_ALL,
  outPort: OFPP.ANY,
  outGroup: OFPG_ANY,
  cookie: 0x5n,
  cookieMask: 0xffn,
  match: { ethType: 0x0806 },
};

/** Ethernet/IPv4 frame bytes used as packet payloads. */
export const packetBytes = Buffer.from(
  'ffffffffffff0011223344550800450000140001000040017cd70a0000010a000002',
  'hex',
);

export function sampleMessages(): Sample[] {
  const list: Sample[] = [
    { name: 'hello', msg: { type: 'hello', xid: 1, versions: [1, 4] } },
    { name: 'hello without bitmap', msg: { type: 'hello', xid: 2, versions: [] } },
    {
      name: 'error',
      msg: {
        type: 'error',
        xid: 0x1f,
        errType: 2,
        code: 4,
        typeName: 'OFPET_BAD_ACTION',
        codeName: 'OFPBAC_BAD_OUT_PORT',
        data: Buffer.from('040e0050000000100000000000000000', 'hex'),
      },
    },
    {
      name: 'error (ONF bundle)',
      msg: {
        type: 'error',
        xid: 0x20,
        errType: 0xffff,
        code: 2302,
        typeName: 'OFPET_EXPERIMENTER',
        codeName: 'ONFERR_ET_BAD_ID',
        experimenter: 0x4f4e4600,
        data: Buffer.from('0404001800000020', 'hex'),
      },
    },
    { name: 'echo request', msg: { type: 'echoRequest', xid: 3, data: Buffer.from('ping') } },
    { name: 'echo reply', msg: { type: 'echoReply', xid: 3, data: Buffer.alloc(0) } },
    { name: 'features request', msg: { type: 'featuresRequest', xid: 4 } },
    {
      name: 'features reply',
      msg: {
        type: 'featuresReply',
        xid: 4,
        datapathId: 0x0000505400000001n,
        nBuffers: 0,
        nTables: 254,
        auxiliaryId: 0,
        capabilities: 0x4f,
      },
    },
    { name: 'get config request', msg: { type: 'getConfigRequest', xid: 5 } },
    { name: 'get config reply', msg: { type: 'getConfigReply', xid: 5, flags: 0, missSendLen: 128 } },
    { name: 'set config', msg: { type: 'setConfig', xid: 6, flags: 0, missSendLen: 0xffff } },
    {
      name: 'packet in',
      msg: {
        type: 'packetIn',
        xid: 0,
        bufferId: OFP_NO_BUFFER,
        totalLen: packetBytes.length,
        reason: 1,
        tableId: 5,
        cookie: 0xabn,
        match: { inPort: 3, reg0: 7 },
        data: packetBytes,
      },
    },
    {
      name: 'packet out',
      msg: {
        type: 'packetOut',
        xid: 7,
        bufferId: OFP_NO_BUFFER,
        inPort: OFPP.CONTROLLER,
        actions: outputActions,
        data: packetBytes,
      },
    },
    { name: 'flow mod', msg: flowMod },
    {
      name: 'flow mod delete',
      msg: {
        ...flowMod,
        xid: 0x11,
        command: FlowModCommand.DELETE,
        tableId: OFPTT_ALL,
        cookie: 0x00ff000000000000n,
        cookieMask: 0xffff000000000000n,
        flags: 0,
        match: {},
        instructions: [],
      },
    },
    {
      name: 'flow removed',
      msg: {
        type: 'flowRemoved',
        xid: 0,
        cookie: 0xfedcba9876543210n,
        priority: 100,
        reason: 1,
        tableId: 5,
        durationSec: 1,
        durationNsec: 10000000,
        idleTimeout: 60,
        hardTimeout: 120,
        packetCount: 1234567n,
        byteCount: 1869134438n,
        match: { ethType: 0x0806 },
      },
    },
    { name: 'port status', msg: { type: 'portStatus', xid: 0, reason: 0, desc: portDesc } },
    {
      name: 'group mod',
      msg: {
        type: 'groupMod',
        xid: 8,
        command: GroupModCommand.ADD,
        groupType: GroupType.SELECT,
        groupId: 7,
        buckets: [
          { weight: 10, watchPort: OFPP.ANY, watchGroup: OFPG_ANY, actions: [{ type: 'output', port: 1 }] },
          { weight: 20, watchPort: OFPP.ANY, watchGroup: OFPG_ANY, actions: [{ type: 'output', port: 2 }] },
        ],
      },
    },
    {
      name: 'meter mod',
      msg: {
        type: 'meterMod',
        xid: 9,
        command: MeterModCommand.ADD,
        flags: MeterFlags.KBPS | MeterFlags.BURST | MeterFlags.STATS,
        meterId: 5,
        bands: [
          { bandType: 1, rate: 1000, burstSize: 100 },
          { bandType: 2, rate: 2000, burstSize: 200, precLevel: 1 },
        ],
      },
    },
    { name: 'barrier request', msg: { type: 'barrierRequest', xid: 0x5 } },
    { name: 'barrier reply', msg: { type: 'barrierReply', xid: 0x5 } },
    {
      name: 'role request',
      msg: { type: 'roleRequest', xid: 10, role: ControllerRole.MASTER, generationId: 3n },
    },
    { name: 'role reply', msg: { type: 'roleReply', xid: 10, role: ControllerRole.SLAVE, generationId: 3n } },
    { name: 'get async request', msg: { type: 'getAsyncRequest', xid: 7 } },
    {
      name: 'get async reply',
      msg: {
        type: 'getAsyncReply',
        xid: 7,
        packetInMask: [3, 0],
        portStatusMask: [7, 0],
        flowRemovedMask: [15, 0],
      },
    },
    {
      name: 'set async',
      msg: {
        type: 'setAsync',
        xid: 7,
        packetInMask: [3, 0],
        portStatusMask: [7, 0],
        flowRemovedMask: [15, 0],
      },
    },
    {
      name: 'bundle control',
      msg: {
        type: 'bundleControl',
        xid: 11,
        bundleId: 1,
        ctrlType: BundleCtrlType.OPEN_REQUEST,
        flags: BundleFlags.ATOMIC | BundleFlags.ORDERED,
      },
    },
    {
      name: 'bundle add',
      msg: {
        type: 'bundleAdd',
        xid: 12,
        bundleId: 1,
        flags: BundleFlags.ATOMIC,
        message: { ...flowMod, xid: 12 },
      },
    },
    {
      name: 'experimenter',
      msg: {
        type: 'experimenter',
        xid: 13,
        // NXT_SET_CONTROLLER_ID: zero[6], controller_id
        experimenter: 0x2320,
        expType: 20,
        data: Buffer.from('0000000000000007', 'hex'),
      },
    },
    // ---- multipart requests ----
    {
      name: 'mp desc request',
      msg: { type: 'multipartRequest', xid: 20, flags: 0, mpType: MultipartType.DESC },
    },
    {
      name: 'mp flow request',
      msg: {
        type: 'multipartRequest',
        xid: 21,
        flags: 0,
        mpType: MultipartType.FLOW,
        request: flowStatsRequest,
      },
    },
    {
      name: 'mp aggregate request',
      msg: {
        type: 'multipartRequest',
        xid: 22,
        flags: 0,
        mpType: MultipartType.AGGREGATE,
        request: flowStatsRequest,
      },
    },
    {
      name: 'mp port stats request',
      msg: {
        type: 'multipartRequest',
        xid: 23,
        flags: 0,
        mpType: MultipartType.PORT_STATS,
        portNo: OFPP.ANY,
      },
    },
    {
      name: 'mp port desc request',
      msg: { type: 'multipartRequest', xid: 24, flags: 0, mpType: MultipartType.PORT_DESC },
    },
    {
      name: 'mp group desc request',
      msg: { type: 'multipartRequest', xid: 25, flags: 0, mpType: MultipartType.GROUP_DESC },
    },
    {
      name: 'mp meter request',
      msg: { type: 'multipartRequest', xid: 26, flags: 0, mpType: MultipartType.METER, meterId: 1 },
    },
    {
      name: 'mp meter config request',
      msg: { type: 'multipartRequest', xid: 27, flags: 0, mpType: MultipartType.METER_CONFIG, meterId: 1 },
    },
    // ---- multipart replies ----
    {
      name: 'mp desc reply',
      msg: {
        type: 'multipartReply',
        xid: 20,
        flags: 0,
        mpType: MultipartType.DESC,
        desc: {
          mfrDesc: 'Nicira, Inc.',
          hwDesc: 'Open vSwitch',
          swDesc: '3.1.0',
          serialNum: 'None',
          dpDesc: 'br0',
        },
      },
    },
    {
      name: 'mp flow reply',
      msg: {
        type: 'multipartReply',
        xid: 21,
        flags: 0,
        mpType: MultipartType.FLOW,
        flows: [
          {
            tableId: 2,
            durationSec: 3,
            durationNsec: 5000000,
            priority: 100,
            idleTimeout: 0,
            hardTimeout: 0,
            flags: 0,
            cookie: 0x5n,
            packetCount: 2n,
            byteCount: 128n,
            match: tcpMatch,
            instructions: flowInstructions,
          },
          {
            tableId: 0,
            durationSec: 1,
            durationNsec: 0,
            priority: 0,
            idleTimeout: 0,
            hardTimeout: 0,
            flags: 0,
            cookie: 0n,
            packetCount: 0n,
            byteCount: 0n,
            match: {},
            instructions: [],
          },
        ],
      },
    },
    {
      name: 'mp aggregate reply',
      msg: {
        type: 'multipartReply',
        xid: 22,
        flags: 0,
        mpType: MultipartType.AGGREGATE,
        aggregate: { packetCount: 121n, byteCount: 19279n, flowCount: 3 },
      },
    },
    {
      name: 'mp port stats reply',
      msg: {
        type: 'multipartReply',
        xid: 23,
        flags: 0,
        mpType: MultipartType.PORT_STATS,
        ports: [
          {
            portNo: 1,
            rxPackets: 1n,
            txPackets: 2n,
            rxBytes: 3n,
            txBytes: 4n,
            rxDropped: 5n,
            txDropped: 6n,
            rxErrors: 7n,
            txErrors: 8n,
            rxFrameErr: 9n,
            rxOverErr: 10n,
            rxCrcErr: 11n,
            collisions: 12n,
            durationSec: 13,
            durationNsec: 14,
          },
        ],
      },
    },
    {
      name: 'mp port desc reply',
      msg: {
        type: 'multipartReply',
        xid: 24,
        flags: 0,
        mpType: MultipartType.PORT_DESC,
        ports: [portDesc, { ...portDesc, portNo: OFPP.LOCAL, name: 'br0', hwAddr: '02:00:00:00:00:fe' }],
      },
    },
    {
      name: 'mp group desc reply',
      msg: {
        type: 'multipartReply',
        xid: 25,
        flags: 0,
        mpType: MultipartType.GROUP_DESC,
        groups: [
          {
            groupType: GroupType.ALL,
            groupId: 1,
            buckets: [{ weight: 0, watchPort: OFPP.ANY, watchGroup: OFPG_ANY, actions: outputActions }],
          },
        ],
      },
    },
    {
      name: 'mp meter reply',
      msg: {
        type: 'multipartReply',
        xid: 26,
        flags: 0,
        mpType: MultipartType.METER,
        meters: [
          {
            meterId: 1,
            flowCount: 2,
            packetInCount: 3n,
            byteInCount: 4n,
            durationSec: 5,
            durationNsec: 6,
            bands: [{ packetBandCount: 7n, byteBandCount: 8n }],
          },
        ],
      },
    },
    {
      name: 'mp meter config reply',
      msg: {
        type: 'multipartReply',
        xid: 27,
        flags: 0,
        mpType: MultipartType.METER_CONFIG,
        configs: [{ flags: MeterFlags.KBPS, meterId: 1, bands: [{ bandType: 1, rate: 100, burstSize: 0 }] }],
      },
    },
    {
      name: 'mp unknown reply',
      msg: {
        type: 'multipartReply',
        xid: 28,
        flags: 1,
        mpType: 'unknown',
        rawType: MultipartType.TABLE,
        // One ofp_table_stats: table 0, 5 active, 100 lookups, 10 matched.
        raw: Buffer.from('00000000000000050000000000000064000000000000000a', 'hex'),
      },
    },
  ];
  return list;
}
