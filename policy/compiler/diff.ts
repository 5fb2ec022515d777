// Owns what a change is (`Change`, which features are asked about) and turning two intents into
// the changes between them, each with the index mutation that makes it, in an order that keeps
// references valid (parents before children on the way in, children before parents on the way
// out). Pure; the agent feeds the result to Compilation.change().

import { type IntentIndex, tkey } from './index-intent.js';
import type { HostFacts, Intent } from './intent.js';

/** What changed in the intent or on the host; keys are `tenant/name`, endpoints and hosts by id/name. */
export type Change =
  | { kind: 'global' }
  | { kind: 'tenant'; name: string }
  | { kind: 'network'; key: string }
  | { kind: 'group'; key: string }
  | { kind: 'policy'; key: string }
  | { kind: 'netProfile'; key: string }
  | { kind: 'service'; key: string }
  | { kind: 'endpoint'; id: string }
  | { kind: 'host'; name: string }
  /** This host's facts: ports, tunnels, uplink, host port. */
  | { kind: 'hostFacts' }
  /** Routes learned over BGP changed (HostFacts.bgp.routes): these prefixes. */
  | { kind: 'bgpRoutes'; prefixes: readonly string[] };

export interface IntentChange {
  change: Change;
  mutate: (ix: IntentIndex) => unknown;
}

interface Keyed<T> {
  key: string;
  value: T;
}

function byKey<T>(items: readonly T[], key: (t: T) => string): Map<string, Keyed<T>> {
  const m = new Map<string, Keyed<T>>();
  for (const value of items) {
    const k = key(value);
    m.set(k, { key: k, value });
  }
  return m;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Puts and deletes of one kind of object between two lists. */
function diffList<T>(
  prev: readonly T[],
  next: readonly T[],
  key: (t: T) => string,
): { puts: Keyed<T>[]; deletes: Keyed<T>[] } {
  const a = byKey(prev, key);
  const b = byKey(next, key);
  const puts: Keyed<T>[] = [];
  const deletes: Keyed<T>[] = [];
  for (const [k, v] of b) {
    const old = a.get(k);
    if (!old || !same(old.value, v.value)) puts.push(v);
  }
  for (const [k, v] of a) if (!b.has(k)) deletes.push(v);
  return { puts, deletes };
}

const scoped = (o: { tenant: string; name: string }) => tkey(o.tenant, o.name);

export function diffIntent(prev: Intent, next: Intent): IntentChange[] {
  const out: IntentChange[] = [];
  const tenants = diffList(prev.tenants, next.tenants, (t) => t.name);
  const networks = diffList(prev.networks, next.networks, scoped);
  const profiles = diffList(prev.netProfiles, next.netProfiles, scoped);
  const policies = diffList(prev.policies, next.policies, scoped);
  const groups = diffList(prev.groups, next.groups, scoped);
  const hosts = diffList(prev.hosts, next.hosts, (h) => h.name);
  const endpoints = diffList(prev.endpoints, next.endpoints, (e) => e.id);
  const services = diffList(prev.services ?? [], next.services ?? [], scoped);

  if (!same(prev.global, next.global)) {
    out.push({
      change: { kind: 'global' },
      mutate: (ix) => {
        const old = ix.global;
        ix.global = next.global;
        return old;
      },
    });
  }
  for (const { key, value } of tenants.puts) {
    out.push({ change: { kind: 'tenant', name: key }, mutate: (ix) => ix.putTenant(value) });
  }
  for (const { key, value } of networks.puts) {
    out.push({ change: { kind: 'network', key }, mutate: (ix) => ix.putNetwork(value) });
  }
  for (const { key, value } of profiles.puts) {
    out.push({ change: { kind: 'netProfile', key }, mutate: (ix) => ix.putNetProfile(value) });
  }
  for (const { key, value } of policies.puts) {
    out.push({ change: { kind: 'policy', key }, mutate: (ix) => ix.putPolicy(value) });
  }
  for (const { key, value } of groups.puts) {
    out.push({ change: { kind: 'group', key }, mutate: (ix) => ix.putGroup(value) });
  }
  for (const { key, value } of hosts.puts) {
    out.push({ change: { kind: 'host', name: key }, mutate: (ix) => ix.putHost(value) });
  }
  for (const { key, value } of endpoints.puts) {
    out.push({ change: { kind: 'endpoint', id: key }, mutate: (ix) => ix.putEndpoint(value) });
  }
  for (const { key, value } of services.puts) {
    out.push({ change: { kind: 'service', key }, mutate: (ix) => ix.putService(value) });
  }
  // On the way out: children first.
  for (const { key } of services.deletes) {
    out.push({ change: { kind: 'service', key }, mutate: (ix) => ix.deleteService(key) });
  }
  for (const { key } of endpoints.deletes) {
    out.push({ change: { kind: 'endpoint', id: key }, mutate: (ix) => ix.deleteEndpoint(key) });
  }
  for (const { key } of hosts.deletes) {
    out.push({ change: { kind: 'host', name: key }, mutate: (ix) => ix.deleteHost(key) });
  }
  for (const { key } of groups.deletes) {
    out.push({ change: { kind: 'group', key }, mutate: (ix) => ix.deleteGroup(key) });
  }
  for (const { key } of policies.deletes) {
    out.push({ change: { kind: 'policy', key }, mutate: (ix) => ix.deletePolicy(key) });
  }
  for (const { key } of profiles.deletes) {
    out.push({ change: { kind: 'netProfile', key }, mutate: (ix) => ix.deleteNetProfile(key) });
  }
  for (const { key } of networks.deletes) {
    out.push({ change: { kind: 'network', key }, mutate: (ix) => ix.deleteNetwork(key) });
  }
  for (const { key } of tenants.deletes) {
    out.push({ change: { kind: 'tenant', name: key }, mutate: (ix) => ix.deleteTenant(key) });
  }
  return out;
}

/** The change that replaces this host's facts (ports appeared or went, tunnels, uplink). */
export function hostFactsChange(facts: HostFacts): IntentChange {
  return {
    change: { kind: 'hostFacts' },
    mutate: (ix) => {
      const old = ix.host;
      ix.host = facts;
      return old;
    },
  };
}
