// Contiv's legacy swarm: dockerds that share a cluster store (`--cluster-store=etcd://…`, etcd's v2
// API) keep global-scope networks there, made once and seen by every engine. Two hosts (a netns
// each: OVS, agent, dockerd on the cluster store, the production Docker side), one netmaster. The
// driver learns from the engine that it is global; `contiv-net` is one global network with the same
// id on both engines (one elected host made it); containers on both hosts get the tutorial's
// addresses and reach each other; when the making host goes, the other makes the next network.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { DockerNetwork } from '../../api/docker/engine.js';
import { type DockerHost, startDockerHost } from '../../api/docker/host.js';
import { buildServer } from '../../api/rest/server.js';
import { DOCKER_GLOBAL_MAKER_KEY } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { startHostAgent } from '../harness/agent.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS, type DockerDaemon, startDockerd, uniquePluginName } from '../harness/docker.js';
import { startEtcd } from '../harness/etcd.js';
import { type Host, startHosts } from '../harness/hosts.js';
import { tempDirPrefix } from '../harness/names.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { CommandError } from '../harness/run.js';
import { waitFor } from '../harness/wait.js';

const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS, 'etcd', 'python3');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

interface ClusterHost {
  host: Host;
  dockerd: DockerDaemon;
  docker: DockerHost;
}

describe('Docker with a cluster store (legacy swarm): global networks, made once', { skip }, () => {
  let store: EmbeddedStore;
  let api: FastifyInstance;
  let pluginName: string;
  const hosts: ClusterHost[] = [];

  const rest = async (method: 'POST' | 'DELETE', url: string, body?: object) => {
    const res = await api.inject({ method, url, ...(body ? { payload: body } : {}) });
    assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  };
  const makerId = async () =>
    (JSON.parse((await store.get(DOCKER_GLOBAL_MAKER_KEY))?.value ?? '{}') as { id?: string }).id;
  const ours = async (h: ClusterHost, name: string): Promise<DockerNetwork[]> =>
    (await h.docker.engine.listNetworks({ driver: [pluginName] })).filter((n) => n.Name === name);

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    const dir = await mkdtemp(tempDirPrefix('dcs'));
    onCleanup(() => rm(dir, { recursive: true, force: true }), { label: 'store dir' });
    store = await EmbeddedStore.open(dir);
    onCleanup(() => store.close(), { label: 'store' });
    api = buildServer({ store });
    onCleanup(() => api.close(), { label: 'netmaster' });
    const url = await api.listen({ host: '127.0.0.1', port: 0 });
    pluginName = uniquePluginName();
    const sims = await startHosts(2);
    for (const h of sims) await h.vtep();
    // The cluster store lives on h1's underlay address, where both dockerds reach it.
    const kv = await startEtcd({ netns: sims[0]!.netns, address: sims[0]!.underlayIp, v2: true });
    for (const host of sims) {
      const { agent } = await startHostAgent(host, store);
      const dockerd = await startDockerd({
        netns: host.netns,
        hostname: host.name,
        args: [`--cluster-store=etcd://${kv.endpoint}`, `--cluster-advertise=${host.underlayIp}:2376`],
      });
      await dockerd.image();
      const docker = await startDockerHost({
        store,
        agent,
        hostName: host.name,
        leaseId: () => agent.leaseId,
        netmasterUrl: url,
        pluginName,
        pluginDir: dockerd.pluginDir,
        dockerSocket: dockerd.socket,
        netns: { name: host.netns },
        poolSize: 0,
      });
      onCleanup(() => docker.close(), { label: `docker side ${host.name}` });
      await docker.ready;
      hosts.push({ host, dockerd, docker });
    }
  });
  after(runCleanups);

  test('contiv-net is one global network on both engines; containers get .1 and .2 and reach each other', async () => {
    const [h1, h2] = hosts as [ClusterHost, ClusterHost];
    // The tutorial's network: no gateway.
    await rest('POST', '/api/v1/networks/default:contiv-net/', {
      tenantName: 'default',
      networkName: 'contiv-net',
      encap: 'vxlan',
      subnet: '10.1.2.0/24',
    });
    // The answer came once the maker had made it; the other engine sees it through the cluster store.
    await waitFor('contiv-net on both engines', async () => (await ours(h2, 'contiv-net')).length > 0, 5000);
    const [n1, n2] = [await ours(h1, 'contiv-net'), await ours(h2, 'contiv-net')];
    assert.equal(n1.length, 1, `h1 has ${n1.length} contiv-net`);
    assert.equal(n2.length, 1, `h2 has ${n2.length} contiv-net`);
    assert.equal(n1[0]!.Id, n2[0]!.Id, 'the same network on both engines');
    assert.equal(n1[0]!.Scope, 'global');
    const made = await makerId();
    assert.ok(made === h1.host.name || made === h2.host.name, `maker: ${made}`);

    const run = (h: ClusterHost, name: string) =>
      h.dockerd.docker(['run', '-d', '--name', name, '--net', 'contiv-net', 'bbox', 'sleep', '300']);
    onCleanup(() => h1.dockerd.docker(['rm', '-f', 'contiv-c1']).then(() => undefined), { label: 'c1' });
    onCleanup(() => h2.dockerd.docker(['rm', '-f', 'contiv-c2']).then(() => undefined), { label: 'c2' });
    await run(h1, 'contiv-c1');
    await run(h2, 'contiv-c2');
    const net = (h: ClusterHost, name: string, field: string) =>
      h.dockerd.docker(['inspect', '-f', `{{range .NetworkSettings.Networks}}{{.${field}}}{{end}}`, name]);
    assert.equal((await net(h1, 'contiv-c1', 'IPAddress')).trim(), '10.1.2.1');
    assert.equal((await net(h1, 'contiv-c1', 'MacAddress')).trim(), '02:02:0a:01:02:01');
    assert.equal((await net(h2, 'contiv-c2', 'IPAddress')).trim(), '10.1.2.2');
    const ping = async () => {
      try {
        return await h2.dockerd.docker(['exec', 'contiv-c2', 'ping', '-c', '3', '-W', '2', '10.1.2.1']);
      } catch (err) {
        if (!(err instanceof CommandError)) throw err;
        return `${err.stdout}\n${err.stderr}`;
      }
    };
    assert.match(await ping(), /[1-3] packets received/, 'h2/contiv-c2 → h1/contiv-c1');
    await h1.dockerd.docker(['rm', '-f', 'contiv-c1']);
    await h2.dockerd.docker(['rm', '-f', 'contiv-c2']);
    await rest('DELETE', '/api/v1/networks/default:contiv-net/');
    await waitFor('contiv-net gone from both engines', async () => {
      for (const h of hosts) if ((await ours(h, 'contiv-net')).length > 0) return false;
      return true;
    });
  });

  test('when the making host goes, the other makes the next network', async () => {
    const made = await makerId();
    const maker = hosts.find((h) => h.host.name === made);
    const other = hosts.find((h) => h.host.name !== made);
    assert.ok(maker && other, `maker ${made}`);
    await maker.docker.close();
    await rest('POST', '/api/v1/tenants/blue/', { tenantName: 'blue' });
    await rest('POST', '/api/v1/networks/blue:contiv-net/', {
      tenantName: 'blue',
      networkName: 'contiv-net',
      encap: 'vxlan',
      subnet: '10.1.2.0/24',
    });
    await waitFor(
      'contiv-net/blue made by the other host',
      async () => (await ours(other, 'contiv-net/blue')).length === 1,
      10_000,
    );
    const [n] = await ours(other, 'contiv-net/blue');
    assert.equal(n?.Scope, 'global');
    assert.equal(await makerId(), other.host.name);
  });
});
