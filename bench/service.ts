// Owns the service-update benchmark: with 1,000 services (two ports each) and their 2,000 providers
// compiled for one host, the time Compilation.change() takes to add one provider to one service,
// and how much of the switch that changes (goal: O(1) flows, under 1 ms).

import { forwardingFeatures } from '../datapath/pipeline/index.js';
import { policyFeature } from '../datapath/pipeline/policy.js';
import { serviceFeature } from '../datapath/pipeline/service.js';
import { Compilation } from '../policy/compiler/compile.js';
import type { EndpointIntent, HostFacts, Intent, ServiceIntent } from '../policy/compiler/intent.js';
import { macFromIPv4 } from '../policy/ipam/addr.js';
import type { Benchmark, BenchResult } from './run.js';

const SERVICES = 1000;
const ROUNDS = 200;
const features = [...forwardingFeatures, policyFeature, serviceFeature];

const ip = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

function world(): { intent: Intent; facts: HostFacts } {
  const services: ServiceIntent[] = [];
  const endpoints: EndpointIntent[] = [];
  const ports = new Map<string, number>();
  for (let i = 1; i <= SERVICES; i++) {
    services.push({
      tenant: 't1',
      name: `s${i}`,
      network: 'n1',
      id: i,
      vip: ip(0x100000 + i),
      ports: [
        { port: 80, targetPort: 8080, protocol: 6 },
        { port: 53, targetPort: 5353, protocol: 17 },
      ],
      selectors: { app: `s${i}` },
    });
    for (const k of [0, 1]) {
      const id = `e${i}-${k}`;
      const addr = ip(0x200000 + i * 2 + k);
      endpoints.push({
        id,
        tenant: 't1',
        network: 'n1',
        group: '',
        ip: addr,
        mac: macFromIPv4(addr),
        host: k ? 'h2' : 'h1',
        labels: { app: `s${i}` },
      });
      if (!k) ports.set(id, ports.size + 1);
    }
  }
  const intent: Intent = {
    global: { fwdMode: 'bridge', arpMode: 'proxy', pvtSubnet: '172.19.0.0/16' },
    tenants: [{ name: 't1', id: 1 }],
    networks: [
      { tenant: 't1', name: 'n1', id: 10, encap: 'vxlan', pktTag: 5010, subnet: '10.0.0.0/8', gateway: '' },
    ],
    groups: [],
    policies: [],
    netProfiles: [],
    endpoints,
    hosts: [
      { name: 'h1', vtepIP: '192.0.2.1' },
      { name: 'h2', vtepIP: '192.0.2.2' },
    ],
    services,
  };
  return { intent, facts: { name: 'h1', endpointPorts: ports, tunnelPorts: new Map([['h2', 100]]) } };
}

async function run(): Promise<BenchResult[]> {
  const { intent, facts } = world();
  const comp = new Compilation(intent, facts, features);
  const total = comp.state().flows.length;
  const times: number[] = [];
  let svcFlows = 0;
  let groups = 0;
  let owners = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const s = 1 + ((r * 7) % SERVICES);
    const addr = ip(0x300000 + r);
    const e: EndpointIntent = {
      id: `new${r}`,
      tenant: 't1',
      network: 'n1',
      group: '',
      ip: addr,
      mac: macFromIPv4(addr),
      host: 'h2',
      labels: { app: `s${s}` },
    };
    const t0 = performance.now();
    const d = comp.change({ kind: 'endpoint', id: e.id }, (ix) => ix.putEndpoint(e));
    times.push(performance.now() - t0);
    // Re-sent unchanged flows are dropped by the switch manager; count the service feature's own.
    svcFlows = d.addFlows.filter((f) => f.cookie >> 56n === 9n).length;
    groups = d.putGroups.filter((g) => g.groupId >= 0x3000_0000).length;
    owners = d.owners;
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  return [
    {
      name: 'service-update',
      value: median,
      unit: 'ms',
      peer: 'target',
      peerValue: 1,
      ratio: median / 1,
      context: {
        services: SERVICES,
        switchFlows: total,
        p99Ms: Number(times[Math.floor(times.length * 0.99)]!.toFixed(3)),
        serviceFlowsSent: svcFlows,
        serviceGroupsPut: groups,
        ownersRecomputed: owners,
        rounds: ROUNDS,
      },
    },
  ];
}

export const updateBenchmark: Benchmark = {
  describe:
    'one provider added with 1,000 services compiled: Compilation.change() time (target < 1 ms, O(1) flows)',
  run,
};
