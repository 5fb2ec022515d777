// Owns OpenFlow 1.3 actions and instructions, standard and Nicira/ONF extensions: model,
// encoding, decoding. Imports nothing outside controller/openflow.

import type { Reader, Writer } from './buffer.js';
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

/** Encodes a list of actions back to back (each padded to 8 bytes as the spec requires). */
export function encodeActions(w: Writer, actions: readonly Action[]): void {
  void w;
  void actions;
  throw new Error('encodeActions: not written yet');
}

/** Decodes actions until the reader is exhausted. */
export function decodeActions(r: Reader): Action[] {
  void r;
  throw new Error('decodeActions: not written yet');
}

export function encodeInstructions(w: Writer, instructions: readonly Instruction[]): void {
  void w;
  void instructions;
  throw new Error('encodeInstructions: not written yet');
}

/** Decodes instructions until the reader is exhausted. */
export function decodeInstructions(r: Reader): Instruction[] {
  void r;
  throw new Error('decodeInstructions: not written yet');
}
