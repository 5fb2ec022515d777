// VSwitch against a real ovsdb-server + ovs-vswitchd, checked with ovs-vsctl reading the same
// database: the bridge, ports of every kind, idempotence, restarts, and the user's objects left alone.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OvsdbClient } from '../../datapath/ovsdb/client.js';
import { OWNER_KEY, VSwitch, VSwitchError } from '../../datapath/vswitch.js';
import { runCleanups } from '../harness/cleanup.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('VSwitch against ovsdb-server and ovs-vswitchd', { skip }, () => {
  let ovs: OvsInstance;
  let client: OvsdbClient;
  const bridge = 'ctsvsw0';
  const config = {
    name: bridge,
    datapathType: 'dummy',
    owner: 'netplugin',
    controllers: ['tcp:127.0.0.1:16653'],
  };

  before(async () => {
    if (missing.length > 0)
      throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
    ovs = await startOvs();
    client = await OvsdbClient.connect(`unix:${ovs.dbSock}`);
  });
  after(async () => {
    await client?.close();
    await runCleanups();
  });

  /** ovs-vsctl get, with the quotes it puts around some strings removed. */
  const get = async (...args: string[]) => (await ovs.vsctl('get', ...args)).trim().replace(/^"(.*)"$/, '$1');

  test('ensureBridge creates the bridge as configured, then changes nothing', async () => {
    const vs = new VSwitch(client, config);
    assert.equal(await vs.ensureBridge(), true);
    assert.match(await ovs.vsctl('list-br'), new RegExp(`^${bridge}$`, 'm'));
    assert.equal(await get('bridge', bridge, 'datapath_type'), 'dummy');
    assert.equal(await get('bridge', bridge, 'fail_mode'), 'secure');
    assert.equal(await get('bridge', bridge, 'protocols'), '[OpenFlow13]');
    assert.equal(await get('bridge', bridge, `external_ids:${OWNER_KEY}`), 'netplugin');
    assert.equal((await ovs.vsctl('get-controller', bridge)).trim(), 'tcp:127.0.0.1:16653');
    assert.equal(await new VSwitch(client, config).ensureBridge(), false, 'a second run changes nothing');
    assert.equal(await new VSwitch(client, { ...config, controllers: [] }).ensureBridge(), true);
    assert.equal((await ovs.vsctl('get-controller', bridge)).trim(), '');
  });

  test('ports of every kind, with stable ofports read back from ovs-vswitchd', async () => {
    const vs = new VSwitch(client, config);
    const ofports = await vs.addPorts([
      { name: 'ctsi1', kind: 'internal', ofportRequest: 10 },
      { name: 'ctsvx1', kind: 'vxlan', remoteIp: '192.168.50.2', key: 'flow', ofportRequest: 100 },
      { name: 'ctsd1', kind: 'dummy', ofportRequest: 11, tag: 100 },
      { name: 'ctsup1', kind: 'dummy', trunks: [100, 200] },
    ]);
    assert.equal(ofports.get('ctsi1'), 10);
    assert.equal(ofports.get('ctsvx1'), 100);
    assert.equal(ofports.get('ctsd1'), 11);
    assert.ok((ofports.get('ctsup1') ?? 0) > 0);
    assert.equal(await get('interface', 'ctsvx1', 'type'), 'vxlan');
    assert.equal(await get('interface', 'ctsvx1', 'options:remote_ip'), '192.168.50.2');
    assert.equal(await get('interface', 'ctsvx1', 'options:key'), 'flow');
    assert.equal(await get('interface', 'ctsi1', 'ofport'), '10');
    assert.equal(await get('port', 'ctsd1', 'tag'), '100');
    assert.equal(await get('port', 'ctsup1', 'trunks'), '[100, 200]');
    assert.equal(await get('port', 'ctsi1', `external_ids:${OWNER_KEY}`), 'netplugin');
    // Same again: nothing to do, same numbers.
    const again = await vs.addPorts([{ name: 'ctsi1', kind: 'internal', ofportRequest: 10 }]);
    assert.equal(again.get('ctsi1'), 10);
    // A changed spec is applied to the existing port.
    await vs.addPort({
      name: 'ctsvx1',
      kind: 'vxlan',
      remoteIp: '192.168.50.3',
      key: 'flow',
      ofportRequest: 100,
    });
    assert.equal(await get('interface', 'ctsvx1', 'options:remote_ip'), '192.168.50.3');
  });

  test('bad requests are refused with the field named, and nothing changes', async () => {
    const vs = new VSwitch(client, config);
    const before = await ovs.vsctl('list-ports', bridge);
    await assert.rejects(vs.addPort({ name: 'way-too-long-port-name', kind: 'internal' }), VSwitchError);
    await assert.rejects(
      vs.addPorts([
        { name: 'ctsok1', kind: 'internal' },
        { name: 'ctsvx9', kind: 'vxlan' },
      ]),
      /ctsvx9: a vxlan port needs remoteIp/,
    );
    await assert.rejects(
      vs.addPort({ name: 'ctsbad', kind: 'internal', ofportRequest: 70000 }),
      /ofportRequest 70000/,
    );
    await assert.rejects(vs.addPort({ name: 'ctsbad', kind: 'internal', tag: 5000 }), /tag 5000/);
    assert.equal(await ovs.vsctl('list-ports', bridge), before);
  });

  test("a restart adopts what is ours, removes our stale ports and never the user's", async () => {
    await ovs.vsctl('add-port', bridge, 'userport', '--', 'set', 'interface', 'userport', 'type=internal');
    // The configuration the last test left: no controllers.
    const restarted = new VSwitch(client, { ...config, controllers: [] });
    assert.equal(await restarted.ensureBridge(), false);
    const changes = await restarted.adopt([
      { name: 'ctsi1', kind: 'internal', ofportRequest: 10 },
      { name: 'ctsnew', kind: 'internal' },
    ]);
    assert.deepEqual(changes.added, ['ctsnew']);
    assert.deepEqual([...changes.removed].sort(), ['ctsd1', 'ctsup1', 'ctsvx1']);
    const ports = (await ovs.vsctl('list-ports', bridge)).split('\n').filter(Boolean).sort();
    assert.deepEqual(ports, ['ctsi1', 'ctsnew', 'userport']);
    await assert.rejects(restarted.removePorts(['userport']), /userport is not ours/);
    await assert.rejects(
      restarted.addPort({ name: 'userport', kind: 'internal' }),
      /userport exists and is not ours/,
    );
    assert.match(await ovs.vsctl('list-ports', bridge), /userport/);
    const userBridge = new VSwitch(client, { ...config, name: 'userbr' });
    await ovs.vsctl('add-br', 'userbr', '--', 'set', 'bridge', 'userbr', 'datapath_type=dummy');
    await assert.rejects(userBridge.ensureBridge(), /userbr exists and is not ours/);
    await assert.rejects(userBridge.removeBridge(), /userbr is not ours/);
  });

  test('relabelPort gives a spare port new external_ids with its ofport in one step; anything else is refused', async () => {
    const vs = new VSwitch(client, config);
    const ofport = await vs.addPort({
      name: 'ctsspare',
      kind: 'dummy',
      externalIds: { 'contiv-role': 'spare' },
    });
    const spare = { 'contiv-role': 'spare' };
    assert.equal(await vs.relabelPort('ctsspare', spare, { 'contiv-endpoint': 'e1' }), ofport);
    assert.equal(await get('interface', 'ctsspare', 'external_ids:contiv-endpoint'), 'e1');
    assert.equal(await get('port', 'ctsspare', 'external_ids:contiv-endpoint'), 'e1');
    assert.equal(await get('port', 'ctsspare', `external_ids:${OWNER_KEY}`), 'netplugin');
    // No longer a spare, someone else's, or missing: refused, nothing changed.
    await assert.rejects(
      vs.relabelPort('ctsspare', spare, { 'contiv-endpoint': 'e2' }),
      /ctsspare: no port of ours/,
    );
    assert.equal(await get('interface', 'ctsspare', 'external_ids:contiv-endpoint'), 'e1');
    await assert.rejects(vs.relabelPort('userport', {}, { x: 'y' }), /userport: no port of ours/);
    await assert.rejects(vs.relabelPort('ctsnothere', spare, {}), /ctsnothere: no port of ours/);
    await assert.rejects(vs.relabelPort('way-too-long-port-name', spare, {}), VSwitchError);
    // Removal without waiting for ovs-vswitchd: OVSDB no longer has it when the call returns.
    await vs.removePorts(['ctsspare'], { applied: false });
    assert.doesNotMatch(await ovs.vsctl('list-ports', bridge), /ctsspare/);
  });

  test('removeBridge removes our bridge and its ports', async () => {
    const vs = new VSwitch(client, config);
    await vs.removeBridge();
    assert.doesNotMatch(await ovs.vsctl('list-br'), new RegExp(`^${bridge}$`, 'm'));
    assert.equal((await ovs.vsctl('--if-exists', 'get', 'interface', 'ctsi1', 'name')).trim(), '');
  });
});
