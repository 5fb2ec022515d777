// BGP across a netmaster switchover: the BGP lab (FRR ToR, two hosts with OVS, agent, gobgpd)
// keeping its state in a real etcd, two netmaster processes on it. The leader is killed; once the
// other leads, the ToR still holds exactly one /32 per endpoint, the learned-route flows match,
// everyone pings through the ToR, and an endpoint created (then deleted) through the new leader
// is announced (then withdrawn) within 1 s.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BgpLab, startBgpLab } from '../harness/bgp-lab.js';
import { runCleanups } from '../harness/cleanup.js';
import { startEtcd } from '../harness/etcd.js';
import { type NetmasterProcess, startNetmaster } from '../harness/netmaster.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { waitFor } from '../harness/wait.js';

const missing = [
  ...missingFor(...LAB_COMMANDS, 'nsenter', 'gobgpd', 'vtysh', 'etcd'),
  ...(existsSync('/usr/lib/frr/bgpd') ? [] : ['frr (/usr/lib/frr/bgpd)']),
];
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

async function post(url: string, path: string, body: object): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${path}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

const isLeader = async (n: NetmasterProcess) =>
  ((await (await fetch(`${n.url}/info`)).json()) as { IsLeader: boolean }).IsLeader;

describe('BGP: the netmaster leader dies, the other takes over', { skip }, () => {
  let lab: BgpLab;
  let masters: NetmasterProcess[] = [];

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    const etcd = await startEtcd();
    lab = await startBgpLab({ etcd: etcd.endpoint });
    masters = [
      await startNetmaster(['--etcd', etcd.endpoint]),
      await startNetmaster(['--etcd', etcd.endpoint]),
    ];
  });

  after(() => runCleanups());

  test('connectivity and routes through the ToR hold; the new leader’s endpoint is announced', async () => {
    await waitFor('both sessions established', () => lab.established());
    await lab.addEndpoint('a1', 0, '20.1.1.1');
    await lab.addEndpoint('b1', 1, '20.1.1.3');
    await waitFor('one /32 per endpoint on the ToR', () => lab.torHasEndpoints());
    // Each host learns the other's /32 and the outside prefix.
    await waitFor(
      'learned flows',
      async () => (await lab.learnedFlows(0)) === 2 && (await lab.learnedFlows(1)) === 2,
    );
    await lab.allPing();

    let leader: NetmasterProcess | undefined;
    await waitFor(
      'a leader',
      async () => {
        for (const n of masters) if (await isLeader(n)) leader = n;
        return leader !== undefined;
      },
      // A netmaster being killed may refuse a probe: that is "not yet".
      { errorsAreNo: true },
    );
    const other = masters.find((n) => n !== leader) as NetmasterProcess;
    // Sampled all along: the agents read the store, not netmaster, so nothing may be withdrawn.
    let sampling = true;
    let missed = 0;
    const sampler = (async () => {
      while (sampling) {
        if (!(await lab.torHasEndpoints())) missed++;
        await sleep(50);
      }
    })();
    leader?.p.kill('SIGKILL');
    const took = await waitFor('the other to lead', () => isLeader(other), { ms: 10_000, errorsAreNo: true });
    process.stdout.write(`# the other netmaster leads ${took} ms after the kill\n`);
    sampling = false;
    await sampler;
    assert.equal(missed, 0, 'the ToR lost a route during the switchover');

    // A change through the new leader: Docker's order (the address, then the endpoint).
    const h2 = lab.hosts[1]?.name as string;
    const c1 = await lab.plugEndpoint('c1', 1, '20.1.1.9');
    const t0 = Date.now();
    const rec = await post(other.url, '/plugin/createEndpoint', {
      endpointID: 'c1',
      tenant: 'default',
      network: 'public',
      ipAddress: '20.1.1.9',
      host: h2,
      intfName: c1.hostIf,
    });
    assert.equal(rec.ipAddress, '20.1.1.9');
    await lab.plugins[1]?.agent.attachEndpoint('c1', c1.hostIf);
    const announced = await waitFor('c1 on the ToR', () => lab.torHasEndpoints(), 1000);
    process.stdout.write(`# c1 from the new leader on the ToR ${Date.now() - t0} ms after the create\n`);
    assert.ok(announced <= 1000);
    await waitFor('h1 learned c1', async () => (await lab.learnedFlows(0)) === 3);
    assert.equal(await lab.learnedFlows(1), 2, 'h2 learns only h1’s /32 and the outside');
    await lab.allPing();

    // And deleted through it: withdrawn within 1 s.
    const t1 = Date.now();
    await post(other.url, '/plugin/deleteEndpoint', { endpointID: 'c1' });
    await lab.plugins[1]?.agent.detachEndpoint('c1', c1.hostIf);
    await c1.ns.destroy();
    lab.endpoints.delete('c1');
    await waitFor('c1 withdrawn', () => lab.torHasEndpoints(), 1000);
    process.stdout.write(`# c1 withdrawn ${Date.now() - t1} ms after the delete\n`);
    await waitFor('h1 forgot c1', async () => (await lab.learnedFlows(0)) === 2);
    await lab.allPing();
  });
});
