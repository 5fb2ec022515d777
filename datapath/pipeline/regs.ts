// Owns the small vocabulary features write flows with: matching and loading the named register
// ranges of tables.ts, flag bits, moves between fields, the ARP reply, goto by table name, notes.
// No flow decisions live here.

import type { Action, FieldRange, Instruction } from '../../controller/openflow/actions.js';
import type { Match, MatchField } from '../../controller/openflow/match.js';
import { nextTable, type TableName, table } from './tables.js';

export const ETH_IP = 0x0800;
export const ETH_ARP = 0x0806;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
export const OFPP_IN_PORT = 0xfffffff8;
/**
 * The MAC the datapath answers with as a router (routing mode: the gateway and every routed
 * destination). Contiv's netplugin used the same fixed address for its gateway.
 */
export const ROUTER_MAC = '00:00:11:11:11:11';

type RegField = 'reg0' | 'reg1' | 'reg2' | 'reg3' | 'reg4' | 'reg5' | 'reg6' | 'reg7' | 'reg8' | 'reg9';

// A set, not a pattern: the policy feature matches registers in tens of thousands of flows.
const REG_FIELDS: ReadonlySet<string> = new Set([
  'reg0',
  'reg1',
  'reg2',
  'reg3',
  'reg4',
  'reg5',
  'reg6',
  'reg7',
  'reg8',
  'reg9',
]);

function regField(r: FieldRange): RegField {
  if (!REG_FIELDS.has(r.field)) throw new Error(`pipeline: ${r.field} is not a register`);
  return r.field as RegField;
}

function rangeMask(r: FieldRange): number {
  return (r.nBits === 32 ? 0xffffffff : ((1 << r.nBits) - 1) << r.ofs) >>> 0;
}

/**
 * Adds "range == value" to a match, merging with other ranges of the same register (reg6 holds
 * both network and dstNetwork). Returns the match for chaining.
 */
export function matchReg(m: Match, r: FieldRange, value: number): Match {
  const field = regField(r);
  const mask = rangeMask(r);
  const v = ((value << r.ofs) >>> 0) & mask;
  if (v >>> r.ofs !== value) throw new Error(`pipeline: ${value} does not fit ${field}[${r.ofs}+${r.nBits}]`);
  const prev = m[field];
  const prevValue = prev === undefined ? 0 : typeof prev === 'number' ? prev : prev.value;
  const prevMask = prev === undefined ? 0 : typeof prev === 'number' ? 0xffffffff : prev.mask;
  const allMask = (prevMask | mask) >>> 0;
  const allValue = ((prevValue & ~mask) | v) >>> 0;
  m[field] = allMask === 0xffffffff ? allValue : { value: allValue, mask: allMask };
  return m;
}

/** Adds "these flag bits of REG.flags are all set" (and, with `clear`, "these are all clear"). */
export function matchFlags(m: Match, set: number, clear = 0): Match {
  const prev = m.reg0;
  if (prev !== undefined) throw new Error('pipeline: flags matched twice');
  const mask = (set | clear) >>> 0;
  m.reg0 = mask === 0xffffffff ? set >>> 0 : { value: set >>> 0, mask };
  return m;
}

export function load(r: FieldRange, value: number): Action {
  return { type: 'regLoad', dst: r, value: BigInt(value) };
}

const flagLoads = new Map<number, readonly Action[]>();

/**
 * Loads of single flag bits (one action per bit: bits of other meanings stay as they are). The
 * array is shared between calls (features build tens of thousands of flows): spread it, never
 * mutate it.
 */
export function setFlags(bits: number): readonly Action[] {
  let out = flagLoads.get(bits);
  if (!out) {
    const loads: Action[] = [];
    for (let i = 0; i < 32; i++) {
      if ((bits >>> i) & 1)
        loads.push({ type: 'regLoad', dst: { field: 'reg0', ofs: i, nBits: 1 }, value: 1n });
    }
    out = Object.freeze(loads);
    flagLoads.set(bits, out);
  }
  return out;
}

export function gotoTable(name: TableName): Instruction {
  return { type: 'gotoTable', tableId: table(name) };
}

export function gotoNext(name: TableName): Instruction {
  return { type: 'gotoTable', tableId: nextTable(name) };
}

/** Copies the low `nBits` of one field into another (NXAST_REG_MOVE). */
export function move(src: MatchField, dst: MatchField, nBits: number): Action {
  return { type: 'regMove', src: { field: src, ofs: 0, nBits }, dst: { field: dst, ofs: 0, nBits } };
}

// Shared by every ARP reply flow (ten thousand endpoints make ten thousand of them).
const TO_SENDER: Action = move('ethSrc', 'ethDst', 48);
const AS_REPLY: Action = { type: 'setField', field: 'arpOp', value: ARP_REPLY };
const SHA_TO_THA: Action = move('arpSha', 'arpTha', 48);
const SPA_TO_TPA: Action = move('arpSpa', 'arpTpa', 32);
const BACK: Action = { type: 'output', port: OFPP_IN_PORT };
/** The requested address answers itself: swapped through reg1, which carries nothing yet there. */
const SWAP_IPS: readonly Action[] = [move('arpTpa', 'reg1', 32), SPA_TO_TPA, move('reg1', 'arpSpa', 32)];

/**
 * Turns an ARP request into the reply from `mac` in place and sends it back out of the port it
 * came in on. `ip` undefined: for the requested address itself.
 */
export function arpReply(mac: string, ip?: string): Action[] {
  const ips: readonly Action[] =
    ip === undefined ? SWAP_IPS : [SPA_TO_TPA, { type: 'setField', field: 'arpSpa', value: ip }];
  return [
    TO_SENDER,
    { type: 'setField', field: 'ethSrc', value: mac },
    AS_REPLY,
    SHA_TO_THA,
    { type: 'setField', field: 'arpSha', value: mac },
    ...ips,
    BACK,
  ];
}

/** A note shown in dump-flows (as hex bytes); used sparingly, where a flow's purpose is not obvious. */
export function note(text: string): Action {
  return { type: 'note', data: Buffer.from(text, 'ascii') };
}

/** Apply these actions, then go on (when `then` is given). No actions and no `then`: drop. */
export function instructions(actions: Action[], then?: Instruction): Instruction[] {
  const out: Instruction[] = [];
  if (actions.length > 0) out.push({ type: 'applyActions', actions });
  if (then) out.push(then);
  return out;
}
