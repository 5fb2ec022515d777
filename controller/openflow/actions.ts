// Owns the OpenFlow 1.3 action and instruction model, standard and Nicira/ONF extensions: one tagged
// union each. Encoders live in actions-encode.ts, decoders in actions-decode.ts, wire numbers in
// actions-wire.ts. Imports nothing outside controller/openflow.

import type { Match, MatchField } from './match.js';

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

/** The order a switch executes instructions in (OpenFlow 1.3 §5.9), which OVS also reports them in. */
export const EXECUTION_ORDER: Readonly<Record<Instruction['type'], number>> = {
  meter: 0,
  applyActions: 1,
  clearActions: 2,
  writeActions: 3,
  writeMetadata: 4,
  gotoTable: 5,
};
