// Owns the dns table: DNS queries (UDP 53) from local endpoints go to the controller, which
// answers our names and sends everything else on through the pipeline (datapath/agent/dns-punt.ts).
// One flow, whatever the intent: present when netplugin serves DNS, absent otherwise.

import { Feature } from '../../controller/openflow/cookie.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import { cookieFor, flowBuilder } from './builder.js';
import { ETH_IP, instructions, matchFlags } from './regs.js';
import { FLAG } from './tables.js';

const OWNER = 'punt';
export const DNS_PORT = 53;
const PROTO_UDP = 17;
const flow = flowBuilder(Feature.Dns);

export const dnsFeature: PipelineFeature = {
  name: 'dns',
  feature: Feature.Dns,
  owners: () => [OWNER],
  build(_ix, owner) {
    if (owner !== OWNER) return { flows: [] };
    return {
      flows: [
        flow({
          table: 'dns',
          priority: 100,
          match: matchFlags({ ethType: ETH_IP, ipProto: PROTO_UDP, udpDst: DNS_PORT }, FLAG.fromLocal),
          instructions: instructions([{ type: 'controller', maxLen: 0xffff }]),
          cookie: cookieFor(Feature.Dns, OWNER),
        }),
      ],
    };
  },
  affected: () => [],
};
