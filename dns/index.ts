// Owns starting DNS service discovery for a host in one call: the registry fed from the store,
// the answer() the datapath punt calls, and optionally the listening server. The public API of dns/.
import type { Store } from '../state/store.js';
import { Answerer } from './answer.js';
import { NameRegistry } from './registry.js';
import { DnsServer, type DnsServerOptions } from './server.js';
import { feedRegistry } from './store-feed.js';

export { Answerer, DEFAULT_TTL, type Resolution } from './answer.js';
export { NameRegistry, REGISTRY_PREFIXES } from './registry.js';
export { DnsServer, type DnsServerOptions } from './server.js';
export { feedRegistry } from './store-feed.js';

export interface DnsServiceOptions {
  store: Store;
  /** TTL of our records (default 120 s). */
  ttl?: number;
  /** Also listen (UDP + TCP) for `dig @addr` and tools; omitted: answer() only. */
  listen?: Omit<DnsServerOptions, 'registry' | 'ttl'>;
  onError?: (err: Error) => void;
}

export interface DnsService {
  readonly registry: NameRegistry;
  /** For the datapath punt: our answer to a container's query, undefined when not ours. */
  answer(query: Buffer, tenant: string): Buffer | undefined;
  readonly server: DnsServer | undefined;
  close(): Promise<void>;
}

/** Resolves once the store's names are loaded (and the server listens, if asked). */
export async function startDnsService(opts: DnsServiceOptions): Promise<DnsService> {
  const registry = new NameRegistry();
  const feed = feedRegistry(opts.store, registry, opts.onError ? { onError: opts.onError } : {});
  await feed.ready;
  const answerer = new Answerer(registry, opts.ttl !== undefined ? { ttl: opts.ttl } : {});
  const server = opts.listen
    ? await DnsServer.start({
        ...opts.listen,
        registry,
        ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
      })
    : undefined;
  return {
    registry,
    answer: (query, tenant) => answerer.answer(query, tenant),
    server,
    async close() {
      await server?.close();
      await feed.close();
    },
  };
}
