// Owns one whole Contiv host with Docker for tests and benchmarks: the embedded store or a private
// etcd, netmaster's
// REST API in-process on 127.0.0.1, a private OVS with the host agent compiling the real features,
// the Docker plugin talking to that netmaster over HTTP, a private dockerd with the bbox image, and
// the Docker networks kept equal to the store. Everything is registered for cleanup.
import { mkdtemp, rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { DockerEngine } from '../../api/docker/engine.js';
import { startDockerHost } from '../../api/docker/host.js';
import type { DockerPlugin } from '../../api/docker/index.js';
import type { DockerNetworkSync } from '../../api/docker/sync.js';
import { buildServer } from '../../api/rest/server.js';
import { HostAgent } from '../../datapath/agent/agent.js';
import { OvsdbClient } from '../../datapath/ovsdb/client.js';
import { allFeatures } from '../../datapath/pipeline/all.js';
import { VSwitch } from '../../datapath/vswitch.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { EtcdStore } from '../../state/etcd.js';
import type { Store } from '../../state/store.js';
import { onCleanup } from './cleanup.js';
import { type DockerDaemon, startDockerd, uniquePluginName } from './docker.js';
import { startEtcd } from './etcd.js';
import { tempDirPrefix, uniqueName } from './names.js';
import { type OvsInstance, startOvs } from './ovs.js';

export type StackStore = 'embedded' | 'etcd';

export interface DockerStack {
  store: Store;
  /** netmaster's base URL. */
  url: string;
  api: FastifyInstance;
  ovs: OvsInstance;
  bridge: string;
  vswitch: VSwitch;
  agent: HostAgent;
  plugin: DockerPlugin;
  pluginName: string;
  dockerd: DockerDaemon;
  engine: DockerEngine;
  sync: DockerNetworkSync;
  /** A REST call to netmaster; throws with the answer unless it is 2xx. */
  rest(method: 'POST' | 'DELETE', url: string, body?: object): Promise<void>;
}

const silent = pino({ level: 'silent' });

export async function startDockerStack(
  opts: { hostName?: string; log?: Logger; store?: StackStore } = {},
): Promise<DockerStack> {
  const hostName = opts.hostName ?? 'h1';
  const ovs = await startOvs();
  const dir = await mkdtemp(tempDirPrefix('dks'));
  onCleanup(() => rm(dir, { recursive: true, force: true }), { label: `stack dir ${dir}` });
  const store: Store =
    opts.store === 'etcd'
      ? await EtcdStore.connect([(await startEtcd()).endpoint])
      : await EmbeddedStore.open(dir);
  onCleanup(() => store.close(), { label: 'stack store' });
  const api = buildServer({ store });
  onCleanup(() => api.close(), { label: 'stack netmaster' });
  const url = await api.listen({ host: '127.0.0.1', port: 0 });
  const rest = async (method: 'POST' | 'DELETE', path: string, body?: object) => {
    const res = await api.inject({ method, url: path, ...(body ? { payload: body } : {}) });
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
  };

  const client = await OvsdbClient.connect(`unix:${ovs.dbSock}`);
  onCleanup(() => client.close(), { label: 'stack ovsdb client' });
  const bridge = uniqueName('br');
  const vswitch = new VSwitch(client, { name: bridge, datapathType: ovs.datapath, owner: 'netplugin' });
  const agent = new HostAgent({
    store,
    host: { name: hostName, vtepIP: '127.0.0.1', controlIP: '127.0.0.1', uplinks: [] },
    vswitch,
    switchTarget: ovs.mgmt(bridge),
    features: allFeatures,
    logger: silent,
  });
  onCleanup(() => agent.stop(), { label: 'stack agent' });
  await agent.start();

  const dockerd = await startDockerd();
  await dockerd.image();
  const pluginName = uniquePluginName();
  // The same composition netplugin runs (api/docker/host.ts), aimed at the private engine.
  const docker = await startDockerHost({
    store,
    agent,
    hostName,
    netmasterUrl: url,
    pluginName,
    dockerSocket: dockerd.socket,
    ...(opts.log ? { log: opts.log } : {}),
  });
  onCleanup(() => docker.close(), { label: 'stack docker side' });
  // The engine work runs in the background (see host.ts); the tests start from a synced engine.
  await docker.ready;
  const { plugin, engine } = docker;
  const sync = docker.sync!;
  return {
    store,
    url,
    api,
    ovs,
    bridge,
    vswitch,
    agent,
    plugin,
    pluginName,
    dockerd,
    engine,
    sync,
    rest,
  };
}
