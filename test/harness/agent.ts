// Owns a one-host lab for tests of the running system: a private OVS, an embedded store behind
// netmaster's REST API (in-process), and netplugin's host agent on it; endpoints are namespaces
// plugged in as netplugin does. Everything is registered for cleanup.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildServer } from '../../api/rest/server.js';
import { type NetpluginConfig, type RunningNetplugin, startNetplugin } from '../../cli/netplugin.js';
import { HostAgent } from '../../datapath/agent/agent.js';
import { plugContainer } from '../../datapath/host/index.js';
import { OvsdbClient } from '../../datapath/ovsdb/client.js';
import { allFeatures } from '../../datapath/pipeline/all.js';
import { VSwitch } from '../../datapath/vswitch.js';
import { macFromIPv4 } from '../../policy/ipam/addr.js';
import { endpointKey } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';
import type { Store } from '../../state/store.js';
import { onCleanup } from './cleanup.js';
import type { Host } from './hosts.js';
import { endpointRecord } from './intents.js';
import { tempDirPrefix, uniqueName } from './names.js';
import { addNamespace, type Namespace } from './netns.js';
import { type OvsInstance, startOvs } from './ovs.js';

export const LAB_BRIDGE = 'contivbr';

export interface LabEndpoint {
  id: string;
  ip: string;
  ns: Namespace;
  hostIf: string;
}

export interface AgentLab {
  ovs: OvsInstance;
  store: EmbeddedStore;
  api: FastifyInstance;
  cfg: NetpluginConfig;
  plugin: RunningNetplugin;
  /** A REST call that must succeed. */
  rest(method: 'POST' | 'DELETE', url: string, body?: object): Promise<void>;
  /** Waits until everything written to the store so far is compiled and on the switch. */
  converged(): Promise<void>;
  /** The namespace standing for the host (with `hostNamespace`), else undefined: the real host. */
  hostNs: Namespace | undefined;
  /** A namespace plugged in as endpoint `id` of `network`/`group` (tenant `tenant`, default "default"). */
  addEndpoint(
    id: string,
    network: string,
    group: string,
    ip: string,
    gateway?: string,
    tenant?: string,
  ): Promise<LabEndpoint>;
  /** Stops the agent and starts a new one on the same store and bridge. */
  restartAgent(): Promise<RunningNetplugin>;
}

export const macOf = macFromIPv4;

export interface AgentLabOptions {
  /**
   * Run OVS (netdev datapath) inside a namespace that stands for the host, so internal ports
   * (host access's contivh0) are real kernel devices there. Default: dummy datapath in the root
   * namespace.
   */
  hostNamespace?: boolean;
}

export async function startAgentLab(opts: AgentLabOptions = {}): Promise<AgentLab> {
  const hostNs = opts.hostNamespace ? await addNamespace() : undefined;
  const ovs = await startOvs(hostNs ? { netns: hostNs.name } : {});
  const dir = await mkdtemp(tempDirPrefix('agent'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  const store = await EmbeddedStore.open(dir);
  onCleanup(() => store.close());
  const api = buildServer({ store });
  onCleanup(() => api.close());
  const cfg: NetpluginConfig = {
    host: 'h1',
    vtepIp: '127.0.0.1',
    controlIp: '127.0.0.1',
    vlanUplinks: [],
    etcdEndpoints: [],
    fwdMode: '',
    netMode: '',
    mode: 'docker',
    vxlanPort: 4789,
    logLevel: 'error',
    jsonLog: true,
    bridge: LAB_BRIDGE,
    ovsRundir: ovs.dir,
    datapath: hostNs ? 'netdev' : 'dummy',
    dataDir: dir,
    role: 'netplugin',
    netmasterUrl: '',
    listenUrl: ':9999',
    pluginName: 'netplugin',
    dockerSocket: '',
    ...(hostNs ? { hostNetns: hostNs.name } : {}),
  };
  const silent = pino({ level: 'silent' });
  const lab: AgentLab = {
    ovs,
    store,
    api,
    cfg,
    hostNs,
    plugin: await startNetplugin(cfg, store, allFeatures, silent),
    async rest(method, url, body) {
      const res = await api.inject({ method, url, ...(body ? { payload: body } : {}) });
      assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
    },
    async converged() {
      // A barrier the agent watches (a config type nothing compiles): once its revision is compiled,
      // so is every write before it. The store's own revision also counts writes nobody watches.
      const rev = await store.put('/contiv.io/config/zz-test-barrier/lab', String(Date.now()));
      const deadline = Date.now() + 10_000;
      while (lab.plugin.agent.appliedRevision < rev && Date.now() < deadline) await sleep(5);
      await lab.plugin.agent.flowManager.apply();
    },
    async addEndpoint(id, network, group, ip, gateway, tenant = 'default') {
      const ns = await addNamespace();
      const hostIf = uniqueName('v');
      await plugContainer({
        ...(hostNs ? { hostNetns: { name: hostNs.name } } : {}),
        hostIf,
        netns: { name: ns.name },
        ifName: 'eth0',
        ip: `${ip}/24`,
        ...(gateway ? { gateway } : {}),
      });
      const rec = endpointRecord({ id, tenant, network, group, ip, host: cfg.host, intfName: hostIf });
      await store.put(endpointKey(id), JSON.stringify(rec));
      await lab.converged();
      await lab.plugin.agent.attachEndpoint(id, hostIf);
      return { id, ip, ns, hostIf };
    },
    async restartAgent() {
      await lab.plugin.stop();
      lab.plugin = await startNetplugin(cfg, store, allFeatures, silent);
      return lab.plugin;
    },
  };
  onCleanup(() => lab.plugin.stop());
  return lab;
}

/**
 * netplugin's host agent on a simulated host (hosts.ts): its OVS bridge and agent on the store,
 * with every feature, its VTEP and control address the host's underlay address. Stopped at cleanup.
 */
export async function startHostAgent(
  host: Host,
  store: Store,
  opts: { uplinks?: string[] } = {},
): Promise<{ agent: HostAgent; vswitch: VSwitch }> {
  const client = await OvsdbClient.connect(`unix:${host.ovs.dbSock}`);
  onCleanup(() => client.close(), { label: `ovsdb client ${host.name}` });
  const vswitch = new VSwitch(client, {
    name: LAB_BRIDGE,
    datapathType: host.ovs.datapath,
    owner: 'netplugin',
  });
  const agent = new HostAgent({
    store,
    host: {
      name: host.name,
      vtepIP: host.underlayIp,
      controlIP: host.underlayIp,
      uplinks: opts.uplinks ?? [],
    },
    vswitch,
    switchTarget: host.ovs.mgmt(LAB_BRIDGE),
    features: allFeatures,
    logger: pino({ level: 'silent' }),
  });
  onCleanup(() => agent.stop(), { label: `agent ${host.name}` });
  await agent.start();
  return { agent, vswitch };
}
