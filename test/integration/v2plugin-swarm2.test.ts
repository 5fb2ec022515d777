// contiv's managed plugin on a two-node swarm (lab recipe "Two Docker hosts on one machine"): h1 is
// the manager with plugin_role=master (netmaster + netplugin, embedded store), h2 a worker with
// plugin_role=worker following h1's netmaster (CONTIV_NETPLUGIN_NETMASTER_URL, no etcd); each a
// network namespace with its own dockerd, swarm joined over the underlay addresses. The seed's
// contiv-tag workflow: a dnsrr service of 4 replicas spread 2+2 whose tasks reach each other
// across the nodes, resolve tasks.NAME and obey p1, once over VXLAN and once over VLAN.
// VXLAN runs the plugins on each host's OVS (CONTIV_OVS=host): the userspace datapath tunnels only
// from an address on an OVS bridge (the harness's VTEP bridge); VLAN on the plugins' own OVS with
// the underlay interface as uplink.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS, type DockerDaemon, startDockerd } from '../harness/docker.js';
import { type Host, startHosts } from '../harness/hosts.js';
import { tempDirPrefix, uniqueName } from '../harness/names.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { run } from '../harness/run.js';
import {
  buildV2pluginDir,
  CHECKOUT,
  dnsrrService,
  removePluginsAtCleanup,
  restGetScript,
} from '../harness/v2plugin.js';

const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;
const SERVICE = 'my-db';
const REPLICAS = 4;

interface Node {
  host: Host;
  dockerd: DockerDaemon;
  logDir: string;
  /** The host's /run as the plugin's host_run mount sees it, when not the machine's own. */
  hostRun?: string;
  docker(args: string[], timeoutMs?: number): Promise<string>;
}

for (const encap of ['vxlan', 'vlan'] as const)
  describe(
    `v2plugin on a two-node swarm: manager (master) and worker, ${encap}`,
    { skip, timeout: 900_000 },
    () => {
      const nodes: Node[] = [];
      const tag = uniqueName('t').replace(/[^A-Za-z0-9_.-]/g, '');
      const plugin = `contiv/v2plugin:${tag}`;
      let failed = false;
      /** The master host's local admin credential, written by its plugin through the host_run mount. */
      let adminConf = '';
      const netctl = (args: string[]) =>
        run('node', [join(CHECKOUT, 'dist', 'cli', 'netctl', 'main.js'), ...args], {
          netns: nodes[0]?.host.netns ?? '',
          env: { CONTIV_ADMIN_CONF: adminConf },
        });
      const step = async (fn: () => Promise<void>) => {
        try {
          await fn();
        } catch (err) {
          failed = true;
          throw err;
        }
      };

      /** The plugin's OVS for VXLAN: the host's, at host_run.source/openvswitch (bound before dockerd starts). */
      const hostRunOf = async (host: Host) => {
        const dir = await mkdtemp(tempDirPrefix('hrun'));
        const ovsDir = join(dir, 'openvswitch');
        await mkdir(ovsDir);
        await run('mount', ['--bind', host.ovs.dir, ovsDir]);
        onCleanup(
          async () => {
            await run('umount', ['-l', ovsDir]).catch(() => undefined);
            await rm(dir, { recursive: true, force: true });
          },
          { label: `host run ${dir}` },
        );
        return dir;
      };

      before(async () => {
        if (missing.length > 0)
          throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
        const hosts = await startHosts(
          2,
          encap === 'vlan' ? { underlay: 'veth', subnet: 78 } : { subnet: 77 },
        );
        const pluginDir = await buildV2pluginDir(plugin);
        const [h1] = hosts as [Host, Host];
        for (const host of hosts) {
          let hostRun: string | undefined;
          if (encap === 'vxlan') {
            await host.vtep();
            hostRun = await hostRunOf(host);
          }
          const dockerd = await startDockerd({ netns: host.netns, hostname: host.name });
          removePluginsAtCleanup(dockerd);
          await dockerd.image();
          const logDir = await mkdtemp(tempDirPrefix('v2log'));
          onCleanup(() => rm(logDir, { recursive: true, force: true }), {
            label: `v2plugin logs ${host.name}`,
          });
          const docker = (args: string[], timeoutMs = 60_000) => dockerd.docker(args, { timeoutMs });
          await docker(['plugin', 'create', plugin, pluginDir], 120_000);
          const manager = host === h1;
          await docker([
            'plugin',
            'set',
            plugin,
            // The seed's swarm-mode workflow: master on the manager, worker elsewhere.
            `plugin_role=${manager ? 'master' : 'worker'}`,
            ...(manager ? ['CONTIV_NETPLUGIN_ETCD_ENDPOINTS='] : []),
            'CONTIV_NETPLUGIN_MODE=swarm-mode',
            'CONTIV_NETMASTER_MODE=swarm-mode',
            `CONTIV_NETPLUGIN_NET_MODE=${encap}`,
            `CONTIV_NETPLUGIN_HOST=${host.name}`,
            `CONTIV_NETPLUGIN_VTEP_IP=${host.underlayIp}`,
            ...(encap === 'vlan' ? [`CONTIV_NETPLUGIN_VLAN_UPLINKS=${host.underlayIf}`] : []),
            `CONTIV_OVS=${encap === 'vxlan' ? 'host' : 'own'}`,
            `log_dir.source=${logDir}`,
            `docker_dir.source=${dirname(dockerd.socket)}`,
            ...(hostRun ? [`host_run.source=${hostRun}`] : []),
          ]);
          nodes.push({ host, dockerd, logDir, docker, ...(hostRun ? { hostRun } : {}) });
        }
        const [m, w] = nodes as [Node, Node];
        await m.docker(['swarm', 'init', '--advertise-addr', m.host.underlayIp]);
        const token = (await m.docker(['swarm', 'join-token', 'worker', '-q'])).trim();
        await w.docker(['swarm', 'join', '--token', token, `${m.host.underlayIp}:2377`]);
        // Manager first: the worker's netplugin follows its netmaster.
        await m.docker(['plugin', 'enable', plugin], 120_000);
        // The join step: the worker gets the master's URL, and the token and CA from the master host's
        // /run/contiv/admin.conf (written by the master plugin through its host_run mount).
        adminConf = join(m.hostRun ?? '/run', 'contiv', 'admin.conf');
        const conf = adminConf;
        onCleanup(() => rm(conf, { force: true }), { label: 'v2plugin admin.conf' });
        const cred = JSON.parse(await readFile(conf, 'utf8')) as { token: string; ca: string };
        await w.docker([
          'plugin',
          'set',
          plugin,
          `CONTIV_NETPLUGIN_NETMASTER_URL=https://${h1.underlayIp}:9999`,
          `CONTIV_NETPLUGIN_NETMASTER_TOKEN=${cred.token}`,
          `CONTIV_NETPLUGIN_NETMASTER_CA=${Buffer.from(cred.ca).toString('base64')}`,
        ]);
        await w.docker(['plugin', 'enable', plugin], 120_000);
      });

      after(async () => {
        if (failed)
          for (const n of nodes)
            for (const f of ['plugin_bootup.log', 'netplugin.log', 'netmaster.log']) {
              const p = join(n.logDir, f);
              if (existsSync(p))
                process.stderr.write(
                  `--- ${n.host.name} ${f}\n${readFileSync(p, 'utf8').split('\n').slice(-30).join('\n')}\n`,
                );
            }
        await runCleanups();
      });

      test(`the seed's contiv-tag workflow: ${REPLICAS} dnsrr replicas on both nodes reach each other, p1 holds (${encap})`, () =>
        step(async () => {
          const [m, w] = nodes as [Node, Node];
          const nodeNames = (await m.docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])).trim();
          assert.match(nodeNames, new RegExp(`${w.host.name} Ready`), nodeNames);
          await netctl([
            'network',
            'create',
            'contiv-net-1',
            '-e',
            encap,
            ...(encap === 'vlan' ? ['-p', '112'] : []),
            '-s',
            '200.1.1.1/24',
            '-g',
            '200.1.1.200',
          ]);
          await netctl(['policy', 'create', 'p1']);
          await netctl(['group', 'create', '-p', 'p1', '-tag', 'policylabel', 'contiv-net-1', 'group1']);
          // The manager's netplugin makes the Contiv network a swarm network (group1.contiv-net-1 is no
          // DNS name component: swarm would refuse it); the worker's leaves swarm networks to managers.
          const managed = async () =>
            (
              await m.docker([
                'network',
                'ls',
                '--filter',
                'label=io.contiv.managed-by=contiv',
                '--format',
                '{{.ID}} {{.Name}} {{.Scope}}',
              ])
            ).trim();
          let made = await managed();
          for (let i = 0; made === ''; i++) {
            assert.ok(i < 100, 'no swarm network contiv-net-1');
            await sleep(200);
            made = await managed();
          }
          assert.match(made, /^\S+ contiv-net-1 swarm$/);
          await m.docker([
            'network',
            'create',
            'svc-net2',
            '-o',
            'contiv-tag=policylabel',
            '-d',
            plugin,
            '--ipam-opt',
            'contiv-tag=policylabel',
            '--ipam-driver',
            plugin,
            '--scope',
            'swarm',
            '--attachable',
          ]);
          await m.docker(
            dnsrrService(SERVICE, 'svc-net2', REPLICAS, ['--replicas-max-per-node', String(REPLICAS / 2)]),
          );
          // netmaster's endpoint records (the worker's netplugin writes through it).
          const endpoints = async () =>
            JSON.parse(
              await run(process.execPath, ['-e', restGetScript(adminConf), '/plugin/endpoints'], {
                netns: m.host.netns,
              }),
            ) as unknown[];
          const tasksOn = async (n: Node) =>
            (await n.docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${SERVICE}`]))
              .split('\n')
              .filter(Boolean);
          let ids: string[][] = [[], []];
          for (let i = 0; ids.some((l) => l.length < REPLICAS / 2); i++) {
            assert.ok(
              i < 300,
              `replicas did not start on both nodes: ${await m.docker(['service', 'ps', '--no-trunc', SERVICE])}`,
            );
            await sleep(200);
            ids = await Promise.all(nodes.map(tasksOn));
          }
          const ipOf = async (n: Node, id: string) =>
            (
              await n.docker([
                'inspect',
                '-f',
                '{{(index .NetworkSettings.Networks "svc-net2").IPAddress}}',
                id,
              ])
            ).trim();
          const [onM = [], onW = []] = ids;
          const ipsM = await Promise.all(onM.map((id) => ipOf(m, id)));
          const ipsW = await Promise.all(onW.map((id) => ipOf(w, id)));
          const all = [...ipsM, ...ipsW];
          for (const ip of all) assert.match(ip, /^200\.1\.1\./);
          assert.equal(new Set(all).size, REPLICAS, `distinct addresses: ${all.join(' ')}`);
          // Each host's netplugin recorded its own tasks with netmaster (the worker through its URL).
          const homes = (await endpoints()).map((e) => (e as { homingHost?: string }).homingHost).sort();
          assert.deepEqual(homes, [m.host.name, m.host.name, w.host.name, w.host.name]);
          const [a = '', ...restM] = onM;
          const [b = ''] = onW;
          // Across the nodes both ways, and on the same node.
          for (const ip of [...ipsW, ...ipsM.slice(1)])
            await m.docker(['exec', a, 'ping', '-c1', '-W3', ip]).catch(async () => {
              await m.docker(['exec', a, 'ping', '-c2', '-W3', ip]);
            });
          for (const ip of ipsM) await w.docker(['exec', b, 'ping', '-c2', '-W3', ip]);
          assert.equal(restM.length, REPLICAS / 2 - 1);
          // Docker's embedded DNS: tasks.NAME gives every task, the worker's too.
          const names = await m.docker(['exec', a, 'nslookup', `tasks.${SERVICE}`]);
          for (const ip of all) assert.ok(names.includes(ip), `tasks.${SERVICE} from h1: ${names}`);
          // The replicas are group1's members on both hosts: p1's deny holds across the nodes.
          await netctl(['policy', 'rule-add', 'p1', '1', '-direction=in', '-protocol=icmp', '-action=deny']);
          const [toW = ''] = ipsW;
          let denied = false;
          for (let i = 0; !denied && i < 20; i++)
            denied = await m.docker(['exec', a, 'ping', '-c1', '-W1', toW]).then(
              () => false,
              () => true,
            );
          assert.ok(denied, `p1's deny icmp rule did not hold for ${toW} on ${w.host.name}`);
          await netctl(['policy', 'rule-rm', 'p1', '1']);
          // Another group: a sync pass on both hosts, which keeps the network as it is (same id).
          await netctl(['group', 'create', 'contiv-net-1', 'group2']);
          await sleep(1000);
          assert.equal(await managed(), made);
          for (const n of nodes)
            assert.doesNotMatch(
              readFileSync(join(n.logDir, 'netplugin.log'), 'utf8'),
              /not synced/,
              n.host.name,
            );
          assert.match(readFileSync(join(w.logDir, 'netplugin.log'), 'utf8'), /not a swarm manager/);
          await m.docker(['exec', a, 'ping', '-c2', '-W3', toW]);
          await m.docker(['service', 'rm', SERVICE]);
          for (let i = 0; (await Promise.all(nodes.map(tasksOn))).flat().length > 0; i++) {
            assert.ok(i < 150, 'replicas not removed');
            await sleep(200);
          }
          // Every endpoint gone from netmaster (the worker's too).
          for (let i = 0; ; i++) {
            const eps = await endpoints();
            if (eps.length === 0) break;
            assert.ok(i < 50, `endpoints left: ${JSON.stringify(eps)}`);
            await sleep(200);
          }
          await m.docker(['network', 'rm', 'svc-net2']);
          await w.docker(['swarm', 'leave']);
          await m.docker(['swarm', 'leave', '--force']);
        }));
    },
  );
