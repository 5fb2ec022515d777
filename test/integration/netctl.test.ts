// Owns the proof that the compiled netctl, run as a real process, sends Contiv's REST calls and prints its tables.
// It must never reach beyond 127.0.0.1: the netmaster here is a recording stub answering canned Contiv JSON.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const NETCTL = fileURLToPath(new URL('../../cli/netctl/main.js', import.meta.url));

interface Recorded {
  method: string;
  path: string;
  body: unknown;
}
interface Canned {
  status: number;
  body: unknown;
}

const recorded: Recorded[] = [];
const routes = new Map<string, Canned>();
let server: Server;
let url = '';

/** Answers like Contiv's netmaster: canned GETs, 200 `{}` for writes, 404 text for unknown GETs. */
function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? '';
    const path = req.url ?? '';
    recorded.push({ method, path, body: raw === '' ? undefined : JSON.parse(raw) });
    const canned =
      routes.get(`${method} ${path}`) ?? (method === 'GET' ? undefined : { status: 200, body: {} });
    if (!canned) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Page not found!');
      return;
    }
    const text = typeof canned.body === 'string' ? canned.body : JSON.stringify(canned.body);
    res.writeHead(canned.status, { 'content-type': 'application/json' }).end(text);
  });
}

const NETWORKS = [
  {
    key: 'default:contiv-vlan',
    tenantName: 'default',
    networkName: 'contiv-vlan',
    nwType: 'data',
    encap: 'vlan',
    pktTag: 112,
    subnet: '10.1.3.0/24',
  },
  // pktTag omitted (Go omitempty of 0): the table must still print 0, as the seed transcript shows.
  {
    key: 'default:contiv-net',
    tenantName: 'default',
    networkName: 'contiv-net',
    nwType: 'data',
    encap: 'vxlan',
    subnet: '10.1.2.0/24',
  },
  {
    key: 'blue:contiv-net',
    tenantName: 'blue',
    networkName: 'contiv-net',
    nwType: 'data',
    encap: 'vxlan',
    pktTag: 2,
    subnet: '10.1.2.0/24',
    gateway: '10.1.2.254',
    cfgdTag: 'bluetag',
  },
];

const RULES = [
  {
    tenantName: 'default',
    policyName: 'prod_web',
    ruleId: '2',
    priority: 10,
    direction: 'in',
    protocol: 'tcp',
    port: 80,
    action: 'allow',
  },
  {
    tenantName: 'default',
    policyName: 'prod_web',
    ruleId: '1',
    priority: 1,
    direction: 'in',
    protocol: 'tcp',
    action: 'deny',
  },
  {
    tenantName: 'default',
    policyName: 'prod_web',
    ruleId: '5',
    priority: 3,
    direction: 'out',
    toEndpointGroup: 'db',
    protocol: 'udp',
    port: 53,
    action: 'allow',
  },
  { tenantName: 'default', policyName: 'other', ruleId: '9', priority: 1, direction: 'in', action: 'deny' },
];

function resetRoutes(): void {
  routes.clear();
  const ok = (body: unknown): Canned => ({ status: 200, body });
  routes.set(
    'GET /api/v1/tenants/',
    ok([
      { key: 'default', tenantName: 'default' },
      { key: 'blue', tenantName: 'blue' },
    ]),
  );
  routes.set('GET /api/v1/tenants/default/', ok({ key: 'default', tenantName: 'default' }));
  routes.set('GET /api/v1/tenants/blue/', ok({ key: 'blue', tenantName: 'blue' }));
  routes.set('GET /api/v1/networks/', ok(NETWORKS));
  routes.set('GET /api/v1/policys/default:prod_web/', ok({ tenantName: 'default', policyName: 'prod_web' }));
  routes.set('GET /api/v1/rules/', ok(RULES));
  routes.set(
    'GET /api/v1/globals/global/',
    ok({
      key: 'global',
      name: 'global',
      networkInfraType: 'default',
      vlans: '1-4094',
      vxlans: '1-10000',
      fwdMode: 'bridge',
      arpMode: 'proxy',
      pvtSubnet: '172.19.0.0/16',
    }),
  );
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** One real netctl process. Async on purpose: the stub server lives in this process's event loop. */
function netctl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [NETCTL, '--netmaster', url, ...args],
      { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The writes (non-GET calls) the last command made. */
function writes(): Recorded[] {
  return recorded.filter((r) => r.method !== 'GET');
}

before(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  recorded.length = 0;
  resetRoutes();
});

/** Runs a create-like command and checks it sent exactly one request with this method, path and body. */
async function expectWrite(
  args: string[],
  method: string,
  path: string,
  body: unknown,
  stdout = '',
): Promise<void> {
  recorded.length = 0;
  const r = await netctl(args);
  assert.equal(r.code, 0, `netctl ${args.join(' ')} failed: ${r.stderr}`);
  assert.equal(r.stderr, '');
  assert.deepEqual(writes(), [{ method, path, body }], `netctl ${args.join(' ')}`);
  assert.equal(r.stdout, stdout);
}

describe('netctl: the seed and developer-guide commands send Contiv REST calls', () => {
  it('net create with long = flags (dev guide)', async () => {
    await expectWrite(
      ['net', 'create', 'contiv-net', '--subnet=20.1.1.0/24', '--gateway=20.1.1.254', '--pkt-tag=1001'],
      'POST',
      '/api/v1/networks/default:contiv-net/',
      {
        tenantName: 'default',
        networkName: 'contiv-net',
        encap: 'vxlan',
        subnet: '20.1.1.0/24',
        gateway: '20.1.1.254',
        pktTag: 1001,
        nwType: 'data',
      },
      'Creating network default:contiv-net\n',
    );
  });

  it('network create with short flags (v2plugin README)', async () => {
    await expectWrite(
      ['network', 'create', 'contiv-net-1', '-s', '200.1.1.1/24', '-g', '200.1.1.200'],
      'POST',
      '/api/v1/networks/default:contiv-net-1/',
      {
        tenantName: 'default',
        networkName: 'contiv-net-1',
        encap: 'vxlan',
        subnet: '200.1.1.1/24',
        gateway: '200.1.1.200',
        nwType: 'data',
      },
      'Creating network default:contiv-net-1\n',
    );
    await expectWrite(
      ['network', 'create', 'contiv-net', '-s', '100.1.1.1/24', '-g', '100.1.1.100'],
      'POST',
      '/api/v1/networks/default:contiv-net/',
      {
        tenantName: 'default',
        networkName: 'contiv-net',
        encap: 'vxlan',
        subnet: '100.1.1.1/24',
        gateway: '100.1.1.100',
        nwType: 'data',
      },
      'Creating network default:contiv-net\n',
    );
  });

  it('net create in a tenant, flags before the name (tutorial)', async () => {
    await expectWrite(
      ['net', 'create', '-t', 'default', '--subnet=20.1.1.0/24', 'default-net'],
      'POST',
      '/api/v1/networks/default:default-net/',
      {
        tenantName: 'default',
        networkName: 'default-net',
        encap: 'vxlan',
        subnet: '20.1.1.0/24',
        nwType: 'data',
      },
      'Creating network default:default-net\n',
    );
    await expectWrite(
      ['net', 'create', '--subnet=10.1.2.0/24', 'contiv-net'],
      'POST',
      '/api/v1/networks/default:contiv-net/',
      {
        tenantName: 'default',
        networkName: 'contiv-net',
        encap: 'vxlan',
        subnet: '10.1.2.0/24',
        nwType: 'data',
      },
      'Creating network default:contiv-net\n',
    );
    await expectWrite(
      ['net', 'create', '-t', 'blue', '--subnet=10.1.2.0/24', 'contiv-net'],
      'POST',
      '/api/v1/networks/blue:contiv-net/',
      {
        tenantName: 'blue',
        networkName: 'contiv-net',
        encap: 'vxlan',
        subnet: '10.1.2.0/24',
        nwType: 'data',
      },
      'Creating network blue:contiv-net\n',
    );
  });

  it('net create vlan with a packet tag (tutorial)', async () => {
    await expectWrite(
      ['net', 'create', '-p', '112', '-e', 'vlan', '-s', '10.1.3.0/24', 'contiv-vlan'],
      'POST',
      '/api/v1/networks/default:contiv-vlan/',
      {
        tenantName: 'default',
        networkName: 'contiv-vlan',
        encap: 'vlan',
        subnet: '10.1.3.0/24',
        pktTag: 112,
        nwType: 'data',
      },
      'Creating network default:contiv-vlan\n',
    );
  });

  it('net create with every flag, a range subnet and IPv6', async () => {
    await expectWrite(
      [
        'net',
        'create',
        'infra1',
        '-s',
        '10.1.1.10-10.1.1.20/24',
        '-n',
        'infra',
        '-s6',
        'fd00::/64',
        '-g6',
        'fd00::1',
        '-tag',
        'nt1',
      ],
      'POST',
      '/api/v1/networks/default:infra1/',
      {
        tenantName: 'default',
        networkName: 'infra1',
        encap: 'vxlan',
        subnet: '10.1.1.10-10.1.1.20/24',
        ipv6Subnet: 'fd00::/64',
        ipv6Gateway: 'fd00::1',
        nwType: 'infra',
        cfgdTag: 'nt1',
      },
      'Creating network default:infra1\n',
    );
  });

  it('tenant create (tutorial)', async () => {
    await expectWrite(
      ['tenant', 'create', 'blue'],
      'POST',
      '/api/v1/tenants/blue/',
      { tenantName: 'blue' },
      'Creating tenant: blue\n',
    );
  });

  it('policy create prod_web / p1', async () => {
    await expectWrite(
      ['policy', 'create', 'prod_web'],
      'POST',
      '/api/v1/policys/default:prod_web/',
      { policyName: 'prod_web', tenantName: 'default' },
      'Creating policy default:prod_web\n',
    );
    await expectWrite(
      ['policy', 'create', 'p1'],
      'POST',
      '/api/v1/policys/default:p1/',
      { policyName: 'p1', tenantName: 'default' },
      'Creating policy default:p1\n',
    );
  });

  it('policy rule-add with single-dash long flags (README)', async () => {
    await expectWrite(
      ['policy', 'rule-add', 'prod_web', '1', '-direction=in', '-protocol=tcp', '-action=deny'],
      'POST',
      '/api/v1/rules/default:prod_web:1/',
      {
        tenantName: 'default',
        policyName: 'prod_web',
        ruleId: '1',
        priority: 1,
        direction: 'in',
        protocol: 'tcp',
        action: 'deny',
      },
    );
    await expectWrite(
      [
        'policy',
        'rule-add',
        'prod_web',
        '2',
        '-direction=in',
        '-protocol=tcp',
        '-port=80',
        '-action=allow',
        '-priority=10',
      ],
      'POST',
      '/api/v1/rules/default:prod_web:2/',
      {
        tenantName: 'default',
        policyName: 'prod_web',
        ruleId: '2',
        priority: 10,
        direction: 'in',
        protocol: 'tcp',
        port: 80,
        action: 'allow',
      },
    );
    await expectWrite(
      [
        'policy',
        'rule-add',
        'prod_web',
        '3',
        '-direction=in',
        '-protocol=tcp',
        '-port=443',
        '-action=allow',
        '-priority=10',
      ],
      'POST',
      '/api/v1/rules/default:prod_web:3/',
      {
        tenantName: 'default',
        policyName: 'prod_web',
        ruleId: '3',
        priority: 10,
        direction: 'in',
        protocol: 'tcp',
        port: 443,
        action: 'allow',
      },
    );
  });

  it('policy rule-add with short flags and groups/networks/addresses', async () => {
    await expectWrite(
      [
        'policy',
        'rule-add',
        '-t',
        'blue',
        'p',
        '7',
        '-d',
        'out',
        '-e',
        'db',
        '-s',
        '10.0.0.0/8',
        '-l',
        '17',
        '-P',
        '53',
        '-j',
        'deny',
        '-p',
        '100',
      ],
      'POST',
      '/api/v1/rules/blue:p:7/',
      {
        tenantName: 'blue',
        policyName: 'p',
        ruleId: '7',
        priority: 100,
        direction: 'out',
        toEndpointGroup: 'db',
        toIpAddress: '10.0.0.0/8',
        protocol: '17',
        port: 53,
        action: 'deny',
      },
    );
    await expectWrite(
      ['policy', 'rule-add', 'p', '8', '--from-network', 'n1', '--from-ip-address', '1.2.3.4'],
      'POST',
      '/api/v1/rules/default:p:8/',
      {
        tenantName: 'default',
        policyName: 'p',
        ruleId: '8',
        priority: 1,
        direction: 'in',
        fromNetwork: 'n1',
        fromIpAddress: '1.2.3.4',
        action: 'allow',
      },
    );
  });

  it('group create with -policy= after the names (README) and -p/-tag before them (v2plugin)', async () => {
    await expectWrite(
      ['group', 'create', 'contiv-net', 'web', '-policy=prod_web'],
      'POST',
      '/api/v1/endpointGroups/default:web/',
      { tenantName: 'default', networkName: 'contiv-net', groupName: 'web', policies: ['prod_web'] },
      'Creating EndpointGroup default:web\n',
    );
    await expectWrite(
      ['group', 'create', '-p', 'p1', '-tag', 'policylabel', 'contiv-net-1', 'group1'],
      'POST',
      '/api/v1/endpointGroups/default:group1/',
      {
        tenantName: 'default',
        networkName: 'contiv-net-1',
        groupName: 'group1',
        policies: ['p1'],
        cfgdTag: 'policylabel',
      },
      'Creating EndpointGroup default:group1\n',
    );
  });

  it('group create with repeated policies, profile, contracts and ip pool', async () => {
    await expectWrite(
      [
        'group',
        'create',
        'net1',
        'db',
        '-p',
        'a',
        '-p',
        'b',
        '-n',
        'gold',
        '-e',
        'ec1',
        '-r',
        '10.1.1.10-10.1.1.20',
      ],
      'POST',
      '/api/v1/endpointGroups/default:db/',
      {
        tenantName: 'default',
        networkName: 'net1',
        groupName: 'db',
        netProfile: 'gold',
        ipPool: '10.1.1.10-10.1.1.20',
        policies: ['a', 'b'],
        extContractsGrps: ['ec1'],
      },
      'Creating EndpointGroup default:db\n',
    );
  });

  it('netprofile create with a spaced bandwidth', async () => {
    await expectWrite(
      ['netprofile', 'create', 'gold', '-b', '10 mbps', '-d', '6', '-s', '200'],
      'POST',
      '/api/v1/netprofiles/default:gold/',
      { burst: 200, bandwidth: '10 mbps', DSCP: 6, profileName: 'gold', tenantName: 'default' },
      'Creating netprofile default:gold\n',
    );
  });

  it('app-profile and external-contracts create', async () => {
    await expectWrite(
      ['app-profile', 'create', 'app1', '-g', 'web,db'],
      'POST',
      '/api/v1/appProfiles/default:app1/',
      { tenantName: 'default', appProfileName: 'app1', endpointGroups: ['web', 'db'] },
      'Creating AppProfile default:app1\n',
    );
    await expectWrite(
      ['external-contracts', 'create', 'ec1', '-c', '-a', 'uni/tn-common/brc-default'],
      'POST',
      '/api/v1/extContractsGroups/default:ec1/',
      {
        tenantName: 'default',
        contractsGroupName: 'ec1',
        contractsType: 'consumed',
        contracts: ['uni/tn-common/brc-default'],
      },
      'Creating ExternalContracts default:ec1\n',
    );
  });

  it('bgp create', async () => {
    await expectWrite(
      [
        'bgp',
        'create',
        'host1',
        '--router-ip',
        '50.1.1.1/24',
        '--as',
        '65002',
        '--neighbor-as',
        '500',
        '--neighbor',
        '50.1.1.2',
      ],
      'POST',
      '/api/v1/Bgps/host1/',
      { as: '65002', hostname: 'host1', neighbor: '50.1.1.2', 'neighbor-as': '500', routerip: '50.1.1.1/24' },
    );
  });

  it('aci-gw set sends the whole object with its yes/no defaults', async () => {
    await expectWrite(
      ['aci-gw', 'set', '-d', 'containerDom', '-n', 'topology/pod-1/node-101'],
      'POST',
      '/api/v1/aciGws/aciGw/',
      {
        name: 'aciGw',
        enforcePolicies: 'yes',
        includeCommonTenant: 'no',
        nodeBindings: 'topology/pod-1/node-101',
        pathBindings: '',
        physicalDomain: 'containerDom',
      },
    );
  });

  it('global set reads the object and changes only the given fields (installer hint)', async () => {
    recorded.length = 0;
    const r = await netctl(['global', 'set', '--fwd-mode', 'routing']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      recorded.map((x) => `${x.method} ${x.path}`),
      ['GET /api/v1/globals/global/', 'POST /api/v1/globals/global/'],
    );
    assert.deepEqual(recorded[1]!.body, {
      key: 'global',
      name: 'global',
      networkInfraType: 'default',
      vlans: '1-4094',
      vxlans: '1-10000',
      fwdMode: 'routing',
      arpMode: 'proxy',
      pvtSubnet: '172.19.0.0/16',
    });
    recorded.length = 0;
    const r2 = await netctl([
      'global',
      'set',
      '-f',
      'aci',
      '-v',
      '100-200',
      '-x',
      '5000-6000',
      '-a',
      'flood',
      '-s',
      '172.20.0.0/16',
    ]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(writes()[0]!.body, {
      key: 'global',
      name: 'global',
      networkInfraType: 'aci',
      vlans: '100-200',
      vxlans: '5000-6000',
      fwdMode: 'bridge',
      arpMode: 'flood',
      pvtSubnet: '172.20.0.0/16',
    });
  });

  it('rm verbs DELETE the object key and print what netctl printed', async () => {
    const cases: [string[], string, string][] = [
      [
        ['net', 'rm', 'contiv-net'],
        '/api/v1/networks/default:contiv-net/',
        'Deleting network default:contiv-net\n',
      ],
      [
        ['network', 'delete', '-t', 'blue', 'contiv-net'],
        '/api/v1/networks/blue:contiv-net/',
        'Deleting network blue:contiv-net\n',
      ],
      [['tenant', 'rm', 'blue'], '/api/v1/tenants/blue/', 'Deleting tenant blue\n'],
      [['group', 'rm', 'web'], '/api/v1/endpointGroups/default:web/', ''],
      [
        ['policy', 'rm', 'prod_web'],
        '/api/v1/policys/default:prod_web/',
        'Deleting policy default:prod_web\n',
      ],
      [['policy', 'rule-rm', 'prod_web', '1'], '/api/v1/rules/default:prod_web:1/', ''],
      [['netprofile', 'rm', 'gold'], '/api/v1/netprofiles/default:gold/', ''],
      [['app-profile', 'rm', 'app1'], '/api/v1/appProfiles/default:app1/', ''],
      [
        ['external-contracts', 'rm', 'ec1'],
        '/api/v1/extContractsGroups/default:ec1/',
        'Deleting external contracts group ec1 in tenant default\n',
      ],
      [['bgp', 'rm', 'host1'], '/api/v1/Bgps/host1/', 'Deleting Bgp router config: host1\n'],
      [['service', 'rm', 'svc1'], '/api/v1/serviceLBs/default:svc1/', 'Deleting Service  svc1,default\n'],
    ];
    for (const [args, path, out] of cases) await expectWrite(args, 'DELETE', path, undefined, out);
  });
});

describe('netctl: inspect and version', () => {
  it('inspect verbs GET /api/v1/inspect/<plural>/<key>/ and print the JSON', async () => {
    const inspected = {
      Config: { tenantName: 'default', networkName: 'contiv-net' },
      Oper: { numEndpoints: 2 },
    };
    const cases: [string[], string][] = [
      [['net', 'inspect', 'contiv-net'], '/api/v1/inspect/networks/default:contiv-net/'],
      [['tenant', 'inspect', 'blue'], '/api/v1/inspect/tenants/blue/'],
      [['group', 'inspect', '-t', 'blue', 'web'], '/api/v1/inspect/endpointGroups/blue:web/'],
      [['policy', 'inspect', 'prod_web'], '/api/v1/inspect/policys/default:prod_web/'],
      [['netprofile', 'inspect', 'gold'], '/api/v1/inspect/netprofiles/default:gold/'],
      [['bgp', 'inspect', 'host1'], '/api/v1/inspect/Bgps/host1/'],
      [['global', 'inspect'], '/api/v1/inspect/globals/global/'],
      [['aci-gw', 'inspect'], '/api/v1/inspect/aciGws/aciGw/'],
      [['endpoint', 'inspect', 'abc123'], '/api/v1/inspect/endpoints/abc123/'],
      [['ep', 'inspect', 'abc123'], '/api/v1/inspect/endpoints/abc123/'],
      [['service', 'inspect', 'svc1'], '/api/v1/inspect/serviceLBs/default:svc1/'],
    ];
    for (const [args, path] of cases) {
      routes.set(`GET ${path}`, { status: 200, body: inspected });
      recorded.length = 0;
      const r = await netctl(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.deepEqual(
        recorded.map((x) => `${x.method} ${x.path}`),
        [`GET ${path}`],
      );
      assert.equal(r.stdout, `${JSON.stringify(inspected, null, 2)}\n`);
    }
  });

  it('version prints the client and the server versions', async () => {
    routes.set('GET /version', {
      status: 200,
      body: { Version: '1.0.3', GitCommit: 'c61eb64', BuildTime: 'today' },
    });
    const r = await netctl(['version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Client Version:\nVersion: 0\.1\.0\nGitCommit: .*\nBuildTime: .*\n\n/);
    assert.ok(
      r.stdout.endsWith('Server Version:\nVersion: 1.0.3\nGitCommit: c61eb64\nBuildTime: today\n'),
      r.stdout,
    );
  });
});

describe('netctl: list views', () => {
  it('net ls prints the seed table for the default tenant, after checking the tenant', async () => {
    const r = await netctl(['net', 'ls']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      recorded.map((x) => `${x.method} ${x.path}`),
      ['GET /api/v1/tenants/default/', 'GET /api/v1/networks/'],
    );
    assert.equal(
      r.stdout,
      'Tenant   Network      Nw Type  Encap type  Packet tag  Subnet       Gateway  IPv6Subnet  IPv6Gateway  Cfgd Tag \n' +
        '------   -------      -------  ----------  ----------  -------      ------   ----------  -----------  ---------\n' +
        'default  contiv-vlan  data     vlan        112         10.1.3.0/24                                    \n' +
        'default  contiv-net   data     vxlan       0           10.1.2.0/24                                    \n',
    );
  });

  it('net ls -t blue filters to the tenant; -a lists all; -q names only; -j JSON', async () => {
    const blue = await netctl(['net', 'ls', '-t', 'blue']);
    assert.equal(blue.code, 0, blue.stderr);
    assert.equal(
      blue.stdout,
      'Tenant  Network     Nw Type  Encap type  Packet tag  Subnet       Gateway     IPv6Subnet  IPv6Gateway  Cfgd Tag \n' +
        '------  -------     -------  ----------  ----------  -------      ------      ----------  -----------  ---------\n' +
        'blue    contiv-net  data     vxlan       2           10.1.2.0/24  10.1.2.254                           bluetag\n',
    );
    const quiet = await netctl(['net', 'ls', '-a', '-q']);
    assert.equal(quiet.stdout, 'contiv-vlan\ncontiv-net\ncontiv-net\n');
    const json = await netctl(['net', 'ls', '--json']);
    assert.deepEqual(JSON.parse(json.stdout), NETWORKS.slice(0, 2));
    const globalTenant = await netctl(['-t', 'blue', 'net', 'ls', '-q']);
    assert.equal(globalTenant.stdout, 'contiv-net\n');
  });

  it('tenant ls', async () => {
    const r = await netctl(['tenant', 'ls']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Name     \n------   \ndefault  \nblue     \n');
  });

  it('group ls shows policies joined by commas', async () => {
    routes.set('GET /api/v1/endpointGroups/', {
      status: 200,
      body: [
        {
          tenantName: 'default',
          groupName: 'web',
          networkName: 'contiv-net',
          policies: ['prod_web', 'p2'],
          netProfile: 'gold',
        },
        {
          tenantName: 'default',
          groupName: 'group1',
          networkName: 'contiv-net-1',
          cfgdTag: 'policylabel',
          ipPool: '10.1.1.10-10.1.1.20',
        },
        { tenantName: 'blue', groupName: 'x', networkName: 'n' },
      ],
    });
    const r = await netctl(['group', 'ls']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'Tenant   Group   Network       IP Pool              CfgdTag      Policies     Network profile\n' +
        '------   -----   -------       -------              -------      --------     ---------------\n' +
        'default  web     contiv-net                                      prod_web,p2  gold\n' +
        'default  group1  contiv-net-1  10.1.1.10-10.1.1.20  policylabel               \n',
    );
  });

  it('policy ls and policy rule-ls (rules by priority, in and out sections)', async () => {
    routes.set('GET /api/v1/policys/', {
      status: 200,
      body: [
        { tenantName: 'default', policyName: 'prod_web' },
        { tenantName: 'blue', policyName: 'bp' },
      ],
    });
    const p = await netctl(['policy', 'ls', '--all']);
    assert.equal(p.stdout, 'Tenant   Policy\n------   ------\ndefault  prod_web\nblue     bp\n');

    recorded.length = 0;
    const r = await netctl(['policy', 'rule-ls', 'prod_web']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      recorded.map((x) => x.path),
      ['/api/v1/tenants/default/', '/api/v1/policys/default:prod_web/', '/api/v1/rules/'],
    );
    assert.equal(
      r.stdout,
      'Incoming Rules:\n' +
        'Rule  Priority  From EndpointGroup  From Network  From IpAddress  To IpAddress  Protocol  Port  Action\n' +
        '----  --------  ------------------  ------------  ---------       ------------  --------  ----  ------\n' +
        '1     1                                                                         tcp       0     deny\n' +
        '2     10                                                                        tcp       80    allow\n' +
        'Outgoing Rules:\n' +
        'Rule  Priority  To EndpointGroup  To Network  To IpAddress  Protocol  Port  Action\n' +
        '----  --------  ----------------  ----------  ---------     --------  ----  ------\n' +
        '5     3         db                                          udp       53    allow\n',
    );
    const q = await netctl(['policy', 'rule-ls', '-q', 'prod_web']);
    assert.equal(q.stdout, '1\n5\n2\n');
  });

  it('netprofile, app-profile, external-contracts, bgp, service ls and global info', async () => {
    routes.set('GET /api/v1/netprofiles/', {
      status: 200,
      body: [
        { tenantName: 'default', profileName: 'gold', bandwidth: '10 mbps', DSCP: 6, burst: 200 },
        { tenantName: 'default', profileName: 'plain', DSCP: 2 },
      ],
    });
    const np = await netctl(['netprofile', 'ls']);
    assert.equal(
      np.stdout,
      'Name    Tenant   Bandwidth  DSCP      burst size\n' +
        '------  ------   ---------  --------  ----------\n' +
        'gold    default  10Mbps     6         200\n' +
        'plain   default             2\n',
    );

    routes.set('GET /api/v1/appProfiles/', {
      status: 200,
      body: [{ tenantName: 'default', appProfileName: 'app1', endpointGroups: ['web', 'db'] }],
    });
    const ap = await netctl(['app-profile', 'ls']);
    assert.equal(
      ap.stdout,
      'Tenant   AppProfile  Groups\n------   ----------  ------\ndefault  app1        web,db\n',
    );

    routes.set('GET /api/v1/extContractsGroups/', {
      status: 200,
      body: [
        {
          tenantName: 'default',
          contractsGroupName: 'ec1',
          contractsType: 'consumed',
          contracts: ['a', 'b'],
        },
      ],
    });
    const ec = await netctl(['external-contracts', 'ls']);
    assert.equal(
      ec.stdout,
      // Go's empty "\t\t" cells still take the 2-space padding; the row has one cell fewer than the header.
      'Tenant   Name      Type        Contracts\n' +
        '------   ------    ------      -------\n' +
        'default  ec1       consumed  [a b]\n',
    );

    routes.set('GET /api/v1/Bgps/', {
      status: 200,
      body: [
        {
          hostname: 'host1',
          routerip: '50.1.1.1/24',
          as: '65002',
          neighbor: '50.1.1.2',
          'neighbor-as': '500',
        },
      ],
    });
    const bgp = await netctl(['bgp', 'ls']);
    assert.equal(
      bgp.stdout,
      'HostName   RouterIP     AS       Neighbor  NeighborAS\n' +
        '---------  --------     -------  --------  -------\n' +
        'host1      50.1.1.1/24  65002    50.1.1.2  500\n',
    );

    routes.set('GET /api/v1/serviceLBs/', {
      status: 200,
      body: [{ tenantName: 'default', serviceName: 'svc1', networkName: 'n1', selectors: ['app=web'] }],
    });
    const svc = await netctl(['service', 'ls']);
    assert.equal(
      svc.stdout,
      // netctl ended rows (not the header) with a tab, so only the rows carry the padded Selectors cell.
      'ServiceName  Tenant    Network  Selectors\n' +
        '---------    --------  -------  -------\n' +
        'svc1         default   n1       [app=web]  \n',
    );

    routes.set('GET /api/v1/globals/', {
      status: 200,
      body: [
        {
          name: 'global',
          networkInfraType: 'default',
          fwdMode: 'bridge',
          arpMode: 'proxy',
          vlans: '1-4094',
          vxlans: '1-10000',
          pvtSubnet: '172.19.0.0/16',
        },
      ],
    });
    const gi = await netctl(['global', 'info']);
    assert.equal(
      gi.stdout,
      'Fabric mode: default\nForward mode: bridge\nARP mode: proxy\nVlan Range: 1-4094\nVxlan range: 1-10000\nPrivate subnet: 172.19.0.0/16\n',
    );
  });
});

describe('netctl: errors', () => {
  it('a 4xx with {"Err"} is one stderr line and exit 1, and create prints nothing', async () => {
    routes.set('POST /api/v1/networks/default:bad/', {
      status: 400,
      body: { Err: 'tenant default not found' },
    });
    const r = await netctl(['net', 'create', 'bad', '-s', '10.9.9.0/24']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      'Error: POST /api/v1/networks/default:bad/ returned 400: tenant default not found\n',
    );
  });

  it('a 500 with plain text and a 404 on list are reported the same way', async () => {
    routes.set('DELETE /api/v1/policys/default:used/', {
      status: 500,
      body: 'policy is attached to group web\n',
    });
    const d = await netctl(['policy', 'rm', 'used']);
    assert.equal(d.code, 1);
    assert.equal(
      d.stderr,
      'Error: DELETE /api/v1/policys/default:used/ returned 500: policy is attached to group web\n',
    );
    const l = await netctl(['net', 'ls', '-t', 'nosuch']);
    assert.equal(l.code, 1);
    assert.equal(l.stderr, 'Error: GET /api/v1/tenants/nosuch/ returned 404: Page not found!\n');
  });

  it('an unknown flag exits 2 naming the flag, with the command usage', async () => {
    const r = await netctl(['net', 'create', 'x', '-s', '10.1.1.0/24', '--bogus=1']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^Error: unknown flag '--bogus' for 'netctl network create'\n\nUsage: netctl network create/,
    );
    assert.match(r.stderr, /--subnet, -s CIDR/);
    assert.deepEqual(recorded, []);
  });

  it('missing required flags or arguments exit 2 before any request', async () => {
    const noSubnet = await netctl(['net', 'create', 'x']);
    assert.equal(noSubnet.code, 2);
    assert.match(noSubnet.stderr, /flag '--subnet' is required/);
    const noName = await netctl(['policy', 'rule-add', 'prod_web']);
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /^Error: Policy name and Rule ID required\n/);
    const noVerb = await netctl(['net']);
    assert.equal(noVerb.code, 2);
    const badObj = await netctl(['nope', 'ls']);
    assert.equal(badObj.code, 2);
    assert.match(badObj.stderr, /unknown object 'nope'/);
    const badGlobal = await netctl(['--bogus', 'net', 'ls']);
    assert.equal(badGlobal.code, 2);
    assert.match(
      badGlobal.stderr,
      /^Error: unknown flag '--bogus' for 'netctl'\n\nUsage: netctl \[global flags\]/,
    );
    const badInt = await netctl(['net', 'create', 'x', '-s', '10.1.1.0/24', '-p', 'ten']);
    assert.equal(badInt.code, 2);
    const bgp = await netctl(['bgp', 'create', 'h', '--router-ip', '1.1.1.1/24']);
    assert.equal(bgp.code, 2);
    assert.deepEqual(recorded, []);
  });

  it('bad values exit 1 with the reason and send nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['policy', 'rule-add', 'p', '1', '-direction=sideways'], /Unknown direction 'sideways'/],
      [
        ['policy', 'rule-add', 'p', '1', '-direction=in', '-to-group=db'],
        /Cant specify to-group for incoming rule/,
      ],
      [['policy', 'rule-add', 'p', '1', '-priority=101'], /Invalid priority 101/],
      [['policy', 'rule-add', 'p', '1', '-action=drop'], /Invalid action 'drop'/],
      [['net', 'create', 'x', '-s', '10.1.1.0/24', '-g', 'nogw'], /Invalid gateway/],
      [['net', 'create', 'x', '-s', '10.1.1.0'], /Invalid subnet/],
      [['net', 'create', 'x', '-s', '10.1.1.0/24', '-e', 'gre'], /Invalid encap 'gre'/],
      [['netprofile', 'create', 'x', '-b', 'fast'], /Invalid bandwidth 'fast'/],
      [['global', 'set', '--fwd-mode', 'l3'], /Invalid fwd-mode 'l3'/],
      [['external-contracts', 'create', 'ec', '-a', 'c'], /Either provided or consumed/],
    ];
    for (const [args, re] of cases) {
      const r = await netctl(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, re);
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    }
    assert.deepEqual(writes(), []);
  });

  it('an unreachable netmaster is one line and exit 1; NETMASTER env is honoured', async () => {
    const dead = await new Promise<string>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(`http://127.0.0.1:${port}`));
      });
    });
    const r = await netctl(['--netmaster', dead, 'tenant', 'ls']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error: GET \/api\/v1\/tenants\/: cannot reach netmaster at http:\/\/127\.0\.0\.1:\d+: .+\n$/,
    );

    // The later --netmaster in netctl() wins; so call the binary directly with only the env var.
    const viaEnv = await new Promise<Run>((resolve) => {
      execFile(
        process.execPath,
        [NETCTL, 'tenant', 'ls', '-q'],
        { env: { PATH: process.env.PATH, NETMASTER: url } },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(viaEnv.stdout, 'default\nblue\n');
  });

  it('help exits 0 on stdout', async () => {
    const r = await netctl(['policy', 'rule-add', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: netctl policy rule-add \[flags\] POLICY RULEID/);
    assert.match(r.stdout, /--from-group, -g GROUP/);
  });
});
