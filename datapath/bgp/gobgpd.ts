// Owns one gobgpd process: started in the host's network namespace (nsenter, so the pid is
// gobgpd's own), restarted with backoff when it dies, its API reachable through a GobgpApi. It is
// started detached (own session, output to a log file, a pidfile in the state dir) so that it
// outlives netplugin: a restarted netplugin adopts the gobgpd still running and answering instead
// of starting another, and the ToR's sessions and routes do not flap. It knows nothing about
// routes: after every start or adoption it emits 'up' and the speaker reconciles it.

import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type NetnsRef, netnsPath } from '../host/exec.js';
import { GobgpApi } from './gobgp-api.js';

export interface GobgpdOptions {
  /** Where gobgpd runs (BGP's TCP port 179 and its API port live there); default: this namespace. */
  netns?: NetnsRef;
  /** Holds gobgpd.pid and gobgpd.log, and gobgpd.sock when `api` is not given. */
  stateDir: string;
  /**
   * gobgpd's gRPC listen address: unix:///PATH or HOST:PORT (default unix://<stateDir>/gobgpd.sock).
   * A unix socket is reachable from this process whatever namespace gobgpd runs in; a TCP address
   * lives in gobgpd's namespace.
   */
  api?: string;
  /** gobgpd binary (default "gobgpd" on the PATH). */
  binary?: string;
  protoDir?: string;
}

export interface GobgpdEvents {
  /** A gobgpd answers on its API: a fresh one (after start or restart) or one adopted. */
  up: [GobgpApi, { adopted: boolean }];
  /** It exited; the supervisor starts another unless stopped. */
  exit: [{ code: number | null; signal: string | null; stderr: string }];
}

/** What the pidfile says: enough to tell our gobgpd from a reused pid or another API address. */
interface PidRecord {
  pid: number;
  /** /proc/<pid>/stat's start time (clock ticks since boot). */
  start: string;
  api: string;
}

/** The gRPC address, checked: unix:///PATH or HOST:PORT. Throws naming `field`. */
export function parseGobgpApi(field: string, v: string): string {
  if (/^unix:\/\/\/./.test(v)) return v;
  const i = v.lastIndexOf(':');
  const port = Number(v.slice(i + 1));
  if (i > 0 && Number.isInteger(port) && port >= 1 && port <= 65535 && !v.includes('/')) return v;
  throw new Error(`${field}: "${v}" is not unix:///PATH or HOST:PORT`);
}

/** /proc/<pid>/stat's fields after the command name: [0] the state, [19] the start time. */
function statOf(pid: number): string[] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return [];
  }
}

/** Alive (not a zombie), gobgpd, and the process the record was written for (not a reused pid). */
function isGobgpd(rec: PidRecord): boolean {
  const stat = statOf(rec.pid);
  if (stat[0] === undefined || stat[0] === 'Z' || stat[19] !== rec.start) return false;
  try {
    return readFileSync(`/proc/${rec.pid}/comm`, 'utf8').trim() === 'gobgpd';
  } catch {
    return false;
  }
}

export class GobgpdSupervisor extends EventEmitter<GobgpdEvents> {
  private child: ChildProcess | undefined;
  /** The pid of the gobgpd we answer for, spawned or adopted. */
  private running: PidRecord | undefined;
  private api: GobgpApi | undefined;
  private stopped = false;
  private restarts = 0;
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  readonly apiAddress: string;
  private readonly pidFile: string;
  private readonly logFile: string;

  constructor(private readonly opts: GobgpdOptions) {
    super();
    this.apiAddress = opts.api ?? `unix://${join(opts.stateDir, 'gobgpd.sock')}`;
    this.pidFile = join(opts.stateDir, 'gobgpd.pid');
    this.logFile = join(opts.stateDir, 'gobgpd.log');
  }

  get pid(): number | undefined {
    return this.running?.pid;
  }

  /** The API of the gobgpd now running, if any. */
  get current(): GobgpApi | undefined {
    return this.api;
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Adopts the gobgpd of the pidfile if it is alive and answers; else starts one. */
  start(): void {
    this.stopped = false;
    this.adoptOrSpawn().catch((err: Error) => {
      // A state dir that cannot be made, say: reported like a gobgpd that died, and retried.
      this.emit('exit', { code: null, signal: null, stderr: err.message });
      this.retryLater();
    });
  }

  private readPidFile(): PidRecord | undefined {
    try {
      const r = JSON.parse(readFileSync(this.pidFile, 'utf8')) as Partial<PidRecord>;
      if (typeof r.pid === 'number' && typeof r.start === 'string' && typeof r.api === 'string')
        return r as PidRecord;
    } catch {
      // None, or not ours: nothing to adopt.
    }
    return undefined;
  }

  private async adoptOrSpawn(): Promise<void> {
    const rec = this.readPidFile();
    if (rec && isGobgpd(rec)) {
      if (rec.api === this.apiAddress) {
        const api = new GobgpApi(rec.api, this.opts.protoDir);
        const answers = await api.ready(2000).then(
          () => true,
          () => false,
        );
        if (this.stopped) return api.close();
        if (answers) {
          this.running = rec;
          this.api = api;
          this.watchAdopted(rec, api);
          this.emit('up', api, { adopted: true });
          return;
        }
        api.close();
      }
      // Ours but listening elsewhere, or hung: it goes, and a fresh one takes its place.
      await killAndWait(rec);
    }
    if (!this.stopped) this.spawnOne();
  }

  /** An adopted gobgpd is not our child: no 'exit' event, so its pid is polled. */
  private watchAdopted(rec: PidRecord, api: GobgpApi): void {
    this.poll = setInterval(() => {
      if (isGobgpd(rec)) return;
      clearInterval(this.poll);
      this.gone(api, rec, null, null);
    }, 200);
  }

  private gone(api: GobgpApi, rec: PidRecord | undefined, code: number | null, signal: string | null): void {
    api.close();
    if (this.api === api) this.api = undefined;
    if (this.running === rec) this.running = undefined;
    this.emit('exit', { code, signal, stderr: this.logTail() });
    this.retryLater();
  }

  private retryLater(): void {
    if (this.stopped) return;
    // Quick at first (a crash), slower if it keeps dying (a port taken, a bad binary).
    this.restarts++;
    const delay = Math.min(100 * 2 ** Math.min(this.restarts - 1, 5), 3000);
    this.timer = setTimeout(() => {
      try {
        this.spawnOne();
      } catch (err) {
        this.emit('exit', { code: null, signal: null, stderr: (err as Error).message });
        this.retryLater();
      }
    }, delay);
  }

  private removePidFile(): void {
    try {
      rmSync(this.pidFile, { force: true });
    } catch {
      // The state dir never existed (could not be made): no pidfile either.
    }
  }

  private logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-2000);
    } catch {
      return '';
    }
  }

  private spawnOne(): void {
    mkdirSync(this.opts.stateDir, { recursive: true });
    if (this.apiAddress.startsWith('unix://')) {
      const sock = this.apiAddress.slice('unix://'.length);
      mkdirSync(dirname(sock), { recursive: true });
      // A socket left by a killed gobgpd would make the new one fail to listen.
      rmSync(sock, { force: true });
    }
    const args = ['--api-hosts', this.apiAddress, '--pprof-disable', '-l', 'warn', '-p'];
    const bin = this.opts.binary ?? 'gobgpd';
    // Output to a file, not a pipe: a pipe would break (and kill gobgpd) when netplugin goes.
    const log = openSync(this.logFile, 'w');
    const common = { stdio: ['ignore', log, log] as ['ignore', number, number], detached: true };
    const child = this.opts.netns
      ? spawn('nsenter', [`--net=${netnsPath(this.opts.netns)}`, bin, ...args], common)
      : spawn(bin, args, common);
    closeSync(log);
    // Not a reason for netplugin to stay alive: gobgpd is meant to outlive it.
    child.unref();
    this.child = child;
    const api = new GobgpApi(this.apiAddress, this.opts.protoDir);
    let rec: PidRecord | undefined;
    let exited = false;
    const onGone = (code: number | null, signal: string | null) => {
      if (exited) return;
      exited = true;
      if (this.child === child) this.child = undefined;
      if (rec && this.readPidFile()?.pid === rec.pid) this.removePidFile();
      this.gone(api, rec, code, signal);
    };
    child.on('exit', onGone);
    // A binary that cannot be started gives 'error' and no 'exit': retried all the same.
    child.on('error', () => {
      if (child.pid === undefined) onGone(null, null);
    });
    if (child.pid === undefined) return;
    // The start time is the fork's: the same before and after nsenter execs gobgpd.
    rec = { pid: child.pid, start: statOf(child.pid)[19] ?? '', api: this.apiAddress };
    this.running = rec;
    writeFileSync(this.pidFile, JSON.stringify(rec));
    api.ready(10_000).then(
      () => {
        if (this.child !== child || exited) return;
        this.api = api;
        this.emit('up', api, { adopted: false });
      },
      () => {
        // Not answering: kill it; the exit handler starts another.
        if (this.child === child) child.kill('SIGKILL');
      },
    );
  }

  /**
   * kill: gobgpd is stopped (its sessions end, the ToR withdraws our routes) and the pidfile
   * removed. Otherwise it is left running for the next netplugin to adopt.
   */
  async stop(opts: { kill: boolean }): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.poll);
    const rec = this.running;
    const child = this.child;
    if (!opts.kill) {
      // Ours no more: its exit (later, under another netplugin) is not reported here.
      child?.removeAllListeners('exit');
      this.api?.close();
      this.api = undefined;
      return;
    }
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => child.kill('SIGKILL'), 2000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      });
    } else if (rec) {
      this.api?.close();
      this.api = undefined;
      await killAndWait(rec);
    }
    this.removePidFile();
  }

  /** Stops a gobgpd left running by an earlier netplugin (this host has no BGP any more). */
  static async stopLeftover(stateDir: string): Promise<boolean> {
    const s = new GobgpdSupervisor({ stateDir });
    const rec = s.readPidFile();
    if (!rec) return false;
    const ours = isGobgpd(rec);
    if (ours) await killAndWait(rec);
    s.removePidFile();
    return ours;
  }
}

/** SIGTERM, then SIGKILL after 2 s; resolves once the pid is gone. */
async function killAndWait(rec: PidRecord): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(rec.pid, sig);
    } catch {
      // Already gone.
    }
  };
  signal('SIGTERM');
  const t0 = Date.now();
  let killed = false;
  while (isGobgpd(rec)) {
    if (!killed && Date.now() - t0 > 2000) {
      signal('SIGKILL');
      killed = true;
    }
    await sleep(20);
  }
}
