// The Docker driver against a real dockerd (private, per the lab recipe): Docker discovers our plugin
// socket, creates networks through our NetworkDriver and IpamDriver, and `docker run` gets our
// address, our MAC (02:02 + IPv4) and MTU on a veth whose host end is a port of a private OVS bridge.
// netmaster and the intent are in-memory fakes here (docker-e2e covers the real ones); what is
// checked after every run is that nothing is left: addresses, endpoint records, veths, OVS ports.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  DockerEngine,
  type DockerPlugin,
  hostLinks,
  startDockerPlugin,
  vethOwner,
} from '../../api/docker/index.js';
import type { HostAttach } from '../../api/docker/ports.js';
import { OvsdbClient } from '../../datapath/ovsdb/client.js';
import { VSwitch } from '../../datapath/vswitch.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS, type DockerDaemon, startDockerd, uniquePluginName } from '../harness/docker.js';
import { FakeNetmaster, FakeTargets } from '../harness/docker-fakes.js';
import { uniqueName } from '../harness/names.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { CommandError } from '../harness/run.js';

const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

/** The message of a failed docker command (its stderr). */
async function dockerFails(d: DockerDaemon, args: string[]): Promise<string> {
  try {
    await d.docker(args);
  } catch (err) {
    if (err instanceof CommandError) return err.stderr;
    throw err;
  }
  assert.fail(`docker ${args.join(' ')} succeeded; it should have failed`);
}

describe('Docker remote driver with a real dockerd', { skip }, () => {
  let ovs: OvsInstance;
  let client: OvsdbClient;
  let vswitch: VSwitch;
  let dockerd: DockerDaemon;
  let plugin: DockerPlugin;
  let P: string;
  const targets = new FakeTargets();
  const netmaster = new FakeNetmaster(targets);
  /** Set to make the next attach fail (a datapath error during Join). */
  let failAttach = false;
  const host: HostAttach = {
    async attachEndpoint(endpointId, ifName) {
      if (failAttach) throw new Error('datapath refused the port (test)');
      return vswitch.addPort({
        name: ifName,
        kind: 'system',
        externalIds: { 'contiv-endpoint': endpointId },
      });
    },
    async detachEndpoint(_endpointId, ifName) {
      await vswitch.removePorts([ifName]);
    },
  };

  targets.add({ network: 'contiv-net', subnet: '10.36.28.0/24', gateway: '10.36.28.254' });
  targets.add({
    network: 'contiv-net',
    group: 'web',
    subnet: '10.36.28.0/24',
    gateway: '10.36.28.254',
    ipPool: '10.36.28.100-10.36.28.110',
    tag: 'webtag',
  });
  targets.add({ network: 'vlan-net', subnet: '10.37.0.0/24', gateway: '10.37.0.1', encap: 'vlan' });
  // A /30 with its gateway: one address left for containers.
  targets.add({ network: 'tiny', subnet: '10.99.0.0/30', gateway: '10.99.0.1' });

  const net = (name: string, opts: string[], extra: string[] = []) => [
    'network',
    'create',
    '-d',
    P,
    '--ipam-driver',
    P,
    ...opts.flatMap((o) => ['-o', o, '--ipam-opt', o]),
    ...extra,
    name,
  ];

  /** The veths our plugin made (its alias marks them: other tests on this machine have veths too). */
  const ourVeths = () => hostLinks.ownedVeths(vethOwner(P));

  /** Nothing of any container is left: only the listed addresses allocated, no records, veths, ports. */
  async function assertClean(allocated: string[] = []): Promise<void> {
    await plugin.network.settled(); // Leave deletes the veth after answering Docker
    assert.deepEqual(netmaster.allocated(), allocated.sort());
    assert.deepEqual([...netmaster.endpoints.keys()], []);
    assert.deepEqual(await ourVeths(), []);
    assert.deepEqual(
      (await vswitch.ports()).map((p) => p.name),
      [],
    );
  }

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    ovs = await startOvs();
    client = await OvsdbClient.connect(`unix:${ovs.dbSock}`);
    const br = uniqueName('br');
    vswitch = new VSwitch(client, { name: br, datapathType: 'dummy', owner: 'docker-test' });
    await vswitch.ensureBridge();
    await ovs.ofctl('add-flow', ovs.mgmt(br), 'priority=0,actions=NORMAL');
    P = uniquePluginName();
    plugin = await startDockerPlugin({ name: P, targets, netmaster, host, hostName: 'h1' });
    dockerd = await startDockerd();
    await dockerd.image();
  });
  after(async () => {
    await plugin?.close();
    await client?.close();
    await runCleanups();
  });

  test('docker run on a network of ours: our address, MAC 02:02+IPv4, MTU 1450 on VXLAN', async () => {
    await dockerd.docker(net('contiv-net', ['tenant=default', 'network=contiv-net']));
    const out = await dockerd.docker([
      'run',
      '--rm',
      '--net',
      'contiv-net',
      'bbox',
      'ip',
      'addr',
      'show',
      'eth0',
    ]);
    assert.match(out, /inet 10\.36\.28\.1\/24/);
    assert.match(out, /link\/ether 02:02:0a:24:1c:01/);
    assert.match(out, /mtu 1450/);
    const routes = await dockerd.docker(['run', '--rm', '--net', 'contiv-net', 'bbox', 'ip', 'route']);
    assert.match(routes, /default via 10\.36\.28\.254 dev eth0/);
    await assertClean();
    const inspect = JSON.parse(await dockerd.docker(['network', 'inspect', 'contiv-net']))[0];
    assert.equal(inspect.Driver, P);
    assert.equal(inspect.IPAM.Config[0].Subnet, '10.36.28.0/24');
    assert.equal(inspect.IPAM.Config[0].Gateway, '10.36.28.254');
  });

  test('two containers on the network reach each other through the OVS bridge', async () => {
    const c1 = `${P}-c1`;
    await dockerd.docker(['run', '-d', '--name', c1, '--net', 'contiv-net', 'bbox', 'sleep', '60']);
    try {
      const ip = (
        await dockerd.docker([
          'inspect',
          '-f',
          '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
          c1,
        ])
      ).trim();
      assert.equal(ip, '10.36.28.1');
      const ports = await vswitch.ports();
      assert.equal(ports.length, 1, 'the container is a port of the bridge');
      assert.ok(ports[0]!.name.startsWith('vp'));
      const ping = await dockerd.docker([
        'run',
        '--rm',
        '--net',
        'contiv-net',
        'bbox',
        'ping',
        '-c',
        '2',
        '-W',
        '2',
        ip,
      ]);
      assert.match(ping, /2 packets received/);
    } finally {
      await dockerd.docker(['rm', '-f', c1]);
    }
    await assertClean();
  });

  test('contiv-tag maps a Docker-created network onto the group with that tag (its ip-pool, no MTU change on VLAN)', async () => {
    // Docker takes `--ip` only on networks created with an explicit subnet.
    await dockerd.docker(net('tagged', ['contiv-tag=webtag'], ['--subnet', '10.36.28.0/24']));
    const out = await dockerd.docker([
      'run',
      '--rm',
      '--net',
      'tagged',
      'bbox',
      'ip',
      'addr',
      'show',
      'eth0',
    ]);
    assert.match(out, /inet 10\.36\.28\.100\/24/);
    assert.match(out, /link\/ether 02:02:0a:24:1c:64/);
    await dockerd.docker(net('vlan-net', ['network=vlan-net']));
    const vlan = await dockerd.docker([
      'run',
      '--rm',
      '--net',
      'vlan-net',
      'bbox',
      'ip',
      'addr',
      'show',
      'eth0',
    ]);
    assert.match(vlan, /mtu 1500/);
    assert.match(vlan, /inet 10\.37\.0\.2\/24/);
    const explicit = await dockerd.docker([
      'run',
      '--rm',
      '--net',
      'tagged',
      '--ip',
      '10.36.28.105',
      'bbox',
      'ip',
      'addr',
      'show',
      'eth0',
    ]);
    assert.match(explicit, /inet 10\.36\.28\.105\/24/);
    await assertClean();
  });

  test('a network naming nothing Contiv is refused with a clear message', async () => {
    const unknownTag = await dockerFails(dockerd, net('nosuch', ['contiv-tag=nosuchtag']));
    assert.match(unknownTag, /nosuchtag/);
    const noOpts = await dockerFails(dockerd, ['network', 'create', '-d', P, '--ipam-driver', P, 'bare']);
    assert.match(noOpts, /contiv-tag/);
    const otherIpam = await dockerFails(dockerd, [
      'network',
      'create',
      '-d',
      P,
      '-o',
      'network=contiv-net',
      '--subnet',
      '10.50.0.0/24',
      'otheripam',
    ]);
    assert.match(otherIpam, new RegExp(`--ipam-driver ${P}`));
    const ls = await dockerd.docker(['network', 'ls', '--format', '{{.Name}}']);
    assert.doesNotMatch(ls, /nosuch|bare|otheripam/);
    await assertClean();
  });

  test('an exhausted pool: docker run fails saying so, and the running container keeps its address', async () => {
    await dockerd.docker(net('tiny', ['network=tiny']));
    const c1 = `${P}-t1`;
    await dockerd.docker(['run', '-d', '--name', c1, '--net', 'tiny', 'bbox', 'sleep', '60']);
    try {
      const msg = await dockerFails(dockerd, ['run', '--rm', '--net', 'tiny', 'bbox', 'true']);
      assert.match(msg, /no free address left/);
      assert.deepEqual(netmaster.allocated(), ['default:tiny/10.99.0.2']);
      assert.equal(netmaster.endpoints.size, 1);
    } finally {
      await dockerd.docker(['rm', '-f', c1]);
    }
    await assertClean();
  });

  test('netmaster down, or failing after the address: docker run fails clearly, nothing stays allocated', async () => {
    netmaster.down = true;
    try {
      const msg = await dockerFails(dockerd, ['run', '--rm', '--net', 'contiv-net', 'bbox', 'true']);
      assert.match(msg, /netmaster .*ECONNREFUSED/);
    } finally {
      netmaster.down = false;
    }
    await assertClean();
    // The address is allocated, then the endpoint record fails: Docker releases the address.
    const orig = netmaster.createEndpoint.bind(netmaster);
    netmaster.createEndpoint = async () => {
      throw new Error('netmaster: endpoint store write failed (test)');
    };
    try {
      const msg = await dockerFails(dockerd, ['run', '--rm', '--net', 'contiv-net', 'bbox', 'true']);
      assert.match(msg, /endpoint store write failed/);
    } finally {
      netmaster.createEndpoint = orig;
    }
    await assertClean();
  });

  test('a Join the datapath refuses leaves no veth, no port, no record, no address', async () => {
    failAttach = true;
    try {
      const msg = await dockerFails(dockerd, ['run', '--rm', '--net', 'contiv-net', 'bbox', 'true']);
      assert.match(msg, /datapath refused the port/);
    } finally {
      failAttach = false;
    }
    await assertClean();
  });

  test('netplugin restarted under a running container: new runs work, docker rm still cleans up', async () => {
    const c1 = `${P}-r1`;
    await dockerd.docker(['run', '-d', '--name', c1, '--net', 'contiv-net', 'bbox', 'sleep', '60']);
    try {
      const [live] = await ourVeths();
      await plugin.close();
      // A veth a killed netplugin left (Leave deletes it after answering Docker), and one of
      // another plugin's: the start removes the first, keeps the other and the live container's.
      const id = randomBytes(5).toString('hex');
      const left = `vp${id}`;
      const others = `vo${id}`;
      await hostLinks.createVeths([
        { hostName: left, peerName: `vc${left.slice(2)}`, owner: vethOwner(P) },
        { hostName: others, peerName: `vq${others.slice(2)}`, owner: vethOwner(`${P}x`) },
      ]);
      onCleanup(() => hostLinks.deleteLink(others), { label: `veth ${others}` });
      // A fresh driver knows no network: it reads them back from the engine.
      plugin = await startDockerPlugin({
        name: P,
        targets,
        netmaster,
        host,
        hostName: 'h1',
        engine: new DockerEngine(dockerd.socket),
      });
      await plugin.reconciled; // after the socket opens, in the background
      assert.deepEqual(await ourVeths(), [live]);
      assert.deepEqual(await hostLinks.ownedVeths(vethOwner(`${P}x`)), [others]);
      const out = await dockerd.docker([
        'run',
        '--rm',
        '--net',
        'contiv-net',
        'bbox',
        'ip',
        'addr',
        'show',
        'eth0',
      ]);
      assert.match(out, /inet 10\.36\.28\.2\/24/);
      assert.deepEqual(netmaster.allocated(), ['default:contiv-net/10.36.28.1']);
    } finally {
      await dockerd.docker(['rm', '-f', c1]);
    }
    await assertClean();
  });

  test('a container removed while netmaster was down: the next netplugin start deletes its record', async () => {
    const c1 = `${P}-s1`;
    await dockerd.docker(['run', '-d', '--name', c1, '--net', 'contiv-net', 'bbox', 'sleep', '60']);
    netmaster.down = true;
    try {
      await dockerd.docker(['rm', '-f', c1]);
    } finally {
      netmaster.down = false;
    }
    assert.equal(netmaster.endpoints.size, 1, 'Docker could not delete the record');
    await plugin.network.settled();
    assert.deepEqual(await ourVeths(), [], 'Leave needs no netmaster');
    await plugin.close();
    plugin = await startDockerPlugin({
      name: P,
      targets,
      netmaster,
      host,
      hostName: 'h1',
      engine: new DockerEngine(dockerd.socket),
    });
    // Reconciling runs once the socket is up, in the background.
    await plugin.reconciled;
    await assertClean();
  });

  test('dockerd restarted: the containers it stopped gave everything back, new runs work', async () => {
    const c1 = `${P}-d1`;
    await dockerd.docker(['run', '-d', '--name', c1, '--net', 'contiv-net', 'bbox', 'sleep', '60']);
    assert.equal(netmaster.endpoints.size, 1);
    await dockerd.restart();
    await dockerd.docker(['rm', '-f', c1]);
    await assertClean();
    const out = await dockerd.docker([
      'run',
      '--rm',
      '--net',
      'contiv-net',
      'bbox',
      'ip',
      'addr',
      'show',
      'eth0',
    ]);
    assert.match(out, /inet 10\.36\.28\.1\/24/);
    await assertClean();
  });

  test('docker network rm goes through our driver; the gateway is never handed to a container', async () => {
    for (const n of ['contiv-net', 'tagged', 'vlan-net', 'tiny']) await dockerd.docker(['network', 'rm', n]);
    await assertClean();
  });
});
