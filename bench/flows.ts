// Owns the benchmarks' synthetic flow tables: a deterministic Contiv-like pipeline of N flows, as
// `Flow` objects and as ovs-ofctl text meaning the same flows. It never talks to a switch.
//
// Both forms are rendered from one `FlowSpec` so that they cannot drift apart; the integration test
// test/integration/bench-flows.test.ts installs both and compares what OVS holds.

import type { Action, Instruction } from '../controller/openflow/actions.js';
import { Feature, makeCookie } from '../controller/openflow/cookie.js';
import type { Flow } from '../controller/openflow/flow.js';
import { ctState, type Match } from '../controller/openflow/match.js';
import { ipv4Mask, numberToIPv4 } from '../policy/ipam/addr.js';
import { prng } from '../test/harness/prng.js';

/** Pipeline tables, in the order a packet walks them. */
export const Table = {
  Classify: 0,
  L2: 10,
  Conntrack: 20,
  Policy: 30,
  L3: 40,
} as const;

const ETH_IP = 0x0800;
const PROTO_NUM = { tcp: 6, udp: 17 } as const;
const META_ALL = 0xffff_ffffn;
const META_NET = 0xffff_0000n;
const META_EPG = 0x0000_ffffn;

export interface MatchSpec {
  /** OVS ct_state syntax, e.g. "+trk+est". */
  ctState?: string;
  proto?: 'ip' | 'tcp' | 'udp';
  inPort?: number;
  /** value, mask */
  metadata?: [bigint, bigint];
  ethDst?: string;
  /** address, prefix length (the address has no host bits) */
  ipv4Src?: [string, number];
  ipv4Dst?: [string, number];
  /** needs proto tcp or udp */
  tpDst?: number;
}

/** Apply-actions in this order: ct, set eth_dst, output; then write_metadata, goto_table. None = drop. */
export interface ActionSpec {
  ct?: { commit?: boolean; zone: number; table?: number };
  setEthDst?: string;
  output?: number;
  writeMetadata?: [bigint, bigint];
  gotoTable?: number;
}

export type FlowKind = 'classify' | 'l2' | 'ctEntry' | 'ctEst' | 'ctNew' | 'policy' | 'l3' | 'miss';

export interface FlowSpec {
  kind: FlowKind;
  table: number;
  priority: number;
  cookie: bigint;
  match: MatchSpec;
  actions: ActionSpec;
}

export interface FlowSet {
  /** The n given to generateFlows: it fixes the endpoints, networks and groups of the deployment. */
  base: number;
  specs: FlowSpec[];
  flows: Flow[];
  /** ovs-ofctl add-flows lines, one per spec, same order. */
  lines: string[];
}

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

function prefixMask(len: number): string {
  return numberToIPv4(ipv4Mask(len));
}

/** The shape of the synthetic deployment for n flows. */
interface Layout {
  endpoints: number;
  networks: number;
  groups: number;
  policies: number;
}

function layout(n: number): Layout {
  if (!Number.isInteger(n) || n < 100) throw new Error(`flows: n must be an integer ≥ 100, got ${n}`);
  // One endpoint per ~50 flows: per endpoint three forwarding flows, the rest is policy, as in a
  // cluster whose policy rules dominate its flow count.
  const endpoints = Math.max(4, Math.floor(n / 50));
  const networks = Math.min(200, Math.max(1, Math.ceil(endpoints / 50)));
  const groups = Math.max(2, Math.floor(endpoints / 20));
  const fixed = endpoints * 3 + networks * 3 + 5;
  return { endpoints, networks, groups, policies: n - fixed };
}

interface Endpoint {
  id: number;
  net: number;
  port: number;
  ip: number;
  mac: string;
  epg: number;
}

function endpoint(e: number, l: Layout): Endpoint {
  const net = e % l.networks;
  const host = Math.floor(e / l.networks) + 2;
  return {
    id: e,
    net,
    port: e + 1,
    // 10.<net+1>.<host high>.<host low>: one /16 per network.
    ip: ((10 << 24) | ((net + 1) << 16) | (host & 0xffff)) >>> 0,
    mac: `02:00:${hex2(e >>> 24)}:${hex2(e >>> 16)}:${hex2(e >>> 8)}:${hex2(e)}`,
    epg: 1 + (e % l.groups),
  };
}

const netMeta = (net: number): bigint => BigInt(net + 1) << 16n;

function forwardingSpecs(l: Layout): FlowSpec[] {
  const out: FlowSpec[] = [];
  for (let e = 0; e < l.endpoints; e++) {
    const ep = endpoint(e, l);
    out.push({
      kind: 'classify',
      table: Table.Classify,
      priority: 100,
      cookie: makeCookie(Feature.Classifier, e),
      match: { inPort: ep.port },
      actions: { writeMetadata: [netMeta(ep.net) | BigInt(ep.epg), META_ALL], gotoTable: Table.L2 },
    });
    out.push({
      kind: 'l2',
      table: Table.L2,
      priority: 100,
      cookie: makeCookie(Feature.L2Forwarding, e),
      match: { metadata: [netMeta(ep.net), META_NET], ethDst: ep.mac },
      actions: { output: ep.port },
    });
    out.push({
      kind: 'l3',
      table: Table.L3,
      priority: 100,
      cookie: makeCookie(Feature.L3Forwarding, e),
      match: { proto: 'ip', metadata: [netMeta(ep.net), META_NET], ipv4Dst: [numberToIPv4(ep.ip), 32] },
      actions: { setEthDst: ep.mac, output: ep.port },
    });
  }
  for (let k = 0; k < l.networks; k++) {
    const meta: [bigint, bigint] = [netMeta(k), META_NET];
    out.push({
      kind: 'ctEntry',
      table: Table.L2,
      priority: 50,
      cookie: makeCookie(Feature.Policy, 0x10000 + k),
      match: { proto: 'ip', metadata: meta },
      actions: { ct: { zone: k + 1, table: Table.Conntrack } },
    });
    out.push({
      kind: 'ctEst',
      table: Table.Conntrack,
      priority: 200,
      cookie: makeCookie(Feature.Policy, 0x10000 + k),
      match: { ctState: '+trk+est', proto: 'ip', metadata: meta },
      actions: { gotoTable: Table.L3 },
    });
    out.push({
      kind: 'ctNew',
      table: Table.Conntrack,
      priority: 100,
      cookie: makeCookie(Feature.Policy, 0x10000 + k),
      match: { ctState: '+trk+new', proto: 'ip', metadata: meta },
      actions: { gotoTable: Table.Policy },
    });
  }
  for (const table of Object.values(Table)) {
    out.push({
      kind: 'miss',
      table,
      priority: 0,
      cookie: makeCookie(Feature.Policy, 0),
      match: {},
      actions: {},
    });
  }
  return out;
}

const COMMON_PORTS = [22, 53, 80, 443, 3306, 5432, 6379, 8080, 8443, 9090];

/** One random policy rule (not yet checked for uniqueness). */
function policySpec(rand: () => number, l: Layout, ruleId: number): FlowSpec {
  const pick = (k: number) => Math.floor(rand() * k);
  const src = endpoint(pick(l.endpoints), l);
  const dst = endpoint(pick(l.endpoints), l);
  const r = rand();
  const proto = r < 0.6 ? 'tcp' : r < 0.9 ? 'udp' : 'ip';
  const match: MatchSpec = { proto, metadata: [BigInt(src.epg), META_EPG] };
  const s = rand();
  if (s < 0.5) match.ipv4Src = [numberToIPv4(src.ip), 32];
  else if (s < 0.75) match.ipv4Src = [numberToIPv4(src.ip & 0xffffff00), 24];
  const d = rand();
  // Without a source, the destination is always given: a rule names at least one side.
  if (d < 0.6 || match.ipv4Src === undefined) match.ipv4Dst = [numberToIPv4(dst.ip), 32];
  else if (d < 0.85) match.ipv4Dst = [numberToIPv4(dst.ip & 0xffffff00), 24];
  if (proto !== 'ip')
    match.tpDst = rand() < 0.5 ? COMMON_PORTS[pick(COMMON_PORTS.length)]! : 1024 + pick(64511);
  const allow = rand() < 0.75;
  return {
    kind: 'policy',
    table: Table.Policy,
    // Contiv maps rule priority 1..100 onto flow priorities; deny rules sit above allows.
    priority: 1000 + pick(100) * 10 + (allow ? 0 : 5),
    cookie: makeCookie(Feature.Policy, ruleId),
    match,
    actions: allow ? { ct: { commit: true, zone: dst.net + 1 }, gotoTable: Table.L3 } : {},
  };
}

/** Table, priority and match as text: the flow's identity, used to keep keys unique. */
function keyOf(s: FlowSpec): string {
  return `${s.table}/${s.priority}/${matchText(s.match)}`;
}

/** n flows, deterministic in (n, seed). Most are policy rules in table 30. */
export function generateFlows(n: number, seed = 1): FlowSet {
  const l = layout(n);
  const specs = forwardingSpecs(l);
  const keys = new Set(specs.map(keyOf));
  const rand = prng(seed);
  let ruleId = 1;
  while (specs.length < n) {
    const s = policySpec(rand, l, ruleId);
    const k = keyOf(s);
    if (keys.has(k)) continue;
    keys.add(k);
    specs.push(s);
    ruleId++;
  }
  return fromSpecs(n, specs);
}

export function fromSpecs(base: number, specs: FlowSpec[]): FlowSet {
  return { base, specs, flows: specs.map(toFlow), lines: specs.map(toText) };
}

/** A different but equivalent-in-kind action set for a flow, as an operator's change would make. */
function modified(s: FlowSpec): ActionSpec {
  const a = s.actions;
  switch (s.kind) {
    case 'policy':
      // allow ↔ deny
      return a.gotoTable === undefined ? { ct: { commit: true, zone: 1 }, gotoTable: Table.L3 } : {};
    case 'classify':
      return { ...a, writeMetadata: [(a.writeMetadata?.[0] ?? 0n) ^ 0x8000n, META_ALL] };
    case 'l2':
    case 'l3':
      return { ...a, output: (a.output ?? 0) + 5000 };
    case 'ctEntry':
      return { ct: { zone: (a.ct?.zone ?? 0) + 1000, table: Table.Conntrack } };
    case 'ctEst':
    case 'ctNew':
    case 'miss':
      return a.gotoTable === Table.Policy ? { gotoTable: Table.L3 } : { gotoTable: Table.Policy };
  }
}

/**
 * The flow set after a change touching `fraction` of it: half of the touched flows get new actions,
 * a quarter are deleted, a quarter are new policy rules. Deterministic in (flows, fraction, seed).
 */
export function mutate(set: FlowSet, fraction: number, seed: number): FlowSet {
  const n = set.specs.length;
  const touched = Math.round(n * fraction);
  const nMod = Math.floor(touched / 2);
  const nDel = Math.floor(touched / 4);
  const nNew = touched - nMod - nDel;
  const rand = prng(seed);
  // Partial Fisher-Yates: distinct indices, table-miss flows excluded (nobody edits those).
  const idx = set.specs.map((_, i) => i).filter((i) => set.specs[i]!.kind !== 'miss');
  for (let i = 0; i < nMod + nDel; i++) {
    const j = i + Math.floor(rand() * (idx.length - i));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  const mod = new Set(idx.slice(0, nMod));
  const del = new Set(idx.slice(nMod, nMod + nDel));
  const specs: FlowSpec[] = [];
  set.specs.forEach((s, i) => {
    if (del.has(i)) return;
    specs.push(mod.has(i) ? { ...s, actions: modified(s) } : s);
  });
  // New rules must not collide with any flow of the old set (deleted ones included): a new flow
  // is an add, never a modify in disguise.
  const keys = new Set(set.specs.map(keyOf));
  const l = layout(set.base);
  let ruleId = 0x8000_0000;
  for (let added = 0; added < nNew; ) {
    const s = policySpec(rand, l, ruleId);
    const k = keyOf(s);
    if (keys.has(k)) continue;
    keys.add(k);
    specs.push(s);
    ruleId++;
    added++;
  }
  return fromSpecs(set.base, specs);
}

// ---------------------------------------------------------------------------------------------
// Rendering

export function toFlow(s: FlowSpec): Flow {
  const m = s.match;
  const match: Match = {};
  if (m.inPort !== undefined) match.inPort = m.inPort;
  if (m.metadata) match.metadata = { value: m.metadata[0], mask: m.metadata[1] };
  if (m.ethDst !== undefined) match.ethDst = m.ethDst;
  if (m.proto !== undefined) {
    match.ethType = ETH_IP;
    if (m.proto !== 'ip') match.ipProto = PROTO_NUM[m.proto];
  }
  const addr = (a: [string, number]) => (a[1] === 32 ? a[0] : { value: a[0], mask: prefixMask(a[1]) });
  if (m.ipv4Src) match.ipv4Src = addr(m.ipv4Src);
  if (m.ipv4Dst) match.ipv4Dst = addr(m.ipv4Dst);
  if (m.tpDst !== undefined) {
    if (m.proto === 'tcp') match.tcpDst = m.tpDst;
    else if (m.proto === 'udp') match.udpDst = m.tpDst;
    else throw new Error('flows: tp_dst needs tcp or udp');
  }
  if (m.ctState !== undefined) match.ctState = ctState(m.ctState);

  const a = s.actions;
  const apply: Action[] = [];
  if (a.ct) {
    const ct: Action = { type: 'ct', zone: a.ct.zone };
    if (a.ct.commit) ct.commit = true;
    if (a.ct.table !== undefined) ct.table = a.ct.table;
    apply.push(ct);
  }
  if (a.setEthDst !== undefined) apply.push({ type: 'setField', field: 'ethDst', value: a.setEthDst });
  if (a.output !== undefined) apply.push({ type: 'output', port: a.output });
  const instructions: Instruction[] = [];
  if (apply.length > 0) instructions.push({ type: 'applyActions', actions: apply });
  if (a.writeMetadata) {
    instructions.push({ type: 'writeMetadata', metadata: a.writeMetadata[0], mask: a.writeMetadata[1] });
  }
  if (a.gotoTable !== undefined) instructions.push({ type: 'gotoTable', tableId: a.gotoTable });
  return { tableId: s.table, priority: s.priority, match, instructions, cookie: s.cookie };
}

function matchText(m: MatchSpec): string {
  const parts: string[] = [];
  if (m.ctState !== undefined) parts.push(`ct_state=${m.ctState}`);
  if (m.proto !== undefined) parts.push(m.proto);
  if (m.inPort !== undefined) parts.push(`in_port=${m.inPort}`);
  if (m.metadata) parts.push(`metadata=0x${m.metadata[0].toString(16)}/0x${m.metadata[1].toString(16)}`);
  if (m.ethDst !== undefined) parts.push(`dl_dst=${m.ethDst}`);
  const addr = (a: [string, number]) => (a[1] === 32 ? a[0] : `${a[0]}/${a[1]}`);
  if (m.ipv4Src) parts.push(`nw_src=${addr(m.ipv4Src)}`);
  if (m.ipv4Dst) parts.push(`nw_dst=${addr(m.ipv4Dst)}`);
  if (m.tpDst !== undefined) parts.push(`tp_dst=${m.tpDst}`);
  return parts.join(',');
}

function actionsText(a: ActionSpec): string {
  const parts: string[] = [];
  if (a.ct) {
    const args: string[] = [];
    if (a.ct.commit) args.push('commit');
    if (a.ct.table !== undefined) args.push(`table=${a.ct.table}`);
    args.push(`zone=${a.ct.zone}`);
    parts.push(`ct(${args.join(',')})`);
  }
  if (a.setEthDst !== undefined) parts.push(`set_field:${a.setEthDst}->eth_dst`);
  if (a.output !== undefined) parts.push(`output:${a.output}`);
  // OpenFlow 1.1+ instructions after the apply-actions, in the order ovs-ofctl requires.
  if (a.writeMetadata) {
    parts.push(`write_metadata:0x${a.writeMetadata[0].toString(16)}/0x${a.writeMetadata[1].toString(16)}`);
  }
  if (a.gotoTable !== undefined) parts.push(`goto_table:${a.gotoTable}`);
  return parts.length > 0 ? parts.join(',') : 'drop';
}

/** One ovs-ofctl add-flows line. */
export function toText(s: FlowSpec): string {
  const match = matchText(s.match);
  return `cookie=0x${s.cookie.toString(16)},table=${s.table},priority=${s.priority}${match ? `,${match}` : ''},actions=${actionsText(s.actions)}`;
}
