// netplugin as a real process in kubernetes mode serves the CNI socket (here --cni-socket in a temp
// dir): the contiv-cni executable adds two pods through it, they ping each other, DEL frees them,
// and SIGTERM closes the socket.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { runCni, writeCniBin } from '../harness/cni.js';
import { tempDirPrefix } from '../harness/names.js';
import { startNetmaster } from '../harness/netmaster.js';
import { addNamespace } from '../harness/netns.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('netplugin serves CNI', { skip }, () => {
  let ovs: OvsInstance;
  let dir: string;

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    ovs = await startOvs();
    dir = await mkdtemp(tempDirPrefix('cnp'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
  });
  after(runCleanups);

  test('kubernetes mode: ADD through the process, pods ping, DEL, SIGTERM closes the socket', async () => {
    const socket = join(dir, 'cni.sock');
    const np = await startNetmaster(
      [
        ...['--role', 'netmaster', '--data-dir', join(dir, 'data'), '--ovs-rundir', ovs.dir],
        ...['--datapath', 'dummy', '--host', 'k1', '--vtep-ip', '127.0.0.1'],
        ...['--plugin-mode', 'kubernetes', '--cni-socket', socket],
      ],
      'netplugin',
    );
    const post = async (path: string, body: object) => {
      const res = await fetch(`${np.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.ok(res.ok, `${path}: ${res.status} ${await res.text()}`);
    };
    await post('/api/v1/networks/default:n1/', {
      tenantName: 'default',
      networkName: 'n1',
      encap: 'vxlan',
      subnet: '20.5.1.0/24',
    });
    await post('/api/v1/endpointGroups/default:web/', {
      tenantName: 'default',
      groupName: 'web',
      networkName: 'n1',
    });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(100);
    assert.ok(existsSync(socket), 'netplugin made its CNI socket');

    const binDir = join(dir, 'bin');
    await writeCniBin(binDir);
    const conf = { cniVersion: '1.0.0', name: 'k', type: 'contiv-cni', network: 'n1', group: 'web', socket };
    const pods = [await addNamespace(), await addNamespace()];
    const ips: string[] = [];
    for (const [i, pod] of pods.entries()) {
      const r = await runCni(
        binDir,
        { command: 'ADD', containerID: `pod${i}`, netns: `/var/run/netns/${pod.name}`, ifName: 'eth0' },
        conf,
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      ips.push(((r.json as { ips: { address: string }[] }).ips[0]?.address ?? '').split('/')[0] ?? '');
    }
    let ok = false;
    for (let i = 0; i < 10 && !ok; i++)
      ok = await pods[0]!.exec('ping', ['-c', '1', '-W', '1', ips[1]!]).then(
        () => true,
        () => false,
      );
    assert.ok(ok, `pod0 cannot ping pod1 at ${ips[1]}`);
    for (let i = 0; i < pods.length; i++) {
      const r = await runCni(binDir, { command: 'DEL', containerID: `pod${i}`, ifName: 'eth0' }, conf);
      assert.equal(r.code, 0, r.stdout);
    }
    const eps = (await (await fetch(`${np.url}/plugin/endpoints?host=k1`)).json()) as unknown[];
    assert.deepEqual(eps, []);
    np.p.kill('SIGTERM');
    assert.equal(await new Promise((resolve) => np.p.once('exit', resolve)), 0);
    assert.equal(existsSync(socket), false, 'the socket is gone with netplugin');
  });
});
