// Owns putting the Docker driver together for netplugin: the NetworkDriver and IpamDriver answering
// on one plugin socket, with the engine as the memory of networks created before a restart.

import type { Logger } from 'pino';
import type { NetnsRef } from '../../datapath/host/index.js';
import type { DockerEngine } from './engine.js';
import { IpamDriver } from './ipam-driver.js';
import { type Links, linksIn, NetworkDriver } from './network-driver.js';
import { type PluginServer, startPluginServer } from './plugin-server.js';
import { FreedAddresses, type HostAttach, type NetmasterClient, type SparePorts } from './ports.js';
import { type ReconcileResult, reconcileEndpoints, sweepSpares } from './reconcile.js';
import { type Retried, retryInBackground } from './retry.js';
import type { DriverScope } from './scope.js';
import type { NetworkMemory, SubnetPools, TargetResolver } from './target.js';
import { VethPool } from './veth-pool.js';

export type { DockerNetwork, NetworkSpec } from './engine.js';
export { DEFAULT_DOCKER_SOCKET, DockerEngine, DockerEngineError, MANAGED_LABEL } from './engine.js';
export { IpamDriver } from './ipam-driver.js';
export { NetmasterCallError, RestNetmasterClient } from './netmaster-client.js';
export type { Links } from './network-driver.js';
export { hostIfName, hostLinks, linksIn, NetworkDriver, peerIfName, VXLAN_MTU } from './network-driver.js';
export type { PluginServer } from './plugin-server.js';
export { DEFAULT_PLUGIN_DIR, DEFAULT_PLUGIN_NAME, startPluginServer } from './plugin-server.js';
export type { AddressRequest, EndpointRequest, HostAttach, NetmasterClient, SparePorts } from './ports.js';
export { FreedAddresses } from './ports.js';
export { PLUGIN_CONTENT_TYPE, PluginError } from './protocol.js';
export type { ReconcileOptions, ReconcileResult } from './reconcile.js';
export { dockerEndpoints, reconcileEndpoints } from './reconcile.js';
export type { Retried, RetryOptions } from './retry.js';
export { retryInBackground } from './retry.js';
export type { DockerSyncOptions, SyncResult } from './sync.js';
export { DockerNetworkSync, desiredNetworks } from './sync.js';
export type { ContivTarget, NetworkMemory, Selector, SubnetPools, TargetResolver } from './target.js';
export { dockerNetworkName, StoreNetworkMemory, StoreTargetResolver } from './target.js';
export type { Spare, VethPoolOptions } from './veth-pool.js';
export { VethPool } from './veth-pool.js';

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
  /** The driver's scope, or how to learn it at each capabilities call (EngineScope); default local. */
  scope?: DriverScope | (() => Promise<DriverScope>);
  /** Reads back networks created before this process started (when memory does not know them). */
  engine?: DockerEngine;
  /** The Contiv object of each Docker network, kept across restarts. */
  memory?: NetworkMemory;
  /**
   * Swarm mode's networks without a contiv-tag (`--subnet`): their pools are found here, and their
   * Contiv networks made at AllocateNetwork under the engine's name for them (needs engine).
   */
  subnetPools?: SubnetPools;
  /** The namespace dockerd runs in (a simulated host); veths are made there. */
  netns?: NetnsRef;
  links?: Links;
  /** The datapath's spare ports: with them Joins take pre-plugged veths (veth-pool.ts). */
  spares?: SparePorts;
  /** Spare veths kept per MTU (default 8; 0: none, every Join makes its own). */
  poolSize?: number;
  log?: Logger;
}

export interface DockerPlugin extends PluginServer {
  readonly network: NetworkDriver;
  readonly ipam: IpamDriver;
  /** Settles once the endpoints are reconciled with the engine (undefined: no engine, or closed first). */
  readonly reconciled: Promise<ReconcileResult | undefined>;
  readonly pool: VethPool | undefined;
}

/** The alias of the veths a plugin of this (socket) name makes. */
export const vethOwner = (pluginName: string) => `contiv-ts/${pluginName}`;

export async function startDockerPlugin(opts: DockerPluginOptions): Promise<DockerPlugin> {
  const name = opts.name ?? 'netplugin';
  const engine = opts.engine;
  const links = opts.links ?? linksIn(opts.netns);
  const freed = new FreedAddresses();
  // Unique per plugin in a namespace: another plugin's veths are never swept.
  const owner = vethOwner(opts.socketName ?? name);
  const pool =
    opts.spares && opts.poolSize !== 0
      ? new VethPool({
          links,
          ports: opts.spares,
          owner,
          ...(opts.poolSize !== undefined ? { size: opts.poolSize } : {}),
          ...(opts.log ? { log: opts.log.child({ part: 'veth-pool' }) } : {}),
        })
      : undefined;
  const network = new NetworkDriver({
    owner,
    ...(pool ? { pool } : {}),
    ...(opts.spares ? { plugged: opts.spares } : {}),
    freed,
    targets: opts.targets,
    netmaster: opts.netmaster,
    host: opts.host,
    hostName: opts.hostName,
    pluginName: name,
    ...(opts.scope ? { scope: opts.scope } : {}),
    links,
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.memory ? { memory: opts.memory } : {}),
    ...(engine && opts.subnetPools
      ? { dockerNetworkName: async (id: string) => (await engine.inspectNetwork(id))?.Name }
      : {}),
    ...(engine
      ? {
          networkOptions: async (id: string) => (await engine.inspectNetwork(id))?.Options ?? undefined,
          containerOf: (networkID: string, endpointID: string) => engine.containerOf(networkID, endpointID),
        }
      : {}),
  });
  const ipam = new IpamDriver({
    targets: opts.targets,
    netmaster: opts.netmaster,
    pluginName: name,
    freed,
    ...(opts.subnetPools ? { subnetPools: opts.subnetPools } : {}),
  });
  const { netmaster } = opts;
  // Before the socket opens (no Docker call can be half-way through): a previous run's spares go,
  // and the plugin's veths are listed; the reconcile below may sweep only those.
  if (opts.spares) {
    const swept = await sweepSpares(opts.spares, links);
    if (swept.length > 0) opts.log?.info({ swept }, 'spare ports a previous run left removed');
  }
  const reconciling = engine && netmaster.listEndpoints;
  const vethsBefore = reconciling ? await links.ownedVeths(owner) : [];
  // Noted from before the socket opens: the endpoints Docker calls about are its current ones.
  const touched = reconciling ? network.noteEndpoints() : undefined;
  const server = await startPluginServer({
    name: opts.socketName ?? name,
    ...(opts.dir ? { dir: opts.dir } : {}),
    implements: ['NetworkDriver', 'IpamDriver'],
    handlers: { ...network.handlers(), ...ipam.handlers() },
    ...(opts.log ? { log: opts.log } : {}),
  });
  // The socket first: dockerd waits for a managed plugin's socket before it serves its API, so
  // the engine is asked only now, in the background; reconciling leaves the noted endpoints alone.
  let reconcile: Retried<ReconcileResult> | undefined;
  if (engine && touched) {
    reconcile = retryInBackground(
      () =>
        reconcileEndpoints({
          engine,
          netmaster,
          host: opts.host,
          hostName: opts.hostName,
          pluginName: name,
          links,
          skip: touched,
          vethsBefore,
          ...(opts.memory ? { memory: opts.memory } : {}),
          ...(opts.spares ? { spares: opts.spares } : {}),
        }),
      { what: 'reconciling endpoints with Docker', ...(opts.log ? { log: opts.log } : {}) },
    );
    void reconcile.done.then((r) => {
      network.stopNoting();
      if (r && (r.removed.length > 0 || r.forgotten.length > 0 || r.swept.length > 0))
        opts.log?.info(
          { removed: r.removed, forgotten: r.forgotten, swept: r.swept },
          'endpoints, networks and veths Docker no longer has removed',
        );
      if (r && r.named.length > 0)
        opts.log?.info(
          { named: r.named },
          'endpoints named again after their containers, as Docker names them now',
        );
    });
  }
  return {
    name: server.name,
    socketPath: server.socketPath,
    async close() {
      reconcile?.cancel();
      await reconcile?.done;
      await server.close();
      await network.close();
      await pool?.close();
    },
    reconciled: reconcile ? reconcile.done : Promise.resolve(undefined),
    network,
    ipam,
    pool,
  };
}
