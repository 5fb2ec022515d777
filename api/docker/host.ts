// Owns netplugin's Docker side on one host, put together from its parts: the plugin socket (the
// drivers, netmaster over REST, the intent from the store, this host's agent), endpoint records
// reconciled with Docker, and the Docker networks of the Contiv objects kept in this host's engine
// (local scope: each engine needs its own copy; with a cluster store one elected host makes the
// global ones). Only the socket is awaited: the engine work runs
// in the background, retried, because dockerd serves its API only once a managed plugin's socket is up.

import type { Logger } from 'pino';
import type { NetnsRef } from '../../datapath/host/index.js';
import type { Store } from '../../state/store.js';
import { DEFAULT_DOCKER_SOCKET, DockerEngine } from './engine.js';
import { type DockerPlugin, startDockerPlugin } from './index.js';
import { RestNetmasterClient } from './netmaster-client.js';
import type { HostAttach, SparePorts } from './ports.js';
import { EngineScope } from './scope.js';
import { DockerNetworkSync } from './sync.js';
import { StoreNetworkMemory, StoreTargetResolver } from './target.js';

export interface DockerHostOptions {
  store: Store;
  /** HostAgent: plugs endpoints and the spare veths Joins take. */
  agent: HostAttach & SparePorts;
  hostName: string;
  /** netmaster's base URL, e.g. "http://127.0.0.1:9999". */
  netmasterUrl: string;
  /** The CA of an https:// netmaster and this host's token. */
  netmasterCreds?: { token?: string; ca?: string };
  /** Default "netplugin". */
  pluginName?: string;
  /** Default /run/docker/plugins. */
  pluginDir?: string;
  /** Socket file name without .sock; default pluginName (a managed plugin's name has / and :). */
  socketName?: string;
  /** Default /var/run/docker.sock. */
  dockerSocket?: string;
  netns?: NetnsRef;
  scope?: 'local' | 'global';
  /** Keep this engine's Docker networks equal to the store (default true). */
  syncNetworks?: boolean;
  /** The host record's lease: the Docker sync's marks go under it (none without it). */
  leaseId?: () => string | undefined;
  /** Spare veths kept per MTU (default 8; 0: none). */
  poolSize?: number;
  log?: Logger;
}

export interface DockerHost {
  readonly plugin: DockerPlugin;
  readonly engine: DockerEngine;
  readonly sync: DockerNetworkSync | undefined;
  /** Settles once endpoints are reconciled and the networks synced with the engine (or on close). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export async function startDockerHost(opts: DockerHostOptions): Promise<DockerHost> {
  const pluginName = opts.pluginName ?? 'netplugin';
  const engine = new DockerEngine(opts.dockerSocket ?? DEFAULT_DOCKER_SOCKET);
  const netmaster = new RestNetmasterClient(opts.netmasterUrl, opts.netmasterCreds);
  const targets = new StoreTargetResolver(opts.store);
  let plugin: DockerPlugin | undefined;
  let sync: DockerNetworkSync | undefined;
  // Swarm mode's driver is global; otherwise the engine says (a cluster store makes it global).
  const engineScope =
    opts.scope === 'global'
      ? undefined
      : new EngineScope({
          engine,
          store: opts.store,
          hostName: opts.hostName,
          ...(opts.log ? { log: opts.log } : {}),
        });
  try {
    plugin = await startDockerPlugin({
      name: pluginName,
      ...(opts.pluginDir ? { dir: opts.pluginDir } : {}),
      ...(opts.socketName ? { socketName: opts.socketName } : {}),
      targets,
      memory: new StoreNetworkMemory(opts.store, opts.hostName),
      // Swarm mode (a global-scope driver): `--subnet` networks without a contiv-tag, as Contiv's.
      ...(opts.scope === 'global' ? { subnetPools: targets } : {}),
      netmaster,
      host: opts.agent,
      spares: opts.agent,
      ...(opts.poolSize !== undefined ? { poolSize: opts.poolSize } : {}),
      hostName: opts.hostName,
      engine,
      ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
      scope: engineScope ? () => engineScope.scope() : 'global',
      ...(opts.log ? { log: opts.log } : {}),
    });
    engineScope?.start();
    if (opts.syncNetworks ?? true) {
      sync = new DockerNetworkSync({
        store: opts.store,
        engine,
        pluginName,
        // A global-scope driver's networks are swarm networks: made once, on a manager.
        ...(opts.scope === 'global' ? { scope: 'swarm' as const } : {}),
        ...(opts.leaseId ? { mark: { host: opts.hostName, leaseId: opts.leaseId } } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
      await sync.listen();
      // Not awaited: see above. A failed pass is retried by the sync itself.
      sync.sync().catch(() => undefined);
    }
  } catch (err) {
    engineScope?.close();
    await sync?.stop();
    await plugin?.close();
    netmaster.close();
    throw err;
  }
  const running = plugin;
  let closed!: () => void;
  const closing = new Promise<void>((resolve) => {
    closed = resolve;
  });
  const synced = sync?.synced;
  return {
    plugin: running,
    engine,
    sync,
    ready: Promise.race([Promise.all([running.reconciled, synced]).then(() => undefined), closing]),
    async close() {
      closed();
      engineScope?.close();
      await sync?.stop();
      await running.close();
      netmaster.close();
    },
  };
}
