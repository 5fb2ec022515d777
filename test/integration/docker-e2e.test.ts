// The whole host with Docker, nothing faked: netmaster's REST API on an embedded store, the host
// agent compiling the real pipeline onto a private OVS, our plugin asking netmaster over HTTP, a
// real dockerd. `netctl group create`'s REST call makes `web.contiv-net` appear in Docker; two
// containers there get netmaster's addresses and reach each other through our flows; removing
// them leaves no endpoint record, address, veth or port.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDockerHost } from '../../api/docker/host.js';
import { type DockerPlugin, hostLinks, VXLAN_MTU } from '../../api/docker/index.js';
import { ENDPOINT_PREFIX, type EndpointRecord } from '../../policy/model/endpoint.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS } from '../harness/docker.js';
import { type DockerStack, startDockerStack } from '../harness/docker-stack.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { CommandError } from '../harness/run.js';

const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

for (const store of ['embedded', 'etcd'] as const)
  describe(
    `Docker on a whole Contiv host (netmaster, agent, plugin, dockerd), on the ${store} store`,
    { skip },
    () => {
      let s: DockerStack;

      const addresses = async () =>
        (await s.store.list('/contiv.io/ipam/addr/')).map((kv) =>
          kv.key.slice('/contiv.io/ipam/addr/'.length),
        );
      const endpoints = async () =>
        (await s.store.list(ENDPOINT_PREFIX)).map((kv) => JSON.parse(kv.value) as EndpointRecord);
      /**
       * The plugin's veths (marked with its alias: other tests on this machine have veths too) that are
       * not spare ports waiting for a Join.
       */
      async function usedVeths(): Promise<string[]> {
        const { spares } = await s.agent.pluggedPorts();
        return (await hostLinks.ownedVeths(`contiv-ts/${s.pluginName}`)).filter((n) => !spares.includes(n));
      }
      async function assertClean(plugin: DockerPlugin = s.plugin): Promise<void> {
        // Leave deletes the veth after answering Docker.
        await plugin.network.settled();
        assert.deepEqual(await endpoints(), []);
        assert.deepEqual(await addresses(), []);
        assert.deepEqual(await usedVeths(), []);
        assert.deepEqual(
          (await s.vswitch.ports()).filter((p) => p.externalIds['contiv-endpoint']).map((p) => p.name),
          [],
        );
      }
      async function dockerNetworks(): Promise<string[]> {
        return (await s.engine.listNetworks()).map((n) => n.Name).filter((n) => n.includes('contiv-net'));
      }

      before(async () => {
        if (missing.length > 0)
          throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
        s = await startDockerStack({ store });
      });
      after(runCleanups);

      test('creating the network, groups and policy through netmaster makes their Docker networks', async () => {
        await s.rest('POST', '/api/v1/networks/default:contiv-net/', {
          tenantName: 'default',
          networkName: 'contiv-net',
          encap: 'vxlan',
          subnet: '10.36.28.0/24',
          gateway: '10.36.28.254',
        });
        // The seed's policy: tcp in denied, except port 80.
        await s.rest('POST', '/api/v1/policys/default:prod_web/', {
          tenantName: 'default',
          policyName: 'prod_web',
        });
        const rule = (ruleId: string, extra: object) =>
          s.rest('POST', `/api/v1/rules/default:prod_web:${ruleId}/`, {
            tenantName: 'default',
            policyName: 'prod_web',
            ruleId,
            direction: 'in',
            ...extra,
          });
        await rule('1', { protocol: 'tcp', action: 'deny' });
        await rule('2', { protocol: 'tcp', port: 80, action: 'allow', priority: 10 });
        await s.rest('POST', '/api/v1/endpointGroups/default:web/', {
          tenantName: 'default',
          groupName: 'web',
          networkName: 'contiv-net',
          policies: ['prod_web'],
        });
        await s.rest('POST', '/api/v1/endpointGroups/default:db/', {
          tenantName: 'default',
          groupName: 'db',
          networkName: 'contiv-net',
        });
        const deadline = Date.now() + 10_000;
        while ((await dockerNetworks()).sort().join() !== 'contiv-net,db.contiv-net,web.contiv-net') {
          assert.ok(Date.now() < deadline, `docker networks: ${(await dockerNetworks()).join(', ')}`);
          await sleep(50);
        }
      });

      test('two containers in web.contiv-net get netmaster addresses and ping each other', async () => {
        const names = ['c1', 'c2'].map((c) => `${s.pluginName}-${c}`);
        try {
          for (const n of names)
            await s.dockerd.docker([
              'run',
              '-d',
              '--name',
              n,
              '--net',
              'web.contiv-net',
              'bbox',
              'sleep',
              '120',
            ]);
          const eps = await endpoints();
          assert.equal(eps.length, 2);
          for (const ep of eps) {
            assert.equal(ep.endpointGroup, 'web');
            assert.equal(ep.homingHost, 'h1');
            assert.match(ep.ipAddress, /^10\.36\.28\.\d+$/);
          }
          const ipOf = async (n: string) =>
            (
              await s.dockerd.docker([
                'inspect',
                '-f',
                '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
                n,
              ])
            ).trim();
          const [ip1, ip2] = [await ipOf(names[0]!), await ipOf(names[1]!)];
          assert.deepEqual([ip1, ip2].sort(), eps.map((e) => e.ipAddress).sort());
          const mac = (
            await s.dockerd.docker(['exec', names[0]!, 'cat', '/sys/class/net/eth0/address'])
          ).trim();
          assert.equal(mac, eps.find((e) => e.ipAddress === ip1)?.macAddress);
          let ping = '';
          try {
            ping = await s.dockerd.docker(['exec', names[0]!, 'ping', '-c', '3', '-W', '2', ip2]);
          } catch (err) {
            if (!(err instanceof CommandError)) throw err;
            assert.fail(
              `${names[0]} could not ping ${ip2}:\n${err.stdout}\n${(await s.ovs.dumpFlows(s.bridge)).join('\n')}`,
            );
          }
          assert.match(ping, /3 packets received|[1-3] packets received/);
        } finally {
          for (const n of names) await s.dockerd.docker(['rm', '-f', n]).catch(() => undefined);
        }
        await assertClean();
      });

      test('the policy on real containers: db reaches web on tcp 80, not 22; a restarted web container still', async () => {
        const web = `${s.pluginName}-web1`;
        const db = `${s.pluginName}-db1`;
        const ipOf = async (n: string) =>
          (
            await s.dockerd.docker([
              'inspect',
              '-f',
              '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
              n,
            ])
          ).trim();
        const connects = async (ip: string, port: number) => {
          try {
            await s.dockerd.docker(['exec', db, 'sh', '-c', `nc -w 2 ${ip} ${port} </dev/null`]);
            return true;
          } catch (err) {
            if (err instanceof CommandError) return false;
            throw err;
          }
        };
        const servers = 'nc -ll -p 80 -e true & nc -ll -p 22 -e true & exec sleep 300';
        try {
          await s.dockerd.docker([
            'run',
            '-d',
            '--name',
            web,
            '--net',
            'web.contiv-net',
            'bbox',
            'sh',
            '-c',
            servers,
          ]);
          await s.dockerd.docker([
            'run',
            '-d',
            '--name',
            db,
            '--net',
            'db.contiv-net',
            'bbox',
            'sleep',
            '300',
          ]);
          // The earlier containers started the pool: these two are on spare veths, the policy with them.
          const plugged = [...(await s.agent.pluggedPorts()).endpoints.values()];
          assert.equal(plugged.length, 2);
          for (const h of plugged) assert.match(h, /^vs[0-9a-f]{10}$/);
          const ip = await ipOf(web);
          // docker run returns once Join did; the agent compiles the new endpoints' flows from the
          // store's watch a moment later, so the first allowed connection may need a few tries.
          const eventually = async (port: number) => {
            for (const deadline = Date.now() + 10_000; Date.now() < deadline; )
              if (await connects(ip, port)) return true;
            return false;
          };
          assert.equal(await eventually(80), true, 'db → web:80 allowed');
          assert.equal(await connects(ip, 22), false, 'db → web:22 denied');
          await s.dockerd.docker(['restart', '-t', '1', web]);
          assert.equal(await ipOf(web), ip, 'the restarted container keeps its address');
          assert.equal((await endpoints()).length, 2, 'one record per container after the restart');
          assert.equal(await eventually(80), true, 'after restart: db → web:80 allowed');
          assert.equal(await connects(ip, 22), false, 'after restart: db → web:22 denied');
        } finally {
          for (const n of [web, db]) await s.dockerd.docker(['rm', '-f', n]).catch(() => undefined);
        }
        await assertClean();
      });

      test('contiv-tag onto a netmaster group; its exhausted ip-pool fails docker run clearly and leaks nothing', async () => {
        await s.rest('POST', '/api/v1/endpointGroups/default:tagged/', {
          tenantName: 'default',
          groupName: 'tagged',
          networkName: 'contiv-net',
          ipPool: '10.36.28.200-10.36.28.200',
          cfgdTag: 'T1',
        });
        const P = s.pluginName;
        await s.dockerd.docker([
          'network',
          'create',
          '-d',
          P,
          '--ipam-driver',
          P,
          '-o',
          'contiv-tag=T1',
          '--ipam-opt',
          'contiv-tag=T1',
          'mine',
        ]);
        const c = `${P}-t1`;
        try {
          await s.dockerd.docker(['run', '-d', '--name', c, '--net', 'mine', 'bbox', 'sleep', '120']);
          const [ep] = await endpoints();
          assert.equal(ep?.endpointGroup, 'tagged');
          assert.equal(ep?.ipAddress, '10.36.28.200');
          let msg = '';
          try {
            await s.dockerd.docker(['run', '--rm', '--net', 'mine', 'bbox', 'true']);
          } catch (err) {
            if (!(err instanceof CommandError)) throw err;
            msg = err.stderr;
          }
          assert.match(msg, /no free address/);
          assert.deepEqual(await addresses(), ['default:contiv-net/10.36.28.200']);
        } finally {
          await s.dockerd.docker(['rm', '-f', c]).catch(() => undefined);
          await s.dockerd.docker(['network', 'rm', 'mine']).catch(() => undefined);
        }
        await assertClean();
        await s.rest('DELETE', '/api/v1/endpointGroups/default:tagged/');
      });

      test("a tenant of its own: contiv-net/blue gets the blue network's address", async () => {
        await s.rest('POST', '/api/v1/tenants/blue/', { tenantName: 'blue' });
        await s.rest('POST', '/api/v1/networks/blue:contiv-net/', {
          tenantName: 'blue',
          networkName: 'contiv-net',
          encap: 'vxlan',
          subnet: '10.1.2.0/24',
          gateway: '10.1.2.1',
        });
        const deadline = Date.now() + 10_000;
        while (!(await s.engine.inspectNetwork('contiv-net/blue'))) {
          assert.ok(Date.now() < deadline, 'contiv-net/blue did not appear');
          await sleep(50);
        }
        const c = `${s.pluginName}-blue`;
        try {
          await s.dockerd.docker([
            'run',
            '-d',
            '--name',
            c,
            '--net',
            'contiv-net/blue',
            'bbox',
            'sleep',
            '120',
          ]);
          const [ep] = await endpoints();
          assert.equal(ep?.tenant, 'blue');
          assert.equal(ep?.ipAddress, '10.1.2.2');
          const addr = await s.dockerd.docker(['exec', c, 'ip', 'addr', 'show', 'eth0']);
          assert.match(addr, /inet 10\.1\.2\.2\/24/);
        } finally {
          await s.dockerd.docker(['rm', '-f', c]).catch(() => undefined);
        }
        await assertClean();
        await s.rest('DELETE', '/api/v1/networks/blue:contiv-net/');
      });

      test('Joins take spare veths already on the bridge: right MAC, MTU, flows; a restarted plugin sweeps what a crash left', async () => {
        const pool = s.plugin.pool;
        assert.ok(pool, 'the stack plugin keeps spare veths');
        await pool.settled(); // the earlier containers started the VXLAN MTU's pool
        assert.equal(pool.readyCount(VXLAN_MTU), 8);
        const names = ['p1', 'p2'].map((c) => `${s.pluginName}-${c}`);
        const owner = `contiv-ts/${s.pluginName}`;
        let restarted: DockerPlugin | undefined;
        try {
          for (const n of names)
            await s.dockerd.docker([
              'run',
              '-d',
              '--name',
              n,
              '--net',
              'web.contiv-net',
              'bbox',
              'sleep',
              '120',
            ]);
          const eps = await endpoints();
          const plugged = (await s.agent.pluggedPorts()).endpoints;
          const hostIfs = eps.map((e) => plugged.get(e.endpointID) ?? '');
          for (const h of hostIfs) assert.match(h, /^vs[0-9a-f]{10}$/, 'the host end is a spare');
          for (const n of names) {
            // Docker sets the MAC CreateEndpoint answered: a spare's peer was made without it.
            const mac = (await s.dockerd.docker(['exec', n, 'cat', '/sys/class/net/eth0/address'])).trim();
            assert.ok(
              eps.some((e) => e.macAddress === mac),
              `${n}: MAC ${mac} is one of ${eps.map((e) => e.macAddress).join(', ')}`,
            );
            assert.equal(
              (await s.dockerd.docker(['exec', n, 'cat', '/sys/class/net/eth0/mtu'])).trim(),
              '1450',
            );
          }
          const ip2 = (
            await s.dockerd.docker([
              'inspect',
              '-f',
              '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
              names[1]!,
            ])
          ).trim();
          await s.dockerd.docker(['exec', names[0]!, 'ping', '-c', '2', '-W', '2', ip2]);

          // What a crash leaves: a spare on the bridge, and a veth whose deletion Leave had not finished.
          const id = randomBytes(5).toString('hex');
          const leftSpare = `vs${id}`;
          const leftVeth = `vp${id}0`;
          await hostLinks.createVeths([
            { hostName: leftSpare, peerName: `vt${id}`, owner },
            { hostName: leftVeth, peerName: `vc${id}0`, owner },
          ]);
          await s.agent.plugSpares([leftSpare]);
          // netplugin restarts (this one's close removes its own spares; the leftovers stay).
          await s.plugin.close();
          const again = await startDockerHost({
            store: s.store,
            agent: s.agent,
            hostName: 'h1',
            netmasterUrl: s.url,
            pluginName: s.pluginName,
            dockerSocket: s.dockerd.socket,
            syncNetworks: false,
          });
          onCleanup(() => again.close(), { label: 'restarted docker side' });
          restarted = again.plugin;
          await again.ready; // the reconcile runs after the socket opens, in the background
          assert.deepEqual((await s.agent.pluggedPorts()).spares, []);
          assert.deepEqual(
            (await usedVeths()).sort(),
            [...hostIfs].sort(),
            'the live containers keep theirs',
          );
          // The restarted plugin finds the spares' names on the bridge when Docker removes the containers.
          for (const n of names) await s.dockerd.docker(['rm', '-f', n]);
          await assertClean(restarted);
        } finally {
          for (const n of names) await s.dockerd.docker(['rm', '-f', n]).catch(() => undefined);
        }
      });

      test("a network without a gateway, as the tutorial: .1 first, Contiv's options, a way out through Docker", async () => {
        await s.rest('POST', '/api/v1/networks/default:nogw/', { encap: 'vxlan', subnet: '10.1.9.0/24' });
        const deadline = Date.now() + 10_000;
        while (!(await s.engine.inspectNetwork('nogw'))) {
          assert.ok(Date.now() < deadline, 'nogw did not appear');
          await sleep(50);
        }
        const inspect = JSON.parse(await s.dockerd.docker(['network', 'inspect', 'nogw'])) as {
          Options: Record<string, string>;
        }[];
        const oper = JSON.parse((await s.api.inject({ url: '/api/v1/inspect/networks/default:nogw/' })).body)
          .Oper as {
          externalPktTag: number;
        };
        assert.ok(oper.externalPktTag > 0);
        assert.deepEqual(inspect[0]?.Options, {
          encap: 'vxlan',
          'pkt-tag': String(oper.externalPktTag),
          tenant: 'default',
          network: 'nogw',
        });
        const c = `${s.pluginName}-nogw`;
        try {
          await s.dockerd.docker(['run', '-d', '--name', c, '--net', 'nogw', 'bbox', 'sleep', '120']);
          const addr = await s.dockerd.docker(['exec', c, 'ip', 'addr', 'show', 'eth0']);
          assert.match(addr, /inet 10\.1\.9\.1\/24/);
          assert.match(addr, /link\/ether 02:02:0a:01:09:01/);
          // Docker's gateway service gives the container its default route, off our network.
          const routes = await s.dockerd.docker(['exec', c, 'ip', 'route']);
          assert.match(routes, /^default via \S+ dev eth1/m);
          assert.match(routes, /10\.1\.9\.0\/24 dev eth0/);
        } finally {
          await s.dockerd.docker(['rm', '-f', c]).catch(() => undefined);
        }
        await assertClean();
        await s.rest('DELETE', '/api/v1/networks/default:nogw/');
      });

      test('a serviceLB balances over the containers its selector picks by their docker labels', async () => {
        const webs = [`${s.pluginName}-svc1`, `${s.pluginName}-svc2`];
        const other = `${s.pluginName}-svc3`;
        const client = `${s.pluginName}-svcc`;
        try {
          await s.rest('POST', '/api/v1/serviceLBs/default:websvc/', {
            tenantName: 'default',
            serviceName: 'websvc',
            networkName: 'contiv-net',
            ipAddress: '10.36.28.200',
            selectors: ['app=web'],
            ports: ['8000:80:TCP'],
          });
          // Each answers with its name on 80 (what the web group's policy allows).
          const serve = (n: string, labels: string[]) =>
            s.dockerd.docker([
              'run',
              '-d',
              '--name',
              n,
              '--hostname',
              n,
              ...labels.flatMap((l) => ['--label', l]),
              '--net',
              'web.contiv-net',
              'bbox',
              'sh',
              '-c',
              'exec nc -ll -p 80 -e hostname',
            ]);
          for (const n of webs) await serve(n, ['app=web']);
          await serve(other, ['app=db']);
          await s.dockerd.docker([
            'run',
            '-d',
            '--name',
            client,
            '--net',
            'db.contiv-net',
            'bbox',
            'sleep',
            '300',
          ]);
          const seen = new Set<string>();
          // The labels reach the endpoint records after Join (the engine is asked in the background).
          for (const deadline = Date.now() + 20_000; seen.size < 2 && Date.now() < deadline; ) {
            const out = await s.dockerd
              .docker([
                'exec',
                client,
                'sh',
                '-c',
                'for i in 1 2 3 4 5 6 7 8 9 10; do nc -w 2 10.36.28.200 8000 </dev/null; done',
              ])
              .catch(() => '');
            for (const l of out.split('\n')) if (l.trim()) seen.add(l.trim());
          }
          assert.deepEqual(
            [...seen].sort(),
            [...webs].sort(),
            'the VIP reached both labelled containers, no other',
          );
          const recs = await endpoints();
          assert.deepEqual(recs.find((r) => r.containerName === webs[0])?.labels, { app: 'web' });
        } finally {
          for (const n of [...webs, other, client])
            await s.dockerd.docker(['rm', '-f', n]).catch(() => undefined);
          await s.rest('DELETE', '/api/v1/serviceLBs/default:websvc/').catch(() => undefined);
        }
        await assertClean();
      });

      test('deleting the group in netmaster removes its Docker network', async () => {
        await s.rest('DELETE', '/api/v1/endpointGroups/default:web/');
        const deadline = Date.now() + 10_000;
        while ((await dockerNetworks()).sort().join() !== 'contiv-net,db.contiv-net') {
          assert.ok(Date.now() < deadline, `docker networks: ${(await dockerNetworks()).join(', ')}`);
          await sleep(50);
        }
      });
    },
  );
