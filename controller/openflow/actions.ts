// Owns OpenFlow 1.3 actions and instructions, standard and Nicira/ONF extensions: model,
// encoding, decoding. Imports nothing outside controller/openflow.

import { formatIpv6 as formatIpv6At, parseIpv4 as parseIpv4Text, parseIpv6Into } from './addr.js';
import { OFCodecError, type Reader, type Writer } from './buffer.js';
import { decodeOxm, encodeOxm, type Match, type MatchField } from './match.js';

/** One field, or a bit range of it, as NXM source/destination (`reg0[0..15]` = ofs 0, nBits 16). */
export interface FieldRange {
  field: MatchField;
  ofs: number;
  nBits: number;
}

/** A set_field action on one match field (value representation as in `Match`). */
export type SetFieldAction = {
  [K in MatchField]: { type: 'setField'; field: K; value: NonNullable<Match[K]> };
}[MatchField];

/** NAT inside ct(): `nat`, `nat(src=10.0.0.1-10.0.0.9:1000-2000,random)`. */
export interface NatAction {
  type: 'nat';
  kind?: 'src' | 'dst';
  ipMin?: string;
  ipMax?: string;
  portMin?: number;
  portMax?: number;
  persistent?: boolean;
  hash?: boolean;
  random?: boolean;
}

export interface CtAction {
  type: 'ct';
  commit?: boolean;
  force?: boolean;
  /** Zone as an immediate, or taken from a field range (e.g. reg6[0..15]). */
  zone?: number | FieldRange;
  /** Table to recirculate to after conntrack; omitted means no recirculation. */
  table?: number;
  alg?: number;
  /** Nested actions: nat, and set_field of ctMark / ctLabel. */
  actions?: Action[];
}

/**
 * Decoders omit every optional field that holds its wire default (output maxLen, resubmit port
 * IN_PORT and table 255, ct zone 0 / no table / alg 0 / no actions, controller maxLen 0xffff,
 * reason OFPR_ACTION, id 0, false flags), so decode(encode(x)) deep-equals x written minimally.
 * Ports are OpenFlow 1.3 32-bit numbers everywhere, resubmit included (converted to the 16-bit
 * Nicira port space on the wire). A note comes back with its zero padding, as OVS shows it.
 */
export type Action =
  | { type: 'output'; port: number; maxLen?: number }
  | { type: 'group'; groupId: number }
  | { type: 'setQueue'; queueId: number }
  | { type: 'pushVlan'; ethertype: number }
  | { type: 'popVlan' }
  | { type: 'decTtl' }
  | { type: 'setMplsTtl'; ttl: number }
  | { type: 'setNwTtl'; ttl: number }
  | SetFieldAction
  // Nicira extensions
  | { type: 'resubmit'; port?: number; table?: number }
  /** Output to the port number held in a field range (`output:NXM_NX_REG1[]`); maxLen default 0xffff. */
  | { type: 'outputReg'; src: FieldRange; maxLen?: number }
  | { type: 'regLoad'; dst: FieldRange; value: bigint }
  | { type: 'regMove'; src: FieldRange; dst: FieldRange }
  | { type: 'conjunction'; id: number; clause: number; nClauses: number }
  | CtAction
  | NatAction
  | { type: 'ctClear' }
  | { type: 'note'; data: Buffer }
  | { type: 'controller'; maxLen?: number; reason?: number; controllerId?: number };

export type Instruction =
  | { type: 'gotoTable'; tableId: number }
  | { type: 'writeMetadata'; metadata: bigint; mask: bigint }
  | { type: 'applyActions'; actions: Action[] }
  | { type: 'writeActions'; actions: Action[] }
  | { type: 'clearActions' }
  | { type: 'meter'; meterId: number };

// ---------------------------------------------------------------------------------------------
// Wire constants: OpenFlow 1.3 §7.2.4-7.2.5; OVS include/openflow/nicira-ext.h,
// include/openvswitch/ofp-actions.h and lib/ofp-actions.c (enum ofp_raw_action_type).

const enum OFPAT {
  OUTPUT = 0,
  SET_MPLS_TTL = 15,
  PUSH_VLAN = 17,
  POP_VLAN = 18,
  SET_QUEUE = 21,
  GROUP = 22,
  SET_NW_TTL = 23,
  DEC_NW_TTL = 24,
  SET_FIELD = 25,
  EXPERIMENTER = 0xffff,
}

const enum NXAST {
  RESUBMIT = 1,
  REG_MOVE = 6,
  REG_LOAD = 7,
  NOTE = 8,
  RESUBMIT_TABLE = 14,
  OUTPUT_REG = 15,
  CONTROLLER = 20,
  CONJUNCTION = 34,
  CT = 35,
  NAT = 36,
  CT_CLEAR = 43,
}

const enum OFPIT {
  GOTO_TABLE = 1,
  WRITE_METADATA = 2,
  WRITE_ACTIONS = 3,
  APPLY_ACTIONS = 4,
  CLEAR_ACTIONS = 5,
  METER = 6,
}

const NX_VENDOR_ID = 0x00002320;
const OFPP_CONTROLLER = 0xfffffffd;
const OFPP_IN_PORT = 0xfffffff8;
/** OFPCML_NO_BUFFER: send the whole packet. (0xffe5 is OFPCML_MAX, the largest byte count.) */
const OFPCML_NO_BUFFER = 0xffff;
/** OFPR_ACTION: the packet-in reason of an explicit controller action. */
const OFPR_ACTION = 1;
const NX_CT_F_COMMIT = 1;
const NX_CT_F_FORCE = 2;
const NX_CT_RECIRC_NONE = 0xff;
const NX_NAT_F_SRC = 1;
const NX_NAT_F_DST = 2;
const NX_NAT_F_PERSISTENT = 4;
const NX_NAT_F_PROTO_HASH = 8;
const NX_NAT_F_PROTO_RANDOM = 16;
const NX_NAT_RANGE_IPV4_MIN = 1;
const NX_NAT_RANGE_IPV4_MAX = 2;
const NX_NAT_RANGE_IPV6_MIN = 4;
const NX_NAT_RANGE_IPV6_MAX = 8;
const NX_NAT_RANGE_PROTO_MIN = 16;
const NX_NAT_RANGE_PROTO_MAX = 32;

// ---------------------------------------------------------------------------------------------
// Field headers for NXM field references (reg_load, reg_move, ct zone).

/** The 32-bit NXM/OXM header naming a field in an action, and the field's width in bits. */
export interface FieldHeader {
  header: number;
  bits: number;
}

const NXM_OF = 0x0000;
const NXM_NX = 0x0001;
const OXM_OF = 0x8000;

function nxmHeader(cls: number, field: number, bytes: number): number {
  return (cls * 0x10000 + (field << 9) + bytes) >>> 0;
}

/**
 * [field, class, field number, bytes, bits, OXM_OF alias]. The NXM header is preferred where the
 * field has one because that is the header OVS writes back in dump-flows (nx_put_mff_header with
 * version 0); fields that only exist as OXM use OXM_OF. Numbers from OVS meta-flow.h.
 */
const FIELD_TABLE: ReadonlyArray<readonly [MatchField, number, number, number, number, number?]> = [
  ['inPort', NXM_OF, 0, 2, 16],
  ['inPhyPort', OXM_OF, 1, 4, 32],
  ['metadata', OXM_OF, 2, 8, 64],
  ['ethDst', NXM_OF, 1, 6, 48, 3],
  ['ethSrc', NXM_OF, 2, 6, 48, 4],
  ['ethType', NXM_OF, 3, 2, 16, 5],
  ['vlanVid', OXM_OF, 6, 2, 13],
  ['vlanPcp', OXM_OF, 7, 1, 3],
  ['ipDscp', OXM_OF, 8, 1, 6],
  ['ipEcn', NXM_NX, 28, 1, 2, 9],
  ['ipProto', NXM_OF, 6, 1, 8, 10],
  ['ipv4Src', NXM_OF, 7, 4, 32, 11],
  ['ipv4Dst', NXM_OF, 8, 4, 32, 12],
  ['tcpSrc', NXM_OF, 9, 2, 16, 13],
  ['tcpDst', NXM_OF, 10, 2, 16, 14],
  ['udpSrc', NXM_OF, 11, 2, 16, 15],
  ['udpDst', NXM_OF, 12, 2, 16, 16],
  ['sctpSrc', OXM_OF, 17, 2, 16],
  ['sctpDst', OXM_OF, 18, 2, 16],
  ['icmpv4Type', NXM_OF, 13, 1, 8, 19],
  ['icmpv4Code', NXM_OF, 14, 1, 8, 20],
  ['arpOp', NXM_OF, 15, 2, 16, 21],
  ['arpSpa', NXM_OF, 16, 4, 32, 22],
  ['arpTpa', NXM_OF, 17, 4, 32, 23],
  ['arpSha', NXM_NX, 17, 6, 48, 24],
  ['arpTha', NXM_NX, 18, 6, 48, 25],
  ['ipv6Src', NXM_NX, 19, 16, 128, 26],
  ['ipv6Dst', NXM_NX, 20, 16, 128, 27],
  ['ipv6Flabel', NXM_NX, 27, 4, 20, 28],
  ['icmpv6Type', NXM_NX, 21, 1, 8, 29],
  ['icmpv6Code', NXM_NX, 22, 1, 8, 30],
  ['ipv6NdTarget', NXM_NX, 23, 16, 128, 31],
  ['ipv6NdSll', NXM_NX, 24, 6, 48, 32],
  ['ipv6NdTll', NXM_NX, 25, 6, 48, 33],
  // Same switch field as tunId; OVS writes NXM_NX_TUN_ID back, which decodes as tunId.
  ['tunnelId', OXM_OF, 38, 8, 64],
  ['reg0', NXM_NX, 0, 4, 32],
  ['reg1', NXM_NX, 1, 4, 32],
  ['reg2', NXM_NX, 2, 4, 32],
  ['reg3', NXM_NX, 3, 4, 32],
  ['reg4', NXM_NX, 4, 4, 32],
  ['reg5', NXM_NX, 5, 4, 32],
  ['reg6', NXM_NX, 6, 4, 32],
  ['reg7', NXM_NX, 7, 4, 32],
  ['reg8', NXM_NX, 8, 4, 32],
  ['reg9', NXM_NX, 9, 4, 32],
  ['reg10', NXM_NX, 10, 4, 32],
  ['reg11', NXM_NX, 11, 4, 32],
  ['reg12', NXM_NX, 12, 4, 32],
  ['reg13', NXM_NX, 13, 4, 32],
  ['reg14', NXM_NX, 14, 4, 32],
  ['reg15', NXM_NX, 15, 4, 32],
  ['xxreg0', NXM_NX, 111, 16, 128],
  ['xxreg1', NXM_NX, 112, 16, 128],
  ['xxreg2', NXM_NX, 113, 16, 128],
  ['xxreg3', NXM_NX, 114, 16, 128],
  ['tunId', NXM_NX, 16, 8, 64],
  ['tunIpv4Src', NXM_NX, 31, 4, 32],
  ['tunIpv4Dst', NXM_NX, 32, 4, 32],
  ['ctState', NXM_NX, 105, 4, 32],
  ['ctZone', NXM_NX, 106, 2, 16],
  ['ctMark', NXM_NX, 107, 4, 32],
  ['ctLabel', NXM_NX, 108, 16, 128],
  ['conjId', NXM_NX, 37, 4, 32],
];

const HEADER_OF = new Map<MatchField, FieldHeader>();
const FIELD_OF = new Map<number, MatchField>();
for (const [field, cls, num, bytes, bits, oxmAlias] of FIELD_TABLE) {
  const header = nxmHeader(cls, num, bytes);
  HEADER_OF.set(field, { header, bits });
  FIELD_OF.set(header, field);
  if (oxmAlias !== undefined) FIELD_OF.set(nxmHeader(OXM_OF, oxmAlias, bytes), field);
}

/** The NXM/OXM header and width of a field, for use as an action's field reference. */
export function fieldHeader(field: MatchField): FieldHeader {
  const h = HEADER_OF.get(field);
  if (h === undefined) throw new Error(`field: ${field} has no NXM/OXM header`);
  return h;
}

/** The field an NXM/OXM header (unmasked) names, NXM or OXM_OF class; undefined if unknown. */
export function fieldFromHeader(header: number): MatchField | undefined {
  return FIELD_OF.get(header >>> 0);
}

/** VALUE_LIMIT[n] = 2^n: the bound of an n-bit reg_load value, precomputed to keep encoding allocation-free. */
const VALUE_LIMIT: readonly bigint[] = Array.from({ length: 65 }, (_, n) => 1n << BigInt(n));

function rangeHeader(r: FieldRange, what: string): number {
  const h = HEADER_OF.get(r.field);
  if (h === undefined) throw new Error(`${what}.field: ${r.field} has no NXM/OXM header`);
  if (!(r.nBits >= 1 && r.ofs >= 0 && r.ofs + r.nBits <= h.bits)) {
    throw new Error(`${what}: bits ${r.ofs}+${r.nBits} do not fit ${r.field} (${h.bits} bits)`);
  }
  return h.header;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Encodes a list of actions back to back (each padded to 8 bytes as the spec requires). */
export function encodeActions(w: Writer, actions: readonly Action[]): void {
  for (let i = 0; i < actions.length; i++) encodeAction(w, actions[i] as Action);
}

/** Writes an experimenter action header with a zero length, to be patched by `finish`. */
function nxHeader(w: Writer, subtype: number): number {
  const start = w.off;
  w.u16(OFPAT.EXPERIMENTER).u16(0).u32(NX_VENDOR_ID).u16(subtype);
  return start;
}

/** Pads the action begun at `start` to 8 bytes and fills in its length. */
function finish(w: Writer, start: number): void {
  w.pad8(start);
  w.setU16(start + 2, w.off - start);
}

function encodeAction(w: Writer, a: Action): void {
  switch (a.type) {
    case 'output': {
      const maxLen = a.maxLen ?? (a.port === OFPP_CONTROLLER ? OFPCML_NO_BUFFER : 0);
      w.u16(OFPAT.OUTPUT).u16(16).u32(a.port).u16(maxLen).zeros(6);
      return;
    }
    case 'group':
      w.u16(OFPAT.GROUP).u16(8).u32(a.groupId);
      return;
    case 'setQueue':
      w.u16(OFPAT.SET_QUEUE).u16(8).u32(a.queueId);
      return;
    case 'pushVlan':
      w.u16(OFPAT.PUSH_VLAN).u16(8).u16(a.ethertype).zeros(2);
      return;
    case 'popVlan':
      w.u16(OFPAT.POP_VLAN).u16(8).zeros(4);
      return;
    case 'decTtl':
      w.u16(OFPAT.DEC_NW_TTL).u16(8).zeros(4);
      return;
    case 'setMplsTtl':
      w.u16(OFPAT.SET_MPLS_TTL).u16(8).u8(a.ttl).zeros(3);
      return;
    case 'setNwTtl':
      w.u16(OFPAT.SET_NW_TTL).u16(8).u8(a.ttl).zeros(3);
      return;
    case 'setField': {
      const start = w.off;
      w.u16(OFPAT.SET_FIELD).u16(0);
      encodeOxm(w, a.field, a.value);
      finish(w, start);
      return;
    }
    case 'resubmit': {
      const port = a.port ?? OFPP_IN_PORT;
      const table = a.table ?? 0xff;
      if (port === OFPP_IN_PORT && table === 0xff) {
        throw new Error('resubmit: needs a port or a table');
      }
      const start = nxHeader(w, NXAST.RESUBMIT_TABLE);
      w.u16(toNxPort(port)).u8(table).zeros(3);
      w.setU16(start + 2, 16);
      return;
    }
    case 'regLoad': {
      const dst = rangeHeader(a.dst, 'regLoad.dst');
      if (a.dst.nBits > 64 || a.value < 0n || a.value >= (VALUE_LIMIT[a.dst.nBits] as bigint)) {
        throw new Error(`regLoad.value: ${a.value} does not fit ${a.dst.nBits} bits`);
      }
      const start = nxHeader(w, NXAST.REG_LOAD);
      w.u16((a.dst.ofs << 6) | (a.dst.nBits - 1))
        .u32(dst)
        .u64(a.value);
      w.setU16(start + 2, 24);
      return;
    }
    case 'outputReg': {
      const src = rangeHeader(a.src, 'outputReg.src');
      const start = nxHeader(w, NXAST.OUTPUT_REG);
      w.u16((a.src.ofs << 6) | (a.src.nBits - 1))
        .u32(src)
        .u16(a.maxLen ?? 0xffff)
        .zeros(6);
      w.setU16(start + 2, 24);
      return;
    }
    case 'regMove': {
      const src = rangeHeader(a.src, 'regMove.src');
      const dst = rangeHeader(a.dst, 'regMove.dst');
      if (a.src.nBits !== a.dst.nBits) {
        throw new Error(`regMove.nBits: source ${a.src.nBits} and destination ${a.dst.nBits} differ`);
      }
      const start = nxHeader(w, NXAST.REG_MOVE);
      w.u16(a.dst.nBits).u16(a.src.ofs).u16(a.dst.ofs).u32(src).u32(dst);
      finish(w, start);
      return;
    }
    case 'conjunction': {
      if (!(a.nClauses >= 2 && a.nClauses <= 64)) {
        throw new Error(`conjunction.nClauses: ${a.nClauses} is outside 2..64`);
      }
      if (!(a.clause >= 1 && a.clause <= a.nClauses)) {
        throw new Error(`conjunction.clause: ${a.clause} is outside 1..${a.nClauses}`);
      }
      const start = nxHeader(w, NXAST.CONJUNCTION);
      w.u8(a.clause - 1)
        .u8(a.nClauses)
        .u32(a.id);
      w.setU16(start + 2, 16);
      return;
    }
    case 'ct':
      encodeCt(w, a);
      return;
    case 'nat':
      encodeNat(w, a);
      return;
    case 'ctClear': {
      const start = nxHeader(w, NXAST.CT_CLEAR);
      w.zeros(6);
      w.setU16(start + 2, 16);
      return;
    }
    case 'note': {
      const start = nxHeader(w, NXAST.NOTE);
      w.bytes(a.data);
      // The fixed part holds 6 bytes of note: a shorter note still takes 16 bytes.
      if (a.data.length < 6) w.zeros(6 - a.data.length);
      finish(w, start);
      return;
    }
    case 'controller': {
      const start = nxHeader(w, NXAST.CONTROLLER);
      w.u16(a.maxLen ?? OFPCML_NO_BUFFER)
        .u16(a.controllerId ?? 0)
        .u8(a.reason ?? OFPR_ACTION)
        .u8(0);
      w.setU16(start + 2, 16);
      return;
    }
    default:
      throw new Error(`action.type: unknown action ${(a as { type: string }).type}`);
  }
}

/** A 32-bit OpenFlow 1.3 port as the 16-bit port of Nicira actions (OFPP_* keep their meaning). */
function toNxPort(port: number): number {
  if (port >= 0 && port < 0xff00) return port;
  if (port >= 0xffffff00 && port <= 0xffffffff) return port - 0xffff0000;
  throw new Error(`resubmit.port: ${port} has no 16-bit Nicira port number`);
}

function fromNxPort(port: number): number {
  return port >= 0xff00 ? port + 0xffff0000 : port;
}

function encodeCt(w: Writer, a: CtAction): void {
  if (a.force === true && a.commit !== true) throw new Error('ct.force: requires commit');
  const start = nxHeader(w, NXAST.CT);
  w.u16((a.commit === true ? NX_CT_F_COMMIT : 0) | (a.force === true ? NX_CT_F_FORCE : 0));
  const zone = a.zone;
  if (zone === undefined || typeof zone === 'number') {
    w.u32(0).u16(zone ?? 0);
  } else {
    if (zone.nBits !== 16) throw new Error(`ct.zone: a zone field range must be 16 bits, got ${zone.nBits}`);
    w.u32(rangeHeader(zone, 'ct.zone')).u16((zone.ofs << 6) | (zone.nBits - 1));
  }
  if (a.table === NX_CT_RECIRC_NONE) throw new Error('ct.table: 255 means none: omit the table');
  w.u8(a.table ?? NX_CT_RECIRC_NONE)
    .zeros(3)
    .u16(a.alg ?? 0);
  if (a.actions !== undefined) encodeActions(w, a.actions);
  w.setU16(start + 2, w.off - start);
}

function encodeNat(w: Writer, a: NatAction): void {
  if (a.hash === true && a.random === true) throw new Error('nat.hash: excludes random');
  if (a.kind === undefined && (a.ipMin !== undefined || a.portMin !== undefined)) {
    throw new Error('nat.kind: a range needs src or dst');
  }
  if (a.ipMin === undefined && (a.ipMax !== undefined || a.portMin !== undefined)) {
    throw new Error('nat.ipMin: required by ipMax and ports');
  }
  if (a.portMin === undefined && a.portMax !== undefined) throw new Error('nat.portMin: required by portMax');
  const start = nxHeader(w, NXAST.NAT);
  let flags = 0;
  if (a.kind === 'src') flags |= NX_NAT_F_SRC;
  else if (a.kind === 'dst') flags |= NX_NAT_F_DST;
  if (a.persistent === true) flags |= NX_NAT_F_PERSISTENT;
  if (a.hash === true) flags |= NX_NAT_F_PROTO_HASH;
  if (a.random === true) flags |= NX_NAT_F_PROTO_RANDOM;
  w.zeros(2).u16(flags);
  const presentAt = w.off;
  w.u16(0);
  let present = 0;
  if (a.ipMin !== undefined) {
    if (a.ipMin.includes(':')) {
      w.bytes(parseIpv6(a.ipMin, 'nat.ipMin'));
      present |= NX_NAT_RANGE_IPV6_MIN;
      if (a.ipMax !== undefined) {
        w.bytes(parseIpv6(a.ipMax, 'nat.ipMax'));
        present |= NX_NAT_RANGE_IPV6_MAX;
      }
    } else {
      w.u32(parseIpv4(a.ipMin, 'nat.ipMin'));
      present |= NX_NAT_RANGE_IPV4_MIN;
      if (a.ipMax !== undefined) {
        w.u32(parseIpv4(a.ipMax, 'nat.ipMax'));
        present |= NX_NAT_RANGE_IPV4_MAX;
      }
    }
  }
  if (a.portMin !== undefined) {
    w.u16(a.portMin);
    present |= NX_NAT_RANGE_PROTO_MIN;
    if (a.portMax !== undefined) {
      w.u16(a.portMax);
      present |= NX_NAT_RANGE_PROTO_MAX;
    }
  }
  w.setU16(presentAt, present);
  finish(w, start);
}

/** The order a switch executes instructions in (OpenFlow 1.3 §5.9), which OVS also reports them in. */
export const EXECUTION_ORDER: Readonly<Record<Instruction['type'], number>> = {
  meter: 0,
  applyActions: 1,
  clearActions: 2,
  writeActions: 3,
  writeMetadata: 4,
  gotoTable: 5,
};

export function encodeInstructions(w: Writer, instructions: readonly Instruction[]): void {
  for (let i = 0; i < instructions.length; i++) {
    const ins = instructions[i] as Instruction;
    switch (ins.type) {
      case 'gotoTable':
        w.u16(OFPIT.GOTO_TABLE).u16(8).u8(ins.tableId).zeros(3);
        break;
      case 'writeMetadata':
        w.u16(OFPIT.WRITE_METADATA).u16(24).zeros(4).u64(ins.metadata).u64(ins.mask);
        break;
      case 'applyActions':
      case 'writeActions': {
        const start = w.off;
        w.u16(ins.type === 'applyActions' ? OFPIT.APPLY_ACTIONS : OFPIT.WRITE_ACTIONS)
          .u16(0)
          .zeros(4);
        encodeActions(w, ins.actions);
        w.setU16(start + 2, w.off - start);
        break;
      }
      case 'clearActions':
        w.u16(OFPIT.CLEAR_ACTIONS).u16(8).zeros(4);
        break;
      case 'meter':
        w.u16(OFPIT.METER).u16(8).u32(ins.meterId);
        break;
      default:
        throw new Error(`instruction.type: unknown instruction ${(ins as { type: string }).type}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Decodes actions until the reader is exhausted. */
export function decodeActions(r: Reader): Action[] {
  const out: Action[] = [];
  while (r.remaining > 0) out.push(decodeAction(r));
  return out;
}

const STANDARD_NAMES: Readonly<Record<number, string>> = {
  [OFPAT.OUTPUT]: 'output',
  [OFPAT.SET_MPLS_TTL]: 'set_mpls_ttl',
  [OFPAT.PUSH_VLAN]: 'push_vlan',
  [OFPAT.POP_VLAN]: 'pop_vlan',
  [OFPAT.SET_QUEUE]: 'set_queue',
  [OFPAT.GROUP]: 'group',
  [OFPAT.SET_NW_TTL]: 'set_nw_ttl',
  [OFPAT.DEC_NW_TTL]: 'dec_nw_ttl',
  [OFPAT.SET_FIELD]: 'set_field',
};

const NX_NAMES: Readonly<Record<number, string>> = {
  [NXAST.RESUBMIT]: 'NXAST_RESUBMIT',
  [NXAST.REG_MOVE]: 'NXAST_REG_MOVE',
  [NXAST.REG_LOAD]: 'NXAST_REG_LOAD',
  [NXAST.NOTE]: 'NXAST_NOTE',
  [NXAST.RESUBMIT_TABLE]: 'NXAST_RESUBMIT_TABLE',
  [NXAST.OUTPUT_REG]: 'NXAST_OUTPUT_REG',
  [NXAST.CONTROLLER]: 'NXAST_CONTROLLER',
  [NXAST.CONJUNCTION]: 'NXAST_CONJUNCTION',
  [NXAST.CT]: 'NXAST_CT',
  [NXAST.NAT]: 'NXAST_NAT',
  [NXAST.CT_CLEAR]: 'NXAST_CT_CLEAR',
};

function hex(v: number, digits: number): string {
  return `0x${v.toString(16).padStart(digits, '0')}`;
}

function decodeAction(r: Reader): Action {
  if (r.remaining < 8) {
    throw new OFCodecError('action', 'length', `${r.remaining} trailing bytes are too short for an action`);
  }
  const buf = r.buf;
  const start = r.off;
  const type = buf.readUInt16BE(start);
  const len = buf.readUInt16BE(start + 2);
  let name = STANDARD_NAMES[type];
  let subtype = -1;
  if (type === OFPAT.EXPERIMENTER) {
    const vendor = buf.readUInt32BE(start + 4);
    if (vendor !== NX_VENDOR_ID) {
      throw new OFCodecError('action', 'experimenter', `unknown experimenter ${hex(vendor, 8)}`);
    }
    if (r.remaining < 10) throw new OFCodecError('action', 'length', `Nicira action of ${r.remaining} bytes`);
    subtype = buf.readUInt16BE(start + 8);
    name = NX_NAMES[subtype];
    if (name === undefined) {
      throw new OFCodecError('action', 'subtype', `unknown Nicira action subtype ${subtype}`);
    }
  } else if (name === undefined) {
    throw new OFCodecError('action', 'type', `unknown action type ${type} (${hex(type, 4)})`);
  }
  if (len < 8 || len % 8 !== 0) {
    throw new OFCodecError('action', `${name} length`, `${len} is not a positive multiple of 8`);
  }
  if (len > r.remaining) {
    throw new OFCodecError('action', `${name} length`, `${len} overruns the ${r.remaining} bytes left`);
  }
  const a = r.sub(len, 'action', name);
  a.skip(type === OFPAT.EXPERIMENTER ? 10 : 4);
  if (subtype >= 0) return decodeNx(a, subtype, name, len);
  switch (type) {
    case OFPAT.OUTPUT: {
      expectLen(name, len, 16);
      const port = a.u32('output.port');
      const maxLen = a.u16('output.max_len');
      return maxLen === (port === OFPP_CONTROLLER ? OFPCML_NO_BUFFER : 0)
        ? { type: 'output', port }
        : { type: 'output', port, maxLen };
    }
    case OFPAT.GROUP:
      expectLen(name, len, 8);
      return { type: 'group', groupId: a.u32('group.group_id') };
    case OFPAT.SET_QUEUE:
      expectLen(name, len, 8);
      return { type: 'setQueue', queueId: a.u32('set_queue.queue_id') };
    case OFPAT.PUSH_VLAN:
      expectLen(name, len, 8);
      return { type: 'pushVlan', ethertype: a.u16('push_vlan.ethertype') };
    case OFPAT.POP_VLAN:
      expectLen(name, len, 8);
      return { type: 'popVlan' };
    case OFPAT.DEC_NW_TTL:
      expectLen(name, len, 8);
      return { type: 'decTtl' };
    case OFPAT.SET_MPLS_TTL:
      expectLen(name, len, 8);
      return { type: 'setMplsTtl', ttl: a.u8('set_mpls_ttl.ttl') };
    case OFPAT.SET_NW_TTL:
      expectLen(name, len, 8);
      return { type: 'setNwTtl', ttl: a.u8('set_nw_ttl.ttl') };
    default: {
      // OFPAT.SET_FIELD, the only standard type left.
      const into: Match = {};
      const field = decodeOxm(a, into);
      expectZeros(a, 'set_field.padding');
      return { type: 'setField', field, value: into[field] } as SetFieldAction;
    }
  }
}

function expectLen(name: string, len: number, want: number): void {
  if (len !== want) throw new OFCodecError('action', `${name} length`, `${len}, expected ${want}`);
}

function expectZeros(a: Reader, field: string): void {
  while (a.remaining > 0) {
    if (a.u8(field) !== 0) throw new OFCodecError('action', field, 'padding is not zero');
  }
}

function decodeRange(header: number, ofs: number, nBits: number, what: string): FieldRange {
  const field = FIELD_OF.get(header);
  if (field === undefined) {
    throw new OFCodecError('action', what, `unknown field header ${hex(header, 8)}`);
  }
  return { field, ofs, nBits };
}

function decodeNx(a: Reader, subtype: number, name: string, len: number): Action {
  switch (subtype) {
    case NXAST.RESUBMIT:
    case NXAST.RESUBMIT_TABLE: {
      expectLen(name, len, 16);
      const port = fromNxPort(a.u16('resubmit.in_port'));
      // Plain NXAST_RESUBMIT has no table byte: it always means "this table".
      const table = subtype === NXAST.RESUBMIT ? 0xff : a.u8('resubmit.table');
      const out: { type: 'resubmit'; port?: number; table?: number } = { type: 'resubmit' };
      if (port !== OFPP_IN_PORT) out.port = port;
      if (table !== 0xff) out.table = table;
      return out;
    }
    case NXAST.REG_LOAD: {
      expectLen(name, len, 24);
      const ofsNbits = a.u16('reg_load.ofs_nbits');
      const dst = decodeRange(a.u32('reg_load.dst'), ofsNbits >>> 6, (ofsNbits & 0x3f) + 1, 'reg_load.dst');
      return { type: 'regLoad', dst, value: a.u64('reg_load.value') };
    }
    case NXAST.OUTPUT_REG: {
      expectLen(name, len, 24);
      const ofsNbits = a.u16('output_reg.ofs_nbits');
      const src = decodeRange(
        a.u32('output_reg.src'),
        ofsNbits >>> 6,
        (ofsNbits & 0x3f) + 1,
        'output_reg.src',
      );
      const maxLen = a.u16('output_reg.max_len');
      expectZeros(a, 'output_reg.zero');
      return maxLen === 0xffff ? { type: 'outputReg', src } : { type: 'outputReg', src, maxLen };
    }
    case NXAST.REG_MOVE: {
      const nBits = a.u16('reg_move.n_bits');
      const srcOfs = a.u16('reg_move.src_ofs');
      const dstOfs = a.u16('reg_move.dst_ofs');
      const src = decodeRange(a.u32('reg_move.src'), srcOfs, nBits, 'reg_move.src');
      const dst = decodeRange(a.u32('reg_move.dst'), dstOfs, nBits, 'reg_move.dst');
      expectZeros(a, 'reg_move.padding');
      return { type: 'regMove', src, dst };
    }
    case NXAST.CONJUNCTION: {
      expectLen(name, len, 16);
      const clause = a.u8('conjunction.clause');
      const nClauses = a.u8('conjunction.n_clauses');
      if (nClauses < 2 || nClauses > 64 || clause >= nClauses) {
        throw new OFCodecError('action', 'conjunction.clause', `clause ${clause} of ${nClauses} (0-based)`);
      }
      return { type: 'conjunction', id: a.u32('conjunction.id'), clause: clause + 1, nClauses };
    }
    case NXAST.CT:
      return decodeCt(a, len);
    case NXAST.NAT:
      return decodeNat(a);
    case NXAST.CT_CLEAR:
      expectLen(name, len, 16);
      return { type: 'ctClear' };
    case NXAST.NOTE:
      // Copied: the caller's buffer is often a reused receive buffer.
      return { type: 'note', data: Buffer.from(a.bytes(a.remaining, 'note.data')) };
    default: {
      // NXAST.CONTROLLER, the only subtype left.
      expectLen(name, len, 16);
      const maxLen = a.u16('controller.max_len');
      const controllerId = a.u16('controller.controller_id');
      const reason = a.u8('controller.reason');
      const out: { type: 'controller'; maxLen?: number; reason?: number; controllerId?: number } = {
        type: 'controller',
      };
      if (maxLen !== OFPCML_NO_BUFFER) out.maxLen = maxLen;
      if (reason !== OFPR_ACTION) out.reason = reason;
      if (controllerId !== 0) out.controllerId = controllerId;
      return out;
    }
  }
}

function decodeCt(a: Reader, len: number): CtAction {
  if (len < 24) throw new OFCodecError('action', 'NXAST_CT length', `${len}, at least 24 expected`);
  const flags = a.u16('ct.flags');
  const zoneSrc = a.u32('ct.zone_src');
  const zoneArg = a.u16('ct.zone');
  const table = a.u8('ct.recirc_table');
  a.skip(3, 'ct.padding');
  const alg = a.u16('ct.alg');
  const out: CtAction = { type: 'ct' };
  if ((flags & NX_CT_F_COMMIT) !== 0) out.commit = true;
  if ((flags & NX_CT_F_FORCE) !== 0) out.force = true;
  if (zoneSrc !== 0) out.zone = decodeRange(zoneSrc, zoneArg >>> 6, (zoneArg & 0x3f) + 1, 'ct.zone_src');
  else if (zoneArg !== 0) out.zone = zoneArg;
  if (table !== NX_CT_RECIRC_NONE) out.table = table;
  if (alg !== 0) out.alg = alg;
  if (a.remaining > 0) out.actions = decodeActions(a);
  return out;
}

function decodeNat(a: Reader): NatAction {
  a.skip(2, 'nat.padding');
  const flags = a.u16('nat.flags');
  const present = a.u16('nat.range_present');
  const out: NatAction = { type: 'nat' };
  if ((flags & NX_NAT_F_SRC) !== 0) out.kind = 'src';
  else if ((flags & NX_NAT_F_DST) !== 0) out.kind = 'dst';
  if ((present & NX_NAT_RANGE_IPV4_MIN) !== 0) {
    out.ipMin = formatIpv4(a.u32('nat.ipv4_min'));
    if ((present & NX_NAT_RANGE_IPV4_MAX) !== 0) out.ipMax = formatIpv4(a.u32('nat.ipv4_max'));
  } else if ((present & NX_NAT_RANGE_IPV6_MIN) !== 0) {
    out.ipMin = formatIpv6(a.bytes(16, 'nat.ipv6_min'));
    if ((present & NX_NAT_RANGE_IPV6_MAX) !== 0) out.ipMax = formatIpv6(a.bytes(16, 'nat.ipv6_max'));
  }
  if ((present & NX_NAT_RANGE_PROTO_MIN) !== 0) {
    out.portMin = a.u16('nat.proto_min');
    if ((present & NX_NAT_RANGE_PROTO_MAX) !== 0) out.portMax = a.u16('nat.proto_max');
  }
  if ((flags & NX_NAT_F_PERSISTENT) !== 0) out.persistent = true;
  if ((flags & NX_NAT_F_PROTO_HASH) !== 0) out.hash = true;
  if ((flags & NX_NAT_F_PROTO_RANDOM) !== 0) out.random = true;
  expectZeros(a, 'nat.padding');
  return out;
}

const INSTRUCTION_NAMES: Readonly<Record<number, string>> = {
  [OFPIT.GOTO_TABLE]: 'goto_table',
  [OFPIT.WRITE_METADATA]: 'write_metadata',
  [OFPIT.WRITE_ACTIONS]: 'write_actions',
  [OFPIT.APPLY_ACTIONS]: 'apply_actions',
  [OFPIT.CLEAR_ACTIONS]: 'clear_actions',
  [OFPIT.METER]: 'meter',
};

/** Decodes instructions until the reader is exhausted. */
export function decodeInstructions(r: Reader): Instruction[] {
  const out: Instruction[] = [];
  while (r.remaining > 0) {
    if (r.remaining < 8) {
      throw new OFCodecError('instruction', 'length', `${r.remaining} trailing bytes are too short`);
    }
    const type = r.buf.readUInt16BE(r.off);
    const len = r.buf.readUInt16BE(r.off + 2);
    const name = INSTRUCTION_NAMES[type];
    if (name === undefined) {
      throw new OFCodecError('instruction', 'type', `unknown instruction type ${type} (${hex(type, 4)})`);
    }
    if (len < 8 || len % 8 !== 0 || len > r.remaining) {
      throw new OFCodecError(
        'instruction',
        `${name} length`,
        `${len} is not a multiple of 8 within the ${r.remaining} bytes left`,
      );
    }
    const ins = r.sub(len, 'instruction', name);
    ins.skip(4);
    const fixed = (want: number): void => {
      if (len !== want) throw new OFCodecError('instruction', `${name} length`, `${len}, expected ${want}`);
    };
    switch (type) {
      case OFPIT.GOTO_TABLE:
        fixed(8);
        out.push({ type: 'gotoTable', tableId: ins.u8('goto_table.table_id') });
        break;
      case OFPIT.WRITE_METADATA:
        fixed(24);
        ins.skip(4);
        out.push({
          type: 'writeMetadata',
          metadata: ins.u64('write_metadata.metadata'),
          mask: ins.u64('write_metadata.mask'),
        });
        break;
      case OFPIT.WRITE_ACTIONS:
      case OFPIT.APPLY_ACTIONS: {
        ins.skip(4);
        const actions = decodeActions(ins);
        out.push({ type: type === OFPIT.APPLY_ACTIONS ? 'applyActions' : 'writeActions', actions });
        break;
      }
      case OFPIT.CLEAR_ACTIONS:
        fixed(8);
        out.push({ type: 'clearActions' });
        break;
      default:
        // OFPIT.METER, the only type left.
        fixed(8);
        out.push({ type: 'meter', meterId: ins.u32('meter.meter_id') });
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Address text for NAT ranges (only NAT carries addresses outside an OXM).

function parseIpv4(s: string, what: string): number {
  const v = parseIpv4Text(s, 0, s.length);
  if (v < 0) throw new Error(`${what}: ${s} is not an IPv4 address`);
  return v;
}

function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

function parseIpv6(s: string, what: string): Buffer {
  const out = Buffer.alloc(16);
  if (!parseIpv6Into(s, out, 0)) throw new Error(`${what}: ${s} is not an IPv6 address`);
  return out;
}

function formatIpv6(b: Buffer): string {
  return formatIpv6At(b, 0);
}
