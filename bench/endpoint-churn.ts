// Owns the endpoint-churn benchmark at the Docker driver: 1,000 endpoints attached and detached on
// a whole host (netmaster REST, host agent on a private OVS, our plugin) with 1,000 rules in place,
// driven over the plugin socket with Docker's own calls and bodies (attach: RequestAddress,
// CreateEndpoint, Join; detach: Leave, DeleteEndpoint, ReleaseAddress), at most 50 alive at once
// (real ports stay in the hundreds on the userspace datapath). p50/p99 of each in ms against the
// 1 s a Docker user would notice; flows, ports and addresses must be back to the start afterwards.

import { request } from 'node:http';
import { EXT_ROLE, ROLE_SPARE } from '../datapath/agent/agent.js';
import { runCleanups } from '../test/harness/cleanup.js';
import { DOCKER_COMMANDS } from '../test/harness/docker.js';
import { startDockerStack } from '../test/harness/docker-stack.js';
import { LAB_COMMANDS, missingFor } from '../test/harness/require.js';
import { log } from './openflow-install.js';
import type { Benchmark, BenchResult } from './run.js';

const ENDPOINTS = Number(process.env.CHURN_N ?? 1_000);
const RULES = 1_000;
const WINDOW = 50;
/** What a user would notice on `docker run`: the figures are compared with it. */
const TARGET_MS = 1_000;

function call(socketPath: string, path: string, body: object): Promise<Record<string, unknown>> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method: 'POST',
        headers: { host: 'plugin', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => {
          const json = JSON.parse(text) as Record<string, unknown>;
          if (res.statusCode !== 200) reject(new Error(`${path}: ${String(json.Err ?? text)}`));
          else resolve(json);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function churn(): Promise<BenchResult[]> {
  const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS);
  if (missing.length > 0) throw new Error(`benchmark needs ${missing.join(', ')}`);
  try {
    const s = await startDockerStack();
    await s.rest('POST', '/api/v1/networks/default:contiv-net/', {
      tenantName: 'default',
      networkName: 'contiv-net',
      encap: 'vxlan',
      subnet: '10.36.0.0/16',
      gateway: '10.36.255.254',
    });
    await s.rest('POST', '/api/v1/policys/default:churn/', { tenantName: 'default', policyName: 'churn' });
    for (let i = 1; i <= RULES; i++)
      await s.rest('POST', `/api/v1/rules/default:churn:${i}/`, {
        tenantName: 'default',
        policyName: 'churn',
        ruleId: String(i),
        direction: 'in',
        protocol: 'tcp',
        port: 1000 + i,
        action: i % 2 ? 'allow' : 'deny',
        priority: 1 + (i % 100),
      });
    await s.rest('POST', '/api/v1/endpointGroups/default:web/', {
      tenantName: 'default',
      groupName: 'web',
      networkName: 'contiv-net',
      policies: ['churn'],
    });
    await s.sync.sync();
    const net = await s.engine.inspectNetwork('web.contiv-net');
    if (!net) throw new Error('web.contiv-net was not created');
    const sock = s.plugin.socketPath;
    // Docker's own CreateNetwork already reached the driver; the pool id is the IPAM's answer.
    const pool = await call(sock, '/IpamDriver.RequestPool', {
      AddressSpace: 'contiv-local',
      Options: { tenant: 'default', network: 'contiv-net', group: 'web' },
    });
    const PoolID = String(pool.PoolID);
    await s.agent.flowManager.apply();
    const state = async () => ({
      flows: await s.ovs.dumpFlows(s.bridge),
      // Spare veths waiting for a Join (the driver's pool) are not endpoints'.
      ports: (await s.vswitch.ports()).filter((p) => p.externalIds[EXT_ROLE] !== ROLE_SPARE).length,
      addresses: (await s.store.list('/contiv.io/ipam/addr/')).length,
    });
    const before = await state();
    const attachMs: number[] = [];
    const detachMs: number[] = [];
    const alive: { id: string; address: string }[] = [];
    const detach = async () => {
      const ep = alive.shift()!;
      const t0 = performance.now();
      await call(sock, '/NetworkDriver.Leave', { NetworkID: net.Id, EndpointID: ep.id });
      await call(sock, '/NetworkDriver.DeleteEndpoint', { NetworkID: net.Id, EndpointID: ep.id });
      await call(sock, '/IpamDriver.ReleaseAddress', { PoolID, Address: ep.address.split('/')[0] });
      detachMs.push(performance.now() - t0);
    };
    for (let i = 0; i < ENDPOINTS; i++) {
      const id = (i + 1).toString(16).padStart(64, 'c');
      const t0 = performance.now();
      const addr = await call(sock, '/IpamDriver.RequestAddress', { PoolID, Address: '' });
      const address = String(addr.Address);
      await call(sock, '/NetworkDriver.CreateEndpoint', {
        NetworkID: net.Id,
        EndpointID: id,
        Interface: { Address: address },
      });
      await call(sock, '/NetworkDriver.Join', { NetworkID: net.Id, EndpointID: id, SandboxKey: '' });
      attachMs.push(performance.now() - t0);
      alive.push({ id, address });
      if (alive.length >= WINDOW) await detach();
    }
    while (alive.length > 0) await detach();
    // The agent follows the store's watch: the last deletions' flows go a moment after the calls.
    let after = await state();
    const same = () =>
      after.ports === before.ports &&
      after.addresses === before.addresses &&
      after.flows.join('\n') === before.flows.join('\n');
    for (const deadline = Date.now() + 10_000; !same() && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 200));
      await s.agent.flowManager.apply();
      after = await state();
    }
    if (!same()) {
      const was = new Set(before.flows);
      const now = new Set(after.flows);
      const extra = after.flows.filter((f) => !was.has(f)).slice(0, 5);
      const gone = before.flows.filter((f) => !now.has(f)).slice(0, 5);
      throw new Error(
        `not back to the start: ports ${before.ports} -> ${after.ports}, addresses ${before.addresses} -> ` +
          `${after.addresses}, flows ${before.flows.length} -> ${after.flows.length}\n` +
          `extra: ${extra.join('\n')}\nmissing: ${gone.join('\n')}`,
      );
    }
    log(
      `endpoint-churn: ${ENDPOINTS} endpoints, ${RULES} rules, ${before.flows.length} flows before and after`,
    );
    const result = (name: string, v: number): BenchResult => ({
      name,
      value: v,
      unit: 'ms',
      peer: 'target',
      peerValue: TARGET_MS,
      ratio: v / TARGET_MS,
    });
    return [
      result('endpoint-churn attach p50', percentile(attachMs, 50)),
      result('endpoint-churn attach p99', percentile(attachMs, 99)),
      result('endpoint-churn detach p50', percentile(detachMs, 50)),
      result('endpoint-churn detach p99', percentile(detachMs, 99)),
    ];
  } finally {
    await runCleanups();
  }
}

export const benchmark: Benchmark = {
  describe: `${ENDPOINTS} endpoints attached/detached through the Docker driver with ${RULES} rules in place, p50/p99 ms; back to the start afterwards`,
  run: churn,
};
