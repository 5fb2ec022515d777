// Owns putting the Docker driver together for netplugin: the NetworkDriver and IpamDriver answering
// on one plugin socket, with the engine as the memory of networks created before a restart.

import type { Logger } from 'pino';
import type { NetnsRef } from '../../datapath/host/index.js';
import type { DockerEngine } from './engine.js';
import { IpamDriver } from './ipam-driver.js';
import { type Links, linksIn, NetworkDriver } from './network-driver.js';
import { type PluginServer, startPluginServer } from './plugin-server.js';
import { FreedAddresses, type HostAttach, type NetmasterClient } from './ports.js';
import { reconcileEndpoints } from './reconcile.js';
import type { TargetResolver } from './target.js';

export type { DockerNetwork, NetworkSpec } from './engine.js';
export { DEFAULT_DOCKER_SOCKET, DockerEngine, DockerEngineError, MANAGED_LABEL } from './engine.js';
export { IpamDriver } from './ipam-driver.js';
export { NetmasterCallError, RestNetmasterClient } from './netmaster-client.js';
export type { Links } from './network-driver.js';
export { hostIfName, hostLinks, linksIn, NetworkDriver, peerIfName, VXLAN_MTU } from './network-driver.js';
export type { PluginServer } from './plugin-server.js';
export { DEFAULT_PLUGIN_DIR, DEFAULT_PLUGIN_NAME, startPluginServer } from './plugin-server.js';
export type { AddressRequest, EndpointRequest, HostAttach, NetmasterClient } from './ports.js';
export { FreedAddresses } from './ports.js';
export { PLUGIN_CONTENT_TYPE, PluginError } from './protocol.js';
export type { ReconcileOptions, ReconcileResult } from './reconcile.js';
export { dockerEndpointIds, reconcileEndpoints } from './reconcile.js';
export type { DockerSyncOptions, SyncResult } from './sync.js';
export { DockerNetworkSync, desiredNetworks } from './sync.js';
export type { ContivTarget, Selector, TargetResolver } from './target.js';
export { dockerNetworkName, StoreTargetResolver } from './target.js';

export interface DockerPluginOptions {
  /** Default "netplugin". */
  name?: string;
  /** Default /run/docker/plugins. */
  dir?: string;
  /** The socket's file name without .sock when it differs from the driver name (a managed plugin). */
  socketName?: string;
  targets: TargetResolver;
  netmaster: NetmasterClient;
  host: HostAttach;
  hostName: string;
  scope?: 'local' | 'global';
  /** Reads back networks created before this process started. */
  engine?: DockerEngine;
  /** The namespace dockerd runs in (a simulated host); veths are made there. */
  netns?: NetnsRef;
  links?: Links;
  log?: Logger;
}

export interface DockerPlugin extends PluginServer {
  readonly network: NetworkDriver;
  readonly ipam: IpamDriver;
}

export async function startDockerPlugin(opts: DockerPluginOptions): Promise<DockerPlugin> {
  const name = opts.name ?? 'netplugin';
  const engine = opts.engine;
  const links = opts.links ?? linksIn(opts.netns);
  const freed = new FreedAddresses();
  const network = new NetworkDriver({
    freed,
    targets: opts.targets,
    netmaster: opts.netmaster,
    host: opts.host,
    hostName: opts.hostName,
    pluginName: name,
    ...(opts.scope ? { scope: opts.scope } : {}),
    links,
    ...(opts.log ? { log: opts.log } : {}),
    ...(engine
      ? { networkOptions: async (id: string) => (await engine.inspectNetwork(id))?.Options ?? undefined }
      : {}),
  });
  const ipam = new IpamDriver({ targets: opts.targets, netmaster: opts.netmaster, pluginName: name, freed });
  const { netmaster } = opts;
  if (engine && netmaster.listEndpoints) {
    // Before the socket opens: Docker cannot be half-way through a call while this decides.
    const r = await reconcileEndpoints({
      engine,
      netmaster,
      host: opts.host,
      hostName: opts.hostName,
      pluginName: name,
      links,
    });
    if (r.removed.length > 0)
      opts.log?.info({ removed: r.removed }, 'endpoints Docker no longer has removed');
  }
  const server = await startPluginServer({
    name: opts.socketName ?? name,
    ...(opts.dir ? { dir: opts.dir } : {}),
    implements: ['NetworkDriver', 'IpamDriver'],
    handlers: { ...network.handlers(), ...ipam.handlers() },
    ...(opts.log ? { log: opts.log } : {}),
  });
  return {
    name: server.name,
    socketPath: server.socketPath,
    close: () => server.close(),
    network,
    ipam,
  };
}
