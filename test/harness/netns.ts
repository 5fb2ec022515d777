// Owns network namespaces as test containers: a veth into an OVS bridge, commands and traffic inside.
// It must never leave a process running in a namespace it deletes (that keeps the veth alive).
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';
import { uniqueName } from './names.js';
import { type OvsInstance, sweepStaleOnce } from './ovs.js';
import { isAlive, stopPids, stopPidsSync } from './procs.js';
import { type RunOptions, run, succeeds, trySync } from './run.js';
import { pidsInNetns } from './sweep.js';

export interface Namespace {
  readonly name: string;
  /** Runs cmd inside the namespace and resolves with its stdout. */
  exec(cmd: string, args: string[], opts?: Omit<RunOptions, 'netns'>): Promise<string>;
  /** Kills whatever still runs inside, then deletes the namespace. Idempotent. */
  destroy(): Promise<void>;
}

export interface ContainerOptions {
  /** For messages only; the netns itself gets a unique name. */
  name: string;
  /** Address with prefix length, e.g. "10.1.0.2/24". */
  ip: string;
  mac?: string;
  /** ofport_request for the host end. */
  ofport?: number;
}

export interface Listener {
  readonly port: number;
  readonly pid: number;
  /** Everything received so far (nc prints what clients send). */
  received(): string;
  stop(): Promise<void>;
}

export interface Container extends Namespace {
  readonly label: string;
  /** The address without prefix length. */
  readonly ip: string;
  readonly cidr: string;
  readonly mac: string;
  readonly ofport: number;
  /** Host end of the veth, a port of the bridge (in the OVS instance's namespace). */
  readonly hostIf: string;
  /** True when `count` echo requests (default 1) are all answered within timeoutSec (default 2). */
  ping(ip: string, opts?: { count?: number; timeoutSec?: number }): Promise<boolean>;
  /** True when a TCP connection to ip:port is established within timeoutMs (nc -z). */
  tcpConnect(ip: string, port: number, timeoutMs?: number): Promise<boolean>;
  /** Starts `nc -l -k` on port (all addresses) and resolves once it listens. */
  tcpListen(port: number): Promise<Listener>;
}

class Netns implements Namespace {
  private destroying: Promise<void> | undefined;
  protected readonly cleanupHandle;

  constructor(readonly name: string) {
    this.cleanupHandle = onCleanup(() => this.destroy(), {
      label: `netns ${name}`,
      sync: () => this.destroySync(),
    });
  }

  exec(cmd: string, args: string[], opts: Omit<RunOptions, 'netns'> = {}): Promise<string> {
    return run(cmd, args, { ...opts, netns: this.name });
  }

  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  protected async doDestroy(): Promise<void> {
    this.cleanupHandle.dispose();
    await stopPids(pidsInNetns(this.name));
    await run('ip', ['netns', 'del', this.name]);
  }

  protected destroySync(): void {
    stopPidsSync(pidsInNetns(this.name));
    trySync('ip', ['netns', 'del', this.name]);
  }
}

/** A bare namespace with lo up, e.g. to run ovs-vswitchd in (startOvs({ netns: ns.name })). */
export async function addNamespace(): Promise<Namespace> {
  sweepStaleOnce();
  const name = uniqueName('ns');
  await run('ip', ['netns', 'add', name]);
  const ns = new Netns(name);
  try {
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
  } catch (err) {
    await ns.destroy().catch(() => undefined);
    throw err;
  }
  return ns;
}

class NetnsContainer extends Netns implements Container {
  readonly ip: string;
  mac = '';
  ofport = 0;
  private readonly listeners = new Set<NcListener>();

  constructor(
    name: string,
    readonly label: string,
    readonly cidr: string,
    readonly hostIf: string,
    private readonly ovs: OvsInstance,
  ) {
    super(name);
    this.ip = cidr.split('/')[0]!;
  }

  async plug(bridge: string, opts: ContainerOptions): Promise<void> {
    const hostNs = this.ovs.netns;
    await run(
      'ip',
      ['link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.name],
      {
        netns: hostNs,
      },
    );
    // With the userspace datapath, TX checksum offload on makes TCP through conntrack fail silently.
    await run('ethtool', ['-K', this.hostIf, 'tx', 'off'], { netns: hostNs });
    await this.exec('ethtool', ['-K', 'eth0', 'tx', 'off']);
    if (opts.mac !== undefined) await this.exec('ip', ['link', 'set', 'eth0', 'address', opts.mac]);
    await this.exec('ip', ['addr', 'add', this.cidr, 'dev', 'eth0']);
    await this.exec('ip', ['link', 'set', 'eth0', 'up']);
    await this.exec('ip', ['link', 'set', 'lo', 'up']);
    await run('ip', ['link', 'set', this.hostIf, 'up'], { netns: hostNs });
    const port = ['add-port', bridge, this.hostIf];
    if (opts.ofport !== undefined)
      port.push('--', 'set', 'Interface', this.hostIf, `ofport_request=${opts.ofport}`);
    await this.ovs.vsctl(...port);
    this.ofport = Number((await this.ovs.vsctl('get', 'Interface', this.hostIf, 'ofport')).trim());
    if (!(this.ofport > 0)) {
      const error = await this.ovs.vsctl('get', 'Interface', this.hostIf, 'error').catch(() => '?');
      throw new Error(
        `container ${this.label}: port ${this.hostIf} got no ofport (${this.ofport}): ${error.trim()}`,
      );
    }
    const link = await this.exec('ip', ['-o', 'link', 'show', 'eth0']);
    this.mac = /link\/ether ([0-9a-f:]{17})/.exec(link)?.[1] ?? '';
    if (!this.mac) throw new Error(`container ${this.label}: no MAC in "${link.trim()}"`);
  }

  ping(ip: string, opts: { count?: number; timeoutSec?: number } = {}): Promise<boolean> {
    return pingFrom(this.name, ip, opts);
  }

  tcpConnect(ip: string, port: number, timeoutMs = 2000): Promise<boolean> {
    return tcpConnectFrom(this.name, ip, port, timeoutMs);
  }

  tcpListen(port: number): Promise<Listener> {
    return listenIn(this.name, port, this.listeners);
  }

  protected override async doDestroy(): Promise<void> {
    this.cleanupHandle.dispose();
    await Promise.all([...this.listeners].map((l) => l.stop()));
    if (!this.ovs.stopped) await this.ovs.vsctl('--if-exists', 'del-port', this.hostIf);
    await super.doDestroy();
    // The host end goes with the netns (its peer was inside), but asynchronously: wait, then force.
    const deadline = Date.now() + 2000;
    while ((await this.hostLinkExists()) && Date.now() < deadline) await sleep(20);
    if (await this.hostLinkExists()) await run('ip', ['link', 'del', this.hostIf], { netns: this.ovs.netns });
  }

  protected override destroySync(): void {
    stopPidsSync([...this.listeners].map((l) => l.pid));
    super.destroySync();
    trySync('ip', ['link', 'del', this.hostIf], { netns: this.ovs.netns });
  }

  private hostLinkExists(): Promise<boolean> {
    return succeeds('ip', ['link', 'show', 'dev', this.hostIf], { netns: this.ovs.netns });
  }
}

/** True when ip answers within timeoutSec, pinging from inside a namespace. */
export async function pingFrom(
  netns: string,
  ip: string,
  { count = 1, timeoutSec = 2 }: { count?: number; timeoutSec?: number } = {},
): Promise<boolean> {
  // ping ends early on "Destination Host Unreachable" (a neighbour that failed to resolve a moment
  // ago), so retry until the deadline: the answer is "reachable within timeoutSec".
  const deadline = Date.now() + timeoutSec * 1000;
  for (;;) {
    const wait = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    const args = ['-n', '-q', '-c', String(count), '-i', '0.2', '-w', String(wait), ip];
    if (await succeeds('ping', args, { netns, timeoutMs: (wait + 5) * 1000 })) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

/** True when a TCP connection to ip:port from inside a namespace is established within timeoutMs. */
export function tcpConnectFrom(netns: string, ip: string, port: number, timeoutMs = 2000): Promise<boolean> {
  const sec = Math.max(1, Math.ceil(timeoutMs / 1000));
  return succeeds('nc', ['-z', '-n', '-w', String(sec), ip, String(port)], {
    netns,
    timeoutMs: timeoutMs + 5000,
  });
}

/** Starts `nc -l -k` in a namespace, added to `owned` so its owner can stop it, once it listens. */
export async function listenIn(netns: string, port: number, owned: Set<NcListener>): Promise<Listener> {
  const listener = new NcListener(netns, port);
  owned.add(listener);
  try {
    await listener.ready();
  } catch (err) {
    await listener.stop();
    throw err;
  }
  return listener;
}

export class NcListener implements Listener {
  private readonly child: ChildProcess;
  private out = '';
  private exited = false;
  private errText = '';

  constructor(
    private readonly netns: string,
    readonly port: number,
  ) {
    // -d: never read stdin (an EOF there must not end the listener); -k: accept again after each client.
    this.child = spawn('ip', ['netns', 'exec', netns, 'nc', '-d', '-k', '-l', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (d: Buffer) => {
      this.out += d.toString();
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.errText += d.toString();
    });
    this.child.on('exit', () => {
      this.exited = true;
    });
    this.child.on('error', (err) => {
      this.exited = true;
      this.errText += String(err);
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  received(): string {
    return this.out;
  }

  async ready(): Promise<void> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`nc -l ${this.port} in ${this.netns} exited: ${this.errText.trim()}`);
      const ss = await run('ss', ['-Hltn', `sport = :${this.port}`], { netns: this.netns });
      if (ss.trim()) return;
      await sleep(20);
    }
    throw new Error(`nc -l ${this.port} in ${this.netns} is not listening after 5 s`);
  }

  async stop(): Promise<void> {
    if (this.pid > 0 && isAlive(this.pid)) await stopPids([this.pid]);
  }
}

/**
 * A container: a netns whose eth0 (ip, optional mac) is a veth peered with a port of `bridge`
 * (ofport_request when given). Destroyed by runCleanups() (or on exit) unless destroyed before.
 */
export async function addContainer(
  ovs: OvsInstance,
  bridge: string,
  opts: ContainerOptions,
): Promise<Container> {
  sweepStaleOnce();
  const name = uniqueName('c');
  await run('ip', ['netns', 'add', name]);
  const hostIf = uniqueName('v');
  const c = new NetnsContainer(name, opts.name, opts.ip, hostIf, ovs);
  try {
    await c.plug(bridge, opts);
  } catch (err) {
    await c.destroy().catch(() => undefined);
    throw err;
  }
  return c;
}
