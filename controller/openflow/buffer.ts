// Owns the byte-level reading and writing shared by every OpenFlow encoder and decoder.
// It never knows about message semantics and never allocates per field written.

/** Thrown by decoders on a malformed frame; names the structure and the offending field. */
export class OFCodecError extends Error {
  override readonly name = 'OFCodecError';
  constructor(
    /** The structure being decoded, e.g. "FLOW_MOD" or "OXM". */
    readonly structure: string,
    /** The field or length that is wrong. */
    readonly field: string,
    detail: string,
  ) {
    super(`${structure}: ${field}: ${detail}`);
  }
}

/** A growable big-endian writer. Encoders append to it; `take()` hands out the bytes written. */
export class Writer {
  buf: Buffer;
  off = 0;
  /** A view of `buf` for 64-bit stores (Buffer's own methods validate their arguments, slowly). */
  private view: DataView;

  constructor(size = 4096) {
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  ensure(n: number): void {
    const need = this.off + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.off++] = v;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    const b = this.buf;
    const o = this.off;
    b[o] = v >>> 8;
    b[o + 1] = v;
    this.off = o + 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    const b = this.buf;
    const o = this.off;
    b[o] = v >>> 24;
    b[o + 1] = v >>> 16;
    b[o + 2] = v >>> 8;
    b[o + 3] = v;
    this.off = o + 4;
    return this;
  }

  /** Writes a 64-bit value given as a bigint. */
  u64(v: bigint): this {
    this.ensure(8);
    this.view.setBigUint64(this.off, v, false);
    this.off += 8;
    return this;
  }

  bytes(src: Uint8Array): this {
    this.ensure(src.length);
    this.buf.set(src, this.off);
    this.off += src.length;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    const b = this.buf;
    let o = this.off;
    // Mostly a few bytes of padding: a loop beats Buffer.fill's argument checks.
    if (n <= 32) for (let i = 0; i < n; i++) b[o++] = 0;
    else {
      b.fill(0, o, o + n);
      o += n;
    }
    this.off = o;
    return this;
  }

  /** Pads with zeros from `start` up to the next multiple of 8. */
  pad8(start: number): this {
    const rem = (this.off - start) & 7;
    if (rem !== 0) this.zeros(8 - rem);
    return this;
  }

  setU16(at: number, v: number): void {
    this.buf[at] = v >>> 8;
    this.buf[at + 1] = v;
  }

  setU32(at: number, v: number): void {
    const b = this.buf;
    b[at] = v >>> 24;
    b[at + 1] = v >>> 16;
    b[at + 2] = v >>> 8;
    b[at + 3] = v;
  }

  /** Copies out everything written and resets the writer for reuse. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.off);
    this.buf.copy(out, 0, 0, this.off);
    this.off = 0;
    return out;
  }

  reset(): void {
    this.off = 0;
  }
}

/** A bounds-checked big-endian reader over a slice of a buffer. */
export class Reader {
  constructor(
    readonly buf: Buffer,
    public off = 0,
    public end = buf.length,
    /** What is being read, used in error messages. */
    public structure = 'message',
  ) {}

  get remaining(): number {
    return this.end - this.off;
  }

  need(n: number, field: string): void {
    if (this.off + n > this.end) {
      throw new OFCodecError(
        this.structure,
        field,
        `needs ${n} bytes at offset ${this.off}, ${this.end - this.off} left`,
      );
    }
  }

  u8(field = 'u8'): number {
    this.need(1, field);
    return this.buf[this.off++] as number;
  }

  u16(field = 'u16'): number {
    this.need(2, field);
    const b = this.buf;
    const o = this.off;
    this.off = o + 2;
    return ((b[o] as number) << 8) | (b[o + 1] as number);
  }

  u32(field = 'u32'): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }

  u64(field = 'u64'): bigint {
    this.need(8, field);
    const v = this.buf.readBigUInt64BE(this.off);
    this.off += 8;
    return v;
  }

  /** A view (not a copy) of the next n bytes. */
  bytes(n: number, field = 'bytes'): Buffer {
    this.need(n, field);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }

  skip(n: number, field = 'padding'): void {
    this.need(n, field);
    this.off += n;
  }

  /** A reader over the next n bytes; this reader moves past them. */
  sub(n: number, structure: string, field = structure): Reader {
    this.need(n, field);
    const r = new Reader(this.buf, this.off, this.off + n, structure);
    this.off += n;
    return r;
  }
}
