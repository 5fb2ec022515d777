// Owns the BGP lab of the tests and benchmarks: a ToR namespace running FRR (test/harness/frr.ts),
// n hosts (startHosts: own OVS each) whose VLAN uplink `up0` is a veth to the ToR (50.1.<i>.0/24,
// the ToR at .1, the host's router IP .2), an outside namespace behind the ToR (60.1.1.2), one
// embedded store with netmaster's REST API in-process, routing mode, a VLAN network `public`
// (20.1.1.0/24), a Bgp object per host, and each host's agent with hostNetns = its namespace.
// The store is embedded, or a real etcd when given (then netmasters can run as processes on it).
// Endpoints are container namespaces plugged into a host's bridge; the checks the BGP tests share
// (one /32 per endpoint on the ToR, everyone pings everyone and the outside) are here too.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildServer } from '../../api/rest/server.js';
import { type NetpluginConfig, type RunningNetplugin, startNetplugin } from '../../cli/netplugin.js';
import { GobgpdSupervisor } from '../../datapath/bgp/gobgpd.js';
import { configureInterface, plugContainer, setTxOffload } from '../../datapath/host/index.js';
import { allFeatures } from '../../datapath/pipeline/all.js';
import { endpointKey } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { EtcdStore } from '../../state/etcd.js';
import type { Store } from '../../state/store.js';
import { onCleanup } from './cleanup.js';
import { startTor, type Tor } from './frr.js';
import { type Host, startHosts } from './hosts.js';
import { endpointRecord } from './intents.js';
import { tempDirPrefix, uniqueName } from './names.js';
import { addNamespace, type Namespace, pingFrom } from './netns.js';
import { run } from './run.js';

export const OUTSIDE = '60.1.1.2';
export const TOR_AS = 500;
export const HOST_AS = [65002, 65003, 65004, 65005];

export interface BgpLabOptions {
  hosts?: number;
  /** Extra lines in the ToR's `router bgp` block (before address-family). */
  torGlobal?: string[];
  /** Start the agents (default true). */
  agents?: boolean;
  /** host:port of an etcd to keep the state in (default: an embedded store). */
  etcd?: string;
}

export interface LabEndpoint {
  ns: Namespace;
  hostIf: string;
  /** Index of its host. */
  host: number;
  ip: string;
}

export interface BgpLab {
  hosts: Host[];
  tor: Tor;
  torNs: Namespace;
  outside: Namespace;
  store: Store;
  api: FastifyInstance;
  plugins: RunningNetplugin[];
  cfgs: NetpluginConfig[];
  rest(method: 'POST' | 'DELETE', url: string, body?: object): Promise<void>;
  bgpObject(i: number, over?: Record<string, string>): Record<string, string>;
  startPlugin(i: number): Promise<RunningNetplugin>;
  /** Flows of the bgp feature in dstLookup (learned routes) on host i. */
  learnedFlows(i: number): Promise<number>;
  /** Both (all) sessions Established on the ToR. */
  established(): Promise<boolean>;
  /** The endpoints plugged so far and not removed, by name. */
  endpoints: Map<string, LabEndpoint>;
  /** A container namespace with ip plugged into host i's bridge (no record, not attached). */
  plugEndpoint(name: string, i: number, ip: string): Promise<LabEndpoint>;
  /** plugEndpoint, its record written to the store, attached to host i's agent. */
  addEndpoint(name: string, i: number, ip: string): Promise<void>;
  /** Record deleted, detached, namespace gone. */
  removeEndpoint(name: string): Promise<void>;
  /**
   * The ToR's kernel holds exactly one /32 per endpoint (and per extra one: a Docker container),
   * via its host's router IP.
   */
  torHasEndpoints(extra?: readonly { ip: string; host: number }[]): Promise<boolean>;
  /** Every endpoint pings every other and the outside (asserts). */
  allPing(): Promise<void>;
}

/** A veth from namespace a (name an) to namespace b (name bn), offload off on both ends. */
export async function vethBetween(a: string, an: string, b: string, bn: string): Promise<void> {
  const x = uniqueName('bx');
  const y = uniqueName('by');
  await run('ip', ['link', 'add', x, 'type', 'veth', 'peer', 'name', y]);
  await run('ip', ['link', 'set', x, 'netns', a, 'name', an]);
  await run('ip', ['link', 'set', y, 'netns', b, 'name', bn]);
  for (const [ns, n] of [
    [a, an],
    [b, bn],
  ] as const) {
    await configureInterface({ netns: ns, ifName: n, up: true });
    await setTxOffload(n, false, ns);
  }
}

export async function startBgpLab(opts: BgpLabOptions = {}): Promise<BgpLab> {
  const n = opts.hosts ?? 2;
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const hosts = await startHosts(n);
  const torNs = await addNamespace();
  const outside = await addNamespace();
  await torNs.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  for (let i = 0; i < n; i++) {
    const h = hosts[i] as Host;
    await vethBetween(h.netns, 'up0', torNs.name, `h${i + 1}`);
    await configureInterface({ netns: torNs.name, ifName: `h${i + 1}`, addresses: [`50.1.${i + 1}.1/24`] });
  }
  await vethBetween(torNs.name, 'out', outside.name, 'eth0');
  await configureInterface({ netns: torNs.name, ifName: 'out', addresses: ['60.1.1.1/24'] });
  await configureInterface({
    netns: outside.name,
    ifName: 'eth0',
    addresses: [`${OUTSIDE}/24`],
    defaultGateway: '60.1.1.1',
  });
  const tor = await startTor({
    netns: torNs.name,
    asn: TOR_AS,
    routerId: '50.1.0.1',
    neighbors: hosts.map((_, i) => ({ ip: `50.1.${i + 1}.2`, as: HOST_AS[i] as number })),
    networks: ['60.1.1.0/24'],
    ...(opts.torGlobal ? { global: opts.torGlobal } : {}),
  });

  const dir = await mkdtemp(tempDirPrefix('bgp'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  const store: Store = opts.etcd ? await EtcdStore.connect([opts.etcd]) : await EmbeddedStore.open(dir);
  onCleanup(() => store.close());
  const endpoints = new Map<string, LabEndpoint>();
  const api = buildServer({ store });
  onCleanup(() => api.close());
  const plugins: RunningNetplugin[] = [];
  const cfgs: NetpluginConfig[] = [];
  const lab: BgpLab = {
    hosts,
    tor,
    torNs,
    outside,
    store,
    api,
    plugins,
    cfgs,
    async rest(method, url, body) {
      const res = await api.inject({ method, url, ...(body ? { payload: body } : {}) });
      assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
    },
    bgpObject: (i, over = {}) => ({
      hostname: `h${i + 1}`,
      routerip: `50.1.${i + 1}.2/24`,
      as: String(HOST_AS[i]),
      'neighbor-as': String(TOR_AS),
      neighbor: `50.1.${i + 1}.1`,
      ...over,
    }),
    async startPlugin(i) {
      const p = await startNetplugin(cfgs[i] as NetpluginConfig, store, allFeatures, logger);
      plugins[i] = p;
      return p;
    },
    async learnedFlows(i) {
      const h = hosts[i] as Host;
      const out = await h.ovs.ofctl(
        '-O',
        'OpenFlow13',
        'dump-aggregate',
        h.ovs.mgmt('contivbr'),
        'table=40,cookie=0x0e00000000000000/0xff00000000000000',
      );
      return Number(/flow_count=(\d+)/.exec(out)?.[1] ?? -1);
    },
    async established() {
      const s = await tor.vtysh('show bgp summary json');
      const peers = (JSON.parse(s) as { ipv4Unicast?: { peers?: Record<string, { state: string }> } })
        .ipv4Unicast?.peers;
      return !!peers && Object.values(peers).filter((p) => p.state === 'Established').length === n;
    },
    endpoints,
    async plugEndpoint(name, i, ip) {
      const h = hosts[i] as Host;
      const ns = await addNamespace();
      const hostIf = uniqueName('v');
      await plugContainer({
        hostNetns: h.netns,
        hostIf,
        netns: { name: ns.name },
        ifName: 'eth0',
        ip: `${ip}/16`,
        gateway: '20.1.255.254',
      });
      const e = { ns, hostIf, host: i, ip };
      endpoints.set(name, e);
      return e;
    },
    async addEndpoint(name, i, ip) {
      const { hostIf } = await lab.plugEndpoint(name, i, ip);
      const rec = endpointRecord({
        id: name,
        network: 'public',
        ip,
        host: (hosts[i] as Host).name,
        intfName: hostIf,
      });
      await store.put(endpointKey(name), JSON.stringify(rec));
      await (plugins[i] as RunningNetplugin).agent.attachEndpoint(name, hostIf);
    },
    async removeEndpoint(name) {
      const e = endpoints.get(name);
      assert.ok(e, `no endpoint ${name}`);
      await store.delete(endpointKey(name));
      await (plugins[e.host] as RunningNetplugin).agent.detachEndpoint(name, e.hostIf);
      await e.ns.destroy();
      endpoints.delete(name);
    },
    async torHasEndpoints(extra = []) {
      const routes = await tor.bgpRoutes();
      const host32 = [...routes].filter(([p]) => p.endsWith('/32'));
      const all = [...endpoints.values(), ...extra];
      if (host32.length !== all.length) return false;
      for (const e of all) if (routes.get(`${e.ip}/32`) !== `50.1.${e.host + 1}.2`) return false;
      return true;
    },
    async allPing() {
      const list = [...endpoints.values()];
      for (const a of list) {
        for (const b of list) {
          if (a === b) continue;
          assert.ok(
            await pingFrom(a.ns.name, b.ip, { timeoutSec: 10 }),
            `${a.ip} (h${a.host + 1}) → ${b.ip}`,
          );
        }
        assert.ok(await pingFrom(a.ns.name, OUTSIDE, { timeoutSec: 10 }), `${a.ip} → outside`);
      }
    },
  };
  await lab.rest('POST', '/api/v1/globals/global/', {
    key: 'global',
    name: 'global',
    networkInfraType: 'default',
    vlans: '1-4094',
    vxlans: '1-10000',
    fwdMode: 'routing',
    arpMode: 'proxy',
    pvtSubnet: '172.19.0.0/16',
  });
  await lab.rest('POST', '/api/v1/networks/default:public/', {
    tenantName: 'default',
    networkName: 'public',
    encap: 'vlan',
    pktTag: 100,
    subnet: '20.1.0.0/16',
    gateway: '20.1.255.254',
  });
  for (let i = 0; i < n; i++) await lab.rest('POST', `/api/v1/Bgps/h${i + 1}/`, lab.bgpObject(i));
  for (let i = 0; i < n; i++) {
    const h = hosts[i] as Host;
    cfgs[i] = {
      host: h.name,
      vtepIp: h.underlayIp,
      controlIp: h.underlayIp,
      vlanUplinks: ['up0'],
      etcdEndpoints: opts.etcd ? [opts.etcd] : [],
      fwdMode: '',
      netMode: '',
      mode: 'docker',
      vxlanPort: 4789,
      logLevel: 'error',
      jsonLog: true,
      bridge: 'contivbr',
      ovsRundir: h.ovs.dir,
      datapath: 'netdev',
      dataDir: dir,
      dns: false,
      role: 'netplugin',
      netmasterUrl: '',
      listenUrl: ':9999',
      pluginName: 'netplugin',
      dockerSocket: '/var/run/docker.sock',
      hostNetns: h.netns,
      // Each host's gobgpd pidfile and socket apart: a restarted agent adopts its own.
      stateDir: join(dir, `run-h${i + 1}`),
    };
    if (opts.agents !== false) await lab.startPlugin(i);
  }
  onCleanup(async () => {
    for (const p of plugins) await p.stop({ stopGobgpd: true });
    // One left by an agent a test stopped without stopping gobgpd.
    for (const c of cfgs) await GobgpdSupervisor.stopLeftover(c.stateDir as string);
  });
  return lab;
}
