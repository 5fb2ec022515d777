// Tests the object model: every object validates with defaults, every rule refuses with key and field
// named, keys and REST plurals, referential integrity. It must never depend on the store or the network.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkDelete,
  checkGlobalUpdate,
  checkParents,
  checkSiblings,
  checkUpdate,
  keyOf,
  type ListAll,
  type Lookup,
  ModelError,
  OBJECT_TYPES,
  type ObjType,
  ownedBy,
  PLURALS,
  type PlainObject,
  parents,
  parseKey,
  SCHEMA,
  typeOfPlural,
  usedBy,
  validate,
} from '../../policy/model/index.js';
import { EXAMPLES } from '../harness/model-examples.js';

/** Asserts a ModelError whose message is exactly "<type> <key>: <field>...: ...reason". */
function refuses(objType: ObjType, obj: PlainObject, field: string, reason: RegExp): void {
  assert.throws(
    () => validate(objType, obj),
    (e: unknown) => {
      assert.ok(e instanceof ModelError, String(e));
      assert.equal(e.field, field, e.message);
      const shown = keyOf(objType, obj)
        .split(':')
        .map((p) => p || '?')
        .join(':');
      assert.ok(e.message.startsWith(`${objType} ${shown}: ${field}`), e.message);
      assert.match(e.reason, reason);
      return true;
    },
  );
}

describe('model: schema derived from contivmodel', () => {
  it('has the twelve objects with their key fields and REST plurals', () => {
    assert.deepEqual(
      OBJECT_TYPES.map((t) => PLURALS[t]),
      [
        'globals',
        'tenants',
        'networks',
        'endpointGroups',
        'policys',
        'rules',
        'netprofiles',
        'appProfiles',
        'extContractsGroups',
        'Bgps',
        'serviceLBs',
        'aciGws',
      ],
    );
    assert.equal(typeOfPlural('policys'), 'policy');
    assert.equal(typeOfPlural('policies'), undefined);
    assert.deepEqual(SCHEMA.get('rule')?.key, ['tenantName', 'policyName', 'ruleId']);
    assert.equal(SCHEMA.get('rule')?.fields.get('priority')?.max, 100);
    assert.equal(SCHEMA.get('netprofile')?.fields.get('DSCP')?.max, 63);
    assert.equal(SCHEMA.get('network')?.fields.get('nwType')?.default, 'data');
    assert.ok(SCHEMA.get('network')?.linkSets.endpointGroups);
  });
  it('keys join key fields with ":" and parse back', () => {
    assert.equal(keyOf('network', EXAMPLES.network), 'default:contiv-net');
    assert.equal(keyOf('endpointGroup', EXAMPLES.endpointGroup), 'default:web');
    assert.equal(keyOf('rule', EXAMPLES.rule), 'default:prod_web:2');
    assert.equal(keyOf('Bgp', EXAMPLES.Bgp), 'netplugin-node1');
    assert.equal(keyOf('global', EXAMPLES.global), 'global');
    assert.deepEqual(parseKey('rule', 'default:prod_web:2'), {
      tenantName: 'default',
      policyName: 'prod_web',
      ruleId: '2',
    });
    assert.equal(parseKey('network', 'contiv-net'), undefined);
    assert.equal(parseKey('network', 'default:'), undefined);
  });
});

describe('model: every object validates with defaults filled', () => {
  for (const t of OBJECT_TYPES) {
    it(`${t}: the example passes`, () => {
      const v = validate(t, EXAMPLES[t]);
      for (const [k, val] of Object.entries(EXAMPLES[t])) assert.deepEqual(v[k], val, `${t}.${k}`);
    });
  }
  it('fills defaults: global, network encap/nwType, rule priority, netprofile DSCP, aciGw', () => {
    assert.deepEqual(validate('global', { name: 'global' }), {
      name: 'global',
      networkInfraType: 'default',
      vlans: '1-4094',
      vxlans: '1-10000',
      fwdMode: 'bridge',
      arpMode: 'proxy',
      pvtSubnet: '172.19.0.0/16',
    });
    const n = validate('network', { tenantName: 'default', networkName: 'n', subnet: '10.1.1.0/24' });
    assert.equal(n.encap, 'vxlan');
    assert.equal(n.nwType, 'data');
    const { priority, ...rest } = EXAMPLES.rule;
    assert.equal(priority, 10);
    assert.equal(validate('rule', rest).priority, 1);
    assert.equal(validate('netprofile', EXAMPLES.netprofile).DSCP, 0);
    assert.equal(validate('aciGw', EXAMPLES.aciGw).enforcePolicies, 'yes');
  });
  it('accepts the documented forms: "_" in names, host bits, ranges, vxlan with bridge, numeric strings', () => {
    validate('policy', { tenantName: 'default', policyName: 'prod_web' });
    validate('network', {
      tenantName: 'default',
      networkName: 'contiv-net-1',
      subnet: '200.1.1.1/24',
      gateway: '200.1.1.200',
    });
    validate('network', { tenantName: 'default', networkName: 'r', subnet: '10.1.1.10-10.1.1.20/24' });
    validate('global', { name: 'global', fwdMode: 'bridge' });
    validate('network', { tenantName: 'default', networkName: 'x', subnet: '10.1.1.0/24', encap: 'vxlan' });
    validate('network', {
      tenantName: 'default',
      networkName: 'v6',
      subnet: '10.1.1.0/24',
      ipv6Subnet: '2001:db8::/64',
      ipv6Gateway: '2001:db8::1',
    });
    assert.equal(validate('rule', { ...EXAMPLES.rule, port: '443' }).port, 443);
    assert.equal(validate('rule', { ...EXAMPLES.rule, protocol: '17', port: 0 }).protocol, '17');
    const stripped = validate('tenant', { tenantName: 'blue', key: 'blue', link: {} });
    assert.deepEqual(stripped, { tenantName: 'blue' });
  });
});

describe('model: each rule refuses with the field named', () => {
  const net = EXAMPLES.network;
  it('object and key fields', () => {
    assert.throws(() => validate('tenant', 'x'), /tenant \?: must be a JSON object/);
    refuses('tenant', {}, 'tenantName', /is required/);
    assert.throws(() => validate('network', { tenantName: 'default', subnet: '10.1.1.0/24' }), {
      message: 'network default:?: networkName: is required',
    });
    refuses('tenant', { tenantName: 'bad name' }, 'tenantName', /must match/);
    refuses('tenant', { tenantName: '-x' }, 'tenantName', /must match/);
    refuses('tenant', { tenantName: 'x'.repeat(65) }, 'tenantName', /at most 64 characters/);
    refuses('global', { name: 'other' }, 'name', /must match \^\(global\)\$/);
  });
  it('network: subnet, gateway, encap, pkt-tag, v6', () => {
    assert.throws(() => validate('network', { ...net, networkName: 'contiv-net', subnet: '10.1.1.0/33' }), {
      message: 'network default:contiv-net: subnet "10.1.1.0/33": prefix length must be 1..31',
    });
    refuses('network', { ...net, subnet: undefined, gateway: undefined }, 'subnet', /is required/);
    refuses('network', { ...net, subnet: '10.1.1.300/24' }, 'subnet', /not an IP address/);
    refuses(
      'network',
      { ...net, subnet: '10.1.1.20-10.1.1.10/24', gateway: '' },
      'subnet',
      /start must not be after/,
    );
    refuses('network', { ...net, subnet: '2001:db8::/64', gateway: '' }, 'subnet', /must be an IPv4 subnet/);
    refuses('network', { ...net, gateway: '20.1.2.1' }, 'gateway', /must be inside 20\.1\.1\.0\/24/);
    refuses('network', { ...net, gateway: '20.1.1.255' }, 'gateway', /network or broadcast/);
    refuses('network', { ...net, gateway: 'x' }, 'gateway', /not a valid address/);
    refuses('network', { ...net, encap: 'gre' }, 'encap', /vlan or vxlan/);
    refuses('network', { ...net, nwType: 'mgmt' }, 'nwType', /data or infra/);
    refuses('network', { ...net, encap: 'vlan', pktTag: 4095 }, 'pktTag', /1\.\.4094 for vlan/);
    refuses('network', { ...net, pktTag: 16777217 }, 'pktTag', /0\.\.16777216/);
    refuses('network', { ...net, pktTag: -1 }, 'pktTag', /0\.\.16777216/);
    refuses('network', { ...net, pktTag: 1.5 }, 'pktTag', /integer/);
    refuses('network', { ...net, pktTag: 'ten' }, 'pktTag', /must be a number/);
    refuses(
      'network',
      { ...net, ipv6Subnet: '2001:db8::/64', ipv6Gateway: '2001:db9::1' },
      'ipv6Gateway',
      /inside/,
    );
    refuses('network', { ...net, ipv6Gateway: '2001:db8::1' }, 'ipv6Gateway', /needs a ipv6Subnet/);
  });
  it('rule: priority, port, protocol, direction, action, peers', () => {
    const r = EXAMPLES.rule;
    refuses('rule', { ...r, priority: 0 }, 'priority', /1\.\.100/);
    refuses('rule', { ...r, priority: 101 }, 'priority', /1\.\.100/);
    refuses('rule', { ...r, port: 65536 }, 'port', /0\.\.65535/);
    refuses('rule', { ...r, port: -1 }, 'port', /0\.\.65535/);
    refuses('rule', { ...r, protocol: 'sctp' }, 'protocol', /tcp, udp, icmp or a protocol number/);
    refuses('rule', { ...r, protocol: '256', port: 0 }, 'protocol', /0\.\.255/);
    refuses('rule', { ...r, protocol: 'icmp' }, 'port', /needs protocol tcp or udp/);
    refuses('rule', { ...r, direction: 'both' }, 'direction', /in or out/);
    refuses('rule', { ...r, direction: undefined }, 'direction', /in or out/);
    refuses('rule', { ...r, action: 'drop' }, 'action', /allow or deny/);
    refuses('rule', { ...r, fromIpAddress: '10.1.1.0/40' }, 'fromIpAddress', /prefix length/);
    refuses('rule', { ...r, fromIpAddress: 'x.1' }, 'fromIpAddress', /IP address or CIDR/);
    refuses(
      'rule',
      { ...r, fromEndpointGroup: 'db', fromNetwork: 'n' },
      'fromEndpointGroup',
      /cannot be combined with fromNetwork/,
    );
    refuses(
      'rule',
      { ...r, fromIpAddress: '10.1.1.0/24', fromNetwork: 'n' },
      'fromIpAddress',
      /cannot be combined/,
    );
    validate('rule', { ...r, fromEndpointGroup: 'db', fromIpAddress: '10.1.1.0/24' });
    validate('rule', { ...r, toIpAddress: '10.1.1.5' });
    refuses('rule', { ...r, toEndpointGroup: 'db' }, 'toEndpointGroup', /not valid in direction in/);
    refuses('rule', { ...r, toNetwork: 'n' }, 'toNetwork', /not valid in direction in/);
    refuses('rule', { ...r, direction: 'out', fromIpAddress: '10.1.1.1' }, 'fromIpAddress', /direction out/);
    refuses(
      'rule',
      { ...r, direction: 'out', toNetwork: 'n', toIpAddress: '10.1.1.1' },
      'toIpAddress',
      /combined/,
    );
    refuses(
      'rule',
      { ...r, direction: 'out', fromNetwork: 'n' },
      'fromNetwork',
      /not valid in direction out/,
    );
  });
  it('global, group, netprofile, Bgp, serviceLB, extContractsGroup, aciGw', () => {
    refuses('global', { name: 'global', vlans: '10-5' }, 'vlans', /start must not be after/);
    refuses('global', { name: 'global', vlans: '1-5000' }, 'vlans', /within 1-4094/);
    refuses('global', { name: 'global', vxlans: '1-x' }, 'vxlans', /FIRST-LAST/);
    refuses('global', { name: 'global', fwdMode: 'l3' }, 'fwdMode', /bridge or routing/);
    refuses('global', { name: 'global', arpMode: 'none' }, 'arpMode', /proxy or flood/);
    refuses('global', { name: 'global', pvtSubnet: '172.19.0.0/24' }, 'pvtSubnet', /\/16/);
    refuses('endpointGroup', { ...EXAMPLES.endpointGroup, ipPool: '10.1.1.9-10.1.1.1' }, 'ipPool', /start/);
    refuses(
      'endpointGroup',
      { ...EXAMPLES.endpointGroup, policies: 'prod_web' },
      'policies',
      /list of strings/,
    );
    refuses(
      'endpointGroup',
      { ...EXAMPLES.endpointGroup, networkName: undefined },
      'networkName',
      /is required/,
    );
    refuses('netprofile', { ...EXAMPLES.netprofile, DSCP: 64 }, 'DSCP', /0\.\.63/);
    refuses('netprofile', { ...EXAMPLES.netprofile, burst: 1 }, 'burst', /at least 2 KB/);
    refuses('netprofile', { ...EXAMPLES.netprofile, burst: 20000 }, 'burst', /0\.\.10486/);
    refuses('netprofile', { ...EXAMPLES.netprofile, bandwidth: 'fast' }, 'bandwidth', /must match/);
    refuses('Bgp', { ...EXAMPLES.Bgp, as: 'x' }, 'as', /AS number/);
    refuses('Bgp', { ...EXAMPLES.Bgp, routerip: '50.1.1.1/40' }, 'routerip', /prefix length/);
    refuses('Bgp', { ...EXAMPLES.Bgp, neighbor: '1.2.3' }, 'neighbor', /must match/);
    refuses('serviceLB', { ...EXAMPLES.serviceLB, ports: ['80:70000:TCP'] }, 'ports', /0\.\.65535/);
    refuses('serviceLB', { ...EXAMPLES.serviceLB, selectors: ['app'] }, 'selectors', /KEY=VALUE/);
    refuses(
      'extContractsGroup',
      { ...EXAMPLES.extContractsGroup, contractsType: 'x' },
      'contractsType',
      /provided/,
    );
    refuses('aciGw', { ...EXAMPLES.aciGw, enforcePolicies: 'maybe' }, 'enforcePolicies', /must match/);
    refuses('aciGw', { ...EXAMPLES.aciGw, physicalDomain: undefined }, 'physicalDomain', /is required/);
  });
});

describe('model: updates', () => {
  it('networks and rules cannot change; groups keep their network; others update', () => {
    const n = validate('network', EXAMPLES.network);
    checkUpdate('network', n, validate('network', EXAMPLES.network));
    assert.throws(
      () => checkUpdate('network', n, validate('network', { ...EXAMPLES.network, gateway: '20.1.1.1' })),
      {
        message: 'network default:contiv-net: gateway "20.1.1.1": cannot change from "20.1.1.254"',
      },
    );
    const r = validate('rule', EXAMPLES.rule);
    assert.throws(
      () => checkUpdate('rule', r, validate('rule', { ...EXAMPLES.rule, port: 81 })),
      /port 81: cannot change/,
    );
    const g = validate('endpointGroup', EXAMPLES.endpointGroup);
    checkUpdate('endpointGroup', g, validate('endpointGroup', { ...EXAMPLES.endpointGroup, policies: [] }));
    assert.throws(
      () =>
        checkUpdate(
          'endpointGroup',
          g,
          validate('endpointGroup', { ...EXAMPLES.endpointGroup, networkName: 'n2' }),
        ),
      /networkName "n2": cannot change from "contiv-net"/,
    );
    assert.throws(
      () => checkUpdate('tenant', { tenantName: 'a' }, { tenantName: 'a', defaultNetwork: 'n' }),
      /cannot change/,
    );
    checkUpdate(
      'netprofile',
      validate('netprofile', EXAMPLES.netprofile),
      validate('netprofile', { ...EXAMPLES.netprofile, DSCP: 10 }),
    );
  });
  it('global: fwd-mode and private subnet are fixed while networks exist; routing stays while BGP is configured', () => {
    const g = validate('global', { name: 'global' });
    const routing = validate('global', { name: 'global', fwdMode: 'routing' });
    checkGlobalUpdate(g, routing, { vlans: 0, vxlans: 0, bgps: 0 });
    checkGlobalUpdate(g, validate('global', { name: 'global', arpMode: 'flood', vlans: '1-100' }), {
      vlans: 2,
      vxlans: 1,
      bgps: 0,
    });
    assert.throws(() => checkGlobalUpdate(g, routing, { vlans: 2, vxlans: 1, bgps: 0 }), {
      message: 'global global: fwdMode "routing": cannot change while networks exist (2 vlans and 1 vxlans)',
    });
    assert.throws(() => checkGlobalUpdate(routing, g, { vlans: 0, vxlans: 0, bgps: 1 }), /1 Bgp config/);
    assert.throws(
      () => checkGlobalUpdate(g, { ...g, pvtSubnet: '172.20.0.0/16' }, { vlans: 0, vxlans: 3, bgps: 0 }),
      /pvtSubnet "172\.20\.0\.0\/16": cannot change while networks exist \(3 vxlans\)/,
    );
  });
  it('"" for a field with a default means the default (Go clients send empty strings)', () => {
    assert.equal(validate('network', { ...EXAMPLES.network, nwType: '', encap: '' }).nwType, 'data');
    assert.equal(validate('network', { ...EXAMPLES.network, encap: '' }).encap, 'vxlan');
  });
});

/** A tiny config world for integrity checks. */
function world(objs: [ObjType, PlainObject][]): { lookup: Lookup; listAll: ListAll } {
  return {
    lookup: (t, k) => objs.find(([ot, o]) => ot === t && keyOf(t, o) === k)?.[1],
    listAll: async (t) => objs.filter(([ot]) => ot === t).map(([, o]) => o),
  };
}

describe('model: integrity', () => {
  it('parents: what must exist first', () => {
    assert.deepEqual(parents('network', EXAMPLES.network), [
      { objType: 'tenant', key: 'default', via: 'tenantName' },
    ]);
    assert.deepEqual(
      parents('endpointGroup', {
        ...EXAMPLES.endpointGroup,
        netProfile: 'gold',
        extContractsGrps: ['ext1'],
      }).map((r) => `${r.objType} ${r.key} ${r.via}`),
      [
        'tenant default tenantName',
        'network default:contiv-net networkName',
        'policy default:prod_web policies',
        'netprofile default:gold netProfile',
        'extContractsGroup default:ext1 extContractsGrps',
      ],
    );
    assert.deepEqual(
      parents('rule', { ...EXAMPLES.rule, fromEndpointGroup: 'db' }).map((r) => `${r.objType} ${r.key}`),
      ['policy default:prod_web', 'endpointGroup default:db'],
    );
    assert.deepEqual(parents('Bgp', EXAMPLES.Bgp), []);
    assert.deepEqual(parents('global', EXAMPLES.global), []);
  });
  it('checkParents refuses a missing parent, naming it', async () => {
    const w = world([['tenant', { tenantName: 'default' }]]);
    await checkParents('network', EXAMPLES.network, w.lookup);
    await assert.rejects(checkParents('network', { ...EXAMPLES.network, tenantName: 'red' }, w.lookup), {
      message: 'network red:contiv-net: tenantName: tenant red does not exist',
    });
    await assert.rejects(checkParents('endpointGroup', EXAMPLES.endpointGroup, w.lookup), {
      message: 'endpointGroup default:web: networkName: network default:contiv-net does not exist',
    });
    const w2 = world([
      ['tenant', { tenantName: 'default' }],
      ['network', validate('network', EXAMPLES.network)],
    ]);
    await assert.rejects(
      checkParents('endpointGroup', EXAMPLES.endpointGroup, w2.lookup),
      /policy default:prod_web/,
    );
    await assert.rejects(
      checkParents('endpointGroup', { ...EXAMPLES.endpointGroup, groupName: 'contiv-net' }, w2.lookup),
      {
        message:
          'endpointGroup default:contiv-net: groupName "contiv-net": network default:contiv-net has the same name',
      },
    );
  });
  it('checkParents: a group ip-pool must lie in the network subnet', async () => {
    const w = world([
      ['tenant', { tenantName: 'default' }],
      ['network', validate('network', EXAMPLES.network)],
    ]);
    const g = { tenantName: 'default', groupName: 'g', networkName: 'contiv-net' };
    await checkParents('endpointGroup', { ...g, ipPool: '20.1.1.10-20.1.1.20' }, w.lookup);
    await assert.rejects(checkParents('endpointGroup', { ...g, ipPool: '20.1.2.10-20.1.2.20' }, w.lookup), {
      message:
        'endpointGroup default:g: ipPool "20.1.2.10-20.1.2.20": pool is not inside the network\'s subnet 20.1.1.0/24',
    });
  });
  it('checkSiblings: subnets may not overlap within a tenant; a network may not share a group name', async () => {
    const w = world([
      ['tenant', { tenantName: 'default' }],
      ['network', validate('network', { ...EXAMPLES.network, ipv6Subnet: '2001:db8::/64' })],
      [
        'network',
        validate('network', {
          ...EXAMPLES.network,
          tenantName: 'blue',
          networkName: 'b',
          subnet: '10.9.0.0/16',
          gateway: '',
        }),
      ],
      ['endpointGroup', { tenantName: 'default', groupName: 'web', networkName: 'contiv-net' }],
    ]);
    const n = { tenantName: 'default', networkName: 'n2', subnet: '20.1.0.0/16' };
    await assert.rejects(checkSiblings('network', n, w.listAll), {
      message: 'network default:n2: subnet "20.1.0.0/16": overlaps network default:contiv-net (20.1.1.0/24)',
    });
    await assert.rejects(
      checkSiblings('network', { ...n, subnet: '20.2.0.0/16', ipv6Subnet: '2001:db8::/48' }, w.listAll),
      /ipv6Subnet .*overlaps network default:contiv-net/,
    );
    await checkSiblings('network', { ...n, subnet: '10.9.1.0/24' }, w.listAll);
    await checkSiblings('network', EXAMPLES.network, w.listAll);
    await assert.rejects(
      checkParents('network', { ...n, networkName: 'web' }, w.lookup),
      /endpointGroup default:web has the same name/,
    );
  });
  it('usedBy / checkDelete: in-use objects refuse deletion; a policy takes its rules along', async () => {
    const w = world([
      ['tenant', { tenantName: 'default' }],
      ['network', EXAMPLES.network],
      ['policy', EXAMPLES.policy],
      ['rule', EXAMPLES.rule],
      ['endpointGroup', EXAMPLES.endpointGroup],
      ['appProfile', EXAMPLES.appProfile],
    ]);
    await assert.rejects(checkDelete('policy', 'default:prod_web', w.listAll), {
      message: 'policy default:prod_web: in use by endpointGroup default:web',
    });
    await assert.rejects(
      checkDelete('network', 'default:contiv-net', w.listAll),
      /in use by endpointGroup default:web/,
    );
    await assert.rejects(
      checkDelete('endpointGroup', 'default:web', w.listAll),
      /in use by appProfile default:app1/,
    );
    await assert.rejects(
      checkDelete('tenant', 'default', w.listAll),
      /in use by network default:contiv-net, endpointGroup default:web, policy default:prod_web, appProfile/,
    );
    await assert.rejects(
      checkDelete('network', 'default:other', w.listAll, { endpoints: 2 }),
      /in use by 2 endpoint/,
    );
    await checkDelete('appProfile', 'default:app1', w.listAll);
    assert.deepEqual(await usedBy('rule', 'default:prod_web:2', w.listAll), []);
    assert.deepEqual(await ownedBy('policy', 'default:prod_web', w.listAll), [
      { objType: 'rule', key: 'default:prod_web:2', via: 'policyName' },
    ]);
    // Once the group is gone, the policy (with its rule) may go.
    const w2 = world([
      ['policy', EXAMPLES.policy],
      ['rule', EXAMPLES.rule],
    ]);
    await checkDelete('policy', 'default:prod_web', w2.listAll);
  });
});
