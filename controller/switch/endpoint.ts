// Owns how sockets to switches are made: active connects (with retry) and listeners, both over
// TCP or unix sockets, each yielding handshaken SwitchConnections. It keeps no flow state.

import { EventEmitter } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { type ConnectionOptions, SwitchConnection } from './connection.js';

/** "tcp:HOST:PORT" or "unix:PATH", as in ovs-vsctl set-controller / ovs-ofctl targets. */
export type Target = string;

interface ParsedTarget {
  path?: string;
  host?: string;
  port?: number;
}

export function parseTarget(target: Target): ParsedTarget {
  if (target.startsWith('unix:')) return { path: target.slice(5) };
  const m = /^(?:tcp:)?(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
  if (!m) throw new Error(`target: "${target}" is neither tcp:HOST:PORT nor unix:PATH`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`target: port ${port} is out of range`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

function openSocket(t: ParsedTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = t.path !== undefined ? connect(t.path) : connect(t.port as number, t.host);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Connects once and runs the handshake. */
export async function connectSwitch(target: Target, opts: ConnectionOptions = {}): Promise<SwitchConnection> {
  const socket = await openSocket(parseTarget(target));
  return SwitchConnection.handshake(socket, opts);
}

export interface SwitchClientEvents {
  connected: [SwitchConnection];
  disconnected: [Error | undefined];
  /** A connect or handshake attempt failed; the client retries. */
  retry: [Error, number];
}

/**
 * Keeps one connection to a switch alive: connects, and after any loss reconnects with capped
 * exponential backoff until stopped.
 */
export class SwitchClient extends EventEmitter<SwitchClientEvents> {
  private stopped = false;
  private conn: SwitchConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;

  constructor(
    readonly target: Target,
    private readonly opts: ConnectionOptions & { minRetryMs?: number; maxRetryMs?: number } = {},
  ) {
    super();
    parseTarget(target);
  }

  get connection(): SwitchConnection | undefined {
    return this.conn?.isOpen ? this.conn : undefined;
  }

  start(): this {
    this.stopped = false;
    void this.tryConnect();
    return this;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.conn?.close();
    this.conn = undefined;
  }

  private async tryConnect(): Promise<void> {
    if (this.stopped) return;
    try {
      const conn = await connectSwitch(this.target, this.opts);
      if (this.stopped) {
        conn.close();
        return;
      }
      this.attempt = 0;
      this.conn = conn;
      conn.once('close', (reason) => {
        this.conn = undefined;
        this.emit('disconnected', reason);
        this.schedule();
      });
      this.emit('connected', conn);
    } catch (err) {
      this.emit('retry', err as Error, this.attempt);
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    const min = this.opts.minRetryMs ?? 100;
    const max = this.opts.maxRetryMs ?? 5_000;
    const delay = Math.min(max, min * 2 ** this.attempt);
    this.attempt++;
    this.timer = setTimeout(() => void this.tryConnect(), delay);
    this.timer.unref();
  }
}

export interface SwitchListenerEvents {
  switch: [SwitchConnection];
  /** A switch connected but its handshake failed. */
  rejected: [Error];
}

/** Accepts switches that connect to us (ovs-vsctl set-controller BR tcp:HOST:PORT). */
export class SwitchListener extends EventEmitter<SwitchListenerEvents> {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly opts: ConnectionOptions = {}) {
    super();
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      SwitchConnection.handshake(socket, this.opts).then(
        (conn) => this.emit('switch', conn),
        (err: Error) => this.emit('rejected', err),
      );
    });
  }

  /** Listens on a target; for tcp, port 0 picks a free port. Resolves with the bound target. */
  listen(target: Target): Promise<Target> {
    const t = parseTarget(target);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const done = () => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve(typeof a === 'string' || a === null ? `unix:${a}` : `tcp:${a.address}:${a.port}`);
      };
      if (t.path !== undefined) this.server.listen(t.path, done);
      else this.server.listen(t.port, t.host, done);
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
