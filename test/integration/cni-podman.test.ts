// podman 4.3 with its CNI backend as the runtime (lab recipe "A real CNI client"): `podman run
// --rm --network <our conflist>` calls contiv-cni (VERSION, ADD; DEL on exit); the container shows
// our address and MAC and reaches another pod of the group; after --rm nothing of it is left.
// Chained before the reference tuning plugin, our result is its prevResult.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addrPrefix } from '../../policy/ipam/allocator.js';
import { ENDPOINT_PREFIX, type EndpointRecord } from '../../policy/model/endpoint.js';
import { macOf } from '../harness/agent.js';
import { runCleanups } from '../harness/cleanup.js';
import { CNI_TYPE, type CniLab, runCni, startCniLab } from '../harness/cni.js';
import { uniqueName } from '../harness/names.js';
import { addNamespace } from '../harness/netns.js';
import { PODMAN_COMMANDS, PODMAN_IMAGE, type Podman, startPodman } from '../harness/podman.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS, ...PODMAN_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('CNI with podman as the runtime', { skip }, () => {
  let c: CniLab;
  let pm: Podman;
  let peerIp: string;
  const net = uniqueName('cn');
  const chained = uniqueName('cc');

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    c = await startCniLab();
    await c.lab.rest('POST', '/api/v1/networks/default:n1/', {
      tenantName: 'default',
      networkName: 'n1',
      encap: 'vxlan',
      subnet: '20.3.1.0/24',
      gateway: '20.3.1.254',
    });
    await c.lab.rest('POST', '/api/v1/endpointGroups/default:web/', {
      tenantName: 'default',
      groupName: 'web',
      networkName: 'n1',
    });
    // Another pod of the group, added by the plugin directly.
    const peer = await addNamespace();
    const r = await runCni(
      c.binDir,
      { command: 'ADD', containerID: 'f'.repeat(64), netns: `/var/run/netns/${peer.name}`, ifName: 'eth0' },
      c.conf({ network: 'n1', group: 'web' }),
    );
    assert.equal(r.code, 0, r.stdout);
    peerIp = ((r.json as { ips: { address: string }[] }).ips[0]?.address ?? '').split('/')[0] ?? '';
    pm = await startPodman(c.binDir);
    await pm.addNetwork(net, [{ type: CNI_TYPE, network: 'n1', group: 'web', socket: c.socket }]);
    // Chained: the reference tuning plugin reads our result as its prevResult.
    await pm.addNetwork(chained, [
      { type: CNI_TYPE, network: 'n1', group: 'web', socket: c.socket },
      { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.accept_redirects': '0' } },
    ]);
  });
  after(runCleanups);

  test('podman run --network ours: our address, and the container reaches the peer', async () => {
    // The agent compiles the new endpoint's flows from the store's watch: a few tries.
    const script = `ip addr show eth0; for i in 1 2 3 4 5 6 7 8; do ping -c 1 -W 1 ${peerIp} >/dev/null && echo PING-OK && exit 0; done; exit 1`;
    const out = await pm.podman(['run', '--rm', '--network', net, PODMAN_IMAGE, 'sh', '-c', script], 90_000);
    if (process.env.CNI_TEST_VERBOSE) console.log(out);
    const m = /inet (20\.3\.1\.\d+)\/24/.exec(out);
    assert.ok(m, `no address of 20.3.1.0/24 in:\n${out}`);
    const ip = m[1] ?? '';
    assert.notEqual(ip, peerIp);
    assert.match(out, new RegExp(`link/ether ${macOf(ip)}`));
    assert.match(out, /mtu 1450/);
    assert.match(out, /PING-OK/);
    // --rm made podman call DEL: only the peer is left.
    const recs = (await c.lab.store.list(ENDPOINT_PREFIX)).map(
      (kv) => JSON.parse(kv.value) as EndpointRecord,
    );
    assert.deepEqual(
      recs.map((r) => r.ipAddress),
      [peerIp],
    );
    const addrs = (await c.lab.store.list(addrPrefix('default:n1'))).map((kv) => kv.key.split('/').pop());
    assert.deepEqual(addrs, [peerIp]);
  });

  test('chained after ours, the reference tuning plugin takes our result and applies its sysctl', async () => {
    const out = await pm.podman(
      [
        'run',
        '--rm',
        '--network',
        chained,
        PODMAN_IMAGE,
        'sh',
        '-c',
        'ip -o -4 addr show eth0; cat /proc/sys/net/ipv4/conf/eth0/accept_redirects',
      ],
      90_000,
    );
    assert.match(out, /inet 20\.3\.1\.\d+\/24/);
    assert.match(out, /\n0\s*$/);
    assert.equal((await c.lab.store.list(ENDPOINT_PREFIX)).length, 1, 'only the peer is left after --rm');
  });
});
