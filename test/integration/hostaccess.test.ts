// Host access with real packets on one host: OVS runs (netdev) inside a namespace standing for
// the host, so contivh0 is a kernel device there; an "outside world" namespace hangs off that
// host by a veth (198.51.100.0/24, a documentation range) and knows no route to the private
// subnet, so only the host's MASQUERADE gets replies back to it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApplyStats } from '../../controller/flowtable/manager.js';
import { configureInterface, createVethPair, moveToNetns } from '../../datapath/host/index.js';
import { tenantNatAddress } from '../../datapath/pipeline/hostaccess.js';
import { type AgentLab, type LabEndpoint, startAgentLab } from '../harness/agent.js';
import { runCleanups } from '../harness/cleanup.js';
import { uniqueName } from '../harness/names.js';
import {
  addNamespace,
  listenIn,
  type Namespace,
  type NcListener,
  pingFrom,
  tcpConnectFrom,
} from '../harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS, 'iptables');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const HOST_IP = '172.19.255.254';
const OUTSIDE_IP = '198.51.100.2';
const GATEWAY = '20.1.1.254';

// Bridge mode over VXLAN, routing mode over VLAN (no uplink here: the host is the way out).
for (const [mode, encap] of [
  ['bridge', 'vxlan'],
  ['routing', 'vlan'],
] as const) {
  describe(`host access on one host (${mode} mode, ${encap})`, { skip }, () => {
    let lab: AgentLab;
    let outside: Namespace;
    const listeners = new Set<NcListener>();
    const eps = new Map<string, LabEndpoint>();
    const ns = (name: string) => (eps.get(name) as LabEndpoint).ns.name;

    before(async () => {
      if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
      lab = await startAgentLab({ hostNamespace: true });
      const host = lab.hostNs as Namespace;
      outside = await addNamespace();
      const hostEnd = uniqueName('o');
      const peer = uniqueName('p');
      await createVethPair(hostEnd, peer, { netns: { name: host.name } });
      await moveToNetns(peer, { name: outside.name }, { fromNetns: { name: host.name } });
      await configureInterface({
        netns: { name: host.name },
        ifName: hostEnd,
        addresses: ['198.51.100.1/24'],
        up: true,
      });
      await configureInterface({
        netns: { name: outside.name },
        ifName: peer,
        addresses: [`${OUTSIDE_IP}/24`],
        up: true,
      });
      if (mode === 'routing') {
        await lab.rest('POST', '/api/v1/globals/global/', {
          key: 'global',
          name: 'global',
          networkInfraType: 'default',
          vlans: '1-4094',
          vxlans: '1-10000',
          fwdMode: 'routing',
          arpMode: 'proxy',
          pvtSubnet: '172.19.0.0/16',
        });
      }
      for (const tenant of ['default', 'blue']) {
        if (tenant !== 'default')
          await lab.rest('POST', `/api/v1/tenants/${tenant}/`, { tenantName: tenant });
        await lab.rest('POST', `/api/v1/networks/${tenant}:net/`, {
          tenantName: tenant,
          networkName: 'net',
          encap,
          subnet: '20.1.1.0/24',
          gateway: GATEWAY,
        });
        await lab.rest('POST', `/api/v1/endpointGroups/${tenant}:app/`, {
          tenantName: tenant,
          groupName: 'app',
          networkName: 'net',
          policies: [],
        });
      }
      // The same address in both tenants.
      eps.set('a1', await lab.addEndpoint('a1', 'net', 'app', '20.1.1.2', GATEWAY, 'default'));
      eps.set('b1', await lab.addEndpoint('b1', 'net', 'app', '20.1.1.2', GATEWAY, 'blue'));
      await listenIn(host.name, 8080, listeners);
      await listenIn(outside.name, 8080, listeners);
    });

    after(async () => {
      for (const l of listeners) await l.stop();
      await runCleanups();
    });

    test('the agent made contivh0 with its address and reports it', async () => {
      const facts = lab.plugin.agent.hostFacts;
      assert.equal(facts.hostPort?.ip, HOST_IP);
      const addr = await (lab.hostNs as Namespace).exec('ip', [
        '-o',
        '-4',
        'addr',
        'show',
        'dev',
        'contivh0',
      ]);
      assert.match(addr, /172\.19\.255\.254\/16/);
    });

    test("a container reaches the host's contivh0 address: ping and tcp", async () => {
      assert.ok(await pingFrom(ns('a1'), HOST_IP, { timeoutSec: 5 }), 'ping host');
      assert.ok(await tcpConnectFrom(ns('a1'), HOST_IP, 8080), 'tcp host:8080');
    });

    test('a container reaches the outside world through the host: ping and tcp', async () => {
      assert.ok(await pingFrom(ns('a1'), OUTSIDE_IP, { timeoutSec: 5 }), 'ping outside');
      assert.ok(await tcpConnectFrom(ns('a1'), OUTSIDE_IP, 8080), 'tcp outside:8080');
    });

    test('two tenants, one container address: both reach the outside, at the same time', async () => {
      const [a, b] = await Promise.all([
        pingFrom(ns('a1'), OUTSIDE_IP, { count: 3, timeoutSec: 5 }),
        pingFrom(ns('b1'), OUTSIDE_IP, { count: 3, timeoutSec: 5 }),
      ]);
      assert.ok(a && b, `default ${a}, blue ${b}`);
      const [ta, tb] = await Promise.all([
        tcpConnectFrom(ns('a1'), OUTSIDE_IP, 8080),
        tcpConnectFrom(ns('b1'), OUTSIDE_IP, 8080),
      ]);
      assert.ok(ta && tb, `default ${ta}, blue ${tb}`);
      // Each tenant left by its own address in the private subnet, NATed in its own zone.
      const natted = new Map<number, string>();
      for (const line of (await lab.ovs.appctl('dpctl/dump-conntrack')).split('\n')) {
        const m =
          /src=20\.1\.1\.2,dst=198\.51\.100\.2.*reply=\(src=198\.51\.100\.2,dst=([\d.]+).*zone=(\d+)/.exec(
            line,
          );
        if (m) natted.set(Number(m[2]), m[1] as string);
      }
      assert.equal(natted.size, 2, `two zones NATed: ${[...natted]}`);
      for (const [zone, addr] of natted) assert.equal(addr, tenantNatAddress('172.19.0.0/16', zone));
    });

    test('policy applies: a deny-out rule blocks the way out, removing it restores', async () => {
      await lab.rest('POST', '/api/v1/policys/default:noout/', {
        tenantName: 'default',
        policyName: 'noout',
      });
      await lab.rest('POST', '/api/v1/rules/default:noout:1/', {
        tenantName: 'default',
        policyName: 'noout',
        ruleId: '1',
        direction: 'out',
        protocol: 'tcp',
        action: 'deny',
      });
      await lab.rest('POST', '/api/v1/endpointGroups/default:app/', {
        tenantName: 'default',
        groupName: 'app',
        networkName: 'net',
        policies: ['noout'],
      });
      await lab.converged();
      assert.equal(await tcpConnectFrom(ns('a1'), OUTSIDE_IP, 8080, 1000), false, 'tcp denied');
      assert.ok(await tcpConnectFrom(ns('b1'), OUTSIDE_IP, 8080), 'the other tenant is not affected');
      assert.ok(await pingFrom(ns('a1'), OUTSIDE_IP, { timeoutSec: 3 }), 'icmp still allowed');
      await lab.rest('POST', '/api/v1/endpointGroups/default:app/', {
        tenantName: 'default',
        groupName: 'app',
        networkName: 'net',
        policies: [],
      });
      await lab.converged();
      assert.ok(await tcpConnectFrom(ns('a1'), OUTSIDE_IP, 8080), 'tcp back');
    });

    test('an agent restart adopts contivh0 and its rule: no flow changes, the way out still works', async () => {
      const plugin = await lab.restartAgent();
      const stats = await new Promise<ApplyStats>((resolve) => plugin.agent.once('attached', resolve));
      assert.deepEqual([stats.flowsAdded, stats.flowsModified, stats.flowsDeleted], [0, 0, 0]);
      const rules = await (lab.hostNs as Namespace).exec('iptables', ['-t', 'nat', '-S', 'POSTROUTING']);
      assert.equal(rules.split('\n').filter((l) => l.includes('contiv-ts host access')).length, 1);
      assert.ok(await tcpConnectFrom(ns('a1'), OUTSIDE_IP, 8080), 'tcp outside after restart');
    });

    test('the host cannot open connections into a tenant address', async () => {
      assert.equal(await pingFrom((lab.hostNs as Namespace).name, '172.19.0.1', { timeoutSec: 1 }), false);
    });
  });
}
