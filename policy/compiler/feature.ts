// Owns the contract between the compiler and the datapath features: each feature owns its tables'
// flows, grouped by the object ("owner") that made them, and says which owners a change touches.
// That grouping is what makes compiles incremental: a change recomputes only affected owners.

import type { Feature } from '../../controller/openflow/cookie.js';
import type { Flow, Group, Meter } from '../../controller/openflow/flow.js';
import type { Change } from './diff.js';
import type { IntentIndex } from './index-intent.js';

/** The switch state one owner contributes. Groups and meters are for features that need them. */
export interface OwnedState {
  flows: Flow[];
  groups?: Group[];
  meters?: Meter[];
}

export interface PipelineFeature {
  readonly name: string;
  readonly feature: Feature;
  /**
   * Every owner with state in this intent. Owner keys are the feature's own (e.g. `ep:<id>`,
   * `net:<tenant/name>`, `rule:<tenant/policy>/<ruleId>`); they are unique within the feature.
   */
  owners(ix: IntentIndex): Iterable<string>;
  /** The state of one owner; empty when the owner no longer exists. Pure: same index, same result. */
  build(ix: IntentIndex, owner: string): OwnedState;
  /**
   * Owners whose state a change may alter, computed against the index *after* the change, given the
   * previous value of what changed when there was one (a deleted endpoint's network, say).
   * Returning too many is correct but slow; too few is a bug the differential tests catch.
   */
  affected(ix: IntentIndex, change: Change, before: unknown): Iterable<string>;
}
