// Owns the list of forwarding features in pipeline order and applying a compiled delta to a
// switch's flow table manager. Policy, DNS, netprofile and host-access features join the list
// their owners build; the order only matters for readability (flows never overlap by owner).

import type { ApplyStats, FlowTableManager } from '../../controller/flowtable/manager.js';
import type { CompiledState, Delta } from '../../policy/compiler/compile.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import { arpFeature } from './arp.js';
import { baseFeature } from './base.js';
import { bridgeFeature } from './bridge.js';
import { classifierFeature } from './classifier.js';
import { outputFeature } from './output.js';
import { routingFeature } from './routing.js';

export { arpFeature, baseFeature, bridgeFeature, classifierFeature, outputFeature, routingFeature };

export const forwardingFeatures: readonly PipelineFeature[] = [
  baseFeature,
  classifierFeature,
  arpFeature,
  bridgeFeature,
  routingFeature,
  outputFeature,
];

/** Makes the manager's desired state exactly `state`, then pushes it (one bundle). */
export function applyState(manager: FlowTableManager, state: CompiledState): Promise<ApplyStats> {
  manager.setGroups(state.groups);
  manager.setMeters(state.meters);
  return manager.sync(state.flows);
}

/**
 * Adds and removes the delta's flows, groups and meters in the manager's desired state, then
 * pushes the difference to the switch: one bundle (meters, which cannot ride in a bundle, around
 * it).
 */
export function applyDelta(manager: FlowTableManager, delta: Delta): Promise<ApplyStats> {
  // Removals first: a flow both removed (old owner state) and added (new) must end up present.
  manager.removeFlows(delta.removeFlows);
  manager.addFlows(delta.addFlows);
  manager.changeGroups(delta.putGroups, delta.removeGroups);
  manager.changeMeters(delta.putMeters, delta.removeMeters);
  return manager.apply();
}
