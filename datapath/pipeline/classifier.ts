// Owns tables classify and srcGroup: where a packet came from. A local endpoint's port admits
// only the endpoint's own MAC + IP (IP) or MAC + sender MAC + sender IP (ARP) and loads its
// network, VRF and group; anything else from that port is dropped (spoof guard). A tunnel port
// admits the VNIs of VXLAN networks, the uplink the tags of VLAN networks (popped). Packets
// from other hosts get their source group from their source address (the sender's spoof guard
// vouches for it).

import type { Action } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import { flowBuilder } from './builder.js';
import {
  type EndpointContext,
  endpointContext,
  endpointNetworkFeature,
  type NetworkContext,
  networkContext,
} from './context.js';
import { ETH_ARP, ETH_IP, gotoNext, instructions, load, matchReg, note, setFlags } from './regs.js';
import { FLAG, REG } from './tables.js';

const PRIO_ADMIT = 200;
const PRIO_GUARD = 100;
const PRIO_SRC_GROUP = 100;
const flow = flowBuilder(Feature.Classifier);

function ids(c: NetworkContext, group: number, from: number): Action[] {
  const out = [load(REG.network, c.net.id), load(REG.vrf, c.vrf)];
  if (group !== 0) out.push(load(REG.srcGroup, group));
  return [...out, ...setFlags(from)];
}

function endpointFlows(ix: IntentIndex, c: EndpointContext, cookie: bigint): Flow[] {
  const { e } = c;
  const port = ix.localPort(e);
  if (port === undefined) {
    if (ix.isLocal(e) || c.group === 0) return [];
    // A remote endpoint: its group, by its address.
    return [
      flow({
        table: 'srcGroup',
        priority: PRIO_SRC_GROUP,
        match: matchReg({ ethType: ETH_IP, ipv4Src: e.ip }, REG.network, c.net.id),
        instructions: instructions([load(REG.srcGroup, c.group)], gotoNext('srcGroup')),
        cookie,
      }),
    ];
  }
  const admit = instructions(ids(c, c.group, FLAG.fromLocal), gotoNext('classify'));
  return [
    flow({
      table: 'classify',
      priority: PRIO_ADMIT,
      match: { inPort: port, ethSrc: e.mac, ethType: ETH_IP, ipv4Src: e.ip },
      instructions: admit,
      cookie,
    }),
    flow({
      table: 'classify',
      priority: PRIO_ADMIT,
      match: { inPort: port, ethSrc: e.mac, ethType: ETH_ARP, arpSpa: e.ip, arpSha: e.mac },
      instructions: admit,
      cookie,
    }),
    flow({
      table: 'classify',
      priority: PRIO_GUARD,
      match: { inPort: port },
      instructions: instructions([note('spoof guard')]),
      cookie,
    }),
  ];
}

function networkFlows(ix: IntentIndex, c: NetworkContext, cookie: bigint): Flow[] {
  const flows: Flow[] = [];
  if (c.net.encap === 'vxlan') {
    const admit = instructions(ids(c, 0, FLAG.fromTunnel), gotoNext('classify'));
    for (const port of new Set(ix.host.tunnelPorts.values())) {
      flows.push(
        flow({
          table: 'classify',
          priority: PRIO_ADMIT,
          match: { inPort: port, tunnelId: BigInt(c.net.pktTag) },
          instructions: admit,
          cookie,
        }),
      );
    }
  } else if (ix.host.uplinkPort !== undefined) {
    flows.push(
      flow({
        table: 'classify',
        priority: PRIO_ADMIT,
        match: { inPort: ix.host.uplinkPort, vlanVid: 0x1000 | c.net.pktTag },
        instructions: instructions(
          [{ type: 'popVlan' }, ...ids(c, 0, FLAG.fromUplink)],
          gotoNext('classify'),
        ),
        cookie,
      }),
    );
  }
  return flows;
}

export const classifierFeature: PipelineFeature = endpointNetworkFeature({
  name: 'classifier',
  feature: Feature.Classifier,
  endpointFlows: (ix, id, cookie) => {
    const c = endpointContext(ix, id);
    return c ? endpointFlows(ix, c, cookie) : [];
  },
  networkFlows: (ix, key, cookie) => {
    const c = networkContext(ix, key);
    return c ? networkFlows(ix, c, cookie) : [];
  },
});
