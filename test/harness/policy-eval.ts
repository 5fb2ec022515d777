// Owns the tests' reference for Contiv's rule semantics: a plain evaluator (intent + one new
// connection → allow or deny) written without the compiler's code, and random policy intents to
// feed it and the compiler. The differential tests hold the compiled flows to this.

import type {
  EndpointIntent,
  GroupIntent,
  Intent,
  NetworkIntent,
  PolicyIntent,
  RuleIntent,
} from '../../policy/compiler/intent.js';
import { ipv4ToNumber } from '../../policy/ipam/addr.js';
import { rule } from './intents.js';
import { prng } from './prng.js';

export interface Packet {
  proto: number;
  src: string;
  dst: string;
  /** tcp/udp destination port (0 for other protocols). */
  dport: number;
}

export interface Conn {
  packet: Packet;
  /** Endpoints at either end (undefined: an address outside the intent). */
  srcEp: EndpointIntent | undefined;
  dstEp: EndpointIntent | undefined;
  /** Which ends are on the host being checked ("out" rules run at the source, "in" at the destination). */
  srcLocal: boolean;
  dstLocal: boolean;
}

const ipNum = (s: string): number => ipv4ToNumber(s) ?? 0;

/** Does `ip` fall in "a.b.c.d", "a.b.c.d/n" or "a.b.c.d-e[/n]"? Checked as numbers, not prefixes. */
export function addressIn(ip: string, spec: string): boolean {
  const [body, len] = spec.split('/');
  const x = ipNum(ip);
  if (body!.includes('-')) {
    const [start, end] = body!.split('-');
    const lo = ipNum(start!);
    const hi = lo - (lo % 256) + Number(end);
    return x >= lo && x <= hi;
  }
  const n = len === undefined ? 32 : Number(len);
  const block = 2 ** (32 - n);
  return Math.floor(x / block) === Math.floor(ipNum(body!) / block);
}

function ruleMatches(intent: Intent, tenant: string, r: RuleIntent, c: Conn): boolean {
  const p = c.packet;
  if (r.protocol !== 0 && p.proto !== r.protocol) return false;
  if (r.port !== 0) {
    if (r.protocol === 0 && !((p.proto === 6 || p.proto === 17) && p.dport === r.port)) return false;
    if ((r.protocol === 6 || r.protocol === 17) && p.dport !== r.port) return false;
  }
  const peer = r.direction === 'in' ? c.srcEp : c.dstEp;
  const peerAddr = r.direction === 'in' ? p.src : p.dst;
  const groupName = r.direction === 'in' ? r.fromGroup : r.toGroup;
  const netName = r.direction === 'in' ? r.fromNetwork : r.toNetwork;
  const ip = r.direction === 'in' ? r.fromIp : r.toIp;
  if (groupName) {
    const exists = intent.groups.some((g) => g.tenant === tenant && g.name === groupName);
    if (!exists || !peer || peer.tenant !== tenant || peer.group !== groupName) return false;
  }
  if (netName) {
    const n = intent.networks.find((x) => x.tenant === tenant && x.name === netName);
    if (!n || !addressIn(peerAddr, n.subnet)) return false;
  }
  if (ip && !addressIn(peerAddr, ip)) return false;
  if (r.direction === 'in' && r.toIp && !addressIn(p.dst, r.toIp)) return false;
  return true;
}

/** The verdict of one direction's rules for the endpoint's group: highest priority wins, deny on ties. */
function decide(intent: Intent, dir: 'in' | 'out', ep: EndpointIntent | undefined, c: Conn): boolean {
  if (!ep?.group) return true;
  const g = intent.groups.find((x) => x.tenant === ep.tenant && x.name === ep.group);
  if (!g) return true;
  let best = 0;
  let bestDeny = false;
  for (const name of new Set(g.policies)) {
    const pol = intent.policies.find((p) => p.tenant === g.tenant && p.name === name);
    for (const r of pol?.rules ?? []) {
      if (r.direction !== dir || !ruleMatches(intent, g.tenant, r, c)) continue;
      if (r.priority > best) {
        best = r.priority;
        bestDeny = r.action === 'deny';
      } else if (r.priority === best && r.action === 'deny') {
        bestDeny = true;
      }
    }
  }
  return best === 0 || !bestDeny;
}

/** Allow (true) or deny a new connection, on the host where `srcLocal`/`dstLocal` say the ends are. */
export function evaluate(intent: Intent, c: Conn): boolean {
  if (c.srcLocal && !decide(intent, 'out', c.srcEp, c)) return false;
  if (c.dstLocal && !decide(intent, 'in', c.dstEp, c)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Random intents: small enough that random packets hit rules often.

export interface PolicyWorld {
  intent: Intent;
  /** Addresses outside every endpoint, some inside networks' subnets. */
  externals: string[];
}

const PORTS = [0, 22, 80, 443, 8080];
const PROTOS = [0, 1, 6, 6, 17, 47];

export function randomRule(
  rand: () => number,
  id: string,
  groups: string[],
  nets: NetworkIntent[],
): RuleIntent {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const direction = rand() < 0.6 ? 'in' : 'out';
  const protocol = pick(PROTOS);
  const port = protocol === 6 || protocol === 17 || (protocol === 0 && rand() < 0.2) ? pick(PORTS) : 0;
  const r: RuleIntent = rule({
    ruleId: id,
    direction,
    priority: pick([1, 1, 5, 10, 10, 50, 100]),
    action: rand() < 0.5 ? 'allow' : 'deny',
    protocol,
    port,
  });
  const peer = rand();
  const net = pick(nets);
  const base = net.subnet.split('/')[0]!.split('.').slice(0, 3).join('.');
  const ipSpec = () => {
    const k = rand();
    if (k < 0.3) return `${base}.${2 + Math.floor(rand() * 8)}`;
    if (k < 0.6) return `${base}.${8 * Math.floor(rand() * 2)}/${pick([29, 30, 24])}`;
    const lo = 1 + Math.floor(rand() * 6);
    return `${base}.${lo}-${lo + Math.floor(rand() * 7)}`;
  };
  const side = direction === 'in' ? 'from' : 'to';
  if (peer < 0.3) r[`${side}Group`] = pick(groups);
  else if (peer < 0.45) r[`${side}Network`] = net.name;
  else if (peer < 0.65) r[`${side}Ip`] = ipSpec();
  else if (peer < 0.75) {
    r[`${side}Group`] = pick(groups);
    r[`${side}Ip`] = ipSpec();
  } else if (peer < 0.8) r[`${side}Group`] = 'nosuchgroup';
  if (direction === 'in' && rand() < 0.1) r.toIp = ipSpec();
  return r;
}

/** A tenant, 2 networks, `nGroups` groups, policies of random rules attached at random. */
export function randomWorld(seed: number, nGroups = 5, nPolicies = 4, rulesPerPolicy = 5): PolicyWorld {
  const rand = prng(seed);
  const tenant = 't1';
  const networks: NetworkIntent[] = [1, 2].map((i) => ({
    tenant,
    name: `net${i}`,
    id: 100 + i,
    encap: 'vxlan',
    pktTag: 5000 + i,
    subnet: `10.${i}.0.0/24`,
    gateway: '',
  }));
  const groupNames = Array.from({ length: nGroups }, (_, i) => `g${i}`);
  const policies: PolicyIntent[] = Array.from({ length: nPolicies }, (_, i) => ({
    tenant,
    name: `p${i}`,
    rules: Array.from({ length: 1 + Math.floor(rand() * rulesPerPolicy) }, (_, j) =>
      randomRule(rand, `r${j}`, groupNames, networks),
    ),
  }));
  const groups: GroupIntent[] = groupNames.map((name, i) => ({
    tenant,
    name,
    network: networks[i % 2]!.name,
    id: 10 + i,
    policies: policies.filter(() => rand() < 0.4).map((p) => p.name),
    netProfile: '',
  }));
  const endpoints: EndpointIntent[] = [];
  for (let i = 0; i < nGroups * 2 + 2; i++) {
    const group = i < nGroups * 2 ? groups[i % nGroups]! : undefined;
    const net = networks.find((n) => n.name === group?.network) ?? networks[i % 2]!;
    endpoints.push({
      id: `ep${i}`,
      tenant,
      network: net.name,
      group: group?.name ?? '',
      ip: `${net.subnet.split('.').slice(0, 3).join('.')}.${2 + i}`,
      mac: `02:02:00:00:00:${i.toString(16).padStart(2, '0')}`,
      host: i % 3 === 0 ? 'h1' : 'h2',
    });
  }
  return {
    intent: {
      global: { fwdMode: 'bridge', arpMode: 'proxy', pvtSubnet: '172.19.0.0/16' },
      tenants: [{ name: tenant, id: 1 }],
      networks,
      groups,
      policies,
      netProfiles: [],
      endpoints,
      hosts: [
        { name: 'h1', vtepIP: '192.168.0.1' },
        { name: 'h2', vtepIP: '192.168.0.2' },
      ],
    },
    externals: ['10.1.0.200', '10.2.0.201', '10.9.9.9', '192.168.7.1'],
  };
}

/** Random new connections between the world's endpoints and outside addresses. */
export function randomConns(world: PolicyWorld, seed: number, n: number): Conn[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const eps = world.intent.endpoints;
  const out: Conn[] = [];
  while (out.length < n) {
    const srcEp = rand() < 0.85 ? pick(eps) : undefined;
    const dstEp = rand() < 0.85 ? pick(eps) : undefined;
    if (srcEp && srcEp === dstEp) continue;
    const proto = pick([1, 6, 6, 6, 17, 17, 47]);
    const dport = proto === 6 || proto === 17 ? pick([22, 80, 443, 8080, 9999]) : 0;
    const srcLocal = srcEp !== undefined && rand() < 0.7;
    const dstLocal = dstEp !== undefined && (!srcLocal || rand() < 0.7);
    out.push({
      packet: {
        proto,
        src: srcEp?.ip ?? pick(world.externals),
        dst: dstEp?.ip ?? pick(world.externals),
        dport,
      },
      srcEp,
      dstEp,
      srcLocal,
      dstLocal,
    });
  }
  return out;
}
