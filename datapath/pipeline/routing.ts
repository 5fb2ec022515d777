// Owns table dstLookup in fwd-mode routing. Local endpoints reach everything through the router
// MAC (arp.ts answers every ARP with it), so a packet to the router MAC is routed by its VRF and
// destination IP: MACs rewritten (router → endpoint), TTL decremented, output as in bridge mode
// but in the destination's network (its VNI or VLAN tag). A packet another host already routed
// arrives with the endpoint's MAC and is delivered without routing again. Destinations the VRF
// does not know leave through the uplink in the source network's VLAN (the outside router is
// there) when the host has one and the network is a VLAN network; otherwise they are dropped.
//
// The gateway address answers ARP (arp.ts) and ICMP echo (here, in the datapath); other IP sent
// to it is dropped.

import type { Action } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import { flowBuilder } from './builder.js';
import { endpointContext, endpointNetworkFeature, networkContext, pathTo } from './context.js';
import {
  ETH_IP,
  gotoNext,
  instructions,
  load,
  matchFlags,
  matchReg,
  move,
  note,
  OFPP_IN_PORT,
  ROUTER_MAC,
  setFlags,
} from './regs.js';
import { FLAG, REG } from './tables.js';

const PRIO_GATEWAY = 110;
const PRIO_ROUTE = 100;
const PRIO_DELIVER = 90;
const PRIO_UNKNOWN = 10;
const flow = flowBuilder(Feature.L3Forwarding);

function endpointFlows(ix: IntentIndex, id: string, cookie: bigint): Flow[] {
  const c = endpointContext(ix, id);
  const path = c && pathTo(ix, c.e, c.net);
  if (!c || !path) return [];
  // With BGP the uplink leads to a router, not to the other hosts: their endpoints are reached
  // by the routes learned from it (bgp.ts).
  if (path.flag === FLAG.toUplink && ix.host.bgp) return [];
  const out: Action[] = [load(REG.outPort, path.port), load(REG.dstNetwork, c.net.id)];
  if (c.group !== 0) out.push(load(REG.dstGroup, c.group));
  out.push(...setFlags(path.flag));
  const flows: Flow[] = [
    flow({
      table: 'dstLookup',
      priority: PRIO_ROUTE,
      match: matchReg({ ethDst: ROUTER_MAC, ethType: ETH_IP, ipv4Dst: c.e.ip }, REG.vrf, c.vrf),
      instructions: instructions(
        [
          { type: 'setField', field: 'ethSrc', value: ROUTER_MAC },
          { type: 'setField', field: 'ethDst', value: c.e.mac },
          { type: 'decTtl' },
          ...out,
        ],
        gotoNext('dstLookup'),
      ),
      cookie,
    }),
  ];
  if (path.flag === FLAG.toLocal) {
    flows.push(
      flow({
        table: 'dstLookup',
        priority: PRIO_DELIVER,
        // Routed by the sending host: from a tunnel or the uplink only.
        match: matchFlags(matchReg({ ethDst: c.e.mac, ethType: ETH_IP }, REG.vrf, c.vrf), 0, FLAG.fromLocal),
        instructions: instructions(out, gotoNext('dstLookup')),
        cookie,
      }),
    );
  }
  return flows;
}

function networkFlows(ix: IntentIndex, key: string, cookie: bigint): Flow[] {
  const c = networkContext(ix, key);
  if (!c) return [];
  const uplink = c.net.encap === 'vlan' ? ix.host.uplinkPort : undefined;
  const actions: Action[] =
    uplink === undefined
      ? [note('no route')]
      : [load(REG.outPort, uplink), load(REG.dstNetwork, c.net.id), ...setFlags(FLAG.toUplink)];
  const flows: Flow[] = [];
  if (c.net.gateway !== '') {
    flows.push(
      flow({
        table: 'dstLookup',
        priority: PRIO_GATEWAY,
        // Echo request to the gateway: turned into the reply in place (OVS fixes the checksums).
        match: matchFlags(
          matchReg(
            { ethType: ETH_IP, ipProto: 1, icmpv4Type: 8, ipv4Dst: c.net.gateway },
            REG.network,
            c.net.id,
          ),
          FLAG.fromLocal,
        ),
        instructions: instructions([
          move('ethSrc', 'ethDst', 48),
          { type: 'setField', field: 'ethSrc', value: ROUTER_MAC },
          move('ipv4Src', 'ipv4Dst', 32),
          { type: 'setField', field: 'ipv4Src', value: c.net.gateway },
          { type: 'setField', field: 'icmpv4Type', value: 0 },
          { type: 'output', port: OFPP_IN_PORT },
        ]),
        cookie,
      }),
      flow({
        table: 'dstLookup',
        priority: PRIO_GATEWAY - 1,
        match: matchReg({ ethType: ETH_IP, ipv4Dst: c.net.gateway }, REG.network, c.net.id),
        instructions: instructions([note('gateway')]),
        cookie,
      }),
    );
  }
  return [
    ...flows,
    flow({
      table: 'dstLookup',
      priority: PRIO_UNKNOWN,
      match: matchFlags(matchReg({ ethType: ETH_IP }, REG.network, c.net.id), FLAG.fromLocal),
      instructions: instructions(actions, uplink === undefined ? undefined : gotoNext('dstLookup')),
      cookie,
    }),
  ];
}

export const routingFeature: PipelineFeature = endpointNetworkFeature({
  name: 'routing',
  feature: Feature.L3Forwarding,
  mode: 'routing',
  endpointFlows,
  networkFlows,
});
