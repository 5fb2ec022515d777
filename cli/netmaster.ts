#!/usr/bin/env node
// Owns netmaster's process edge: flags and CONTIV_* env, opening the store, serving REST, clean shutdown.
// It must never fall back from a configured etcd to the embedded store, nor leave the store open on exit.
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Leadership } from '../api/rest/forward.js';
import { buildServer } from '../api/rest/server.js';
import { registerStoreProxy } from '../api/rest/store-proxy.js';
import { BGP_OPER_PREFIX, DOCKNET_PREFIX, HOST_PREFIX } from '../policy/model/endpoint.js';
import { openStore } from '../state/index.js';
import { type Election, elect } from '../state/leader.js';
import type { Store } from '../state/store.js';
import { onTermination, runAsProgram } from './daemon.js';

export interface NetmasterConfig {
  host: string;
  port: number;
  etcdEndpoints: string[];
  dataDir: string;
  /** Contiv's cluster mode, shown by global inspect; netplugin --role netmaster passes its own. */
  mode?: ClusterMode;
}

export const CLUSTER_MODES = ['docker', 'kubernetes', 'swarm-mode', 'test'] as const;
export type ClusterMode = (typeof CLUSTER_MODES)[number];

const USAGE = `Usage: netmaster [flags]
  --listen-url ADDR        where to serve REST (default ":9999") [$CONTIV_NETMASTER_LISTEN_URL]
  --etcd, --cluster-store  etcd endpoints, comma separated; none: embedded store [$CONTIV_NETMASTER_ETCD_ENDPOINTS]
  --data-dir DIR           embedded store directory (default /var/lib/contiv-ts)
  --mode MODE              docker|kubernetes|swarm-mode|test (default docker) [$CONTIV_NETMASTER_MODE]
`;

/** ":9999", "host:9999" or "http://host:9999" → host and port (Contiv's listen-url forms). */
export function parseListenUrl(url: string): { host: string; port: number } {
  const bare = url.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  const i = bare.lastIndexOf(':');
  const host = i <= 0 ? '0.0.0.0' : bare.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(i < 0 ? bare : bare.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --listen-url "${url}"`);
  return { host, port };
}

// Contiv's cluster-store is "etcd://host:2379"; etcd3 wants "http://host:2379".
const endpoints = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim().replace(/^etcd:\/\//, 'http://'))
    .filter(Boolean);

/** The configuration from flags over env over defaults, or 'help'. Throws on an unknown or bad flag. */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): NetmasterConfig | 'help' {
  let listen = env.CONTIV_NETMASTER_LISTEN_URL || ':9999';
  let etcd = env.CONTIV_NETMASTER_ETCD_ENDPOINTS || '';
  let dataDir = '/var/lib/contiv-ts';
  let mode = env.CONTIV_NETMASTER_MODE || 'docker';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    const name = (eq >= 0 ? a.slice(0, eq) : a).replace(/^--?/, '');
    const value = () => {
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`flag ${a} needs a value`);
      return v;
    };
    if (name === 'listen-url') listen = value();
    else if (name === 'etcd' || name === 'cluster-store') etcd = value();
    else if (name === 'data-dir') dataDir = value();
    else if (name === 'mode') mode = value();
    else if (name === 'help' || name === 'h') return 'help';
    else throw new Error(`unknown flag ${a}`);
  }
  if (!(CLUSTER_MODES as readonly string[]).includes(mode)) {
    throw new Error(`--mode "${mode}": must be one of ${CLUSTER_MODES.join(', ')}`);
  }
  return { ...parseListenUrl(listen), etcdEndpoints: endpoints(etcd), dataDir, mode: mode as ClusterMode };
}

/** A dead leader's lease runs out within this: a follower takes over in well under 5 s. */
const LEADER_TTL_SEC = 2;

export interface RunningNetmaster {
  store: Store;
  app: FastifyInstance;
  /** Where REST listens, e.g. "http://myhost:9999". */
  url: string;
  /** The port it listens on (the configured one, or the one picked for port 0). */
  port: number;
  stop(): Promise<void>;
}

/**
 * Opens the store (or uses the one given: one process running both roles shares it), serves REST
 * and the store API netplugins without store access use, and campaigns for leadership on etcd.
 */
export async function startNetmaster(
  cfg: NetmasterConfig,
  log: Logger,
  shared?: Store,
): Promise<RunningNetmaster> {
  const store =
    shared ??
    (await openStore(
      cfg.etcdEndpoints.length > 0 ? { etcdEndpoints: cfg.etcdEndpoints } : { dataDir: cfg.dataDir },
    ));
  // Several netmasters share an etcd: one leads (and writes), the others forward writes to it.
  let election: Election | undefined;
  const leadership: Leadership | undefined =
    cfg.etcdEndpoints.length > 0
      ? {
          get isLeader() {
            return election?.isLeader ?? false;
          },
          leader: async () => election?.leader(),
        }
      : undefined;
  const app = buildServer({
    store,
    leadership,
    storeDescription:
      cfg.etcdEndpoints.length > 0
        ? cfg.etcdEndpoints.map((e) => (/^\w+:\/\//.test(e) ? e : `etcd://${e}`)).join(',')
        : `embedded:${cfg.dataDir}`,
    logger: { name: 'netmaster', level: process.env.LOG_LEVEL ?? 'info' },
    ...(cfg.mode ? { clusterMode: cfg.mode } : {}),
  });
  // Netplugins write only their own host, BGP and Docker network records through it; everything
  // else is read-only.
  registerStoreProxy(app, {
    store,
    writable: (key) =>
      key.startsWith(HOST_PREFIX) || key.startsWith(BGP_OPER_PREFIX) || key.startsWith(DOCKNET_PREFIX),
  });
  try {
    await app.listen({ host: cfg.host, port: cfg.port });
  } catch (err) {
    if (!shared) await store.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
  const host = cfg.host === '0.0.0.0' || cfg.host === '::' ? hostname() : cfg.host;
  const url = `http://${host}:${port}`;
  if (leadership) {
    election = await elect(store, {
      id: `${hostname()}:${process.pid}`,
      address: url,
      ttlSec: LEADER_TTL_SEC,
    });
    election.on('elected', () => log.info({ address: url }, 'leading'));
    election.on('deposed', () => log.warn({ address: url }, 'no longer leading'));
  }
  log.info(
    {
      listen: typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : addr,
      etcd: cfg.etcdEndpoints,
      dataDir: cfg.etcdEndpoints.length ? undefined : cfg.dataDir,
    },
    'netmaster listening',
  );
  return {
    store,
    app,
    url,
    port,
    async stop() {
      try {
        await election?.resign();
        await app.close();
      } finally {
        if (!shared) await store.close();
      }
    },
  };
}

async function main(): Promise<void> {
  let parsed: NetmasterConfig | 'help';
  try {
    parsed = parseArgs(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`Error: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const log = pino({ name: 'netmaster' });
  const running = await startNetmaster(parsed, log);
  onTermination(async (sig) => {
    log.info({ sig }, 'shutting down');
    await running.stop();
  });
}

runAsProgram(import.meta.url, 'netmaster', main);
