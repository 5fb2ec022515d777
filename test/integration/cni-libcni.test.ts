// The CNI plugin through libcni itself (Debian's golang-github-appc-cni-dev, a small helper built
// here offline): VERSION negotiation, ADD of a conflist with pod labels in CNI_ARGS, CHECK with the
// cached previous result, DEL, DEL again, and CHECK failing once the pod's interface is gone.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ENDPOINT_PREFIX, type EndpointRecord } from '../../policy/model/endpoint.js';
import { macOf } from '../harness/agent.js';
import { runCleanups } from '../harness/cleanup.js';
import { CNI_TYPE, type CniLab, startCniLab } from '../harness/cni.js';
import { addNamespace, type Namespace } from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { CommandError, run } from '../harness/run.js';

const LIBCNI = '/usr/share/gocode/src/github.com/containernetworking/cni/libcni';
const missing = [
  ...missingFor(...LAB_COMMANDS, 'go'),
  ...(existsSync(LIBCNI) ? [] : ['golang-github-appc-cni-dev']),
];
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;
/** The helper's source, from dist/test/integration back to the checkout. */
const HELPER_SRC = resolve(fileURLToPath(import.meta.url), '../../../../test/harness/cni-helper');

describe('CNI through libcni', { skip }, () => {
  let c: CniLab;
  let pod: Namespace;
  let helper: string;
  let conflist: string;
  let env: Record<string, string>;
  const id = '1'.repeat(64);

  const call = (op: string, args = '') =>
    run(helper, [op, conflist, id, `/var/run/netns/${pod.name}`, 'eth0'], {
      env: { ...env, CNI_ARGS: args },
      timeoutMs: 60_000,
    });

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    c = await startCniLab();
    await c.lab.rest('POST', '/api/v1/networks/default:n1/', {
      tenantName: 'default',
      networkName: 'n1',
      encap: 'vxlan',
      subnet: '20.4.1.0/24',
      gateway: '20.4.1.254',
    });
    await c.lab.rest('POST', '/api/v1/endpointGroups/default:db/', {
      tenantName: 'default',
      groupName: 'db',
      networkName: 'n1',
    });
    helper = join(c.dir, 'cni-helper');
    // GOPATH mode finds libcni where Debian installs it; no network needed.
    await run('go', ['build', '-o', helper, join(HELPER_SRC, 'main.go')], {
      env: { GOPATH: '/usr/share/gocode', GO111MODULE: 'off' },
      timeoutMs: 180_000,
    });
    conflist = join(c.dir, 'contiv.conflist');
    await writeFile(
      conflist,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'contiv-libcni',
        plugins: [{ type: CNI_TYPE, network: 'n1', socket: c.socket }],
      }),
    );
    const cache = join(c.dir, 'cache');
    await mkdir(cache);
    env = { CNI_PATH: c.binDir, CNI_CACHE_DIR: cache };
    pod = await addNamespace();
  });
  after(runCleanups);

  test('VERSION through libcni', async () => {
    const out = await call('version');
    assert.deepEqual(JSON.parse(out), ['0.3.0', '0.3.1', '0.4.0', '1.0.0']);
  });

  test('ADD with pod labels in CNI_ARGS, CHECK, DEL, DEL again, CHECK after DEL fails', async () => {
    const out = await call('add', 'IgnoreUnknown=1;K8S_POD_NAME=db-0;io.contiv.net-group=db');
    const res = JSON.parse(out) as { cniVersion: string; ips: { address: string; gateway: string }[] };
    assert.equal(res.cniVersion, '1.0.0');
    const ip = res.ips[0]?.address.split('/')[0] ?? '';
    assert.equal(res.ips[0]?.gateway, '20.4.1.254');
    const link = await pod.exec('ip', ['-o', 'link', 'show', 'eth0']);
    assert.match(link, new RegExp(macOf(ip)));
    const recs = (await c.lab.store.list(ENDPOINT_PREFIX)).map(
      (kv) => JSON.parse(kv.value) as EndpointRecord,
    );
    assert.deepEqual(
      recs.map((r) => [r.endpointID, r.endpointGroup, r.containerName]),
      [[`${id}-eth0`, 'db', 'db-0']],
    );

    await call('check', 'IgnoreUnknown=1;K8S_POD_NAME=db-0;io.contiv.net-group=db');
    await call('del', 'IgnoreUnknown=1;K8S_POD_NAME=db-0;io.contiv.net-group=db');
    assert.deepEqual(await c.lab.store.list(ENDPOINT_PREFIX), []);
    await call('del');
    const err = await call('check').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof CommandError, 'CHECK after DEL must fail');
    assert.match(err.stderr, /netmaster has no record/);
  });
});
