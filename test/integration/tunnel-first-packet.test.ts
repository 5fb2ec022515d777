// Proves a new VXLAN tunnel is usable for its very first packet: userspace OVS drops a packet to a
// remote VTEP whose MAC it has not learnt (it ARPs instead), so without netplugin resolving the
// neighbour when it adds the tunnel, the first ping to a new host is lost.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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
import { addNamespace } from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { succeeds } from '../harness/run.js';
import { waitFor } from '../harness/wait.js';

const missing = missingFor(...LAB_COMMANDS, 'nsenter');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('a new VXLAN tunnel', { skip }, () => {
  after(runCleanups);

  test('the first ping to a container on the new host gets through', async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    const hosts = await startHosts(2);
    const dir = await mkdtemp(tempDirPrefix('first-packet'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const store = await EmbeddedStore.open(dir);
    onCleanup(() => store.close());
    const api: FastifyInstance = buildServer({ store });
    registerStoreProxy(api, { store, writable: (k) => k.startsWith(HOST_PREFIX) });
    onCleanup(() => api.close());
    await api.listen({ host: '127.0.0.1', port: 0 });
    const addr = api.server.address();
    assert.ok(addr && typeof addr === 'object');
    const remote = new RemoteStore(`http://127.0.0.1:${addr.port}`);
    onCleanup(() => remote.close());
    const post = async (url: string, payload: object) => {
      const res = await api.inject({ method: 'POST', url, payload });
      assert.ok(res.statusCode < 300, `POST ${url}: ${res.statusCode} ${res.body}`);
    };
    await post('/api/v1/networks/default:contiv-net/', {
      tenantName: 'default',
      networkName: 'contiv-net',
      encap: 'vxlan',
      subnet: '20.1.1.0/24',
      gateway: '20.1.1.254',
    });
    await post('/api/v1/endpointGroups/default:web/', {
      tenantName: 'default',
      groupName: 'web',
      networkName: 'contiv-net',
    });

    const [h1, h2] = hosts as [Host, Host];
    const plugins: RunningNetplugin[] = [];
    for (const [h, s] of [
      [h1, store],
      [h2, remote],
    ] as [Host, Store][]) {
      await h.vtep();
      const cfg: NetpluginConfig = {
        host: h.name,
        vtepIp: h.underlayIp,
        controlIp: h.underlayIp,
        vlanUplinks: [],
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
      const p = await startNetplugin(cfg, s, allFeatures, pino({ level: 'silent' }));
      onCleanup(() => p.stop());
      plugins.push(p);
    }
    const [p1, p2] = plugins as [RunningNetplugin, RunningNetplugin];
    await waitFor(
      'tunnels',
      () => p1.agent.hostFacts.tunnelPorts.has('h2') && p2.agent.hostFacts.tunnelPorts.has('h1'),
      10_000,
    );
    const netns: string[] = [];
    for (const [h, p, name, ip] of [
      [h1, p1, 'web1', '20.1.1.1'],
      [h2, p2, 'web2', '20.1.1.2'],
    ] as const) {
      const n = await addNamespace();
      const hostIf = uniqueName('v');
      await plugContainer({
        hostNetns: h.netns,
        hostIf,
        netns: { name: n.name },
        ifName: 'eth0',
        ip: `${ip}/24`,
        mtu: 1450,
      });
      await store.put(
        endpointKey(name),
        JSON.stringify(
          endpointRecord({
            id: name,
            network: 'contiv-net',
            group: 'web',
            ip,
            host: h.name,
            intfName: hostIf,
          }),
        ),
      );
      await p.agent.attachEndpoint(name, hostIf);
      netns.push(n.name);
    }
    // h1 knows web2 once its flows name web2's address.
    for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
      const flows = await h1.ovs.ofctl('dump-flows', h1.ovs.mgmt('contivbr'));
      if (flows.includes('20.1.1.2')) break;
      assert.ok(Date.now() < deadline, 'h1 has flows for web2');
    }
    const neigh = await h1.ovs.appctl('tnl/neigh/show').catch((e: Error) => e.message);
    assert.ok(
      await succeeds('ping', ['-n', '-q', '-c', '1', '-W', '1', '20.1.1.2'], { netns: netns[0] as string }),
      `the first ping web1 (h1) → web2 (h2); h1's tnl/neigh/show:\n${neigh}`,
    );
  });
});
