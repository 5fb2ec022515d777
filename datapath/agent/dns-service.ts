// Owns netplugin's DNS service discovery on one host: the name registry kept equal to the store,
// the answers to the DNS queries the pipeline punts from this host's containers, and optionally a
// plain listening address (`dig @addr`) answering one tenant's names and forwarding the rest.
import { Answerer } from '../../dns/answer.js';
import { NameRegistry } from '../../dns/registry.js';
import { DnsServer } from '../../dns/server.js';
import { feedRegistry } from '../../dns/store-feed.js';
import type { Store } from '../../state/store.js';
import type { HostAgent } from './agent.js';
import { servePunts } from './dns-punt.js';

export interface DnsServiceOptions {
  ttl?: number;
  /** Also listen here (UDP and TCP) for the names of `tenant` (default 'default'). */
  listen?: { host: string; port: number; tenant?: string };
}

export interface DnsService {
  readonly registry: NameRegistry;
  /** The listening server, when one was asked for. */
  readonly server: DnsServer | undefined;
  /** Resolves once the first listing of the store is in the registry. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export async function startDnsService(
  store: Store,
  agent: HostAgent,
  opts: DnsServiceOptions = {},
): Promise<DnsService> {
  const registry = new NameRegistry();
  const feed = feedRegistry(store, registry);
  const ttl = opts.ttl !== undefined ? { ttl: opts.ttl } : {};
  const answerer = new Answerer(registry, ttl);
  const stop = servePunts(agent, (query, tenant) => answerer.answer(query, tenant));
  let server: DnsServer | undefined;
  try {
    if (opts.listen) {
      server = await DnsServer.start({
        registry,
        host: opts.listen.host,
        port: opts.listen.port,
        ...(opts.listen.tenant ? { tenant: opts.listen.tenant } : {}),
        ...ttl,
      });
    }
  } catch (err) {
    stop();
    await feed.close();
    throw err;
  }
  return {
    registry,
    server,
    ready: feed.ready,
    async close() {
      stop();
      await server?.close();
      await feed.close();
    },
  };
}
