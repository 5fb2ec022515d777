#!/usr/bin/env node
// Owns netmaster's process edge: flags and CONTIV_* env, opening the store, serving REST, clean shutdown.
// It must never fall back from a configured etcd to the embedded store, nor leave the store open on exit.
import { createServer } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Accounts, AUTH_PREFIX } from '../api/auth/accounts.js';
import {
  DEFAULT_ADMIN_CONF,
  type LocalCredential,
  prepareAccounts,
  preparePki,
} from '../api/auth/bootstrap.js';
import type { Leadership } from '../api/rest/forward.js';
import { buildServer, CLIENT_LIMITS } from '../api/rest/server.js';
import { registerStoreProxy } from '../api/rest/store-proxy.js';
import {
  BGP_OPER_PREFIX,
  DOCKER_GLOBAL_MAKER_KEY,
  DOCKER_SCOPE_PREFIX,
  DOCKER_SYNC_PREFIX,
  DOCKNET_PREFIX,
  HOST_PREFIX,
} from '../policy/model/endpoint.js';
import { openStore } from '../state/index.js';
import { type Election, elect } from '../state/leader.js';
import type { Store } from '../state/store.js';
import { onTermination, runAsProgram } from './daemon.js';
import { type FlagSpec, oneOf, parseFlags, usage } from './flags.js';
import { LOG_LEVELS, type LogLevel, makeLogger, parseSyslogUrl } from './log.js';

export const CLUSTER_MODES = ['docker', 'kubernetes', 'swarm-mode', 'test'] as const;
export type ClusterMode = (typeof CLUSTER_MODES)[number];

export interface NetmasterConfig {
  host: string;
  port: number;
  etcdEndpoints: string[];
  dataDir: string;
  /** Contiv's cluster mode, shown by global inspect and /info; netplugin --role netmaster passes its own. */
  mode?: ClusterMode;
  /** The global forwarding mode and infra type this netmaster sets where no network holds them back. */
  fwdMode?: 'bridge' | 'routing';
  infra?: 'aci' | 'default';
  /** vlan or vxlan, shown by /info (contiv-ts runs either encapsulation in every mode). */
  netMode?: 'vlan' | 'vxlan';
  /** The address other netmasters forward writes to (default: the listen address). */
  controlUrl?: string;
  pluginName?: string;
  log?: { level: LogLevel; json: boolean; syslogUrl?: string };
  /** The operator's certificate, key and CA; none: netmaster's own CA under dataDir/pki. */
  tls: { certFile?: string; keyFile?: string; caFile?: string };
  /** Plain HTTP on loopback, acting as the local admin (Contiv clients that cannot do TLS). */
  insecureListen?: { host: string; port: number };
  /** The first admin's password (else one is made up and printed once). */
  adminPasswordFile?: string;
  /** Where the local admin credential is written (root's netctl on this host reads it). */
  adminConf: string;
}

/** Contiv's netmaster flags and CONTIV_NETMASTER_* variables, and ours (--data-dir). */
const FLAGS = {
  etcd: {
    names: ['etcd-endpoints', 'etcd', 'cluster-store'],
    env: 'CONTIV_NETMASTER_ETCD_ENDPOINTS',
    help: 'etcd endpoints, comma separated; none: the embedded store',
  },
  consul: {
    names: ['consul-endpoints', 'consul'],
    env: 'CONTIV_NETMASTER_CONSUL_ENDPOINTS',
    help: 'not supported (etcd or the embedded store)',
  },
  listen: {
    names: ['listen-url', 'external-address'],
    env: 'CONTIV_NETMASTER_EXTERNAL_ADDRESS',
    default: ':9999',
    help: 'where to serve REST',
  },
  control: {
    names: ['control-url', 'internal-address'],
    env: 'CONTIV_NETMASTER_INTERNAL_ADDRESS',
    help: 'the address other netmasters forward writes to (default: the listen address)',
  },
  dataDir: { names: ['data-dir'], default: '/var/lib/contiv-ts', help: 'embedded store directory' },
  mode: {
    names: ['mode', 'plugin-mode', 'cluster-mode'],
    env: 'CONTIV_NETMASTER_MODE',
    default: 'docker',
    help: CLUSTER_MODES.join('|'),
  },
  fwdMode: {
    names: ['fwdmode', 'forward-mode'],
    env: 'CONTIV_NETMASTER_FORWARD_MODE',
    help: 'bridge|routing: the global forwarding mode',
  },
  netMode: { names: ['netmode', 'network-mode'], env: 'CONTIV_NETMASTER_NET_MODE', help: 'vlan|vxlan' },
  infra: {
    names: ['infra', 'infra-type'],
    env: 'CONTIV_NETMASTER_INFRA',
    help: 'aci|default: the global infra type',
  },
  pluginName: {
    names: ['name', 'plugin-name'],
    env: 'CONTIV_NETMASTER_PLUGIN_NAME',
    default: 'netplugin',
    help: 'the Docker plugin name, shown by /info',
  },
  logLevel: {
    names: ['log-level'],
    env: 'CONTIV_NETMASTER_LOG_LEVEL',
    default: 'INFO',
    help: 'DEBUG|INFO|WARN|ERROR',
  },
  jsonLog: {
    names: ['use-json-log', 'json-log'],
    env: 'CONTIV_NETMASTER_USE_JSON_LOG',
    boolean: true,
    help: 'log JSON lines (default: text)',
  },
  syslog: {
    names: ['use-syslog', 'syslog'],
    env: 'CONTIV_NETMASTER_USE_SYSLOG',
    boolean: true,
    help: 'log to syslog too',
  },
  syslogUrl: {
    names: ['syslog-url'],
    env: 'CONTIV_NETMASTER_SYSLOG_URL',
    default: 'udp://127.0.0.1:514',
    help: 'udp://host:port or tcp://host:port',
  },
  tlsCert: {
    names: ['tls-cert'],
    env: 'CONTIV_NETMASTER_TLS_CERT',
    help: 'server certificate (PEM); none: our own CA',
  },
  tlsKey: { names: ['tls-key'], env: 'CONTIV_NETMASTER_TLS_KEY', help: "the certificate's key (PEM)" },
  tlsCa: { names: ['tls-ca'], env: 'CONTIV_NETMASTER_TLS_CA', help: 'the CA that signed it (PEM)' },
  insecureListen: {
    names: ['insecure-listen'],
    env: 'CONTIV_NETMASTER_INSECURE_LISTEN',
    help: 'also serve plain HTTP here, loopback only, as the local admin (HOST:PORT)',
  },
  adminPasswordFile: {
    names: ['admin-password-file'],
    env: 'CONTIV_NETMASTER_ADMIN_PASSWORD_FILE',
    help: "the first admin's password (default: made up and printed once)",
  },
  adminConf: {
    names: ['admin-conf'],
    env: 'CONTIV_NETMASTER_ADMIN_CONF',
    default: DEFAULT_ADMIN_CONF,
    help: 'where to write the local admin credential (mode 0600)',
  },
} as const satisfies Record<string, FlagSpec>;

const USAGE = usage('Usage: netmaster [flags]', FLAGS);

/** ":9999", "host:9999" or "http://host:9999" → host and port (Contiv's listen-url forms). */
export function parseListenUrl(url: string): { host: string; port: number } {
  const bare = url.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  const i = bare.lastIndexOf(':');
  const host = i <= 0 ? '0.0.0.0' : bare.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(i < 0 ? bare : bare.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --listen-url "${url}"`);
  return { host, port };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
export function loopbackOnly(l: { host: string; port: number }): { host: string; port: number } {
  if (!LOOPBACK.has(l.host))
    throw new Error(`--insecure-listen ${l.host}:${l.port}: plain HTTP only on loopback (127.0.0.1 or ::1)`);
  return l;
}

// Contiv's cluster-store is "etcd://host:2379"; etcd3 wants "http://host:2379".
const endpoints = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim().replace(/^etcd:\/\//, 'http://'))
    .filter(Boolean);

/** The configuration from flags over env over defaults, or 'help'. Throws on an unknown or bad flag. */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): NetmasterConfig | 'help' {
  // CONTIV_NETMASTER_LISTEN_URL is the name netplugin --role netmaster reads too.
  const external = env.CONTIV_NETMASTER_EXTERNAL_ADDRESS || env.CONTIV_NETMASTER_LISTEN_URL;
  const f = parseFlags(
    argv,
    { ...env, ...(external ? { CONTIV_NETMASTER_EXTERNAL_ADDRESS: external } : {}) },
    FLAGS,
  );
  if (f.help) return 'help';
  if (f.consul)
    throw new Error(
      '--consul-endpoints: consul is not supported; use --etcd-endpoints or the embedded store',
    );
  const cfg: NetmasterConfig = {
    ...parseListenUrl(f.listen),
    etcdEndpoints: endpoints(f.etcd),
    dataDir: f.dataDir,
    mode: oneOf('mode', f.mode, CLUSTER_MODES),
    tls: {
      ...(f.tlsCert ? { certFile: f.tlsCert } : {}),
      ...(f.tlsKey ? { keyFile: f.tlsKey } : {}),
      ...(f.tlsCa ? { caFile: f.tlsCa } : {}),
    },
    adminConf: f.adminConf,
    ...(f.adminPasswordFile ? { adminPasswordFile: f.adminPasswordFile } : {}),
  };
  if (f.insecureListen) cfg.insecureListen = loopbackOnly(parseListenUrl(f.insecureListen));
  if (f.fwdMode) cfg.fwdMode = oneOf('fwdmode', f.fwdMode, ['bridge', 'routing'] as const);
  if (f.netMode) cfg.netMode = oneOf('netmode', f.netMode, ['vlan', 'vxlan'] as const);
  if (f.infra) cfg.infra = oneOf('infra', f.infra, ['aci', 'default'] as const);
  if (f.control) {
    const c = parseListenUrl(f.control);
    cfg.controlUrl = `https://${c.host === '0.0.0.0' ? hostname() : c.host}:${c.port}`;
  }
  if (f.pluginName !== 'netplugin') cfg.pluginName = f.pluginName;
  const level = oneOf('log-level', f.logLevel.toLowerCase(), LOG_LEVELS);
  const syslogUrl = f.syslog ? f.syslogUrl : undefined;
  if (syslogUrl) parseSyslogUrl(syslogUrl);
  if (level !== 'info' || f.jsonLog || syslogUrl) {
    cfg.log = { level, json: f.jsonLog === 'true', ...(syslogUrl ? { syslogUrl } : {}) };
  }
  return cfg;
}

/**
 * Contiv's netmaster wrote its --fwdmode and --infra into the global settings at start. They go
 * through the REST API's own checks (a forwarding mode cannot change under existing networks); a
 * refusal names both values.
 */
async function applyGlobalFlags(app: FastifyInstance, cfg: NetmasterConfig): Promise<void> {
  const want: Record<string, string> = {};
  if (cfg.fwdMode) want.fwdMode = cfg.fwdMode;
  if (cfg.infra) want.networkInfraType = cfg.infra;
  if (Object.keys(want).length === 0) return;
  const got = JSON.parse((await app.inject({ url: '/api/v1/globals/global/' })).body) as Record<
    string,
    unknown
  >;
  const changed = Object.entries(want).filter(
    ([k, v]) => (got[k] ?? (k === 'fwdMode' ? 'bridge' : 'default')) !== v,
  );
  if (changed.length === 0) return;
  const { key: _key, ...current } = got;
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/globals/global/',
    headers: { 'content-type': 'application/json' },
    payload: { ...current, ...want },
  });
  if (res.statusCode !== 200) {
    const flags = changed.map(
      ([k, v]) => `${k === 'fwdMode' ? '--fwdmode' : '--infra'} ${v} (global ${k} is ${got[k] ?? 'unset'})`,
    );
    throw new Error(`${flags.join(', ')}: ${(JSON.parse(res.body) as { Err?: string }).Err ?? res.body}`);
  }
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
  /** The local admin credential (URL on this host, token, CA): in-process clients use it. */
  credential: LocalCredential;
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
  // Listening on every address: the certificate names the host, and this host's clients use loopback.
  const anyAddress = cfg.host === '0.0.0.0' || cfg.host === '::';
  const pki = await preparePki(
    cfg.dataDir,
    {
      ...cfg.tls,
      ...(anyAddress ? {} : isIP(cfg.host) ? { ips: [cfg.host] } : { hostnames: [cfg.host] }),
    },
    leadership ? store : undefined,
  );
  const accounts = new Accounts(store);
  let localAdminToken: string | undefined;
  const app = buildServer({
    store,
    leadership,
    https: { key: pki.key, cert: pki.cert },
    auth: {
      accounts,
      trustPlainLocal: cfg.insecureListen !== undefined,
      localAdminToken: () => localAdminToken,
    },
    ...(pki.ca ? { leaderCa: pki.ca } : {}),
    storeDescription:
      cfg.etcdEndpoints.length > 0
        ? cfg.etcdEndpoints.map((e) => (/^\w+:\/\//.test(e) ? e : `etcd://${e}`)).join(',')
        : `embedded:${cfg.dataDir}`,
    logger: log.child({ component: 'rest' }),
    ...(cfg.mode ? { clusterMode: cfg.mode } : {}),
    ...(cfg.netMode ? { networkMode: cfg.netMode } : {}),
    ...(cfg.pluginName ? { pluginName: cfg.pluginName } : {}),
  });
  // Netplugins write only their own host, BGP and Docker network records, Docker sync marks and
  // scopes, and the global networks' maker election through it; everything else is read-only.
  registerStoreProxy(app, {
    store,
    hidden: (key) => key.startsWith(AUTH_PREFIX),
    writable: (key) =>
      [HOST_PREFIX, BGP_OPER_PREFIX, DOCKNET_PREFIX, DOCKER_SYNC_PREFIX, DOCKER_SCOPE_PREFIX].some((p) =>
        key.startsWith(p),
      ) || key === DOCKER_GLOBAL_MAKER_KEY,
  });
  try {
    await app.listen({ host: cfg.host, port: cfg.port });
  } catch (err) {
    if (!shared) await store.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
  const host = anyAddress ? hostname() : cfg.host;
  const url = `https://${host}:${port}`;
  // What root's netctl on this host uses: loopback unless REST listens on one address only.
  const localUrl = `https://${anyAddress ? '127.0.0.1' : cfg.host}:${port}`;
  let credential: LocalCredential;
  let insecure: ReturnType<typeof createServer> | undefined;
  try {
    const prepared = await prepareAccounts(accounts, {
      ...(cfg.adminPasswordFile ? { passwordFile: cfg.adminPasswordFile } : {}),
      adminConf: cfg.adminConf,
      netmaster: localUrl,
      ca: pki.ca,
    });
    // Printed once, not logged: logs travel (syslog); the first start's terminal does not.
    if (prepared.madePassword)
      process.stdout.write(`netmaster: first start: user admin, password ${prepared.madePassword}\n`);
    credential = prepared.credential;
    localAdminToken = credential.token;
    if (cfg.insecureListen) {
      const server = createServer(
        {
          requestTimeout: CLIENT_LIMITS.requestMs,
          headersTimeout: CLIENT_LIMITS.requestMs,
          connectionsCheckingInterval: CLIENT_LIMITS.checkEveryMs,
        },
        (req, res) => app.routing(req, res),
      );
      insecure = server;
      const l = cfg.insecureListen;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(l.port, l.host, () => resolve());
      });
    }
  } catch (err) {
    await app.close();
    if (!shared) await store.close();
    throw err;
  }
  const insecureAddr = insecure?.address();
  const settle = () => applyGlobalFlags(app, cfg);
  if (!leadership) {
    try {
      await settle();
    } catch (err) {
      await app.close();
      if (!shared) await store.close();
      throw err;
    }
  }
  if (leadership) {
    election = await elect(store, {
      id: `${hostname()}:${process.pid}`,
      address: cfg.controlUrl ?? url,
      ttlSec: LEADER_TTL_SEC,
    });
    election.on('elected', () => {
      log.info({ address: url }, 'leading');
      // Only the leader writes: the global flags take effect when this netmaster leads.
      settle().catch((err: Error) =>
        log.error({ err: err.message }, 'global settings from the flags refused'),
      );
    });
    election.on('deposed', () => log.warn({ address: url }, 'no longer leading'));
  }
  log.info(
    {
      listen: typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : addr,
      ...(insecureAddr && typeof insecureAddr === 'object'
        ? { insecureListen: `${insecureAddr.address}:${insecureAddr.port}` }
        : {}),
      tls: true,
      caFingerprint: pki.caFingerprint,
      adminConf: cfg.adminConf,
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
    credential,
    async stop() {
      try {
        insecure?.close();
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
  const log = makeLogger({ name: 'netmaster', level: 'info', json: false, ...parsed.log });
  // The handler goes in before the start: a SIGTERM while starting (or just after the "listening"
  // line) stops cleanly, with its log lines sent, instead of killing the process mid-write.
  const running = startNetmaster(parsed, log);
  onTermination(async (sig) => {
    log.info({ sig }, 'shutting down');
    await (await running).stop();
  });
  await running;
}

runAsProgram(import.meta.url, 'netmaster', main);
