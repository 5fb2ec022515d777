// BGP on real daemons: a ToR namespace running FRR (zebra + bgpd, learned routes in its kernel
// table, no static routes), two hosts each with its own OVS, host agent and gobgpd peering with it
// over their VLAN uplinks, and an outside namespace behind the ToR. Containers on both hosts reach
// each other and the outside only through the ToR; then the triggers: an endpoint removed, the
// peer deleted and added back, gobgpd killed, the agent restarted, a misconfiguration fixed.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { RunningNetplugin } from '../../cli/netplugin.js';
import { GobgpApi } from '../../datapath/bgp/gobgp-api.js';
import { endpointKey } from '../../policy/model/endpoint.js';
import { type BgpLab, startBgpLab } from '../harness/bgp-lab.js';
import { runCleanups } from '../harness/cleanup.js';
import type { Tor } from '../harness/frr.js';
import type { Host } from '../harness/hosts.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { waitFor } from '../harness/wait.js';

const missing = [
  ...missingFor(...LAB_COMMANDS, 'nsenter', 'gobgpd', 'vtysh'),
  ...(existsSync('/usr/lib/frr/bgpd') ? [] : ['frr (/usr/lib/frr/bgpd)']),
];
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

describe('BGP: two hosts peer with an FRR ToR', { skip }, () => {
  let lab: BgpLab;
  let hosts: Host[] = [];
  let tor: Tor;
  let api: FastifyInstance;
  let plugins: RunningNetplugin[] = [];

  async function rest(method: 'POST' | 'DELETE', url: string, body?: object): Promise<void> {
    const res = await api.inject({ method, url, ...(body ? { payload: body } : {}) });
    assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  }

  type Oper = {
    neighborStatus?: string;
    adminStatus?: string;
    numRoutes?: number;
    routes?: string[];
    announced?: string[];
    problem?: string;
  };
  async function inspect(host: string): Promise<Oper> {
    const res = await api.inject({ method: 'GET', url: `/api/v1/inspect/Bgps/${host}/` });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { Oper: Oper }).Oper;
  }

  const bgpObject = (i: number, over: Record<string, string> = {}) => lab.bgpObject(i, over);

  const addEndpoint = (name: string, i: number, ip: string) => lab.addEndpoint(name, i, ip);
  const removeEndpoint = (name: string) => lab.removeEndpoint(name);
  const torHasEndpoints = () => lab.torHasEndpoints();

  const learnedFlows = (i: number) => lab.learnedFlows(i);
  const startPlugin = (i: number) => lab.startPlugin(i);

  const allPing = () => lab.allPing();

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    lab = await startBgpLab();
    ({ hosts, tor, api, plugins } = lab);
  });

  after(() => runCleanups());

  test('containers on both hosts reach each other and the outside through the ToR', async () => {
    const t0 = Date.now();
    await waitFor('both sessions established', () => lab.established());
    const established = Date.now() - t0;
    await addEndpoint('a1', 0, '20.1.1.1');
    await addEndpoint('a2', 0, '20.1.1.2');
    await addEndpoint('b1', 1, '20.1.1.3');
    const announced = await waitFor('one /32 per endpoint on the ToR', torHasEndpoints);
    // The outside prefix reached both hosts' flows.
    await waitFor(
      'learned routes as flows',
      async () => (await learnedFlows(0)) >= 2 && (await learnedFlows(1)) >= 3,
    );
    await allPing();
    // Only the router port answers for the router IP (not the kernel on the uplink).
    for (const i of [1, 2]) {
      const neigh = await lab.torNs.exec('ip', ['neigh', 'show', `50.1.${i}.2`]);
      assert.match(neigh, new RegExp(`lladdr 02:02:32:01:0${i}:02`), neigh);
    }
    process.stdout.write(`# established ${established} ms; 3 endpoints on the ToR in ${announced} ms\n`);
    // netctl bgp inspect's view: the agent's oper record through the REST inspect.
    await waitFor('inspect shows the live view', async () => {
      const o = await inspect('h1');
      return o.neighborStatus === 'ESTABLISHED' && o.numRoutes === 2 && o.announced?.length === 2;
    });
    const o = await inspect('h2');
    assert.equal(o.adminStatus, 'configured');
    assert.deepEqual(o.routes, ['20.1.1.1/32', '20.1.1.2/32', '60.1.1.0/24']);
  });

  test('removing an endpoint withdraws its route within 1 s', async () => {
    const t0 = Date.now();
    await removeEndpoint('a2');
    await waitFor('a2 withdrawn', torHasEndpoints, 1000);
    process.stdout.write(`# withdrawn from the ToR in ${Date.now() - t0} ms\n`);
    await waitFor('h2 forgot a2', async () => (await learnedFlows(1)) === 2);
    await allPing();
  });

  test('a burst of endpoints goes out packed (few UPDATEs), then withdrawn', async () => {
    const n = 300;
    const ip = (i: number) => `20.1.${2 + Math.floor(i / 250)}.${(i % 250) + 1}`;
    const rec = (i: number) => ({
      endpointID: `burst${i}`,
      tenant: 'default',
      network: 'public',
      endpointGroup: '',
      endpointGroupId: 0,
      ipAddress: ip(i),
      ipv6Address: '',
      macAddress: '',
      homingHost: hosts[0]?.name,
      intfName: '',
      containerID: `burst${i}`,
      containerName: `burst${i}`,
      labels: {},
    });
    const updates = async () =>
      Number(
        (
          JSON.parse(await tor.vtysh('show bgp neighbors 50.1.1.2 json')) as Record<
            string,
            { messageStats: { updatesRecv: number } }
          >
        )['50.1.1.2']?.messageStats.updatesRecv,
      );
    const before = await updates();
    const t0 = Date.now();
    // Records only (as netmaster writes them before the containers are plugged): routes follow records.
    await Promise.all(
      Array.from({ length: n }, (_, i) => lab.store.put(endpointKey(`burst${i}`), JSON.stringify(rec(i)))),
    );
    await waitFor('the burst on the ToR', async () => {
      const r = await tor.bgpRoutes();
      return Array.from({ length: n }, (_, i) => ip(i)).every((a) => r.get(`${a}/32`) === '50.1.1.2');
    });
    const sent = (await updates()) - before;
    process.stdout.write(`# ${n} endpoints on the ToR in ${Date.now() - t0} ms, in ${sent} UPDATEs\n`);
    assert.ok(sent < 20, `${sent} UPDATEs for ${n} prefixes: not packed`);
    // What h1 learned is read back after the burst: still h2's /32 and the outside, not its own.
    await waitFor('h2 learned the burst', async () => (await learnedFlows(1)) === n + 2);
    assert.equal(await learnedFlows(0), 2);
    // Held back only while they went in: one endpoint after the burst goes out on its own.
    await addEndpoint('a4', 0, '20.1.1.5');
    await waitFor('a4 on the ToR', async () => (await tor.bgpRoutes()).has('20.1.1.5/32'), 1000);
    await Promise.all(Array.from({ length: n }, (_, i) => lab.store.delete(endpointKey(`burst${i}`))));
    await removeEndpoint('a4');
    await waitFor('the burst withdrawn', torHasEndpoints, 5000);
    await waitFor('h2 forgot the burst', async () => (await learnedFlows(1)) === 2);
    assert.equal(await learnedFlows(0), 2);
    await allPing();
  });

  test('gobgpd killed: restarted, routes announced again, same flows', async () => {
    const agent = (plugins[0] as RunningNetplugin).agent;
    const pid = agent.bgpHook.bgpSpeaker?.supervisor.pid;
    assert.ok(pid);
    const flowsBefore = await learnedFlows(0);
    process.kill(pid, 'SIGKILL');
    await waitFor('a new gobgpd', () => {
      const now = agent.bgpHook.bgpSpeaker?.supervisor.pid;
      return now !== undefined && now !== pid;
    });
    await waitFor('routes back on the ToR', torHasEndpoints, 20_000);
    await waitFor('learned flows back', async () => (await learnedFlows(0)) === flowsBefore, 20_000);
    await allPing();
  });

  test('peer deleted then added back through the Bgp object', async () => {
    await rest('DELETE', '/api/v1/Bgps/h2/');
    await waitFor('h2 routes gone from the ToR', async () => {
      const r = await tor.bgpRoutes();
      return !r.has('20.1.1.3/32');
    });
    await waitFor('h2 has no learned flows', async () => (await learnedFlows(1)) === 0);
    await rest('POST', '/api/v1/Bgps/h2/', bgpObject(1));
    await waitFor('h2 back', torHasEndpoints, 20_000);
    await waitFor('h2 learned flows back', async () => (await learnedFlows(1)) === 2, 20_000);
    await allPing();
  });

  /** The ToR's view of host i's session: how often it came up and went down, since when up. */
  async function torSession(i: number): Promise<{ established: number; dropped: number; upSince: number }> {
    const ip = `50.1.${i + 1}.2`;
    const n = (
      JSON.parse(await tor.vtysh(`show bgp neighbors ${ip} json`)) as Record<string, Record<string, number>>
    )[ip];
    assert.ok(n, `no neighbor ${ip} on the ToR`);
    return {
      established: Number(n.connectionsEstablished),
      dropped: Number(n.connectionsDropped),
      upSince: Number(n.bgpTimerUpEstablishedEpoch),
    };
  }

  /** When the ToR last changed its route to prefix (epoch seconds). */
  async function torRouteEpoch(prefix: string): Promise<number> {
    const r = JSON.parse(await tor.vtysh(`show bgp ipv4 unicast ${prefix} json`)) as {
      paths?: { lastUpdate?: { epoch?: number } }[];
    };
    return Number(r.paths?.[0]?.lastUpdate?.epoch ?? Number.NaN);
  }

  test('netplugin restart: gobgpd adopted, the ToR keeps its session and routes throughout', async () => {
    const flowsBefore = await learnedFlows(0);
    const pid = (plugins[0] as RunningNetplugin).agent.bgpHook.bgpSpeaker?.supervisor.pid;
    assert.ok(pid);
    const session = await torSession(0);
    const epoch = await torRouteEpoch('20.1.1.1/32');
    // Sampled all along: a withdraw, however short, leaves the ToR's kernel without the /32.
    let sampling = true;
    let missed = 0;
    const sampler = (async () => {
      while (sampling) {
        if (!(await tor.bgpRoutes()).has('20.1.1.1/32')) missed++;
        await sleep(20);
      }
    })();
    await (plugins[0] as RunningNetplugin).stop();
    // The gap of a real restart, longer than the ToR's 9 s hold time would forgive were gobgpd gone.
    await sleep(1000);
    const p = await startPlugin(0);
    await waitFor('gobgpd adopted', () => p.agent.bgpHook.bgpSpeaker?.supervisor.current !== undefined);
    assert.equal(p.agent.bgpHook.bgpSpeaker?.supervisor.pid, pid, 'the same gobgpd');
    await waitFor('inspect shows the adopted session', async () => {
      const o = await inspect('h1');
      return o.neighborStatus === 'ESTABLISHED' && o.announced?.length === 1;
    });
    await waitFor('learned flows back', async () => (await learnedFlows(0)) === flowsBefore, 20_000);
    // An endpoint added under the new agent goes out on the adopted session.
    await addEndpoint('a3', 0, '20.1.1.4');
    await waitFor('a3 on the ToR', torHasEndpoints, 5000);
    sampling = false;
    await sampler;
    assert.equal(missed, 0, 'the ToR lost 20.1.1.1/32 during the restart');
    // FRR derives both epochs from an uptime, so they may read one second apart; a flap or a
    // re-announce would move them to the restart's time, long after.
    const after = await torSession(0);
    assert.deepEqual(
      [after.established, after.dropped],
      [session.established, session.dropped],
      'the session did not flap',
    );
    assert.ok(
      Math.abs(after.upSince - session.upSince) <= 1,
      `session up since ${session.upSince}, now ${after.upSince}`,
    );
    const epochAfter = await torRouteEpoch('20.1.1.1/32');
    assert.ok(
      Math.abs(epochAfter - epoch) <= 1,
      `the route was re-announced: epoch ${epoch}, now ${epochAfter}`,
    );
    await allPing();
    await removeEndpoint('a3');
    await waitFor('a3 withdrawn', torHasEndpoints, 1000);
  });

  test('netplugin died inside a burst (paths held back): the next one lets them go', async () => {
    const sup = (plugins[0] as RunningNetplugin).agent.bgpHook.bgpSpeaker?.supervisor;
    assert.ok(sup);
    await (plugins[0] as RunningNetplugin).stop();
    // What a netplugin killed between addBulk's REJECT and ACCEPT leaves: a path in, held back.
    const api = new GobgpApi(sup.apiAddress);
    try {
      await api.setExportDefault('REJECT');
      await api.addPath('20.1.1.6/32', '50.1.1.2');
    } finally {
      api.close();
    }
    const rec = {
      endpointID: 'held',
      tenant: 'default',
      network: 'public',
      endpointGroup: '',
      endpointGroupId: 0,
      ipAddress: '20.1.1.6',
      ipv6Address: '',
      macAddress: '',
      homingHost: hosts[0]?.name,
      intfName: '',
      containerID: 'held',
      containerName: 'held',
      labels: {},
    };
    await lab.store.put(endpointKey('held'), JSON.stringify(rec));
    await startPlugin(0);
    await waitFor('the held path on the ToR', async () => (await tor.bgpRoutes()).has('20.1.1.6/32'), 10_000);
    await lab.store.delete(endpointKey('held'));
    await waitFor('withdrawn', torHasEndpoints, 5000);
  });

  test('netplugin restarted with no Bgp object: the gobgpd left running is stopped', async () => {
    const pid = (plugins[1] as RunningNetplugin).agent.bgpHook.bgpSpeaker?.supervisor.pid;
    assert.ok(pid);
    await (plugins[1] as RunningNetplugin).stop();
    await rest('DELETE', '/api/v1/Bgps/h2/');
    await startPlugin(1);
    await waitFor('the old gobgpd gone', () => !existsSync(`/proc/${pid}`) || isZombie(pid));
    await waitFor(
      'h2 routes gone from the ToR',
      async () => !(await tor.bgpRoutes()).has('20.1.1.3/32'),
      15_000,
    );
    await rest('POST', '/api/v1/Bgps/h2/', bgpObject(1));
    await waitFor('h2 back', torHasEndpoints, 20_000);
    await waitFor('h2 learned flows back', async () => (await learnedFlows(1)) === 2, 20_000);
    await allPing();
  });

  test('uplink down and up: the ToR withdraws the host, then has it back', async () => {
    const h = hosts[0] as Host;
    await h.exec('ip', ['link', 'set', 'up0', 'down']);
    await waitFor('h1 routes gone from the ToR', async () => !(await tor.bgpRoutes()).has('20.1.1.1/32'));
    await waitFor('h2 forgot h1', async () => (await learnedFlows(1)) === 1);
    await h.exec('ip', ['link', 'set', 'up0', 'up']);
    const t = await waitFor('h1 back', torHasEndpoints, 30_000);
    process.stdout.write(`# uplink up: routes back on the ToR in ${t} ms\n`);
    await waitFor('h2 learned flows back', async () => (await learnedFlows(1)) === 2, 20_000);
    await waitFor('h1 learned flows back', async () => (await learnedFlows(0)) === 2, 20_000);
    await allPing();
  });

  test('misconfiguration (wrong neighbor AS) shows, fixing it recovers', async () => {
    await rest('POST', '/api/v1/Bgps/h2/', bgpObject(1, { 'neighbor-as': '501' }));
    const hook = (plugins[1] as RunningNetplugin).agent.bgpHook;
    await waitFor('h2 routes gone from the ToR', async () => !(await tor.bgpRoutes()).has('20.1.1.3/32'));
    assert.notEqual(hook.status().session, 'ESTABLISHED');
    // A router IP on no uplink's subnet: the neighbor is unreachable, and the state says so.
    await rest('POST', '/api/v1/Bgps/h2/', bgpObject(1, { routerip: '70.1.2.2/24' }));
    await waitFor('a clear problem', () => hook.status().problem.includes('not on the router IP'), 2000);
    await waitFor(
      'inspect shows it',
      async () => ((await inspect('h2')).problem ?? '').includes('not on the router IP'),
      2000,
    );
    await rest('POST', '/api/v1/Bgps/h2/', bgpObject(1));
    await waitFor('h2 back', torHasEndpoints, 20_000);
    assert.equal(hook.status().problem, '');
    await allPing();
  });
});
