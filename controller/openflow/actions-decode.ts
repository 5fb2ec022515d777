// Owns turning OpenFlow 1.3 action and instruction bytes into the model, reporting a malformed one as
// an OFCodecError naming the structure and field. It never encodes and never imports outside controller/openflow.

import type { Action, CtAction, FieldRange, Instruction, NatAction, SetFieldAction } from './actions.js';
import {
  fromNxPort,
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
} from './actions-wire.js';
import { formatIpv6 as formatIpv6At } from './addr.js';
import { OFCodecError, type Reader } from './buffer.js';
import { decodeOxm, fieldFromHeader, type Match } from './match.js';

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
  const field = fieldFromHeader(header);
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

// Address text for NAT ranges (only NAT carries addresses outside an OXM).

function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

function formatIpv6(b: Buffer): string {
  return formatIpv6At(b, 0);
}
