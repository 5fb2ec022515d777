// The CNI plugin driven directly, as a runtime would: the contiv-cni executable with CNI_* env and
// the config on stdin, on namespaces made here, netplugin's CNI socket and a real netmaster REST.
// ADD answers a spec 1.0.0 result and the pod has our address and MAC and reaches another pod;
// CHECK passes, then fails once the pod's address is gone; DEL frees everything, twice is fine,
// and after a netplugin restart too; a pod gone without DEL is reconciled when netplugin starts;
// VERSION; a 0.4.0 config gets a 0.4.0 result.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cniHostIf } from '../../api/cni/handler.js';
import { addrPrefix } from '../../policy/ipam/allocator.js';
import { type EndpointRecord, endpointKey } from '../../policy/model/endpoint.js';
import { macOf } from '../harness/agent.js';
import { runCleanups } from '../harness/cleanup.js';
import { type CniLab, ERR_CHECK_FAILED, runCni, startCniLab } from '../harness/cni.js';
import { addNamespace, type Namespace } from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { run } from '../harness/run.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const path = (ns: Namespace) => `/var/run/netns/${ns.name}`;

interface IfState {
  address: string;
  mtu: number;
  addr_info: { family: string; local: string; prefixlen: number }[];
}

async function eth0(ns: Namespace): Promise<IfState | undefined> {
  const out = await ns.exec('ip', ['-j', 'addr', 'show', 'dev', 'eth0']).catch(() => '[]');
  return (JSON.parse(out) as IfState[])[0];
}

async function pings(from: Namespace, ip: string): Promise<boolean> {
  // The agent compiles the new endpoints' flows from the store's watch: give it a moment.
  for (let i = 0; i < 10; i++) {
    const ok = await from.exec('ping', ['-c', '1', '-W', '1', ip]).then(
      () => true,
      () => false,
    );
    if (ok) return true;
  }
  return false;
}

async function hostLinkExists(name: string): Promise<boolean> {
  return run('ip', ['link', 'show', 'dev', name]).then(
    () => true,
    () => false,
  );
}

describe('CNI plugin executable', { skip }, () => {
  let c: CniLab;
  let podA: Namespace;
  let podB: Namespace;
  const idA = 'a'.repeat(64);
  const idB = 'b'.repeat(64);

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    c = await startCniLab();
    await c.lab.rest('POST', '/api/v1/networks/default:n1/', {
      tenantName: 'default',
      networkName: 'n1',
      encap: 'vxlan',
      subnet: '20.1.1.0/24',
      gateway: '20.1.1.254',
    });
    await c.lab.rest('POST', '/api/v1/endpointGroups/default:web/', {
      tenantName: 'default',
      groupName: 'web',
      networkName: 'n1',
    });
    podA = await addNamespace();
    podB = await addNamespace();
  });
  after(runCleanups);

  test('VERSION lists the supported versions', async () => {
    const r = await runCni(c.binDir, { command: 'VERSION' }, { cniVersion: '1.0.0' });
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(r.json, {
      cniVersion: '1.0.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'],
    });
  });

  test('ADD by the config: a 1.0.0 result, our address, MAC and MTU in the pod', async () => {
    const r = await runCni(
      c.binDir,
      { command: 'ADD', containerID: idA, netns: path(podA), ifName: 'eth0', args: 'K8S_POD_NAME=pod-a' },
      c.conf({ network: 'n1', group: 'web' }),
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const res = r.json as {
      cniVersion: string;
      interfaces: { name: string; mac?: string; sandbox?: string }[];
      ips: { address: string; gateway?: string; interface?: number; version?: string }[];
      routes: { dst: string; gw?: string }[];
    };
    assert.equal(res.cniVersion, '1.0.0');
    const ip = res.ips[0].address.split('/')[0]!;
    assert.match(res.ips[0]!.address, /^20\.1\.1\.\d+\/24$/);
    assert.equal(res.ips[0]!.gateway, '20.1.1.254');
    assert.equal(res.ips[0]!.version, undefined, '1.0.0 results carry no ip version');
    assert.deepEqual(res.interfaces[res.ips[0].interface!], {
      name: 'eth0',
      mac: macOf(ip),
      sandbox: path(podA),
    });
    assert.deepEqual(res.routes, [{ dst: '0.0.0.0/0', gw: '20.1.1.254' }]);

    const link = await eth0(podA);
    assert.ok(link, 'eth0 in the pod');
    assert.equal(link.address, macOf(ip));
    assert.equal(link.mtu, 1450);
    assert.ok(link.addr_info.some((a) => a.family === 'inet' && a.local === ip && a.prefixlen === 24));
    const rec = JSON.parse((await c.lab.store.get(endpointKey(`${idA}-eth0`)))!.value) as EndpointRecord;
    assert.equal(rec.endpointGroup, 'web');
    assert.equal(rec.ipAddress, ip);
    assert.equal(rec.homingHost, c.lab.cfg.host);
    assert.equal(rec.containerName, 'pod-a');
    assert.equal(rec.intfName, cniHostIf(`${idA}-eth0`));
  });

  test('ADD by pod labels in CNI_ARGS; the two pods reach each other', async () => {
    const r = await runCni(
      c.binDir,
      {
        command: 'ADD',
        containerID: idB,
        netns: path(podB),
        ifName: 'eth0',
        args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-b;io.contiv.network=n1;io.contiv.net-group=web;app=b',
      },
      c.conf(),
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const ipB = (r.json as { ips: { address: string }[] }).ips[0].address.split('/')[0]!;
    const rec = JSON.parse((await c.lab.store.get(endpointKey(`${idB}-eth0`)))!.value) as EndpointRecord;
    assert.equal(rec.endpointGroup, 'web');
    assert.equal(rec.labels.app, 'b');
    assert.equal(rec.labels['io.contiv.net-group'], 'web');
    assert.ok(await pings(podA, ipB), `pod A cannot ping pod B at ${ipB}`);
  });

  test('CHECK passes on a healthy pod and fails once its address is gone', async () => {
    const call = { command: 'CHECK' as const, containerID: idB, netns: path(podB), ifName: 'eth0' };
    const ok = await runCni(c.binDir, call, c.conf());
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(ok.stdout.trim(), '');
    const ip = (await eth0(podB))?.addr_info.find((a) => a.family === 'inet');
    assert.ok(ip, 'pod B has an address');
    await podB.exec('ip', ['addr', 'del', `${ip.local}/${ip.prefixlen}`, 'dev', 'eth0']);
    const bad = await runCni(c.binDir, call, c.conf());
    assert.equal(bad.code, 1);
    assert.equal(bad.json?.code, ERR_CHECK_FAILED);
    assert.match(String(bad.json?.msg), new RegExp(`lacks ${ip.local.replace(/\./g, '\\.')}`));
  });

  test('DEL frees the record, the address, the veth and the port; DEL again is fine', async () => {
    const id = `${idA}-eth0`;
    const hostIf = cniHostIf(id);
    const rec = JSON.parse((await c.lab.store.get(endpointKey(id)))!.value) as EndpointRecord;
    assert.ok(await hostLinkExists(hostIf));
    const del = { command: 'DEL' as const, containerID: idA, netns: path(podA), ifName: 'eth0' };
    const r = await runCni(c.binDir, del, c.conf({ network: 'n1', group: 'web' }));
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.stdout.trim(), '');
    assert.equal(await c.lab.store.get(endpointKey(id)), undefined);
    assert.equal(await c.lab.store.get(`${addrPrefix('default:n1')}${rec.ipAddress}`), undefined);
    assert.equal(await hostLinkExists(hostIf), false);
    assert.equal(await eth0(podA), undefined);
    assert.equal(c.lab.plugin.agent.hostFacts.endpointPorts.has(id), false);
    const again = await runCni(c.binDir, del, c.conf({ network: 'n1', group: 'web' }));
    assert.equal(again.code, 0, again.stdout);
    // A DEL of something never added, without a namespace (it is gone): fine as well.
    const never = await runCni(
      c.binDir,
      { command: 'DEL', containerID: 'c'.repeat(64), ifName: 'eth0' },
      c.conf(),
    );
    assert.equal(never.code, 0, never.stdout);
  });

  test('after a netplugin restart CHECK still passes and DEL still frees everything', async () => {
    const pod = await addNamespace();
    const call = { containerID: 'd'.repeat(64), netns: path(pod), ifName: 'net1' };
    const conf = c.conf({ network: 'n1', group: 'web' });
    const r = await runCni(c.binDir, { command: 'ADD', ...call }, conf);
    assert.equal(r.code, 0, r.stdout);
    await c.lab.restartAgent();
    const check = await runCni(c.binDir, { command: 'CHECK', ...call }, conf);
    assert.equal(check.code, 0, check.stdout);
    const id = `${call.containerID}-net1`;
    assert.equal((await runCni(c.binDir, { command: 'DEL', ...call }, conf)).code, 0);
    assert.equal(await c.lab.store.get(endpointKey(id)), undefined);
    assert.equal(await hostLinkExists(cniHostIf(id)), false);
    assert.equal(c.lab.plugin.agent.hostFacts.endpointPorts.has(id), false);
  });

  test('a pod gone without DEL is cleaned up when netplugin serves CNI again', async () => {
    const pod = await addNamespace();
    const call = { containerID: '9'.repeat(64), netns: path(pod), ifName: 'eth0' };
    const r = await runCni(c.binDir, { command: 'ADD', ...call }, c.conf({ network: 'n1' }));
    assert.equal(r.code, 0, r.stdout);
    const id = `${call.containerID}-eth0`;
    const rec = JSON.parse((await c.lab.store.get(endpointKey(id)))!.value) as EndpointRecord;
    // The namespace goes, taking the veth pair with it (the kernel finishes that a moment later,
    // in its own time); no DEL comes.
    await pod.destroy();
    for (const deadline = Date.now() + 5000; await hostLinkExists(cniHostIf(id)); ) {
      assert.ok(Date.now() < deadline, 'the veth outlived its namespace by 5 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    await c.serveWith(c.url);
    assert.equal(await c.lab.store.get(endpointKey(id)), undefined);
    assert.equal(await c.lab.store.get(`${addrPrefix('default:n1')}${rec.ipAddress}`), undefined);
    assert.equal(c.lab.plugin.agent.hostFacts.endpointPorts.has(id), false);
    // The others are left alone.
    assert.ok(await c.lab.store.get(endpointKey(`${idB}-eth0`)));
  });

  test('a 0.4.0 config gets a 0.4.0 result (ips carry their version)', async () => {
    const call = { containerID: idA, netns: path(podA), ifName: 'eth0' };
    const conf = c.conf({ cniVersion: '0.4.0', network: 'n1' });
    const r = await runCni(c.binDir, { command: 'ADD', ...call }, conf);
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.json?.cniVersion, '0.4.0');
    assert.equal((r.json as { ips: { version: string }[] }).ips[0]!.version, '4');
    const rec = JSON.parse((await c.lab.store.get(endpointKey(`${idA}-eth0`)))!.value) as EndpointRecord;
    assert.equal(rec.endpointGroup, '');
    assert.equal(
      (await runCni(c.binDir, { command: 'CHECK', ...call }, { ...conf, prevResult: r.json })).code,
      0,
    );
    assert.equal((await runCni(c.binDir, { command: 'DEL', ...call }, conf)).code, 0);
    assert.equal(
      (await runCni(c.binDir, { command: 'DEL', containerID: idB, ifName: 'eth0' }, conf)).code,
      0,
    );
    assert.deepEqual(await c.lab.store.list(addrPrefix('default:n1')), []);
  });
});
