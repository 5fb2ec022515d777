import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bandwidthKbps, intentFromStore, protocolNumber } from '../../policy/compiler/from-store.js';

const kv = (key: string, value: unknown) => ({ key, value: JSON.stringify(value) });

const STORE = [
  kv('/contiv.io/config/global/global', { name: 'global', fwdMode: 'routing', arpMode: 'flood' }),
  kv('/contiv.io/config/tenant/default', { tenantName: 'default' }),
  kv('/contiv.io/ipam/tenant/1', { owner: 'default' }),
  kv('/contiv.io/config/network/default:contiv-net', {
    tenantName: 'default',
    networkName: 'contiv-net',
    encap: 'vxlan',
    subnet: '20.1.1.0/24',
    gateway: '20.1.1.254',
  }),
  kv('/contiv.io/ipam/vxlan/1001', { owner: 'default:contiv-net', use: 'pktTag' }),
  kv('/contiv.io/ipam/vlan/7', { owner: 'default:contiv-net', use: 'localVlan' }),
  kv('/contiv.io/config/network/default:vlan-net', {
    tenantName: 'default',
    networkName: 'vlan-net',
    encap: 'vlan',
    subnet: '30.1.1.0/24',
  }),
  kv('/contiv.io/ipam/vlan/112', { owner: 'default:vlan-net', use: 'pktTag' }),
  kv('/contiv.io/config/policy/default:prod_web', { tenantName: 'default', policyName: 'prod_web' }),
  kv('/contiv.io/config/rule/default:prod_web:2', {
    tenantName: 'default',
    policyName: 'prod_web',
    ruleId: '2',
    direction: 'in',
    protocol: 'tcp',
    port: 80,
    action: 'allow',
    priority: 10,
  }),
  kv('/contiv.io/config/rule/default:prod_web:1', {
    tenantName: 'default',
    policyName: 'prod_web',
    ruleId: '1',
    direction: 'in',
    protocol: 'tcp',
    action: 'deny',
  }),
  kv('/contiv.io/config/netprofile/default:gold', {
    tenantName: 'default',
    profileName: 'gold',
    bandwidth: '10 mbps',
    DSCP: 10,
  }),
  kv('/contiv.io/config/endpointGroup/default:web', {
    tenantName: 'default',
    groupName: 'web',
    networkName: 'contiv-net',
    policies: ['prod_web'],
    netProfile: 'gold',
  }),
  kv('/contiv.io/ipam/epg/3', { owner: 'default:web' }),
  // A group whose id is not allocated yet is left out.
  kv('/contiv.io/config/endpointGroup/default:db', {
    tenantName: 'default',
    groupName: 'db',
    networkName: 'contiv-net',
  }),
  kv('/contiv.io/oper/endpoints/ep1', {
    endpointID: 'ep1',
    tenant: 'default',
    network: 'contiv-net',
    endpointGroup: 'web',
    endpointGroupId: 3,
    ipAddress: '20.1.1.1',
    ipv6Address: '',
    macAddress: '02:02:14:01:01:01',
    homingHost: 'h1',
    intfName: 'vport1',
    containerID: 'c1',
    containerName: 'web1',
    labels: {},
  }),
  // An endpoint of a network that is gone is left out.
  kv('/contiv.io/oper/endpoints/ep2', {
    endpointID: 'ep2',
    tenant: 'default',
    network: 'gone',
    endpointGroup: '',
    ipAddress: '9.9.9.9',
    macAddress: '02:02:09:09:09:09',
    homingHost: 'h1',
  }),
  kv('/contiv.io/oper/hosts/h1', {
    name: 'h1',
    vtepIP: '192.168.50.1',
    controlIP: '192.168.50.1',
    uplinks: [],
  }),
  kv('/contiv.io/ipam/addr/default:contiv-net/20.1.1.1', { owner: 'ep1' }),
];

describe('intent from the store', () => {
  test('objects, ids and tags become the compiler intent', () => {
    const intent = intentFromStore(STORE);
    assert.deepEqual(intent.global, { fwdMode: 'routing', arpMode: 'flood', pvtSubnet: '172.19.0.0/16' });
    assert.deepEqual(intent.tenants, [{ name: 'default', id: 1 }]);
    assert.deepEqual(intent.networks, [
      {
        tenant: 'default',
        name: 'contiv-net',
        id: 7,
        encap: 'vxlan',
        pktTag: 1001,
        subnet: '20.1.1.0/24',
        gateway: '20.1.1.254',
      },
      {
        tenant: 'default',
        name: 'vlan-net',
        id: 112,
        encap: 'vlan',
        pktTag: 112,
        subnet: '30.1.1.0/24',
        gateway: '',
      },
    ]);
    assert.deepEqual(intent.groups, [
      {
        tenant: 'default',
        name: 'web',
        network: 'contiv-net',
        id: 3,
        policies: ['prod_web'],
        netProfile: 'gold',
      },
    ]);
    assert.deepEqual(
      intent.policies[0]?.rules.map((r) => [r.ruleId, r.direction, r.priority, r.action, r.protocol, r.port]),
      [
        ['1', 'in', 1, 'deny', 6, 0],
        ['2', 'in', 10, 'allow', 6, 80],
      ],
    );
    assert.deepEqual(intent.netProfiles, [
      { tenant: 'default', name: 'gold', dscp: 10, bandwidthKbps: 10_000, burstKb: 0 },
    ]);
    assert.deepEqual(
      intent.endpoints.map((e) => e.id),
      ['ep1'],
    );
    assert.deepEqual(intent.hosts, [{ name: 'h1', vtepIP: '192.168.50.1' }]);
  });

  test('a tenant without an id yet brings nothing of its own', () => {
    const intent = intentFromStore(STORE.filter((x) => !x.key.startsWith('/contiv.io/ipam/tenant/')));
    assert.equal(intent.tenants.length, 0);
    assert.equal(intent.networks.length, 0);
    assert.equal(intent.endpoints.length, 0);
  });

  test('defaults without a global object', () => {
    assert.deepEqual(intentFromStore([]).global, {
      fwdMode: 'bridge',
      arpMode: 'proxy',
      pvtSubnet: '172.19.0.0/16',
    });
  });

  test("Contiv's bandwidth and protocol spellings", () => {
    assert.equal(bandwidthKbps('10 mbps'), 10_000);
    assert.equal(bandwidthKbps('10Mbps'), 10_000);
    assert.equal(bandwidthKbps('500kb'), 500);
    assert.equal(bandwidthKbps('2g'), 2_000_000);
    assert.equal(bandwidthKbps(''), 0);
    assert.throws(() => bandwidthKbps('fast'), /bandwidth "fast"/);
    assert.equal(protocolNumber('TCP'), 6);
    assert.equal(protocolNumber('icmp'), 1);
    assert.equal(protocolNumber('47'), 47);
    assert.equal(protocolNumber(''), 0);
    assert.throws(() => protocolNumber('300'), /protocol "300"/);
  });
});

test('a serviceLB with its VIP record and service id becomes intent', () => {
  const intent = intentFromStore([
    ...STORE,
    kv('/contiv.io/config/serviceLB/default:web', {
      tenantName: 'default',
      serviceName: 'web',
      networkName: 'contiv-net',
      selectors: ['app=web', 'tier=a=b'],
      ports: ['80:8080:TCP', '53:5353:udp'],
    }),
    kv('/contiv.io/oper/servicevip/default:web', {
      tenantName: 'default',
      serviceName: 'web',
      networkName: 'contiv-net',
      serviceVip: '20.1.1.200',
    }),
    kv('/contiv.io/ipam/service/4', { owner: 'default:web' }),
    // No id (made before ids existed) or no VIP record: not in the datapath.
    kv('/contiv.io/config/serviceLB/default:old', {
      tenantName: 'default',
      serviceName: 'old',
      networkName: 'contiv-net',
    }),
  ]);
  assert.deepEqual(intent.services, [
    {
      tenant: 'default',
      name: 'web',
      network: 'contiv-net',
      id: 4,
      vip: '20.1.1.200',
      ports: [
        { port: 80, targetPort: 8080, protocol: 6 },
        { port: 53, targetPort: 5353, protocol: 17 },
      ],
      selectors: { app: 'web', tier: 'a=b' },
    },
  ]);
});
