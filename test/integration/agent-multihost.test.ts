// Two hosts, each with its own OVS and host agent; one netmaster (REST + store API over an embedded
// store). h1 runs both roles and shares the store in-process; h2 reaches it through netmaster's
// store API, as a netplugin without store access does. The agents find each other through their
// host records: VXLAN tunnels appear by themselves, VLAN networks leave through the uplink.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildServer } from '../../api/rest/server.js';
import { registerStoreProxy } from '../../api/rest/store-proxy.js';
import { type NetpluginConfig, type RunningNetplugin, startNetplugin } from '../../cli/netplugin.js';
import { plugContainer } from '../../datapath/host/index.js';
import { allFeatures } from '../../datapath/pipeline/all.js';
import { endpointKey, HOST_PREFIX } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { RemoteStore } from '../../state/remote.js';
import type { Store } from '../../state/store.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { type Host, startHosts } from '../harness/hosts.js';
import { endpointRecord } from '../harness/intents.js';
import { tempDirPrefix, uniqueName } from '../harness/names.js';
import {
  addNamespace,
  listenIn,
  type Namespace,
  type NcListener,
  pingFrom,
  tcpConnectFrom,
} from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { waitFor } from '../harness/wait.js';

const missing = missingFor(...LAB_COMMANDS, 'nsenter');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;
const silent = pino({ level: 'silent' });

for (const encap of ['vxlan', 'vlan'] as const) {
  describe(`host agents on two hosts (${encap})`, { skip }, () => {
    const listeners = new Set<NcListener>();
    let hosts: Host[] = [];
    let store: EmbeddedStore;
    let api: FastifyInstance;
    const plugins: RunningNetplugin[] = [];
    const ns = new Map<string, Namespace>();

    after(async () => {
      for (const l of listeners) await l.stop();
      await runCleanups();
    });

    async function rest(url: string, body: object): Promise<void> {
      const res = await api.inject({ method: 'POST', url, payload: body });
      assert.ok(res.statusCode < 300, `POST ${url}: ${res.statusCode} ${res.body}`);
    }

    async function endpoint(h: Host, plugin: RunningNetplugin, name: string, group: string, ip: string) {
      const n = await addNamespace();
      const hostIf = uniqueName('v');
      await plugContainer({
        hostNetns: h.netns,
        hostIf,
        netns: { name: n.name },
        ifName: 'eth0',
        ip: `${ip}/24`,
        mtu: encap === 'vxlan' ? 1450 : 1500,
      });
      const rec = endpointRecord({
        id: name,
        network: 'contiv-net',
        group,
        ip,
        host: h.name,
        intfName: hostIf,
      });
      await store.put(endpointKey(name), JSON.stringify(rec));
      await plugin.agent.attachEndpoint(name, hostIf);
      ns.set(name, n);
    }

    test('containers on both hosts reach each other; the seed policy holds across hosts', async () => {
      if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
      hosts = await startHosts(2, encap === 'vlan' ? { underlay: 'veth' } : {});
      const dir = await mkdtemp(tempDirPrefix('agents'));
      onCleanup(() => rm(dir, { recursive: true, force: true }));
      store = await EmbeddedStore.open(dir);
      onCleanup(() => store.close());
      api = buildServer({ store });
      registerStoreProxy(api, { store, writable: (k) => k.startsWith(HOST_PREFIX) });
      onCleanup(() => api.close());
      await api.listen({ host: '127.0.0.1', port: 0 });
      const addr = api.server.address();
      assert.ok(addr && typeof addr === 'object');
      const remote = new RemoteStore(`http://127.0.0.1:${addr.port}`);
      onCleanup(() => remote.close());

      await rest('/api/v1/networks/default:contiv-net/', {
        tenantName: 'default',
        networkName: 'contiv-net',
        encap,
        ...(encap === 'vlan' ? { pktTag: 112 } : {}),
        subnet: '20.1.1.0/24',
        gateway: '20.1.1.254',
      });
      await rest('/api/v1/policys/default:prod_web/', { tenantName: 'default', policyName: 'prod_web' });
      await rest('/api/v1/rules/default:prod_web:1/', {
        tenantName: 'default',
        policyName: 'prod_web',
        ruleId: '1',
        direction: 'in',
        protocol: 'tcp',
        action: 'deny',
      });
      await rest('/api/v1/rules/default:prod_web:2/', {
        tenantName: 'default',
        policyName: 'prod_web',
        ruleId: '2',
        direction: 'in',
        protocol: 'tcp',
        port: 80,
        action: 'allow',
        priority: 10,
      });
      await rest('/api/v1/endpointGroups/default:web/', {
        tenantName: 'default',
        groupName: 'web',
        networkName: 'contiv-net',
        policies: ['prod_web'],
      });
      await rest('/api/v1/endpointGroups/default:db/', {
        tenantName: 'default',
        groupName: 'db',
        networkName: 'contiv-net',
      });

      const [h1, h2] = hosts as [Host, Host];
      for (const [h, s] of [
        [h1, store],
        [h2, remote],
      ] as [Host, Store][]) {
        if (encap === 'vxlan') await h.vtep();
        const cfg: NetpluginConfig = {
          host: h.name,
          vtepIp: h.underlayIp,
          controlIp: h.underlayIp,
          vlanUplinks: encap === 'vlan' ? [h.underlayIf] : [],
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
          role: 'netplugin',
          netmasterUrl: '',
          listenUrl: ':9999',
          pluginName: 'netplugin',
          dockerSocket: '/var/run/docker.sock',
        };
        const p = await startNetplugin(cfg, s, allFeatures, silent);
        onCleanup(() => p.stop());
        plugins.push(p);
      }
      const [p1, p2] = plugins as [RunningNetplugin, RunningNetplugin];
      if (encap === 'vxlan') {
        // Each agent learns the other host from its record and makes the tunnel by itself.
        await waitFor(
          'tunnels',
          () => p1.agent.hostFacts.tunnelPorts.has('h2') && p2.agent.hostFacts.tunnelPorts.has('h1'),
        );
      }
      await endpoint(h1, p1, 'web1', 'web', '20.1.1.1');
      await endpoint(h2, p2, 'web2', 'web', '20.1.1.2');
      await endpoint(h2, p2, 'db2', 'db', '20.1.1.3');
      for (const name of ['web1', 'db2']) {
        const n = ns.get(name) as Namespace;
        for (const port of [80, 22]) await listenIn(n.name, port, listeners);
      }
      const from = (name: string) => (ns.get(name) as Namespace).name;
      assert.ok(await pingFrom(from('web2'), '20.1.1.1', { timeoutSec: 10 }), 'web2 (h2) → web1 (h1)');
      assert.ok(await pingFrom(from('web1'), '20.1.1.3', { timeoutSec: 5 }), 'web1 (h1) → db2 (h2)');
      assert.ok(await tcpConnectFrom(from('db2'), '20.1.1.1', 80), 'db2 → web1:80 across hosts');
      assert.equal(await tcpConnectFrom(from('db2'), '20.1.1.1', 22, 1000), false, 'db2 → web1:22 denied');
      assert.ok(await tcpConnectFrom(from('web1'), '20.1.1.3', 22), 'web1 → db2:22 (db has no policy)');
    });
  });
}
