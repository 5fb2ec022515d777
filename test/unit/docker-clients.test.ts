// The Docker side's clients and pure planning without Docker: the Docker networks wanted for the
// store's networks and groups, and the netmaster REST client's bodies and error messages against a
// local HTTP server standing in for netmaster.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { MANAGED_LABEL } from '../../api/docker/engine.js';
import { RestNetmasterClient } from '../../api/docker/netmaster-client.js';
import { desiredNetworks } from '../../api/docker/sync.js';

describe('desiredNetworks', () => {
  test('a Docker network per Contiv network with a subnet and per group of such a network', () => {
    const nets = [
      {
        tenantName: 'default',
        networkName: 'contiv-net',
        subnet: '10.1.1.10-10.1.1.99/24',
        gateway: '10.1.1.1',
      },
      { tenantName: 'blue', networkName: 'contiv-net', subnet: '10.2.0.0/16' },
      { tenantName: 'default', networkName: 'v6only', ipv6Subnet: 'fd00::/64' },
    ];
    const groups = [
      { tenantName: 'default', groupName: 'web', networkName: 'contiv-net' },
      { tenantName: 'default', groupName: 'orphan', networkName: 'gone' },
      { tenantName: 'default', groupName: 'six', networkName: 'v6only' },
    ];
    const tags = new Map([['default:contiv-net', { encap: 'vxlan' as const, pktTag: 7 }]]);
    const d = desiredNetworks(nets, groups, 'np', 'contiv', undefined, new Set(), tags);
    assert.deepEqual([...d.keys()].sort(), ['contiv-net', 'contiv-net/blue', 'web.contiv-net']);
    assert.deepEqual(d.get('web.contiv-net'), {
      name: 'web.contiv-net',
      driver: 'np',
      ipamDriver: 'np',
      subnet: '10.1.1.0/24',
      gateway: '10.1.1.1',
      options: { tenant: 'default', network: 'contiv-net', group: 'web', encap: 'vxlan', 'pkt-tag': '7' },
      ipamOptions: { tenant: 'default', network: 'contiv-net', group: 'web' },
      labels: { [MANAGED_LABEL]: 'contiv' },
      attachable: true,
    });
    assert.equal(d.get('contiv-net/blue')?.gateway, undefined);
    assert.deepEqual(d.get('contiv-net/blue')?.options, {
      tenant: 'blue',
      network: 'contiv-net',
      encap: 'vxlan',
    });
    assert.equal(desiredNetworks(nets, [], 'np', 'contiv', 'swarm').get('contiv-net')?.scope, 'swarm');
  });
});

describe('RestNetmasterClient', () => {
  let server: Server;
  let url: string;
  const seen: { method: string; url: string; body: unknown }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => {
        text += c.toString();
      });
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          body: text ? JSON.parse(text) : undefined,
        });
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.url === '/plugin/allocAddress') return reply(200, { address: '10.1.1.5/24' });
        if (req.url === '/plugin/createEndpoint') return reply(409, { Err: 'ipAddress: 10.1.1.5 is in use' });
        if (req.url?.startsWith('/plugin/endpoints')) return reply(200, [{ endpointID: 'e1' }]);
        reply(200, {});
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('bodies as netmaster takes them; the address comes back bare', async () => {
    const c = new RestNetmasterClient(url);
    try {
      assert.equal(
        await c.allocAddress({ tenant: 'default', network: 'n', group: 'web', preferred: '10.1.1.5' }),
        '10.1.1.5',
      );
      await c.releaseAddress({ tenant: 'default', network: 'n', address: '10.1.1.5' });
      await c.deleteEndpoint('e1');
      assert.deepEqual(await c.listEndpoints('h 1'), [{ endpointID: 'e1' }]);
      assert.deepEqual(
        seen.map((s) => [s.method, s.url, s.body]),
        [
          [
            'POST',
            '/plugin/allocAddress',
            { tenant: 'default', network: 'n', group: 'web', preferred: '10.1.1.5' },
          ],
          ['POST', '/plugin/releaseAddress', { tenant: 'default', network: 'n', address: '10.1.1.5' }],
          ['POST', '/plugin/deleteEndpoint', { endpointID: 'e1' }],
          ['GET', '/plugin/endpoints?host=h%201', undefined],
        ],
      );
    } finally {
      c.close();
    }
  });

  test("netmaster's refusal and an unreachable netmaster are both clear errors", async () => {
    const c = new RestNetmasterClient(url);
    try {
      await assert.rejects(
        c.createEndpoint({
          endpointID: 'e2',
          tenant: 'default',
          network: 'n',
          group: '',
          ipAddress: '10.1.1.5',
          host: 'h1',
        }),
        { name: 'NetmasterCallError', status: 409, message: 'netmaster: ipAddress: 10.1.1.5 is in use' },
      );
    } finally {
      c.close();
    }
    const dead = new RestNetmasterClient('http://127.0.0.1:1');
    await assert.rejects(
      dead.allocAddress({ tenant: 'default', network: 'n', group: '' }),
      /netmaster at http:\/\/127\.0\.0\.1:1 \/plugin\/allocAddress: .*ECONNREFUSED/,
    );
    dead.close();
  });
});
