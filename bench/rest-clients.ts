// Owns the client side of the rest-create benchmark, run in a worker thread so the clients' HTTP
// work does not share an event loop (and a core) with the netmaster being measured: real clients
// (netctl, scripts) are other processes. Posts {secs} when every create succeeded, {error} if not.

import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

export interface ClientJob {
  port: number;
  clients: number;
  groups: number;
  network: string;
}

function post(
  agent: Agent,
  port: number,
  path: string,
  body: unknown,
): Promise<{ status: number; text: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function main(job: ClientJob): Promise<number> {
  const agents = Array.from({ length: job.clients }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  let next = 0;
  const t0 = performance.now();
  try {
    await Promise.all(
      agents.map(async (agent) => {
        for (let i = next++; i < job.groups; i = next++) {
          const body = { tenantName: 'default', groupName: `g${i}`, networkName: job.network };
          const r = await post(agent, job.port, `/api/v1/endpointGroups/default:g${i}/`, body);
          if (r.status !== 200) throw new Error(`group g${i}: ${r.status} ${r.text}`);
        }
      }),
    );
    return (performance.now() - t0) / 1000;
  } finally {
    for (const a of agents) a.destroy();
  }
}

if (parentPort) {
  const port = parentPort;
  main(workerData as ClientJob).then(
    (secs) => port.postMessage({ secs }),
    (err: Error) => port.postMessage({ error: err.message }),
  );
}
