import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApplyStats } from '../../controller/flowtable/manager.js';
import { endpointKey } from '../../policy/model/endpoint.js';
import { type AgentLab, LAB_BRIDGE, type LabEndpoint, startAgentLab } from '../harness/agent.js';
import { runCleanups } from '../harness/cleanup.js';
import { listenIn, type NcListener, pingFrom, tcpConnectFrom } from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('host agent on one host', { skip }, () => {
  let lab: AgentLab;
  const eps = new Map<string, LabEndpoint>();
  const listeners = new Set<NcListener>();
  const ep = (name: string) => eps.get(name) as LabEndpoint;
  const add = async (name: string, group: string, ip: string) => {
    const e = await lab.addEndpoint(name, 'contiv-net', group, ip, '20.1.1.254');
    eps.set(name, e);
    return e;
  };

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    lab = await startAgentLab();
    await lab.rest('POST', '/api/v1/networks/default:contiv-net/', {
      tenantName: 'default',
      networkName: 'contiv-net',
      encap: 'vxlan',
      subnet: '20.1.1.0/24',
      gateway: '20.1.1.254',
    });
    await lab.rest('POST', '/api/v1/policys/default:prod_web/', {
      tenantName: 'default',
      policyName: 'prod_web',
    });
    const rule = (ruleId: string, extra: object) =>
      lab.rest('POST', `/api/v1/rules/default:prod_web:${ruleId}/`, {
        tenantName: 'default',
        policyName: 'prod_web',
        ruleId,
        direction: 'in',
        ...extra,
      });
    await rule('1', { protocol: 'tcp', action: 'deny' });
    await rule('2', { protocol: 'tcp', port: 80, action: 'allow', priority: 10 });
    for (const [group, policies] of [
      ['web', ['prod_web']],
      ['db', []],
    ] as const) {
      await lab.rest('POST', `/api/v1/endpointGroups/default:${group}/`, {
        tenantName: 'default',
        groupName: group,
        networkName: 'contiv-net',
        policies,
      });
    }
    await add('web1', 'web', '20.1.1.1');
    await add('web2', 'web', '20.1.1.2');
    await add('db1', 'db', '20.1.1.3');
    for (const e of eps.values()) {
      for (const port of [80, 22]) await listenIn(e.ns.name, port, listeners);
    }
  });

  after(async () => {
    for (const l of listeners) await l.stop();
    await runCleanups();
  });

  test('endpoints of one network reach each other', async () => {
    assert.ok(await pingFrom(ep('web1').ns.name, '20.1.1.2', { timeoutSec: 5 }), 'web1 → web2');
    assert.ok(await pingFrom(ep('db1').ns.name, '20.1.1.1'), 'db1 → web1');
  });

  test("the seed policy: tcp 80 in is allowed, other tcp in is denied, replies to web's own connections pass", async () => {
    assert.ok(await tcpConnectFrom(ep('db1').ns.name, '20.1.1.1', 80), 'db1 → web1:80');
    assert.equal(await tcpConnectFrom(ep('db1').ns.name, '20.1.1.1', 22, 1000), false, 'db1 → web1:22');
    assert.equal(await tcpConnectFrom(ep('web2').ns.name, '20.1.1.1', 22, 1000), false, 'web2 → web1:22');
    assert.ok(await tcpConnectFrom(ep('web1').ns.name, '20.1.1.3', 22), 'web1 → db1:22 (db has no policy)');
  });

  test('a rule added at runtime applies; removing it restores', async () => {
    await lab.rest('POST', '/api/v1/rules/default:prod_web:3/', {
      tenantName: 'default',
      policyName: 'prod_web',
      ruleId: '3',
      direction: 'in',
      protocol: 'icmp',
      action: 'deny',
    });
    await lab.converged();
    assert.equal(await pingFrom(ep('db1').ns.name, '20.1.1.1', { timeoutSec: 1 }), false, 'icmp denied');
    await lab.rest('DELETE', '/api/v1/rules/default:prod_web:3/');
    await lab.converged();
    assert.ok(await pingFrom(ep('db1').ns.name, '20.1.1.1', { timeoutSec: 3 }), 'icmp back');
  });

  test('a removed endpoint takes its flows and port with it', async () => {
    const agent = lab.plugin.agent;
    assert.ok(agent);
    const before = agent.flowManager.desiredCount;
    const e = await add('tmp1', 'db', '20.1.1.9');
    const withIt = agent.flowManager.desiredCount;
    assert.ok(withIt > before, 'the endpoint brought flows');
    await agent.detachEndpoint('tmp1', e.hostIf);
    await lab.store.delete(endpointKey('tmp1'));
    await lab.converged();
    assert.equal(agent.flowManager.desiredCount, before);
    const ports = await lab.ovs.vsctl('list-ports', LAB_BRIDGE);
    assert.ok(!ports.includes(e.hostIf), 'port removed from the bridge');
    assert.equal(await pingFrom(ep('db1').ns.name, '20.1.1.9', { timeoutSec: 1 }), false);
  });

  test('an agent restart converges without touching a flow and without breaking traffic', async () => {
    const plugin = await lab.restartAgent();
    const stats = await new Promise<ApplyStats>((resolve) => plugin.agent.once('attached', resolve));
    assert.deepEqual([stats.flowsAdded, stats.flowsModified, stats.flowsDeleted], [0, 0, 0]);
    assert.ok(await pingFrom(ep('web1').ns.name, '20.1.1.2'), 'web1 → web2 after restart');
  });
});
