// Owns the qos table: a netprofile's DSCP marking and bandwidth limit on the traffic its group's
// local members send. Per endpoint, as Contiv applied them: the limit is each container's, not
// shared by the group. The limit is an OpenFlow meter (drop band), which the userspace datapath
// enforces; its id is the endpoint's OVS port number, unique on the host.

import type { Instruction } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow, Meter } from '../../controller/openflow/flow.js';
import { MeterFlags } from '../../controller/openflow/messages.js';
import type { Change } from '../../policy/compiler/diff.js';
import type { OwnedState, PipelineFeature } from '../../policy/compiler/feature.js';
import { type IntentIndex, tkey } from '../../policy/compiler/index-intent.js';
import type { EndpointIntent, NetProfileIntent } from '../../policy/compiler/intent.js';
import { cookieFor, flowBuilder } from './builder.js';
import { ETH_IP, gotoTable } from './regs.js';

const OWNER = 'ep:';
const PRIO_IP = 100;
const PRIO_ALL = 90;
/** Without a configured burst: a tenth of a second at the rate, so TCP is not starved by a tiny bucket. */
const MIN_BURST_KBIT = 64;
const flow = flowBuilder(Feature.NetProfile);

function profileOf(ix: IntentIndex, e: EndpointIntent): NetProfileIntent | undefined {
  const g = ix.groupOf(e);
  if (!g?.netProfile) return undefined;
  const p = ix.netProfiles.get(tkey(g.tenant, g.netProfile));
  return p && (p.dscp > 0 || p.bandwidthKbps > 0) ? p : undefined;
}

export function meterFor(port: number, p: NetProfileIntent): Meter {
  const burst = p.burstKb > 0 ? p.burstKb * 8 : Math.max(MIN_BURST_KBIT, Math.ceil(p.bandwidthKbps / 10));
  return {
    meterId: port,
    flags: MeterFlags.KBPS | MeterFlags.BURST,
    bands: [{ bandType: 1, rate: p.bandwidthKbps, burstSize: burst }],
  };
}

export const netProfileFeature: PipelineFeature = {
  name: 'netprofile',
  feature: Feature.NetProfile,

  *owners(ix) {
    for (const e of ix.endpoints.values()) {
      if (ix.localPort(e) !== undefined && profileOf(ix, e)) yield OWNER + e.id;
    }
  },

  build(ix, owner): OwnedState {
    const e = ix.endpoints.get(owner.slice(OWNER.length));
    const port = e && ix.localPort(e);
    const p = e && profileOf(ix, e);
    if (!e || port === undefined || !p) return { flows: [] };
    const cookie = cookieFor(Feature.NetProfile, owner);
    const meter: Instruction[] = p.bandwidthKbps > 0 ? [{ type: 'meter', meterId: port }] : [];
    const next = gotoTable('output');
    const flows: Flow[] = [];
    if (p.dscp > 0) {
      flows.push(
        flow({
          table: 'qos',
          priority: PRIO_IP,
          match: { inPort: port, ethType: ETH_IP },
          instructions: [
            ...meter,
            { type: 'applyActions', actions: [{ type: 'setField', field: 'ipDscp', value: p.dscp }] },
            next,
          ],
          cookie,
        }),
      );
    }
    if (p.bandwidthKbps > 0) {
      flows.push(
        flow({
          table: 'qos',
          priority: PRIO_ALL,
          match: { inPort: port },
          instructions: [...meter, next],
          cookie,
        }),
      );
    }
    return { flows, meters: p.bandwidthKbps > 0 ? [meterFor(port, p)] : [] };
  },

  affected(ix, change: Change) {
    switch (change.kind) {
      case 'endpoint':
        return [OWNER + change.id];
      case 'group': {
        const ids = new Set(ix.endpointsOfGroup(change.key));
        return [...ids].map((id) => OWNER + id);
      }
      case 'netProfile': {
        const ids: string[] = [];
        for (const g of ix.groupsWithNetProfile(change.key)) {
          for (const id of ix.endpointsOfGroup(g)) ids.push(OWNER + id);
        }
        return ids;
      }
      case 'hostFacts':
      case 'global':
        return [...ix.endpoints.values()].filter((e) => ix.isLocal(e)).map((e) => OWNER + e.id);
      default:
        return [];
    }
  },
};
