// Owns the policy tables (conntrack, egressPolicy, ingressPolicy, commit): Contiv's rules compiled
// into conjunctive flows, decided once per new connection and committed to conntrack.
//
// Semantics (decisions in docs/architecture.md):
// - A group's rules are the union of its policies' rules. Per direction, the matching rule of the
//   highest priority decides; at equal priority deny wins; no matching rule (or no policy) allows.
// - "out" rules run on the source's host (FLAG.fromLocal, REG.srcGroup), "in" rules on the
//   destination's host (FLAG.toLocal, REG.dstGroup). Peer groups match the other group register,
//   peer networks and addresses the packet's addresses (a network is its subnet).
// - A port needs tcp or udp; a port without a protocol means both; other protocols ignore it.
//
// Flow scheme: a rule's own match is split into "match flows" (one per protocol × address prefix),
// keyed by (direction, priority slot, match flow). One carried by a single group is one direct
// flow (group + match). One carried by several groups is a conjunction: clause 2 is the match flow
// (shared by every identical rule), clause 1 is one flow per group and slot with a conjunction
// action for each of the group's match flows there, and a conj_id flow holds the verdict. A rule
// with no match of its own is one flow per group. The OVS priority encodes the slot, so every flow
// at one priority has the same verdict.

import type { Action, Instruction } from '../../controller/openflow/actions.js';
import { Feature } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import { ctState, type Match } from '../../controller/openflow/match.js';
import type { Change } from '../../policy/compiler/diff.js';
import type { OwnedState, PipelineFeature } from '../../policy/compiler/feature.js';
import { type IntentIndex, tkey } from '../../policy/compiler/index-intent.js';
import type { Direction, GroupIntent, PolicyIntent, RuleIntent } from '../../policy/compiler/intent.js';
import { intersectPrefixes, type Prefix, parseAddressSpec } from '../../policy/compiler/ip-range.js';
import { ipv4Mask, numberToIPv4 } from '../../policy/ipam/addr.js';
import { cookieFor, flowBuilder } from './builder.js';
import { fnv1a32 } from './hash.js';
import { ETH_IP, gotoTable, matchFlags, matchReg } from './regs.js';
import { FLAG, REG, type TableName, table } from './tables.js';

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
const flow = flowBuilder(Feature.Policy);

/** OVS priorities. Rule flows sit in [ruleBase, ruleBase + 2 × 202). */
export const PRIO = {
  conntrack: 100,
  commit: 100,
  invalid: 65000,
  established: 64000,
  ruleBase: 1000,
} as const;

/** Slot of a rule: higher priority first, deny before allow at equal priority. */
export function slotOf(priority: number, action: 'allow' | 'deny'): number {
  return priority * 2 + (action === 'deny' ? 1 : 0);
}

/** Conjunction flows (clauses and conj_id) of a slot; a group's direct flows sit one above. */
export function conjPriority(slot: number): number {
  return PRIO.ruleBase + slot * 2;
}

export function directPriority(slot: number): number {
  return PRIO.ruleBase + slot * 2 + 1;
}

/** One match flow of a rule: what a packet must carry besides its group. -1 / undefined: any. */
export interface MatchFlow {
  proto: number;
  port: number;
  peerGroup: number;
  src: Prefix | undefined;
  dst: Prefix | undefined;
}

interface CompiledRule {
  dir: Direction;
  slot: number;
  deny: boolean;
  /** Owner keys (`m:`) of the rule's match flows; empty when the rule matches nothing. */
  flows: string[];
  /** The match flows themselves, same order (kept so nothing re-parses an owner key). */
  defs: MatchFlow[];
  /** The rule matches every packet of its direction: one direct flow per group. */
  all: boolean;
}

type CompiledPolicy = CompiledRule[];

/**
 * An existing match flow: which policies' rules contribute it, its conj id, and how many groups
 * carry it (0, 1 or "2 or more"): carried by one group it is a single direct flow (that group's
 * id + the match), by more a conjunction.
 */
interface MatchEntry {
  n: number;
  dir: Direction;
  slot: number;
  f: MatchFlow;
  conjId: number;
  /** The contributing policy while there is one (most match flows), its count being `n`. */
  only: string;
  /** Policy key → number of its rules contributing, once a second policy contributes. */
  policies: Map<string, number> | undefined;
  holders: 0 | 1 | 2;
  /** The group key when holders is 1. */
  single: string;
}

const G = 'g:';
const M = 'm:';
const STATIC = 'static';

function prefixKey(p: Prefix | undefined): string {
  return p ? `${p.addr}/${p.len}` : '';
}

/** `m:<dir>:<slot>:<proto>:<port>:<peerGroup>:<src>:<dst>`: a match flow names itself. */
export function matchOwner(dir: Direction, slot: number, f: MatchFlow): string {
  return `${M}${dir}:${slot}:${f.proto}:${f.port}:${f.peerGroup}:${prefixKey(f.src)}:${prefixKey(f.dst)}`;
}

function ipMatch(p: Prefix): string | { value: string; mask: string } {
  return p.len === 32
    ? numberToIPv4(p.addr)
    : { value: numberToIPv4(p.addr), mask: numberToIPv4(ipv4Mask(p.len)) };
}

/** A match flow's match; with `groupId`, also the group clause (a direct flow). */
export function matchOfFlow(dir: Direction, f: MatchFlow, groupId = -1): Match {
  const m: Match = { ethType: ETH_IP };
  if (groupId >= 0) addGroupMatch(m, dir, groupId);
  if (f.proto !== 0) m.ipProto = f.proto;
  if (f.port !== 0 && f.proto === PROTO_TCP) m.tcpDst = f.port;
  if (f.port !== 0 && f.proto === PROTO_UDP) m.udpDst = f.port;
  if (f.peerGroup >= 0) matchReg(m, dir === 'in' ? REG.srcGroup : REG.dstGroup, f.peerGroup);
  if (f.src && f.src.len > 0) m.ipv4Src = ipMatch(f.src);
  if (f.dst && f.dst.len > 0) m.ipv4Dst = ipMatch(f.dst);
  return m;
}

/** The group clause: a packet from (out) or to (in) a local member of the group. */
function groupMatch(dir: Direction, groupId: number): Match {
  return addGroupMatch({}, dir, groupId);
}

function addGroupMatch(m: Match, dir: Direction, groupId: number): Match {
  if (dir === 'in') return matchReg(matchFlags(m, FLAG.toLocal), REG.dstGroup, groupId);
  return matchReg(matchFlags(m, FLAG.fromLocal), REG.srcGroup, groupId);
}

function tableOf(dir: Direction): TableName {
  return dir === 'in' ? 'ingressPolicy' : 'egressPolicy';
}

// Verdicts are shared by thousands of flows: one immutable object each (flows are never mutated
// downstream; canonicalisation copies on write).
const DROP: Instruction[] = [];
const ALLOW_OUT: Instruction[] = [gotoTable('ingressPolicy')];
const ALLOW_IN: Instruction[] = [gotoTable('commit')];

function verdict(dir: Direction, deny: boolean): Instruction[] {
  return deny ? DROP : dir === 'in' ? ALLOW_IN : ALLOW_OUT;
}

/** What one side of a rule asks of the peer: a group id, address prefixes, or nothing. */
interface Peer {
  group: number;
  prefixes: Prefix[] | undefined;
}

const ANY: Prefix = { addr: 0, len: 0 };

/**
 * A rule's match flows, or undefined when it can match nothing (an unknown peer group or network,
 * addresses that do not overlap). Ports without tcp/udp are ignored; a port alone means tcp and udp.
 */
export function ruleMatchFlows(ix: IntentIndex, tenant: string, r: RuleIntent): MatchFlow[] | undefined {
  const peerGroupName = r.direction === 'in' ? r.fromGroup : r.toGroup;
  const peerNet = r.direction === 'in' ? r.fromNetwork : r.toNetwork;
  const peerIp = r.direction === 'in' ? r.fromIp : r.toIp;
  // Contiv lets an "in" rule name toIp (a member of the policy's own group); an "out" rule's fromIp
  // is refused by the model and ignored here.
  const ownIp = r.direction === 'in' ? r.toIp : '';
  const peer: Peer = { group: -1, prefixes: undefined };
  if (peerGroupName) {
    const g = ix.groups.get(tkey(tenant, peerGroupName));
    if (!g) return undefined;
    peer.group = g.id;
  }
  if (peerNet) {
    const n = ix.networks.get(tkey(tenant, peerNet));
    const p = n && parseAddressSpec(n.subnet);
    if (!p) return undefined;
    peer.prefixes = p;
  }
  if (peerIp) {
    const p = parseAddressSpec(peerIp);
    if (!p) return undefined;
    peer.prefixes = peer.prefixes ? intersectPrefixes(peer.prefixes, p) : p;
    if (peer.prefixes.length === 0) return undefined;
  }
  let own: Prefix[] | undefined;
  if (ownIp) {
    own = parseAddressSpec(ownIp);
    if (!own) return undefined;
  }
  let protos = [r.protocol];
  if (r.port !== 0 && r.protocol === 0) protos = [PROTO_TCP, PROTO_UDP];
  const out: MatchFlow[] = [];
  for (const proto of protos) {
    const port = proto === PROTO_TCP || proto === PROTO_UDP ? r.port : 0;
    for (const pp of peer.prefixes ?? [ANY]) {
      for (const op of own ?? [ANY]) {
        const peerP = pp.len > 0 ? pp : undefined;
        const ownP = op.len > 0 ? op : undefined;
        out.push({
          proto,
          port,
          peerGroup: peer.group,
          src: r.direction === 'in' ? peerP : ownP,
          dst: r.direction === 'in' ? ownP : peerP,
        });
      }
    }
  }
  return out;
}

function isAll(f: MatchFlow): boolean {
  return f.proto === 0 && f.port === 0 && f.peerGroup < 0 && !f.src && !f.dst;
}

function compileRule(ix: IntentIndex, tenant: string, r: RuleIntent): CompiledRule {
  const slot = slotOf(r.priority, r.action);
  const dir = r.direction;
  const deny = r.action === 'deny';
  const flows = ruleMatchFlows(ix, tenant, r);
  if (!flows) return { dir, slot, deny, flows: [], defs: [], all: false };
  if (flows.some(isAll)) return { dir, slot, deny, flows: [], defs: [], all: true };
  const keys: string[] = [];
  const defs: MatchFlow[] = [];
  for (const f of flows) {
    const k = matchOwner(dir, slot, f);
    if (keys.includes(k)) continue;
    keys.push(k);
    defs.push(f);
  }
  return { dir, slot, deny, flows: keys, defs, all: false };
}

const RANK_BITS = 4;

function multiAdd(m: Map<string, Set<string>>, k: string, v: string): void {
  const s = m.get(k);
  if (s) s.add(v);
  else m.set(k, new Set([v]));
}

function multiDelete(m: Map<string, Set<string>>, k: string, v: string): void {
  const s = m.get(k);
  if (s?.delete(v) && s.size === 0) m.delete(k);
}

function sameCompiled(a: CompiledPolicy, b: CompiledPolicy): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.dir !== y.dir || x.slot !== y.slot || x.all !== y.all || x.flows.length !== y.flows.length)
      return false;
    for (let j = 0; j < x.flows.length; j++) if (x.flows[j] !== y.flows[j]) return false;
  }
  return true;
}

/** Conj ids are unique per (table, priority) = per (direction, slot); hash collisions share a bucket. */
function bucketOf(e: MatchEntry, m: string): string {
  return `${e.dir}:${e.slot}:${fnv1a32(m) >>> RANK_BITS}`;
}

/**
 * The feature's view derived from the index: compiled policies, which match flows exist, which
 * policies name a group or network as peer, and conj id allocation. Kept up to date by affected(),
 * which sees every change.
 */
class PolicyState {
  readonly compiled = new Map<string, CompiledPolicy>();
  readonly matches = new Map<string, MatchEntry>();
  readonly peerGroupRefs = new Map<string, Set<string>>();
  readonly peerNetRefs = new Map<string, Set<string>>();
  private readonly refsOf = new Map<string, { groups: string[]; nets: string[] }>();
  /** Match flows whose conj id changed because another one joined or left their bucket. */
  readonly shifted = new Set<string>();
  /** Bucket → the m-owners sharing that hash, sorted: their rank breaks the tie. */
  private readonly buckets = new Map<string, string[]>();

  constructor(ix: IntentIndex) {
    const none = new Set<string>();
    for (const key of [...ix.policies.keys()].sort()) this.recompile(ix, key, none);
    this.shifted.clear();
  }

  /** Recompiles one policy, adding to `touched` every m-owner whose existence or conj id changed. */
  recompile(ix: IntentIndex, key: string, touched: Set<string>): boolean {
    const old = this.compiled.get(key);
    const p = ix.policies.get(key);
    const next = p ? p.rules.map((r) => compileRule(ix, p.tenant, r)) : undefined;
    if (old && next && sameCompiled(old, next)) {
      this.indexRefs(key, p);
      return false;
    }
    // Net change per match flow, so that the rules that stayed touch nothing.
    const delta = new Map<string, { d: number; r: CompiledRule; i: number }>();
    const add = (r: CompiledRule, sign: number) => {
      for (let i = 0; i < r.flows.length; i++) {
        const m = r.flows[i]!;
        const e = delta.get(m);
        if (e) e.d += sign;
        else delta.set(m, { d: sign, r, i });
      }
    };
    for (const r of old ?? []) add(r, -1);
    for (const r of next ?? []) add(r, 1);
    for (const [m, { d, r, i }] of delta) {
      if (d === 0) continue;
      this.contribute(m, key, r, i, d, touched);
      const e = this.matches.get(m);
      if (e) this.refreshHolders(ix, m, e, touched);
    }
    if (next) this.compiled.set(key, next);
    else this.compiled.delete(key);
    this.indexRefs(key, p);
    return true;
  }

  /**
   * Recounts the groups carrying a match flow. When that changes, its owner and the groups whose
   * clause gains or loses it (the single holder before or after) go into `touched`.
   */
  refreshHolders(ix: IntentIndex, m: string, e: MatchEntry, touched: Set<string>): void {
    let holders = 0 as 0 | 1 | 2;
    let single = '';
    const visit = (p: string): boolean => {
      for (const g of ix.groupsWithPolicy(p)) {
        if (holders === 0) {
          holders = 1;
          single = g;
        } else if (g !== single) {
          holders = 2;
          return true;
        }
      }
      return false;
    };
    if (!e.policies) visit(e.only);
    else for (const p of e.policies.keys()) if (visit(p)) break;
    if (holders !== 1) single = '';
    if (holders === e.holders && single === e.single) return;
    touched.add(m);
    if (e.single) touched.add(G + e.single);
    if (single) touched.add(G + single);
    const was = e.holders;
    e.holders = holders;
    e.single = single;
    if (was !== 2 && holders === 2) this.bucket(m, e, touched);
    if (was === 2 && holders !== 2) this.unbucket(m, e, touched);
  }

  private indexRefs(key: string, p: PolicyIntent | undefined): void {
    // Each policy remembers what it named, so re-indexing costs its own rules, not every policy's.
    const before = this.refsOf.get(key);
    for (const k of before?.groups ?? []) multiDelete(this.peerGroupRefs, k, key);
    for (const k of before?.nets ?? []) multiDelete(this.peerNetRefs, k, key);
    if (!p) {
      this.refsOf.delete(key);
      return;
    }
    const refs = { groups: [] as string[], nets: [] as string[] };
    for (const r of p.rules) {
      const g = r.direction === 'in' ? r.fromGroup : r.toGroup;
      const n = r.direction === 'in' ? r.fromNetwork : r.toNetwork;
      if (g) refs.groups.push(tkey(p.tenant, g));
      if (n) refs.nets.push(tkey(p.tenant, n));
    }
    for (const k of refs.groups) multiAdd(this.peerGroupRefs, k, key);
    for (const k of refs.nets) multiAdd(this.peerNetRefs, k, key);
    this.refsOf.set(key, refs);
  }

  private contribute(
    m: string,
    policy: string,
    r: CompiledRule,
    i: number,
    delta: number,
    touched: Set<string>,
  ): void {
    const e = this.matches.get(m);
    if (!e) {
      this.matches.set(m, {
        n: delta,
        dir: r.dir,
        slot: r.slot,
        f: r.defs[i]!,
        conjId: 0,
        only: policy,
        policies: undefined,
        holders: 0,
        single: '',
      });
      touched.add(m);
      return;
    }
    if (!e.policies && e.only !== policy) e.policies = new Map([[e.only, e.n]]);
    if (e.policies) {
      const n = (e.policies.get(policy) ?? 0) + delta;
      if (n > 0) e.policies.set(policy, n);
      else e.policies.delete(policy);
    }
    e.n += delta;
    if (e.n > 0) return;
    this.matches.delete(m);
    touched.add(m);
    if (e.single) touched.add(G + e.single);
    if (e.holders === 2) this.unbucket(m, e, touched);
  }

  /**
   * A match flow became a conjunction: it takes a conj id, its hash with the low bits replaced by
   * its rank among the conjunctions sharing that hash in its (direction, slot).
   */
  private bucket(m: string, e: MatchEntry, touched: Set<string>): void {
    const b = bucketOf(e, m);
    const list = this.buckets.get(b);
    if (!list) {
      this.buckets.set(b, [m]);
      e.conjId = conjIdOf(m, 0);
      return;
    }
    list.push(m);
    list.sort();
    this.rerank(list, m, touched);
  }

  private unbucket(m: string, e: MatchEntry, touched: Set<string>): void {
    const b = bucketOf(e, m);
    const list = this.buckets.get(b);
    if (!list) return;
    list.splice(list.indexOf(m), 1);
    if (list.length === 0) this.buckets.delete(b);
    else this.rerank(list, m, touched);
  }

  /** Ids after a bucket changed; the others whose id moved are rebuilt with their groups' clauses. */
  private rerank(list: readonly string[], changed: string, touched: Set<string>): void {
    for (const [rank, other] of list.entries()) {
      const oe = this.matches.get(other);
      if (!oe) continue;
      const id = conjIdOf(other, rank);
      if (oe.conjId === id) continue;
      oe.conjId = id;
      touched.add(other);
      if (other !== changed) this.shifted.add(other);
    }
  }

  /** After a group's policy list or id changed: the match flows of its old and new policies. */
  refreshPolicies(
    ix: IntentIndex,
    policies: Iterable<string>,
    group: string,
    idChanged: boolean,
    out: Set<string>,
  ) {
    for (const p of policies) {
      for (const r of this.compiled.get(p) ?? []) {
        for (const m of r.flows) {
          const e = this.matches.get(m);
          if (!e) continue;
          // A direct flow carries its group's id.
          if (idChanged && e.single === group) out.add(m);
          this.refreshHolders(ix, m, e, out);
        }
      }
    }
  }
}

/** The owner's hash with the low bits replaced by its rank among the owners sharing the hash. */
function conjIdOf(m: string, rank: number): number {
  if (rank >= 2 ** RANK_BITS - 1) throw new Error(`policy: too many conj id collisions at ${m}`);
  return (((fnv1a32(m) >>> RANK_BITS) << RANK_BITS) | (rank + 1)) >>> 0;
}

const states = new WeakMap<IntentIndex, PolicyState>();

function stateOf(ix: IntentIndex): PolicyState {
  let s = states.get(ix);
  if (!s) {
    s = new PolicyState(ix);
    states.set(ix, s);
  }
  return s;
}

function buildStatic(): OwnedState {
  const cookie = cookieFor(Feature.Policy, STATIC);
  const zone = REG.vrf;
  const qos = gotoTable('qos');
  const trk = 0x20;
  return {
    flows: [
      flow({
        table: 'conntrack',
        priority: PRIO.conntrack,
        match: { ethType: ETH_IP },
        instructions: [
          { type: 'applyActions', actions: [{ type: 'ct', zone, table: table('egressPolicy') }] },
        ],
        cookie,
      }),
      flow({
        table: 'egressPolicy',
        priority: PRIO.invalid,
        match: { ethType: ETH_IP, ctState: ctState('+trk+inv') },
        instructions: [],
        cookie,
      }),
      flow({
        table: 'egressPolicy',
        priority: PRIO.established,
        match: { ethType: ETH_IP, ctState: ctState('-new+est+trk') },
        instructions: [qos],
        cookie,
      }),
      flow({
        table: 'egressPolicy',
        priority: PRIO.established,
        match: { ethType: ETH_IP, ctState: ctState('-new+rel+trk') },
        instructions: [qos],
        cookie,
      }),
      flow({
        table: 'commit',
        priority: PRIO.commit,
        match: { ethType: ETH_IP, ctState: { value: trk, mask: trk } },
        instructions: [{ type: 'applyActions', actions: [{ type: 'ct', commit: true, zone }] }, qos],
        cookie,
      }),
    ],
  };
}

function buildGroup(ix: IntentIndex, st: PolicyState, owner: string): OwnedState {
  const g = ix.groups.get(owner.slice(G.length));
  if (!g || g.policies.length === 0) return { flows: [] };
  const cookie = cookieFor(Feature.Policy, owner);
  // (dir, slot) as one number: in slots above out slots.
  const conj: [number, number][] = [];
  const direct = new Map<number, boolean>();
  const names = g.policies.length > 1 ? new Set(g.policies) : g.policies;
  for (const name of names) {
    const compiled = st.compiled.get(tkey(g.tenant, name));
    if (!compiled) continue;
    for (const r of compiled) {
      const k = (r.dir === 'in' ? 1000 : 0) + r.slot;
      if (r.all) direct.set(k, r.deny);
      for (const m of r.flows) {
        const e = st.matches.get(m);
        if (e && e.holders === 2) conj.push([k, e.conjId]);
      }
    }
  }
  const flows: Flow[] = [];
  const dirOf = (k: number): Direction => (k >= 1000 ? 'in' : 'out');
  for (const [k, deny] of [...direct].sort((a, b) => a[0] - b[0])) {
    const dir = dirOf(k);
    flows.push(
      flow({
        table: tableOf(dir),
        priority: directPriority(k % 1000),
        match: groupMatch(dir, g.id),
        instructions: verdict(dir, deny),
        cookie,
      }),
    );
  }
  conj.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 0; i < conj.length; ) {
    const k = conj[i]![0];
    const actions: Action[] = [];
    for (; i < conj.length && conj[i]![0] === k; i++) {
      const id = conj[i]![1];
      if (actions.length > 0 && (actions[actions.length - 1] as { id: number }).id === id) continue;
      actions.push({ type: 'conjunction', id, clause: 1, nClauses: 2 });
    }
    const dir = dirOf(k);
    flows.push(
      flow({
        table: tableOf(dir),
        priority: conjPriority(k % 1000),
        match: groupMatch(dir, g.id),
        instructions: [{ type: 'applyActions', actions }],
        cookie,
      }),
    );
  }
  return { flows };
}

function buildMatch(ix: IntentIndex, st: PolicyState, owner: string): OwnedState {
  const e = st.matches.get(owner);
  if (!e || e.holders === 0) return { flows: [] };
  const cookie = cookieFor(Feature.Policy, owner);
  const t = tableOf(e.dir);
  if (e.holders === 1) {
    const g = ix.groups.get(e.single);
    if (!g) return { flows: [] };
    return {
      flows: [
        flow({
          table: t,
          priority: directPriority(e.slot),
          match: matchOfFlow(e.dir, e.f, g.id),
          instructions: verdict(e.dir, e.slot % 2 === 1),
          cookie,
        }),
      ],
    };
  }
  const priority = conjPriority(e.slot);
  return {
    flows: [
      flow({
        table: t,
        priority,
        match: matchOfFlow(e.dir, e.f),
        instructions: [
          { type: 'applyActions', actions: [{ type: 'conjunction', id: e.conjId, clause: 2, nClauses: 2 }] },
        ],
        cookie,
      }),
      flow({
        table: t,
        priority,
        match: { conjId: e.conjId },
        instructions: verdict(e.dir, e.slot % 2 === 1),
        cookie,
      }),
    ],
  };
}

/** Recompiles policies, collecting the owners whose flows that may change. */
function recompileInto(ix: IntentIndex, st: PolicyState, policies: Iterable<string>, out: Set<string>): void {
  for (const key of policies) {
    const touched = new Set<string>();
    if (!st.recompile(ix, key, touched)) continue;
    for (const g of ix.groupsWithPolicy(key)) out.add(G + g);
    for (const m of touched) out.add(m);
    // A conj id shifted by a hash collision (rare) changes the clauses of every group carrying it.
    for (const m of st.shifted) {
      for (const [p, compiled] of st.compiled) {
        if (!compiled.some((r) => r.flows.includes(m))) continue;
        for (const g of ix.groupsWithPolicy(p)) out.add(G + g);
      }
    }
    st.shifted.clear();
  }
}

export const policyFeature: PipelineFeature = {
  name: 'policy',
  feature: Feature.Policy,

  *owners(ix) {
    const st = stateOf(ix);
    yield STATIC;
    for (const [key, g] of ix.groups) if (g.policies.length > 0) yield G + key;
    yield* st.matches.keys();
  },

  build(ix, owner): OwnedState {
    if (owner === STATIC) return buildStatic();
    const st = stateOf(ix);
    if (owner.startsWith(G)) return buildGroup(ix, st, owner);
    if (owner.startsWith(M)) return buildMatch(ix, st, owner);
    return { flows: [] };
  },

  affected(ix, change: Change, before: unknown): Iterable<string> {
    const st = stateOf(ix);
    const out = new Set<string>();
    switch (change.kind) {
      case 'policy':
        recompileInto(ix, st, [change.key], out);
        break;
      case 'group': {
        out.add(G + change.key);
        const old = before as GroupIntent | undefined;
        const now = ix.groups.get(change.key);
        const idChanged = old?.id !== now?.id;
        // A peer group's id is in its referrers' match flows.
        if (idChanged) recompileInto(ix, st, [...(st.peerGroupRefs.get(change.key) ?? [])], out);
        // Its policies' match flows may change hands between direct and conjunctive.
        const policies = new Set<string>();
        for (const g of [old, now]) for (const p of g?.policies ?? []) policies.add(tkey(g!.tenant, p));
        st.refreshPolicies(ix, policies, change.key, idChanged, out);
        break;
      }
      case 'network':
        recompileInto(ix, st, [...(st.peerNetRefs.get(change.key) ?? [])], out);
        break;
      default:
        // Endpoints, hosts, tenants, netprofiles and the global modes do not shape policy flows:
        // membership is in the registers the forwarding features load.
        break;
    }
    return out;
  },
};
