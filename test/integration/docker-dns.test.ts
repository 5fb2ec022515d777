// Service discovery inside real Docker containers: Docker's own resolver (127.0.0.11) answers the
// names it knows and sends the rest out of the container, where our datapath punt answers the
// tenant's names: a group name gives every member, `group.network` too, and a container pings a
// group by name. The containers' resolver is an address inside the test's network, so no query
// that is not ours can leave this machine.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDnsService } from '../../datapath/agent/dns-service.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS } from '../harness/docker.js';
import { type DockerStack, startDockerStack } from '../harness/docker-stack.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const SUBNET = '10.37.29.0/24';
const GATEWAY = '10.37.29.254';

for (const store of ['embedded', 'etcd'] as const)
  describe(`DNS in real Docker containers, on the ${store} store`, { skip }, () => {
    let s: DockerStack;
    const names: string[] = [];
    const ips = new Map<string, string>();

    before(async () => {
      if (missing.length > 0)
        throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
      s = await startDockerStack({ store });
      const dns = await startDnsService(s.store, s.agent);
      onCleanup(() => dns.close(), { label: 'dns service' });
      await dns.ready;
      await s.rest('POST', '/api/v1/networks/default:contiv-net/', {
        tenantName: 'default',
        networkName: 'contiv-net',
        encap: 'vxlan',
        subnet: SUBNET,
        gateway: GATEWAY,
      });
      for (const g of ['web', 'db']) {
        await s.rest('POST', `/api/v1/endpointGroups/default:${g}/`, {
          tenantName: 'default',
          groupName: g,
          networkName: 'contiv-net',
        });
      }
      // The groups' Docker networks appear once the network sync has made them.
      for (const g of ['web', 'db']) {
        for (
          let i = 0;
          !(await s.dockerd.docker(['network', 'inspect', `${g}.contiv-net`]).then(
            () => true,
            () => false,
          ));
          i++
        ) {
          if (i > 100) throw new Error(`Docker network ${g}.contiv-net did not appear`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      for (const [c, g] of [
        ['web1', 'web'],
        ['web2', 'web'],
        ['client', 'db'],
      ] as const) {
        const name = `${s.pluginName}-${c}`;
        names.push(name);
        onCleanup(() => s.dockerd.docker(['rm', '-f', name]).then(() => undefined), {
          label: `container ${name}`,
        });
        await s.dockerd.docker([
          'run',
          '-d',
          '--name',
          name,
          '--net',
          `${g}.contiv-net`,
          '--dns',
          GATEWAY,
          'bbox',
          'sleep',
          '300',
        ]);
        const ip = (
          await s.dockerd.docker([
            'inspect',
            '-f',
            '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
            name,
          ])
        ).trim();
        ips.set(c, ip);
      }
    });
    after(runCleanups);

    const client = () => names[2] as string;
    const lookup = async (name: string): Promise<string[]> => {
      const out = await s.dockerd
        .docker(['exec', client(), 'nslookup', name])
        .catch((e: { stdout?: string }) => e.stdout ?? '');
      // busybox nslookup: the server's lines first, then "Name:"/"Address:" of the answer.
      const answer = out
        .split(/\nName:/)
        .slice(1)
        .join('\n');
      return [...answer.matchAll(/Address(?: \d+)?:\s*([0-9.]+)/g)].map((m) => m[1] as string).sort();
    };

    test("a group's name gives all its members, bare and as group.network", async () => {
      const web = [ips.get('web1'), ips.get('web2')].sort() as string[];
      assert.deepEqual(await lookup('web'), web);
      assert.deepEqual(await lookup('web.contiv-net'), web);
    });

    test('a container reaches a group member by the group name', async () => {
      const out = await s.dockerd.docker(['exec', client(), 'ping', '-c', '1', '-W', '3', 'web']);
      assert.match(out, /1 packets received/);
    });
  });
