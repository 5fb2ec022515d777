// Owns private etcd servers for tests: a temp data dir, free 127.0.0.1 ports, stop/kill, cleanup registration.
// It must never touch an etcd it did not start, nor listen beyond 127.0.0.1.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';
import { tempDirPrefix } from './names.js';
import { stopPidsSync } from './procs.js';
import { run } from './run.js';

export interface EtcdInstance {
  /** host:port of the client URL. */
  endpoint: string;
  dataDir: string;
  /** SIGTERM, wait; the data dir is removed at cleanup. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** Starts it again (after stop or kill) on the same ports and data: an etcd that went away and came back. */
  restart(): Promise<void>;
}

/** A port the kernel just gave us on 127.0.0.1 (closed again; etcd binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** The health answer, asked from the namespace etcd listens in. */
async function healthy(endpoint: string, netns: string | undefined): Promise<boolean> {
  const url = `http://${endpoint}/health`;
  if (netns === undefined) {
    const res = await fetch(url);
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  }
  const py = `import json,sys,urllib.request;sys.exit(0 if json.load(urllib.request.urlopen(sys.argv[1],timeout=1)).get('health')=='true' else 1)`;
  return run('ip', ['netns', 'exec', netns, 'python3', '-c', py, url]).then(
    () => true,
    () => false,
  );
}

async function ready(
  endpoint: string,
  child: ChildProcess,
  timeoutMs: number,
  netns: string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('etcd exited during start');
    try {
      if (await healthy(endpoint, netns)) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`etcd on ${endpoint} not ready after ${timeoutMs} ms`);
}

export interface StartEtcdOptions {
  /** Run inside this network namespace (a simulated host), listening on address there. */
  netns?: string;
  /** Default 127.0.0.1. */
  address?: string;
  /** Also serve etcd's v2 API (what dockerd's --cluster-store and Contiv's netmaster speak). */
  v2?: boolean;
}

/** Starts a private single-member etcd; retries on another port pair if a port was taken meanwhile. */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdInstance> {
  const address = opts.address ?? '127.0.0.1';
  const dataDir = await mkdtemp(tempDirPrefix('etcd'));
  onCleanup(() => rm(dataDir, { recursive: true, force: true }), { label: `rm ${dataDir}` });
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    // A namespace of the test's own has every port free: its fixed ones are as good.
    const [cp, pp] = opts.netns
      ? [2379 + attempt * 10, 2380 + attempt * 10]
      : [await freePort(), await freePort()];
    const endpoint = `${address}:${cp}`;
    const stderr: string[] = [];
    const inNetns = opts.netns ? ['ip', 'netns', 'exec', opts.netns] : [];
    const launch = () =>
      spawn(
        inNetns[0] ?? 'etcd',
        [
          ...inNetns.slice(1),
          ...(inNetns.length ? ['etcd'] : []),
          '--name',
          'default',
          '--data-dir',
          `${dataDir}/data${attempt}`,
          '--listen-client-urls',
          `http://${endpoint}`,
          '--advertise-client-urls',
          `http://${endpoint}`,
          '--listen-peer-urls',
          `http://${address}:${pp}`,
          '--initial-advertise-peer-urls',
          `http://${address}:${pp}`,
          '--initial-cluster',
          `default=http://${address}:${pp}`,
          '--log-level',
          'warn',
          ...(opts.v2 ? ['--enable-v2=true'] : []),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
    let child = launch();
    const collect = (c: ChildProcess) =>
      c.stderr?.on('data', (d: Buffer) => {
        if (stderr.length < 200) stderr.push(d.toString());
      });
    collect(child);
    const stopSignal = async (sig: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      await exited(child);
    };
    const handle = onCleanup(() => stopSignal('SIGKILL'), {
      label: `etcd ${endpoint}`,
      sync: () => {
        if (child.pid) stopPidsSync([child.pid], 0);
      },
    });
    try {
      await ready(endpoint, child, 10_000, opts.netns);
    } catch (err) {
      lastErr = new Error(`${(err as Error).message}\n${stderr.join('').slice(-2000)}`);
      await stopSignal('SIGKILL');
      handle.dispose();
      continue;
    }
    return {
      endpoint,
      dataDir,
      stop: () => stopSignal('SIGTERM'),
      kill: () => stopSignal('SIGKILL'),
      restart: async () => {
        await stopSignal('SIGTERM');
        child = launch();
        collect(child);
        await ready(endpoint, child, 10_000, opts.netns);
      },
    };
  }
  throw lastErr;
}
