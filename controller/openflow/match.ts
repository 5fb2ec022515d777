// Owns the OpenFlow 1.3 match (ofp_match of type OXM): field model, encoding and decoding, and the
// headers that name a field in an action.
// Imports nothing outside controller/openflow; the encoder never allocates per call beyond the Writer.

import { formatIpv4, formatIpv6, formatMac, parseIpv4, parseIpv6Into, parseMacInto } from './addr.js';
import { OFCodecError, type Reader, Writer } from './buffer.js';

/** A value, or a value with a mask (bits set in the mask are matched). */
export type Masked<T> = T | { value: T; mask: T };

/**
 * The fields a flow can match on. Representation (also used by set_field actions):
 * - ports, 8/16/32-bit fields, registers: number (unsigned)
 * - 64-bit and wider fields (metadata, tunnelId, tunId, xxreg*, ctLabel): bigint
 * - MAC addresses: lower-case "aa:bb:cc:dd:ee:ff"
 * - IPv4 addresses: dotted "10.1.1.1"; IPv6: canonical RFC 5952 text ("fe80::1")
 * - vlanVid: the 12-bit VID with OFPVID_PRESENT (0x1000) set when a tag is present, as on the wire
 *   (0x1000|vid matches a tag, 0 matches untagged, {value:0x1000,mask:0x1000} matches any tag)
 * - ctState: bits as in OVS (new=0x01, est=0x02, rel=0x04, rpl=0x08, inv=0x10, trk=0x20, snat=0x40,
 *   dnat=0x80); use `ctState("+trk+new")` to build one
 * The declaration order below is the canonical wire order of encodeMatch.
 */
export interface Match {
  inPort?: number;
  inPhyPort?: number;
  metadata?: Masked<bigint>;
  ethDst?: Masked<string>;
  ethSrc?: Masked<string>;
  ethType?: number;
  vlanVid?: Masked<number>;
  vlanPcp?: number;
  ipDscp?: number;
  ipEcn?: number;
  ipProto?: number;
  ipv4Src?: Masked<string>;
  ipv4Dst?: Masked<string>;
  tcpSrc?: Masked<number>;
  tcpDst?: Masked<number>;
  udpSrc?: Masked<number>;
  udpDst?: Masked<number>;
  sctpSrc?: Masked<number>;
  sctpDst?: Masked<number>;
  icmpv4Type?: number;
  icmpv4Code?: number;
  arpOp?: number;
  arpSpa?: Masked<string>;
  arpTpa?: Masked<string>;
  arpSha?: Masked<string>;
  arpTha?: Masked<string>;
  ipv6Src?: Masked<string>;
  ipv6Dst?: Masked<string>;
  ipv6Flabel?: Masked<number>;
  icmpv6Type?: number;
  icmpv6Code?: number;
  ipv6NdTarget?: Masked<string>;
  ipv6NdSll?: Masked<string>;
  ipv6NdTll?: Masked<string>;
  tunnelId?: Masked<bigint>;
  // Nicira extension fields (NXM_NX class). OVS treats tunId and tunnelId as one field (tun_id),
  // and xxregN as overlaying reg(4N)..reg(4N+3): never set both of an overlapping pair.
  reg0?: Masked<number>;
  reg1?: Masked<number>;
  reg2?: Masked<number>;
  reg3?: Masked<number>;
  reg4?: Masked<number>;
  reg5?: Masked<number>;
  reg6?: Masked<number>;
  reg7?: Masked<number>;
  reg8?: Masked<number>;
  reg9?: Masked<number>;
  reg10?: Masked<number>;
  reg11?: Masked<number>;
  reg12?: Masked<number>;
  reg13?: Masked<number>;
  reg14?: Masked<number>;
  reg15?: Masked<number>;
  xxreg0?: Masked<bigint>;
  xxreg1?: Masked<bigint>;
  xxreg2?: Masked<bigint>;
  xxreg3?: Masked<bigint>;
  tunId?: Masked<bigint>;
  tunIpv4Src?: Masked<string>;
  tunIpv4Dst?: Masked<string>;
  ctState?: Masked<number>;
  ctZone?: number;
  ctMark?: Masked<number>;
  ctLabel?: Masked<bigint>;
  conjId?: number;
}

export type MatchField = keyof Match;

// ---------------------------------------------------------------------------------------------
// The field table: one static descriptor per field, in Match declaration order.

/** OXM classes we speak. */
export const enum OxmClass {
  NXM_0 = 0x0000,
  NXM_1 = 0x0001,
  OPENFLOW_BASIC = 0x8000,
  EXPERIMENTER = 0xffff,
}

const enum Kind {
  U8,
  U16,
  U32,
  U64,
  U128,
  MAC,
  IPV4,
  IPV6,
}

interface FieldDesc {
  readonly key: MatchField;
  readonly cls: number;
  readonly field: number;
  readonly kind: Kind;
  /** Payload bytes of the unmasked TLV. */
  readonly len: number;
  /** For number kinds: the largest value, which is also the all-ones mask. */
  readonly max: number;
  readonly maskable: boolean;
  /** OXM header of the exact and of the masked TLV, precomputed. */
  readonly hdr: number;
  readonly hdrMasked: number;
  /** The header naming the field in an action (reg_load, reg_move, output_reg, ct zone), and its width. */
  readonly ref: FieldHeader;
}

const KIND_LEN = [1, 2, 4, 8, 16, 6, 4, 16] as const;

function desc(
  key: MatchField,
  cls: number,
  field: number,
  kind: Kind,
  maskable: boolean,
  bits = 0,
  nxm?: readonly [cls: number, field: number, bytes?: number],
): FieldDesc {
  const len = KIND_LEN[kind];
  const max = bits === 0 ? (kind <= Kind.U32 ? 2 ** (len * 8) - 1 : 0) : 2 ** bits - 1;
  const base = ((cls << 16) | (field << 9)) >>> 0;
  const refBytes = nxm?.[2] ?? len;
  const ref = {
    header: nxm === undefined ? (base | len) >>> 0 : ((nxm[0] << 16) | (nxm[1] << 9) | refBytes) >>> 0,
    bits: nxm?.[2] !== undefined ? refBytes * 8 : bits === 0 ? len * 8 : bits,
  };
  return {
    key,
    cls,
    field,
    kind,
    len,
    max,
    maskable,
    hdr: (base | len) >>> 0,
    hdrMasked: (base | 0x100 | (len * 2)) >>> 0,
    ref,
  };
}

const B = OxmClass.OPENFLOW_BASIC;
const NXM_0 = OxmClass.NXM_0;
const NX = OxmClass.NXM_1;

// Field numbers: OpenFlow 1.3 §7.2.3.7 (OFPXMT_OFB_*); NXM_NX numbers from OVS ovs-fields(7)
// (meta-flow.xml). xxreg is NXM_NX_XXREG0..3 = 111..114 in class 0x0001, not an experimenter OXM.
// The last column, [class, number, bytes], is the NXM name of a basic field: actions name a field by
// it where it has one, because that is the header OVS writes back in dump-flows (nx_put_mff_header
// with version 0); NXM_OF_IN_PORT is the 16-bit port.
const FIELDS: readonly FieldDesc[] = [
  desc('inPort', B, 0, Kind.U32, false, 0, [NXM_0, 0, 2]),
  desc('inPhyPort', B, 1, Kind.U32, false),
  desc('metadata', B, 2, Kind.U64, true),
  desc('ethDst', B, 3, Kind.MAC, true, 0, [NXM_0, 1]),
  desc('ethSrc', B, 4, Kind.MAC, true, 0, [NXM_0, 2]),
  desc('ethType', B, 5, Kind.U16, false, 0, [NXM_0, 3]),
  desc('vlanVid', B, 6, Kind.U16, true, 13),
  desc('vlanPcp', B, 7, Kind.U8, false, 3),
  desc('ipDscp', B, 8, Kind.U8, false, 6),
  desc('ipEcn', B, 9, Kind.U8, false, 2, [NX, 28]),
  desc('ipProto', B, 10, Kind.U8, false, 0, [NXM_0, 6]),
  desc('ipv4Src', B, 11, Kind.IPV4, true, 0, [NXM_0, 7]),
  desc('ipv4Dst', B, 12, Kind.IPV4, true, 0, [NXM_0, 8]),
  desc('tcpSrc', B, 13, Kind.U16, true, 0, [NXM_0, 9]),
  desc('tcpDst', B, 14, Kind.U16, true, 0, [NXM_0, 10]),
  desc('udpSrc', B, 15, Kind.U16, true, 0, [NXM_0, 11]),
  desc('udpDst', B, 16, Kind.U16, true, 0, [NXM_0, 12]),
  desc('sctpSrc', B, 17, Kind.U16, true),
  desc('sctpDst', B, 18, Kind.U16, true),
  desc('icmpv4Type', B, 19, Kind.U8, false, 0, [NXM_0, 13]),
  desc('icmpv4Code', B, 20, Kind.U8, false, 0, [NXM_0, 14]),
  desc('arpOp', B, 21, Kind.U16, false, 0, [NXM_0, 15]),
  desc('arpSpa', B, 22, Kind.IPV4, true, 0, [NXM_0, 16]),
  desc('arpTpa', B, 23, Kind.IPV4, true, 0, [NXM_0, 17]),
  desc('arpSha', B, 24, Kind.MAC, true, 0, [NX, 17]),
  desc('arpTha', B, 25, Kind.MAC, true, 0, [NX, 18]),
  desc('ipv6Src', B, 26, Kind.IPV6, true, 0, [NX, 19]),
  desc('ipv6Dst', B, 27, Kind.IPV6, true, 0, [NX, 20]),
  desc('ipv6Flabel', B, 28, Kind.U32, true, 20, [NX, 27]),
  desc('icmpv6Type', B, 29, Kind.U8, false, 0, [NX, 21]),
  desc('icmpv6Code', B, 30, Kind.U8, false, 0, [NX, 22]),
  desc('ipv6NdTarget', B, 31, Kind.IPV6, true, 0, [NX, 23]),
  desc('ipv6NdSll', B, 32, Kind.MAC, true, 0, [NX, 24]),
  desc('ipv6NdTll', B, 33, Kind.MAC, true, 0, [NX, 25]),
  desc('tunnelId', B, 38, Kind.U64, true),
  desc('reg0', NX, 0, Kind.U32, true),
  desc('reg1', NX, 1, Kind.U32, true),
  desc('reg2', NX, 2, Kind.U32, true),
  desc('reg3', NX, 3, Kind.U32, true),
  desc('reg4', NX, 4, Kind.U32, true),
  desc('reg5', NX, 5, Kind.U32, true),
  desc('reg6', NX, 6, Kind.U32, true),
  desc('reg7', NX, 7, Kind.U32, true),
  desc('reg8', NX, 8, Kind.U32, true),
  desc('reg9', NX, 9, Kind.U32, true),
  desc('reg10', NX, 10, Kind.U32, true),
  desc('reg11', NX, 11, Kind.U32, true),
  desc('reg12', NX, 12, Kind.U32, true),
  desc('reg13', NX, 13, Kind.U32, true),
  desc('reg14', NX, 14, Kind.U32, true),
  desc('reg15', NX, 15, Kind.U32, true),
  desc('xxreg0', NX, 111, Kind.U128, true),
  desc('xxreg1', NX, 112, Kind.U128, true),
  desc('xxreg2', NX, 113, Kind.U128, true),
  desc('xxreg3', NX, 114, Kind.U128, true),
  desc('tunId', NX, 16, Kind.U64, true),
  desc('tunIpv4Src', NX, 31, Kind.IPV4, true),
  desc('tunIpv4Dst', NX, 32, Kind.IPV4, true),
  desc('ctState', NX, 105, Kind.U32, true),
  desc('ctZone', NX, 106, Kind.U16, false),
  desc('ctMark', NX, 107, Kind.U32, true),
  desc('ctLabel', NX, 108, Kind.U128, true),
  desc('conjId', NX, 37, Kind.U32, false),
];

// Decode lookup: 128 slots per class (the field number is 7 bits).
const BY_BASIC: (FieldDesc | undefined)[] = new Array(128).fill(undefined);
const BY_NX: (FieldDesc | undefined)[] = new Array(128).fill(undefined);
const BY_KEY = new Map<string, FieldDesc>();
for (const d of FIELDS) {
  (d.cls === B ? BY_BASIC : BY_NX)[d.field] = d;
  BY_KEY.set(d.key, d);
}
const CT_STATE = BY_KEY.get('ctState')!;
/** Field name -> index in FIELDS. */
const FIELD_INDEX = new Map<string, number>(FIELDS.map((d, i) => [d.key, i]));
if (FIELDS.length > 64) throw new Error('match.ts: the presence bitmap holds 64 fields');

/** The match fields in canonical (wire) order. */
export const MATCH_FIELDS: readonly MatchField[] = FIELDS.map((d) => d.key);

/** The 32-bit NXM/OXM header naming a field in an action, and the field's width in bits. */
export interface FieldHeader {
  header: number;
  bits: number;
}

/** Header -> field for action field references: the NXM header, and a basic field's OXM header of the same width. */
const FIELD_OF_REF = new Map<number, MatchField>();
for (const d of FIELDS) {
  FIELD_OF_REF.set(d.ref.header, d.key);
  if ((d.ref.header & 0xff) === d.len) FIELD_OF_REF.set(d.hdr, d.key);
}

/** The NXM/OXM header and width of a field, for use as an action's field reference. */
export function fieldHeader(field: MatchField): FieldHeader {
  const d = BY_KEY.get(field);
  if (d === undefined) throw new Error(`field: ${field} has no NXM/OXM header`);
  return d.ref;
}

/** The field an NXM/OXM header (unmasked) names, NXM or OXM_OF class; undefined if unknown. */
export function fieldFromHeader(header: number): MatchField | undefined {
  return FIELD_OF_REF.get(header >>> 0);
}

const MAX64 = (1n << 64n) - 1n;
const MAX128 = (1n << 128n) - 1n;
const SHIFT64 = 64n;
/** ct_state bits OVS knows; it rejects a match whose value sets any other bit. */
const CT_STATE_KNOWN = 0xff;

// ---------------------------------------------------------------------------------------------
// Encoding.

interface AnyMasked {
  value: unknown;
  mask: unknown;
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

function badValue(d: FieldDesc, what: string, v: unknown): Error {
  return new Error(`${d.key}: invalid ${what} ${show(v)}`);
}

function checkNumber(d: FieldDesc, v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > d.max) throw badValue(d, what, v);
  return v;
}

function checkBig(d: FieldDesc, v: unknown, what: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > (d.kind === Kind.U64 ? MAX64 : MAX128)) {
    throw badValue(d, what, v);
  }
  return v;
}

/** Big-endian 8/16/32-bit store at o; returns the offset after it. */
function putNumber(buf: Buffer, o: number, len: number, v: number): number {
  if (len === 4) {
    buf[o++] = v >>> 24;
    buf[o++] = v >>> 16;
  }
  if (len >= 2) buf[o++] = v >>> 8;
  buf[o++] = v;
  return o;
}

// An 8-byte scratch for bigint stores: DataView.setBigUint64 is several times faster than
// Buffer.writeBigUInt64BE, and the scratch holds bytes only, never a caller's value.
const BIG_SCRATCH = new Uint8Array(8);
const BIG_VIEW = new DataView(BIG_SCRATCH.buffer);

/** 64 or 128 bits of a bigint at o (big-endian); returns the offset after it. */
function putBig(buf: Buffer, o: number, wide: boolean, v: bigint): number {
  if (wide) o = putBig(buf, o, false, v >> SHIFT64);
  BIG_VIEW.setBigUint64(0, v); // takes v modulo 2^64: the low half of a 128-bit value
  const s = BIG_SCRATCH;
  for (let i = 0; i < 8; i++) buf[o + i] = s[i]!;
  return o + 8;
}

/** Parses a text value of a string kind into buf at `at` (space already ensured). */
function parseTextInto(d: FieldDesc, s: unknown, buf: Buffer, at: number, what: string): void {
  if (typeof s === 'string') {
    if (d.kind === Kind.MAC) {
      if (parseMacInto(s, buf, at)) return;
    } else if (d.kind === Kind.IPV4) {
      const v = parseIpv4(s, 0, s.length);
      if (v >= 0) {
        putNumber(buf, at, 4, v);
        return;
      }
    } else if (parseIpv6Into(s, buf, at)) {
      return;
    }
  }
  throw badValue(d, what, s);
}

/**
 * Writes one field as an OXM TLV straight into the writer's buffer (one `ensure` for the largest
 * form). `wildcardOk`: a zero mask means "match anything", so inside a match the field is left
 * out; a set_field has no such meaning and it is an error.
 */
function writeField(w: Writer, d: FieldDesc, v: unknown, wildcardOk: boolean): void {
  const kind = d.kind;
  const len = d.len;
  w.ensure(4 + 2 * len);
  const buf = w.buf;
  const start = w.off;
  if (kind <= Kind.U32) {
    let value: number;
    let mask = d.max;
    if (typeof v === 'number') {
      value = checkNumber(d, v, 'value');
    } else {
      if (typeof v !== 'object' || v === null || !d.maskable) throw badValue(d, 'value', v);
      mask = checkNumber(d, (v as AnyMasked).mask, 'mask');
      value = (checkNumber(d, (v as AnyMasked).value, 'value') & mask) >>> 0;
    }
    if (d === CT_STATE && (value & ~CT_STATE_KNOWN) !== 0) throw badValue(d, 'value', v);
    if (mask === d.max) {
      putNumber(buf, start, 4, d.hdr);
      w.off = putNumber(buf, start + 4, len, value);
    } else if (mask !== 0) {
      putNumber(buf, start, 4, d.hdrMasked);
      w.off = putNumber(buf, putNumber(buf, start + 4, len, value), len, mask);
    } else if (!wildcardOk) {
      throw badValue(d, 'mask', mask);
    }
    return;
  }
  if (kind <= Kind.U128) {
    const wide = kind === Kind.U128;
    const full = wide ? MAX128 : MAX64;
    let value: bigint;
    let mask = full;
    if (typeof v === 'bigint') {
      value = checkBig(d, v, 'value');
    } else {
      if (typeof v !== 'object' || v === null) throw badValue(d, 'value', v);
      mask = checkBig(d, (v as AnyMasked).mask, 'mask');
      value = checkBig(d, (v as AnyMasked).value, 'value');
      if (mask !== full) value &= mask;
    }
    if (mask === full) {
      putNumber(buf, start, 4, d.hdr);
      w.off = putBig(buf, start + 4, wide, value);
    } else if (mask !== 0n) {
      putNumber(buf, start, 4, d.hdrMasked);
      w.off = putBig(buf, putBig(buf, start + 4, wide, value), wide, mask);
    } else if (!wildcardOk) {
      throw badValue(d, 'mask', mask);
    }
    return;
  }
  // Text kinds: parse straight into the buffer, then decide exact/masked/omitted.
  const at = start + 4;
  if (typeof v === 'string') {
    parseTextInto(d, v, buf, at, 'value');
    putNumber(buf, start, 4, d.hdr);
    w.off = at + len;
    return;
  }
  if (typeof v !== 'object' || v === null) throw badValue(d, 'value', v);
  parseTextInto(d, (v as AnyMasked).value, buf, at, 'value');
  parseTextInto(d, (v as AnyMasked).mask, buf, at + len, 'mask');
  let ones = true;
  let zeros = true;
  for (let i = 0; i < len; i++) {
    const m = buf[at + len + i]!;
    if (m !== 0xff) ones = false;
    if (m !== 0) zeros = false;
    buf[at + i] = buf[at + i]! & m;
  }
  if (ones) {
    putNumber(buf, start, 4, d.hdr);
    w.off = at + len;
  } else if (!zeros) {
    putNumber(buf, start, 4, d.hdrMasked);
    w.off = at + 2 * len;
  } else if (!wildcardOk) {
    throw badValue(d, 'mask', (v as AnyMasked).mask);
  }
  // A zero mask inside a match: nothing written, w.off never moved.
}

/**
 * Rewrites fields that OVS stores under another name into that name: tunId is OXM tunnel_id, and
 * xxregN is reg(4N)..reg(4N+3), most significant first. Returns `m` itself when it has none; a
 * reconciler uses this so a flow's identity survives a trip through the switch.
 */
export function withoutAliases(m: Match): Match {
  if (
    m.tunId === undefined &&
    m.xxreg0 === undefined &&
    m.xxreg1 === undefined &&
    m.xxreg2 === undefined &&
    m.xxreg3 === undefined
  ) {
    return m;
  }
  const out: Match = { ...m };
  const take = (field: MatchField, what: string): void => {
    if (out[field] !== undefined) throw new Error(`encodeMatch: ${what} and ${field} name the same bits`);
  };
  if (out.tunId !== undefined) {
    take('tunnelId', 'tunId');
    out.tunnelId = out.tunId;
    delete out.tunId;
  }
  for (let n = 0; n < 4; n++) {
    const key = `xxreg${n}` as 'xxreg0';
    const v = out[key];
    if (v === undefined) continue;
    delete out[key];
    const value = typeof v === 'bigint' ? v : v.value;
    const mask = typeof v === 'bigint' ? MAX128 : v.mask;
    for (let i = 0; i < 4; i++) {
      const shift = BigInt(96 - 32 * i);
      const part = Number((mask >> shift) & 0xffffffffn);
      if (part === 0) continue;
      const reg = `reg${4 * n + i}` as 'reg0';
      take(reg, key);
      const val = Number((value >> shift) & 0xffffffffn) & part;
      out[reg] = part === 0xffffffff ? val >>> 0 : { value: val >>> 0, mask: part >>> 0 };
    }
  }
  return out;
}

/** Encodes a whole ofp_match (type OXM, length, the OXM TLVs, zero padding to 8 bytes). */
export function encodeMatch(w: Writer, m: Match): void {
  const start = w.off;
  w.u32(0x00010000); // type OFPMT_OXM, length filled in below
  // Which fields are present, as bits of the table index: a pass over the match's own keys costs
  // as many steps as it has keys, where probing all 63 names would cost 63 keyed misses.
  const src = m as Record<string, unknown>;
  let lo = 0;
  let hi = 0;
  for (const key in src) {
    const i = FIELD_INDEX.get(key);
    if (i === undefined) throw new Error(`encodeMatch: unknown match field ${show(key)}`);
    if (src[key] === undefined) continue;
    if (i < 32) lo |= 1 << i;
    else hi |= 1 << (i - 32);
  }
  // Then write them in table order, lowest bit first.
  while (lo !== 0) {
    const bit = lo & -lo;
    lo ^= bit;
    const d = FIELDS[31 - Math.clz32(bit)]!;
    writeField(w, d, src[d.key], true);
  }
  while (hi !== 0) {
    const bit = hi & -hi;
    hi ^= bit;
    const d = FIELDS[63 - Math.clz32(bit)]!;
    writeField(w, d, src[d.key], true);
  }
  const len = w.off - start;
  w.setU16(start + 2, len);
  // Zero padding to 8, by hand: Buffer.fill costs more than the few bytes it writes.
  const pad = (8 - (len & 7)) & 7;
  w.ensure(pad);
  const buf = w.buf;
  let o = w.off;
  for (let k = 0; k < pad; k++) buf[o++] = 0;
  w.off = o;
}

/** Encodes one field as a single OXM TLV (no mask unless the value carries one); used by set_field. */
export function encodeOxm(w: Writer, field: MatchField, value: NonNullable<Match[MatchField]>): void {
  const d = BY_KEY.get(field);
  if (d === undefined) throw new Error(`encodeOxm: unknown match field ${show(field)}`);
  writeField(w, d, value, false);
}

// ---------------------------------------------------------------------------------------------
// Decoding.

function hex(n: number, width: number): string {
  return `0x${n.toString(16).padStart(width, '0')}`;
}

function readNumber(buf: Buffer, at: number, len: number): number {
  if (len === 1) return buf[at]!;
  if (len === 2) return (buf[at]! << 8) | buf[at + 1]!;
  return buf.readUInt32BE(at);
}

function readU128(buf: Buffer, at: number): bigint {
  return (buf.readBigUInt64BE(at) << SHIFT64) | buf.readBigUInt64BE(at + 8);
}

function formatText(kind: Kind, buf: Buffer, at: number): string {
  if (kind === Kind.MAC) return formatMac(buf, at);
  if (kind === Kind.IPV4) return formatIpv4(buf, at);
  return formatIpv6(buf, at);
}

/** Decodes the payload of a TLV already checked for length; undefined when the mask is zero. */
function decodeValue(d: FieldDesc, buf: Buffer, at: number, hasMask: boolean): unknown {
  const len = d.len;
  const kind = d.kind;
  if (kind <= Kind.U32) {
    const value = readNumber(buf, at, len);
    if (value > d.max) throw new OFCodecError('OXM', d.key, `value ${hex(value, 1)} is wider than the field`);
    if (!hasMask) return value;
    const mask = readNumber(buf, at + len, len);
    if (mask > d.max) throw new OFCodecError('OXM', d.key, `mask ${hex(mask, 1)} is wider than the field`);
    if (mask === 0) return undefined;
    const masked = (value & mask) >>> 0;
    return mask === d.max ? masked : { value: masked, mask };
  }
  if (kind <= Kind.U128) {
    const wide = kind === Kind.U128;
    const value = wide ? readU128(buf, at) : buf.readBigUInt64BE(at);
    if (!hasMask) return value;
    const mask = wide ? readU128(buf, at + len) : buf.readBigUInt64BE(at + len);
    if (mask === 0n) return undefined;
    return mask === (wide ? MAX128 : MAX64) ? value & mask : { value: value & mask, mask };
  }
  if (!hasMask) return formatText(kind, buf, at);
  let ones = true;
  let zeros = true;
  for (let i = 0; i < len; i++) {
    const m = buf[at + len + i]!;
    if (m !== 0xff) ones = false;
    if (m !== 0) zeros = false;
  }
  if (zeros) return undefined;
  if (ones) return formatText(kind, buf, at);
  // Clear value bits outside the mask without touching the caller's buffer.
  const v = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) v[i] = buf[at + i]! & buf[at + len + i]!;
  return { value: formatText(kind, v, 0), mask: formatText(kind, buf, at + len) };
}

/** Decodes one OXM TLV into `into`. */
export function decodeOxm(r: Reader, into: Match): MatchField {
  if (r.remaining < 4) {
    throw new OFCodecError('OXM', 'header', `needs 4 bytes, ${r.remaining} left in the match`);
  }
  const header = r.u32('header');
  const cls = header >>> 16;
  const field = (header >>> 9) & 0x7f;
  const hasMask = (header & 0x100) !== 0;
  const len = header & 0xff;
  const d = cls === B ? BY_BASIC[field] : cls === NX ? BY_NX[field] : undefined;
  if (d === undefined) {
    let where = `class ${hex(cls, 4)} field ${field}`;
    if (cls === OxmClass.EXPERIMENTER && r.remaining >= 4) {
      where += ` experimenter ${hex(r.buf.readUInt32BE(r.off), 8)}`;
    }
    throw new OFCodecError('OXM', where, `unknown field (length ${len})`);
  }
  const want = hasMask ? 2 * d.len : d.len;
  if (len !== want) {
    throw new OFCodecError('OXM', d.key, `length ${len}${hasMask ? ' (masked)' : ''}, expected ${want}`);
  }
  if (len > r.remaining) {
    throw new OFCodecError('OXM', d.key, `length ${len} exceeds the ${r.remaining} bytes left in the match`);
  }
  if (hasMask && !d.maskable) throw new OFCodecError('OXM', d.key, 'masked, but the field is not maskable');
  const slot = into as Record<string, unknown>;
  if (slot[d.key] !== undefined) throw new OFCodecError('OXM', d.key, 'duplicate field');
  const at = r.off;
  r.off = at + len;
  const v = decodeValue(d, r.buf, at, hasMask);
  if (v !== undefined) slot[d.key] = v;
  return d.key;
}

/** Decodes a whole ofp_match, padding included. Throws OFCodecError on a malformed one. */
export function decodeMatch(r: Reader): Match {
  const start = r.off;
  const type = r.u16('ofp_match.type');
  if (type !== 1) throw new OFCodecError('ofp_match', 'type', `${type} is not OFPMT_OXM (1)`);
  const length = r.u16('ofp_match.length');
  if (length < 4) throw new OFCodecError('ofp_match', 'length', `${length} is shorter than its header`);
  const padded = (length + 7) & ~7;
  if (start + padded > r.end) {
    throw new OFCodecError(
      'ofp_match',
      'length',
      `${length} (padded ${padded}) exceeds the ${r.end - start} bytes left`,
    );
  }
  const body = r.sub(length - 4, 'OXM', 'ofp_match.length');
  const m: Match = {};
  while (body.remaining > 0) decodeOxm(body, m);
  r.off = start + padded;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Normal form, prerequisites, ct_state text.

/**
 * The canonical form of a match, as decodeMatch(encodeMatch(m)) returns it: masks of all ones
 * become plain values, zero masks drop the field, values are ANDed with their masks, and text is
 * canonical (lower-case MAC, RFC 5952 IPv6). Throws on the input encodeMatch would refuse.
 */
export function normalizeMatch(m: Match): Match {
  const out: Record<string, unknown> = {};
  const src = m as Record<string, unknown>;
  // Not a hot path: validate and canonicalise each field by writing it, then read it back.
  const w = new Writer(64);
  for (const d of FIELDS) {
    const v = src[d.key];
    if (v === undefined) continue;
    w.reset();
    writeField(w, d, v, true);
    if (w.off === 0) continue; // zero mask
    const hasMask = (w.buf.readUInt32BE(0) & 0x100) !== 0;
    const n = decodeValue(d, w.buf, 4, hasMask);
    if (n !== undefined) out[d.key] = n;
  }
  return out as Match;
}

const ETH_IPV4 = 0x0800;
const ETH_ARP = 0x0806;
const ETH_IPV6 = 0x86dd;

function exactValue(v: Masked<number> | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/**
 * Checks OpenFlow 1.3 prerequisites (§7.2.3.6, as OVS enforces them) and OVS's overlapping fields.
 * Returns a message naming the field and what it needs, or undefined when the match is valid.
 */
export function matchPrerequisiteError(m: Match): string | undefined {
  const eth = m.ethType;
  const proto = m.ipProto;
  const isIp = eth === ETH_IPV4 || eth === ETH_IPV6;
  const needEth = (f: MatchField, want: number): string | undefined =>
    m[f] !== undefined && eth !== want ? `${f} requires ethType=${hex(want, 4)}` : undefined;
  const needProto = (f: MatchField, want: number): string | undefined =>
    m[f] !== undefined && proto !== want ? `${f} requires ipProto=${want}` : undefined;

  if (m.vlanPcp !== undefined) {
    const vid = m.vlanVid;
    const present =
      typeof vid === 'number'
        ? (vid & 0x1000) !== 0
        : vid !== undefined && (vid.value & vid.mask & 0x1000) !== 0;
    if (!present) return 'vlanPcp requires vlanVid with OFPVID_PRESENT (0x1000)';
  }
  for (const f of ['ipDscp', 'ipEcn', 'ipProto'] as const) {
    if (m[f] !== undefined && !isIp) return `${f} requires ethType=0x0800 or ethType=0x86dd`;
  }
  const checks: (string | undefined)[] = [
    needEth('ipv4Src', ETH_IPV4),
    needEth('ipv4Dst', ETH_IPV4),
    needProto('tcpSrc', 6),
    needProto('tcpDst', 6),
    needProto('udpSrc', 17),
    needProto('udpDst', 17),
    needProto('sctpSrc', 132),
    needProto('sctpDst', 132),
    needEth('icmpv4Type', ETH_IPV4) ?? needProto('icmpv4Type', 1),
    needEth('icmpv4Code', ETH_IPV4) ?? needProto('icmpv4Code', 1),
    needEth('arpOp', ETH_ARP),
    needEth('arpSpa', ETH_ARP),
    needEth('arpTpa', ETH_ARP),
    needEth('arpSha', ETH_ARP),
    needEth('arpTha', ETH_ARP),
    needEth('ipv6Src', ETH_IPV6),
    needEth('ipv6Dst', ETH_IPV6),
    needEth('ipv6Flabel', ETH_IPV6),
    needEth('icmpv6Type', ETH_IPV6) ?? needProto('icmpv6Type', 58),
    needEth('icmpv6Code', ETH_IPV6) ?? needProto('icmpv6Code', 58),
  ];
  for (const c of checks) if (c !== undefined) return c;
  const icmp6 = exactValue(m.icmpv6Type);
  const nd: [MatchField, string, boolean][] = [
    ['ipv6NdTarget', 'icmpv6Type=135 or icmpv6Type=136', icmp6 === 135 || icmp6 === 136],
    ['ipv6NdSll', 'icmpv6Type=135', icmp6 === 135],
    ['ipv6NdTll', 'icmpv6Type=136', icmp6 === 136],
  ];
  for (const [f, need, ok] of nd) {
    if (m[f] === undefined) continue;
    if (eth !== ETH_IPV6) return `${f} requires ethType=0x86dd`;
    if (proto !== 58) return `${f} requires ipProto=58`;
    if (!ok) return `${f} requires ${need}`;
  }
  // Overlaps OVS refuses as duplicate fields (OFPBMC_DUP_FIELD).
  if (m.tunId !== undefined && m.tunnelId !== undefined) return 'tunId and tunnelId are both tun_id: set one';
  const regs = m as Record<string, unknown>;
  for (let x = 0; x < 4; x++) {
    if (regs[`xxreg${x}`] === undefined) continue;
    for (let r = 4 * x; r < 4 * x + 4; r++) {
      if (regs[`reg${r}`] !== undefined) return `xxreg${x} overlaps reg${r}: set one`;
    }
  }
  return undefined;
}

/** ct_state flag names in bit order (bit 0 = new). */
const CT_FLAGS = ['new', 'est', 'rel', 'rpl', 'inv', 'trk', 'snat', 'dnat'] as const;

/**
 * Parses OVS ct_state syntax: "+trk+new-est" (flags to be set or unset; the others wildcarded),
 * or numbers "0x21/0x21". Throws on an unknown, repeated or contradictory flag.
 */
export function ctState(text: string): { value: number; mask: number } {
  const s = text.trim();
  const c0 = s.charCodeAt(0);
  if (s.length > 0 && c0 !== 43 && c0 !== 45) {
    const slash = s.indexOf('/');
    const value = Number(slash < 0 ? s : s.slice(0, slash));
    const mask = slash < 0 ? 0xffffffff : Number(s.slice(slash + 1));
    const ok = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
    if (!ok(value) || !ok(mask) || s.slice(slash + 1).length === 0) {
      throw new Error(`ctState: invalid value ${JSON.stringify(text)}`);
    }
    return { value: (value & mask) >>> 0, mask };
  }
  let value = 0;
  let mask = 0;
  let i = 0;
  while (i < s.length) {
    const sign = s[i];
    let j = i + 1;
    while (j < s.length && s[j] !== '+' && s[j] !== '-') j++;
    const name = s.slice(i + 1, j);
    const bit = CT_FLAGS.indexOf(name as (typeof CT_FLAGS)[number]);
    if (bit < 0) throw new Error(`ctState: unknown flag ${JSON.stringify(name)} in ${JSON.stringify(text)}`);
    if ((mask & (1 << bit)) !== 0)
      throw new Error(`ctState: flag ${name} given twice in ${JSON.stringify(text)}`);
    mask |= 1 << bit;
    if (sign === '+') value |= 1 << bit;
    i = j;
  }
  if (mask === 0) throw new Error(`ctState: no flags in ${JSON.stringify(text)}`);
  return { value, mask };
}

/**
 * Formats a ct_state match as OVS prints it: "+new-est+trk" for a mask of known flags (bit order),
 * "new|trk" for an exact value, hex "value/mask" when the mask holds bits OVS has no name for.
 */
export function formatCtState(state: Masked<number>): string {
  if (typeof state === 'number') {
    if (state === 0) return '0';
    if ((state & ~CT_STATE_KNOWN) !== 0) return hex(state, 1);
    const names: string[] = [];
    for (let b = 0; b < CT_FLAGS.length; b++) if ((state & (1 << b)) !== 0) names.push(CT_FLAGS[b]!);
    return names.join('|');
  }
  const { value, mask } = state;
  if (mask === 0xffffffff) return formatCtState(value);
  if ((mask & ~CT_STATE_KNOWN) !== 0) return `${hex(value, 1)}/${hex(mask >>> 0, 1)}`;
  let out = '';
  for (let b = 0; b < CT_FLAGS.length; b++) {
    if ((mask & (1 << b)) !== 0) out += `${(value & (1 << b)) !== 0 ? '+' : '-'}${CT_FLAGS[b]}`;
  }
  return out;
}
