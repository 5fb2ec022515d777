// contiv's managed plugin (v2plugin) on a real dockerd in a network namespace of its own (the lab
// recipe's Docker host): `make v2plugin`'s build, pushed to a loopback docker-registry and installed
// from it with KEY=VALUE as the seeds type them; the seeds' legacy-mode workflow through it;
// a bad setting failing enable with a line in plugin_bootup.log; disable/enable keeping networks
// and addresses (and no taps left while disabled); swarm mode: the seed's contiv-tag network and
// a dnsrr service of 3 replicas that reach each other, are group1's members and obey p1.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PLUGIN_ADMIN_CONF } from '../../api/auth/bootstrap.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS, type DockerDaemon, startDockerd } from '../harness/docker.js';
import { tempDirPrefix, uniqueName } from '../harness/names.js';
import { addNamespace, type Namespace } from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { run } from '../harness/run.js';
import {
  buildV2plugin,
  CHECKOUT,
  dnsrrService,
  type Registry,
  removePluginsAtCleanup,
  restGetScript,
  startRegistry,
} from '../harness/v2plugin.js';

const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS, 'docker-registry');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

/** GET https://127.0.0.1:9999<argv[1]> with the credential the master plugin wrote to the host's /run. */

describe('v2plugin: managed plugin with its own OVS on a real dockerd', { skip, timeout: 600_000 }, () => {
  let ns: Namespace;
  let dockerd: DockerDaemon;
  let registry: Registry;
  let logDir: string;
  let failed = false;
  const tag = uniqueName('t').replace(/[^A-Za-z0-9_.-]/g, '');
  const plugin = `contiv/v2plugin:${tag}`;
  const bootLog = () => readFileSync(join(logDir, 'plugin_bootup.log'), 'utf8');
  const docker = (args: string[], timeoutMs = 60_000) => dockerd.docker(args, { timeoutMs });
  const netctl = (args: string[]) =>
    run('node', [join(CHECKOUT, 'dist', 'cli', 'netctl', 'main.js'), ...args], { netns: ns.name });
  const ipOf = async (container: string, net: string) =>
    (
      await docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, container])
    ).trim();
  // dockerd 20.10 may still hold the containerd container of a failed enable for a moment.
  const enableAfterFailure = async () => {
    for (let i = 0; ; i++) {
      try {
        await docker(['plugin', 'enable', plugin]);
        return;
      } catch (err) {
        // An attempt that reported "already in use" may have enabled it after all.
        if (/already enabled/.test((err as Error).message)) return;
        if (i > 20 || !/already in use/.test((err as Error).message)) throw err;
        await sleep(500);
      }
    }
  };
  /** netmaster's REST API over TLS, from inside the plugin's host, as root there (its admin credential). */
  const rest = async (path: string): Promise<unknown> =>
    JSON.parse(
      await run('ip', [
        'netns',
        'exec',
        ns.name,
        process.execPath,
        '-e',
        restGetScript(PLUGIN_ADMIN_CONF),
        path,
      ]),
    );
  /** ovs-vsctl/ovs-ofctl against the plugin's own OVS (its rootfs lies in dockerd's data root). */
  const pluginOvs = async () => {
    const id = (await docker(['plugin', 'inspect', '-f', '{{.Id}}', plugin])).trim();
    const rundir = join(dockerd.dir, 'root', 'plugins', id, 'rootfs', 'var', 'run', 'openvswitch');
    return {
      vsctl: (args: string[]) => run('ovs-vsctl', [`--db=unix:${rundir}/db.sock`, ...args]),
      flows: () => run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', `unix:${rundir}/contivbr.mgmt`]),
    };
  };
  /** Docker's endpoints on our networks, by network name. */
  const dockerEndpoints = async (): Promise<Map<string, string[]>> => {
    const out = new Map<string, string[]>();
    const ids = (await docker(['network', 'ls', '-q', '--filter', `driver=${plugin}`])).split('\n');
    for (const id of ids.filter(Boolean)) {
      const [n] = JSON.parse(await docker(['network', 'inspect', id])) as {
        Name: string;
        Containers?: Record<string, { EndpointID: string }>;
      }[];
      if (n)
        out.set(
          n.Name,
          Object.values(n.Containers ?? {}).map((c) => c.EndpointID),
        );
    }
    return out;
  };
  /**
   * Nothing leaked: netmaster's endpoint records are Docker's endpoints, the bridge's container
   * ports theirs, each Contiv network's allocated addresses its endpoints' (gateways are not
   * allocated), and no flow names an address in `gone`.
   */
  const assertNoLeaks = async (networks: string[], gone: string[] = []) => {
    const live = [...(await dockerEndpoints()).values()].flat().sort();
    const records = ((await rest('/plugin/endpoints')) as { endpointID: string }[])
      .map((e) => e.endpointID)
      .sort();
    assert.deepEqual(records, live, 'endpoint records are not Docker endpoints');
    const ovs = await pluginOvs();
    // Endpoint ports carry their endpoint's id (a Join may have taken a spare veth, named vs…).
    const table = JSON.parse(
      await ovs.vsctl(['--format=json', '--columns=external_ids', 'find', 'Interface']),
    ) as { data: [['map', [string, string][]]][] };
    const labelled = table.data
      .flatMap(([[, ids]]) => ids.filter(([k]) => k === 'contiv-endpoint').map(([, v]) => v))
      .sort();
    assert.deepEqual(labelled, live, 'stale OVS ports');
    for (const net of networks) {
      const { Oper } = (await rest(`/api/v1/inspect/networks/default:${net}/`)) as {
        Oper: { numEndpoints: number; allocatedAddressesCount: number; allocatedIPAddresses: string };
      };
      assert.equal(
        Oper.allocatedAddressesCount,
        Oper.numEndpoints,
        `${net}: addresses ${Oper.allocatedIPAddresses} for ${Oper.numEndpoints} endpoints`,
      );
    }
    const flows = await ovs.flows();
    for (const ip of gone)
      assert.ok(!flows.includes(`${ip},`) && !flows.includes(`${ip} `), `flows of ${ip} left`);
  };
  const step = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  before(async () => {
    // The master plugin writes the host's local admin credential; it goes with the test.
    onCleanup(() => rm(PLUGIN_ADMIN_CONF, { force: true }), { label: 'v2plugin admin.conf' });
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    ns = await addNamespace();
    dockerd = await startDockerd({ netns: ns.name, hostname: 'v2host' });
    removePluginsAtCleanup(dockerd);
    await dockerd.image();
    logDir = await mkdtemp(tempDirPrefix('v2log'));
    onCleanup(() => rm(logDir, { recursive: true, force: true }), { label: 'v2plugin logs' });
    registry = await startRegistry(ns.name);
  });

  after(async () => {
    if (failed && logDir) {
      for (const f of ['plugin_bootup.log', 'netplugin.log', 'netmaster.log', 'ovs-vswitchd.log']) {
        const p = join(logDir, f);
        if (existsSync(p))
          process.stderr.write(`--- ${f}\n${readFileSync(p, 'utf8').split('\n').slice(-40).join('\n')}\n`);
      }
    }
    await runCleanups();
  });

  test('builds, pushes to a loopback registry, installs with KEY=VALUE and enables', () =>
    step(async () => {
      const pushed = `${registry.address}/${plugin}`;
      await buildV2plugin(dockerd, pushed);
      await docker(['plugin', 'push', pushed], 120_000);
      await docker(['plugin', 'rm', '-f', pushed]);
      const t0 = Date.now();
      // The seed's line, with the registry's name aliased to contiv/v2plugin:<tag>, and the
      // harness's own engine socket and log folder; no etcd: role netmaster keeps an embedded store.
      await docker(
        [
          'plugin',
          'install',
          '--grant-all-permissions',
          '--alias',
          plugin,
          pushed,
          'CONTIV_ROLE=netmaster',
          'CONTIV_NETPLUGIN_FORWARD_MODE=bridge',
          'CONTIV_NETPLUGIN_MODE=docker',
          'CONTIV_NETPLUGIN_NET_MODE=vxlan',
          'CONTIV_NETMASTER_FORWARD_MODE=bridge',
          'CONTIV_NETMASTER_MODE=docker',
          'CONTIV_NETMASTER_NET_MODE=vxlan',
          'CONTIV_NETPLUGIN_ETCD_ENDPOINTS=',
          'CONTIV_OVS=own',
          `log_dir.source=${logDir}`,
          `docker_dir.source=${dirname(dockerd.socket)}`,
        ],
        120_000,
      );
      const enabled = (await docker(['plugin', 'inspect', '-f', '{{.Enabled}}', plugin])).trim();
      assert.equal(enabled, 'true');
      assert.match(bootLog(), /started netplugin with netmaster/);
      assert.match(bootLog(), /OVS: own userspace/);
      process.stderr.write(`# v2plugin install+enable ${Date.now() - t0} ms\n`);
    }));

  test('legacy mode through the plugin: netctl network, docker run, ping by name', () =>
    step(async () => {
      await netctl(['network', 'create', 'contiv-net', '-s', '100.1.1.1/24', '-g', '100.1.1.100']);
      // The plugin makes the Docker network of a Contiv one (local scope: in this engine).
      for (
        let i = 0;
        !(await docker(['network', 'ls', '--format', '{{.Name}}'])).split('\n').includes('contiv-net');
        i++
      ) {
        assert.ok(i < 100, 'docker network contiv-net did not appear');
        await sleep(100);
      }
      await docker(['run', '-itd', '--net=contiv-net', '--name=c1', 'bbox', 'sh']);
      assert.match(await ipOf('c1', 'contiv-net'), /^100\.1\.1\./);
      const out = await docker(['run', '--rm', '--net=contiv-net', '--name=c2', 'bbox', 'ping', '-c2', 'c1']);
      assert.match(out, /2 packets received/);
    }));

  test('a bad value fails enable with a clear line; disable/enable keeps networks and addresses', () =>
    step(async () => {
      const before = await ipOf('c1', 'contiv-net');
      await docker(['plugin', 'disable', '-f', plugin]);
      // SIGTERM stopped its OVS and removed the netdev taps it had made in the host namespace.
      const taps = () =>
        run('ip', ['-o', 'link', 'show', 'type', 'tun'], { netns: ns.name }).then((o) => o.trim());
      // The plugin's SIGTERM handling runs after disable returns; give it a moment under load.
      for (let i = 0; i < 50 && (await taps()) !== ''; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await taps(), '');
      await docker(['plugin', 'set', plugin, 'CONTIV_NETPLUGIN_VXLAN_PORT=notaport']);
      await assert.rejects(docker(['plugin', 'enable', '--timeout', '15', plugin]));
      assert.match(bootLog(), /invalid setting: CONTIV_NETPLUGIN_VXLAN_PORT="notaport" is not a UDP port/);
      await docker(['plugin', 'set', plugin, 'CONTIV_NETPLUGIN_VXLAN_PORT=4789']);
      await enableAfterFailure();
      assert.equal(await ipOf('c1', 'contiv-net'), before);
      const out = await docker(['run', '--rm', '--net=contiv-net', 'bbox', 'ping', '-c2', '-W2', 'c1']);
      assert.match(out, /2 packets received/);
      await docker(['rm', '-f', 'c1']);
    }));

  test('dockerd restart with the plugin enabled: it comes back enabled, networks and containers stay, nothing leaks', () =>
    step(async () => {
      await docker([
        'run',
        '-d',
        '--restart=always',
        '--net=contiv-net',
        '--name=c3',
        'bbox',
        'sleep',
        '3600',
      ]);
      const before = await ipOf('c3', 'contiv-net');
      const starts = () => bootLog().split('started netplugin with netmaster').length;
      const started = starts();
      await dockerd.restart();
      // dockerd waited for the plugin's socket and enabled it before it served its API.
      assert.equal((await docker(['plugin', 'inspect', '-f', '{{.Enabled}}', plugin])).trim(), 'true');
      assert.equal(starts(), started + 1, 'the plugin was not started again');
      for (let i = 0; (await docker(['inspect', '-f', '{{.State.Running}}', 'c3'])).trim() !== 'true'; i++) {
        assert.ok(i < 150, 'c3 (--restart=always) did not come back');
        await sleep(200);
      }
      const after = await ipOf('c3', 'contiv-net');
      assert.match(after, /^100\.1\.1\./);
      process.stderr.write(`# c3 ${before} before the restart, ${after} after\n`);
      const out = await docker(['run', '--rm', '--net=contiv-net', 'bbox', 'ping', '-c2', '-W2', 'c3']);
      assert.match(out, /2 packets received/);
      await assertNoLeaks(['contiv-net']);
      await docker(['rm', '-f', 'c3']);
      await assertNoLeaks(['contiv-net'], [after]);
    }));

  test('swarm mode with a Contiv group: a dnsrr service of 3 replicas reach each other, p1 holds', () =>
    step(async () => {
      await docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
      await docker(['plugin', 'disable', '-f', plugin]);
      await docker([
        'plugin',
        'set',
        plugin,
        'CONTIV_NETPLUGIN_MODE=swarm-mode',
        'CONTIV_NETMASTER_MODE=swarm-mode',
      ]);
      await docker(['plugin', 'enable', plugin]);
      // The seed's swarm workflow with Contiv policy: the Docker network names its Contiv group by tag.
      await netctl(['network', 'create', 'contiv-net-1', '-s', '200.1.1.1/24', '-g', '200.1.1.200']);
      await netctl(['policy', 'create', 'p1']);
      await netctl(['group', 'create', '-p', 'p1', '-tag', 'policylabel', 'contiv-net-1', 'group1']);
      const create = ['network', 'create', 'svc-net2', '-o', 'contiv-tag=policylabel', '-d', plugin];
      const ipam = ['--ipam-opt', 'contiv-tag=policylabel', '--ipam-driver', plugin];
      try {
        await docker([...create, ...ipam]);
      } catch (err) {
        // Today's Docker makes a plugin's network a swarm network only when told so (README).
        process.stderr.write(`# the seed's line alone: ${(err as Error).message.split('\n')[1] ?? ''}\n`);
        await docker([...create, ...ipam, '--scope', 'swarm', '--attachable']);
      }
      await docker(dnsrrService('my-db', 'svc-net2', 3));
      let ids: string[] = [];
      for (let i = 0; ids.length < 3; i++) {
        assert.ok(
          i < 200,
          `replicas did not start: ${await docker(['service', 'ps', '--no-trunc', 'my-db'])}`,
        );
        await sleep(200);
        ids = (await docker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=my-db']))
          .split('\n')
          .filter(Boolean);
      }
      const ips = await Promise.all(ids.map((id) => ipOf(id, 'svc-net2')));
      for (const ip of ips) assert.match(ip, /^200\.1\.1\./);
      assert.equal(new Set(ips).size, 3, `distinct addresses: ${ips.join(' ')}`);
      const [first = '', ...others] = ids;
      for (const ip of ips.slice(1)) await docker(['exec', first, 'ping', '-c1', '-W2', ip]);
      // The replicas are group1's members: p1's rules hold for them (incoming ICMP denied).
      await netctl(['policy', 'rule-add', 'p1', '1', '-direction=in', '-protocol=icmp', '-action=deny']);
      const [, second = ''] = ips;
      let denied = false;
      for (let i = 0; !denied && i < 20; i++) {
        denied = await docker(['exec', first, 'ping', '-c1', '-W1', second]).then(
          () => false,
          () => true,
        );
      }
      assert.ok(denied, `p1's deny icmp rule did not hold for ${second}`);
      await netctl(['policy', 'rule-rm', 'p1', '1']);
      const names = await docker(['exec', first, 'nslookup', 'tasks.my-db']);
      for (const ip of ips) assert.ok(names.includes(ip), `tasks.my-db: ${names}`);
      assert.ok(others.length === 2);
      await docker(['service', 'rm', 'my-db']);
      for (
        let i = 0;
        (await docker(['ps', '-aq', '--filter', 'label=com.docker.swarm.service.name=my-db'])).trim();
        i++
      ) {
        assert.ok(i < 150, 'replicas not removed');
        await sleep(200);
      }
      await docker(['network', 'rm', 'svc-net2']);
    }));

  /** The replicas of my-db running now: container id → address on net. */
  const replicas = async (net: string, want: number): Promise<Map<string, string>> => {
    let ids: string[] = [];
    for (let i = 0; ; i++) {
      ids = (await docker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=my-db']))
        .split('\n')
        .filter(Boolean);
      if (ids.length === want) break;
      if (i >= 300) {
        const ps = await docker(['service', 'ps', '--no-trunc', 'my-db']).catch((e: Error) => e.message);
        assert.fail(`${ids.length} replicas, not ${want}: ${ps}`);
      }
      await sleep(200);
    }
    return new Map(await Promise.all(ids.map(async (id) => [id, await ipOf(id, net)] as const)));
  };
  /** Retries a check while the swarm converges (task shutdown and address release are asynchronous). */
  const eventually = async (check: () => Promise<void>, ms = 30_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        return await check();
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
  };
  const contivNetwork = (name: string) =>
    rest(`/api/v1/networks/default:${name}/`).then(
      (n) => n as { subnet: string; gateway: string },
      () => undefined,
    );
  /** The seed's no-tenancy line; today's Docker needs --scope swarm --attachable for a plugin's swarm network. */
  const createSvcNet1 = async () => {
    const line = ['network', 'create', 'svc-net1', '--subnet', '100.1.1.0/24', '--gateway', '100.1.1.254'];
    const drivers = ['-d', plugin, '--ipam-driver', plugin];
    try {
      await docker([...line, ...drivers]);
    } catch (err) {
      process.stderr.write(`# the seed's line alone: ${(err as Error).message.split('\n')[1] ?? ''}\n`);
      await docker([...line, ...drivers, '--scope', 'swarm', '--attachable']);
    }
  };

  test("swarm mode without tenancy: the seed's --subnet network becomes a Contiv network; a dnsrr service of 3 replicas, one address each", () =>
    step(async () => {
      // contiv-net (legacy test) has 100.1.1.0/24 in the default tenant: the pool is refused, by field.
      await createSvcNet1();
      const dockerdLog = () => readFileSync(join(dockerd.dir, 'dockerd.log'), 'utf8');
      await eventually(async () =>
        assert.match(
          dockerdLog(),
          /--subnet 100\.1\.1\.0\/24 overlaps Contiv network contiv-net \(100\.1\.1\.\d+\/24\) in tenant default/,
        ),
      );
      assert.equal(await contivNetwork('svc-net1'), undefined);
      await docker(['network', 'rm', 'svc-net1']);
      await netctl(['network', 'rm', 'contiv-net']);
      await createSvcNet1();
      // Made at swarm's allocation, named after the Docker network, in the default tenant.
      let made: { subnet: string; gateway: string } | undefined;
      await eventually(async () => {
        made = await contivNetwork('svc-net1');
        assert.ok(made, 'no Contiv network svc-net1');
      });
      assert.equal(made?.subnet, '100.1.1.0/24');
      assert.equal(made?.gateway, '100.1.1.254');
      // netctl cannot remove what Docker made: docker network rm does.
      await assert.rejects(netctl(['network', 'rm', 'svc-net1']), /made for Docker network svc-net1/);
      await docker(dnsrrService('my-db', 'svc-net1', 3));
      const tasks = await replicas('svc-net1', 3);
      const ips = [...tasks.values()];
      for (const ip of ips) assert.match(ip, /^100\.1\.1\./);
      assert.equal(new Set(ips).size, 3, `distinct addresses: ${ips.join(' ')}`);
      const [first = '', ...others] = tasks.keys();
      for (const id of others) {
        const name = (await docker(['inspect', '-f', '{{.Name}}', id])).trim().replace(/^\//, '');
        await docker(['exec', first, 'ping', '-c1', '-W2', tasks.get(id) ?? '']);
        await docker(['exec', first, 'ping', '-c1', '-W2', name]);
      }
      const names = await docker(['exec', first, 'nslookup', 'tasks.my-db']);
      for (const ip of ips) assert.ok(names.includes(ip), `tasks.my-db: ${names}`);
      // Swarm asked twice per task (manager, node): one address each, all held by endpoints.
      await eventually(() => assertNoLeaks(['svc-net1']));
    }));

  test('swarm scale down and up, service rm, network rm: addresses, ports, flows and records go', () =>
    step(async () => {
      const before = await replicas('svc-net1', 3);
      await docker(['service', 'scale', '--detach', 'my-db=1']);
      const one = await replicas('svc-net1', 1);
      const gone = [...before.values()].filter((ip) => ![...one.values()].includes(ip));
      assert.equal(gone.length, 2);
      await eventually(() => assertNoLeaks(['svc-net1'], gone));
      await docker(['service', 'scale', '--detach', 'my-db=3']);
      const three = await replicas('svc-net1', 3);
      assert.equal(new Set(three.values()).size, 3);
      await eventually(() => assertNoLeaks(['svc-net1']));
      const [first = ''] = three.keys();
      for (const ip of three.values()) await docker(['exec', first, 'ping', '-c1', '-W2', ip]);
      await docker(['service', 'rm', 'my-db']);
      await replicas('svc-net1', 0);
      await eventually(() => assertNoLeaks(['svc-net1'], [...three.values()]));
      await docker(['network', 'rm', 'svc-net1']);
      // The Contiv network made for it goes with it, with its record.
      await eventually(async () => assert.equal(await contivNetwork('svc-net1'), undefined));
      await eventually(() => assertNoLeaks([]));
      await docker(['swarm', 'leave', '--force']);
    }));
});
