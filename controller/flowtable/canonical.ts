// Owns the canonical form of a flow: the one OVS reports back for it, so that a flow read from the
// switch and the same flow as desired compare equal byte for byte. Pure; never talks to a switch.

import { type Action, EXECUTION_ORDER, type Instruction } from '../openflow/actions.js';
import type { Flow } from '../openflow/flow.js';
import { withoutAliases } from '../openflow/match.js';

function byExecutionOrder(a: Instruction, b: Instruction): number {
  return EXECUTION_ORDER[a.type] - EXECUTION_ORDER[b.type];
}

/** set_field of tun_id is stored (and reported) as tunnel_id. Returns `actions` itself when unchanged. */
export function canonicalActions(actions: Action[]): Action[] {
  let out = actions;
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i] as Action;
    if (a.type === 'setField' && a.field === 'tunId') {
      if (out === actions) out = [...actions];
      out[i] = { type: 'setField', field: 'tunnelId', value: a.value };
    }
  }
  return out;
}

/**
 * Returns `flow` itself when it is already canonical (the common case, no allocation), otherwise
 * a copy with: match aliases resolved (tunId → tunnelId, xxregN → its four regs), instructions in
 * execution order (the order OVS reports), set_field tun_id as tunnel_id.
 */
export function canonicalFlow(flow: Flow): Flow {
  const match = withoutAliases(flow.match);
  let instructions = flow.instructions;
  for (let i = 1; i < instructions.length; i++) {
    if (byExecutionOrder(instructions[i - 1] as Instruction, instructions[i] as Instruction) > 0) {
      instructions = [...instructions].sort(byExecutionOrder);
      break;
    }
  }
  for (let i = 0; i < instructions.length; i++) {
    const ins = instructions[i] as Instruction;
    if (ins.type !== 'applyActions' && ins.type !== 'writeActions') continue;
    const actions = canonicalActions(ins.actions);
    if (actions !== ins.actions) {
      if (instructions === flow.instructions) instructions = [...instructions];
      instructions[i] = { type: ins.type, actions };
    }
  }
  if (match === flow.match && instructions === flow.instructions) return flow;
  return { ...flow, match, instructions };
}
