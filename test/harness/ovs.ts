// Owns a private Open vSwitch (ovsdb-server + ovs-vswitchd) in a temp dir, for one test process.
// It must never touch the system OVS, its run dir or the kernel datapath (--disable-system), and it
// removes every tap its netdev bridges made.
//
// Datapaths: the userspace `netdev` datapath owns a tap named "ovs-netdev" in its namespace, so only one
// such ovs-vswitchd can run per network namespace (a second one fails: "creating tap device failed:
// Device or resource busy"). The `dummy` datapath (--enable-dummy) is the same userspace datapath code
// (dpif-netdev: NORMAL, conntrack, conjunction, veth ports over AF_PACKET) but its internal ports are
// not kernel devices, so any number of instances coexist. Default: dummy in the host namespace,
// netdev inside a namespace of its own.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type CleanupHandle, onCleanup } from './cleanup.js';
import { tempDirPrefix, uniqueName } from './names.js';
import { readPidFile, stopPids, stopPidsSync } from './procs.js';
import { run, trySync } from './run.js';
import { listLinks, sweepStale } from './sweep.js';

const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export interface StartOvsOptions {
  /** Run ovs-vswitchd inside this network namespace (the caller owns it); taps then live there. */
  netns?: string;
  /**
   * Datapath type of every bridge: 'dummy' (default without netns) or 'netdev' (default with netns;
   * in the host namespace only one netdev instance can run at a time, see above).
   */
  datapath?: DatapathType;
  /** ovs-vswitchd --enable-dummy (`type=dummy` ports); always on for the dummy datapath. */
  dummy?: boolean;
}

export type DatapathType = 'dummy' | 'netdev';

export interface BridgeOptions {
  /** Default 'secure': no flows means no forwarding. */
  failMode?: 'secure' | 'standalone';
  /** Default ['OpenFlow13']. */
  protocols?: string[];
  /** e.g. "tcp:127.0.0.1:6653" or "unix:/path"; see OvsInstance.setController. */
  controller?: string;
  /** 16 hex digits (other-config:datapath-id). */
  datapathId?: string;
}

export interface OvsInstance {
  readonly dir: string;
  /** Path of the OVSDB unix socket (connect with `unix:<dbSock>` or net.connect(dbSock)). */
  readonly dbSock: string;
  readonly netns: string | undefined;
  readonly datapath: DatapathType;
  /** Environment every OVS command of this instance needs (OVS_RUNDIR/LOGDIR/DBDIR). */
  readonly env: Readonly<Record<string, string>>;
  readonly stopped: boolean;
  /** pid of the current ovs-vswitchd (changes on restartVswitchd). */
  vswitchdPid(): number;
  vsctl(...args: string[]): Promise<string>;
  /** ovs-ofctl -O OpenFlow13 <args>; pass the target yourself, e.g. ofctl('add-flow', mgmt(br), 'actions=NORMAL'). */
  ofctl(...args: string[]): Promise<string>;
  /** ovs-appctl aimed at this instance's ovs-vswitchd. */
  appctl(...args: string[]): Promise<string>;
  /**
   * Adds a bridge of the instance's datapath type and resolves with its name. Without a name it gets a
   * unique one: netdev bridges create a tap named after the bridge in their namespace, so a fixed name
   * (e.g. "br0") could collide with another test's; for netdev, a given name is refused when a link of
   * that name already exists.
   */
  addBridge(name?: string, opts?: BridgeOptions): Promise<string>;
  addBridge(opts?: BridgeOptions): Promise<string>;
  /** Sets (or with undefined, removes) the bridge's controller; reconnect backoff is capped at 1 s. */
  setController(bridge: string, target: string | undefined): Promise<void>;
  /** "unix:<dir>/<bridge>.mgmt", the bridge's management socket for ovs-ofctl or our controller. */
  mgmt(bridge: string): string;
  /**
   * The bridge's flows, one line each without the header and without statistics (duration, n_packets,
   * n_bytes, idle_age, hard_age), sorted, so that lines compare stably. Extra args go to dump-flows.
   */
  dumpFlows(bridge: string, ...extra: string[]): Promise<string[]>;
  /** Kills ovs-vswitchd and starts it again on the same database (flows are lost, bridges stay). */
  restartVswitchd(): Promise<void>;
  /**
   * Kills ovsdb-server and starts it again on the same database file with the same command line
   * (the data survives; every client sees its connection drop and must reconnect).
   */
  restartOvsdb(): Promise<void>;
  /** Stops vswitchd then ovsdb-server, deletes the bridges' taps and the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const STAT_FIELDS = /\b(?:duration|n_packets|n_bytes|idle_age|hard_age)=[^,\s]*,?\s*/g;

/** One dump-flows line without statistics; exported for tests of its own. */
export function stripFlowStats(line: string): string {
  return line.replace(STAT_FIELDS, '').trim().replace(/,$/, '');
}

let swept = false;

/** Sweeps earlier interrupted runs once per process, before creating anything. */
export function sweepStaleOnce(): void {
  if (swept) return;
  swept = true;
  sweepStale();
}

class Ovs implements OvsInstance {
  readonly dbSock: string;
  readonly env: Record<string, string>;
  private readonly bridges = new Set<string>();
  private readonly ctl: string;
  private vsdPid = 0;
  private stopping: Promise<void> | undefined;
  private cleanup: CleanupHandle | undefined;

  constructor(
    readonly dir: string,
    readonly netns: string | undefined,
    readonly datapath: DatapathType,
    private readonly dummy: boolean,
  ) {
    this.dbSock = join(dir, 'db.sock');
    this.ctl = join(dir, 'ovs-vswitchd.ctl');
    this.env = { OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  }

  get stopped(): boolean {
    return this.stopping !== undefined;
  }

  vswitchdPid(): number {
    return this.vsdPid;
  }

  async start(): Promise<void> {
    this.cleanup = onCleanup(() => this.stop(), { label: `ovs ${this.dir}`, sync: () => this.stopSync() });
    await this.cmd('ovsdb-tool', ['create', join(this.dir, 'conf.db'), SCHEMA]);
    await this.startOvsdb();
    await this.vsctl('--no-wait', 'init');
    await this.startVswitchd();
  }

  private cmd(cmd: string, args: string[], netns?: string): Promise<string> {
    return run(cmd, args, { env: this.env, netns });
  }

  private async startVswitchd(): Promise<void> {
    const args = [
      `unix:${this.dbSock}`,
      `--pidfile=${join(this.dir, 'vswitchd.pid')}`,
      `--unixctl=${this.ctl}`,
      `--log-file=${join(this.dir, 'vswitchd.log')}`,
      // Without it vswitchd enumerates kernel datapaths and deletes the ones it does not know.
      '--disable-system',
      '--detach',
    ];
    if (this.dummy) args.push('--enable-dummy');
    await this.cmd('ovs-vswitchd', args, this.netns);
    const pid = readPidFile(join(this.dir, 'vswitchd.pid'));
    if (pid === undefined) throw new Error(`ovs-vswitchd started but wrote no pidfile in ${this.dir}`);
    this.vsdPid = pid;
  }

  vsctl(...args: string[]): Promise<string> {
    return this.cmd('ovs-vsctl', [`--db=unix:${this.dbSock}`, '--timeout=10', ...args]);
  }

  ofctl(...args: string[]): Promise<string> {
    return this.cmd('ovs-ofctl', ['-O', 'OpenFlow13', '--timeout=10', ...args]);
  }

  appctl(...args: string[]): Promise<string> {
    return this.cmd('ovs-appctl', ['-t', this.ctl, '--timeout=10', ...args]);
  }

  mgmt(bridge: string): string {
    return `unix:${join(this.dir, `${bridge}.mgmt`)}`;
  }

  async addBridge(nameOrOpts?: string | BridgeOptions, maybeOpts?: BridgeOptions): Promise<string> {
    const [given, opts] =
      typeof nameOrOpts === 'string' ? [nameOrOpts, maybeOpts ?? {}] : [undefined, nameOrOpts ?? {}];
    const name = given ?? uniqueName('br');
    if (given !== undefined && this.datapath === 'netdev' && (await this.linkExists(name))) {
      throw new Error(`addBridge: a link named "${name}" already exists; omit the name to get a unique one`);
    }
    this.bridges.add(name);
    const protocols = (opts.protocols ?? ['OpenFlow13']).join(',');
    const set = [
      `datapath_type=${this.datapath}`,
      `fail_mode=${opts.failMode ?? 'secure'}`,
      `protocols=${protocols}`,
      // In-band control would add hidden flows that tests do not expect.
      'other_config:disable-in-band=true',
    ];
    if (opts.datapathId !== undefined) set.push(`other_config:datapath-id=${opts.datapathId}`);
    await this.vsctl('add-br', name, '--', 'set', 'Bridge', name, ...set);
    // vswitchd reports a bridge it could not create only in its log; its missing mgmt socket shows it.
    if (!existsSync(join(this.dir, `${name}.mgmt`))) {
      const log = readFileSync(join(this.dir, 'vswitchd.log'), 'utf8');
      const errors = log.split('\n').filter((l) => /\|(ERR|WARN)\|/.test(l));
      throw new Error(`addBridge ${name}: ovs-vswitchd did not create it:\n${errors.slice(-5).join('\n')}`);
    }
    if (opts.controller !== undefined) await this.setController(name, opts.controller);
    return name;
  }

  async setController(bridge: string, target: string | undefined): Promise<void> {
    if (target === undefined) {
      await this.vsctl('del-controller', bridge);
      return;
    }
    // max_backoff 1000 ms (the minimum): a restarted controller is found again within a second.
    await this.vsctl(
      '--id=@c',
      'create',
      'Controller',
      `target="${target}"`,
      'max_backoff=1000',
      '--',
      'set',
      'Bridge',
      bridge,
      'controller=@c',
    );
  }

  async dumpFlows(bridge: string, ...extra: string[]): Promise<string[]> {
    const out = await this.ofctl('dump-flows', this.mgmt(bridge), ...extra);
    return out
      .split('\n')
      .filter((l) => /^\s+cookie=/.test(l))
      .map(stripFlowStats)
      .sort();
  }

  async restartVswitchd(): Promise<void> {
    await stopPids([this.vsdPid]);
    await this.startVswitchd();
  }

  async restartOvsdb(): Promise<void> {
    const pid = readPidFile(join(this.dir, 'ovsdb.pid'));
    if (pid !== undefined) await stopPids([pid]);
    await this.startOvsdb();
  }

  /** One command line for start and restart: a restarted server must look the same to its clients. */
  private async startOvsdb(): Promise<void> {
    await this.cmd('ovsdb-server', [
      join(this.dir, 'conf.db'),
      `--remote=punix:${this.dbSock}`,
      `--pidfile=${join(this.dir, 'ovsdb.pid')}`,
      `--unixctl=${join(this.dir, 'ovsdb-server.ctl')}`,
      `--log-file=${join(this.dir, 'ovsdb.log')}`,
      '--detach',
    ]);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.cleanup?.dispose();
    const taps = new Set(this.bridges);
    try {
      const out = await this.vsctl('--bare', '--columns=name', 'find', 'Interface', 'type=internal');
      for (const n of out.split(/\s+/).filter(Boolean)) taps.add(n);
    } catch {
      // the database is gone already: the bridges we made are still known
    }
    await stopPids([readPidFile(join(this.dir, 'vswitchd.pid')) ?? this.vsdPid].filter((p) => p > 0));
    // Internal ports of netdev bridges are persistent taps: they outlive ovs-vswitchd. The datapath's
    // own "ovs-netdev" tap goes too, but only from a namespace of its own: in the host it may be in use.
    if (this.datapath === 'netdev' && this.netns !== undefined) taps.add('ovs-netdev');
    for (const tap of this.datapath === 'netdev' ? taps : []) {
      if (await this.linkExists(tap)) await run('ip', ['link', 'del', tap], { netns: this.netns });
    }
    const dbPid = readPidFile(join(this.dir, 'ovsdb.pid'));
    if (dbPid !== undefined) await stopPids([dbPid]);
    await rm(this.dir, { recursive: true, force: true });
  }

  private stopSync(): void {
    stopPidsSync([readPidFile(join(this.dir, 'vswitchd.pid')) ?? this.vsdPid].filter((p) => p > 0));
    const taps = this.datapath === 'netdev' ? [...this.bridges] : [];
    if (this.datapath === 'netdev' && this.netns !== undefined) taps.push('ovs-netdev');
    for (const tap of taps) trySync('ip', ['link', 'del', tap], { netns: this.netns });
    const dbPid = readPidFile(join(this.dir, 'ovsdb.pid'));
    if (dbPid !== undefined) stopPidsSync([dbPid]);
    trySync('rm', ['-rf', this.dir]);
  }

  private async linkExists(name: string): Promise<boolean> {
    if (this.netns === undefined) return listLinks().includes(name);
    const out = await run('ip', ['-o', 'link', 'show'], { netns: this.netns });
    return out.split('\n').some((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] === name);
  }
}

/** Starts a private OVS; it is stopped by runCleanups() (or on exit) unless stopped before. */
export async function startOvs(opts: StartOvsOptions = {}): Promise<OvsInstance> {
  sweepStaleOnce();
  const dir = await mkdtemp(tempDirPrefix('ovs'));
  const datapath = opts.datapath ?? (opts.netns === undefined ? 'dummy' : 'netdev');
  const ovs = new Ovs(dir, opts.netns, datapath, datapath === 'dummy' || (opts.dummy ?? false));
  try {
    await ovs.start();
  } catch (err) {
    await ovs.stop().catch(() => undefined);
    throw err;
  }
  return ovs;
}
