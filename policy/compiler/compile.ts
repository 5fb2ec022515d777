// Owns compiling intent into a switch's desired state: the whole of it (`compile`, pure) and
// incrementally (`Compilation`: a change recomputes only the owners the features say it touches,
// and returns what to add and remove). It never talks to a switch.

import type { Flow, Group, Meter } from '../../controller/openflow/flow.js';
import { flowKey } from '../../controller/openflow/flow.js';
import type { Change } from './diff.js';
import type { OwnedState, PipelineFeature } from './feature.js';
import { IntentIndex } from './index-intent.js';
import type { HostFacts, Intent } from './intent.js';

export interface CompiledState {
  flows: Flow[];
  groups: Group[];
  meters: Meter[];
}

/** What one change does to the desired state. `addFlows` holds new and changed flows. */
export interface Delta {
  addFlows: Flow[];
  removeFlows: Flow[];
  putGroups: Group[];
  removeGroups: number[];
  putMeters: Meter[];
  removeMeters: number[];
  /** Owners recomputed (how much work the change cost). */
  owners: number;
}

const NOTHING: OwnedState = { flows: [] };
/** The private constructor argument of Compilation.streamed. */
const DEFER: unique symbol = Symbol('defer');

/** The full desired state for one host. Pure. */
export function compile(
  intent: Intent,
  host: HostFacts,
  features: readonly PipelineFeature[],
): CompiledState {
  return new Compilation(intent, host, features).state();
}

export class Compilation {
  readonly ix: IntentIndex;
  /** Per feature: owner → its state. */
  private readonly owned: Map<string, OwnedState>[];

  constructor(
    intent: Intent,
    host: HostFacts,
    private readonly features: readonly PipelineFeature[],
    defer?: typeof DEFER,
  ) {
    this.ix = new IntentIndex(intent, host);
    this.owned = features.map(() => new Map<string, OwnedState>());
    if (defer !== DEFER) for (const flows of this.fill()) void flows;
  }

  /**
   * A compilation handed out while it is built: iterating `flows` builds owner after owner and
   * yields each one's flows at once, so a first install can stream them to the switch while the
   * rest compiles. It is complete (state(), change()) once `flows` has been iterated to the end.
   * Groups and meters are not streamed: read them from state() afterwards.
   */
  static streamed(
    intent: Intent,
    host: HostFacts,
    features: readonly PipelineFeature[],
  ): { compilation: Compilation; flows: Iterable<Flow> } {
    const compilation = new Compilation(intent, host, features, DEFER);
    return {
      compilation,
      flows: (function* () {
        for (const flows of compilation.fill()) yield* flows;
      })(),
    };
  }

  /** Builds every owner of every feature, yielding each owner's flows as it goes. */
  private *fill(): Generator<Flow[]> {
    for (let i = 0; i < this.features.length; i++) {
      const f = this.features[i] as PipelineFeature;
      const m = this.owned[i] as Map<string, OwnedState>;
      for (const owner of f.owners(this.ix)) {
        const s = f.build(this.ix, owner);
        if (isEmpty(s)) continue;
        m.set(owner, s);
        yield s.flows;
      }
    }
  }

  /** The whole desired state as it stands. */
  state(): CompiledState {
    const out: CompiledState = { flows: [], groups: [], meters: [] };
    for (const m of this.owned) {
      for (const s of m.values()) {
        for (const f of s.flows) out.flows.push(f);
        if (s.groups) for (const g of s.groups) out.groups.push(g);
        if (s.meters) for (const x of s.meters) out.meters.push(x);
      }
    }
    return out;
  }

  /**
   * Several changes as one delta (one bundle): for a flow, group or meter touched by more than one
   * of them, the last word wins.
   */
  changeAll(changes: readonly { change: Change; mutate: (ix: IntentIndex) => unknown }[]): Delta {
    const flows = new Map<string, { flow: Flow; keep: boolean }>();
    const groups = new Map<number, Group | undefined>();
    const meters = new Map<number, Meter | undefined>();
    let owners = 0;
    for (const c of changes) {
      const d = this.change(c.change, c.mutate);
      owners += d.owners;
      for (const f of d.removeFlows) flows.set(flowKey(f), { flow: f, keep: false });
      for (const f of d.addFlows) flows.set(flowKey(f), { flow: f, keep: true });
      for (const id of d.removeGroups) groups.set(id, undefined);
      for (const g of d.putGroups) groups.set(g.groupId, g);
      for (const id of d.removeMeters) meters.set(id, undefined);
      for (const m of d.putMeters) meters.set(m.meterId, m);
    }
    const out: Delta = {
      addFlows: [],
      removeFlows: [],
      putGroups: [],
      removeGroups: [],
      putMeters: [],
      removeMeters: [],
      owners,
    };
    for (const { flow, keep } of flows.values()) (keep ? out.addFlows : out.removeFlows).push(flow);
    for (const [id, g] of groups) {
      if (g) out.putGroups.push(g);
      else out.removeGroups.push(id);
    }
    for (const [id, m] of meters) {
      if (m) out.putMeters.push(m);
      else out.removeMeters.push(id);
    }
    return out;
  }

  /**
   * Apply one change: `mutate` updates the index (e.g. `ix => ix.putEndpoint(e)`) and returns the
   * previous value, which features use to find owners the old value touched.
   */
  change(change: Change, mutate: (ix: IntentIndex) => unknown): Delta {
    const before = mutate(this.ix);
    const delta: Delta = {
      addFlows: [],
      removeFlows: [],
      putGroups: [],
      removeGroups: [],
      putMeters: [],
      removeMeters: [],
      owners: 0,
    };
    this.features.forEach((f, i) => {
      const m = this.owned[i] as Map<string, OwnedState>;
      for (const owner of new Set(f.affected(this.ix, change, before))) {
        delta.owners++;
        const old = m.get(owner) ?? NOTHING;
        const next = f.build(this.ix, owner);
        if (isEmpty(next)) m.delete(owner);
        else m.set(owner, next);
        diffInto(old, next, delta);
      }
    });
    return delta;
  }
}

function isEmpty(s: OwnedState): boolean {
  return s.flows.length === 0 && !s.groups?.length && !s.meters?.length;
}

function diffInto(old: OwnedState, next: OwnedState, delta: Delta): void {
  if (old.flows.length > 0 || next.flows.length > 0) {
    const nextKeys = new Set(next.flows.map(flowKey));
    for (const f of old.flows) if (!nextKeys.has(flowKey(f))) delta.removeFlows.push(f);
    // Unchanged flows are re-sent to the manager, which finds them equal and sends nothing.
    for (const f of next.flows) delta.addFlows.push(f);
  }
  const nextGroups = new Set((next.groups ?? []).map((g) => g.groupId));
  for (const g of old.groups ?? []) if (!nextGroups.has(g.groupId)) delta.removeGroups.push(g.groupId);
  for (const g of next.groups ?? []) delta.putGroups.push(g);
  const nextMeters = new Set((next.meters ?? []).map((m) => m.meterId));
  for (const m of old.meters ?? []) if (!nextMeters.has(m.meterId)) delta.removeMeters.push(m.meterId);
  for (const m of next.meters ?? []) delta.putMeters.push(m);
}
