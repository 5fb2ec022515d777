// Owns the client side of the rest-create benchmark, run in a worker thread so the clients' HTTP
// work does not share an event loop (and a core) with the netmaster being measured: real clients
// (netctl, scripts) are other processes. Posts {secs} when every create succeeded, {error} if not.

import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';

export interface ClientJob {
  port: number;
  clients: number;
  groups: number;
  network: string;
  /** Over TLS trusting this CA, each request with this login token (netmaster with logins on). */
  secure?: { ca: string; token: string };
}

/**
 * One keep-alive HTTP/1.1 connection that sends a request and reads its reply, nothing more: the
 * load generator must cost less CPU than the server it measures (node:http's client cost more per
 * request than netmaster itself and shares the machine's two cores with it), as wrk and autocannon do.
 */
class Lane {
  private buf: Buffer = Buffer.alloc(0);
  private waiting?: { resolve: (r: { status: number; text: string }) => void; reject: (e: Error) => void };

  private constructor(
    private readonly sock: Socket,
    private readonly extraHeaders: string,
  ) {
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.tryReply();
    });
    const fail = (e: Error) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(e);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('the server closed the connection')));
  }

  static open(port: number, secure?: ClientJob['secure']): Promise<Lane> {
    return new Promise((resolve, reject) => {
      const sock = secure
        ? tlsConnect({ port, host: '127.0.0.1', ca: secure.ca }, () =>
            resolve(new Lane(sock, `X-Auth-Token: ${secure.token}\r\n`)),
          )
        : connect(port, '127.0.0.1', () => resolve(new Lane(sock, '')));
      sock.once('error', reject);
    });
  }

  post(path: string, body: unknown): Promise<{ status: number; text: string }> {
    const payload = JSON.stringify(body);
    const head =
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${this.extraHeaders}` +
      `Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.sock.write(head + payload);
    });
  }

  private tryReply(): void {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const head = this.buf.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!len) {
      this.waiting.reject(new Error(`reply without content-length: ${head.split('\r\n')[0]}`));
      this.waiting = undefined;
      return;
    }
    const total = end + 4 + Number(len[1]);
    if (this.buf.length < total) return;
    const text = this.buf.toString('utf8', end + 4, total);
    this.buf = this.buf.subarray(total);
    const w = this.waiting;
    this.waiting = undefined;
    w.resolve({ status, text });
  }

  close(): void {
    this.sock.destroy();
  }
}

async function main(job: ClientJob): Promise<number> {
  const lanes = await Promise.all(Array.from({ length: job.clients }, () => Lane.open(job.port, job.secure)));
  let next = 0;
  const t0 = performance.now();
  try {
    await Promise.all(
      lanes.map(async (lane) => {
        for (let i = next++; i < job.groups; i = next++) {
          const body = { tenantName: 'default', groupName: `g${i}`, networkName: job.network };
          const r = await lane.post(`/api/v1/endpointGroups/default:g${i}/`, body);
          if (r.status !== 200) throw new Error(`group g${i}: ${r.status} ${r.text}`);
        }
      }),
    );
    return (performance.now() - t0) / 1000;
  } finally {
    for (const l of lanes) l.close();
  }
}

if (parentPort) {
  const port = parentPort;
  main(workerData as ClientJob).then(
    (secs) => port.postMessage({ secs }),
    (err: Error) => port.postMessage({ error: err.message }),
  );
}
