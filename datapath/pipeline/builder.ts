// Owns building flows against the pipeline declaration (tables.ts), as Faucet's valve_table does:
// every flow a feature makes is checked as it is made. A match field its table does not declare,
// a goto_table / ct(table=…) / resubmit to a table not listed as next, or a feature not allowed to
// write the table throws at once, naming the table, the feature and the field. Also the one
// cookie scheme: an owner's flows carry cookieFor(feature, owner).

import type { Action, Instruction } from '../../controller/openflow/actions.js';
import { Feature, makeCookie } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import type { Match } from '../../controller/openflow/match.js';
import { fnv1a32 } from './hash.js';
import { PIPELINE, type TableName } from './tables.js';

/** A flow as a feature writes it: its table by name. */
export interface FlowSpec {
  table: TableName;
  priority: number;
  match: Match;
  instructions: Instruction[];
  cookie: bigint;
}

/** The cookie of an owner's flows: the feature, and the owner key hashed to the object id. */
export function cookieFor(feature: Feature, owner: string): bigint {
  return makeCookie(feature, fnv1a32(owner));
}

/** One table's declaration as sets, precomputed: checking a flow is a few lookups. */
interface Rules {
  id: number;
  name: TableName;
  fields: ReadonlySet<string>;
  next: ReadonlySet<number>;
  nextNames: readonly TableName[];
  writers: ReadonlySet<Feature>;
}

const NAME_OF = new Map<number, TableName>(PIPELINE.map((t) => [t.id, t.name]));
const ID_OF = new Map<TableName, number>(PIPELINE.map((t) => [t.name, t.id]));

const RULES = new Map<TableName, Rules>(
  PIPELINE.map((t, i) => {
    const next = t.next.map((n) => ID_OF.get(n)!);
    const missTo = t.miss === 'drop' ? undefined : t.miss === 'next' ? PIPELINE[i + 1]?.name : t.miss;
    if (t.miss !== 'drop' && (missTo === undefined || !t.next.includes(missTo)))
      throw new Error(
        `pipeline: table ${t.name} misses to ${missTo ?? 'nothing'}, which its next does not list`,
      );
    const rules: Rules = {
      id: t.id,
      name: t.name,
      fields: new Set(t.matches),
      next: new Set(next),
      nextNames: t.next,
      // The base feature writes every table's miss flow.
      writers: new Set([...t.writers, Feature.Pipeline]),
    };
    return [t.name, rules];
  }),
);

/** Feature names for messages (Feature is a const enum: no reverse mapping at run time). */
const FEATURE_NAME = new Map<Feature, string>([
  [Feature.Classifier, 'Classifier'],
  [Feature.Arp, 'Arp'],
  [Feature.L2Forwarding, 'L2Forwarding'],
  [Feature.L3Forwarding, 'L3Forwarding'],
  [Feature.Policy, 'Policy'],
  [Feature.Dns, 'Dns'],
  [Feature.NetProfile, 'NetProfile'],
  [Feature.Output, 'Output'],
  [Feature.HostAccess, 'HostAccess'],
  [Feature.Pipeline, 'Pipeline'],
  [Feature.Bgp, 'Bgp'],
  [Feature.ServiceLb, 'ServiceLb'],
]);

function featureName(f: Feature): string {
  return FEATURE_NAME.get(f) ?? `feature ${f}`;
}

function fail(r: Rules, feature: Feature, what: string): never {
  throw new Error(`pipeline: table ${r.name}: a flow of feature ${featureName(feature)} ${what}`);
}

function checkTarget(r: Rules, feature: Feature, id: number, how: string): void {
  if (r.next.has(id)) return;
  const to = NAME_OF.get(id) ?? `${id} (not a table)`;
  fail(r, feature, `${how} ${to}, which is not among its next tables (${r.nextNames.join(', ') || 'none'})`);
}

function checkActions(r: Rules, feature: Feature, actions: readonly Action[]): void {
  for (const a of actions) {
    if (a.type === 'ct' && a.table !== undefined) checkTarget(r, feature, a.table, 'recirculates to');
    else if (a.type === 'resubmit' && a.table !== undefined) checkTarget(r, feature, a.table, 'resubmits to');
  }
}

/** The checks of one table's flows, past the table's lookup. */
function checkInTable(r: Rules, feature: Feature, spec: FlowSpec): void {
  // for-in, not Object.keys: no array per flow (Match is a plain literal, nothing inherited).
  for (const field in spec.match) {
    if (!r.fields.has(field)) fail(r, feature, `matches ${field}, which the table does not declare`);
  }
  for (const ins of spec.instructions) {
    if (ins.type === 'gotoTable') checkTarget(r, feature, ins.tableId, 'goes to');
    else if (ins.type === 'applyActions' || ins.type === 'writeActions')
      checkActions(r, feature, ins.actions);
  }
}

function refuse(feature: Feature, table: string): never {
  const r = RULES.get(table as TableName);
  if (!r) throw new Error(`pipeline: a flow of feature ${featureName(feature)} names no table (${table})`);
  fail(r, feature, 'is not allowed: the table does not list the feature as a writer');
}

/** Throws unless `feature` may write this flow into its table. */
export function checkFlow(feature: Feature, spec: FlowSpec): void {
  flowBuilder(feature)(spec);
}

const builders = new Map<Feature, (spec: FlowSpec) => Flow>();

/**
 * A feature's flow maker: `const flow = flowBuilder(Feature.Arp)`, then `flow({ table: 'arp', … })`
 * returns the checked flow. The tables the feature may write are looked up once, here.
 */
export function flowBuilder(feature: Feature): (spec: FlowSpec) => Flow {
  const known = builders.get(feature);
  if (known) return known;
  const writable = new Map<string, Rules>();
  for (const r of RULES.values()) if (r.writers.has(feature)) writable.set(r.name, r);
  const build = (spec: FlowSpec): Flow => {
    const r = writable.get(spec.table) ?? refuse(feature, spec.table);
    checkInTable(r, feature, spec);
    return {
      tableId: r.id,
      priority: spec.priority,
      match: spec.match,
      instructions: spec.instructions,
      cookie: spec.cookie,
    };
  };
  builders.set(feature, build);
  return build;
}

/** The flow `spec` describes, checked against the declaration (for one-off flows). */
export function makeFlow(feature: Feature, spec: FlowSpec): Flow {
  return flowBuilder(feature)(spec);
}
