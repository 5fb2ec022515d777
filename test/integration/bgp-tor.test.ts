// BGP on real daemons: a ToR namespace running FRR (zebra + bgpd, learned routes in its kernel
// table, no static routes), two hosts each with its own OVS, host agent and gobgpd peering with it
// over their VLAN uplinks, and an outside namespace behind the ToR. Containers on both hosts reach
// each other and the outside only through the ToR; then the triggers: an endpoint removed, the
// peer deleted and added back, gobgpd killed, the agent restarted, a misconfiguration fixed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildServer } from '../../api/rest/server.js';
import { type NetpluginConfig, type RunningNetplugin, startNetplugin } from '../../cli/netplugin.js';
import { configureInterface, plugContainer, setTxOffload } from '../../datapath/host/index.js';
import { allFeatures } from '../../datapath/pipeline/all.js';
import { type EndpointRecord, endpointKey } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { startTor, type Tor } from '../harness/frr.js';
import { type Host, startHosts } from '../harness/hosts.js';
import { tempDirPrefix, uniqueName } from '../harness/names.js';
import { addNamespace, type Namespace, pingFrom } from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { run } from '../harness/run.js';

const missing = [
  ...missingFor(...LAB_COMMANDS, 'nsenter', 'gobgpd', 'vtysh'),
  ...(existsSync('/usr/lib/frr/bgpd') ? [] : ['frr (/usr/lib/frr/bgpd)']),
];
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;
const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const OUTSIDE = '60.1.1.2';
const TOR_AS = 500;
const HOST_AS = [65002, 65003];

const macOf = (ip: string) =>
  `02:02:${ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join(':')}`;

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 15_000): Promise<number> {
  const t0 = Date.now();
  const deadline = t0 + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
  return Date.now() - t0;
}

/** A veth from namespace a (name an) to namespace b (name bn), offload off on both ends. */
async function link(a: string, an: string, b: string, bn: string): Promise<void> {
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

describe('BGP: two hosts peer with an FRR ToR', { skip }, () => {
  let hosts: Host[] = [];
  let tor: Tor;
  let torNs: Namespace;
  let outside: Namespace;
  let store: EmbeddedStore;
  let api: FastifyInstance;
  const plugins: RunningNetplugin[] = [];
  const cfgs: NetpluginConfig[] = [];
  const eps = new Map<string, { ns: Namespace; hostIf: string; host: number; ip: string }>();

  async function rest(method: 'POST' | 'DELETE', url: string, body?: object): Promise<void> {
    const res = await api.inject({ method, url, ...(body ? { payload: body } : {}) });
    assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  }

  type Oper = {
    neighborStatus?: string;
    adminStatus?: string;
    numRoutes?: number;
    routes?: string[];
    announced?: string[];
    problem?: string;
  };
  async function inspect(host: string): Promise<Oper> {
    const res = await api.inject({ method: 'GET', url: `/api/v1/inspect/Bgps/${host}/` });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { Oper: Oper }).Oper;
  }

  const bgpObject = (i: number, over: Record<string, string> = {}) => ({
    hostname: `h${i + 1}`,
    routerip: `50.1.${i + 1}.2/24`,
    as: String(HOST_AS[i]),
    'neighbor-as': String(TOR_AS),
    neighbor: `50.1.${i + 1}.1`,
    ...over,
  });

  async function addEndpoint(name: string, i: number, ip: string): Promise<void> {
    const h = hosts[i] as Host;
    const n = await addNamespace();
    const hostIf = uniqueName('v');
    await plugContainer({
      hostNetns: h.netns,
      hostIf,
      netns: { name: n.name },
      ifName: 'eth0',
      ip: `${ip}/24`,
      gateway: '20.1.1.254',
    });
    const rec: EndpointRecord = {
      endpointID: name,
      tenant: 'default',
      network: 'public',
      endpointGroup: '',
      endpointGroupId: 0,
      ipAddress: ip,
      ipv6Address: '',
      macAddress: macOf(ip),
      homingHost: h.name,
      intfName: hostIf,
      containerID: name,
      containerName: name,
      labels: {},
    };
    await store.put(endpointKey(name), JSON.stringify(rec));
    await (plugins[i] as RunningNetplugin).agent.attachEndpoint(name, hostIf);
    eps.set(name, { ns: n, hostIf, host: i, ip });
  }

  async function removeEndpoint(name: string): Promise<void> {
    const e = eps.get(name);
    assert.ok(e);
    await store.delete(endpointKey(name));
    await (plugins[e.host] as RunningNetplugin).agent.detachEndpoint(name, e.hostIf);
    await e.ns.destroy();
    eps.delete(name);
  }

  /** The ToR's kernel holds exactly one /32 per endpoint, via its host's router IP. */
  async function torHasEndpoints(): Promise<boolean> {
    const routes = await tor.bgpRoutes();
    const host32 = [...routes].filter(([p]) => p.endsWith('/32'));
    if (host32.length !== eps.size) return false;
    for (const e of eps.values()) if (routes.get(`${e.ip}/32`) !== `50.1.${e.host + 1}.2`) return false;
    return true;
  }

  async function learnedFlows(i: number): Promise<number> {
    const h = hosts[i] as Host;
    const out = await h.ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', h.ovs.mgmt('contivbr'), 'table=40');
    return out.split('\n').filter((l) => /cookie=0xe000000[0-9a-f]{8},/.test(l)).length;
  }

  async function startPlugin(i: number): Promise<RunningNetplugin> {
    const p = await startNetplugin(cfgs[i] as NetpluginConfig, store, allFeatures, silent);
    plugins[i] = p;
    return p;
  }

  async function allPing(): Promise<void> {
    const list = [...eps.values()];
    for (const a of list) {
      for (const b of list) {
        if (a === b) continue;
        assert.ok(await pingFrom(a.ns.name, b.ip, { timeoutSec: 10 }), `${a.ip} (h${a.host + 1}) → ${b.ip}`);
      }
      assert.ok(await pingFrom(a.ns.name, OUTSIDE, { timeoutSec: 10 }), `${a.ip} → outside`);
    }
  }

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    hosts = await startHosts(2);
    torNs = await addNamespace();
    outside = await addNamespace();
    await torNs.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    for (let i = 0; i < 2; i++) {
      const h = hosts[i] as Host;
      await link(h.netns, 'up0', torNs.name, `h${i + 1}`);
      await configureInterface({ netns: torNs.name, ifName: `h${i + 1}`, addresses: [`50.1.${i + 1}.1/24`] });
    }
    await link(torNs.name, 'out', outside.name, 'eth0');
    await configureInterface({ netns: torNs.name, ifName: 'out', addresses: ['60.1.1.1/24'] });
    await configureInterface({
      netns: outside.name,
      ifName: 'eth0',
      addresses: [`${OUTSIDE}/24`],
      defaultGateway: '60.1.1.1',
    });
    tor = await startTor({
      netns: torNs.name,
      asn: TOR_AS,
      routerId: '50.1.0.1',
      neighbors: HOST_AS.map((as, i) => ({ ip: `50.1.${i + 1}.2`, as })),
      networks: ['60.1.1.0/24'],
    });

    const dir = await mkdtemp(tempDirPrefix('bgp'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    store = await EmbeddedStore.open(dir);
    onCleanup(() => store.close());
    api = buildServer({ store });
    onCleanup(() => api.close());
    await rest('POST', '/api/v1/globals/global/', {
      key: 'global',
      name: 'global',
      networkInfraType: 'default',
      vlans: '1-4094',
      vxlans: '1-10000',
      fwdMode: 'routing',
      arpMode: 'proxy',
      pvtSubnet: '172.19.0.0/16',
    });
    await rest('POST', '/api/v1/networks/default:public/', {
      tenantName: 'default',
      networkName: 'public',
      encap: 'vlan',
      pktTag: 100,
      subnet: '20.1.1.0/24',
      gateway: '20.1.1.254',
    });
    for (let i = 0; i < 2; i++) await rest('POST', `/api/v1/Bgps/h${i + 1}/`, bgpObject(i));
    for (let i = 0; i < 2; i++) {
      const h = hosts[i] as Host;
      cfgs[i] = {
        host: h.name,
        vtepIp: h.underlayIp,
        controlIp: h.underlayIp,
        vlanUplinks: ['up0'],
        etcdEndpoints: [],
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
      };
      await startPlugin(i);
    }
    onCleanup(async () => {
      for (const p of plugins) await p.stop();
    });
  });

  after(() => runCleanups());

  test('containers on both hosts reach each other and the outside through the ToR', async () => {
    const t0 = Date.now();
    await waitFor('both sessions established', async () => {
      const s = await tor.vtysh('show bgp summary json');
      const peers = (JSON.parse(s) as { ipv4Unicast?: { peers?: Record<string, { state: string }> } })
        .ipv4Unicast?.peers;
      return !!peers && Object.values(peers).filter((p) => p.state === 'Established').length === 2;
    });
    const established = Date.now() - t0;
    await addEndpoint('a1', 0, '20.1.1.1');
    await addEndpoint('a2', 0, '20.1.1.2');
    await addEndpoint('b1', 1, '20.1.1.3');
    const announced = await waitFor('one /32 per endpoint on the ToR', torHasEndpoints);
    // The outside prefix reached both hosts' flows.
    await waitFor(
      'learned routes as flows',
      async () => (await learnedFlows(0)) >= 2 && (await learnedFlows(1)) >= 3,
    );
    await allPing();
    process.stdout.write(`# established ${established} ms; 3 endpoints on the ToR in ${announced} ms\n`);
    // netctl bgp inspect's view: the agent's oper record through the REST inspect.
    await waitFor('inspect shows the live view', async () => {
      const o = await inspect('h1');
      return o.neighborStatus === 'ESTABLISHED' && o.numRoutes === 2 && o.announced?.length === 2;
    });
    const o = await inspect('h2');
    assert.equal(o.adminStatus, 'configured');
    assert.deepEqual(o.routes, ['20.1.1.1/32', '20.1.1.2/32', '60.1.1.0/24']);
  });

  test('removing an endpoint withdraws its route within 1 s', async () => {
    const t0 = Date.now();
    await removeEndpoint('a2');
    await waitFor('a2 withdrawn', torHasEndpoints, 1000);
    process.stdout.write(`# withdrawn from the ToR in ${Date.now() - t0} ms\n`);
    await waitFor('h2 forgot a2', async () => (await learnedFlows(1)) === 2);
    await allPing();
  });

  test('gobgpd killed: restarted, routes announced again, same flows', async () => {
    const agent = (plugins[0] as RunningNetplugin).agent;
    const pid = agent.bgpHook.bgpSpeaker?.supervisor.pid;
    assert.ok(pid);
    const flowsBefore = await learnedFlows(0);
    process.kill(pid, 'SIGKILL');
    await waitFor('a new gobgpd', () => {
      const now = agent.bgpHook.bgpSpeaker?.supervisor.pid;
      return now !== undefined && now !== pid;
    });
    await waitFor('routes back on the ToR', torHasEndpoints, 20_000);
    await waitFor('learned flows back', async () => (await learnedFlows(0)) === flowsBefore, 20_000);
    await allPing();
  });

  test('peer deleted then added back through the Bgp object', async () => {
    await rest('DELETE', '/api/v1/Bgps/h2/');
    await waitFor('h2 routes gone from the ToR', async () => {
      const r = await tor.bgpRoutes();
      return !r.has('20.1.1.3/32');
    });
    await waitFor('h2 has no learned flows', async () => (await learnedFlows(1)) === 0);
    await rest('POST', '/api/v1/Bgps/h2/', bgpObject(1));
    await waitFor('h2 back', torHasEndpoints, 20_000);
    await waitFor('h2 learned flows back', async () => (await learnedFlows(1)) === 2, 20_000);
    await allPing();
  });

  test('netplugin restart: the same routes and flows come back', async () => {
    const flowsBefore = await learnedFlows(0);
    await (plugins[0] as RunningNetplugin).stop();
    await startPlugin(0);
    await waitFor('routes on the ToR', torHasEndpoints, 20_000);
    await waitFor('learned flows back', async () => (await learnedFlows(0)) === flowsBefore, 20_000);
    await allPing();
  });

  test('misconfiguration (wrong neighbor AS) shows, fixing it recovers', async () => {
    await rest('POST', '/api/v1/Bgps/h2/', bgpObject(1, { 'neighbor-as': '501' }));
    const hook = (plugins[1] as RunningNetplugin).agent.bgpHook;
    await waitFor('h2 routes gone from the ToR', async () => !(await tor.bgpRoutes()).has('20.1.1.3/32'));
    assert.notEqual(hook.status().session, 'ESTABLISHED');
    // A router IP on no uplink's subnet: the neighbor is unreachable, and the state says so.
    await rest('POST', '/api/v1/Bgps/h2/', bgpObject(1, { routerip: '70.1.2.2/24' }));
    await waitFor('a clear problem', () => hook.status().problem.includes('not on the router IP'), 2000);
    await waitFor(
      'inspect shows it',
      async () => ((await inspect('h2')).problem ?? '').includes('not on the router IP'),
      2000,
    );
    await rest('POST', '/api/v1/Bgps/h2/', bgpObject(1));
    await waitFor('h2 back', torHasEndpoints, 20_000);
    assert.equal(hook.status().problem, '');
    await allPing();
  });
});
