// Owns splitting the OVSDB JSON-RPC byte stream into whole top-level JSON values, scanning each byte
// once. It must never throw out of the socket's data path: errors are values the caller acts on.

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export type FramerErrorKind = 'too-large' | 'malformed';

/** The stream cannot be framed any more; the connection must be closed (framing is lost). */
export class FramerError extends Error {
  constructor(
    readonly kind: FramerErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'FramerError';
  }
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** Bytes that end a bare top-level token (number, true, false, null). */
function endsBareToken(b: number): boolean {
  return (
    isSpace(b) ||
    b === OPEN_BRACE ||
    b === CLOSE_BRACE ||
    b === OPEN_BRACKET ||
    b === CLOSE_BRACKET ||
    b === QUOTE ||
    b === 0x2c
  );
}

const enum Mode {
  /** Between values, skipping whitespace. */
  Idle,
  /** Inside an object or array (nesting in `stack`), outside any string. */
  Container,
  /** Inside a string; `inContainer` says where it lives. */
  String,
  /** A top-level number or literal, which only a delimiter ends. */
  Bare,
}

/**
 * Feed it chunks; it returns the values completed by each chunk, in order. Only the bytes of the value
 * in progress are kept, and the scan resumes where the previous chunk left off (a value split over many
 * chunks is scanned once). Multi-byte UTF-8 needs no care while scanning: every byte of a multi-byte
 * sequence is ≥ 0x80 and so never mistaken for a quote, backslash or bracket; the bytes are decoded
 * only once the value is whole.
 */
export class JsonFramer {
  private mode = Mode.Idle;
  /** Open brackets of the current value (the closing byte each expects). */
  private readonly stack: number[] = [];
  private escaped = false;
  private stringInContainer = false;
  /** Chunks (or tails of them) holding the value in progress. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  private failed: FramerError | undefined;

  constructor(readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  /** Bytes of the unfinished value kept so far. */
  get pendingBytes(): number {
    return this.partBytes;
  }

  /**
   * The values this chunk completes. On a framing error it returns them together with the error;
   * every later push returns the same error (the stream is not resynchronised).
   */
  push(chunk: Buffer): { values: unknown[]; error?: FramerError } {
    const values: unknown[] = [];
    if (this.failed) return { values, error: this.failed };
    let start = this.mode === Mode.Idle ? -1 : 0;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      switch (this.mode) {
        case Mode.Idle:
          if (isSpace(b)) continue;
          start = i;
          if (b === OPEN_BRACE || b === OPEN_BRACKET) {
            this.stack.push(b === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET);
            this.mode = Mode.Container;
          } else if (b === QUOTE) {
            this.mode = Mode.String;
            this.stringInContainer = false;
          } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET || b === 0x2c) {
            return this.fail(values, 'malformed', `unexpected "${String.fromCharCode(b)}" between values`);
          } else {
            this.mode = Mode.Bare;
          }
          break;
        case Mode.Container:
          if (b === QUOTE) {
            this.mode = Mode.String;
            this.stringInContainer = true;
          } else if (b === OPEN_BRACE) {
            this.stack.push(CLOSE_BRACE);
          } else if (b === OPEN_BRACKET) {
            this.stack.push(CLOSE_BRACKET);
          } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
            if (this.stack.pop() !== b) {
              return this.fail(values, 'malformed', `mismatched "${String.fromCharCode(b)}"`);
            }
            if (this.stack.length === 0) {
              const err = this.complete(chunk, start, i + 1, values);
              if (err) return err;
              start = -1;
            }
          }
          break;
        case Mode.String:
          if (this.escaped) {
            this.escaped = false;
          } else if (b === BACKSLASH) {
            this.escaped = true;
          } else if (b === QUOTE) {
            if (this.stringInContainer) {
              this.mode = Mode.Container;
            } else {
              const err = this.complete(chunk, start, i + 1, values);
              if (err) return err;
              start = -1;
            }
          }
          break;
        case Mode.Bare:
          if (endsBareToken(b)) {
            const err = this.complete(chunk, start, i, values);
            if (err) return err;
            start = -1;
            i--; // the delimiter begins the next value (or is whitespace)
          }
          break;
      }
    }
    if (start >= 0) {
      const tail = start === 0 ? chunk : chunk.subarray(start);
      this.parts.push(tail);
      this.partBytes += tail.length;
      if (this.partBytes > this.maxMessageBytes) {
        return this.fail(
          values,
          'too-large',
          `message exceeds ${this.maxMessageBytes} bytes (${this.partBytes} so far, unfinished)`,
        );
      }
    }
    return { values };
  }

  /** Parses the value ending at `end` of this chunk; returns a result only on failure. */
  private complete(
    chunk: Buffer,
    start: number,
    end: number,
    values: unknown[],
  ): { values: unknown[]; error: FramerError } | undefined {
    const size = this.partBytes + (end - start);
    this.mode = Mode.Idle;
    if (size > this.maxMessageBytes) {
      return this.fail(values, 'too-large', `message of ${size} bytes exceeds ${this.maxMessageBytes}`);
    }
    const last = chunk.subarray(start, end);
    const bytes = this.parts.length === 0 ? last : Buffer.concat([...this.parts, last], size);
    this.parts = [];
    this.partBytes = 0;
    const text = bytes.toString('utf8');
    try {
      values.push(JSON.parse(text));
    } catch (err) {
      const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
      return this.fail(values, 'malformed', `${(err as Error).message} in ${JSON.stringify(shown)}`);
    }
    return undefined;
  }

  private fail(
    values: unknown[],
    kind: FramerErrorKind,
    message: string,
  ): { values: unknown[]; error: FramerError } {
    this.failed = new FramerError(
      kind,
      `${kind === 'malformed' ? 'malformed JSON' : 'oversize'}: ${message}`,
    );
    this.parts = [];
    this.partBytes = 0;
    return { values, error: this.failed };
  }
}
