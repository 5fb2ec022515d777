// Owns random intents and host facts for compiler tests: a world that changes one random step at a
// time (endpoints join, leave, move; networks, groups and tenants change; modes flip; ports,
// tunnels and the uplink come and go), always valid the way the model keeps it (unique ids,
// addresses and MACs). Deterministic for a seed. Features' own objects (policies, netprofiles)
// are added through `extraSteps`.

import assert from 'node:assert/strict';
import { encodeEntry } from '../../controller/flowtable/flow-index.js';
import { flowKey } from '../../controller/openflow/flow.js';
import { Compilation, type CompiledState, compile, type Delta } from '../../policy/compiler/compile.js';
import { diffIntent, hostFactsChange, type IntentChange } from '../../policy/compiler/diff.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import type {
  EndpointIntent,
  GroupIntent,
  HostFacts,
  Intent,
  NetworkIntent,
  RuleIntent,
} from '../../policy/compiler/intent.js';
import { macFromIPv4 as macOf } from '../../policy/ipam/addr.js';
import type { EndpointRecord } from '../../policy/model/endpoint.js';
import { prng } from './prng.js';

/** One extra kind of step: returns the next intent, or undefined when it does not apply. */
export type IntentStep = (rand: () => number, intent: Intent) => Intent | undefined;

export interface RandomWorldOptions {
  /** Host names; the first is the one facts are made for. Default h1..h3. */
  hosts?: string[];
  tenants?: number;
  networksPerTenant?: number;
  groupsPerNetwork?: number;
  endpoints?: number;
  extraSteps?: IntentStep[];
  /** Random facts sometimes carry a host port (host access); off by default (same random stream). */
  hostPort?: boolean;
}

const pick = <T>(rand: () => number, xs: readonly T[]): T | undefined =>
  xs.length === 0 ? undefined : xs[Math.floor(rand() * xs.length)];

/**
 * A random world and its next states. Ids (tenant, network, group, port) and addresses are never
 * reused within one world, so no two objects of an intermediate state collide either.
 */
export class RandomWorld {
  readonly rand: () => number;
  readonly hosts: string[];
  intent: Intent;
  facts: HostFacts;
  private seq = 0;
  private readonly nextHostIp = new Map<string, number>();
  private readonly extra: IntentStep[];
  private readonly withHostPort: boolean;

  constructor(seed: number, opts: RandomWorldOptions = {}) {
    this.rand = prng(seed);
    this.hosts = opts.hosts ?? ['h1', 'h2', 'h3'];
    this.extra = opts.extraSteps ?? [];
    this.withHostPort = opts.hostPort ?? false;
    let intent: Intent = {
      global: {
        fwdMode: this.rand() < 0.5 ? 'bridge' : 'routing',
        arpMode: this.rand() < 0.5 ? 'proxy' : 'flood',
        pvtSubnet: '172.19.0.0/16',
      },
      tenants: [],
      networks: [],
      groups: [],
      policies: [],
      netProfiles: [],
      endpoints: [],
      hosts: this.hosts.map((name, i) => ({ name, vtepIP: `192.168.50.${i + 1}` })),
    };
    for (let t = 0; t < (opts.tenants ?? 2); t++) {
      intent = this.addTenant(intent);
      const tenant = intent.tenants[intent.tenants.length - 1]?.name ?? '';
      for (let n = 0; n < (opts.networksPerTenant ?? 2); n++) {
        intent = this.addNetwork(intent, tenant);
        const net = intent.networks[intent.networks.length - 1] as NetworkIntent;
        for (let g = 0; g < (opts.groupsPerNetwork ?? 2); g++) intent = this.addGroup(intent, net);
      }
    }
    for (let e = 0; e < (opts.endpoints ?? 12); e++) intent = this.addEndpoint(intent) ?? intent;
    this.intent = intent;
    this.facts = { name: this.hosts[0] ?? 'h1', endpointPorts: new Map(), tunnelPorts: new Map() };
    this.facts = this.randomFacts();
  }

  private id(): number {
    return ++this.seq;
  }

  private addTenant(intent: Intent): Intent {
    const id = this.id();
    return { ...intent, tenants: [...intent.tenants, { name: `t${id}`, id }] };
  }

  private addNetwork(intent: Intent, tenant: string): Intent {
    const id = this.id();
    const encap = this.rand() < 0.5 ? 'vxlan' : 'vlan';
    // A /24 of its own per network: addresses never collide, in a tenant or across tenants.
    const subnet = `10.${id >> 8}.${id & 255}.0/24`;
    const net: NetworkIntent = {
      tenant,
      name: `n${id}`,
      id,
      encap,
      pktTag: encap === 'vxlan' ? 5000 + id : id,
      subnet,
      gateway: this.rand() < 0.7 ? `10.${id >> 8}.${id & 255}.254` : '',
    };
    return { ...intent, networks: [...intent.networks, net] };
  }

  private addGroup(intent: Intent, net: NetworkIntent): Intent {
    const id = this.id();
    const g: GroupIntent = {
      tenant: net.tenant,
      name: `g${id}`,
      network: net.name,
      id,
      policies: [],
      netProfile: '',
    };
    return { ...intent, groups: [...intent.groups, g] };
  }

  private addEndpoint(intent: Intent): Intent | undefined {
    const net = pick(this.rand, intent.networks);
    if (!net) return undefined;
    const key = `${net.tenant}/${net.name}`;
    const host = net.subnet.split('.').slice(0, 3).join('.');
    const n = (this.nextHostIp.get(key) ?? 0) + 1;
    if (n > 250) return undefined;
    this.nextHostIp.set(key, n);
    const ip = `${host}.${n}`;
    const groups = intent.groups.filter((g) => g.tenant === net.tenant && g.network === net.name);
    const e: EndpointIntent = {
      id: `ep${this.id()}`,
      tenant: net.tenant,
      network: net.name,
      group: this.rand() < 0.8 ? (pick(this.rand, groups)?.name ?? '') : '',
      ip,
      mac: macOf(ip),
      host: pick(this.rand, this.hosts) ?? 'h1',
    };
    return { ...intent, endpoints: [...intent.endpoints, e] };
  }

  /** Host facts for the first host: most of its endpoints plugged, tunnels to most hosts, maybe an uplink. */
  randomFacts(): HostFacts {
    const old = this.facts;
    const endpointPorts = new Map<string, number>();
    for (const e of this.intent.endpoints) {
      if (e.host !== this.facts.name) continue;
      const had = old.endpointPorts.get(e.id);
      if (this.rand() < 0.85) endpointPorts.set(e.id, had ?? 1000 + this.id());
    }
    const tunnelPorts = new Map<string, number>();
    for (const h of this.hosts.slice(1)) {
      const had = old.tunnelPorts.get(h);
      if (this.rand() < 0.8) tunnelPorts.set(h, had ?? 100 + this.id());
    }
    const facts: HostFacts = { name: old.name, endpointPorts, tunnelPorts };
    if (this.rand() < 0.7) facts.uplinkPort = old.uplinkPort ?? 50 + (this.id() % 40);
    if (this.withHostPort && this.rand() < 0.8) {
      const ofport = this.rand() < 0.8 ? (old.hostPort?.ofport ?? 90) : 91 + (this.id() % 9);
      facts.hostPort = { ofport, ip: '172.19.255.254', mac: '02:02:ac:13:ff:fe' };
    }
    return facts;
  }

  /** One local endpoint's port appears or goes (what the agent sees most): new facts, also kept. */
  plugStep(): HostFacts {
    const local = this.intent.endpoints.filter((e) => e.host === this.facts.name);
    const e = pick(this.rand, local);
    const endpointPorts = new Map(this.facts.endpointPorts);
    if (e && endpointPorts.has(e.id)) endpointPorts.delete(e.id);
    else if (e) endpointPorts.set(e.id, 1000 + this.id());
    this.facts = { ...this.facts, endpointPorts };
    return this.facts;
  }

  /** One random change of the intent (the facts stay). Returns the new intent, also kept. */
  step(): Intent {
    for (;;) {
      const next = this.tryStep();
      if (next) {
        this.intent = next;
        return next;
      }
    }
  }

  private tryStep(): Intent | undefined {
    const r = this.rand;
    const it = this.intent;
    const kinds = 13 + this.extra.length;
    const k = Math.floor(r() * kinds);
    const swap = <T>(xs: readonly T[], old: T, now: T): T[] => xs.map((x) => (x === old ? now : x));
    switch (k) {
      case 0:
      case 1:
      case 2:
        return this.addEndpoint(it);
      case 3: {
        const e = pick(r, it.endpoints);
        return e && { ...it, endpoints: it.endpoints.filter((x) => x !== e) };
      }
      case 4: {
        // Another group of its network, or none.
        const e = pick(r, it.endpoints);
        if (!e) return undefined;
        const groups = it.groups.filter((g) => g.tenant === e.tenant && g.network === e.network);
        const group = r() < 0.3 ? '' : (pick(r, groups)?.name ?? '');
        return { ...it, endpoints: swap(it.endpoints, e, { ...e, group }) };
      }
      case 5: {
        const e = pick(r, it.endpoints);
        const host = pick(r, this.hosts);
        return e && host ? { ...it, endpoints: swap(it.endpoints, e, { ...e, host }) } : undefined;
      }
      case 6: {
        const t = pick(r, it.tenants);
        if (!t) return undefined;
        const next = this.addNetwork(it, t.name);
        return this.addGroup(next, next.networks[next.networks.length - 1] as NetworkIntent);
      }
      case 7: {
        // A network goes, with its groups and endpoints (the model deletes children first).
        const n = pick(r, it.networks);
        if (!n || it.networks.length <= 1) return undefined;
        const mine = (x: { tenant: string; network: string }) =>
          x.tenant === n.tenant && x.network === n.name;
        return {
          ...it,
          networks: it.networks.filter((x) => x !== n),
          groups: it.groups.filter((g) => !mine(g)),
          endpoints: it.endpoints.filter((e) => !mine(e)),
        };
      }
      case 8: {
        // A network's tag, encapsulation or gateway changes.
        const n = pick(r, it.networks);
        if (!n) return undefined;
        const encap = r() < 0.5 ? n.encap : n.encap === 'vxlan' ? 'vlan' : 'vxlan';
        const changed: NetworkIntent = {
          ...n,
          encap,
          pktTag: encap === 'vxlan' ? 5000 + n.id + 4000 * Math.floor(r() * 2) : n.id,
          gateway: n.gateway === '' ? n.subnet.replace(/0\/24$/, '254') : '',
        };
        return { ...it, networks: swap(it.networks, n, changed) };
      }
      case 9: {
        const n = pick(r, it.networks);
        if (!n) return undefined;
        if (r() < 0.5) return this.addGroup(it, n);
        const g = pick(
          r,
          it.groups.filter((x) => x.tenant === n.tenant && x.network === n.name),
        );
        if (!g) return undefined;
        const endpoints = it.endpoints.map((e) =>
          e.tenant === g.tenant && e.group === g.name ? { ...e, group: '' } : e,
        );
        return { ...it, groups: it.groups.filter((x) => x !== g), endpoints };
      }
      case 10: {
        // A tenant's id changes (VRF and zone of all its traffic).
        const t = pick(r, it.tenants);
        return t && { ...it, tenants: swap(it.tenants, t, { ...t, id: this.id() }) };
      }
      case 11: {
        const g = it.global;
        const global =
          r() < 0.5
            ? { ...g, fwdMode: g.fwdMode === 'bridge' ? ('routing' as const) : ('bridge' as const) }
            : { ...g, arpMode: g.arpMode === 'proxy' ? ('flood' as const) : ('proxy' as const) };
        return { ...it, global };
      }
      case 12: {
        // A group's id changes: its members' flows carry it.
        const g = pick(r, it.groups);
        return g && { ...it, groups: swap(it.groups, g, { ...g, id: this.id() }) };
      }
      default: {
        const extra = this.extra[k - 13];
        return extra?.(r, it);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The incremental-equals-full property, generic over a feature list.

/** A switch's whole state as comparable text: flows (encoded, cookie and all), groups, meters. */
export interface StateText {
  flows: string[];
  groups: string[];
  meters: string[];
}

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));

export function stateText(s: CompiledState): StateText {
  return {
    flows: s.flows.map((f) => encodeEntry(f).msg).sort(),
    groups: s.groups.map(json).sort(),
    meters: s.meters.map(json).sort(),
  };
}

/** A switch that only ever sees deltas: what a controller applying them would end up with. */
export class DeltaSwitch {
  private readonly flows = new Map<string, string>();
  private readonly groups = new Map<number, string>();
  private readonly meters = new Map<number, string>();

  constructor(initial: CompiledState) {
    for (const f of initial.flows) this.flows.set(flowKey(f), encodeEntry(f).msg);
    for (const g of initial.groups) this.groups.set(g.groupId, json(g));
    for (const m of initial.meters) this.meters.set(m.meterId, json(m));
  }

  apply(d: Delta): void {
    for (const f of d.removeFlows) this.flows.delete(flowKey(f));
    for (const f of d.addFlows) this.flows.set(flowKey(f), encodeEntry(f).msg);
    for (const id of d.removeGroups) this.groups.delete(id);
    for (const g of d.putGroups) this.groups.set(g.groupId, json(g));
    for (const id of d.removeMeters) this.meters.delete(id);
    for (const m of d.putMeters) this.meters.set(m.meterId, json(m));
  }

  text(): StateText {
    return {
      flows: [...this.flows.values()].sort(),
      groups: [...this.groups.values()].sort(),
      meters: [...this.meters.values()].sort(),
    };
  }
}

export interface IncrementalCheckOptions {
  seeds?: number;
  steps?: number;
  /** Share of steps that change host facts instead of the intent (half of them one port). */
  factsShare?: number;
  world?: RandomWorldOptions;
  /** Called with every delta and the change that made it (e.g. to bound `owners`). */
  onDelta?: (d: Delta, change: IntentChange['change'], world: RandomWorld) => void;
}

/**
 * For random worlds and random sequences of steps: the deltas of Compilation.change(), applied in
 * order to the state before, equal compile() of the final intent and facts, and so does the
 * compilation's own state. Throws (assert) naming the seed and step at the first difference.
 */
export function checkIncremental(
  features: readonly PipelineFeature[],
  opts: IncrementalCheckOptions = {},
): void {
  const { seeds = 20, steps = 40, factsShare = 0.2 } = opts;
  for (let seed = 1; seed <= seeds; seed++) {
    const world = new RandomWorld(seed, opts.world);
    const comp = new Compilation(structuredClone(world.intent), world.facts, features);
    const sw = new DeltaSwitch(comp.state());
    for (let n = 0; n < steps; n++) {
      const prev = world.intent;
      let changes: IntentChange[];
      const r = world.rand();
      if (r < factsShare / 2) {
        world.facts = world.randomFacts();
        changes = [hostFactsChange(world.facts)];
      } else if (r < factsShare) {
        changes = [hostFactsChange(world.plugStep())];
      } else {
        changes = diffIntent(prev, world.step());
      }
      for (const c of changes) {
        const d = comp.change(c.change, c.mutate);
        opts.onDelta?.(d, c.change, world);
        sw.apply(d);
      }
      const compiled = compile(world.intent, world.facts, features);
      const full = stateText(compiled);
      const where = `seed ${seed} step ${n} (${changes.map((c) => json(c.change)).join(', ')})`;
      assert.deepEqual(stateText(comp.state()), full, `${where}: the compilation's state`);
      assert.deepEqual(sw.text(), full, `${where}: the deltas applied in order`);
      // Two flows of one identity would make the switch keep only one of them.
      assert.equal(
        new Set(compiled.flows.map(flowKey)).size,
        compiled.flows.length,
        `${where}: duplicate flows`,
      );
      const groupIds = compiled.groups.map((g) => g.groupId);
      assert.equal(new Set(groupIds).size, groupIds.length, `${where}: duplicate groups`);
    }
  }
}

/** A rule with Contiv's defaults (in, priority 1, allow, any protocol and port, no peers) and the fields given. */
export function rule(over: Partial<RuleIntent> & Pick<RuleIntent, 'ruleId'>): RuleIntent {
  return {
    direction: 'in',
    priority: 1,
    action: 'allow',
    protocol: 0,
    port: 0,
    fromGroup: '',
    toGroup: '',
    fromNetwork: '',
    toNetwork: '',
    fromIp: '',
    toIp: '',
    ...over,
  };
}

/**
 * The record netmaster writes for an endpoint, as tests put it in the store directly: a container
 * named after its id, MAC 02:02:+IPv4, no IPv6, no group id.
 */
export function endpointRecord(e: {
  id: string;
  network: string;
  ip: string;
  host: string;
  intfName: string;
  group?: string;
  tenant?: string;
}): EndpointRecord {
  return {
    endpointID: e.id,
    tenant: e.tenant ?? 'default',
    network: e.network,
    endpointGroup: e.group ?? '',
    endpointGroupId: 0,
    ipAddress: e.ip,
    ipv6Address: '',
    macAddress: macOf(e.ip),
    homingHost: e.host,
    intfName: e.intfName,
    containerID: e.id,
    containerName: e.id,
    labels: {},
  };
}
