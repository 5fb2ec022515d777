// Owns netplugin's Docker side on one host, put together from its parts: the plugin socket (the
// drivers, netmaster over REST, the intent from the store, this host's agent), endpoint records
// reconciled with Docker before the socket opens, and the Docker networks of the Contiv objects
// kept in this host's engine (local scope: each engine needs its own copy).

import type { Logger } from 'pino';
import type { NetnsRef } from '../../datapath/host/index.js';
import type { Store } from '../../state/store.js';
import { DEFAULT_DOCKER_SOCKET, DockerEngine } from './engine.js';
import { type DockerPlugin, startDockerPlugin } from './index.js';
import { RestNetmasterClient } from './netmaster-client.js';
import type { HostAttach, SparePorts } from './ports.js';
import { DockerNetworkSync } from './sync.js';
import { StoreTargetResolver } from './target.js';

export interface DockerHostOptions {
  store: Store;
  /** HostAgent: plugs endpoints and the spare veths Joins take. */
  agent: HostAttach & SparePorts;
  hostName: string;
  /** netmaster's base URL, e.g. "http://127.0.0.1:9999". */
  netmasterUrl: string;
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
  /** Spare veths kept per MTU (default 8; 0: none). */
  poolSize?: number;
  log?: Logger;
}

export interface DockerHost {
  readonly plugin: DockerPlugin;
  readonly engine: DockerEngine;
  readonly sync: DockerNetworkSync | undefined;
  close(): Promise<void>;
}

export async function startDockerHost(opts: DockerHostOptions): Promise<DockerHost> {
  const pluginName = opts.pluginName ?? 'netplugin';
  const engine = new DockerEngine(opts.dockerSocket ?? DEFAULT_DOCKER_SOCKET);
  const netmaster = new RestNetmasterClient(opts.netmasterUrl);
  let plugin: DockerPlugin | undefined;
  let sync: DockerNetworkSync | undefined;
  try {
    plugin = await startDockerPlugin({
      name: pluginName,
      ...(opts.pluginDir ? { dir: opts.pluginDir } : {}),
      ...(opts.socketName ? { socketName: opts.socketName } : {}),
      targets: new StoreTargetResolver(opts.store),
      netmaster,
      host: opts.agent,
      spares: opts.agent,
      ...(opts.poolSize !== undefined ? { poolSize: opts.poolSize } : {}),
      hostName: opts.hostName,
      engine,
      ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
      ...(opts.scope ? { scope: opts.scope } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    if (opts.syncNetworks ?? true) {
      sync = new DockerNetworkSync({
        store: opts.store,
        engine,
        pluginName,
        // A global-scope driver's networks are swarm networks: made once, on a manager.
        ...(opts.scope === 'global' ? { scope: 'swarm' as const } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
      await sync.start();
    }
  } catch (err) {
    await sync?.stop();
    await plugin?.close();
    netmaster.close();
    throw err;
  }
  const running = plugin;
  return {
    plugin: running,
    engine,
    sync,
    async close() {
      await sync?.stop();
      await running.close();
      netmaster.close();
    },
  };
}
