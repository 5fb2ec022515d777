// Owns table arp. Bridge mode with arp-mode proxy: an ARP request from a local endpoint for any
// known endpoint of its network (on any host) is answered by the datapath with that endpoint's
// MAC, so the request never reaches the peer. Routing mode: every ARP request from a local
// endpoint is answered with the router MAC (the gateway and every other address: all traffic is
// routed by IP). Anything else (flood mode, misses, requests from other hosts) goes on to
// forwarding, which floods within the network.
//
// The gateway in bridge mode is outside the datapath (a router on the VLAN): its ARP floods.

import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import type { Match } from '../../controller/openflow/match.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import { flowBuilder } from './builder.js';
import { endpointContext, endpointNetworkFeature, networkContext } from './context.js';
import { ARP_REQUEST, arpReply, ETH_ARP, instructions, matchFlags, matchReg, ROUTER_MAC } from './regs.js';
import { FLAG, REG } from './tables.js';

const PRIO_ENDPOINT = 100;
const PRIO_ROUTER = 50;
const flow = flowBuilder(Feature.Arp);

function requestFromLocal(network: number): Match {
  return matchFlags(matchReg({ ethType: ETH_ARP, arpOp: ARP_REQUEST }, REG.network, network), FLAG.fromLocal);
}

function endpointFlows(ix: IntentIndex, id: string, cookie: bigint): Flow[] {
  if (ix.global.fwdMode !== 'bridge' || ix.global.arpMode !== 'proxy') return [];
  const c = endpointContext(ix, id);
  if (!c) return [];
  return [
    flow({
      table: 'arp',
      priority: PRIO_ENDPOINT,
      match: { ...requestFromLocal(c.net.id), arpTpa: c.e.ip },
      instructions: instructions(arpReply(c.e.mac, c.e.ip)),
      cookie,
    }),
  ];
}

function networkFlows(ix: IntentIndex, key: string, cookie: bigint): Flow[] {
  if (ix.global.fwdMode !== 'routing') return [];
  const c = networkContext(ix, key);
  if (!c) return [];
  return [
    flow({
      table: 'arp',
      priority: PRIO_ROUTER,
      match: requestFromLocal(c.net.id),
      instructions: instructions(arpReply(ROUTER_MAC)),
      cookie,
    }),
  ];
}

export const arpFeature: PipelineFeature = endpointNetworkFeature({
  name: 'arp',
  feature: Feature.Arp,
  endpointFlows,
  networkFlows,
});
