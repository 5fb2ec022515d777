// Two Docker hosts on one machine (lab recipe): each a network namespace with its own OVS
// (netdev), host agent, dockerd (private mounts, plugins and containerd) and our plugin; one
// netmaster (REST in-process on the embedded store, or on etcd). A container on h1 and one on h2 in
// web.contiv-net reach each other, over the VXLAN overlay and over a VLAN uplink (`-p 112 -e vlan`),
// and removing them leaves nothing. netmaster answers a group create or delete once both engines
// have it, so nothing here waits for the Docker networks.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DockerEngine } from '../../api/docker/engine.js';
import { type DockerPlugin, startDockerPlugin } from '../../api/docker/index.js';
import { RestNetmasterClient } from '../../api/docker/netmaster-client.js';
import { DockerNetworkSync } from '../../api/docker/sync.js';
import { StoreTargetResolver } from '../../api/docker/target.js';
import { buildServer } from '../../api/rest/server.js';
import type { HostAgent } from '../../datapath/agent/agent.js';
import type { VSwitch } from '../../datapath/vswitch.js';
import { ENDPOINT_PREFIX } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { EtcdStore } from '../../state/etcd.js';
import type { Store } from '../../state/store.js';
import { startHostAgent } from '../harness/agent.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS, type DockerDaemon, startDockerd, uniquePluginName } from '../harness/docker.js';
import { startEtcd } from '../harness/etcd.js';
import { type Host, startHosts } from '../harness/hosts.js';
import { tempDirPrefix } from '../harness/names.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { CommandError } from '../harness/run.js';

const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

interface DockerHost {
  host: Host;
  agent: HostAgent;
  vswitch: VSwitch;
  dockerd: DockerDaemon;
  engine: DockerEngine;
  plugin: DockerPlugin;
  sync: DockerNetworkSync;
}

for (const [encap, storeKind] of [
  ['vxlan', 'embedded'],
  ['vlan', 'embedded'],
  ['vxlan', 'etcd'],
] as const)
  describe(
    `Docker on two hosts (netns each: OVS, agent, dockerd, plugin) with one netmaster, ${encap}, ${storeKind} store`,
    { skip },
    () => {
      let store: Store;
      let api: FastifyInstance;
      const hosts: DockerHost[] = [];

      const rest = async (method: 'POST' | 'DELETE', url: string, body?: object) => {
        const res = await api.inject({ method, url, ...(body ? { payload: body } : {}) });
        assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
      };

      before(async () => {
        if (missing.length > 0)
          throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
        const dir = await mkdtemp(tempDirPrefix('dmh'));
        onCleanup(() => rm(dir, { recursive: true, force: true }), { label: 'store dir' });
        store =
          storeKind === 'etcd'
            ? await EtcdStore.connect([(await startEtcd()).endpoint])
            : await EmbeddedStore.open(dir);
        onCleanup(() => store.close(), { label: 'store' });
        api = buildServer({ store });
        onCleanup(() => api.close(), { label: 'netmaster' });
        const url = await api.listen({ host: '127.0.0.1', port: 0 });
        const targets = new StoreTargetResolver(store);
        const pluginName = uniquePluginName();
        // VLAN: the underlay is a veth between the hosts and each host's uplink; VXLAN: the VTEP bridge.
        for (const host of await startHosts(2, encap === 'vlan' ? { underlay: 'veth' } : {})) {
          if (encap === 'vxlan') await host.vtep();
          const { agent, vswitch } = await startHostAgent(host, store, {
            uplinks: encap === 'vlan' ? [host.underlayIf] : [],
          });
          const dockerd = await startDockerd({ netns: host.netns, hostname: host.name });
          await dockerd.image();
          const engine = new DockerEngine(dockerd.socket);
          const netmaster = new RestNetmasterClient(url);
          onCleanup(() => netmaster.close(), { label: `netmaster client ${host.name}` });
          const plugin = await startDockerPlugin({
            name: pluginName,
            dir: dockerd.pluginDir,
            netns: host.netns,
            targets,
            netmaster,
            host: agent,
            hostName: host.name,
            engine,
          });
          onCleanup(() => plugin.close(), { label: `plugin ${host.name}` });
          // Local-scope networks: every host's engine gets its own copy of the Docker networks.
          const sync = new DockerNetworkSync({
            store,
            engine,
            pluginName,
            settleMs: 10,
            mark: { host: host.name, leaseId: () => agent.leaseId },
          });
          onCleanup(() => sync.stop(), { label: `sync ${host.name}` });
          await sync.start();
          hosts.push({ host, agent, vswitch, dockerd, engine, plugin, sync });
        }
      });
      after(runCleanups);

      test(`web.contiv-net appears on both hosts; containers on h1 and h2 ping each other (${encap})`, async () => {
        await rest('POST', '/api/v1/networks/default:contiv-net/', {
          tenantName: 'default',
          networkName: 'contiv-net',
          encap,
          ...(encap === 'vlan' ? { pktTag: 112 } : {}),
          subnet: '10.36.28.0/24',
          gateway: '10.36.28.254',
        });
        await rest('POST', '/api/v1/endpointGroups/default:web/', {
          tenantName: 'default',
          groupName: 'web',
          networkName: 'contiv-net',
        });
        // netmaster answered once both hosts had made it, as Contiv's did: no waiting here.
        for (const h of hosts)
          assert.ok(
            await h.engine.inspectNetwork('web.contiv-net'),
            `web.contiv-net missing on ${h.host.name}`,
          );
        const [h1, h2] = hosts as [DockerHost, DockerHost];
        const a = 'a1';
        const b = 'b1';
        try {
          await h1.dockerd.docker([
            'run',
            '-d',
            '--name',
            a,
            '--net',
            'web.contiv-net',
            'bbox',
            'sleep',
            '120',
          ]);
          await h2.dockerd.docker([
            'run',
            '-d',
            '--name',
            b,
            '--net',
            'web.contiv-net',
            'bbox',
            'sleep',
            '120',
          ]);
          const ipOf = async (h: DockerHost, n: string) =>
            (
              await h.dockerd.docker([
                'inspect',
                '-f',
                '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
                n,
              ])
            ).trim();
          const [ipA, ipB] = [await ipOf(h1, a), await ipOf(h2, b)];
          assert.notEqual(ipA, ipB);
          const homes = (await store.list(ENDPOINT_PREFIX))
            .map((kv) => JSON.parse(kv.value).homingHost)
            .sort();
          assert.deepEqual(homes, [h1.host.name, h2.host.name]);
          const ping = async (h: DockerHost, from: string, to: string) => {
            try {
              return await h.dockerd.docker(['exec', from, 'ping', '-c', '3', '-W', '2', to]);
            } catch (err) {
              if (!(err instanceof CommandError)) throw err;
              return `${err.stdout}\n${err.stderr}`;
            }
          };
          assert.match(await ping(h1, a, ipB), /[1-3] packets received/, `h1/${a} → h2/${b} (${ipB})`);
          assert.match(await ping(h2, b, ipA), /[1-3] packets received/, `h2/${b} → h1/${a} (${ipA})`);
        } finally {
          await h1.dockerd.docker(['rm', '-f', a]).catch(() => undefined);
          await h2.dockerd.docker(['rm', '-f', b]).catch(() => undefined);
        }
        assert.deepEqual(await store.list(ENDPOINT_PREFIX), []);
        assert.deepEqual(await store.list('/contiv.io/ipam/addr/'), []);
        for (const h of hosts)
          assert.deepEqual(
            (await h.vswitch.ports()).filter((p) => p.externalIds['contiv-endpoint']).map((p) => p.name),
            [],
          );
        // A delete answers, too, once the hosts have removed the Docker network.
        await rest('DELETE', '/api/v1/endpointGroups/default:web/');
        for (const h of hosts)
          assert.equal(await h.engine.inspectNetwork('web.contiv-net'), undefined, `left on ${h.host.name}`);
      });
    },
  );
