// Owns relaying queries that are not ours to upstream resolvers and their answers back: a fresh
// random id per forwarded query, answers accepted only from the upstream asked and for the same
// question, the next upstream on timeout, SERVFAIL when none answers. A relayed UDP answer larger
// than the asker allows goes back as an empty truncated answer (never amplify).
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import type { Upstream } from './upstreams.js';
import { emptyResponse, type ParsedQuery, RCODE_SERVFAIL } from './wire.js';

/** Beyond this many queries in flight, new ones get SERVFAIL at once (bounded memory). */
const MAX_PENDING = 8192;

interface Pending {
  query: Buffer;
  parsed: ParsedQuery;
  reply: (buf: Buffer) => void;
  attempt: number;
  upstream: Upstream;
  timer: NodeJS.Timeout;
  /** Largest answer the asker allows (UDP); 65535 over TCP. */
  limit: number;
}

export class Forwarder {
  private readonly pending = new Map<number, Pending>();
  private readonly sockets = new Map<4 | 6, Socket>();

  constructor(
    private readonly upstreams: readonly Upstream[],
    private readonly timeoutMs = 2000,
  ) {}

  /** Forwards over UDP; reply gets the upstream's answer, a truncated one, or SERVFAIL. */
  forwardUdp(query: Buffer, parsed: ParsedQuery, reply: (buf: Buffer) => void): void {
    if (this.upstreams.length === 0 || this.pending.size >= MAX_PENDING) {
      reply(emptyResponse(query, parsed, { aa: false, rcode: RCODE_SERVFAIL }));
      return;
    }
    let id = (Math.random() * 0x10000) | 0;
    while (this.pending.has(id)) id = (id + 1) & 0xffff;
    const p: Pending = {
      query,
      parsed,
      reply,
      attempt: 0,
      upstream: this.upstreams[0]!,
      timer: undefined as unknown as NodeJS.Timeout,
      limit: parsed.udpLimit,
    };
    this.pending.set(id, p);
    this.send(id, p);
  }

  /** Forwards over TCP, trying each upstream in turn. */
  forwardTcp(query: Buffer, parsed: ParsedQuery, reply: (buf: Buffer) => void): void {
    const attempt = (i: number) => {
      const u = this.upstreams[i];
      if (!u) {
        reply(emptyResponse(query, parsed, { aa: false, rcode: RCODE_SERVFAIL }));
        return;
      }
      let data: Buffer = Buffer.alloc(0);
      let done = false;
      const finish = (answer: Buffer | undefined) => {
        if (done) return;
        done = true;
        sock.destroy();
        if (answer) reply(answer);
        else attempt(i + 1);
      };
      const sock = connect({ host: u.host, port: u.port });
      sock.setTimeout(this.timeoutMs, () => finish(undefined));
      sock.on('error', () => finish(undefined));
      sock.on('close', () => finish(undefined));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        if (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
          const answer = data.subarray(2, 2 + data.readUInt16BE(0));
          finish(sameQuestion(answer, query, parsed) ? Buffer.from(answer) : undefined);
        }
      });
    };
    attempt(0);
  }

  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private socket(family: 4 | 6): Socket {
    let s = this.sockets.get(family);
    if (!s) {
      s = createSocket(family === 4 ? 'udp4' : 'udp6');
      s.on('message', (msg, rinfo) => this.onAnswer(msg, rinfo.address, rinfo.port));
      s.on('error', () => {});
      this.sockets.set(family, s);
    }
    return s;
  }

  private send(id: number, p: Pending): void {
    const out = Buffer.from(p.query);
    out.writeUInt16BE(id, 0);
    p.timer = setTimeout(() => this.onTimeout(id), this.timeoutMs);
    this.socket(p.upstream.family).send(out, p.upstream.port, p.upstream.host);
  }

  private onTimeout(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    const next = this.upstreams[++p.attempt];
    if (next) {
      p.upstream = next;
      this.send(id, p);
      return;
    }
    this.pending.delete(id);
    p.reply(emptyResponse(p.query, p.parsed, { aa: false, rcode: RCODE_SERVFAIL }));
  }

  private onAnswer(msg: Buffer, host: string, port: number): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    // Only the upstream asked, answering the question asked, may complete a query (spoofing).
    if (!p || p.upstream.host !== host || p.upstream.port !== port) return;
    if (!sameQuestion(msg, p.query, p.parsed)) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    if (msg.length > p.limit) {
      p.reply(emptyResponse(p.query, p.parsed, { aa: false, rcode: msg[3]! & 0x0f, tc: true }));
      return;
    }
    p.query.copy(msg, 0, 0, 2);
    p.reply(msg);
  }
}

function sameQuestion(answer: Buffer, query: Buffer, parsed: ParsedQuery): boolean {
  return (
    answer.length >= parsed.qEnd &&
    (answer[2]! & 0x80) !== 0 &&
    answer.readUInt16BE(4) === 1 &&
    answer.compare(query, 12, parsed.qEnd, 12, parsed.qEnd) === 0
  );
}
