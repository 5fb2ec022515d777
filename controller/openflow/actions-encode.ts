// Owns turning actions and instructions into OpenFlow 1.3 wire bytes (Nicira/ONF extensions included),
// appending to a Writer. It never decodes and never imports outside controller/openflow.

import type { Action, CtAction, FieldRange, Instruction, NatAction } from './actions.js';
import {
  NX_CT_F_COMMIT,
  NX_CT_F_FORCE,
  NX_CT_RECIRC_NONE,
  NX_NAT_F_DST,
  NX_NAT_F_PERSISTENT,
  NX_NAT_F_PROTO_HASH,
  NX_NAT_F_PROTO_RANDOM,
  NX_NAT_F_SRC,
  NX_NAT_RANGE_IPV4_MAX,
  NX_NAT_RANGE_IPV4_MIN,
  NX_NAT_RANGE_IPV6_MAX,
  NX_NAT_RANGE_IPV6_MIN,
  NX_NAT_RANGE_PROTO_MAX,
  NX_NAT_RANGE_PROTO_MIN,
  NX_VENDOR_ID,
  NXAST,
  OFPAT,
  OFPCML_NO_BUFFER,
  OFPIT,
  OFPP_CONTROLLER,
  OFPP_IN_PORT,
  OFPR_ACTION,
  toNxPort,
} from './actions-wire.js';
import { parseIpv4 as parseIpv4Text, parseIpv6Into } from './addr.js';
import type { Writer } from './buffer.js';
import { encodeOxm, type FieldHeader, fieldHeader, MATCH_FIELDS, type MatchField } from './match.js';

/** Each field's action header, looked up once per field reference while encoding. */
const HEADER_OF = new Map<MatchField, FieldHeader>(MATCH_FIELDS.map((f) => [f, fieldHeader(f)]));

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

// Address text for NAT ranges (only NAT carries addresses outside an OXM).

function parseIpv4(s: string, what: string): number {
  const v = parseIpv4Text(s, 0, s.length);
  if (v < 0) throw new Error(`${what}: ${s} is not an IPv4 address`);
  return v;
}

function parseIpv6(s: string, what: string): Buffer {
  const out = Buffer.alloc(16);
  if (!parseIpv6Into(s, out, 0)) throw new Error(`${what}: ${s} is not an IPv6 address`);
  return out;
}
