// A container's name on every host: two Docker hosts on one machine (a network namespace each with
// its own OVS, host agent with its DNS service, dockerd and our plugin; one netmaster on one store).
// A container started with --name on h1 resolves by that name, within 1 s, from a container on h2
// asking our DNS (the datapath punt, at the network's gateway address), and no longer after
// `docker rm -f`. A container renamed while h1's netplugin is down is known by its new name once
// that netplugin is back (its reconcile names the endpoints again).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { DockerEngine } from '../../api/docker/engine.js';
import { type DockerPlugin, startDockerPlugin } from '../../api/docker/index.js';
import { RestNetmasterClient } from '../../api/docker/netmaster-client.js';
import { DockerNetworkSync } from '../../api/docker/sync.js';
import { StoreTargetResolver } from '../../api/docker/target.js';
import { buildServer } from '../../api/rest/server.js';
import { startDnsService } from '../../datapath/agent/dns-service.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { startHostAgent } from '../harness/agent.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS, type DockerDaemon, startDockerd, uniquePluginName } from '../harness/docker.js';
import { startHosts } from '../harness/hosts.js';
import { tempDirPrefix } from '../harness/names.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { run } from '../harness/run.js';

const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS, 'dig', 'nsenter');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;
const GATEWAY = '10.38.30.254';

describe('container names in DNS across two Docker hosts', { skip }, () => {
  let store: EmbeddedStore;
  let api: FastifyInstance;
  const dockerds: DockerDaemon[] = [];
  const engines: DockerEngine[] = [];
  /** Each host's plugin, and how to start it again (a netplugin restart, for the Docker side). */
  const plugins: { running: DockerPlugin; start: () => Promise<DockerPlugin> }[] = [];

  const rest = async (method: 'POST', url: string, body: object) => {
    const res = await api.inject({ method, url, payload: body });
    assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  };

  /** dig in the asking container's network namespace: a query sent from its port, as its own
   * resolver's would be, without busybox's seconds-long retry for a name not (yet) known. */
  const resolverIn = async (d: DockerDaemon, container: string) => {
    const pid = (await d.docker(['inspect', '-f', '{{.State.Pid}}', container])).trim();
    return async (name: string) =>
      (
        await run('nsenter', [
          '-t',
          pid,
          '-n',
          'dig',
          `@${GATEWAY}`,
          name,
          'A',
          '+short',
          '+time=1',
          '+tries=1',
        ]).catch(() => '')
      ).trim();
  };
  const ipOf = async (d: DockerDaemon, container: string) =>
    (
      await d.docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', container])
    ).trim();

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    const dir = await mkdtemp(tempDirPrefix('dmhdns'));
    onCleanup(() => rm(dir, { recursive: true, force: true }), { label: 'store dir' });
    store = await EmbeddedStore.open(dir);
    onCleanup(() => store.close(), { label: 'store' });
    api = buildServer({ store });
    onCleanup(() => api.close(), { label: 'netmaster' });
    const url = await api.listen({ host: '127.0.0.1', port: 0 });
    const targets = new StoreTargetResolver(store);
    const pluginName = uniquePluginName();
    for (const host of await startHosts(2)) {
      await host.vtep();
      const { agent } = await startHostAgent(host, store);
      const dns = await startDnsService(store, agent);
      onCleanup(() => dns.close(), { label: `dns ${host.name}` });
      await dns.ready;
      const dockerd = await startDockerd({ netns: host.netns, hostname: host.name });
      await dockerd.image();
      const engine = new DockerEngine(dockerd.socket);
      const netmaster = new RestNetmasterClient(url);
      onCleanup(() => netmaster.close(), { label: `netmaster client ${host.name}` });
      const start = () =>
        startDockerPlugin({
          name: pluginName,
          dir: dockerd.pluginDir,
          netns: host.netns,
          targets,
          netmaster,
          host: agent,
          hostName: host.name,
          engine,
        });
      const plugin = { running: await start(), start };
      onCleanup(() => plugin.running.close(), { label: `plugin ${host.name}` });
      plugins.push(plugin);
      const sync = new DockerNetworkSync({ store, engine, pluginName, settleMs: 10 });
      onCleanup(() => sync.stop(), { label: `sync ${host.name}` });
      await sync.start();
      dockerds.push(dockerd);
      engines.push(engine);
    }
    await rest('POST', '/api/v1/networks/default:contiv-net/', {
      tenantName: 'default',
      networkName: 'contiv-net',
      encap: 'vxlan',
      subnet: '10.38.30.0/24',
      gateway: GATEWAY,
    });
    await rest('POST', '/api/v1/endpointGroups/default:web/', {
      tenantName: 'default',
      groupName: 'web',
      networkName: 'contiv-net',
    });
    for (const engine of engines) {
      const deadline = Date.now() + 10_000;
      while (!(await engine.inspectNetwork('web.contiv-net'))) {
        assert.ok(Date.now() < deadline, 'web.contiv-net did not appear');
        await sleep(50);
      }
    }
  });
  after(runCleanups);

  test('a name made on h1 resolves from h2 within 1 s, and is gone after docker rm -f', async () => {
    const [d1, d2] = dockerds as [DockerDaemon, DockerDaemon];
    const asker = `${uniquePluginName()}-asker`;
    const named = `${uniquePluginName()}-named`;
    onCleanup(() => d2.docker(['rm', '-f', asker]).then(() => undefined), { label: asker });
    onCleanup(() => d1.docker(['rm', '-f', named]).then(() => undefined), { label: named });
    await d2.docker(['run', '-d', '--name', asker, '--net', 'web.contiv-net', 'bbox', 'sleep', '300']);
    const resolve = await resolverIn(d2, asker);

    await d1.docker(['run', '-d', '--name', named, '--net', 'web.contiv-net', 'bbox', 'sleep', '300']);
    const started = performance.now();
    const ip = await ipOf(d1, named);
    let answer = '';
    while (answer !== ip && performance.now() - started < 3000) answer = await resolve(named);
    const ms = performance.now() - started;
    assert.equal(answer, ip, `${named} never resolved from h2`);
    assert.ok(ms < 1000, `${named} resolved from h2 after ${Math.round(ms)} ms`);

    await d1.docker(['rm', '-f', named]);
    assert.equal(await resolve(named), '', `${named} still resolves after docker rm -f`);
  });

  test("renamed while h1's netplugin was down: the new name resolves from h2 once it is back, the old one no longer", async () => {
    const [d1, d2] = dockerds as [DockerDaemon, DockerDaemon];
    const h1 = plugins[0]!;
    const asker = `${uniquePluginName()}-asker2`;
    const before = `${uniquePluginName()}-before`;
    const after = `${uniquePluginName()}-after`;
    onCleanup(() => d2.docker(['rm', '-f', asker]).then(() => undefined), { label: asker });
    onCleanup(() => d1.docker(['rm', '-f', after]).then(() => undefined), { label: after });
    await d2.docker(['run', '-d', '--name', asker, '--net', 'web.contiv-net', 'bbox', 'sleep', '300']);
    const resolve = await resolverIn(d2, asker);
    await d1.docker(['run', '-d', '--name', before, '--net', 'web.contiv-net', 'bbox', 'sleep', '300']);
    const ip = await ipOf(d1, before);
    const until = async (name: string, want: string) => {
      const deadline = Date.now() + 5000;
      let got = await resolve(name);
      while (got !== want && Date.now() < deadline) got = await resolve(name);
      return got;
    };
    assert.equal(await until(before, ip), ip, `${before} never resolved`);

    await h1.running.close();
    await d1.docker(['rename', before, after]);
    h1.running = await h1.start();
    await h1.running.reconciled;
    assert.equal(await until(after, ip), ip, `${after} (renamed) never resolved after the restart`);
    assert.equal(await until(before, ''), '', `${before} (the old name) still resolves`);
  });
});
