// Owns table output and the flood groups. A local destination: output to the port in REG.outPort
// (one flow for all ports, NXAST_OUTPUT_REG). A tunnel: the destination network's VNI, then the
// tunnel port. The uplink: the destination network's VLAN tag pushed, then the uplink. Flooding
// is an OpenFlow ALL group per network and origin: from a local endpoint, every other local port
// of the network, every tunnel and the uplink; from a tunnel or the uplink, local ports only
// (split horizon; OVS never outputs to the input port, so the sender is skipped by itself).
//
// Tunnels of a flood go to every remote host this host has a tunnel to, not only those with
// endpoints in the network: the group then does not depend on remote endpoints, so a remote
// endpoint joining touches nothing here. The receiving host drops what it has no port for.

import type { Action } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow, Group } from '../../controller/openflow/flow.js';
import { type Bucket, GroupType } from '../../controller/openflow/messages.js';
import type { OwnedState, PipelineFeature } from '../../policy/compiler/feature.js';
import { type IntentIndex, tkey } from '../../policy/compiler/index-intent.js';
import type { NetworkIntent } from '../../policy/compiler/intent.js';
import { cookieFor, flowBuilder } from './builder.js';
import { forwardingAffected, NET, type NetworkContext, networkContext } from './context.js';
import { instructions, matchFlags, matchReg } from './regs.js';
import { FLAG, REG } from './tables.js';

const LOCAL = 'local';
const PRIO_OUT = 100;
const PRIO_FLOOD_LOCAL = 90;
const PRIO_FLOOD_REMOTE = 80;
const ANY = 0xffffffff;
const flow = flowBuilder(Feature.Output);

/** Flood group ids: readable in dump-groups as 0x1<network id> and 0x2<network id>. */
export const floodAllGroup = (networkId: number) => 0x10000 | networkId;
export const floodLocalGroup = (networkId: number) => 0x20000 | networkId;

const outReg: Action = { type: 'outputReg', src: REG.outPort };

function toTunnel(net: NetworkIntent, port?: number): Action[] {
  return [
    { type: 'setField', field: 'tunnelId', value: BigInt(net.pktTag) },
    port === undefined ? outReg : { type: 'output', port },
  ];
}

function toUplink(net: NetworkIntent, port?: number): Action[] {
  return [
    { type: 'pushVlan', ethertype: 0x8100 },
    { type: 'setField', field: 'vlanVid', value: 0x1000 | net.pktTag },
    port === undefined ? outReg : { type: 'output', port },
  ];
}

const bucket = (actions: Action[]): Bucket => ({ weight: 0, watchPort: ANY, watchGroup: ANY, actions });

function localPorts(ix: IntentIndex, net: NetworkIntent): number[] {
  const ports: number[] = [];
  const key = tkey(net.tenant, net.name);
  const members = ix.endpointsOfNetwork(key);
  // Walk the smaller side: a network's endpoints (most on other hosts, or not plugged yet) or this
  // host's plugged ports. 10,000 records arriving at once rebuild this owner 10,000 times.
  if (ix.host.endpointPorts.size < members.size) {
    for (const [id, port] of ix.host.endpointPorts) {
      const e = ix.endpoints.get(id);
      if (e && members.has(id) && ix.localPort(e) === port) ports.push(port);
    }
  } else {
    for (const id of members) {
      const e = ix.endpoints.get(id);
      const port = e && ix.localPort(e);
      if (port !== undefined) ports.push(port);
    }
  }
  return ports.sort((a, b) => a - b);
}

function networkState(ix: IntentIndex, c: NetworkContext, cookie: bigint): OwnedState {
  const { net } = c;
  const flows: Flow[] = [];
  const local = localPorts(ix, net).map((port) => bucket([{ type: 'output', port }]));
  const remote: Bucket[] = [];
  if (net.encap === 'vxlan') {
    flows.push(
      flow({
        table: 'output',
        priority: PRIO_OUT,
        // Never from one tunnel into another: hosts are a full mesh.
        match: matchReg(matchFlags({}, FLAG.toTunnel, FLAG.fromTunnel), REG.dstNetwork, net.id),
        instructions: instructions(toTunnel(net)),
        cookie,
      }),
    );
    for (const port of [...new Set(ix.host.tunnelPorts.values())].sort((a, b) => a - b)) {
      remote.push(bucket(toTunnel(net, port)));
    }
  } else if (ix.host.uplinkPort !== undefined) {
    flows.push(
      flow({
        table: 'output',
        priority: PRIO_OUT,
        match: matchReg(matchFlags({}, FLAG.toUplink, FLAG.fromUplink), REG.dstNetwork, net.id),
        instructions: instructions(toUplink(net)),
        cookie,
      }),
    );
    remote.push(bucket(toUplink(net, ix.host.uplinkPort)));
  }
  const all = floodAllGroup(net.id);
  const onlyLocal = floodLocalGroup(net.id);
  flows.push(
    flow({
      table: 'output',
      priority: PRIO_FLOOD_LOCAL,
      match: matchReg(matchFlags({}, FLAG.flood | FLAG.fromLocal), REG.dstNetwork, net.id),
      instructions: instructions([{ type: 'group', groupId: all }]),
      cookie,
    }),
    flow({
      table: 'output',
      priority: PRIO_FLOOD_REMOTE,
      match: matchReg(matchFlags({}, FLAG.flood), REG.dstNetwork, net.id),
      instructions: instructions([{ type: 'group', groupId: onlyLocal }]),
      cookie,
    }),
  );
  const groups: Group[] = [
    { groupId: all, groupType: GroupType.ALL, buckets: [...local, ...remote] },
    { groupId: onlyLocal, groupType: GroupType.ALL, buckets: local },
  ];
  return { flows, groups };
}

export const outputFeature: PipelineFeature = {
  name: 'output',
  feature: Feature.Output,

  *owners(ix) {
    yield LOCAL;
    for (const key of ix.networks.keys()) yield NET + key;
  },

  build(ix, owner): OwnedState {
    const cookie = cookieFor(Feature.Output, owner);
    if (owner === LOCAL) {
      return {
        flows: [
          flow({
            table: 'output',
            priority: PRIO_OUT,
            match: matchFlags({}, FLAG.toLocal),
            instructions: instructions([outReg]),
            cookie,
          }),
        ],
      };
    }
    const c = owner.startsWith(NET) ? networkContext(ix, owner.slice(NET.length)) : undefined;
    return c ? networkState(ix, c, cookie) : { flows: [] };
  },

  affected: (ix, change, before) =>
    forwardingAffected(ix, change, before, { fixed: [LOCAL], networkHasEndpoints: true }),
};
