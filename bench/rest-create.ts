// Owns the REST create benchmark: 10k endpoint groups through a listening netmaster (embedded and etcd
// stores), against a fixed target and raw etcd3 puts. It never listens beyond 127.0.0.1 nor leaves dirs or servers.

import { readFileSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Etcd3 } from 'etcd3';
import { Accounts } from '../api/auth/accounts.js';
import { preparePki } from '../api/auth/bootstrap.js';
import { buildServer } from '../api/rest/server.js';
import { configKey } from '../policy/model/index.js';
import { EmbeddedStore, EtcdStore, type Store } from '../state/index.js';
import { onCleanup } from '../test/harness/cleanup.js';
import { startEtcd } from '../test/harness/etcd.js';
import { tempDirPrefix } from '../test/harness/names.js';
import { log, timed } from './openflow-install.js';
import type { ClientJob } from './rest-clients.js';
import type { Benchmark, BenchResult } from './run.js';

const GROUPS = 10_000;
const CLIENTS = 16;
const TARGET = 5000;
const NETWORK = {
  tenantName: 'default',
  networkName: 'bench-net',
  subnet: '20.1.0.0/16',
  gateway: '20.1.255.254',
  pktTag: 1001,
};

const groupBody = (i: number) => ({
  tenantName: 'default',
  groupName: `g${i}`,
  networkName: NETWORK.networkName,
});

interface Client {
  agent: Agent;
  port: number;
  /** netmaster with TLS and logins on: its CA and a login token. */
  secure?: { ca: string; token: string };
}

function call(
  c: Client,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const send = c.secure ? httpsRequest : request;
    const req = send(
      {
        host: '127.0.0.1',
        port: c.port,
        method,
        path,
        agent: c.agent,
        ...(c.secure ? { ca: c.secure.ca } : {}),
        headers: {
          ...(c.secure ? { 'x-auth-token': c.secure.token } : {}),
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
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

/** Runs work(i) for i in [0, n) on `workers` concurrent lanes, each taking the next index. */
async function lanes(
  n: number,
  workers: number,
  work: (i: number, lane: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, lane) => {
      for (let i = next++; i < n; i = next++) await work(i, lane);
    }),
  );
}

/** The timed creates, from a worker thread (bench/rest-clients.ts): seconds from first to last. */
function clientsInWorker(job: ClientJob): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./rest-clients.js', import.meta.url), { workerData: job });
    w.once('message', (m: { secs?: number; error?: string }) => {
      if (m.secs !== undefined) resolve(m.secs);
      else reject(new Error(`rest clients: ${m.error}`));
      void w.terminate();
    });
    w.once('error', reject);
  });
}

/** CPU seconds the main thread (netmaster's event loop; the clients run in a worker) has used so far. */
function mainThreadCpu(): number {
  // Fields 14 and 15 of /proc/<pid>/task/<tid>/stat are utime and stime in clock ticks (100/s);
  // the comm field before them may hold spaces, so count from the closing parenthesis.
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface RestRun {
  rate: number;
  /** Main-thread CPU per create (ms) and its share of the wall time: 1 means the event loop was the limit. */
  serverCpuMsPerCreate: number;
  serverBusy: number;
  /** Whole-process CPU per create (ms): server, clients, fsync threads, GC. */
  processCpuMsPerCreate: number;
}

/**
 * Creates the network (untimed), then GROUPS groups over CLIENTS keep-alive agents; checks the count.
 * With `secure` (a directory for its certificates), netmaster as it runs by default: TLS from its own
 * CA and logins on, the clients sending the admin's token.
 */
async function createThroughRest(store: Store, label: string, secure?: string): Promise<RestRun> {
  const pki = secure ? await preparePki(secure, { ips: ['127.0.0.1'] }) : undefined;
  const accounts = new Accounts(store);
  const app = buildServer({
    store,
    ...(pki ? { https: { key: pki.key, cert: pki.cert }, auth: { accounts } } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  let login: Client['secure'];
  if (pki) {
    await accounts.ensureAdmin('bench-Secret1');
    login = { ca: pki.ca, token: await accounts.login('admin', 'bench-Secret1') };
  }
  const clients: Client[] = Array.from({ length: CLIENTS }, () => ({
    agent: login
      ? new HttpsAgent({ keepAlive: true, maxSockets: 1 })
      : new Agent({ keepAlive: true, maxSockets: 1 }),
    port,
    ...(login ? { secure: login } : {}),
  }));
  try {
    const net = await call(clients[0]!, 'POST', `/api/v1/networks/default:${NETWORK.networkName}/`, NETWORK);
    if (net.status !== 200) throw new Error(`${label}: network create: ${net.status} ${net.text}`);
    const cpu0 = mainThreadCpu();
    const proc0 = process.cpuUsage();
    const secs = await clientsInWorker({
      port,
      clients: CLIENTS,
      groups: GROUPS,
      network: NETWORK.networkName,
      ...(login ? { secure: login } : {}),
    });
    const list = await call(clients[0]!, 'GET', '/api/v1/endpointGroups/');
    if (list.status !== 200) throw new Error(`${label}: list: ${list.status} ${list.text}`);
    const n = (JSON.parse(list.text) as unknown[]).length;
    if (n !== GROUPS) throw new Error(`${label}: ${n} endpoint groups listed, ${GROUPS} expected`);
    const rate = GROUPS / secs;
    const serverCpu = mainThreadCpu() - cpu0;
    const proc = process.cpuUsage(proc0);
    const run: RestRun = {
      rate,
      serverCpuMsPerCreate: (serverCpu * 1000) / GROUPS,
      serverBusy: serverCpu / secs,
      processCpuMsPerCreate: (proc.user + proc.system) / 1000 / GROUPS,
    };
    log(
      `${label}: ${GROUPS} groups in ${secs.toFixed(3)} s = ${rate.toFixed(0)} creates/s (${n} listed); ` +
        `server thread ${run.serverCpuMsPerCreate.toFixed(3)} ms CPU/create, busy ${(run.serverBusy * 100).toFixed(0)}%; ` +
        `process ${run.processCpuMsPerCreate.toFixed(3)} ms CPU/create`,
    );
    return run;
  } finally {
    for (const c of clients) c.agent.destroy();
    await app.close();
  }
}

/**
 * Mean fdatasync latency of a small append in `dir`, seconds. Every create is acknowledged only
 * after its log record is on disk, so CLIENTS / this is the most any store could ack here.
 */
async function fsyncLatency(dir: string): Promise<number> {
  const path = join(dir, 'fsync-probe');
  const fh = await open(path, 'w');
  const rec = Buffer.alloc(200);
  const n = 200;
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      await fh.write(rec);
      await fh.datasync();
    }
    return (performance.now() - t0) / n / 1000;
  } finally {
    await fh.close();
    await rm(path, { force: true });
  }
}

async function embeddedBench(): Promise<BenchResult[]> {
  const dir = await mkdtemp(tempDirPrefix('rest-create'));
  onCleanup(() => rm(dir, { recursive: true, force: true }), { label: `rm ${dir}` });
  const fsync = await fsyncLatency(dir);
  const ceiling = CLIENTS / fsync;
  log(
    `fdatasync ${(fsync * 1000).toFixed(2)} ms: ${CLIENTS} clients each waiting for theirs can be acked at most ${ceiling.toFixed(0)}/s`,
  );
  const once = async (sub: string, secure: boolean): Promise<RestRun> => {
    const store = await EmbeddedStore.open(join(dir, sub));
    try {
      return await createThroughRest(
        store,
        `embedded${secure ? ' (TLS, logins)' : ''}`,
        secure ? join(dir, 'pki') : undefined,
      );
    } finally {
      await store.close();
    }
  };
  const { rate, ...cpu } = await once('plain', false);
  // The same creates as netmaster serves them by default: over TLS, each with a login token.
  const secure = await once('secure', true);
  return [
    {
      name: 'rest-create/embedded',
      value: rate,
      unit: 'creates/s',
      peer: 'target',
      peerValue: TARGET,
      ratio: rate / TARGET,
      context: { fdatasyncMs: fsync * 1000, fsyncCeilingPerSec: ceiling, ofCeiling: rate / ceiling, ...cpu },
    },
    {
      name: 'rest-create/embedded-tls',
      value: secure.rate,
      unit: 'creates/s',
      peer: 'rest-create/embedded (plain HTTP, no logins), same run',
      peerValue: rate,
      ratio: secure.rate / rate,
      context: { serverCpuMsPerCreate: secure.serverCpuMsPerCreate, serverBusy: secure.serverBusy },
    },
  ];
}

async function etcdBench(): Promise<BenchResult> {
  const etcd = await startEtcd();
  try {
    const store = await EtcdStore.connect([etcd.endpoint]);
    let ours: number;
    try {
      ours = (await createThroughRest(store, 'etcd')).rate;
    } finally {
      await store.close();
    }
    // Peer: the same JSON bodies under the same kind of keys (another tenant's, so ours stay countable).
    const client = new Etcd3({ hosts: `http://${etcd.endpoint}` });
    let peer: number;
    try {
      const secs = await timed(() =>
        lanes(GROUPS, CLIENTS, async (i) => {
          const body = { ...groupBody(i), tenantName: 'peer' };
          await client.put(configKey('endpointGroup', `peer:g${i}`)).value(JSON.stringify(body));
        }),
      );
      const n = await client.getAll().prefix(configKey('endpointGroup', 'peer:')).count();
      if (n !== GROUPS) throw new Error(`etcd3 peer: ${n} keys, ${GROUPS} expected`);
      peer = GROUPS / secs;
      log(`etcd3 puts: ${GROUPS} in ${secs.toFixed(3)} s = ${peer.toFixed(0)} puts/s`);
    } finally {
      client.close();
    }
    return {
      name: 'rest-create/etcd',
      value: ours,
      unit: 'creates/s',
      peer: 'etcd3 put',
      peerValue: peer,
      ratio: ours / peer,
    };
  } finally {
    await etcd.stop();
  }
}

export const benchmark: Benchmark = {
  describe: `${GROUPS} endpoint-group creates over REST, ${CLIENTS} keep-alive clients (in a worker thread); embedded ≥ ${TARGET}/s, etcd ≥ 0.5× raw etcd3 puts`,
  async run() {
    // REST_CREATE_STORES=embedded (or etcd) runs one half, e.g. under node --cpu-prof.
    const only = process.env.REST_CREATE_STORES;
    const out: BenchResult[] = [];
    if (!only || only.includes('embedded')) out.push(...(await embeddedBench()));
    if (!only || only.includes('etcd')) out.push(await etcdBench());
    return out;
  },
};
