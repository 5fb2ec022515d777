// Owns turning OpenFlow 1.3 wire bytes into OFMessage values: `decodeMessage` for one frame and
// `OFParser`, the per-connection stream framer. It never encodes, never does I/O, never imports outside controller/openflow.

import { decodeActions, decodeInstructions } from './actions-decode.js';
import { OFCodecError, Reader } from './buffer.js';
import { errorNames } from './errors.js';
import { decodeMatch } from './match.js';
import type {
  Bucket,
  Desc,
  ErrorMsg,
  FlowStats,
  FlowStatsRequest,
  GroupDesc,
  MeterBand,
  MeterStats,
  MultipartReply,
  MultipartReplyBody,
  MultipartRequest,
  MultipartRequestBody,
  OFMessage,
  PortDesc,
  PortStats,
} from './messages.js';
import {
  MultipartType,
  OFP_HEADER_LEN,
  OFP_VERSION,
  OFPT,
  ONF_EXPERIMENTER_ID,
  ONFT_BUNDLE_ADD_MESSAGE,
  ONFT_BUNDLE_CONTROL,
} from './messages.js';

/** ofp_type names, used in error reports. */
const TYPE_NAMES: readonly string[] = [
  'HELLO',
  'ERROR',
  'ECHO_REQUEST',
  'ECHO_REPLY',
  'EXPERIMENTER',
  'FEATURES_REQUEST',
  'FEATURES_REPLY',
  'GET_CONFIG_REQUEST',
  'GET_CONFIG_REPLY',
  'SET_CONFIG',
  'PACKET_IN',
  'FLOW_REMOVED',
  'PORT_STATUS',
  'PACKET_OUT',
  'FLOW_MOD',
  'GROUP_MOD',
  'PORT_MOD',
  'TABLE_MOD',
  'MULTIPART_REQUEST',
  'MULTIPART_REPLY',
  'BARRIER_REQUEST',
  'BARRIER_REPLY',
  'QUEUE_GET_CONFIG_REQUEST',
  'QUEUE_GET_CONFIG_REPLY',
  'ROLE_REQUEST',
  'ROLE_REPLY',
  'GET_ASYNC_REQUEST',
  'GET_ASYNC_REPLY',
  'SET_ASYNC',
  'METER_MOD',
];

/** The name of a message type as it appears in errors, e.g. "FLOW_MOD". */
export function messageTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `OFPT_${type}`;
}

const MP_NAMES: Readonly<Record<number, string>> = {
  [MultipartType.DESC]: 'DESC',
  [MultipartType.FLOW]: 'FLOW',
  [MultipartType.AGGREGATE]: 'AGGREGATE',
  [MultipartType.PORT_STATS]: 'PORT_STATS',
  [MultipartType.PORT_DESC]: 'PORT_DESC',
  [MultipartType.GROUP_DESC]: 'GROUP_DESC',
  [MultipartType.METER]: 'METER',
  [MultipartType.METER_CONFIG]: 'METER_CONFIG',
};

// ---- small field readers ----

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function mac(r: Reader, field: string): string {
  r.need(6, field);
  const b = r.buf;
  const o = r.off;
  r.off = o + 6;
  return `${HEX[b[o]!]}:${HEX[b[o + 1]!]}:${HEX[b[o + 2]!]}:${HEX[b[o + 3]!]}:${HEX[b[o + 4]!]}:${HEX[b[o + 5]!]}`;
}

function fixedString(r: Reader, size: number, field: string): string {
  const bytes = r.bytes(size, field);
  const nul = bytes.indexOf(0);
  return bytes.toString('utf8', 0, nul < 0 ? size : nul);
}

/** Reads a u16 length at the reader's position without moving it, and checks it fits. */
function peekLength(r: Reader, min: number, field: string): number {
  r.need(2, field);
  const len = r.buf.readUInt16BE(r.off);
  if (len < min) throw new OFCodecError(r.structure, field, `length ${len} < minimum ${min}`);
  if (len > r.remaining)
    throw new OFCodecError(r.structure, field, `length ${len} > ${r.remaining} bytes left`);
  return len;
}

function rest(r: Reader, structure: string): Reader {
  return r.sub(r.remaining, structure);
}

// ---- per-message decoders: each reads the body (after the 8-byte header) ----

function hello(r: Reader, xid: number, version: number): OFMessage {
  const versions: number[] = [];
  // Hello elements; only OFPHET_VERSIONBITMAP (1) is defined, others are skipped as the spec says.
  while (r.remaining >= 4) {
    const type = r.u16('element type');
    const len = r.u16('element length');
    if (len < 4) throw new OFCodecError('HELLO', 'element length', `${len} < 4`);
    const body = r.sub(len - 4, 'HELLO', 'element length');
    if (type === 1) {
      for (let word = 0; body.remaining >= 4; word++) {
        const bits = body.u32('bitmap');
        for (let bit = 0; bit < 32; bit++) if ((bits >>> bit) & 1) versions.push(word * 32 + bit);
      }
    }
    r.skip(Math.min(r.remaining, ((len + 7) & ~7) - len), 'element padding');
  }
  return version === OFP_VERSION
    ? { type: 'hello', xid, versions }
    : { type: 'hello', xid, versions, version };
}

function error(r: Reader, xid: number): ErrorMsg {
  const errType = r.u16('type');
  const code = r.u16('code');
  if (errType === 0xffff) {
    const experimenter = r.u32('experimenter');
    const names = errorNames(errType, code, experimenter);
    return { type: 'error', xid, errType, code, ...names, experimenter, data: r.bytes(r.remaining, 'data') };
  }
  const names = errorNames(errType, code);
  return { type: 'error', xid, errType, code, ...names, data: r.bytes(r.remaining, 'data') };
}

function featuresReply(r: Reader, xid: number): OFMessage {
  const datapathId = r.u64('datapath_id');
  const nBuffers = r.u32('n_buffers');
  const nTables = r.u8('n_tables');
  const auxiliaryId = r.u8('auxiliary_id');
  r.skip(2);
  const capabilities = r.u32('capabilities');
  r.skip(4, 'reserved');
  return { type: 'featuresReply', xid, datapathId, nBuffers, nTables, auxiliaryId, capabilities };
}

function packetIn(r: Reader, xid: number): OFMessage {
  const bufferId = r.u32('buffer_id');
  const totalLen = r.u16('total_len');
  const reason = r.u8('reason');
  const tableId = r.u8('table_id');
  const cookie = r.u64('cookie');
  const match = decodeMatch(r);
  r.skip(2);
  // A view, not a copy: PACKET_IN is the one message whose payload is large and frequent.
  const data = r.bytes(r.remaining, 'data');
  return { type: 'packetIn', xid, bufferId, totalLen, reason, tableId, cookie, match, data };
}

function packetOut(r: Reader, xid: number): OFMessage {
  const bufferId = r.u32('buffer_id');
  const inPort = r.u32('in_port');
  const actionsLen = r.u16('actions_len');
  r.skip(6);
  const actions = decodeActions(r.sub(actionsLen, 'actions', 'actions_len'));
  return { type: 'packetOut', xid, bufferId, inPort, actions, data: r.bytes(r.remaining, 'data') };
}

function flowMod(r: Reader, xid: number): OFMessage {
  const cookie = r.u64('cookie');
  const cookieMask = r.u64('cookie_mask');
  const tableId = r.u8('table_id');
  const command = r.u8('command');
  const idleTimeout = r.u16('idle_timeout');
  const hardTimeout = r.u16('hard_timeout');
  const priority = r.u16('priority');
  const bufferId = r.u32('buffer_id');
  const outPort = r.u32('out_port');
  const outGroup = r.u32('out_group');
  const flags = r.u16('flags');
  r.skip(2);
  const match = decodeMatch(r);
  const instructions = decodeInstructions(rest(r, 'instructions'));
  return {
    type: 'flowMod',
    xid,
    cookie,
    cookieMask,
    tableId,
    command,
    idleTimeout,
    hardTimeout,
    priority,
    bufferId,
    outPort,
    outGroup,
    flags,
    match,
    instructions,
  };
}

function flowRemoved(r: Reader, xid: number): OFMessage {
  const cookie = r.u64('cookie');
  const priority = r.u16('priority');
  const reason = r.u8('reason');
  const tableId = r.u8('table_id');
  const durationSec = r.u32('duration_sec');
  const durationNsec = r.u32('duration_nsec');
  const idleTimeout = r.u16('idle_timeout');
  const hardTimeout = r.u16('hard_timeout');
  const packetCount = r.u64('packet_count');
  const byteCount = r.u64('byte_count');
  const match = decodeMatch(r);
  return {
    type: 'flowRemoved',
    xid,
    cookie,
    priority,
    reason,
    tableId,
    durationSec,
    durationNsec,
    idleTimeout,
    hardTimeout,
    packetCount,
    byteCount,
    match,
  };
}

/** struct ofp_port, 64 bytes. */
function port(r: Reader): PortDesc {
  const portNo = r.u32('port_no');
  r.skip(4);
  const hwAddr = mac(r, 'hw_addr');
  r.skip(2);
  const name = fixedString(r, 16, 'name');
  return {
    portNo,
    hwAddr,
    name,
    config: r.u32('config'),
    state: r.u32('state'),
    curr: r.u32('curr'),
    advertised: r.u32('advertised'),
    supported: r.u32('supported'),
    peer: r.u32('peer'),
    currSpeed: r.u32('curr_speed'),
    maxSpeed: r.u32('max_speed'),
  };
}

function portStatus(r: Reader, xid: number): OFMessage {
  const reason = r.u8('reason');
  r.skip(7);
  return { type: 'portStatus', xid, reason, desc: port(r) };
}

function buckets(r: Reader): Bucket[] {
  const out: Bucket[] = [];
  while (r.remaining > 0) {
    const b = r.sub(peekLength(r, 16, 'bucket len'), 'bucket');
    b.skip(2);
    const weight = b.u16('weight');
    const watchPort = b.u32('watch_port');
    const watchGroup = b.u32('watch_group');
    b.skip(4);
    out.push({ weight, watchPort, watchGroup, actions: decodeActions(b) });
  }
  return out;
}

function groupMod(r: Reader, xid: number): OFMessage {
  const command = r.u16('command');
  const groupType = r.u8('type');
  r.skip(1);
  const groupId = r.u32('group_id');
  return { type: 'groupMod', xid, command, groupType, groupId, buckets: buckets(r) };
}

function bands(r: Reader): MeterBand[] {
  const out: MeterBand[] = [];
  while (r.remaining > 0) {
    r.need(4, 'band header');
    const bandType = r.buf.readUInt16BE(r.off);
    const len = r.buf.readUInt16BE(r.off + 2);
    if (len < 16 || len > r.remaining) {
      throw new OFCodecError(r.structure, 'band len', `length ${len} outside 16..${r.remaining}`);
    }
    const b = r.sub(len, 'meter_band');
    b.skip(4);
    const rate = b.u32('rate');
    const burstSize = b.u32('burst_size');
    out.push(
      bandType === 2
        ? { bandType, rate, burstSize, precLevel: b.u8('prec_level') }
        : { bandType, rate, burstSize },
    );
  }
  return out;
}

function meterMod(r: Reader, xid: number): OFMessage {
  const command = r.u16('command');
  const flags = r.u16('flags');
  const meterId = r.u32('meter_id');
  return { type: 'meterMod', xid, command, flags, meterId, bands: bands(r) };
}

function role(r: Reader, xid: number, type: 'roleRequest' | 'roleReply'): OFMessage {
  const value = r.u32('role');
  r.skip(4);
  return { type, xid, role: value, generationId: r.u64('generation_id') };
}

function asyncConfig(r: Reader, xid: number, type: 'getAsyncReply' | 'setAsync'): OFMessage {
  const pair = (field: string): [number, number] => [r.u32(field), r.u32(field)];
  return {
    type,
    xid,
    packetInMask: pair('packet_in_mask'),
    portStatusMask: pair('port_status_mask'),
    flowRemovedMask: pair('flow_removed_mask'),
  };
}

// ---- multipart ----

function flowStatsRequest(r: Reader): FlowStatsRequest {
  const tableId = r.u8('table_id');
  r.skip(3);
  const outPort = r.u32('out_port');
  const outGroup = r.u32('out_group');
  r.skip(4);
  const cookie = r.u64('cookie');
  const cookieMask = r.u64('cookie_mask');
  return { tableId, outPort, outGroup, cookie, cookieMask, match: decodeMatch(r) };
}

function multipartRequestBody(r: Reader, mpType: number): MultipartRequestBody {
  switch (mpType) {
    case MultipartType.DESC:
      return { mpType };
    case MultipartType.PORT_DESC:
      return { mpType };
    case MultipartType.GROUP_DESC:
      return { mpType };
    case MultipartType.FLOW:
      return { mpType, request: flowStatsRequest(r) };
    case MultipartType.AGGREGATE:
      return { mpType, request: flowStatsRequest(r) };
    case MultipartType.PORT_STATS: {
      const portNo = r.u32('port_no');
      r.skip(4);
      return { mpType, portNo };
    }
    case MultipartType.METER:
    case MultipartType.METER_CONFIG: {
      const meterId = r.u32('meter_id');
      r.skip(4);
      return { mpType, meterId };
    }
    default:
      throw new OFCodecError(r.structure, 'type', `multipart type ${mpType} is not modelled`);
  }
}

function desc(r: Reader): Desc {
  return {
    mfrDesc: fixedString(r, 256, 'mfr_desc'),
    hwDesc: fixedString(r, 256, 'hw_desc'),
    swDesc: fixedString(r, 256, 'sw_desc'),
    serialNum: fixedString(r, 32, 'serial_num'),
    dpDesc: fixedString(r, 256, 'dp_desc'),
  };
}

function flowStats(r: Reader): FlowStats {
  const f = r.sub(peekLength(r, 56, 'flow_stats length'), 'flow_stats');
  f.skip(2);
  const tableId = f.u8('table_id');
  f.skip(1);
  const durationSec = f.u32('duration_sec');
  const durationNsec = f.u32('duration_nsec');
  const priority = f.u16('priority');
  const idleTimeout = f.u16('idle_timeout');
  const hardTimeout = f.u16('hard_timeout');
  const flags = f.u16('flags');
  f.skip(4);
  const cookie = f.u64('cookie');
  const packetCount = f.u64('packet_count');
  const byteCount = f.u64('byte_count');
  const match = decodeMatch(f);
  const instructions = decodeInstructions(f);
  return {
    tableId,
    durationSec,
    durationNsec,
    priority,
    idleTimeout,
    hardTimeout,
    flags,
    cookie,
    packetCount,
    byteCount,
    match,
    instructions,
  };
}

function portStats(r: Reader): PortStats {
  const portNo = r.u32('port_no');
  r.skip(4);
  return {
    portNo,
    rxPackets: r.u64('rx_packets'),
    txPackets: r.u64('tx_packets'),
    rxBytes: r.u64('rx_bytes'),
    txBytes: r.u64('tx_bytes'),
    rxDropped: r.u64('rx_dropped'),
    txDropped: r.u64('tx_dropped'),
    rxErrors: r.u64('rx_errors'),
    txErrors: r.u64('tx_errors'),
    rxFrameErr: r.u64('rx_frame_err'),
    rxOverErr: r.u64('rx_over_err'),
    rxCrcErr: r.u64('rx_crc_err'),
    collisions: r.u64('collisions'),
    durationSec: r.u32('duration_sec'),
    durationNsec: r.u32('duration_nsec'),
  };
}

function groupDesc(r: Reader): GroupDesc {
  const g = r.sub(peekLength(r, 8, 'group_desc length'), 'group_desc');
  g.skip(2);
  const groupType = g.u8('type');
  g.skip(1);
  const groupId = g.u32('group_id');
  return { groupType, groupId, buckets: buckets(g) };
}

function meterStats(r: Reader): MeterStats {
  r.need(6, 'meter_stats len');
  const len = r.buf.readUInt16BE(r.off + 4);
  if (len < 40 || len > r.remaining) {
    throw new OFCodecError(r.structure, 'meter_stats len', `length ${len} outside 40..${r.remaining}`);
  }
  const s = r.sub(len, 'meter_stats');
  const meterId = s.u32('meter_id');
  s.skip(8); // len, pad[6]
  const flowCount = s.u32('flow_count');
  const packetInCount = s.u64('packet_in_count');
  const byteInCount = s.u64('byte_in_count');
  const durationSec = s.u32('duration_sec');
  const durationNsec = s.u32('duration_nsec');
  const bandStats: MeterStats['bands'] = [];
  while (s.remaining > 0) {
    bandStats.push({ packetBandCount: s.u64('packet_band_count'), byteBandCount: s.u64('byte_band_count') });
  }
  return { meterId, flowCount, packetInCount, byteInCount, durationSec, durationNsec, bands: bandStats };
}

function meterConfig(r: Reader): { flags: number; meterId: number; bands: MeterBand[] } {
  const c = r.sub(peekLength(r, 8, 'meter_config length'), 'meter_config');
  c.skip(2);
  const flags = c.u16('flags');
  const meterId = c.u32('meter_id');
  return { flags, meterId, bands: bands(c) };
}

function repeat<T>(r: Reader, one: (r: Reader) => T): T[] {
  const out: T[] = [];
  while (r.remaining > 0) out.push(one(r));
  return out;
}

function multipartReplyBody(r: Reader, mpType: number): MultipartReplyBody {
  switch (mpType) {
    case MultipartType.DESC:
      return { mpType, desc: desc(r) };
    case MultipartType.FLOW:
      return { mpType, flows: repeat(r, flowStats) };
    case MultipartType.AGGREGATE: {
      const packetCount = r.u64('packet_count');
      const byteCount = r.u64('byte_count');
      const flowCount = r.u32('flow_count');
      r.skip(4);
      return { mpType, aggregate: { packetCount, byteCount, flowCount } };
    }
    case MultipartType.PORT_STATS:
      return { mpType, ports: repeat(r, portStats) };
    case MultipartType.PORT_DESC:
      return { mpType, ports: repeat(r, port) };
    case MultipartType.GROUP_DESC:
      return { mpType, groups: repeat(r, groupDesc) };
    case MultipartType.METER:
      return { mpType, meters: repeat(r, meterStats) };
    case MultipartType.METER_CONFIG:
      return { mpType, configs: repeat(r, meterConfig) };
    default:
      return { mpType: 'unknown', rawType: mpType, raw: r.bytes(r.remaining, 'body') };
  }
}

function multipart(r: Reader, xid: number, reply: boolean): OFMessage {
  const mpType = r.u16('multipart type');
  const flags = r.u16('flags');
  r.skip(4);
  r.structure = `${r.structure}.${MP_NAMES[mpType] ?? mpType}`;
  if (reply) {
    const m: MultipartReply = { type: 'multipartReply', xid, flags, ...multipartReplyBody(r, mpType) };
    return m;
  }
  const m: MultipartRequest = { type: 'multipartRequest', xid, flags, ...multipartRequestBody(r, mpType) };
  return m;
}

// ---- experimenter (ONF bundles) ----

function experimenter(r: Reader, xid: number): OFMessage {
  const exp = r.u32('experimenter');
  const expType = r.u32('exp_type');
  if (exp === ONF_EXPERIMENTER_ID && expType === ONFT_BUNDLE_CONTROL) {
    r.structure = 'BUNDLE_CONTROL';
    const bundleId = r.u32('bundle_id');
    const ctrlType = r.u16('type');
    const flags = r.u16('flags');
    // Bundle properties may follow; none is defined that we use.
    return { type: 'bundleControl', xid, bundleId, ctrlType, flags };
  }
  if (exp === ONF_EXPERIMENTER_ID && expType === ONFT_BUNDLE_ADD_MESSAGE) {
    r.structure = 'BUNDLE_ADD_MESSAGE';
    const bundleId = r.u32('bundle_id');
    r.skip(2);
    const flags = r.u16('flags');
    r.need(OFP_HEADER_LEN, 'inner message header');
    const innerLen = r.buf.readUInt16BE(r.off + 2);
    if (innerLen < OFP_HEADER_LEN || innerLen > r.remaining) {
      throw new OFCodecError(r.structure, 'inner message length', `${innerLen} outside 8..${r.remaining}`);
    }
    const message = decodeMessage(r.bytes(innerLen, 'inner message'));
    return { type: 'bundleAdd', xid, bundleId, flags, message };
  }
  return { type: 'experimenter', xid, experimenter: exp, expType, data: r.bytes(r.remaining, 'data') };
}

function body(r: Reader, type: number, xid: number, version: number): OFMessage {
  switch (type) {
    case OFPT.PACKET_IN:
      return packetIn(r, xid);
    case OFPT.FLOW_MOD:
      return flowMod(r, xid);
    case OFPT.BARRIER_REQUEST:
      return { type: 'barrierRequest', xid };
    case OFPT.BARRIER_REPLY:
      return { type: 'barrierReply', xid };
    case OFPT.ECHO_REQUEST:
      return { type: 'echoRequest', xid, data: r.bytes(r.remaining, 'data') };
    case OFPT.ECHO_REPLY:
      return { type: 'echoReply', xid, data: r.bytes(r.remaining, 'data') };
    case OFPT.ERROR:
      return error(r, xid);
    case OFPT.EXPERIMENTER:
      return experimenter(r, xid);
    case OFPT.MULTIPART_REQUEST:
      return multipart(r, xid, false);
    case OFPT.MULTIPART_REPLY:
      return multipart(r, xid, true);
    case OFPT.HELLO:
      return hello(r, xid, version);
    case OFPT.FEATURES_REQUEST:
      return { type: 'featuresRequest', xid };
    case OFPT.FEATURES_REPLY:
      return featuresReply(r, xid);
    case OFPT.GET_CONFIG_REQUEST:
      return { type: 'getConfigRequest', xid };
    case OFPT.GET_CONFIG_REPLY:
    case OFPT.SET_CONFIG: {
      const flags = r.u16('flags');
      const missSendLen = r.u16('miss_send_len');
      return { type: type === OFPT.SET_CONFIG ? 'setConfig' : 'getConfigReply', xid, flags, missSendLen };
    }
    case OFPT.PACKET_OUT:
      return packetOut(r, xid);
    case OFPT.FLOW_REMOVED:
      return flowRemoved(r, xid);
    case OFPT.PORT_STATUS:
      return portStatus(r, xid);
    case OFPT.GROUP_MOD:
      return groupMod(r, xid);
    case OFPT.METER_MOD:
      return meterMod(r, xid);
    case OFPT.ROLE_REQUEST:
      return role(r, xid, 'roleRequest');
    case OFPT.ROLE_REPLY:
      return role(r, xid, 'roleReply');
    case OFPT.GET_ASYNC_REQUEST:
      return { type: 'getAsyncRequest', xid };
    case OFPT.GET_ASYNC_REPLY:
      return asyncConfig(r, xid, 'getAsyncReply');
    case OFPT.SET_ASYNC:
      return asyncConfig(r, xid, 'setAsync');
    default:
      throw new OFCodecError(r.structure, 'type', `message type ${type} is not modelled`);
  }
}

/** Re-labels an error thrown inside a message so that it names the message first ("FLOW_MOD/OXM: ..."). */
function inMessage(err: unknown, structure: string): OFCodecError {
  if (err instanceof OFCodecError) {
    if (err.structure === structure || err.structure.startsWith(`${structure}/`)) return err;
    const detail = err.message.slice(`${err.structure}: ${err.field}: `.length);
    return new OFCodecError(`${structure}/${err.structure}`, err.field, detail);
  }
  // A decoder bug or a Buffer RangeError on hostile input: still reported, never thrown raw;
  // `cause` keeps the original so that tests can tell an unchecked read from a checked one.
  const wrapped = new OFCodecError(structure, 'body', err instanceof Error ? err.message : String(err));
  wrapped.cause = err;
  return wrapped;
}

/**
 * Decodes one whole frame (exactly one message). Throws OFCodecError naming the message and the
 * field when the frame is malformed. Byte payloads in the result are views into `frame`.
 */
export function decodeMessage(frame: Buffer): OFMessage {
  if (frame.length < OFP_HEADER_LEN) {
    throw new OFCodecError('message', 'header', `needs 8 bytes, frame has ${frame.length}`);
  }
  const version = frame[0]!;
  const type = frame[1]!;
  const length = (frame[2]! << 8) | frame[3]!;
  const xid = frame.readUInt32BE(4);
  const name = messageTypeName(type);
  if (length !== frame.length) {
    throw new OFCodecError(name, 'length', `header says ${length}, frame has ${frame.length} bytes`);
  }
  if (version !== OFP_VERSION && type !== OFPT.HELLO) {
    throw new OFCodecError(name, 'version', `0x${version.toString(16)} is not OpenFlow 1.3 (0x04)`);
  }
  const r = new Reader(frame, OFP_HEADER_LEN, length, name);
  try {
    return body(r, type, xid, version);
  } catch (err) {
    throw inMessage(err, r.structure);
  }
}

export interface OFParserCallbacks {
  onMessage(msg: OFMessage): void;
  /**
   * A frame that could not be decoded. `fatal` false: the frame was skipped and parsing goes on.
   * `fatal` true: the stream cannot be framed any more (length < 8, or not OpenFlow 1.3); the parser
   * dropped what it held and the connection should be closed. `frame` is the offending bytes when known.
   */
  onError(err: OFCodecError, frame: Buffer | undefined, fatal: boolean): void;
}

/**
 * One per connection. `push` each received chunk; whole messages are decoded straight out of the
 * chunk, and only a message split across chunks is copied (into a buffer of exactly its length).
 * `push` never throws. An exception thrown by a callback is re-thrown asynchronously (it is the
 * caller's bug) and does not disturb the parser.
 */
export class OFParser {
  // The frame being assembled across chunks: an 8-byte scratch until its header is known, then a
  // buffer of exactly its length. Never reused once handed out, because decoded messages view into it.
  private pending: Buffer | undefined;
  private pendingLen = 0;
  private headerKnown = false;

  constructor(private readonly callbacks: OFParserCallbacks) {}

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.pendingLen;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    if (this.pendingLen > 0) {
      pos = this.fillPending(chunk);
      if (pos < 0) return;
    }
    const end = chunk.length;
    while (end - pos >= OFP_HEADER_LEN) {
      const len = this.frameLength(chunk, pos);
      if (len < 0) return;
      if (end - pos < len) break;
      const frame = chunk.subarray(pos, pos + len);
      pos += len;
      this.deliver(frame);
    }
    if (pos < end) this.keep(chunk, pos);
  }

  /** Drops any partial message (e.g. when the connection is reset). */
  reset(): void {
    this.pending = undefined;
    this.pendingLen = 0;
    this.headerKnown = false;
  }

  /** Copies the start of a split frame; returns how much of the chunk it consumed, or -1 if all. */
  private fillPending(chunk: Buffer): number {
    let pos = 0;
    let p = this.pending!;
    if (!this.headerKnown) {
      pos = Math.min(OFP_HEADER_LEN - this.pendingLen, chunk.length);
      chunk.copy(p, this.pendingLen, 0, pos);
      this.pendingLen += pos;
      if (this.pendingLen < OFP_HEADER_LEN) return -1;
      const len = this.frameLength(p, 0);
      if (len < 0) return -1;
      if (len > OFP_HEADER_LEN) {
        const frame = Buffer.allocUnsafe(len);
        p.copy(frame, 0, 0, OFP_HEADER_LEN);
        p = frame;
        this.pending = frame;
      }
      this.headerKnown = true;
    }
    const take = Math.min(p.length - this.pendingLen, chunk.length - pos);
    chunk.copy(p, this.pendingLen, pos, pos + take);
    this.pendingLen += take;
    pos += take;
    if (this.pendingLen < p.length) return -1;
    this.reset();
    this.deliver(p);
    return pos;
  }

  private keep(chunk: Buffer, pos: number): void {
    const left = chunk.length - pos;
    // A complete header was already validated by the loop, so its length is known and sane.
    this.headerKnown = left >= OFP_HEADER_LEN;
    const size = this.headerKnown ? (chunk[pos + 2]! << 8) | chunk[pos + 3]! : OFP_HEADER_LEN;
    const p = Buffer.allocUnsafe(size);
    chunk.copy(p, 0, pos);
    this.pending = p;
    this.pendingLen = left;
  }

  /** The frame length from the header at `pos`, or -1 after reporting a fatal framing error. */
  private frameLength(buf: Buffer, pos: number): number {
    const version = buf[pos]!;
    const type = buf[pos + 1]!;
    const len = (buf[pos + 2]! << 8) | buf[pos + 3]!;
    if (len >= OFP_HEADER_LEN && (version === OFP_VERSION || type === OFPT.HELLO)) return len;
    const header = Buffer.from(buf.subarray(pos, pos + OFP_HEADER_LEN));
    const err =
      len < OFP_HEADER_LEN
        ? new OFCodecError(
            messageTypeName(type),
            'length',
            `length field ${len} < 8: stream cannot be framed`,
          )
        : new OFCodecError(
            messageTypeName(type),
            'version',
            `0x${version.toString(16)} is not OpenFlow 1.3 (0x04)`,
          );
    this.reset();
    this.report(err, header, true);
    return -1;
  }

  private deliver(frame: Buffer): void {
    let msg: OFMessage;
    try {
      msg = decodeMessage(frame);
    } catch (err) {
      const codecErr = err instanceof OFCodecError ? err : inMessage(err, messageTypeName(frame[1]!));
      this.report(codecErr, frame, false);
      return;
    }
    try {
      this.callbacks.onMessage(msg);
    } catch (err) {
      rethrowLater(err);
    }
  }

  private report(err: OFCodecError, frame: Buffer | undefined, fatal: boolean): void {
    try {
      this.callbacks.onError(err, frame, fatal);
    } catch (cbErr) {
      rethrowLater(cbErr);
    }
  }
}

function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}
