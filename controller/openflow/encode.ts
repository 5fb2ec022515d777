// Owns turning OFMessage values into OpenFlow 1.3 wire bytes: one small encoder per message, all
// appending to a shared Writer. It never decodes, never does I/O and never imports outside controller/openflow.

import { encodeActions, encodeInstructions } from './actions-encode.js';
import { OFCodecError, Writer } from './buffer.js';
import { encodeMatch } from './match.js';
import type {
  AsyncConfig,
  Bucket,
  Desc,
  ErrorMsg,
  FlowMod,
  FlowRemoved,
  FlowStats,
  FlowStatsRequest,
  GroupMod,
  Hello,
  MeterBand,
  MeterMod,
  MeterStats,
  MultipartReply,
  MultipartRequest,
  OFMessage,
  PacketIn,
  PacketOut,
  PortDesc,
  PortStats,
} from './messages.js';
import {
  MultipartType,
  OFP_VERSION,
  OFPT,
  ONF_EXPERIMENTER_ID,
  ONFT_BUNDLE_ADD_MESSAGE,
  ONFT_BUNDLE_CONTROL,
} from './messages.js';

const MAX_LEN = 0xffff;

/** Writes the 8-byte header with a zero length (patched by `finish`); returns where it starts. */
function header(w: Writer, type: number, xid: number, version = OFP_VERSION): number {
  w.ensure(8);
  const b = w.buf;
  const o = w.off;
  b[o] = version;
  b[o + 1] = type;
  b[o + 2] = 0;
  b[o + 3] = 0;
  b[o + 4] = xid >>> 24;
  b[o + 5] = xid >>> 16;
  b[o + 6] = xid >>> 8;
  b[o + 7] = xid;
  w.off = o + 8;
  return o;
}

function finish(w: Writer, start: number, structure: string): void {
  const len = w.off - start;
  if (len > MAX_LEN)
    throw new OFCodecError(structure, 'length', `${len} bytes exceed the 16-bit length field`);
  w.setU16(start + 2, len);
}

function u64(w: Writer, v: bigint): void {
  // Cookies and masks are usually 0: skip the BigInt conversion then.
  if (v === 0n) w.zeros(8);
  else w.u64(v);
}

/** Fixed-size, NUL-padded string field; always leaves at least one NUL, as the spec's char[] fields do. */
function fixedString(w: Writer, s: string, size: number): void {
  const start = w.off;
  w.zeros(size);
  w.buf.write(s, start, size - 1, 'utf8');
}

function mac(w: Writer, s: string, structure: string): void {
  const parts = s.split(':');
  if (parts.length !== 6) throw new OFCodecError(structure, 'hwAddr', `not a MAC address: "${s}"`);
  w.ensure(6);
  for (const p of parts) {
    const v = Number.parseInt(p, 16);
    if (p.length === 0 || p.length > 2 || Number.isNaN(v)) {
      throw new OFCodecError(structure, 'hwAddr', `not a MAC address: "${s}"`);
    }
    w.buf[w.off++] = v;
  }
}

// ---- messages with no body, or only raw bytes ----

function empty(w: Writer, type: number, xid: number): void {
  const start = header(w, type, xid);
  w.setU16(start + 2, 8);
}

function raw(w: Writer, type: number, xid: number, data: Buffer, structure: string): void {
  const start = header(w, type, xid);
  w.bytes(data);
  finish(w, start, structure);
}

function hello(w: Writer, m: Hello): void {
  const start = header(w, OFPT.HELLO, m.xid, m.version ?? OFP_VERSION);
  if (m.versions.length > 0) {
    const words = (Math.max(...m.versions) >>> 5) + 1;
    const elem = w.off;
    w.u16(1).u16(4 + 4 * words); // OFPHET_VERSIONBITMAP
    const bitmaps = w.off;
    w.zeros(4 * words);
    for (const v of m.versions) {
      const at = bitmaps + 4 * (v >>> 5);
      w.setU32(at, (w.buf.readUInt32BE(at) | (1 << (v & 31))) >>> 0);
    }
    w.pad8(elem);
  }
  finish(w, start, 'HELLO');
}

function error(w: Writer, m: ErrorMsg): void {
  const start = header(w, OFPT.ERROR, m.xid);
  w.u16(m.errType).u16(m.code);
  if (m.errType === 0xffff) w.u32(m.experimenter ?? 0);
  w.bytes(m.data);
  finish(w, start, 'ERROR');
}

// ---- switch configuration ----

function featuresReply(w: Writer, m: Extract<OFMessage, { type: 'featuresReply' }>): void {
  const start = header(w, OFPT.FEATURES_REPLY, m.xid);
  u64(w, m.datapathId);
  w.u32(m.nBuffers).u8(m.nTables).u8(m.auxiliaryId).zeros(2).u32(m.capabilities).zeros(4);
  finish(w, start, 'FEATURES_REPLY');
}

function switchConfig(w: Writer, type: number, m: { xid: number; flags: number; missSendLen: number }): void {
  const start = header(w, type, m.xid);
  w.u16(m.flags).u16(m.missSendLen);
  w.setU16(start + 2, 12);
}

function role(w: Writer, type: number, m: { xid: number; role: number; generationId: bigint }): void {
  const start = header(w, type, m.xid);
  w.u32(m.role).zeros(4);
  u64(w, m.generationId);
  w.setU16(start + 2, 24);
}

function asyncConfig(w: Writer, type: number, m: AsyncConfig & { xid: number }): void {
  const start = header(w, type, m.xid);
  w.u32(m.packetInMask[0]).u32(m.packetInMask[1]);
  w.u32(m.portStatusMask[0]).u32(m.portStatusMask[1]);
  w.u32(m.flowRemovedMask[0]).u32(m.flowRemovedMask[1]);
  w.setU16(start + 2, 32);
}

// ---- packets ----

function packetIn(w: Writer, m: PacketIn): void {
  const start = header(w, OFPT.PACKET_IN, m.xid);
  w.u32(m.bufferId).u16(m.totalLen).u8(m.reason).u8(m.tableId);
  u64(w, m.cookie);
  encodeMatch(w, m.match);
  w.zeros(2);
  w.bytes(m.data);
  finish(w, start, 'PACKET_IN');
}

function packetOut(w: Writer, m: PacketOut): void {
  const start = header(w, OFPT.PACKET_OUT, m.xid);
  w.u32(m.bufferId).u32(m.inPort);
  const lenAt = w.off;
  w.zeros(8); // actions_len + pad[6]
  const actionsStart = w.off;
  encodeActions(w, m.actions);
  w.setU16(lenAt, w.off - actionsStart);
  w.bytes(m.data);
  finish(w, start, 'PACKET_OUT');
}

// ---- flows ----

/** The hot path (≥1M/s): fixed part written byte by byte after a single bounds check. */
function flowMod(w: Writer, m: FlowMod): void {
  const start = header(w, OFPT.FLOW_MOD, m.xid);
  u64(w, m.cookie);
  u64(w, m.cookieMask);
  w.ensure(32);
  const b = w.buf;
  const o = w.off;
  b[o] = m.tableId;
  b[o + 1] = m.command;
  b[o + 2] = m.idleTimeout >>> 8;
  b[o + 3] = m.idleTimeout;
  b[o + 4] = m.hardTimeout >>> 8;
  b[o + 5] = m.hardTimeout;
  b[o + 6] = m.priority >>> 8;
  b[o + 7] = m.priority;
  w.setU32(o + 8, m.bufferId);
  w.setU32(o + 12, m.outPort);
  w.setU32(o + 16, m.outGroup);
  b[o + 20] = m.flags >>> 8;
  b[o + 21] = m.flags;
  b[o + 22] = 0;
  b[o + 23] = 0;
  w.off = o + 24;
  encodeMatch(w, m.match);
  encodeInstructions(w, m.instructions);
  finish(w, start, 'FLOW_MOD');
}

function flowRemoved(w: Writer, m: FlowRemoved): void {
  const start = header(w, OFPT.FLOW_REMOVED, m.xid);
  u64(w, m.cookie);
  w.u16(m.priority).u8(m.reason).u8(m.tableId).u32(m.durationSec).u32(m.durationNsec);
  w.u16(m.idleTimeout).u16(m.hardTimeout);
  u64(w, m.packetCount);
  u64(w, m.byteCount);
  encodeMatch(w, m.match);
  finish(w, start, 'FLOW_REMOVED');
}

// ---- ports ----

/** struct ofp_port, 64 bytes. */
function port(w: Writer, p: PortDesc): void {
  w.u32(p.portNo).zeros(4);
  mac(w, p.hwAddr, 'PORT');
  w.zeros(2);
  fixedString(w, p.name, 16);
  w.u32(p.config).u32(p.state).u32(p.curr).u32(p.advertised).u32(p.supported).u32(p.peer);
  w.u32(p.currSpeed).u32(p.maxSpeed);
}

function portStatus(w: Writer, m: Extract<OFMessage, { type: 'portStatus' }>): void {
  const start = header(w, OFPT.PORT_STATUS, m.xid);
  w.u8(m.reason).zeros(7);
  port(w, m.desc);
  finish(w, start, 'PORT_STATUS');
}

// ---- groups and meters ----

function buckets(w: Writer, list: readonly Bucket[]): void {
  for (const bk of list) {
    const start = w.off;
    w.u16(0).u16(bk.weight).u32(bk.watchPort).u32(bk.watchGroup).zeros(4);
    encodeActions(w, bk.actions);
    w.setU16(start, w.off - start);
  }
}

function groupMod(w: Writer, m: GroupMod): void {
  const start = header(w, OFPT.GROUP_MOD, m.xid);
  w.u16(m.command).u8(m.groupType).u8(0).u32(m.groupId);
  buckets(w, m.buckets);
  finish(w, start, 'GROUP_MOD');
}

/** struct ofp_meter_band_drop / _dscp_remark: 16 bytes each. */
function bands(w: Writer, list: readonly MeterBand[]): void {
  for (const band of list) {
    w.u16(band.bandType).u16(16).u32(band.rate).u32(band.burstSize);
    if (band.bandType === 2) w.u8(band.precLevel ?? 0).zeros(3);
    else w.zeros(4);
  }
}

function meterMod(w: Writer, m: MeterMod): void {
  const start = header(w, OFPT.METER_MOD, m.xid);
  w.u16(m.command).u16(m.flags).u32(m.meterId);
  bands(w, m.bands);
  finish(w, start, 'METER_MOD');
}

// ---- multipart ----

function flowStatsRequest(w: Writer, q: FlowStatsRequest): void {
  w.u8(q.tableId).zeros(3).u32(q.outPort).u32(q.outGroup).zeros(4);
  u64(w, q.cookie);
  u64(w, q.cookieMask);
  encodeMatch(w, q.match);
}

function multipartRequest(w: Writer, m: MultipartRequest): void {
  const start = header(w, OFPT.MULTIPART_REQUEST, m.xid);
  w.u16(m.mpType).u16(m.flags).zeros(4);
  switch (m.mpType) {
    case MultipartType.DESC:
    case MultipartType.PORT_DESC:
    case MultipartType.GROUP_DESC:
      break;
    case MultipartType.FLOW:
    case MultipartType.AGGREGATE:
      flowStatsRequest(w, m.request);
      break;
    case MultipartType.PORT_STATS:
      w.u32(m.portNo).zeros(4);
      break;
    case MultipartType.METER:
    case MultipartType.METER_CONFIG:
      w.u32(m.meterId).zeros(4);
      break;
  }
  finish(w, start, 'MULTIPART_REQUEST');
}

function desc(w: Writer, d: Desc): void {
  fixedString(w, d.mfrDesc, 256);
  fixedString(w, d.hwDesc, 256);
  fixedString(w, d.swDesc, 256);
  fixedString(w, d.serialNum, 32);
  fixedString(w, d.dpDesc, 256);
}

function flowStats(w: Writer, f: FlowStats): void {
  const start = w.off;
  w.u16(0).u8(f.tableId).u8(0).u32(f.durationSec).u32(f.durationNsec);
  w.u16(f.priority).u16(f.idleTimeout).u16(f.hardTimeout).u16(f.flags).zeros(4);
  u64(w, f.cookie);
  u64(w, f.packetCount);
  u64(w, f.byteCount);
  encodeMatch(w, f.match);
  encodeInstructions(w, f.instructions);
  w.setU16(start, w.off - start);
}

function portStats(w: Writer, p: PortStats): void {
  w.u32(p.portNo).zeros(4);
  for (const v of [
    p.rxPackets,
    p.txPackets,
    p.rxBytes,
    p.txBytes,
    p.rxDropped,
    p.txDropped,
    p.rxErrors,
    p.txErrors,
    p.rxFrameErr,
    p.rxOverErr,
    p.rxCrcErr,
    p.collisions,
  ]) {
    u64(w, v);
  }
  w.u32(p.durationSec).u32(p.durationNsec);
}

function meterStats(w: Writer, s: MeterStats): void {
  w.u32(s.meterId)
    .u16(40 + 16 * s.bands.length)
    .zeros(6)
    .u32(s.flowCount);
  u64(w, s.packetInCount);
  u64(w, s.byteInCount);
  w.u32(s.durationSec).u32(s.durationNsec);
  for (const band of s.bands) {
    u64(w, band.packetBandCount);
    u64(w, band.byteBandCount);
  }
}

function multipartReply(w: Writer, m: MultipartReply): void {
  const start = header(w, OFPT.MULTIPART_REPLY, m.xid);
  w.u16(m.mpType === 'unknown' ? m.rawType : m.mpType)
    .u16(m.flags)
    .zeros(4);
  switch (m.mpType) {
    case MultipartType.DESC:
      desc(w, m.desc);
      break;
    case MultipartType.FLOW:
      for (const f of m.flows) flowStats(w, f);
      break;
    case MultipartType.AGGREGATE:
      u64(w, m.aggregate.packetCount);
      u64(w, m.aggregate.byteCount);
      w.u32(m.aggregate.flowCount).zeros(4);
      break;
    case MultipartType.PORT_STATS:
      for (const p of m.ports) portStats(w, p);
      break;
    case MultipartType.PORT_DESC:
      for (const p of m.ports) port(w, p);
      break;
    case MultipartType.GROUP_DESC:
      for (const g of m.groups) {
        const at = w.off;
        w.u16(0).u8(g.groupType).u8(0).u32(g.groupId);
        buckets(w, g.buckets);
        w.setU16(at, w.off - at);
      }
      break;
    case MultipartType.METER:
      for (const s of m.meters) meterStats(w, s);
      break;
    case MultipartType.METER_CONFIG:
      for (const c of m.configs) {
        const at = w.off;
        w.u16(0).u16(c.flags).u32(c.meterId);
        bands(w, c.bands);
        w.setU16(at, w.off - at);
      }
      break;
    case 'unknown':
      w.bytes(m.raw);
      break;
  }
  finish(w, start, 'MULTIPART_REPLY');
}

// ---- experimenter: ONF bundles for OpenFlow 1.3 ----

function experimenterHeader(w: Writer, xid: number, experimenter: number, expType: number): number {
  const start = header(w, OFPT.EXPERIMENTER, xid);
  w.u32(experimenter).u32(expType);
  return start;
}

function bundleControl(w: Writer, m: Extract<OFMessage, { type: 'bundleControl' }>): void {
  const start = experimenterHeader(w, m.xid, ONF_EXPERIMENTER_ID, ONFT_BUNDLE_CONTROL);
  w.u32(m.bundleId).u16(m.ctrlType).u16(m.flags);
  w.setU16(start + 2, 24);
}

/**
 * Appends an ONF BUNDLE_ADD_MESSAGE wrapping `inner`, without building a wrapper object: the way to
 * stream thousands of FLOW_MODs into one Writer. The inner header's xid is set to `xid`, as OVS requires.
 */
export function encodeBundleAdd(
  w: Writer,
  xid: number,
  bundleId: number,
  flags: number,
  inner: OFMessage,
): void {
  const start = experimenterHeader(w, xid, ONF_EXPERIMENTER_ID, ONFT_BUNDLE_ADD_MESSAGE);
  w.u32(bundleId).u16(0).u16(flags);
  const innerStart = w.off;
  encodeMessage(w, inner);
  w.setU32(innerStart + 4, xid);
  finish(w, start, 'BUNDLE_ADD_MESSAGE');
}

/**
 * Appends a BUNDLE_ADD_MESSAGE around an already encoded message (`frame`, left untouched; as bytes
 * or as a latin1 string, one char per byte): the copy in `w` gets `xid`. For callers that keep
 * their messages encoded.
 */
export function encodeBundleAddFrame(
  w: Writer,
  xid: number,
  bundleId: number,
  flags: number,
  frame: Buffer | string,
): void {
  const start = experimenterHeader(w, xid, ONF_EXPERIMENTER_ID, ONFT_BUNDLE_ADD_MESSAGE);
  w.u32(bundleId).u16(0).u16(flags);
  const innerStart = w.off;
  if (typeof frame === 'string') {
    w.ensure(frame.length);
    w.off += w.buf.write(frame, w.off, 'latin1');
  } else {
    w.bytes(frame);
  }
  w.setU32(innerStart + 4, xid);
  finish(w, start, 'BUNDLE_ADD_MESSAGE');
}

function experimenter(w: Writer, m: Extract<OFMessage, { type: 'experimenter' }>): void {
  const start = experimenterHeader(w, m.xid, m.experimenter, m.expType);
  w.bytes(m.data);
  finish(w, start, 'EXPERIMENTER');
}

/**
 * Appends one complete message (header, body, patched length) to `w`. If it throws (a value that
 * cannot be encoded), `w` is left as it was before the call.
 */
export function encodeMessage(w: Writer, msg: OFMessage): void {
  const start = w.off;
  try {
    encodeBody(w, msg);
  } catch (err) {
    w.off = start;
    throw err;
  }
}

function encodeBody(w: Writer, msg: OFMessage): void {
  switch (msg.type) {
    case 'flowMod':
      flowMod(w, msg);
      return;
    case 'bundleAdd':
      encodeBundleAdd(w, msg.xid, msg.bundleId, msg.flags, msg.message);
      return;
    case 'packetOut':
      packetOut(w, msg);
      return;
    case 'barrierRequest':
      empty(w, OFPT.BARRIER_REQUEST, msg.xid);
      return;
    case 'barrierReply':
      empty(w, OFPT.BARRIER_REPLY, msg.xid);
      return;
    case 'echoRequest':
      raw(w, OFPT.ECHO_REQUEST, msg.xid, msg.data, 'ECHO_REQUEST');
      return;
    case 'echoReply':
      raw(w, OFPT.ECHO_REPLY, msg.xid, msg.data, 'ECHO_REPLY');
      return;
    case 'hello':
      hello(w, msg);
      return;
    case 'error':
      error(w, msg);
      return;
    case 'featuresRequest':
      empty(w, OFPT.FEATURES_REQUEST, msg.xid);
      return;
    case 'featuresReply':
      featuresReply(w, msg);
      return;
    case 'getConfigRequest':
      empty(w, OFPT.GET_CONFIG_REQUEST, msg.xid);
      return;
    case 'getConfigReply':
      switchConfig(w, OFPT.GET_CONFIG_REPLY, msg);
      return;
    case 'setConfig':
      switchConfig(w, OFPT.SET_CONFIG, msg);
      return;
    case 'packetIn':
      packetIn(w, msg);
      return;
    case 'flowRemoved':
      flowRemoved(w, msg);
      return;
    case 'portStatus':
      portStatus(w, msg);
      return;
    case 'groupMod':
      groupMod(w, msg);
      return;
    case 'meterMod':
      meterMod(w, msg);
      return;
    case 'multipartRequest':
      multipartRequest(w, msg);
      return;
    case 'multipartReply':
      multipartReply(w, msg);
      return;
    case 'roleRequest':
      role(w, OFPT.ROLE_REQUEST, msg);
      return;
    case 'roleReply':
      role(w, OFPT.ROLE_REPLY, msg);
      return;
    case 'getAsyncRequest':
      empty(w, OFPT.GET_ASYNC_REQUEST, msg.xid);
      return;
    case 'getAsyncReply':
      asyncConfig(w, OFPT.GET_ASYNC_REPLY, msg);
      return;
    case 'setAsync':
      asyncConfig(w, OFPT.SET_ASYNC, msg);
      return;
    case 'bundleControl':
      bundleControl(w, msg);
      return;
    case 'experimenter':
      experimenter(w, msg);
      return;
  }
}

// One writer reused by `encode`: it only grows, and `take` copies the bytes out.
const scratch = new Writer(1 << 16);

/** Encodes one message into a new Buffer of exactly its length. */
export function encode(msg: OFMessage): Buffer {
  scratch.reset();
  try {
    encodeMessage(scratch, msg);
    return scratch.take();
  } finally {
    scratch.reset();
  }
}
