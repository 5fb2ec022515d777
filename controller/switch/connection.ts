// Owns one OpenFlow 1.3 session with one switch: handshake, keep-alive, xid → reply tracking,
// barriers, multipart assembly, bundles. It keeps no flow state and never reconnects by itself.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { type OFCodecError, Writer } from '../openflow/buffer.js';
import { encodeMessage } from '../openflow/encode.js';
import { OFErrorReply } from '../openflow/errors.js';
import {
  type AsyncConfig,
  BundleCtrlType,
  BundleFlags,
  type ControllerRole,
  type ErrorMsg,
  type FeaturesReply,
  type FlowRemoved,
  type FlowStats,
  type FlowStatsRequest,
  type GroupDesc,
  type MeterBand,
  type MultipartReply,
  type MultipartRequestBody,
  MultipartType,
  type OFMessage,
  OFP_VERSION,
  OFPG_ANY,
  OFPM_ALL,
  OFPMPF_MORE,
  OFPP,
  OFPTT_ALL,
  type PacketIn,
  type PortDesc,
  type PortStatus,
} from '../openflow/messages.js';
import { decodeMessage, OFParser } from '../openflow/parser.js';
import { type BatchItem, BundleBuilder, type BundleWatch, type FlowModInput } from './bundle.js';
import { RequestError } from './request-error.js';

export interface ConnectionOptions {
  /** Idle time after which we probe the switch with an echo request. */
  echoIntervalMs?: number;
  /** Silence after which the switch is declared dead and the socket destroyed. */
  deadPeerMs?: number;
  /** How long a request waits for its reply. */
  requestTimeoutMs?: number;
  /** How long the HELLO/FEATURES handshake may take. */
  handshakeTimeoutMs?: number;
  /**
   * Asynchronous messages to ask for after the handshake. The default asks for those OpenFlow
   * sends a master by default, which OVS withholds from service connections (its management
   * socket) unless asked; `false` sends no SET_ASYNC.
   */
  asyncConfig?: AsyncConfig | false;
}

/** OpenFlow 1.3's defaults for a master: every packet-in, port-status and flow-removed reason. */
export const MASTER_ASYNC: AsyncConfig = {
  packetInMask: [0b111, 0],
  portStatusMask: [0b111, 0b111],
  flowRemovedMask: [0b1111, 0],
};

const DEFAULTS: Required<ConnectionOptions> = {
  echoIntervalMs: 5_000,
  deadPeerMs: 15_000,
  requestTimeoutMs: 30_000,
  handshakeTimeoutMs: 10_000,
  asyncConfig: MASTER_ASYNC,
};

interface Pending {
  resolve(m: OFMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  /** Set for multipart requests: replies are collected until one comes without the MORE flag. */
  parts?: MultipartReply[];
  resolveParts?(parts: MultipartReply[]): void;
}

/** First xid of batch messages; requests use 1..0x7fffffff. */
const BATCH_XID = 0x80000000;

export type { BatchItem, BundleBuilder, FlowModInput } from './bundle.js';
export { RequestError } from './request-error.js';

export interface ConnectionEvents {
  packetIn: [PacketIn];
  portStatus: [PortStatus];
  flowRemoved: [FlowRemoved];
  /** An error reply for a message no one waits for, or a malformed frame from the switch. */
  asyncError: [Error];
  close: [Error | undefined];
}

export class SwitchConnection extends EventEmitter<ConnectionEvents> {
  readonly opts: Required<ConnectionOptions>;
  features!: FeaturesReply;
  private readonly parser: OFParser;
  private readonly pending = new Map<number, Pending>();
  /** The batch (bundle or checked send) under way, if any. */
  private batch: BundleWatch | undefined;
  private batchLock: Promise<void> = Promise.resolve();
  private readonly writer = new Writer(1 << 16);
  private nextXid = 1;
  private nextBundleId = 1;
  private lastRx = Date.now();
  private keepAlive: NodeJS.Timeout | undefined;
  private closed = false;
  private closeReason: Error | undefined;
  private helloSeen: ((m: OFMessage) => void) | undefined;

  private constructor(
    readonly socket: Socket,
    opts: ConnectionOptions,
  ) {
    super();
    this.opts = { ...DEFAULTS, ...opts };
    this.parser = new OFParser({
      onMessage: (m) => this.onMessage(m),
      onError: (err, _frame, fatal) => this.onParseError(err, fatal),
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      this.lastRx = Date.now();
      this.parser.push(chunk);
    });
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown(this.closeReason ?? new RequestError('connection closed')));
  }

  /** Runs HELLO (version negotiation) and FEATURES on a fresh socket. */
  static async handshake(socket: Socket, opts: ConnectionOptions = {}): Promise<SwitchConnection> {
    const conn = new SwitchConnection(socket, opts);
    const timeout = conn.opts.handshakeTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      const hello = new Promise<OFMessage>((resolve) => {
        conn.helloSeen = resolve;
      });
      conn.send({ type: 'hello', xid: conn.allocXid(), versions: [OFP_VERSION] });
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new RequestError(`handshake: no HELLO within ${timeout} ms`)),
          timeout,
        );
      });
      const closed = new Promise<never>((_, reject) => {
        conn.once('close', (err) => reject(err ?? new RequestError('handshake: connection closed')));
      });
      const peer = await Promise.race([hello, timedOut, closed]);
      if (peer.type !== 'hello' || !helloOffers13(peer)) {
        conn.send({
          type: 'error',
          xid: peer.xid,
          errType: 0,
          code: 0,
          typeName: 'OFPET_HELLO_FAILED',
          codeName: 'OFPHFC_INCOMPATIBLE',
          data: Buffer.from('OpenFlow 1.3 (0x04) is the only version spoken here'),
        });
        throw new RequestError('handshake: the switch does not speak OpenFlow 1.3');
      }
      conn.features = (await Promise.race([
        conn.request({ type: 'featuresRequest', xid: 0 }),
        timedOut,
        closed,
      ])) as FeaturesReply;
      if (conn.opts.asyncConfig)
        conn.send({ type: 'setAsync', xid: conn.allocXid(), ...conn.opts.asyncConfig });
      conn.startKeepAlive();
      return conn;
    } catch (err) {
      conn.close(err as Error);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  get datapathId(): bigint {
    return this.features.datapathId;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  allocXid(): number {
    const x = this.nextXid;
    this.nextXid = x >= 0x7fffffff ? 1 : x + 1;
    return x;
  }

  /** Sends without waiting for anything; an error reply is emitted as `asyncError`. */
  send(msg: OFMessage): void {
    if (this.closed) throw new RequestError('send on a closed connection');
    this.writer.reset();
    encodeMessage(this.writer, msg);
    this.socket.write(this.writer.take());
  }

  /** Sends and resolves with the reply (multipart replies assembled into one). */
  request(msg: OFMessage): Promise<OFMessage> {
    return new Promise<OFMessage>((resolve, reject) => this.track(msg, { resolve, reject }));
  }

  private track(msg: OFMessage, p: Omit<Pending, 'timer'>): void {
    if (this.closed) {
      p.reject(new RequestError(`${msg.type} on a closed connection`));
      return;
    }
    const xid = this.allocXid();
    msg.xid = xid;
    const timer = setTimeout(() => {
      this.pending.delete(xid);
      p.reject(
        new RequestError(`${msg.type} (xid ${xid}): no reply within ${this.opts.requestTimeoutMs} ms`),
      );
    }, this.opts.requestTimeoutMs);
    this.pending.set(xid, { ...p, timer });
    this.send(msg);
  }

  async barrier(): Promise<void> {
    await this.request({ type: 'barrierRequest', xid: 0 });
  }

  /** Sends a multipart request and resolves with every reply part, in order. */
  multipart(body: MultipartRequestBody): Promise<MultipartReply[]> {
    return new Promise<MultipartReply[]>((resolveParts, reject) =>
      this.track(
        { type: 'multipartRequest', xid: 0, flags: 0, ...body },
        {
          resolve: (m) => reject(new RequestError(`multipart request answered by ${m.type}`)),
          reject,
          parts: [],
          resolveParts,
        },
      ),
    );
  }

  async dumpFlows(request: Partial<FlowStatsRequest> = {}): Promise<FlowStats[]> {
    const parts = await this.multipart({
      mpType: MultipartType.FLOW,
      request: {
        tableId: OFPTT_ALL,
        outPort: OFPP.ANY,
        outGroup: OFPG_ANY,
        cookie: 0n,
        cookieMask: 0n,
        match: {},
        ...request,
      },
    });
    const flows: FlowStats[] = [];
    for (const p of parts) if (p.mpType === MultipartType.FLOW) for (const f of p.flows) flows.push(f);
    return flows;
  }

  async dumpGroups(): Promise<GroupDesc[]> {
    const parts = await this.multipart({ mpType: MultipartType.GROUP_DESC });
    const out: GroupDesc[] = [];
    for (const p of parts) if (p.mpType === MultipartType.GROUP_DESC) out.push(...p.groups);
    return out;
  }

  async dumpMeters(): Promise<{ flags: number; meterId: number; bands: MeterBand[] }[]> {
    const parts = await this.multipart({ mpType: MultipartType.METER_CONFIG, meterId: OFPM_ALL });
    const out: { flags: number; meterId: number; bands: MeterBand[] }[] = [];
    for (const p of parts) if (p.mpType === MultipartType.METER_CONFIG) out.push(...p.configs);
    return out;
  }

  async portDescs(): Promise<PortDesc[]> {
    const parts = await this.multipart({ mpType: MultipartType.PORT_DESC });
    const out: PortDesc[] = [];
    for (const p of parts) if (p.mpType === MultipartType.PORT_DESC) out.push(...p.ports);
    return out;
  }

  async setRole(role: ControllerRole, generationId = 0n): Promise<ControllerRole> {
    const reply = await this.request({ type: 'roleRequest', xid: 0, role, generationId });
    if (reply.type !== 'roleReply') throw new RequestError(`role request answered by ${reply.type}`);
    return reply.role;
  }

  /**
   * Applies messages atomically in one ONF bundle (open, add…, commit) and resolves when the
   * commit is confirmed. If the switch rejects any message, nothing of the bundle is applied and
   * the promise rejects with the first error the switch reported for it.
   */
  async bundle(
    messages: Iterable<BatchItem>,
    flags = BundleFlags.ATOMIC | BundleFlags.ORDERED,
  ): Promise<void> {
    const b = await this.openBundle(flags);
    try {
      for (const m of messages) b.add(m);
    } catch (err) {
      await b.discard();
      throw err;
    }
    await b.commit();
  }

  /**
   * Opens a bundle to stream messages into: `add` encodes and queues, `pace` lets the socket
   * drain (so the switch parses while we produce), `commit` or `discard` ends it. Batches on one
   * connection run one at a time; the next waits for this one to end.
   */
  async openBundle(flags = BundleFlags.ATOMIC | BundleFlags.ORDERED): Promise<BundleBuilder> {
    const release = await this.takeBatchLock();
    const bundleId = this.nextBundleId++;
    const watch = this.startBatch();
    try {
      const reply = await this.request({
        type: 'bundleControl',
        xid: 0,
        bundleId,
        ctrlType: BundleCtrlType.OPEN_REQUEST,
        flags,
      });
      this.expectCtrl(reply, BundleCtrlType.OPEN_REPLY, watch);
    } catch (err) {
      this.endBatch(watch);
      release();
      throw err;
    }
    return new BundleBuilder(this, this.socket, bundleId, flags, watch, () => {
      this.endBatch(watch);
      release();
    });
  }

  /** Used by BundleBuilder: sends a bundle control request and checks the reply. */
  async bundleControl(
    bundleId: number,
    flags: number,
    ctrlType: BundleCtrlType,
    watch: BundleWatch,
  ): Promise<void> {
    const reply = await this.request({ type: 'bundleControl', xid: 0, bundleId, ctrlType, flags }).catch(
      (err: Error) => {
        throw watch.errors[0] ?? err;
      },
    );
    this.expectCtrl(reply, ctrlType + 1, watch);
  }

  /**
   * Sends messages that have no reply of their own (meter mods, group mods…) followed by a
   * barrier; rejects with the first error the switch reported for any of them.
   */
  async sendChecked(messages: readonly FlowModInput[]): Promise<void> {
    const release = await this.takeBatchLock();
    const watch = this.startBatch();
    try {
      const w = this.writer;
      w.reset();
      for (const message of messages) {
        message.xid = watch.lo + watch.messages.length;
        watch.messages.push(message);
        encodeMessage(w, message);
      }
      this.socket.write(w.take());
      await this.barrier();
      if (watch.errors.length > 0) throw watch.errors[0];
    } finally {
      this.endBatch(watch);
      release();
    }
  }

  private async takeBatchLock(): Promise<() => void> {
    const previous = this.batchLock;
    let release!: () => void;
    this.batchLock = new Promise<void>((r) => {
      release = r;
    });
    await previous;
    return release;
  }

  /**
   * Batch messages take xids from the upper half of the xid space (the lower half is for
   * requests), consecutive from BATCH_XID: one at a time runs, so an error's xid names its message.
   */
  private startBatch(): BundleWatch {
    const watch: BundleWatch = { lo: BATCH_XID, messages: [], errors: [] };
    this.batch = watch;
    return watch;
  }

  private endBatch(watch: BundleWatch): void {
    if (this.batch === watch) this.batch = undefined;
  }

  private expectCtrl(reply: OFMessage, want: BundleCtrlType, watch: BundleWatch): void {
    if (reply.type !== 'bundleControl' || reply.ctrlType !== want) {
      throw watch.errors[0] ?? new RequestError(`bundle: expected control reply ${want}, got ${reply.type}`);
    }
    if (watch.errors.length > 0) throw watch.errors[0];
  }

  close(reason?: Error): void {
    this.closeReason = reason;
    this.socket.destroy();
    this.shutdown(reason);
  }

  private shutdown(reason: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    const err = reason ?? new RequestError('connection closed');
    for (const [xid, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new RequestError(`xid ${xid}: ${err.message}`));
    }
    this.pending.clear();
    this.socket.destroy();
    this.emit('close', reason);
  }

  private startKeepAlive(): void {
    const { echoIntervalMs, deadPeerMs } = this.opts;
    this.keepAlive = setInterval(
      () => {
        const idle = Date.now() - this.lastRx;
        if (idle >= deadPeerMs) {
          this.close(new RequestError(`switch silent for ${idle} ms: declared dead`));
        } else if (idle >= echoIntervalMs) {
          this.send({ type: 'echoRequest', xid: this.allocXid(), data: Buffer.alloc(0) });
        }
      },
      Math.max(50, Math.min(echoIntervalMs, deadPeerMs) / 2),
    );
    this.keepAlive.unref();
  }

  private onParseError(err: OFCodecError, fatal: boolean): void {
    this.emit('asyncError', err);
    if (fatal) this.close(err);
  }

  private onMessage(m: OFMessage): void {
    switch (m.type) {
      case 'hello':
        this.helloSeen?.(m);
        this.helloSeen = undefined;
        return;
      case 'echoRequest':
        this.send({ type: 'echoReply', xid: m.xid, data: m.data });
        return;
      case 'packetIn':
        this.emit('packetIn', m);
        return;
      case 'portStatus':
        this.emit('portStatus', m);
        return;
      case 'flowRemoved':
        this.emit('flowRemoved', m);
        return;
      case 'error':
        this.onErrorReply(m);
        return;
      default:
        this.onReply(m);
    }
  }

  private onErrorReply(m: ErrorMsg): void {
    const b = this.batch;
    if (b && m.xid >= b.lo && m.xid < b.lo + b.messages.length) {
      b.errors.push(new OFErrorReply(m, asMessage(b.messages[m.xid - b.lo])));
      return;
    }
    const err = new OFErrorReply(m);
    const p = this.pending.get(m.xid);
    if (p) {
      this.pending.delete(m.xid);
      clearTimeout(p.timer);
      p.reject(err);
      return;
    }
    this.emit('asyncError', err);
  }

  private onReply(m: OFMessage): void {
    const p = this.pending.get(m.xid);
    if (!p) return; // replies to fire-and-forget messages (echo replies) land here
    if (m.type === 'multipartReply' && p.parts && p.resolveParts) {
      p.parts.push(m);
      if ((m.flags & OFPMPF_MORE) !== 0) return;
      this.pending.delete(m.xid);
      clearTimeout(p.timer);
      p.resolveParts(p.parts);
      return;
    }
    this.pending.delete(m.xid);
    clearTimeout(p.timer);
    p.resolve(m);
  }
}

function asMessage(item: BatchItem | undefined): OFMessage | undefined {
  if (item === undefined || (typeof item !== 'string' && !Buffer.isBuffer(item))) return item;
  try {
    return decodeMessage(typeof item === 'string' ? Buffer.from(item, 'latin1') : item);
  } catch {
    return undefined;
  }
}

function helloOffers13(m: OFMessage): boolean {
  if (m.type !== 'hello') return false;
  // Without a bitmap the header version is the highest the peer speaks: 1.3 works if it is >= 1.3.
  if (m.versions.length === 0) return (m.version ?? OFP_VERSION) >= OFP_VERSION;
  return m.versions.includes(OFP_VERSION);
}
