// Owns filling one ONF bundle (and the types shared by batches): encoding messages into it, pacing
// the socket so the switch parses while we encode, commit and discard. It opens nothing itself.

import type { Socket } from 'node:net';
import { Writer } from '../openflow/buffer.js';
import { encodeBundleAdd, encodeBundleAddFrame } from '../openflow/encode.js';
import type { OFErrorReply } from '../openflow/errors.js';
import { BundleCtrlType, type OFMessage } from '../openflow/messages.js';
import { RequestError } from './request-error.js';

export type FlowModInput = Extract<OFMessage, { type: 'flowMod' | 'groupMod' | 'meterMod' }>;

/**
 * A message of a batch: a model object, or one already encoded, as bytes or as a latin1 string
 * (one char per byte); the xid is rewritten in the copy sent.
 */
export type BatchItem = FlowModInput | Buffer | string;

/** Errors the switch reported for messages inside a bundle, by xid range. */
export interface BundleWatch {
  /** xid of the first message; message i has xid lo + i. */
  lo: number;
  /** The batch so far, so that an error names the message it refused. */
  messages: BatchItem[];
  errors: OFErrorReply[];
}

/** What a BundleBuilder needs of its connection. */
export interface BundleControl {
  readonly isOpen: boolean;
  bundleControl(bundleId: number, flags: number, ctrlType: BundleCtrlType, watch: BundleWatch): Promise<void>;
}

/** A bundle being filled; see SwitchConnection.openBundle. */
export class BundleBuilder {
  private readonly w = new Writer(1 << 16);
  private done = false;

  constructor(
    private readonly conn: BundleControl,
    private readonly socket: Socket,
    readonly bundleId: number,
    readonly flags: number,
    private readonly watch: BundleWatch,
    private readonly onEnd: () => void,
  ) {}

  get size(): number {
    return this.watch.messages.length;
  }

  /** Encodes one message into the bundle (throws, leaving the bundle as it was, if it cannot be encoded). */
  add(message: BatchItem): void {
    if (this.done) throw new RequestError(`bundle ${this.bundleId} has ended`);
    const xid = this.watch.lo + this.watch.messages.length;
    const start = this.w.off;
    try {
      if (typeof message === 'string' || Buffer.isBuffer(message)) {
        encodeBundleAddFrame(this.w, xid, this.bundleId, this.flags, message);
      } else {
        message.xid = xid;
        encodeBundleAdd(this.w, xid, this.bundleId, this.flags, message);
      }
    } catch (err) {
      this.w.off = start;
      throw err;
    }
    this.watch.messages.push(message);
    if (this.w.off >= 1 << 18) this.socket.write(this.w.take());
  }

  /** Hands what is queued to the socket and lets the event loop run, so the switch gets it now. */
  async pace(): Promise<void> {
    if (this.w.off > 0) this.socket.write(this.w.take());
    if (this.socket.writableLength > 1 << 22) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Commits; resolves when the switch confirms, rejects with the first error it reported. */
  async commit(): Promise<void> {
    try {
      if (this.w.off > 0) this.socket.write(this.w.take());
      await this.conn.bundleControl(this.bundleId, this.flags, BundleCtrlType.COMMIT_REQUEST, this.watch);
    } finally {
      this.end();
    }
  }

  /** Throws the bundle away; nothing of it is applied. */
  async discard(): Promise<void> {
    try {
      this.w.reset();
      if (this.conn.isOpen) {
        await this.conn.bundleControl(this.bundleId, this.flags, BundleCtrlType.DISCARD_REQUEST, this.watch);
      }
    } finally {
      this.end();
    }
  }

  get ended(): boolean {
    return this.done;
  }

  private end(): void {
    if (this.done) return;
    this.done = true;
    this.onEnd();
  }
}
