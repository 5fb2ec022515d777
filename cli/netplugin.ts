#!/usr/bin/env node
// Owns netplugin's process edge: flags and CONTIV_NETPLUGIN_* env, opening the store and OVS,
// starting the host agent, clean shutdown. The agent (datapath/agent) does the work.
import { existsSync, readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { DEFAULT_ADMIN_CONF, readLocalCredential } from '../api/auth/bootstrap.js';
import { startCniServer } from '../api/cni/server.js';
import { startDockerHost } from '../api/docker/host.js';
import { RestNetmasterClient } from '../api/docker/netmaster-client.js';
import { StoreTargetResolver } from '../api/docker/target.js';
import { DEFAULT_BGP_STATE_DIR, HostAgent } from '../datapath/agent/agent.js';
import { startDnsService } from '../datapath/agent/dns-service.js';
import { parseGobgpApi } from '../datapath/bgp/gobgpd.js';
import { OvsdbClient } from '../datapath/ovsdb/client.js';
import { VSwitch } from '../datapath/vswitch.js';
import type { PipelineFeature } from '../policy/compiler/feature.js';
import { CONFIG_PREFIX } from '../policy/model/index.js';
import { openStore } from '../state/index.js';
import { LEADER_KEY } from '../state/leader.js';
import { RemoteStore } from '../state/remote.js';
import type { Store } from '../state/store.js';
import { onTermination, runAsProgram } from './daemon.js';
import { type FlagSpec, list, oneOf, parseFlags, usage } from './flags.js';
import { LOG_LEVELS, type LogLevel, makeLogger, parseSyslogUrl } from './log.js';
import { loopbackOnly, parseListenUrl, startNetmaster } from './netmaster.js';

const FLAGS = {
  host: {
    names: ['host'],
    env: 'CONTIV_NETPLUGIN_HOST',
    help: "host name to identify this host (default: the kernel's)",
  },
  vtepIp: {
    names: ['vtep-ip'],
    env: 'CONTIV_NETPLUGIN_VTEP_IP',
    help: 'address for VXLAN tunnels (default: first non-loopback IPv4)',
  },
  controlIp: {
    names: ['ctrl-ip', 'control-ip'],
    env: 'CONTIV_NETPLUGIN_CONTROL_IP',
    help: 'address for control traffic (default: the VTEP address)',
  },
  vlanUplinks: {
    names: ['vlan-if', 'vlan-uplinks'],
    env: 'CONTIV_NETPLUGIN_VLAN_UPLINKS',
    help: 'VLAN uplink interfaces, comma separated',
  },
  etcd: {
    names: ['etcd', 'etcd-endpoints', 'cluster-store'],
    env: 'CONTIV_NETPLUGIN_ETCD_ENDPOINTS',
    help: 'etcd endpoints, comma separated',
  },
  fwdMode: {
    names: ['fwd-mode', 'forward-mode'],
    env: 'CONTIV_NETPLUGIN_FORWARD_MODE',
    help: "bridge|routing: refused unless it is the global setting (default: the global's)",
  },
  netMode: {
    names: ['netmode', 'net-mode'],
    env: 'CONTIV_NETPLUGIN_NET_MODE',
    help: 'vlan|vxlan: refused if a network of the other encap exists; vlan needs --vlan-if',
  },
  mode: {
    names: ['plugin-mode', 'mode'],
    env: 'CONTIV_NETPLUGIN_MODE',
    default: 'docker',
    help: 'docker|kubernetes|swarm-mode',
  },
  cni: {
    names: ['cni'],
    env: 'CONTIV_NETPLUGIN_CNI',
    boolean: true,
    help: 'serve the CNI plugin (contiv-cni) in docker and swarm modes too (always on in kubernetes mode)',
  },
  cniSocket: {
    names: ['cni-socket'],
    env: 'CONTIV_CNI_SOCKET',
    default: '/run/contiv/cni.sock',
    help: "the CNI plugin's socket to netplugin",
  },
  vxlanPort: {
    names: ['vxlan-port'],
    env: 'CONTIV_NETPLUGIN_VXLAN_PORT',
    default: '4789',
    help: 'VXLAN UDP port',
  },
  logLevel: {
    names: ['log-level'],
    env: 'CONTIV_NETPLUGIN_LOG_LEVEL',
    default: 'INFO',
    help: 'DEBUG|INFO|WARN|ERROR',
  },
  jsonLog: {
    names: ['json-log', 'use-json-log'],
    env: 'CONTIV_NETPLUGIN_USE_JSON_LOG',
    boolean: true,
    help: 'log JSON lines (default: text)',
  },
  syslog: {
    names: ['use-syslog', 'syslog'],
    env: 'CONTIV_NETPLUGIN_USE_SYSLOG',
    boolean: true,
    help: 'log to syslog too',
  },
  syslogUrl: {
    names: ['syslog-url'],
    env: 'CONTIV_NETPLUGIN_SYSLOG_URL',
    default: 'udp://127.0.0.1:514',
    help: 'udp://host:port or tcp://host:port',
  },
  netmasterLogLevel: {
    names: ['netmaster-log-level'],
    env: 'CONTIV_NETMASTER_LOG_LEVEL',
    help: "with --role netmaster: netmaster's DEBUG|INFO|WARN|ERROR (default: --log-level)",
  },
  dns: {
    names: ['dns'],
    env: 'CONTIV_NETPLUGIN_DNS',
    boolean: true,
    default: 'true',
    help: "answer containers' DNS queries for their tenant's names (--dns=false: off)",
  },
  dnsListen: {
    names: ['dns-listen'],
    env: 'CONTIV_NETPLUGIN_DNS_LISTEN',
    help: 'also answer DNS at HOST:PORT (UDP and TCP) for the default tenant, forwarding other names',
  },
  bgpApi: {
    names: ['bgp-api'],
    env: 'CONTIV_NETPLUGIN_BGP_API',
    help: "gobgpd's gRPC listen address: unix:///PATH or HOST:PORT (default unix://STATE-DIR/gobgpd.sock)",
  },
  stateDir: {
    names: ['state-dir'],
    env: 'CONTIV_NETPLUGIN_STATE_DIR',
    default: DEFAULT_BGP_STATE_DIR,
    help: "run state: gobgpd's pidfile (a restarted netplugin adopts a gobgpd still running), log, socket",
  },
  bridge: { names: ['bridge'], default: 'contivbr', help: 'the OVS integration bridge' },
  ovsRundir: {
    names: ['ovs-rundir'],
    env: 'OVS_RUNDIR',
    default: '/var/run/openvswitch',
    help: 'OVS run directory (db.sock, BRIDGE.mgmt)',
  },
  datapath: {
    names: ['datapath'],
    help: 'OVS datapath type: system (kernel module) or netdev (default: system when the module is loaded)',
  },
  dataDir: {
    names: ['data-dir'],
    default: '/var/lib/contiv-ts',
    help: 'embedded store directory (all-in-one, no etcd)',
  },
  role: {
    names: ['role'],
    env: 'CONTIV_ROLE',
    default: 'netplugin',
    help: 'netplugin, or netmaster: this process runs netmaster too',
  },
  netmaster: {
    names: ['netmaster'],
    env: 'NETMASTER',
    help: 'netmaster URL: its store API when there is no etcd',
  },
  pluginName: {
    names: ['plugin-name'],
    env: 'CONTIV_NETMASTER_PLUGIN_NAME',
    default: 'netplugin',
    help: 'Docker plugin name: its socket is /run/docker/plugins/NAME.sock',
  },
  pluginSocket: {
    names: ['plugin-socket'],
    help: 'plugin socket path (default /run/docker/plugins/NAME.sock; a managed plugin names its own)',
  },
  dockerSocket: {
    names: ['docker-socket'],
    env: 'DOCKER_SOCKET',
    default: '/var/run/docker.sock',
    help: 'Docker Engine API socket',
  },
  listenUrl: {
    names: ['listen-url'],
    env: 'CONTIV_NETMASTER_LISTEN_URL',
    default: ':9999',
    help: 'netmaster REST address (role netmaster)',
  },
  insecureListen: {
    names: ['insecure-listen'],
    env: 'CONTIV_NETMASTER_INSECURE_LISTEN',
    help: 'role netmaster: also serve plain HTTP here, loopback only, as the local admin',
  },
  adminConf: {
    names: ['admin-conf'],
    env: 'CONTIV_NETMASTER_ADMIN_CONF',
    default: DEFAULT_ADMIN_CONF,
    help: "the local admin credential: role netmaster writes it; otherwise netmaster's token and CA, if readable",
  },
  netmasterCa: {
    names: ['netmaster-ca'],
    env: 'CONTIV_NETPLUGIN_NETMASTER_CA',
    help: "the CA of an https:// netmaster (PEM file; default: the admin credential's)",
  },
  netmasterTokenFile: {
    names: ['netmaster-token-file'],
    env: 'CONTIV_NETPLUGIN_NETMASTER_TOKEN_FILE',
    help: "this host's token for netmaster (default: the admin credential's)",
  },
} as const satisfies Record<string, FlagSpec>;

export interface NetpluginConfig {
  host: string;
  vtepIp: string;
  controlIp: string;
  vlanUplinks: string[];
  etcdEndpoints: string[];
  fwdMode: '' | 'bridge' | 'routing';
  netMode: '' | 'vlan' | 'vxlan';
  mode: 'docker' | 'kubernetes' | 'swarm-mode';
  /** Serve CNI (kubernetes mode always does); absent: false. */
  cni?: boolean;
  /** Absent: /run/contiv/cni.sock. */
  cniSocket?: string;
  vxlanPort: number;
  logLevel: LogLevel;
  jsonLog: boolean;
  /** Also log to syslog here; absent: no syslog. */
  syslogUrl?: string;
  /** With --role netmaster: netmaster's own level; absent: logLevel. */
  netmasterLogLevel?: LogLevel;
  bridge: string;
  ovsRundir: string;
  /** dummy: the userspace datapath without kernel devices (tests). */
  datapath: 'system' | 'netdev' | 'dummy';
  dataDir: string;
  /** Service discovery for this host's containers; absent means on. */
  dns?: boolean;
  /** HOST:PORT of a listening DNS server; '' or absent: none. */
  dnsListen?: string;
  role: 'netplugin' | 'netmaster';
  /** '' when not given. */
  netmasterUrl: string;
  listenUrl: string;
  /** Role netmaster: its plain loopback listener (HOST:PORT), if asked for. */
  insecureListen?: string;
  /** Absent: DEFAULT_ADMIN_CONF. */
  adminConf?: string;
  /** How this host proves itself to an https:// netmaster. */
  netmasterCa?: string;
  netmasterTokenFile?: string;
  pluginName: string;
  /** '' when not given: /run/docker/plugins/<pluginName>.sock. */
  pluginSocket?: string;
  dockerSocket: string;
  /** gobgpd's gRPC listen address; absent: unix://<stateDir>/gobgpd.sock. */
  bgpApi?: string;
  /** gobgpd's pidfile, log and default socket; absent: /var/run/contiv-ts. */
  stateDir?: string;
  /** Tests: the namespace standing for the host (where ovs-vswitchd runs and contivh0 lives). */
  hostNetns?: string;
}

function defaultIp(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export function parseNetpluginArgs(argv: string[], env: NodeJS.ProcessEnv): NetpluginConfig | 'help' {
  const f = parseFlags(argv, env, FLAGS);
  if (f.help) return 'help';
  const vxlanPort = Number(f.vxlanPort);
  if (!Number.isInteger(vxlanPort) || vxlanPort < 1 || vxlanPort > 65535) {
    throw new Error(`--vxlan-port: "${f.vxlanPort}" is not a UDP port`);
  }
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
  const vtepIp = f.vtepIp || defaultIp();
  if (!ipv4.test(vtepIp)) throw new Error(`--vtep-ip: "${vtepIp}" is not an IPv4 address`);
  const controlIp = f.controlIp || vtepIp;
  if (!ipv4.test(controlIp)) throw new Error(`--ctrl-ip: "${controlIp}" is not an IPv4 address`);
  const netMode = oneOf('netmode', f.netMode, ['', 'vlan', 'vxlan'] as const);
  // Contiv's netplugin refused this too: VLAN networks leave the host only through an uplink.
  if (netMode === 'vlan' && list(f.vlanUplinks).length === 0)
    throw new Error('--netmode vlan needs --vlan-if: VLAN networks leave this host through an uplink');
  return {
    host: f.host || hostname(),
    vtepIp,
    controlIp,
    vlanUplinks: list(f.vlanUplinks),
    etcdEndpoints: list(f.etcd).map((s) => s.replace(/^etcd:\/\//, 'http://')),
    fwdMode: oneOf('fwd-mode', f.fwdMode, ['', 'bridge', 'routing'] as const),
    netMode,
    mode: oneOf('plugin-mode', f.mode, ['docker', 'kubernetes', 'swarm-mode'] as const),
    cni: f.cni === 'true',
    cniSocket: f.cniSocket,
    vxlanPort,
    logLevel: oneOf('log-level', f.logLevel.toLowerCase(), LOG_LEVELS),
    jsonLog: f.jsonLog === 'true',
    ...(f.syslog && parseSyslogUrl(f.syslogUrl) ? { syslogUrl: f.syslogUrl } : {}),
    ...(f.netmasterLogLevel
      ? { netmasterLogLevel: oneOf('netmaster-log-level', f.netmasterLogLevel.toLowerCase(), LOG_LEVELS) }
      : {}),
    bridge: f.bridge,
    ovsRundir: f.ovsRundir,
    datapath: oneOf('datapath', f.datapath || (existsSync('/sys/module/openvswitch') ? 'system' : 'netdev'), [
      'system',
      'netdev',
      'dummy',
    ] as const),
    dataDir: f.dataDir,
    dns: f.dns === 'true',
    dnsListen: f.dnsListen ? validHostPort('dns-listen', f.dnsListen) : '',
    role: oneOf('role', f.role, ['netplugin', 'netmaster'] as const),
    netmasterUrl: f.netmaster,
    listenUrl: f.listenUrl,
    ...(f.insecureListen ? { insecureListen: f.insecureListen } : {}),
    adminConf: f.adminConf,
    ...(f.netmasterCa ? { netmasterCa: f.netmasterCa } : {}),
    ...(f.netmasterTokenFile ? { netmasterTokenFile: f.netmasterTokenFile } : {}),
    pluginName: f.pluginName,
    pluginSocket: f.pluginSocket,
    dockerSocket: f.dockerSocket,
    ...(f.bgpApi ? { bgpApi: parseGobgpApi('--bgp-api', f.bgpApi) } : {}),
    stateDir: f.stateDir,
  };
}

/**
 * Where the intent comes from: etcd when given; else, running netmaster too, the embedded store
 * both roles share; else netmaster's store API.
 */
export async function openNetpluginStore(cfg: NetpluginConfig): Promise<Store> {
  if (cfg.etcdEndpoints.length > 0) return openStore({ etcdEndpoints: cfg.etcdEndpoints });
  if (cfg.role === 'netmaster') return openStore({ dataDir: cfg.dataDir });
  if (cfg.netmasterUrl) return new RemoteStore(cfg.netmasterUrl.replace(/\/+$/, ''), netmasterCreds(cfg));
  throw new Error('no store: give --etcd ENDPOINTS, --netmaster URL, or --role netmaster (all-in-one)');
}

/**
 * Contiv's netplugin refused to start when its --fwd-mode differed from the global one; --netmode
 * is held to the networks the cluster already has. Without the flags the agent follows the global.
 * Returns why this host cannot join the cluster, or undefined.
 */
export async function clusterModeConflict(
  cfg: Pick<NetpluginConfig, 'fwdMode' | 'netMode'>,
  store: Pick<Store, 'get' | 'list'>,
): Promise<string | undefined> {
  if (cfg.fwdMode) {
    const kv = await store.get(`${CONFIG_PREFIX}global/global`);
    const global = kv ? (JSON.parse(kv.value) as { fwdMode?: string }).fwdMode || 'bridge' : 'bridge';
    if (global !== cfg.fwdMode)
      return `--fwd-mode ${cfg.fwdMode} conflicts with the cluster's forwarding mode ${global} (netctl global info)`;
  }
  if (cfg.netMode) {
    for (const kv of await store.list(`${CONFIG_PREFIX}network/`)) {
      const n = JSON.parse(kv.value) as { tenantName?: string; networkName?: string; encap?: string };
      const encap = n.encap || 'vxlan';
      if (encap !== cfg.netMode)
        return `--netmode ${cfg.netMode} conflicts with the cluster's network ${n.tenantName}/${n.networkName}, encap ${encap} (netctl net ls)`;
    }
  }
  return undefined;
}

export interface RunningNetplugin {
  agent: HostAgent;
  /** stopGobgpd: see HostAgent.stop (by default gobgpd outlives netplugin, for the next to adopt). */
  stop(opts?: { stopGobgpd?: boolean }): Promise<void>;
}

/** Starts the host agent for cfg on store; the caller owns the store. */
/** v itself, once it is a valid HOST:PORT. */
function validHostPort(flag: string, v: string): string {
  parseHostPort(flag, v);
  return v;
}

function parseHostPort(flag: string, v: string): { host: string; port: number } {
  const i = v.lastIndexOf(':');
  const port = Number(v.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`--${flag}: "${v}" is not HOST:PORT`);
  return { host: v.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

export async function startNetplugin(
  cfg: NetpluginConfig,
  store: Store,
  features: readonly PipelineFeature[],
  logger: Logger,
): Promise<RunningNetplugin> {
  const ovsdb = await OvsdbClient.connect(`unix:${join(cfg.ovsRundir, 'db.sock')}`);
  try {
    const vswitch = new VSwitch(ovsdb, { name: cfg.bridge, datapathType: cfg.datapath, owner: 'netplugin' });
    const agent = new HostAgent({
      store,
      host: { name: cfg.host, vtepIP: cfg.vtepIp, controlIP: cfg.controlIp, uplinks: cfg.vlanUplinks },
      vswitch,
      switchTarget: `unix:${join(cfg.ovsRundir, `${cfg.bridge}.mgmt`)}`,
      features,
      logger,
      ...(cfg.hostNetns ? { hostNetns: { name: cfg.hostNetns } } : {}),
      ...(cfg.stateDir ? { bgpStateDir: cfg.stateDir } : {}),
      ...(cfg.bgpApi ? { bgpApi: cfg.bgpApi } : {}),
      vxlanPort: cfg.vxlanPort,
    });
    await agent.start();
    const listen = cfg.dnsListen ? parseHostPort('dns-listen', cfg.dnsListen) : undefined;
    const dns = cfg.dns === false ? undefined : await startDnsService(store, agent, listen ? { listen } : {});
    if (dns?.server) {
      const { address, udpPath } = dns.server;
      if (udpPath === 'native') logger.info({ address, udpPath }, 'dns listening');
      // The native hot path was not built (make build): UDP answers cost several times more.
      else logger.warn({ address, udpPath }, 'dns listening without the native UDP path');
    }
    return {
      agent,
      async stop(opts = {}) {
        await dns?.close();
        await agent.stop(opts);
        ovsdb.close();
      },
    };
  } catch (err) {
    ovsdb.close();
    throw err;
  }
}

/** The token and CA this host shows an https:// netmaster: the files given, else the admin credential's. */
export function netmasterCreds(cfg: NetpluginConfig): { token?: string; ca?: string } {
  const local = readLocalCredential(cfg.adminConf ?? DEFAULT_ADMIN_CONF);
  const token = cfg.netmasterTokenFile ? readFileSync(cfg.netmasterTokenFile, 'utf8').trim() : local?.token;
  const ca = cfg.netmasterCa ? readFileSync(cfg.netmasterCa, 'utf8') : local?.ca;
  return { ...(token ? { token } : {}), ...(ca ? { ca } : {}) };
}

/** netmaster's address: given, or the leader's as recorded in the store. */
async function findNetmaster(cfg: NetpluginConfig, store: Store): Promise<string> {
  if (cfg.netmasterUrl) return cfg.netmasterUrl.replace(/\/+$/, '');
  const kv = await store.get(LEADER_KEY);
  const address = kv ? (JSON.parse(kv.value) as { address?: unknown }).address : undefined;
  if (typeof address !== 'string')
    throw new Error('no netmaster: give --netmaster URL (no leader is recorded in the store)');
  return address;
}

async function main(): Promise<void> {
  let cfg: NetpluginConfig | 'help';
  try {
    cfg = parseNetpluginArgs(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`Error: ${(e as Error).message}\n\n${usage('Usage: netplugin [flags]', FLAGS)}`);
    process.exit(2);
  }
  if (cfg === 'help') {
    process.stdout.write(usage('Usage: netplugin [flags]', FLAGS));
    return;
  }
  // The streams pass the lower of the two levels; each logger filters to its own.
  const rank = (l: LogLevel) => LOG_LEVELS.indexOf(l);
  const floor =
    cfg.netmasterLogLevel && rank(cfg.netmasterLogLevel) < rank(cfg.logLevel)
      ? cfg.netmasterLogLevel
      : cfg.logLevel;
  const logger = makeLogger({
    name: 'netplugin',
    level: floor,
    json: cfg.jsonLog,
    ...(cfg.syslogUrl ? { syslogUrl: cfg.syslogUrl } : {}),
  });
  logger.level = cfg.logLevel;
  // The handler goes in before the start: a SIGTERM while starting lets the start finish, then
  // stops everything cleanly (the default action would kill the process mid-write).
  const starting = serve(cfg, logger);
  onTermination(async (sig) => {
    logger.info({ sig }, 'shutting down');
    await (await starting)();
  });
  await starting;
}

/** Starts this host's pieces; resolves with the function that stops them, last started first. */
async function serve(cfg: NetpluginConfig, logger: Logger): Promise<() => Promise<void>> {
  const store = await openNetpluginStore(cfg);
  const master =
    cfg.role === 'netmaster'
      ? await startNetmaster(
          {
            ...parseListenUrl(cfg.listenUrl),
            etcdEndpoints: cfg.etcdEndpoints,
            dataDir: cfg.dataDir,
            mode: cfg.mode,
            tls: {},
            adminConf: cfg.adminConf ?? DEFAULT_ADMIN_CONF,
            ...(cfg.insecureListen
              ? { insecureListen: loopbackOnly(parseListenUrl(cfg.insecureListen)) }
              : {}),
          },
          logger.child({ role: 'netmaster' }, { level: cfg.netmasterLogLevel ?? cfg.logLevel }),
          store,
        )
      : undefined;
  const conflict = await clusterModeConflict(cfg, store);
  if (conflict) {
    logger.error(conflict);
    process.stderr.write(`netplugin: ${conflict}\n`);
    await master?.stop();
    await store.close();
    process.exit(2);
  }
  const { allFeatures } = await import('../datapath/pipeline/all.js');
  const running = await startNetplugin(cfg, store, allFeatures, logger);
  const netmasterUrl = master ? master.credential.netmaster : await findNetmaster(cfg, store);
  const creds = master ? { token: master.credential.token, ca: master.credential.ca } : netmasterCreds(cfg);
  // Kubernetes drives us through CNI; Docker (and swarm mode) through the plugin socket.
  const docker =
    cfg.mode === 'kubernetes'
      ? undefined
      : await startDockerHost({
          store,
          agent: running.agent,
          hostName: cfg.host,
          leaseId: () => running.agent.leaseId,
          netmasterUrl,
          netmasterCreds: creds,
          pluginName: cfg.pluginName,
          ...(cfg.pluginSocket
            ? { pluginDir: dirname(cfg.pluginSocket), socketName: basename(cfg.pluginSocket, '.sock') }
            : {}),
          dockerSocket: cfg.dockerSocket,
          scope: cfg.mode === 'swarm-mode' ? 'global' : 'local',
          log: logger.child({ part: 'docker' }),
        });
  // The engine work runs in the background; this line says the engine has our networks and endpoints.
  let stopping = false;
  void docker?.ready.then(() => {
    if (!stopping) logger.info({ part: 'docker' }, 'docker engine in sync');
  });
  const cni =
    cfg.mode === 'kubernetes' || cfg.cni
      ? await startCniServer({
          targets: new StoreTargetResolver(store),
          netmaster: new RestNetmasterClient(netmasterUrl, creds),
          agent: running.agent,
          hostName: cfg.host,
          ...(cfg.cniSocket ? { socketPath: cfg.cniSocket } : {}),
          log: logger.child({ part: 'cni' }),
        })
      : undefined;
  return async () => {
    stopping = true;
    try {
      await docker?.close();
      await cni?.close();
      await running.stop();
      await master?.stop();
    } finally {
      await store.close();
    }
  };
}

runAsProgram(import.meta.url, 'netplugin', main);
