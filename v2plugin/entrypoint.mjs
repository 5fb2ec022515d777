// The managed plugin's PID 1: reads the settable env (both generations), fails with one clear line
// in plugin_bootup.log on a bad value, starts OVS (its own userspace one, or the host's) and then
// netplugin (with netmaster in the same process for role netmaster), and on SIGTERM stops them and
// removes the taps a netdev bridge leaves in the host namespace. Plain JS: it runs from the rootfs.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { BUILD_NAME, DOCKER_SOCKET, HOST_RUN, SETTINGS, SOCKET } from './config.mjs';

process.env.PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const env = process.env;
const DEFAULTS = new Map(SETTINGS.map(([n, v]) => [n, v === '@NAME@' ? (env[BUILD_NAME] ?? '') : v]));
const LOG_DIR = env.CONTIV_LOG_DIR || '/var/log/contiv';
const BOOT_LOG = join(LOG_DIR, 'plugin_bootup.log');
mkdirSync(LOG_DIR, { recursive: true });

function boot(line) {
  const text = `${new Date().toISOString()} ${line}\n`;
  appendFileSync(BOOT_LOG, text);
  process.stderr.write(text);
}

/** The value of a newer setting, else of an older one that was set (differs from its default). */
function pick(newer, older) {
  const v = env[newer] ?? '';
  if (older !== undefined) {
    const o = env[older] ?? '';
    if (o !== (DEFAULTS.get(older) ?? '') && o !== 'none' && (v === '' || v === DEFAULTS.get(newer)))
      return o;
  }
  return v;
}

class BadSetting extends Error {}
function oneOf(name, v, allowed) {
  if (!allowed.includes(v)) throw new BadSetting(`${name}="${v}" is not one of ${allowed.join(', ')}`);
  return v;
}
/** Inside the plugin: the worker's token and netmaster's CA, from its settings. */
const SECRETS_DIR = '/run/contiv-ts';
const NETMASTER_TOKEN_FILE = `${SECRETS_DIR}/netmaster-token`;
const NETMASTER_CA_FILE = `${SECRETS_DIR}/netmaster-ca.pem`;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Settings → netplugin's flags; throws BadSetting naming the setting. */
function netpluginArgs() {
  // plugin_role has no default (unlike the old seed's "master"): so that a given one is known.
  let role = oneOf('CONTIV_ROLE', env.CONTIV_ROLE || 'netplugin', ['netmaster', 'netplugin']);
  if (env.plugin_role) {
    const old = { master: 'netmaster', worker: 'netplugin' }[
      oneOf('plugin_role', env.plugin_role, ['master', 'worker'])
    ];
    if (env.CONTIV_ROLE === 'netmaster' && old !== role)
      throw new BadSetting(`plugin_role=${env.plugin_role} contradicts CONTIV_ROLE=${env.CONTIV_ROLE}`);
    role = old;
  }
  for (const k of ['CONTIV_NETPLUGIN_CONSUL_ENDPOINTS', 'CONTIV_NETMASTER_CONSUL_ENDPOINTS'])
    if (env[k]) throw new BadSetting(`${k}: consul is not supported, use etcd endpoints`);
  if (env.CONTIV_NETMASTER_INFRA && env.CONTIV_NETMASTER_INFRA !== 'default')
    throw new BadSetting(
      `CONTIV_NETMASTER_INFRA="${env.CONTIV_NETMASTER_INFRA}": only "default" is supported`,
    );
  let etcd = pick('CONTIV_NETPLUGIN_ETCD_ENDPOINTS', 'cluster_store');
  if (env.CONTIV_NETMASTER_ETCD_ENDPOINTS && etcd === DEFAULTS.get('CONTIV_NETPLUGIN_ETCD_ENDPOINTS'))
    etcd = env.CONTIV_NETMASTER_ETCD_ENDPOINTS;
  for (const e of etcd.split(',').filter(Boolean)) {
    if (e.startsWith('consul:')) throw new BadSetting(`cluster_store="${e}": consul is not supported`);
    if (!/^(etcd|https?):\/\/[^/\s]+\/?$/.test(e))
      throw new BadSetting(`etcd endpoint "${e}" is not etcd://host:port`);
  }
  // A worker may follow the manager's netmaster (its store API) instead of etcd.
  const netmaster = env.CONTIV_NETPLUGIN_NETMASTER_URL ?? '';
  if (netmaster && !/^https?:\/\/[^/\s]+:\d+\/?$/.test(netmaster))
    throw new BadSetting(`CONTIV_NETPLUGIN_NETMASTER_URL="${netmaster}" is not https://host:port`);
  const token = env.CONTIV_NETPLUGIN_NETMASTER_TOKEN ?? '';
  const ca = env.CONTIV_NETPLUGIN_NETMASTER_CA ?? '';
  if ((token || ca) && !netmaster)
    throw new BadSetting('CONTIV_NETPLUGIN_NETMASTER_TOKEN and _CA go with CONTIV_NETPLUGIN_NETMASTER_URL');
  if (netmaster.startsWith('https:') && (!token || !ca))
    throw new BadSetting(
      "an https:// CONTIV_NETPLUGIN_NETMASTER_URL needs CONTIV_NETPLUGIN_NETMASTER_TOKEN and CONTIV_NETPLUGIN_NETMASTER_CA (from the master host's /run/contiv/admin.conf)",
    );
  const caPem = ca ? Buffer.from(ca, 'base64').toString('utf8') : '';
  if (ca && !caPem.includes('BEGIN CERTIFICATE'))
    throw new BadSetting('CONTIV_NETPLUGIN_NETMASTER_CA is not a base64 PEM certificate');
  if (netmaster && role === 'netmaster')
    throw new BadSetting('CONTIV_NETPLUGIN_NETMASTER_URL is for role netplugin (netmaster is this plugin)');
  // Given alone, it replaces the default etcd endpoint (an etcd given too wins).
  if (netmaster && etcd === DEFAULTS.get('CONTIV_NETPLUGIN_ETCD_ENDPOINTS')) etcd = '';
  if (etcd === '' && role !== 'netmaster' && !netmaster)
    throw new BadSetting(
      'no etcd endpoints: role netplugin needs CONTIV_NETPLUGIN_ETCD_ENDPOINTS or CONTIV_NETPLUGIN_NETMASTER_URL',
    );
  const args = [`--role=${role}`, `--etcd=${etcd.replace(/etcd:\/\//g, 'http://')}`];
  if (netmaster) args.push(`--netmaster=${netmaster}`);
  const ip = (name, v) => {
    if (v && !IPV4.test(v)) throw new BadSetting(`${name}="${v}" is not an IPv4 address`);
    return v;
  };
  const vtep = ip('CONTIV_NETPLUGIN_VTEP_IP', pick('CONTIV_NETPLUGIN_VTEP_IP', 'vtep_ip'));
  if (vtep) args.push(`--vtep-ip=${vtep}`);
  const ctrl = ip('CONTIV_NETPLUGIN_CONTROL_IP', pick('CONTIV_NETPLUGIN_CONTROL_IP', 'ctrl_ip'));
  if (ctrl) args.push(`--ctrl-ip=${ctrl}`);
  const uplinks = pick('CONTIV_NETPLUGIN_VLAN_UPLINKS', 'iflist');
  if (uplinks) args.push(`--vlan-if=${uplinks}`);
  const fwd = env.CONTIV_NETPLUGIN_FORWARD_MODE || env.CONTIV_NETMASTER_FORWARD_MODE || '';
  for (const k of ['CONTIV_NETPLUGIN_FORWARD_MODE', 'CONTIV_NETMASTER_FORWARD_MODE'])
    oneOf(k, env[k] ?? '', ['', 'bridge', 'routing']);
  if (fwd) args.push(`--fwd-mode=${fwd}`);
  const net = env.CONTIV_NETPLUGIN_NET_MODE || env.CONTIV_NETMASTER_NET_MODE || '';
  for (const k of ['CONTIV_NETPLUGIN_NET_MODE', 'CONTIV_NETMASTER_NET_MODE'])
    oneOf(k, env[k] ?? '', ['', 'vlan', 'vxlan']);
  if (net) args.push(`--netmode=${net}`);
  for (const k of ['CONTIV_NETPLUGIN_MODE', 'CONTIV_NETMASTER_MODE'])
    oneOf(k, env[k] ?? '', ['', 'docker', 'kubernetes', 'swarm-mode']);
  args.push(`--plugin-mode=${env.CONTIV_NETPLUGIN_MODE || env.CONTIV_NETMASTER_MODE || 'docker'}`);
  if (env.CONTIV_NETPLUGIN_HOST) args.push(`--host=${env.CONTIV_NETPLUGIN_HOST}`);
  const port = env.CONTIV_NETPLUGIN_VXLAN_PORT || '4789';
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    throw new BadSetting(`CONTIV_NETPLUGIN_VXLAN_PORT="${port}" is not a UDP port`);
  args.push(`--vxlan-port=${port}`);
  let level = (env.CONTIV_NETPLUGIN_LOG_LEVEL || 'INFO').toUpperCase();
  oneOf('CONTIV_NETPLUGIN_LOG_LEVEL', level, ['DEBUG', 'INFO', 'WARN', 'ERROR']);
  oneOf('CONTIV_NETMASTER_LOG_LEVEL', (env.CONTIV_NETMASTER_LOG_LEVEL || 'INFO').toUpperCase(), [
    'DEBUG',
    'INFO',
    'WARN',
    'ERROR',
  ]);
  oneOf('dbg_flag', env.dbg_flag ?? '', ['', '-debug']);
  if (env.dbg_flag === '-debug') level = 'DEBUG';
  args.push(`--log-level=${level}`);
  if (env.CONTIV_NETPLUGIN_USE_JSON_LOG || env.CONTIV_NETMASTER_USE_JSON_LOG) args.push('--json-log');
  for (const k of ['CONTIV_NETPLUGIN_SYSLOG_URL', 'CONTIV_NETMASTER_SYSLOG_URL']) {
    const v = env[k] ?? '';
    if (v && !/^(udp|tcp):\/\/\S+:\d+$/.test(v))
      throw new BadSetting(`${k}="${v}" is not udp://ip:port or tcp://ip:port`);
  }
  // One process logs for both roles: to syslog when either asks, at the netplugin's address if set.
  if (env.CONTIV_NETPLUGIN_USE_SYSLOG || env.CONTIV_NETMASTER_USE_SYSLOG) {
    const url = env.CONTIV_NETPLUGIN_SYSLOG_URL || env.CONTIV_NETMASTER_SYSLOG_URL || 'udp://127.0.0.1:514';
    args.push('--use-syslog', `--syslog-url=${url}`);
  }
  if (env.CONTIV_NETMASTER_LOG_LEVEL)
    args.push(`--netmaster-log-level=${env.CONTIV_NETMASTER_LOG_LEVEL.toUpperCase()}`);
  const listen = pick('CONTIV_NETMASTER_EXTERNAL_ADDRESS', 'listen_url');
  if (!/^[^\s/]*:\d+$/.test(listen.replace(/^https?:\/\//, '')))
    throw new BadSetting(`netmaster listen address "${listen}" is not [host]:port`);
  args.push(`--listen-url=${listen}`);
  const name = pick('CONTIV_NETMASTER_PLUGIN_NAME', 'plugin_name');
  if (!name) throw new BadSetting("CONTIV_NETMASTER_PLUGIN_NAME is empty: give the plugin's name:tag");
  args.push(`--plugin-name=${name}`, `--plugin-socket=/run/docker/plugins/${SOCKET}`);
  args.push(`--docker-socket=${DOCKER_SOCKET}`, '--data-dir=/var/lib/contiv-ts');
  // The master's local admin credential goes to the host's /run, where the host's root (and the
  // operator joining workers) reads it; a worker is given its token and CA as settings.
  args.push(`--admin-conf=${HOST_RUN}/contiv/admin.conf`);
  const secrets = {};
  if (token) {
    secrets[NETMASTER_TOKEN_FILE] = token;
    args.push(`--netmaster-token-file=${NETMASTER_TOKEN_FILE}`);
  }
  if (caPem) {
    secrets[NETMASTER_CA_FILE] = caPem;
    args.push(`--netmaster-ca=${NETMASTER_CA_FILE}`);
  }
  return { role, args, secrets };
}

/** True when a unix socket accepts a connection within 1 s. */
function answers(path) {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve(false);
    const s = connect(path);
    const done = (ok) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), 1000);
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}

function sh(cmd, args, extra = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...env, ...extra } });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

const OWN = { OVS_RUNDIR: '/var/run/openvswitch', OVS_DBDIR: '/var/lib/openvswitch', OVS_LOGDIR: LOG_DIR };
const DB = join(OWN.OVS_DBDIR, 'conf.db');
let ownOvs = false;

/** The netdev taps of bridges and internal ports recorded in our db (they outlive ovs-vswitchd). */
function recordedTaps() {
  try {
    const out = sh(
      'ovs-vsctl',
      [
        `--db=unix:${OWN.OVS_RUNDIR}/db.sock`,
        '--no-wait',
        '--format=csv',
        '--data=bare',
        '--no-headings',
        '--columns=name,type',
        'list',
        'Interface',
      ],
      OWN,
    );
    return out
      .split('\n')
      .map((l) => l.split(','))
      .filter(([n, t]) => n && t === 'internal')
      .map(([n]) => n);
  } catch {
    return [];
  }
}

/** Also the netdev datapath's own tap, which no Interface row names. */
function removeTaps(names) {
  for (const n of [...names, 'ovs-netdev']) spawnSync('ip', ['link', 'del', n], { stdio: 'ignore' });
}

async function startOvs() {
  const mode = oneOf('CONTIV_OVS', env.CONTIV_OVS || 'auto', ['auto', 'own', 'host']);
  const hostDir = join(HOST_RUN, 'openvswitch');
  if (mode !== 'own' && (await answers(join(hostDir, 'db.sock')))) {
    boot(`OVS: the host's (${hostDir}/db.sock answers)`);
    return hostDir;
  }
  if (mode === 'host') throw new BadSetting(`CONTIV_OVS=host but no OVS answers at ${hostDir}/db.sock`);
  for (const d of [OWN.OVS_RUNDIR, OWN.OVS_DBDIR]) mkdirSync(d, { recursive: true });
  // Kept across disable/enable: ovs-vswitchd restores the ports of running containers from it.
  if (!existsSync(DB)) sh('ovsdb-tool', ['create', DB, '/usr/share/openvswitch/vswitch.ovsschema']);
  const log = (n) => `--log-file=${join(LOG_DIR, n)}`;
  sh(
    'ovsdb-server',
    [
      `--remote=punix:${OWN.OVS_RUNDIR}/db.sock`,
      `--pidfile=${OWN.OVS_RUNDIR}/ovsdb-server.pid`,
      '--detach',
      log('ovsdb-server.log'),
      DB,
    ],
    OWN,
  );
  ownOvs = true;
  sh('ovs-vsctl', [`--db=unix:${OWN.OVS_RUNDIR}/db.sock`, '--no-wait', 'init'], OWN);
  // Taps of a previous run that ended without cleanup would make the bridge ports fail.
  removeTaps(recordedTaps());
  sh(
    'ovs-vswitchd',
    [
      `unix:${OWN.OVS_RUNDIR}/db.sock`,
      '--disable-system',
      `--pidfile=${OWN.OVS_RUNDIR}/ovs-vswitchd.pid`,
      '--detach',
      log('ovs-vswitchd.log'),
    ],
    OWN,
  );
  boot(`OVS: own userspace ovsdb-server and ovs-vswitchd (${OWN.OVS_RUNDIR}, logs in ${LOG_DIR})`);
  return OWN.OVS_RUNDIR;
}

function stopOvs() {
  if (!ownOvs) return;
  const taps = recordedTaps();
  const ctl = (t) =>
    spawnSync('ovs-appctl', ['-t', t, 'exit', ...(t.endsWith('vswitchd') ? ['--cleanup'] : [])], {
      env: { ...env, ...OWN },
      stdio: 'ignore',
      timeout: 5000,
    });
  ctl('ovs-vswitchd');
  ctl('ovsdb-server');
  removeTaps(taps);
  ownOvs = false;
}

let child;
let stopping = false;
async function shutdown(sig) {
  if (stopping) return;
  stopping = true;
  boot(`${sig}: stopping netplugin and OVS`);
  if (child && child.exitCode === null) {
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
  stopOvs();
  boot('stopped');
  process.exit(0);
}

async function main() {
  boot(`starting contiv v2plugin; settings: ${SETTINGS.map(([n]) => `${n}=${env[n] ?? ''}`).join(' ')}`);
  let plan;
  try {
    plan = netpluginArgs();
  } catch (e) {
    if (!(e instanceof BadSetting)) throw e;
    boot(`invalid setting: ${e.message}; not starting`);
    process.exit(1);
  }
  // Tests: the netplugin command the settings give, without starting anything (not settable).
  if (env.V2PLUGIN_DRY_RUN) {
    process.stdout.write(`${JSON.stringify({ role: plan.role, args: plan.args })}\n`);
    return;
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A fresh container: a store LOCK left by the last run names a pid of another pid namespace.
  rmSync('/var/lib/contiv-ts/LOCK', { force: true });
  // /proc/sys is read-only in a plugin; host access needs ip_forward (CAP_SYS_ADMIN allows this).
  const rw = spawnSync('/bin/busybox', ['mount', '-o', 'remount,rw', '/proc/sys'], { encoding: 'utf8' });
  if (rw.status !== 0) boot(`note: /proc/sys stays read-only (${(rw.stderr || '').trim()})`);
  for (const [file, text] of Object.entries(plan.secrets)) {
    mkdirSync(SECRETS_DIR, { recursive: true, mode: 0o700 });
    writeFileSync(file, text, { mode: 0o600 });
  }
  const rundir = await startOvs();
  const args = ['/contiv/dist/cli/netplugin.js', ...plan.args, `--ovs-rundir=${rundir}`];
  const out = createWriteStream(join(LOG_DIR, 'netplugin.log'), { flags: 'a' });
  const master =
    plan.role === 'netmaster' ? createWriteStream(join(LOG_DIR, 'netmaster.log'), { flags: 'a' }) : undefined;
  child = spawn('/usr/bin/node', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, OVS_RUNDIR: rundir },
  });
  let rest = '';
  // netmaster runs inside netplugin's process: its lines (role netmaster) go to netmaster.log.
  child.stdout.on('data', (b) => {
    const lines = (rest + b.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) (master && l.includes('"role":"netmaster"') ? master : out).write(`${l}\n`);
  });
  child.stderr.pipe(out);
  boot(
    `started netplugin${plan.role === 'netmaster' ? ' with netmaster' : ''} (pid ${child.pid}): node ${args.join(' ')}`,
  );
  child.on('exit', (code, sig) => {
    if (stopping) return;
    boot(`netplugin exited (${sig ?? code}); see ${join(LOG_DIR, 'netplugin.log')}`);
    stopOvs();
    process.exit(1);
  });
}

main().catch((e) => {
  boot(`failed: ${e?.message ?? e}`);
  stopOvs();
  process.exit(1);
});
