// Owns the listening DNS service for one tenant: one UDP socket and one TCP listener on the same
// address and port (`dig @addr`, tools, containers pointed at it). Answers come from the Answerer,
// the rest goes through the Forwarder. Nothing a client sends can throw out of a handler.
// UDP is read by the native hot path (udp-native.ts) when it is built, else by node:dgram.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { Answerer, type AnswererOptions, type CachedAnswer } from './answer.js';
import { Forwarder } from './forwarder.js';
import type { NameRegistry } from './registry.js';
import { type FastPath, type FastPathClass, type FastPathStats, fastPathAddon } from './udp-native.js';
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
  /** Native threads reading the UDP socket (default 1: one outruns dnsmasq on this 2-core machine). */
  udpThreads?: number;
  /** 'dgram': read UDP with node:dgram even when the native hot path is built. */
  udp?: UdpPath;
}

/** What reads the UDP socket: the native hot path or node:dgram (the addon not built). */
export type UdpPath = 'native' | 'dgram';

const MAX_BIND_TRIES = 20;

/** The UDP side, whichever reads it. */
interface UdpListener {
  readonly path: UdpPath;
  readonly port: number;
  close(): Promise<void>;
  stats(): FastPathStats | undefined;
}

export class DnsServer {
  private readonly tcpClients = new Set<TcpSocket>();

  private constructor(
    readonly answerer: Answerer,
    readonly tenant: string,
    private readonly forwarder: Forwarder,
    private readonly udp: UdpListener,
    private readonly tcp: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(opts: DnsServerOptions): Promise<DnsServer> {
    const host = opts.host ?? '127.0.0.1';
    const tenant = opts.tenant ?? 'default';
    const answerer = new Answerer(opts.registry, opts);
    const upstreams: Upstream[] = opts.upstreams
      ? opts.upstreams.map(parseUpstream)
      : hostResolvers().filter((u) => !isSelf(u, host, opts.port ?? 53));
    const forwarder = new Forwarder(upstreams, opts.forwardTimeoutMs);
    const ctx: UdpContext = { answerer, forwarder, tenant, registry: opts.registry };
    // With port 0, UDP picks a free port and TCP must get the same one; retry if TCP's is taken.
    for (let i = 0; ; i++) {
      const udp = await listenUdp(ctx, host, opts);
      try {
        const tcp = await listenTcp(host, udp.port);
        const server = new DnsServer(answerer, tenant, forwarder, udp, tcp, host, udp.port);
        server.serveTcp(opts);
        return server;
      } catch (err) {
        await udp.close();
        if (opts.port !== 0 || i >= MAX_BIND_TRIES) {
          answerer.close();
          forwarder.close();
          throw err;
        }
      }
    }
  }

  /** `host:port`, for dig (`@host -p port`) and upstream lists. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** What reads UDP: 'native' unless the addon is not built (or 'dgram' was asked for). */
  get udpPath(): UdpPath {
    return this.udp.path;
  }

  /** The native hot path's counters (undefined on dgram). */
  udpStats(): FastPathStats | undefined {
    return this.udp.stats();
  }

  async close(): Promise<void> {
    this.answerer.close();
    this.forwarder.close();
    for (const c of this.tcpClients) c.destroy();
    await Promise.all([this.udp.close(), new Promise<void>((r) => this.tcp.close(() => r()))]);
  }

  private serveTcp(opts: DnsServerOptions): void {
    const { answerer, forwarder, tenant } = this;
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

interface UdpContext {
  answerer: Answerer;
  forwarder: Forwarder;
  tenant: string;
  registry: NameRegistry;
}

/**
 * What one datagram gets: ours from the Answerer, the rest forwarded, the unanswerable dropped.
 * learn: the answers it came from (the native table keeps them for the next asker).
 */
function onDatagram(
  ctx: UdpContext,
  send: (b: Buffer, port: number, address: string) => void,
  learn?: (a: CachedAnswer) => void,
): (msg: Buffer, address: string, port: number) => void {
  const { answerer, forwarder, tenant } = ctx;
  // A source port of 0 (forged) cannot be answered: such packets are dropped.
  const reply = (b: Buffer, port: number, address: string) => {
    if (port !== 0) send(b, port, address);
  };
  return (msg, address, port) => {
    const r = answerer.resolve(msg, tenant, 'udp', learn);
    if (r.kind === 'answer') reply(r.buf, port, address);
    else if (r.kind === 'forward') forwarder.forwardUdp(msg, r.query, (b) => reply(b, port, address));
  };
}

async function listenUdp(ctx: UdpContext, host: string, opts: DnsServerOptions): Promise<UdpListener> {
  const addon = opts.udp === 'dgram' ? undefined : fastPathAddon();
  if (addon && !(addon instanceof Error)) return listenNative(addon.FastPath, ctx, host, opts);
  const family = host.includes(':') ? 6 : 4;
  const udp = await bindUdp(family, host, opts.port ?? 53);
  const handle = onDatagram(ctx, (b, port, address) => udp.send(b, port, address));
  udp.on('error', () => {});
  udp.on('message', (msg, rinfo) => handle(msg, rinfo.address, rinfo.port));
  return {
    path: 'dgram',
    port: udp.address().port,
    stats: () => undefined,
    close: () => new Promise<void>((r) => udp.close(() => r())),
  };
}

/**
 * Native threads answer what the table knows; the rest reaches onDatagram here, and what it
 * answered from is put in the table. The table follows the registry: a change drops the answers
 * of the names it touches, as the Answerer's own cache does.
 */
function listenNative(
  NativeFastPath: FastPathClass,
  ctx: UdpContext,
  host: string,
  opts: DnsServerOptions,
): UdpListener {
  // Misses are answered through the socket they came in on: the handler knows it once it exists.
  let fp: FastPath | undefined;
  const handle = onDatagram(
    ctx,
    (b, port, address) => fp?.send(b, address, port),
    (a) => fp?.put(a.bits, a.limit, a.question, a.name, a.orders, a.next),
  );
  fp = new NativeFastPath(host, opts.port ?? 53, opts.udpThreads ?? 1, handle);
  const table = fp;
  const stopFollowing = ctx.registry.onChange((tenant, names) => {
    if (tenant === '*' || (tenant === ctx.tenant && !names)) table.clear();
    else if (tenant === ctx.tenant && names) table.forget(names);
  });
  return {
    path: 'native',
    port: table.port(),
    stats: () => table.stats(),
    close: async () => {
      stopFollowing();
      table.close();
    },
  };
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
