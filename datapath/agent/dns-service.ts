// Owns netplugin's DNS service discovery on one host: the name registry kept equal to the store,
// and the answers to the DNS queries the pipeline punts from this host's containers.
import { Answerer } from '../../dns/answer.js';
import { NameRegistry } from '../../dns/registry.js';
import { feedRegistry } from '../../dns/store-feed.js';
import type { Store } from '../../state/store.js';
import type { HostAgent } from './agent.js';
import { servePunts } from './dns-punt.js';

export interface DnsService {
  readonly registry: NameRegistry;
  /** Resolves once the first listing of the store is in the registry. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export function startDnsService(store: Store, agent: HostAgent, opts: { ttl?: number } = {}): DnsService {
  const registry = new NameRegistry();
  const feed = feedRegistry(store, registry);
  const answerer = new Answerer(registry, opts.ttl !== undefined ? { ttl: opts.ttl } : {});
  const stop = servePunts(agent, (query, tenant) => answerer.answer(query, tenant));
  return {
    registry,
    ready: feed.ready,
    async close() {
      stop();
      await feed.close();
    },
  };
}
