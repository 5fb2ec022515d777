// Owns choosing the store: etcd when endpoints are configured, else the embedded store in a data dir.
// It must never fall back silently from a configured etcd to the embedded store (that would split state).
import { EmbeddedStore } from './embedded.js';
import { EtcdStore } from './etcd.js';
import type { Store } from './store.js';

export type { CachedKV, CacheOptions } from './cache.js';
export { PrefixCache } from './cache.js';
export { CompactedError, EmbeddedStore, StoreLockedError } from './embedded.js';
export { EtcdStore } from './etcd.js';
export type { Election, ElectOptions, LeaderInfo } from './leader.js';
export { elect } from './leader.js';
export type * from './store.js';

export const DEFAULT_DATA_DIR = '/var/lib/contiv-ts/state';

export async function openStore(opts: { etcdEndpoints?: string[]; dataDir?: string } = {}): Promise<Store> {
  if (opts.etcdEndpoints && opts.etcdEndpoints.length > 0) return EtcdStore.connect(opts.etcdEndpoints);
  return EmbeddedStore.open(opts.dataDir ?? DEFAULT_DATA_DIR);
}
