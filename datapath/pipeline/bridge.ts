// Owns table dstLookup in fwd-mode bridge: a known destination MAC in the packet's network gives
// the output port (local port, tunnel to the endpoint's host, or the uplink), the destination
// group and how to output; broadcast and unknown destinations flood within the network.

import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import { flowBuilder } from './builder.js';
import { endpointContext, endpointNetworkFeature, networkContext, pathTo } from './context.js';
import { gotoNext, instructions, load, matchReg, setFlags } from './regs.js';
import { FLAG, REG } from './tables.js';

const PRIO_KNOWN = 100;
const PRIO_FLOOD = 10;
const flow = flowBuilder(Feature.L2Forwarding);

function endpointFlows(ix: IntentIndex, id: string, cookie: bigint): Flow[] {
  const c = endpointContext(ix, id);
  const path = c && pathTo(ix, c.e, c.net);
  if (!c || !path) return [];
  const actions = [load(REG.outPort, path.port), load(REG.dstNetwork, c.net.id)];
  if (c.group !== 0) actions.push(load(REG.dstGroup, c.group));
  return [
    flow({
      table: 'dstLookup',
      priority: PRIO_KNOWN,
      match: matchReg({ ethDst: c.e.mac }, REG.network, c.net.id),
      instructions: instructions([...actions, ...setFlags(path.flag)], gotoNext('dstLookup')),
      cookie,
    }),
  ];
}

function networkFlows(ix: IntentIndex, key: string, cookie: bigint): Flow[] {
  const c = networkContext(ix, key);
  if (!c) return [];
  return [
    flow({
      table: 'dstLookup',
      priority: PRIO_FLOOD,
      match: matchReg({}, REG.network, c.net.id),
      instructions: instructions(
        [load(REG.dstNetwork, c.net.id), ...setFlags(FLAG.flood)],
        gotoNext('dstLookup'),
      ),
      cookie,
    }),
  ];
}

export const bridgeFeature: PipelineFeature = endpointNetworkFeature({
  name: 'bridge',
  feature: Feature.L2Forwarding,
  mode: 'bridge',
  endpointFlows,
  networkFlows,
});
