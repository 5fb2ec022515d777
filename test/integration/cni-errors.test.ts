// The CNI plugin's failures: each answers CNI error JSON (code, msg) with a non-zero exit and leaves
// nothing allocated (no endpoint record, no address, no veth, no interface in the pod): an unknown
// group, netmaster down, a plug failing after the allocation, netplugin not running, a pod namespace that does not exist, missing env,
// a config that is not JSON, an unsupported version.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ERR } from '../../api/cni/protocol.js';
import { addrPrefix } from '../../policy/ipam/allocator.js';
import { ENDPOINT_PREFIX } from '../../policy/model/endpoint.js';
import { runCleanups } from '../harness/cleanup.js';
import { type CniLab, runCni, startCniLab } from '../harness/cni.js';
import { addNamespace, type Namespace } from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

/** Our host ends, by name: cni + 12 hex. */
const cniLinks = () => readdirSync('/sys/class/net').filter((n) => /^cni[0-9a-f]{12}$/.test(n));

describe('CNI plugin errors', { skip }, () => {
  let c: CniLab;
  let pod: Namespace;
  let linksBefore: string[];
  const id = 'e'.repeat(64);

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    c = await startCniLab();
    await c.lab.rest('POST', '/api/v1/networks/default:n1/', {
      tenantName: 'default',
      networkName: 'n1',
      encap: 'vxlan',
      subnet: '20.2.1.0/24',
    });
    pod = await addNamespace();
    linksBefore = cniLinks();
  });
  after(runCleanups);

  const add = (conf: Record<string, unknown>, extra: { netns?: string; args?: string } = {}) =>
    runCni(
      c.binDir,
      { command: 'ADD', containerID: id, netns: `/var/run/netns/${pod.name}`, ifName: 'eth0', ...extra },
      conf,
    );

  async function nothingLeft(): Promise<void> {
    assert.deepEqual(await c.lab.store.list(ENDPOINT_PREFIX), []);
    assert.deepEqual(await c.lab.store.list(addrPrefix('default:n1')), []);
    assert.deepEqual(cniLinks(), linksBefore);
    assert.equal(
      await pod.exec('ip', ['link', 'show', 'eth0']).then(
        () => 'present',
        () => 'absent',
      ),
      'absent',
    );
  }

  test('an unknown group is refused by name', async () => {
    const r = await add(c.conf({ network: 'n1', group: 'nosuch' }));
    assert.equal(r.code, 1);
    assert.equal(r.json?.code, ERR.invalidConfig);
    assert.equal(r.json?.cniVersion, '1.0.0');
    assert.match(String(r.json?.msg), /group nosuch of network n1 in tenant default: no such group/);
    await nothingLeft();
  });

  test('an unknown group from a pod label is refused by name', async () => {
    const r = await add(c.conf({ network: 'n1' }), { args: 'io.contiv.net-group=ghost' });
    assert.equal(r.json?.code, ERR.invalidConfig);
    assert.match(String(r.json?.msg), /ghost/);
    await nothingLeft();
  });

  test('no network at all says where to give one', async () => {
    const r = await add(c.conf());
    assert.equal(r.json?.code, ERR.invalidConfig);
    assert.match(String(r.json?.msg), /io\.contiv\.network/);
  });

  test('netmaster down: try again later, naming netmaster', async () => {
    const socket = await c.serveWith('http://127.0.0.1:1');
    const r = await add(c.conf({ network: 'n1', socket }));
    assert.equal(r.code, 1);
    assert.equal(r.json?.code, ERR.tryAgainLater);
    assert.match(String(r.json?.msg), /netmaster at http:\/\/127\.0\.0\.1:1 .*ECONNREFUSED/);
    await nothingLeft();
    // DEL with netmaster down cannot confirm the record is gone: try again later as well.
    const del = await runCni(
      c.binDir,
      { command: 'DEL', containerID: id, ifName: 'eth0' },
      c.conf({ socket }),
    );
    assert.equal(del.json?.code, ERR.tryAgainLater);
  });

  test('netplugin not running: try again later, naming the socket', async () => {
    const r = await add(c.conf({ network: 'n1', socket: `${c.dir}/absent.sock` }));
    assert.equal(r.json?.code, ERR.tryAgainLater);
    assert.match(String(r.json?.msg), /absent\.sock.*ENOENT/);
  });

  test('a pod namespace that does not exist: unknown container', async () => {
    const r = await add(c.conf({ network: 'n1' }), { netns: '/var/run/netns/does-not-exist' });
    assert.equal(r.json?.code, ERR.unknownContainer);
    await nothingLeft();
  });

  test('a plug failing after netmaster allocated gives the address back', async () => {
    // eth0 already taken in the pod: renaming our end to it fails after the record was made.
    await pod.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0']);
    try {
      const r = await add(c.conf({ network: 'n1' }));
      assert.equal(r.code, 1);
      assert.equal(r.json?.code, ERR.io);
      assert.match(String(r.json?.msg), /File exists|exists/);
      assert.deepEqual(await c.lab.store.list(ENDPOINT_PREFIX), []);
      assert.deepEqual(await c.lab.store.list(addrPrefix('default:n1')), []);
      assert.deepEqual(cniLinks(), linksBefore);
    } finally {
      await pod.exec('ip', ['link', 'del', 'eth0']);
    }
  });

  test('missing env, bad JSON, an unsupported version', async () => {
    const noIf = await runCni(
      c.binDir,
      { command: 'ADD', containerID: id, netns: '/x' },
      c.conf({ network: 'n1' }),
    );
    assert.equal(noIf.json?.code, ERR.invalidEnv);
    assert.match(String(noIf.json?.msg), /CNI_IFNAME/);
    const badJson = await runCni(
      c.binDir,
      { command: 'ADD', containerID: id, ifName: 'eth0', netns: '/x' },
      '{',
    );
    assert.equal(badJson.json?.code, ERR.decode);
    const v = await add(c.conf({ cniVersion: '0.2.0', network: 'n1' }));
    assert.equal(v.json?.code, ERR.incompatibleVersion);
    const cmd = await runCni(c.binDir, { command: 'BOGUS' as 'ADD' }, c.conf());
    assert.equal(cmd.json?.code, ERR.invalidEnv);
    await nothingLeft();
  });
});
