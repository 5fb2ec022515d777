// The host agent end to end on one host: intent written through netmaster's REST API into the
// store, endpoints plugged into a private OVS, flows compiled and applied by the agent; real
// packets between namespaces show forwarding and the seed policy; runtime rule changes, endpoint
// removal and an agent restart converge without disturbing what should stay.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildServer } from '../../api/rest/server.js';
import { type NetpluginConfig, type RunningNetplugin, startNetplugin } from '../../cli/netplugin.js';
import type { ApplyStats } from '../../controller/flowtable/manager.js';
import { plugContainer } from '../../datapath/host/index.js';
import { allFeatures } from '../../datapath/pipeline/all.js';
import { type EndpointRecord, endpointKey } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { tempDirPrefix, uniqueName } from '../harness/names.js';
import {
  addNamespace,
  listenIn,
  type Namespace,
  type NcListener,
  pingFrom,
  tcpConnectFrom,
} from '../harness/netns.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const BRIDGE = 'contivbr';
const silent = pino({ level: 'silent' });

interface Ep {
  id: string;
  group: string;
  ip: string;
  ns: Namespace;
  hostIf: string;
}

describe('host agent on one host', { skip }, () => {
  let ovs: OvsInstance;
  let store: EmbeddedStore;
  let api: FastifyInstance;
  let plugin: RunningNetplugin | undefined;
  let cfg: NetpluginConfig;
  const eps = new Map<string, Ep>();
  const listeners = new Set<NcListener>();

  async function rest(method: 'POST' | 'DELETE', url: string, body?: object): Promise<void> {
    const res = await api.inject({ method, url, ...(body ? { payload: body } : {}) });
    assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  }

  async function converged(): Promise<void> {
    const agent = plugin?.agent;
    assert.ok(agent);
    // Store events settle for 10 ms, then one compile and one bundle.
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      agent.once('converged', () => {
        clearTimeout(t);
        resolve();
      });
    });
    await agent.flowManager.apply();
  }

  async function addEndpoint(name: string, group: string, ip: string): Promise<Ep> {
    const ns = await addNamespace();
    const hostIf = uniqueName('v');
    await plugContainer({
      hostIf,
      netns: { name: ns.name },
      ifName: 'eth0',
      ip: `${ip}/24`,
      gateway: '20.1.1.254',
    });
    const rec: EndpointRecord = {
      endpointID: name,
      tenant: 'default',
      network: 'contiv-net',
      endpointGroup: group,
      endpointGroupId: 0,
      ipAddress: ip,
      ipv6Address: '',
      macAddress: `02:02:${ip
        .split('.')
        .map((o) => Number(o).toString(16).padStart(2, '0'))
        .join(':')}`,
      homingHost: cfg.host,
      intfName: hostIf,
      containerID: name,
      containerName: name,
      labels: {},
    };
    await store.put(endpointKey(name), JSON.stringify(rec));
    await converged();
    await plugin?.agent.attachEndpoint(name, hostIf);
    const ep = { id: name, group, ip, ns, hostIf };
    eps.set(name, ep);
    return ep;
  }

  const ep = (name: string) => eps.get(name) as Ep;

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    ovs = await startOvs();
    const dir = await mkdtemp(tempDirPrefix('agent'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    store = await EmbeddedStore.open(dir);
    onCleanup(() => store.close());
    api = buildServer({ store });
    onCleanup(() => api.close());
    await rest('POST', '/api/v1/networks/default:contiv-net/', {
      tenantName: 'default',
      networkName: 'contiv-net',
      encap: 'vxlan',
      subnet: '20.1.1.0/24',
      gateway: '20.1.1.254',
    });
    await rest('POST', '/api/v1/policys/default:prod_web/', {
      tenantName: 'default',
      policyName: 'prod_web',
    });
    const rule = (ruleId: string, extra: object) =>
      rest('POST', `/api/v1/rules/default:prod_web:${ruleId}/`, {
        tenantName: 'default',
        policyName: 'prod_web',
        ruleId,
        direction: 'in',
        ...extra,
      });
    await rule('1', { protocol: 'tcp', action: 'deny' });
    await rule('2', { protocol: 'tcp', port: 80, action: 'allow', priority: 10 });
    for (const [group, policies] of [
      ['web', ['prod_web']],
      ['db', []],
    ] as const) {
      await rest('POST', `/api/v1/endpointGroups/default:${group}/`, {
        tenantName: 'default',
        groupName: group,
        networkName: 'contiv-net',
        policies,
      });
    }
    cfg = {
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
      bridge: BRIDGE,
      ovsRundir: ovs.dir,
      datapath: 'dummy',
      dataDir: dir,
      role: 'netplugin',
      netmasterUrl: '',
      listenUrl: ':9999',
    };
    plugin = await startNetplugin(cfg, store, allFeatures, silent);
    onCleanup(() => plugin?.stop());
    await addEndpoint('web1', 'web', '20.1.1.1');
    await addEndpoint('web2', 'web', '20.1.1.2');
    await addEndpoint('db1', 'db', '20.1.1.3');
    for (const e of eps.values()) {
      for (const port of [80, 22]) await listenIn(e.ns.name, port, listeners);
    }
  });

  after(async () => {
    for (const l of listeners) await l.stop();
    await runCleanups();
  });

  test('endpoints of one network reach each other', async () => {
    assert.ok(await pingFrom(ep('web1').ns.name, '20.1.1.2', { timeoutSec: 5 }), 'web1 → web2');
    assert.ok(await pingFrom(ep('db1').ns.name, '20.1.1.1'), 'db1 → web1');
  });

  test("the seed policy: tcp 80 in is allowed, other tcp in is denied, replies to web's own connections pass", async () => {
    assert.ok(await tcpConnectFrom(ep('db1').ns.name, '20.1.1.1', 80), 'db1 → web1:80');
    assert.equal(await tcpConnectFrom(ep('db1').ns.name, '20.1.1.1', 22, 1000), false, 'db1 → web1:22');
    assert.equal(await tcpConnectFrom(ep('web2').ns.name, '20.1.1.1', 22, 1000), false, 'web2 → web1:22');
    assert.ok(await tcpConnectFrom(ep('web1').ns.name, '20.1.1.3', 22), 'web1 → db1:22 (db has no policy)');
  });

  test('a rule added at runtime applies; removing it restores', async () => {
    await rest('POST', '/api/v1/rules/default:prod_web:3/', {
      tenantName: 'default',
      policyName: 'prod_web',
      ruleId: '3',
      direction: 'in',
      protocol: 'icmp',
      action: 'deny',
    });
    await converged();
    assert.equal(await pingFrom(ep('db1').ns.name, '20.1.1.1', { timeoutSec: 1 }), false, 'icmp denied');
    await rest('DELETE', '/api/v1/rules/default:prod_web:3/');
    await converged();
    assert.ok(await pingFrom(ep('db1').ns.name, '20.1.1.1', { timeoutSec: 3 }), 'icmp back');
  });

  test('a removed endpoint takes its flows and port with it', async () => {
    const agent = plugin?.agent;
    assert.ok(agent);
    const before = agent.flowManager.desiredCount;
    const e = await addEndpoint('tmp1', 'db', '20.1.1.9');
    const withIt = agent.flowManager.desiredCount;
    assert.ok(withIt > before, 'the endpoint brought flows');
    await agent.detachEndpoint('tmp1', e.hostIf);
    await store.delete(endpointKey('tmp1'));
    await converged();
    assert.equal(agent.flowManager.desiredCount, before);
    const ports = await ovs.vsctl('list-ports', BRIDGE);
    assert.ok(!ports.includes(e.hostIf), 'port removed from the bridge');
    assert.equal(await pingFrom(ep('db1').ns.name, '20.1.1.9', { timeoutSec: 1 }), false);
  });

  test('an agent restart converges without touching a flow and without breaking traffic', async () => {
    await plugin?.stop();
    plugin = await startNetplugin(cfg, store, allFeatures, silent);
    const stats = await new Promise<ApplyStats>((resolve) => plugin?.agent.once('attached', resolve));
    assert.deepEqual([stats.flowsAdded, stats.flowsModified, stats.flowsDeleted], [0, 0, 0]);
    assert.ok(await pingFrom(ep('web1').ns.name, '20.1.1.2'), 'web1 → web2 after restart');
    await sleep(0);
  });
});
