// One real Docker container on the BGP path: the BGP lab (FRR ToR, two hosts with OVS, agent,
// gobgpd), dockerd with our network and IPAM plugin inside h1's namespace (lab recipe), a netns
// endpoint on h2. The container and the endpoint reach each other and the outside only through
// the ToR, the ToR holds exactly one /32 for each, and `docker rm -f` withdraws the container's
// route within 1 s.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { DockerEngine } from '../../api/docker/engine.js';
import { startDockerPlugin } from '../../api/docker/index.js';
import { RestNetmasterClient } from '../../api/docker/netmaster-client.js';
import { DockerNetworkSync } from '../../api/docker/sync.js';
import { StoreTargetResolver } from '../../api/docker/target.js';
import { ENDPOINT_PREFIX } from '../../policy/model/endpoint.js';
import { type BgpLab, OUTSIDE, startBgpLab } from '../harness/bgp-lab.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS, type DockerDaemon, startDockerd, uniquePluginName } from '../harness/docker.js';
import type { Host } from '../harness/hosts.js';
import { pingFrom } from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { CommandError } from '../harness/run.js';
import { waitFor } from '../harness/wait.js';

const missing = [
  ...missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS, 'nsenter', 'gobgpd', 'vtysh'),
  ...(existsSync('/usr/lib/frr/bgpd') ? [] : ['frr (/usr/lib/frr/bgpd)']),
];
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('BGP: a Docker container on h1, a netns endpoint on h2, through the FRR ToR', { skip }, () => {
  let lab: BgpLab;
  let dockerd: DockerDaemon;

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    lab = await startBgpLab();
    const url = await lab.api.listen({ host: '127.0.0.1', port: 0 });
    const h1 = lab.hosts[0] as Host;
    dockerd = await startDockerd({ netns: h1.netns, hostname: h1.name });
    await dockerd.image();
    const engine = new DockerEngine(dockerd.socket);
    const netmaster = new RestNetmasterClient(url);
    onCleanup(() => netmaster.close(), { label: 'netmaster client' });
    const pluginName = uniquePluginName();
    const plugin = await startDockerPlugin({
      name: pluginName,
      dir: dockerd.pluginDir,
      netns: h1.netns,
      targets: new StoreTargetResolver(lab.store),
      netmaster,
      host: lab.plugins[0]?.agent as NonNullable<BgpLab['plugins'][0]>['agent'],
      hostName: h1.name,
      engine,
    });
    onCleanup(() => plugin.close(), { label: 'plugin' });
    // The Contiv network `public` as a Docker network of that name (local scope: synced per engine).
    const sync = new DockerNetworkSync({ store: lab.store, engine, pluginName, settleMs: 10 });
    onCleanup(() => sync.stop(), { label: 'sync' });
    await sync.start();
    await waitFor('the Docker network public', async () => !!(await engine.inspectNetwork('public')));
  });

  after(() => runCleanups());

  test('ping through the ToR, one /32 each, docker rm withdraws within 1 s', async () => {
    await waitFor('both sessions established', () => lab.established());
    await lab.addEndpoint('b1', 1, '20.1.1.3');
    const name = 'c1';
    let removed = false;
    try {
      await dockerd.docker(['run', '-d', '--name', name, '--net', 'public', 'bbox', 'sleep', '300']);
      const ip = (
        await dockerd.docker([
          'inspect',
          '-f',
          '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
          name,
        ])
      ).trim();
      assert.match(ip, /^20\.1\.\d+\.\d+$/);
      const container = [{ ip, host: 0 }];
      await waitFor(
        'one /32 per endpoint and container on the ToR',
        () => lab.torHasEndpoints(container),
        5000,
      );
      const ping = async (to: string) => {
        try {
          return await dockerd.docker(['exec', name, 'ping', '-c', '2', '-W', '2', to]);
        } catch (err) {
          if (!(err instanceof CommandError)) throw err;
          return `${err.stdout}\n${err.stderr}`;
        }
      };
      assert.match(await ping('20.1.1.3'), /[12] packets received/, `container ${ip} → h2's b1`);
      assert.match(await ping(OUTSIDE), /[12] packets received/, `container ${ip} → outside`);
      const b1 = lab.endpoints.get('b1');
      assert.ok(b1 && (await pingFrom(b1.ns.name, ip, { timeoutSec: 10 })), `b1 → container ${ip}`);
      assert.ok(b1 && (await pingFrom(b1.ns.name, OUTSIDE, { timeoutSec: 10 })), 'b1 → outside');

      const t0 = Date.now();
      await dockerd.docker(['rm', '-f', name]);
      removed = true;
      const rm = Date.now() - t0;
      const withdrawn = await waitFor('the container withdrawn', () => lab.torHasEndpoints(), 1000);
      process.stdout.write(
        `# docker rm -f took ${rm} ms; the route was gone from the ToR ${withdrawn} ms later\n`,
      );
      const eps = await lab.store.list(ENDPOINT_PREFIX);
      assert.deepEqual(
        eps.map((kv) => (JSON.parse(kv.value) as { endpointID: string }).endpointID),
        ['b1'],
        'only the netns endpoint is left',
      );
    } finally {
      if (!removed) await dockerd.docker(['rm', '-f', name]).catch(() => undefined);
    }
  });
});
