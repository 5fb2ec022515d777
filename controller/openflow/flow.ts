// Owns the flow vocabulary everything above the codec shares: a flow, group and meter as desired
// state, a flow as the FLOW_MOD that installs it, and a flow's identity (table, priority, match).
// Pure; the compiler, the pipeline and the flow table manager all speak it.

import type { Instruction } from './actions.js';
import { Writer } from './buffer.js';
import { encodeMessage } from './encode.js';
import { type Match, withoutAliases } from './match.js';
import {
  type Bucket,
  type FlowMod,
  FlowModCommand,
  FlowModFlags,
  type GroupType,
  type MeterBand,
  OFP_NO_BUFFER,
  OFPG_ANY,
  OFPP,
} from './messages.js';

export interface Flow {
  tableId: number;
  priority: number;
  match: Match;
  instructions: Instruction[];
  cookie: bigint;
  idleTimeout?: number;
  hardTimeout?: number;
  /** FlowModFlags; only SEND_FLOW_REM, NO_PKT_COUNTS and NO_BYT_COUNTS are kept by switches. */
  flags?: number;
}

export interface Group {
  groupId: number;
  groupType: GroupType;
  buckets: Bucket[];
}

export interface Meter {
  meterId: number;
  flags: number;
  bands: MeterBand[];
}

/** The flags a switch keeps and reports; the others only steer the FLOW_MOD itself. */
export const KEPT_FLAGS =
  FlowModFlags.SEND_FLOW_REM | FlowModFlags.NO_PKT_COUNTS | FlowModFlags.NO_BYT_COUNTS;

// ofp_flow_mod offsets of the fields that make a flow's identity.
export const FM_TABLE = 24;
export const FM_PRIORITY = 30;
export const FM_MATCH = 48;

export function flowMod(command: FlowModCommand, f: Flow): FlowMod {
  return {
    type: 'flowMod',
    xid: 0,
    cookie: f.cookie,
    cookieMask: 0n,
    tableId: f.tableId,
    command,
    idleTimeout: f.idleTimeout ?? 0,
    hardTimeout: f.hardTimeout ?? 0,
    priority: f.priority,
    bufferId: OFP_NO_BUFFER,
    outPort: OFPP.ANY,
    outGroup: OFPG_ANY,
    flags: f.flags ?? 0,
    match: f.match,
    instructions: command === FlowModCommand.ADD ? f.instructions : [],
  };
}

const scratch = new Writer(1 << 12);

/**
 * A string naming a flow's identity: equal for two flows exactly when they have the same table,
 * priority and match as the switch stores them (match aliases resolved: tunId is tunnelId).
 */
export function flowKey(flow: Pick<Flow, 'tableId' | 'priority' | 'match'>): string {
  scratch.reset();
  const probe = { ...flow, match: withoutAliases(flow.match), instructions: [], cookie: 0n };
  encodeMessage(scratch, flowMod(FlowModCommand.ADD, probe));
  const msg = scratch.buf.toString('latin1', 0, scratch.off);
  const end = FM_MATCH + ((msg.charCodeAt(FM_MATCH + 2) << 8) | msg.charCodeAt(FM_MATCH + 3));
  return (
    msg.slice(FM_TABLE, FM_TABLE + 1) + msg.slice(FM_PRIORITY, FM_PRIORITY + 2) + msg.slice(FM_MATCH + 4, end)
  );
}
