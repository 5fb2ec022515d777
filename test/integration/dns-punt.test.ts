// DNS service discovery in the datapath, as Contiv did it: a container's query to whatever resolver
// it uses is punted to the controller; names of its tenant (containers, groups, group.network) are
// answered there, everything else reaches the resolver the container asked. Names follow the
// store: a removed endpoint's name is gone within a second.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { endpointKey } from '../../policy/model/endpoint.js';
import { type AgentLab, type LabEndpoint, startAgentLab } from '../harness/agent.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS, 'dig', 'dnsmasq');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const GATEWAY = '40.1.1.254';

describe('DNS punt', { skip }, () => {
  let lab: AgentLab;
  let client: LabEndpoint;
  let resolver: LabEndpoint;

  const dig = async (server: string, name: string, type = 'A'): Promise<string[]> => {
    const out = await client.ns.exec('dig', ['+short', '+tries=1', '+time=2', `@${server}`, name, type]);
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith(';'));
  };

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    lab = await startAgentLab();
    await lab.rest('POST', '/api/v1/networks/default:n1/', {
      tenantName: 'default',
      networkName: 'n1',
      encap: 'vxlan',
      subnet: '40.1.1.0/24',
      gateway: GATEWAY,
    });
    for (const g of ['web', 'db']) {
      await lab.rest('POST', `/api/v1/endpointGroups/default:${g}/`, {
        tenantName: 'default',
        groupName: g,
        networkName: 'n1',
      });
    }
    await lab.addEndpoint('web1', 'n1', 'web', '40.1.1.1', GATEWAY);
    await lab.addEndpoint('web2', 'n1', 'web', '40.1.1.2', GATEWAY);
    client = await lab.addEndpoint('client', 'n1', 'db', '40.1.1.3', GATEWAY);
    // The container's "own resolver": a dnsmasq in another endpoint, knowing one outside name.
    resolver = await lab.addEndpoint('resolver', 'n1', 'db', '40.1.1.9', GATEWAY);
    const dnsmasq = spawn(
      'ip',
      [
        'netns',
        'exec',
        resolver.ns.name,
        'dnsmasq',
        '--no-daemon',
        '--no-resolv',
        '--no-hosts',
        '--bind-interfaces',
        '--listen-address=40.1.1.9',
        '--address=/outside.test/10.9.9.9',
        '--address=/web/10.6.6.6',
      ],
      { stdio: 'ignore' },
    );
    onCleanup(() => {
      dnsmasq.kill();
    });
    await sleep(300);
  });
  after(runCleanups);

  test("a container's query for a group name is answered with every member, in rotating order", async () => {
    const first = await dig(GATEWAY, 'web');
    assert.deepEqual([...first].sort(), ['40.1.1.1', '40.1.1.2']);
    const orders = new Set([first.join(',')]);
    for (let i = 0; i < 4; i++) orders.add((await dig(GATEWAY, 'web')).join(','));
    assert.ok(orders.size > 1, `answers rotate: ${[...orders].join(' | ')}`);
    assert.deepEqual(await dig(GATEWAY, 'web1'), ['40.1.1.1'], 'container name');
    assert.deepEqual((await dig(GATEWAY, 'web.n1')).sort(), ['40.1.1.1', '40.1.1.2'], 'group.network');
  });

  test('our names are answered whatever resolver the container asks; other names reach that resolver', async () => {
    // The resolver would say 10.6.6.6 for "web": the datapath answers first.
    assert.deepEqual((await dig('40.1.1.9', 'web')).sort(), ['40.1.1.1', '40.1.1.2']);
    assert.deepEqual(
      await dig('40.1.1.9', 'outside.test'),
      ['10.9.9.9'],
      'not ours: relayed to the resolver',
    );
  });

  test('a removed endpoint is gone from the answers within a second', async () => {
    await lab.store.delete(endpointKey('web2'));
    const t0 = Date.now();
    let got: string[] = [];
    while (Date.now() - t0 < 1000) {
      got = await dig(GATEWAY, 'web');
      if (got.length === 1) break;
      await sleep(50);
    }
    assert.deepEqual(got, ['40.1.1.1'], `after ${Date.now() - t0} ms`);
  });
});
