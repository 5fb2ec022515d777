// Owns every table's miss flow, as PIPELINE declares it: on to the next table, to a named table,
// or drop. One owner per table, so a table added to the declaration gets its miss flow and
// nothing else changes.

import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import type { OwnedState, PipelineFeature } from '../../policy/compiler/feature.js';
import { cookieFor, makeFlow } from './builder.js';
import { gotoNext, gotoTable } from './regs.js';
import { PIPELINE, type TableName } from './tables.js';

const OWNER = 'miss:';
export const MISS_PRIORITY = 0;

function missFlow(name: TableName): Flow | undefined {
  const spec = PIPELINE.find((t) => t.name === name);
  if (!spec) return undefined;
  return makeFlow(Feature.Pipeline, {
    table: name,
    priority: MISS_PRIORITY,
    match: {},
    // An explicit drop (no instructions) reads as "actions=drop" in dump-flows.
    instructions: spec.miss === 'drop' ? [] : [spec.miss === 'next' ? gotoNext(name) : gotoTable(spec.miss)],
    cookie: cookieFor(Feature.Pipeline, OWNER + name),
  });
}

export const baseFeature: PipelineFeature = {
  name: 'base',
  feature: Feature.Pipeline,

  *owners() {
    for (const t of PIPELINE) yield OWNER + t.name;
  },

  build(_ix, owner): OwnedState {
    const f = owner.startsWith(OWNER) ? missFlow(owner.slice(OWNER.length) as TableName) : undefined;
    return { flows: f ? [f] : [] };
  },

  // Miss flows depend on the declaration only, never on intent or host facts.
  affected() {
    return [];
  },
};
