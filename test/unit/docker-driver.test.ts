// The Docker drivers' logic without Docker: names, selectors and pool ids, the IPAM answers, and the
// NetworkDriver's undo on every failing step of Join, with fake netmaster, intent, links and datapath.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { DockerEngine } from '../../api/docker/engine.js';
import { IpamDriver } from '../../api/docker/ipam-driver.js';
import {
  hostIfName,
  type Links,
  NetworkDriver,
  peerIfName,
  VXLAN_MTU,
} from '../../api/docker/network-driver.js';
import { FreedAddresses, type HostAttach, type SparePorts } from '../../api/docker/ports.js';
import { GENERIC_OPTIONS, PluginError } from '../../api/docker/protocol.js';
import { reconcileEndpoints } from '../../api/docker/reconcile.js';
import {
  dockerNetworkName,
  parsePoolId,
  poolIdOf,
  StoreTargetResolver,
  selectorFrom,
} from '../../api/docker/target.js';
import { VethPool } from '../../api/docker/veth-pool.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { FakeNetmaster, FakeTargets } from '../harness/docker-fakes.js';

describe('names, selectors, pool ids', () => {
  test('Docker names of Contiv objects: NET, GROUP.NET, /TENANT outside default', () => {
    assert.equal(dockerNetworkName('default', 'contiv-net'), 'contiv-net');
    assert.equal(dockerNetworkName('default', 'contiv-net', 'web'), 'web.contiv-net');
    assert.equal(dockerNetworkName('blue', 'contiv-net'), 'contiv-net/blue');
    assert.equal(dockerNetworkName('blue', 'contiv-net', 'db'), 'db.contiv-net/blue');
  });

  test('options select a Contiv object or a tag; contradictions are refused', () => {
    assert.equal(selectorFrom(undefined), undefined);
    assert.equal(selectorFrom({ foo: 'bar' }), undefined);
    assert.deepEqual(selectorFrom({ network: 'n' }), { tenant: 'default', network: 'n', group: '' });
    assert.deepEqual(selectorFrom({ tenant: 'blue', network: 'n', group: 'g' }), {
      tenant: 'blue',
      network: 'n',
      group: 'g',
    });
    assert.deepEqual(selectorFrom({ 'contiv-tag': 'T' }), { tag: 'T' });
    assert.throws(() => selectorFrom({ 'contiv-tag': 'T', network: 'n' }), PluginError);
    assert.throws(() => selectorFrom({ group: 'g' }), /needs network/);
  });

  test('pool ids carry the target and come back from anything the driver gave out', () => {
    const t = { tenant: 'blue', network: 'net/with:odd', group: '' };
    assert.deepEqual(parsePoolId(poolIdOf(t)), t);
    assert.throws(() => parsePoolId('10.0.0.0/24'), /not one this IPAM driver gave out/);
  });

  test('the store resolver finds networks, groups and tags as netmaster wrote them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'docker-unit-'));
    const store = await EmbeddedStore.open(dir);
    try {
      const put = (k: string, v: object) => store.put(`/contiv.io/config/${k}`, JSON.stringify(v));
      await put('network/default:contiv-net', {
        tenantName: 'default',
        networkName: 'contiv-net',
        subnet: '10.1.1.0/24',
        gateway: '10.1.1.254',
        encap: 'vxlan',
      });
      await put('network/default:vl', {
        tenantName: 'default',
        networkName: 'vl',
        subnet: '10.2.0.0/16',
        encap: 'vlan',
        cfgdTag: 'nettag',
      });
      await put('endpointGroup/default:web', {
        tenantName: 'default',
        groupName: 'web',
        networkName: 'contiv-net',
        ipPool: '10.1.1.10-10.1.1.20',
        cfgdTag: 'webtag',
      });
      const r = new StoreTargetResolver(store);
      assert.deepEqual(await r.resolve({ tag: 'webtag' }), {
        tenant: 'default',
        network: 'contiv-net',
        group: 'web',
        subnet: '10.1.1.0/24',
        gateway: '10.1.1.254',
        ipPool: '10.1.1.10-10.1.1.20',
        encap: 'vxlan',
      });
      const vl = await r.resolve({ tag: 'nettag' });
      assert.equal(vl.network, 'vl');
      assert.equal(vl.encap, 'vlan');
      assert.equal(vl.group, '');
      await assert.rejects(r.resolve({ tag: 'none' }), /no Contiv group or network has contiv-tag "none"/);
      await assert.rejects(
        r.resolve({ tenant: 'default', network: 'vl', group: 'web' }),
        /belongs to network contiv-net/,
      );
      await assert.rejects(
        r.resolve({ tenant: 'blue', network: 'contiv-net', group: '' }),
        /no such network/,
      );
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function setup() {
  const targets = new FakeTargets();
  targets.add({ network: 'n', subnet: '10.1.1.0/24', gateway: '10.1.1.254' });
  targets.add({ network: 'nogw', subnet: '10.2.0.0/24' });
  targets.add({ network: 'ranged', subnet: '10.3.0.10-10.3.0.20/24', gateway: '10.3.0.1', encap: 'vlan' });
  const netmaster = new FakeNetmaster(targets);
  return { targets, netmaster, ipam: new IpamDriver({ targets, netmaster, pluginName: 'np' }) };
}

describe('IpamDriver', () => {
  test('RequestPool: the Contiv subnet under a pool id naming the target; clear refusals', async () => {
    const { ipam } = setup();
    const p = await ipam.requestPool({ AddressSpace: 'contiv-local', Options: { network: 'ranged' } });
    assert.equal(p.Pool, '10.3.0.0/24');
    assert.deepEqual(parsePoolId(p.PoolID), { tenant: 'default', network: 'ranged', group: '' });
    await assert.rejects(ipam.requestPool({ AddressSpace: 'x', Options: {} }), /--ipam-opt contiv-tag=T/);
    await assert.rejects(
      ipam.requestPool({ AddressSpace: 'x', V6: true, Options: { network: 'n' } }),
      /IPv6/,
    );
    await assert.rejects(
      ipam.requestPool({ AddressSpace: 'x', Pool: '10.9.0.0/24', Options: { network: 'n' } }),
      /has subnet 10\.1\.1\.0\/24, not 10\.9\.0\.0\/24/,
    );
    await assert.rejects(
      ipam.requestPool({ AddressSpace: 'x', SubPool: '10.1.1.0/28', Options: { network: 'n' } }),
      /ip-pool/,
    );
  });

  test('RequestAddress: the configured gateway, containers from netmaster, with prefix length', async () => {
    const { ipam, netmaster } = setup();
    const PoolID = poolIdOf({ tenant: 'default', network: 'n', group: '' });
    const gw = { RequestAddressType: 'com.docker.network.gateway' };
    assert.equal((await ipam.requestAddress({ PoolID, Options: gw })).Address, '10.1.1.254/24');
    await assert.rejects(ipam.requestAddress({ PoolID, Address: '10.1.1.1', Options: gw }), /drop --gateway/);
    assert.equal((await ipam.requestAddress({ PoolID, Address: '' })).Address, '10.1.1.1/24');
    assert.equal((await ipam.requestAddress({ PoolID, Address: '10.1.1.7' })).Address, '10.1.1.7/24');
    await assert.rejects(ipam.requestAddress({ PoolID, Address: 'x' }), /not an IP address/);
    await ipam.releaseAddress({ PoolID, Address: '10.1.1.254' }); // the gateway: nothing to release
    await ipam.releaseAddress({ PoolID, Address: '10.1.1.1' });
    await ipam.releaseAddress({ PoolID, Address: '10.1.1.7' });
    assert.deepEqual(netmaster.allocated(), []);
  });

  test("a network without a gateway gives Docker the subnet's own address, so containers start at .1", async () => {
    const { ipam, netmaster } = setup();
    const PoolID = poolIdOf({ tenant: 'default', network: 'nogw', group: '' });
    const gw = await ipam.requestAddress({
      PoolID,
      Options: { RequestAddressType: 'com.docker.network.gateway' },
    });
    assert.equal(gw.Address, '10.2.0.0/24');
    assert.equal((await ipam.requestAddress({ PoolID })).Address, '10.2.0.1/24');
    assert.deepEqual(netmaster.allocated(), ['default:nogw/10.2.0.1']);
    await ipam.releaseAddress({ PoolID, Address: '10.2.0.0' });
    assert.deepEqual(netmaster.allocated(), ['default:nogw/10.2.0.1']);
    await ipam.releaseAddress({ PoolID, Address: '10.2.0.1' });
    assert.deepEqual(netmaster.allocated(), []);
  });

  test('releasing into a Contiv network that is gone is not an error', async () => {
    const { ipam } = setup();
    assert.deepEqual(
      await ipam.releaseAddress({
        PoolID: poolIdOf({ tenant: 't', network: 'gone', group: '' }),
        Address: '1.2.3.4',
      }),
      {},
    );
  });
});

/** Links and datapath that record what was done and fail where told. */
function fakeHost(failAt?: string) {
  const log: string[] = [];
  const existing = new Set<string>();
  const step = (name: string) => {
    log.push(name);
    if (failAt && name.startsWith(failAt)) throw new Error(`${name} failed (test)`);
  };
  const links: Links = {
    async createVeth(v) {
      step(
        `veth ${v.hostName} ${v.peerName}${v.peerMac ? ` mac=${v.peerMac}` : ''}${v.mtu ? ` mtu=${v.mtu}` : ''}`,
      );
      existing.add(v.hostName);
    },
    async createVeths(vs) {
      for (const v of vs) await this.createVeth(v);
    },
    async deleteLink(n) {
      log.push(`del ${n}`);
      existing.delete(n);
    },
    async ownedVeths() {
      return [...existing];
    },
  };
  const attached = new Set<string>();
  const host: HostAttach = {
    async attachEndpoint(id, ifName) {
      step(`attach ${ifName}`);
      attached.add(id);
      return 5;
    },
    async detachEndpoint(id, ifName) {
      log.push(`detach ${ifName}`);
      attached.delete(id);
    },
  };
  return { log, existing, attached, links, host };
}

async function driverWith(failAt?: string, withPool = false) {
  const { targets, netmaster } = setup();
  const h = fakeHost(failAt);
  const freed = new FreedAddresses();
  const ipam = new IpamDriver({ targets, netmaster, pluginName: 'np', freed });
  const plugged = new Set<string>();
  const spares: SparePorts = {
    async plugSpares(names) {
      for (const n of names) plugged.add(n);
    },
    async unplugSpares(names) {
      for (const n of names) plugged.delete(n);
    },
    async pluggedPorts() {
      return { endpoints: new Map(), spares: [...plugged] };
    },
  };
  const pool = withPool ? new VethPool({ links: h.links, ports: spares, owner: 'contiv-ts/np' }) : undefined;
  const driver = new NetworkDriver({
    ...(pool ? { pool, plugged: spares } : {}),
    freed,
    targets,
    netmaster,
    host: h.host,
    hostName: 'h1',
    pluginName: 'np',
    links: h.links,
    networkOptions: async (id) => (id === 'restarted' ? { network: 'n' } : undefined),
  });
  await driver.createNetwork({
    NetworkID: 'N1',
    Options: { [GENERIC_OPTIONS]: { network: 'n' } },
    IPv4Data: [{ Pool: '10.1.1.0/24' }],
  });
  return { driver, ipam, netmaster, pool, ...h };
}

const EP = '0123456789abcdef0123';

describe('NetworkDriver', () => {
  test('CreateNetwork refuses a network without Contiv options or with another IPAM driver', async () => {
    const { driver } = await driverWith();
    await assert.rejects(driver.createNetwork({ NetworkID: 'x', Options: {} }), /-o contiv-tag=T/);
    await assert.rejects(
      driver.createNetwork({
        NetworkID: 'x',
        Options: { [GENERIC_OPTIONS]: { network: 'n' } },
        IPv4Data: [{ Pool: '172.18.0.0/16' }],
      }),
      /needs --ipam-driver np/,
    );
  });

  test('CreateEndpoint writes the record and answers the MAC only when Docker set none', async () => {
    const { driver, netmaster } = await driverWith();
    await netmaster.allocAddress({ tenant: 'default', network: 'n', group: '', preferred: '10.1.1.5' });
    const r = await driver.createEndpoint({
      NetworkID: 'N1',
      EndpointID: EP,
      Interface: { Address: '10.1.1.5/24' },
    });
    assert.deepEqual(r, { Interface: { MacAddress: '02:02:0a:01:01:05' } });
    assert.equal(netmaster.endpoints.get(EP)?.homingHost, 'h1');
    await assert.rejects(
      driver.createEndpoint({
        NetworkID: 'N1',
        EndpointID: 'e2',
        Interface: { Address: '10.1.1.6/24', MacAddress: '02:42:ac:11:00:02' },
      }),
      /have MAC 02:02:0a:01:01:06/,
    );
    await assert.rejects(driver.createEndpoint({ NetworkID: 'N1', EndpointID: 'e3' }), /no IPv4 address/);
    await assert.rejects(
      driver.createEndpoint({
        NetworkID: 'unknown',
        EndpointID: 'e4',
        Interface: { Address: '10.1.1.6/24' },
      }),
      /not a known np network/,
    );
    await driver.deleteEndpoint({ NetworkID: 'N1', EndpointID: EP });
    await driver.deleteEndpoint({ NetworkID: 'N1', EndpointID: EP }); // idempotent
    assert.equal(netmaster.endpoints.size, 0);
  });

  test("Docker's ReleaseAddress after DeleteEndpoint never frees the address's next holder", async () => {
    const { driver, ipam, netmaster } = await driverWith();
    const PoolID = poolIdOf({ tenant: 'default', network: 'n', group: '' });
    assert.equal((await ipam.requestAddress({ PoolID })).Address, '10.1.1.1/24');
    await driver.createEndpoint({ NetworkID: 'N1', EndpointID: EP, Interface: { Address: '10.1.1.1/24' } });
    await driver.deleteEndpoint({ NetworkID: 'N1', EndpointID: EP }); // netmaster frees 10.1.1.1 here
    assert.equal(
      (await ipam.requestAddress({ PoolID })).Address,
      '10.1.1.1/24',
      'another container takes it',
    );
    await ipam.releaseAddress({ PoolID, Address: '10.1.1.1' }); // the first container's late release
    assert.deepEqual(netmaster.allocated(), ['default:n/10.1.1.1']);
    await ipam.releaseAddress({ PoolID, Address: '10.1.1.1' }); // the second one's own release
    assert.deepEqual(netmaster.allocated(), []);
  });

  test('a network created before a restart is read back from the engine', async () => {
    const { driver, netmaster } = await driverWith();
    await netmaster.allocAddress({ tenant: 'default', network: 'n', group: '', preferred: '10.1.1.9' });
    await driver.createEndpoint({
      NetworkID: 'restarted',
      EndpointID: EP,
      Interface: { Address: '10.1.1.9/24' },
    });
    assert.equal(netmaster.endpoints.get(EP)?.network, 'n');
  });

  test('Join: veth, MAC and MTU on the container end, offload off, attach; answer SrcName and gateway', async () => {
    const { driver, netmaster, log, attached } = await driverWith();
    await netmaster.allocAddress({ tenant: 'default', network: 'n', group: '', preferred: '10.1.1.5' });
    await driver.createEndpoint({ NetworkID: 'N1', EndpointID: EP, Interface: { Address: '10.1.1.5/24' } });
    const j = await driver.join({ NetworkID: 'N1', EndpointID: EP, SandboxKey: '/var/run/docker/netns/x' });
    const h = hostIfName(EP);
    const p = peerIfName(EP);
    assert.equal(h, 'vp0123456789a');
    assert.deepEqual(j, {
      InterfaceName: { SrcName: p, DstPrefix: 'eth' },
      Gateway: '10.1.1.254',
      DisableGatewayService: true,
    });
    assert.deepEqual(log, [`veth ${h} ${p} mac=02:02:0a:01:01:05 mtu=1450`, `attach ${h}`]);
    assert.ok(attached.has(EP));
    log.length = 0;
    await driver.leave({ NetworkID: 'N1', EndpointID: EP });
    await driver.settled();
    assert.deepEqual(log, [`detach ${h}`, `del ${h}`]);
  });

  for (const failAt of ['veth', 'attach']) {
    test(`a Join failing at "${failAt}" leaves no veth and nothing attached`, async () => {
      const { driver, existing, attached } = await driverWith(failAt);
      await assert.rejects(
        driver.join({ NetworkID: 'N1', EndpointID: EP, SandboxKey: 'k' }),
        new RegExp(`join ${EP}: ${failAt}.* failed \\(test\\)`),
      );
      assert.deepEqual([...existing], []);
      assert.deepEqual([...attached], []);
    });
  }

  test('with spares, Join plugs no veth of its own: it attaches a spare and answers its peer; Leave deletes it', async () => {
    const { driver, netmaster, log, pool, existing } = await driverWith(undefined, true);
    const join = async (ep: string, ip: string) => {
      await netmaster.allocAddress({ tenant: 'default', network: 'n', group: '', preferred: ip });
      await driver.createEndpoint({ NetworkID: 'N1', EndpointID: ep, Interface: { Address: `${ip}/24` } });
      return driver.join({ NetworkID: 'N1', EndpointID: ep, SandboxKey: 'k' });
    };
    await join(EP, '10.1.1.5'); // the MTU's first Join makes its own pair and starts the pool
    await pool?.settled();
    assert.equal(pool?.readyCount(VXLAN_MTU), 8);
    log.length = 0;
    const ep2 = `${EP}ff`;
    const j = await join(ep2, '10.1.1.6');
    const spare = log[0]?.replace(/^attach /, '') ?? '';
    assert.match(spare, /^vs[0-9a-f]{10}$/);
    assert.deepEqual(log, [`attach ${spare}`]);
    assert.deepEqual(j.InterfaceName, { SrcName: `vt${spare.slice(2)}`, DstPrefix: 'eth' });
    assert.equal(
      (driver.endpointOperInfo({ NetworkID: 'N1', EndpointID: ep2 }).Value as { hostInterface?: string })
        .hostInterface,
      spare,
    );
    log.length = 0;
    await driver.leave({ NetworkID: 'N1', EndpointID: ep2 });
    await driver.settled();
    assert.deepEqual(log, [`detach ${spare}`, `del ${spare}`]);
    assert.ok(!existing.has(spare));
  });

  test('a Join failing on a spare leaves neither the spare nor anything attached', async () => {
    const { driver, netmaster, pool, existing, attached } = await driverWith('attach vs', true);
    pool?.replenish(VXLAN_MTU);
    await pool?.settled();
    const before = existing.size;
    await netmaster.allocAddress({ tenant: 'default', network: 'n', group: '', preferred: '10.1.1.5' });
    await driver.createEndpoint({ NetworkID: 'N1', EndpointID: EP, Interface: { Address: '10.1.1.5/24' } });
    await assert.rejects(
      driver.join({ NetworkID: 'N1', EndpointID: EP, SandboxKey: 'k' }),
      /attach vs.* failed/,
    );
    await pool?.settled();
    // The spare it took is gone with it (7 left: no refill until a quarter are).
    assert.equal(pool?.readyCount(VXLAN_MTU), 7);
    assert.equal(existing.size, before - 1);
    assert.deepEqual([...attached], []);
  });

  test('the calls Docker may make without anything to do answer empty objects', async () => {
    const { driver } = await driverWith();
    const h = driver.handlers();
    assert.deepEqual(await h['/NetworkDriver.GetCapabilities']!({}), {
      Scope: 'local',
      ConnectivityScope: 'global',
    });
    for (const c of [
      'FreeNetwork',
      'ProgramExternalConnectivity',
      'RevokeExternalConnectivity',
      'DiscoverNew',
      'DiscoverDelete',
    ])
      assert.deepEqual(await h[`/NetworkDriver.${c}`]!({}), {}, c);
    assert.deepEqual(await h['/NetworkDriver.AllocateNetwork']!({}), { Options: {} });
    assert.deepEqual(await h['/NetworkDriver.EndpointOperInfo']!({ NetworkID: 'N1', EndpointID: 'none' }), {
      Value: {},
    });
  });
});

describe("swarm's --subnet networks without a contiv-tag", () => {
  const GW = { RequestAddressType: 'com.docker.network.gateway' };

  test('the pool is the subnet, refused when it overlaps a Contiv network; the gateway before the network exists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'docker-unit-'));
    const store = await EmbeddedStore.open(dir);
    try {
      const put = (k: string, v: object) => store.put(k, JSON.stringify(v));
      await put('/contiv.io/config/network/default:contiv-net', {
        tenantName: 'default',
        networkName: 'contiv-net',
        subnet: '10.1.1.0/24',
        encap: 'vxlan',
      });
      const r = new StoreTargetResolver(store);
      const netmaster = new FakeNetmaster(r);
      const ipam = new IpamDriver({ targets: r, netmaster, pluginName: 'np', subnetPools: r });
      await assert.rejects(
        ipam.requestPool({ AddressSpace: 'contiv-global', Pool: '10.1.0.0/16' }),
        /--subnet 10\.1\.0\.0\/16 overlaps Contiv network contiv-net \(10\.1\.1\.0\/24\) in tenant default/,
      );
      await assert.rejects(ipam.requestPool({ AddressSpace: 'contiv-global' }), /needs --subnet/);
      await assert.rejects(
        ipam.requestPool({ AddressSpace: 'contiv-global', Pool: '100.1.1.0/24', SubPool: '100.1.1.0/28' }),
        /--ip-range/,
      );
      const p = await ipam.requestPool({ AddressSpace: 'contiv-global', Pool: '100.1.1.0/24' });
      assert.deepEqual(p, { PoolID: 'contiv-docker/100.1.1.0/24', Pool: '100.1.1.0/24', Data: {} });
      // Swarm's manager asks for the gateway before AllocateNetwork makes the Contiv network.
      const gw = (Address?: string) =>
        ipam.requestAddress({ PoolID: p.PoolID, ...(Address ? { Address } : {}), Options: GW });
      assert.equal((await gw('100.1.1.254')).Address, '100.1.1.254/24');
      assert.equal((await gw()).Address, '100.1.1.1/24');
      await assert.rejects(gw('10.9.9.9'), /--gateway 10\.9\.9\.9 is not a host address of --subnet/);
      await assert.rejects(ipam.requestAddress({ PoolID: p.PoolID }), /no Contiv network has the pool/);
      // What /plugin/dockerNetwork writes: the network and its record.
      await put('/contiv.io/config/network/default:svc-net1', {
        tenantName: 'default',
        networkName: 'svc-net1',
        subnet: '100.1.1.0/24',
        gateway: '100.1.1.254',
        encap: 'vxlan',
      });
      await put('/contiv.io/oper/dockernet/default:svc-net1', { networkID: 'abc', name: 'svc-net1' });
      // Each node asks for the pool again: its own network is no conflict, another one would be.
      assert.equal(
        (await ipam.requestPool({ AddressSpace: 'contiv-global', Pool: '100.1.1.0/24' })).PoolID,
        p.PoolID,
      );
      await assert.rejects(
        ipam.requestPool({ AddressSpace: 'contiv-global', Pool: '100.1.0.0/16' }),
        /overlaps Contiv network svc-net1/,
      );
      const a = await ipam.requestAddress({ PoolID: p.PoolID });
      assert.equal(a.Address, '100.1.1.1/24');
      assert.deepEqual(netmaster.allocated(), ['default:svc-net1/100.1.1.1']);
      await ipam.releaseAddress({ PoolID: p.PoolID, Address: a.Address });
      assert.deepEqual(netmaster.allocated(), []);
      // Its network removed: releases find nothing to give back.
      await store.delete('/contiv.io/oper/dockernet/default:svc-net1');
      await ipam.releaseAddress({ PoolID: p.PoolID, Address: '100.1.1.254/24' });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('AllocateNetwork makes the Contiv network under the Docker name and answers its options; FreeNetwork removes it', async () => {
    const targets = new FakeTargets();
    targets.add({ network: 'n', subnet: '10.1.1.0/24', gateway: '10.1.1.254' });
    const netmaster = new FakeNetmaster(targets);
    const host: HostAttach = { attachEndpoint: async () => 1, detachEndpoint: async () => undefined };
    const driver = new NetworkDriver({
      targets,
      netmaster,
      host,
      hostName: 'h1',
      pluginName: 'np',
      dockerNetworkName: async (id) => (id === 'abc' ? 'svc-net1' : undefined),
    });
    const h = driver.handlers();
    const v4 = [{ Pool: '100.1.1.0/24', Gateway: '100.1.1.254/24' }];
    assert.deepEqual(
      await h['/NetworkDriver.AllocateNetwork']?.({ NetworkID: 'abc', Options: {}, IPv4Data: v4 }),
      {
        Options: { tenant: 'default', network: 'svc-net1' },
      },
    );
    assert.deepEqual(netmaster.dockerNetworks.get('abc'), {
      networkID: 'abc',
      name: 'svc-net1',
      subnet: '100.1.1.0/24',
      gateway: '100.1.1.254',
    });
    // A contiv-tag network is only echoed; one without a pool is refused.
    const tagged = { 'contiv-tag': 'T' };
    assert.deepEqual(await h['/NetworkDriver.AllocateNetwork']?.({ NetworkID: 'def', Options: tagged }), {
      Options: tagged,
    });
    await assert.rejects(
      Promise.resolve(h['/NetworkDriver.AllocateNetwork']?.({ NetworkID: 'abc', Options: {} })),
      /no IPv4 pool: give --subnet/,
    );
    await h['/NetworkDriver.FreeNetwork']?.({ NetworkID: 'abc' });
    assert.equal(netmaster.dockerNetworks.size, 0);
  });
});

describe('reconcileEndpoints', () => {
  test('after the socket opened: removes dead records, sweeps only the veths listed before, skips what Docker called about', async () => {
    const { netmaster } = setup();
    const h = fakeHost();
    const id = (c: string) => c.repeat(64);
    for (const [c, ip] of [
      ['a', '10.1.1.1'],
      ['b', '10.1.1.2'],
      ['c', '10.1.1.3'],
    ] as const) {
      await netmaster.allocAddress({ tenant: 'default', network: 'n', group: '', preferred: ip });
      await netmaster.createEndpoint({
        endpointID: id(c),
        tenant: 'default',
        network: 'n',
        group: '',
        ipAddress: ip,
        host: 'h1',
      });
    }
    for (const n of [
      hostIfName(id('a')),
      hostIfName(id('b')),
      hostIfName(id('c')),
      'vpleftover1',
      'vpnewjoin01',
    ])
      h.existing.add(n);
    // The engine has only a's endpoint; c is a Join Docker made since the socket opened.
    const engine = {
      listNetworks: async () => [{ Id: 'net1' }],
      inspectNetwork: async () => ({ Containers: { x: { EndpointID: id('a'), Name: '/web1' } } }),
    } as unknown as DockerEngine;
    const r = await reconcileEndpoints({
      engine,
      netmaster,
      host: h.host,
      hostName: 'h1',
      pluginName: 'np',
      links: h.links,
      skip: new Set([id('c')]),
      vethsBefore: [hostIfName(id('a')), hostIfName(id('b')), hostIfName(id('c')), 'vpleftover1'],
    });
    assert.deepEqual(r.kept.sort(), [id('a'), id('c')]);
    assert.deepEqual(r.removed, [id('b')]);
    assert.deepEqual(r.swept, ['vpleftover1']);
    // The live and the skipped endpoints keep their veths; one made after the list is never swept.
    assert.deepEqual(
      [...h.existing].sort(),
      [hostIfName(id('a')), hostIfName(id('c')), 'vpnewjoin01'].sort(),
    );
    assert.deepEqual([...netmaster.endpoints.keys()].sort(), [id('a'), id('c')]);
    // a had no name yet (netplugin stopped before naming it): it has Docker's now; c is its Join's.
    assert.deepEqual(r.named, [id('a')]);
    assert.equal(netmaster.endpoints.get(id('a'))?.containerName, 'web1');
    assert.equal(netmaster.endpoints.get(id('a'))?.containerID, 'x');
    const again = await reconcileEndpoints({
      engine,
      netmaster,
      host: h.host,
      hostName: 'h1',
      pluginName: 'np',
      links: h.links,
    });
    assert.deepEqual(again.named, [], 'a name already right is not written again');
  });
});
