// The seed "Contiv Network" README (netplugin's own), every step as its user types it: two hosts (a
// namespace each with its own OVS, dockerd and netplugin), etcd and netmaster on the first, Contiv's
// own netctl. A network with a gateway and a tag, `web` on node1 pinging `db` on node2 by name;
// the prod_web policy and its rules, the group `web` as the Docker network web.contiv-net, and the
// rules at work; the group's name in DNS for every member, bare in its network and as
// web.contiv-net elsewhere in the tenant. The README's swarm section needs legacy swarm's manager,
// which Debian does not have; the Legacy Swarm tutorial's test covers the cluster store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCleanups } from '../harness/cleanup.js';
import { CONTIV_NETCTL, contivToolsPresent } from '../harness/contiv.js';
import {
  assertPingsByName,
  type ClusterNode,
  type ContivCluster,
  execIn,
  runContainer,
  startContivCluster,
} from '../harness/contiv-cluster.js';
import { DOCKER_COMMANDS } from '../harness/docker.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = [
  ...missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS, 'etcd'),
  ...(contivToolsPresent() ? [] : [CONTIV_NETCTL]),
];
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('the netplugin README on two hosts, with Contiv’s netctl', { skip }, () => {
  let cluster: ContivCluster;
  let node1: ClusterNode;
  let node2: ClusterNode;

  const netctl = (line: string) => cluster.typed(line);
  const ipOf = async (node: ClusterNode, name: string) =>
    (
      await node.dockerd.docker([
        'inspect',
        '-f',
        '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
        name,
      ])
    ).trim();
  /** busybox nslookup's addresses for `name`, asked from container `from` (its own resolver). */
  const lookup = async (node: ClusterNode, from: string, name: string): Promise<string[]> => {
    const { out } = await execIn(node, from, ['nslookup', name]);
    const answers = out.slice(out.indexOf(`Name:`));
    return [...answers.matchAll(/Address(?: \d+)?:\s*([\d.]+)/g)].map((m) => m[1] as string).sort();
  };
  /** A TCP connection from container `from` to ip:port succeeds (the listener answers and closes). */
  const connects = async (node: ClusterNode, from: string, ip: string, port: number) =>
    (await execIn(node, from, ['nc', '-w', '2', ip, String(port)])).ok;

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    cluster = await startContivCluster();
    [node1, node2] = cluster.nodes as [ClusterNode, ClusterNode];
  });
  after(runCleanups);

  test('steps 1 and 2: contiv-net with its gateway and tag; web on node1 pings db on node2', async () => {
    assert.match(
      await netctl('net create contiv-net --subnet=20.1.1.0/24 --gateway=20.1.1.254 --pkt-tag=1001'),
      /Creating network default:contiv-net/,
    );
    await runContainer(node1, 'web', 'contiv-net');
    await runContainer(node2, 'db', 'contiv-net');
    const db = await ipOf(node2, 'db');
    assert.match(db, /^20\.1\.1\.\d+$/);
    await assertPingsByName(node1, 'web', 'db', db);
    const inspected = JSON.parse(await node1.dockerd.docker(['network', 'inspect', 'contiv-net'])) as {
      Options: Record<string, string>;
    }[];
    assert.deepEqual(inspected[0]?.Options, {
      encap: 'vxlan',
      'pkt-tag': '1001',
      tenant: 'default',
      network: 'contiv-net',
    });
  });

  test('using policies: prod_web, its rules, group web as web.contiv-net, the rules at work', async () => {
    await netctl('policy create prod_web');
    await netctl('policy rule-add prod_web 1 -direction=in -protocol=tcp -action=deny');
    await netctl(
      'policy rule-add prod_web 2 -direction=in -protocol=tcp -port=80 -action=allow -priority=10',
    );
    await netctl(
      'policy rule-add prod_web 3 -direction=in -protocol=tcp -port=443 -action=allow -priority=10',
    );
    await netctl('group create contiv-net web -policy=prod_web');
    // The first step's container named web goes, so that the name `web` below is the group's alone.
    await node1.dockerd.docker(['rm', '-f', 'web']);
    // Step 4, on each host: `docker run -itd --net web.contiv-net ubuntu bash`, listening on 80, 443, 8080.
    const listen = ['sh', '-c', 'for p in 80 443 8080; do nc -ll -p $p -e true & done; wait'];
    await runContainer(node1, 'web-1', 'web.contiv-net', { cmd: listen });
    await runContainer(node2, 'web-2', 'web.contiv-net', { cmd: listen });
    const members = [await ipOf(node1, 'web-1'), await ipOf(node2, 'web-2')];
    for (const ip of members) assert.match(ip, /^20\.1\.1\.\d+$/);
    // db (contiv-net, no group) on node2: in to web on 80 and 443 only, on both hosts.
    for (const ip of members) {
      assert.equal(await connects(node2, 'db', ip, 80), true, `db → ${ip}:80 allowed`);
      assert.equal(await connects(node2, 'db', ip, 443), true, `db → ${ip}:443 allowed`);
      assert.equal(await connects(node2, 'db', ip, 8080), false, `db → ${ip}:8080 denied`);
    }
    // Stateful: "deny incoming tcp" denies connections, not packets; web's own connection to db
    // has its replies come in.
    await node2.dockerd.docker(['exec', '-d', 'db', 'nc', '-ll', '-p', '9000', '-e', 'true']);
    assert.equal(await connects(node1, 'web-1', await ipOf(node2, 'db'), 9000), true, 'web-1 → db:9000');
  });

  test('service discovery: `web` in its network, web.contiv-net elsewhere in the tenant, every member', async () => {
    const members = [await ipOf(node1, 'web-1'), await ipOf(node2, 'web-2')].sort();
    assert.deepEqual(await lookup(node2, 'db', 'web'), members, 'db asks for web');
    await netctl('net create other-net --subnet=20.1.2.0/24 --gateway=20.1.2.254');
    await runContainer(node1, 'other', 'other-net');
    assert.deepEqual(
      await lookup(node1, 'other', 'web.contiv-net'),
      members,
      'other-net asks for web.contiv-net',
    );
  });
});
