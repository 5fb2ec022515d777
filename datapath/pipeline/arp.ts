// Owns table arp. Bridge mode with arp-mode proxy: an ARP request from a local endpoint for any
// known endpoint of its network (on any host) is answered by the datapath with that endpoint's
// MAC, so the request never reaches the peer. Routing mode: every ARP request from a local
// endpoint is answered with the router MAC (the gateway and every other address: all traffic is
// routed by IP). Anything else (flood mode, misses, requests from other hosts) goes on to
// forwarding, which floods within the network.
//
// The gateway in bridge mode is outside the datapath (a router on the VLAN): its ARP floods.

import type { Action } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import type { Match, MatchField } from '../../controller/openflow/match.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import { endpointContext, endpointNetworkFeature, networkContext } from './context.js';
import {
  ARP_REPLY,
  ARP_REQUEST,
  ETH_ARP,
  instructions,
  matchFlags,
  matchReg,
  OFPP_IN_PORT,
  ROUTER_MAC,
} from './regs.js';
import { FLAG, REG, table } from './tables.js';

const PRIO_ENDPOINT = 100;
const PRIO_ROUTER = 50;

function requestFromLocal(network: number): Match {
  return matchFlags(matchReg({ ethType: ETH_ARP, arpOp: ARP_REQUEST }, REG.network, network), FLAG.fromLocal);
}

const move = (src: MatchField, dst: MatchField, nBits: number): Action => ({
  type: 'regMove',
  src: { field: src, ofs: 0, nBits },
  dst: { field: dst, ofs: 0, nBits },
});

// Shared by every reply flow (ten thousand endpoints make ten thousand of them).
const TO_SENDER: Action = move('ethSrc', 'ethDst', 48);
const AS_REPLY: Action = { type: 'setField', field: 'arpOp', value: ARP_REPLY };
const SHA_TO_THA: Action = move('arpSha', 'arpTha', 48);
const SPA_TO_TPA: Action = move('arpSpa', 'arpTpa', 32);
const BACK: Action = { type: 'output', port: OFPP_IN_PORT };
/** The requested address answers itself: swapped through reg1, which carries nothing yet here. */
const SWAP_IPS: readonly Action[] = [move('arpTpa', 'reg1', 32), SPA_TO_TPA, move('reg1', 'arpSpa', 32)];

/**
 * Turns the request into the reply in place and sends it back out of the port it came in on.
 * `ip` undefined: the requested address itself.
 */
function reply(mac: string, ip: string | undefined): Action[] {
  const ips: readonly Action[] =
    ip === undefined ? SWAP_IPS : [SPA_TO_TPA, { type: 'setField', field: 'arpSpa', value: ip }];
  return [
    TO_SENDER,
    { type: 'setField', field: 'ethSrc', value: mac },
    AS_REPLY,
    SHA_TO_THA,
    { type: 'setField', field: 'arpSha', value: mac },
    ...ips,
    BACK,
  ];
}

function endpointFlows(ix: IntentIndex, id: string, cookie: bigint): Flow[] {
  if (ix.global.fwdMode !== 'bridge' || ix.global.arpMode !== 'proxy') return [];
  const c = endpointContext(ix, id);
  if (!c) return [];
  return [
    {
      tableId: table('arp'),
      priority: PRIO_ENDPOINT,
      match: { ...requestFromLocal(c.net.id), arpTpa: c.e.ip },
      instructions: instructions(reply(c.e.mac, c.e.ip)),
      cookie,
    },
  ];
}

function networkFlows(ix: IntentIndex, key: string, cookie: bigint): Flow[] {
  if (ix.global.fwdMode !== 'routing') return [];
  const c = networkContext(ix, key);
  if (!c) return [];
  return [
    {
      tableId: table('arp'),
      priority: PRIO_ROUTER,
      match: requestFromLocal(c.net.id),
      instructions: instructions(reply(ROUTER_MAC, undefined)),
      cookie,
    },
  ];
}

export const arpFeature: PipelineFeature = endpointNetworkFeature({
  name: 'arp',
  feature: Feature.Arp,
  endpointFlows,
  networkFlows,
});
