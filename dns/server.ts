// Owns the listening DNS service for one tenant: one UDP socket and one TCP listener on the same
// address and port (`dig @addr`, tools, containers pointed at it). Answers come from the Answerer,
// the rest goes through the Forwarder. Nothing a client sends can throw out of a handler.
import { type ChildProcess, fork } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Answerer, type AnswererOptions } from './answer.js';
import { Forwarder } from './forwarder.js';
import type { KeyValue, NameRegistry, RegistryUpdate } from './registry.js';
import { hostResolvers, parseUpstream, type Upstream } from './upstreams.js';

export interface DnsServerOptions extends AnswererOptions {
  registry: NameRegistry;
  /** Whose names this address answers (default 'default'). */
  tenant?: string;
  host?: string;
  /** 0: a free port, the same for UDP and TCP. Default 53. */
  port?: number;
  /** `ip[:port]` resolvers for names that are not ours; default: /etc/resolv.conf's. */
  upstreams?: readonly string[];
  forwardTimeoutMs?: number;
  /** Concurrent TCP clients (beyond: refused). */
  maxTcpClients?: number;
  /** A TCP client silent this long is closed (ms). */
  tcpIdleMs?: number;
  /**
   * Processes reading the UDP socket: this one plus (n - 1) children sharing its socket, each with
   * a mirror of the registry (Node 20's dgram has no SO_REUSEPORT). Default 1.
   */
  udpProcesses?: number;
}

const MAX_BIND_TRIES = 20;

/** A UDP process that died is started again after this long (doubling while it keeps dying, to 30 s). */
const CHILD_RESTART_MS = 200;
const CHILD_RESTART_MAX_MS = 30_000;

export class DnsServer {
  private readonly tcpClients = new Set<TcpSocket>();
  private readonly children: ChildProcess[] = [];
  private stopMirror: () => void = () => {};
  private closing = false;
  private readonly restarts = new Set<NodeJS.Timeout>();

  private constructor(
    readonly answerer: Answerer,
    readonly tenant: string,
    private readonly forwarder: Forwarder,
    private readonly udp: Socket,
    private readonly tcp: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(opts: DnsServerOptions): Promise<DnsServer> {
    const host = opts.host ?? '127.0.0.1';
    const family = host.includes(':') ? 6 : 4;
    const tenant = opts.tenant ?? 'default';
    const answerer = new Answerer(opts.registry, opts);
    const upstreams: Upstream[] = opts.upstreams
      ? opts.upstreams.map(parseUpstream)
      : hostResolvers().filter((u) => !isSelf(u, host, opts.port ?? 53));
    const forwarder = new Forwarder(upstreams, opts.forwardTimeoutMs);
    // With port 0, UDP picks a free port and TCP must get the same one; retry if TCP's is taken.
    let server: DnsServer | undefined;
    for (let i = 0; !server; i++) {
      const udp = await bindUdp(family, host, opts.port ?? 53);
      const port = udp.address().port;
      try {
        const tcp = await listenTcp(host, port);
        server = new DnsServer(answerer, tenant, forwarder, udp, tcp, host, port);
      } catch (err) {
        udp.close();
        if (opts.port !== 0 || i >= MAX_BIND_TRIES) throw err;
      }
    }
    server.serve(opts);
    try {
      await server.startChildren(opts, upstreams);
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  /** `host:port`, for dig (`@host -p port`) and upstream lists. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** The pids of the extra UDP processes now serving. */
  get udpChildPids(): number[] {
    return this.children.flatMap((c) =>
      c.pid !== undefined && c.exitCode === null && c.signalCode === null ? [c.pid] : [],
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.restarts) clearTimeout(t);
    this.stopMirror();
    this.answerer.close();
    for (const c of this.children) c.kill();
    this.forwarder.close();
    for (const c of this.tcpClients) c.destroy();
    await Promise.all([
      new Promise<void>((r) => this.udp.close(() => r())),
      new Promise<void>((r) => this.tcp.close(() => r())),
    ]);
  }

  /**
   * Children get the UDP socket and the registry's contents, then every change, in order. One that
   * dies later is started again (with the registry as it is then): the socket keeps being read by
   * the others meanwhile, so nothing is lost but capacity.
   */
  private async startChildren(opts: DnsServerOptions, upstreams: Upstream[]): Promise<void> {
    const n = (opts.udpProcesses ?? 1) - 1;
    if (n <= 0) return;
    const script = fileURLToPath(new URL('./udp-worker.js', import.meta.url));
    const initOf = (): WorkerMessage => ({
      type: 'init',
      tenant: this.tenant,
      ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
      upstreams: upstreams.map((u) => (u.family === 6 ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`)),
      ...(opts.forwardTimeoutMs !== undefined ? { forwardTimeoutMs: opts.forwardTimeoutMs } : {}),
      kvs: opts.registry.snapshot(),
    });
    const spawn = (slot: number, delayMs: number, initial: boolean): Promise<void> => {
      const child = fork(script, [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      // The snapshot goes first, in the same tick the child joins the update fan-out, so no update
      // can reach it before the state it applies to.
      child.send(initOf(), this.udp, (err) => void err); // a failure shows as its exit
      child.on('error', () => {}); // ditto: a failed send or kill of a dying child
      this.children[slot] = child;
      const started = Date.now();
      return new Promise((resolve, reject) => {
        let serving = false;
        child.once('message', () => {
          serving = true;
          resolve();
        });
        child.once('exit', (code, signal) => {
          if (!serving) reject(new Error(`dns UDP process exited (${code ?? signal}) before serving`));
          // At start a failure is the caller's error; later, a child is always retried.
          if (this.closing || (initial && !serving)) return;
          // A child that lived long is restarted promptly; one that keeps dying, ever more slowly.
          const next = Date.now() - started > CHILD_RESTART_MAX_MS ? CHILD_RESTART_MS : delayMs;
          const t = setTimeout(() => {
            this.restarts.delete(t);
            if (!this.closing) spawn(slot, Math.min(next * 2, CHILD_RESTART_MAX_MS), false).catch(() => {});
          }, next);
          this.restarts.add(t);
        });
      });
    };
    this.stopMirror = opts.registry.onUpdate((u) => {
      // A child dying this moment fails its send (EPIPE): its replacement starts from a fresh snapshot.
      for (const c of this.children)
        if (c.connected) c.send({ type: 'update', u } satisfies WorkerMessage, (err) => void err);
    });
    await Promise.all(Array.from({ length: n }, (_, slot) => spawn(slot, CHILD_RESTART_MS, true)));
  }

  private serve(opts: DnsServerOptions): void {
    const { answerer, forwarder, tenant, udp } = this;
    serveUdp(udp, answerer, forwarder, tenant);
    const maxClients = opts.maxTcpClients ?? 256;
    const idleMs = opts.tcpIdleMs ?? 10_000;
    this.tcp.on('connection', (sock) => {
      if (this.tcpClients.size >= maxClients) {
        sock.destroy();
        return;
      }
      this.tcpClients.add(sock);
      sock.on('close', () => this.tcpClients.delete(sock));
      sock.on('error', () => {});
      sock.setTimeout(idleMs, () => sock.destroy());
      readFrames(sock, (query) => {
        const r = answerer.resolve(query, tenant, 'tcp');
        const reply = (b: Buffer) => {
          if (sock.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(b.length);
          sock.write(Buffer.concat([len, b]));
        };
        if (r.kind === 'answer') reply(r.buf);
        else if (r.kind === 'forward') forwarder.forwardTcp(query, r.query, reply);
      });
    });
  }
}

/** What a UDP child process is sent (its first message carries the socket). */
export type WorkerMessage =
  | {
      type: 'init';
      tenant: string;
      ttl?: number;
      upstreams: string[];
      forwardTimeoutMs?: number;
      kvs: KeyValue[];
    }
  | { type: 'update'; u: RegistryUpdate };

/** The UDP hot path: answer ours from the precomputed cache, forward the rest, drop the unanswerable. */
export function serveUdp(udp: Socket, answerer: Answerer, forwarder: Forwarder, tenant: string): void {
  // A source port of 0 (forged) would make send() throw: such packets are dropped.
  const reply = (b: Buffer, port: number, address: string) => {
    if (port !== 0) udp.send(b, port, address);
  };
  udp.on('error', () => {});
  udp.on('message', (msg, rinfo) => {
    const r = answerer.resolve(msg, tenant, 'udp');
    if (r.kind === 'answer') reply(r.buf, rinfo.port, rinfo.address);
    else if (r.kind === 'forward')
      forwarder.forwardUdp(msg, r.query, (b) => reply(b, rinfo.port, rinfo.address));
  });
}

/** Length-prefixed messages (RFC 1035 §4.2.2); a client may send several on one connection. */
function readFrames(sock: TcpSocket, onFrame: (msg: Buffer) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      onFrame(Buffer.from(buf.subarray(2, 2 + len)));
      buf = buf.subarray(2 + len);
    }
  });
}

/** An upstream that may be this very listener (forwarding to it would loop). */
function isSelf(u: Upstream, host: string, port: number): boolean {
  if (u.port !== port) return false;
  const anyAddr = host === '0.0.0.0' || host === '::';
  const loopback = u.host.startsWith('127.') || u.host === '::1';
  return u.host === host || anyAddr || loopback;
}

function bindUdp(family: 4 | 6, host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // IP literals only: a synchronous lookup spares every send a trip through dns.lookup.
    const s = createSocket({
      type: family === 4 ? 'udp4' : 'udp6',
      lookup: (address, _o, cb) => (cb as (e: null, a: string, f: number) => void)(null, address, family),
    });
    s.once('error', reject);
    s.bind(port, host, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

function listenTcp(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, host, () => {
      srv.off('error', reject);
      resolve(srv);
    });
  });
}
