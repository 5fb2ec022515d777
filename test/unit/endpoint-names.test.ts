// The names an endpoint is in DNS under, as Contiv's netplugin answered them: the container's (or
// pod's) name, bare, in its tenant only; a Docker container's name learned after Join has answered,
// written into the record through netmaster, and never into a record that is gone.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { selectTarget } from '../../api/cni/select.js';
import { type ContainerRef, type Links, NetworkDriver } from '../../api/docker/network-driver.js';
import type { HostAttach } from '../../api/docker/ports.js';
import { GENERIC_OPTIONS } from '../../api/docker/protocol.js';
import { buildServer } from '../../api/rest/server.js';
import { NameRegistry } from '../../dns/registry.js';
import { type EndpointRecord, endpointKey } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { FakeNetmaster, FakeTargets } from '../harness/docker-fakes.js';

function record(id: string, over: Partial<EndpointRecord>): EndpointRecord {
  return {
    endpointID: id,
    tenant: 'default',
    network: 'net',
    endpointGroup: '',
    endpointGroupId: 0,
    ipAddress: '10.1.1.2',
    ipv6Address: '',
    macAddress: '02:02:0a:01:01:02',
    homingHost: 'h1',
    intfName: '',
    containerID: '',
    containerName: '',
    labels: {},
    ...over,
  };
}

describe('endpoint name forms', () => {
  test("a container's name resolves bare, Docker's /name form without the slash, in its tenant only", () => {
    const r = new NameRegistry();
    r.put(endpointKey('e1'), JSON.stringify(record('e1', { containerName: 'Web1' })));
    r.put(endpointKey('e2'), JSON.stringify(record('e2', { containerName: '/db1', ipAddress: '10.1.1.3' })));
    assert.deepEqual(r.lookup('default', 'web1'), { v4: ['10.1.1.2'], v6: [] });
    assert.deepEqual(r.lookup('default', 'db1.'), { v4: ['10.1.1.3'], v6: [] });
    assert.equal(r.lookup('default', '/db1'), undefined);
    // Contiv answered container names bare only: name.network is in the zone, and unknown.
    assert.equal(r.lookup('default', 'web1.net'), 'nxdomain');
    assert.equal(r.lookup('blue', 'web1'), undefined);
    assert.deepEqual(r.lookupPtr('default', '2.1.1.10.in-addr.arpa'), ['web1']);
    r.delete(endpointKey('e1'));
    assert.equal(r.lookup('default', 'web1'), undefined);
  });

  test('a CNI pod is named by K8S_POD_NAME, and resolves under it', () => {
    const sel = selectTarget(
      { cniVersion: '0.4.0', name: 'contiv', type: 'contiv', network: 'net' } as never,
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc',
    );
    assert.equal(sel.podName, 'web-0');
    const r = new NameRegistry();
    r.put(endpointKey('abc-eth0'), JSON.stringify(record('abc-eth0', { containerName: sel.podName })));
    assert.deepEqual(r.lookup('default', 'web-0'), { v4: ['10.1.1.2'], v6: [] });
  });
});

const noLinks: Links = {
  async createVeth() {},
  async createVeths() {},
  async deleteLink() {},
  async ownedVeths() {
    return [];
  },
};
const noHost: HostAttach = {
  async attachEndpoint() {
    return 5;
  },
  async detachEndpoint() {},
};

async function driverNaming(containerOf: (net: string, ep: string) => Promise<ContainerRef | undefined>) {
  const targets = new FakeTargets();
  targets.add({ network: 'n', subnet: '10.1.1.0/24' });
  const netmaster = new FakeNetmaster(targets);
  const driver = new NetworkDriver({
    targets,
    netmaster,
    host: noHost,
    hostName: 'h1',
    pluginName: 'np',
    links: noLinks,
    containerOf,
  });
  await driver.createNetwork({
    NetworkID: 'N1',
    Options: { [GENERIC_OPTIONS]: { network: 'n' } },
    IPv4Data: [{ Pool: '10.1.1.0/24' }],
  });
  await netmaster.allocAddress({ tenant: 'default', network: 'n', group: '', preferred: '10.1.1.5' });
  await driver.createEndpoint({ NetworkID: 'N1', EndpointID: 'ep1', Interface: { Address: '10.1.1.5/24' } });
  return { driver, netmaster };
}

describe("NetworkDriver: a Docker container's name", () => {
  test('is asked for after Join has answered, and written into the record once the engine lists it', async () => {
    let asked = 0;
    let listed = false;
    const { driver, netmaster } = await driverNaming(async (net, ep) => {
      asked++;
      assert.deepEqual([net, ep], ['N1', 'ep1']);
      return listed ? { id: 'c0ffee', name: '/web1', labels: { app: 'web' } } : undefined;
    });
    await driver.join({ NetworkID: 'N1', EndpointID: 'ep1', SandboxKey: '/x' });
    assert.equal(asked, 0, 'Join answered before any engine call');
    for (let i = 0; i < 100 && asked === 0; i++) await sleep(10);
    assert.ok(asked >= 1);
    assert.equal(netmaster.endpoints.get('ep1')?.containerName, '');
    listed = true;
    for (let i = 0; i < 100 && netmaster.endpoints.get('ep1')?.containerName === ''; i++) await sleep(10);
    assert.equal(netmaster.endpoints.get('ep1')?.containerName, 'web1');
    assert.equal(netmaster.endpoints.get('ep1')?.containerID, 'c0ffee');
    assert.deepEqual(netmaster.endpoints.get('ep1')?.labels, { app: 'web' }, "the container's labels too");
    await driver.close();
  });

  test('is not written once the endpoint has left', async () => {
    const { driver, netmaster } = await driverNaming(async () => ({ id: 'c1', name: 'gone' }));
    await driver.join({ NetworkID: 'N1', EndpointID: 'ep1', SandboxKey: '/x' });
    await driver.leave({ NetworkID: 'N1', EndpointID: 'ep1' });
    await driver.close();
    assert.equal(netmaster.calls.includes('nameEndpoint'), false);
  });
});

describe('netmaster /plugin/nameEndpoint', () => {
  test('names an existing record and leaves a missing one missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'epname-'));
    const store = await EmbeddedStore.open(dir);
    const api = buildServer({ store });
    try {
      await store.put(endpointKey('e1'), JSON.stringify(record('e1', {})));
      const post = (body: object) =>
        api.inject({ method: 'POST', url: '/plugin/nameEndpoint', payload: body });
      const r = await post({ endpointID: 'e1', containerID: 'c1', containerName: 'web1' });
      assert.equal(r.statusCode, 200, r.body);
      const rec = JSON.parse((await store.get(endpointKey('e1')))?.value ?? '{}') as EndpointRecord;
      assert.equal(rec.containerName, 'web1');
      assert.equal(rec.containerID, 'c1');
      assert.equal(rec.ipAddress, '10.1.1.2');
      assert.equal((await post({ endpointID: 'nope', containerName: 'x' })).statusCode, 200);
      assert.equal(await store.get(endpointKey('nope')), undefined);
      assert.equal((await post({ endpointID: 'e1' })).statusCode, 400);
      // The container's labels (serviceLB selectors match them) come with its name.
      const labelled = await post({ endpointID: 'e1', containerName: 'web1', labels: { app: 'web', n: 1 } });
      assert.equal(labelled.statusCode, 200, labelled.body);
      const withLabels = JSON.parse((await store.get(endpointKey('e1')))?.value ?? '{}') as EndpointRecord;
      assert.deepEqual(withLabels.labels, { app: 'web', n: '1' });
      const bad = await post({ endpointID: 'e1', containerName: 'web1', labels: ['app=web'] });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.body, /labels/);
    } finally {
      await api.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
