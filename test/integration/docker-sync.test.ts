// The Docker networks of Contiv objects, made through the Engine API from what the store holds:
// `contiv-net`, `web.contiv-net`, `contiv-net/blue` appear when the network/group config keys do
// and go with them; `docker run --net web.contiv-net` then gets an address from the group's pool.
// A real dockerd and our plugin (intent read from the store; netmaster's allocator faked).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerEngine, MANAGED_LABEL } from '../../api/docker/engine.js';
import { type DockerPlugin, startDockerPlugin } from '../../api/docker/index.js';
import type { HostAttach } from '../../api/docker/ports.js';
import { DockerNetworkSync } from '../../api/docker/sync.js';
import { StoreTargetResolver } from '../../api/docker/target.js';
import { type DockerSyncMark, dockerSyncKey } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS, type DockerDaemon, startDockerd, uniquePluginName } from '../harness/docker.js';
import { FakeNetmaster } from '../harness/docker-fakes.js';
import { missingFor } from '../harness/require.js';
import { run } from '../harness/run.js';

const missing = missingFor('ip', 'ethtool', ...DOCKER_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const cfg = (t: string, key: string) => `/contiv.io/config/${t}/${key}`;

describe('Docker networks kept equal to the store', { skip }, () => {
  let store: EmbeddedStore;
  let dockerd: DockerDaemon;
  let engine: DockerEngine;
  let plugin: DockerPlugin;
  let sync: DockerNetworkSync;
  let P: string;
  // No bridge here: the veth is made and removed, the datapath side is not this test's subject.
  const host: HostAttach = { attachEndpoint: async () => 1, detachEndpoint: async () => undefined };

  const names = async () =>
    (await engine.listNetworks({ label: [`${MANAGED_LABEL}=contiv`] })).map((n) => n.Name).sort();
  async function until(want: string[]): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (JSON.stringify(await names()) !== JSON.stringify(want)) {
      if (Date.now() > deadline) assert.deepEqual(await names(), want);
      await sleep(50);
    }
  }

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    const dir = await mkdtemp(join(tmpdir(), 'docker-sync-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }), { label: 'store dir' });
    store = await EmbeddedStore.open(dir);
    onCleanup(() => store.close(), { label: 'store' });
    const targets = new StoreTargetResolver(store);
    P = uniquePluginName();
    dockerd = await startDockerd();
    await dockerd.image();
    engine = new DockerEngine(dockerd.socket);
    plugin = await startDockerPlugin({
      name: P,
      targets,
      netmaster: new FakeNetmaster(targets),
      host,
      hostName: 'h1',
      engine,
    });
    onCleanup(() => plugin.close(), { label: 'plugin' });
    const put = (t: string, key: string, v: object) => store.put(cfg(t, key), JSON.stringify(v));
    await put('tenant', 'default', { tenantName: 'default' });
    await put('tenant', 'blue', { tenantName: 'blue' });
    await put('network', 'default:contiv-net', {
      tenantName: 'default',
      networkName: 'contiv-net',
      subnet: '10.36.28.0/24',
      gateway: '10.36.28.254',
      encap: 'vxlan',
    });
    await put('network', 'blue:contiv-net', {
      tenantName: 'blue',
      networkName: 'contiv-net',
      subnet: '10.1.2.0/24',
      gateway: '10.1.2.1',
      encap: 'vxlan',
    });
    await put('endpointGroup', 'default:web', {
      tenantName: 'default',
      groupName: 'web',
      networkName: 'contiv-net',
      ipPool: '10.36.28.100-10.36.28.120',
    });
  });
  after(async () => {
    await sync?.stop();
    await runCleanups();
  });

  test('the engine speaks 1.41 (or older) and refuses a global-scope driver outside a swarm', async () => {
    assert.match(await engine.apiVersion(), /^1\.\d+$/);
    const G = uniquePluginName();
    const targets = new StoreTargetResolver(store);
    const global = await startDockerPlugin({
      name: G,
      targets,
      netmaster: new FakeNetmaster(targets),
      host,
      hostName: 'h1',
      scope: 'global',
    });
    try {
      await assert.rejects(
        engine.createNetwork({
          name: 'g1',
          driver: G,
          ipamDriver: G,
          subnet: '10.36.28.0/24',
          options: { network: 'contiv-net' },
          ipamOptions: { network: 'contiv-net' },
        }),
        /swarm/,
      );
    } finally {
      await global.close();
    }
  });

  test("in swarm mode Docker refuses a legacy plugin's swarm networks (a managed plugin is needed)", async () => {
    const hadGwBridge = (await run('ip', ['-o', 'link', 'show'])).includes(' docker_gwbridge:');
    await dockerd.docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    const G = uniquePluginName();
    const targets = new StoreTargetResolver(store);
    const global = await startDockerPlugin({
      name: G,
      targets,
      netmaster: new FakeNetmaster(targets),
      host,
      hostName: 'h1',
      scope: 'global',
    });
    try {
      await assert.rejects(
        engine.createNetwork({
          name: 'swarmnet',
          driver: G,
          ipamDriver: G,
          subnet: '10.36.28.0/24',
          options: { network: 'contiv-net' },
          ipamOptions: { network: 'contiv-net' },
          scope: 'swarm',
        }),
        /legacy plugin .* is not supported in swarm mode/,
      );
    } finally {
      await global.close();
      await dockerd.docker(['swarm', 'leave', '--force']);
      // swarm init makes a docker_gwbridge link in the host namespace and leaves it behind.
      if (!hadGwBridge) await run('ip', ['link', 'del', 'docker_gwbridge']).catch(() => undefined);
    }
  });

  test('a first pass creates the networks of every Contiv network and group', async () => {
    sync = new DockerNetworkSync({ store, engine, pluginName: P, resyncMs: 500, settleMs: 10 });
    const r = await sync.start();
    assert.deepEqual(r.created.sort(), ['contiv-net', 'contiv-net/blue', 'web.contiv-net']);
    assert.deepEqual(r.failed, []);
    const web = await engine.inspectNetwork('web.contiv-net');
    assert.equal(web?.Driver, P);
    // No netmaster allocated a tag here: the options say the encap, and no pkt-tag.
    assert.deepEqual(web?.Options, {
      tenant: 'default',
      network: 'contiv-net',
      group: 'web',
      encap: 'vxlan',
    });
    assert.deepEqual(web?.IPAM.Config, [{ Subnet: '10.36.28.0/24', Gateway: '10.36.28.254' }]);
    const again = await sync.sync();
    assert.deepEqual(again, { created: [], removed: [], failed: [] }, 'a second pass changes nothing');
  });

  test('docker run --net web.contiv-net / contiv-net/blue: the group pool, the tenant network, --ip', async () => {
    const web = await dockerd.docker([
      'run',
      '--rm',
      '--net',
      'web.contiv-net',
      'bbox',
      'ip',
      'addr',
      'show',
      'eth0',
    ]);
    assert.match(web, /inet 10\.36\.28\.100\/24/);
    assert.match(web, /link\/ether 02:02:0a:24:1c:64/);
    const blue = await dockerd.docker([
      'run',
      '--rm',
      '--net',
      'contiv-net/blue',
      'bbox',
      'ip',
      'addr',
      'show',
      'eth0',
    ]);
    assert.match(blue, /inet 10\.1\.2\.2\/24/);
    const ip = await dockerd.docker([
      'run',
      '--rm',
      '--net',
      'web.contiv-net',
      '--ip',
      '10.36.28.110',
      'bbox',
      'ip',
      'addr',
      'show',
      'eth0',
    ]);
    assert.match(ip, /inet 10\.36\.28\.110\/24/);
  });

  test('new and deleted config keys are followed; a network in use is removed once it is free', async () => {
    await store.put(
      cfg('endpointGroup', 'default:db'),
      JSON.stringify({ tenantName: 'default', groupName: 'db', networkName: 'contiv-net' }),
    );
    await until(['contiv-net', 'contiv-net/blue', 'db.contiv-net', 'web.contiv-net']);
    const c = `${P}-db`;
    await dockerd.docker(['run', '-d', '--name', c, '--net', 'db.contiv-net', 'bbox', 'sleep', '60']);
    try {
      await store.delete(cfg('endpointGroup', 'default:db'));
      await store.delete(cfg('network', 'blue:contiv-net'));
      await until(['contiv-net', 'db.contiv-net', 'web.contiv-net']);
      const r = await sync.sync();
      assert.equal(r.failed[0]?.name, 'db.contiv-net');
      assert.match(r.failed[0]?.error ?? '', /active endpoints/);
    } finally {
      await dockerd.docker(['rm', '-f', c]);
    }
    await until(['contiv-net', 'web.contiv-net']);
  });

  test('a network of ours removed behind our back comes back; one not ours is left alone', async () => {
    await dockerd.docker(['network', 'rm', 'web.contiv-net']);
    await until(['contiv-net', 'web.contiv-net']);
    // The user's own network of our driver, without our label.
    const o = ['network=contiv-net'];
    await dockerd.docker([
      'network',
      'create',
      '-d',
      P,
      '--ipam-driver',
      P,
      '-o',
      o[0]!,
      '--ipam-opt',
      o[0]!,
      'users-own',
    ]);
    await sync.sync();
    const all = await engine.listNetworks();
    assert.ok(all.some((n) => n.Name === 'users-own'));
    await dockerd.docker(['network', 'rm', 'users-own']);
  });

  test("each pass leaves the host's mark under its lease; an engine that fails marks the error once", async () => {
    // One sync per engine, as on a host: two would race each other to create the same network.
    await sync.stop();
    const lease = await store.grantLease(30);
    const markOf = async (host: string) => {
      const kv = await store.get(dockerSyncKey(host));
      return kv ? (JSON.parse(kv.value) as DockerSyncMark) : undefined;
    };
    const marked = new DockerNetworkSync({
      store,
      engine,
      pluginName: P,
      settleMs: 10,
      mark: { host: 'h1', leaseId: () => lease.id },
    });
    const gone = new DockerNetworkSync({
      store,
      engine: new DockerEngine(join(tmpdir(), `no-dockerd-${process.pid}.sock`)),
      pluginName: P,
      settleMs: 10,
      mark: { host: 'h2', leaseId: () => lease.id },
    });
    try {
      await marked.listen();
      const before = await store.revision();
      await marked.sync();
      const m = await markOf('h1');
      assert.ok(m && m.revision >= before && m.error === undefined, `h1's mark: ${JSON.stringify(m)}`);
      assert.equal((await store.get(dockerSyncKey('h1')))?.lease, lease.id);
      // A write to a group is followed by a pass, and the mark reaches the write's revision.
      const wrote = await store.put(
        cfg('endpointGroup', 'default:db'),
        JSON.stringify({ tenantName: 'default', groupName: 'db', networkName: 'contiv-net' }),
      );
      const deadline = Date.now() + 10_000;
      while (((await markOf('h1'))?.revision ?? 0) < wrote) {
        assert.ok(Date.now() < deadline, 'the mark never reached the write');
        await sleep(20);
      }
      assert.ok(await engine.inspectNetwork('db.contiv-net'), 'the mark came only after the network');

      await assert.rejects(gone.sync());
      const failed = await markOf('h2');
      assert.match(failed?.error ?? '', /ENOENT|connect/);
      const at = (await store.get(dockerSyncKey('h2')))?.modRevision;
      await assert.rejects(gone.sync());
      assert.equal(
        (await store.get(dockerSyncKey('h2')))?.modRevision,
        at,
        'a second failure is not rewritten',
      );

      await lease.revoke();
      assert.equal(await markOf('h1'), undefined, 'the marks go with the lease');
      assert.equal(await markOf('h2'), undefined);
    } finally {
      await store.delete(cfg('endpointGroup', 'default:db'));
      await marked.sync();
      await marked.stop();
      await gone.stop();
    }
  });
});
