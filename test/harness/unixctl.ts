// Owns talking to an OVS daemon's unixctl socket directly (JSON-RPC, as ovs-appctl does), for
// tests that make thousands of calls (ofproto/trace): one connection instead of one process each.

import { connect, type Socket } from 'node:net';
import { SerialQueue } from '../../lib/serial-queue.js';

export class Unixctl {
  private buf = '';
  private nextId = 1;
  private waiting: { resolve: (v: string) => void; reject: (e: Error) => void } | undefined;
  private readonly calls = new SerialQueue();

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.drain();
    });
    sock.on('error', (err) => this.fail(err));
    sock.on('close', () => this.fail(new Error('unixctl connection closed')));
  }

  /** Connects to e.g. `<rundir>/ovs-vswitchd.ctl`. */
  static open(path: string): Promise<Unixctl> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new Unixctl(s)));
      s.once('error', reject);
    });
  }

  /** One command, as `ovs-appctl <method> <params...>`; resolves with its text output. */
  call(method: string, ...params: string[]): Promise<string> {
    // The daemon answers one request at a time per connection: send the next once this one is done.
    return this.calls.run(
      () =>
        new Promise<string>((resolve, reject) => {
          this.waiting = { resolve, reject };
          this.sock.write(JSON.stringify({ id: this.nextId++, method, params }));
        }),
    );
  }

  close(): void {
    this.sock.destroy();
  }

  private drain(): void {
    // Replies are single JSON objects with no framing: parse once the buffer holds a whole one.
    let reply: { result?: string | null; error?: unknown };
    try {
      reply = JSON.parse(this.buf);
    } catch {
      return;
    }
    this.buf = '';
    const w = this.waiting;
    this.waiting = undefined;
    if (!w) return;
    if (reply.error !== undefined && reply.error !== null) w.reject(new Error(String(reply.error)));
    else w.resolve(reply.result ?? '');
  }

  private fail(err: Error): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
  }
}

/**
 * `ofproto/trace` of flow on bridge with the given conntrack state for every recirculation: did the
 * last pass leave the switch (any datapath action but drop)?
 */
export async function traceDelivers(
  ctl: Unixctl,
  bridge: string,
  flow: string,
  ct: string,
): Promise<boolean> {
  const out = await ctl.call('ofproto/trace', bridge, flow, '--ct-next', ct);
  const lines = out.split('\n').filter((l) => l.startsWith('Datapath actions:'));
  const last = lines[lines.length - 1];
  if (!last) throw new Error(`no datapath actions in trace of ${flow}:\n${out}`);
  return last.trim() !== 'Datapath actions: drop';
}

/** Runs fn over items with one unixctl connection per worker (the daemon answers each in turn). */
export async function overConnections<T, R>(
  ctls: readonly Unixctl[],
  items: readonly T[],
  fn: (ctl: Unixctl, t: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    ctls.map(async (ctl) => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(ctl, items[i]!);
      }
    }),
  );
  return out;
}
