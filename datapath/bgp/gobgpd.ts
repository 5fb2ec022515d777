// Owns one gobgpd child process: started in the host's network namespace (nsenter, so the pid is
// gobgpd's own), restarted with backoff when it dies, its API reachable through a GobgpApi. It
// knows nothing about routes: after every (re)start it emits 'up' and the speaker configures it
// afresh (gobgpd keeps nothing across restarts).

import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { type NetnsRef, netnsPath } from '../host/exec.js';
import { GobgpApi } from './gobgp-api.js';

export interface GobgpdOptions {
  /** Where gobgpd runs (BGP's TCP port 179 and its API port live there); default: this namespace. */
  netns?: NetnsRef;
  /**
   * gobgpd's gRPC API as a unix socket: reachable from this process whatever namespace gobgpd
   * runs in (a TCP port on 127.0.0.1 there would not be).
   */
  apiSocket: string;
  /** gobgpd binary (default "gobgpd" on the PATH). */
  binary?: string;
  protoDir?: string;
}

export interface GobgpdEvents {
  /** A fresh gobgpd answers on its API (after start and after every restart). */
  up: [GobgpApi];
  /** It exited; the supervisor starts another unless stopped. */
  exit: [{ code: number | null; signal: string | null; stderr: string }];
}

export class GobgpdSupervisor extends EventEmitter<GobgpdEvents> {
  private child: ChildProcess | undefined;
  private api: GobgpApi | undefined;
  private stopped = false;
  private restarts = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: GobgpdOptions) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The API of the gobgpd now running, if any. */
  get current(): GobgpApi | undefined {
    return this.api;
  }

  get restartCount(): number {
    return this.restarts;
  }

  start(): void {
    this.stopped = false;
    this.spawnOne();
  }

  private spawnOne(): void {
    const sock = this.opts.apiSocket;
    mkdirSync(dirname(sock), { recursive: true });
    // A socket left by a killed gobgpd would make the new one fail to listen.
    rmSync(sock, { force: true });
    const args = ['--api-hosts', `unix://${sock}`, '--pprof-disable', '-l', 'warn', '-p'];
    const bin = this.opts.binary ?? 'gobgpd';
    const child = this.opts.netns
      ? spawn('nsenter', [`--net=${netnsPath(this.opts.netns)}`, bin, ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    const api = new GobgpApi(`unix://${sock}`, this.opts.protoDir);
    let gone = false;
    const onGone = (code: number | null, signal: string | null) => {
      if (gone) return;
      gone = true;
      api.close();
      if (this.api === api) this.api = undefined;
      if (this.child === child) this.child = undefined;
      this.emit('exit', { code, signal, stderr });
      if (this.stopped) return;
      // Quick at first (a crash), slower if it keeps dying (a port taken, a bad binary).
      this.restarts++;
      const delay = Math.min(100 * 2 ** Math.min(this.restarts - 1, 5), 3000);
      this.timer = setTimeout(() => this.spawnOne(), delay);
    };
    child.on('exit', onGone);
    // A binary that cannot be started gives 'error' and no 'exit': retried all the same.
    child.on('error', (err) => {
      stderr += String(err.message);
      if (child.pid === undefined) onGone(null, null);
    });
    api.ready(10_000).then(
      () => {
        if (this.child !== child) return;
        this.api = api;
        this.emit('up', api);
      },
      () => {
        // Not answering: kill it; the exit handler starts another.
        if (this.child === child) child.kill('SIGKILL');
      },
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
