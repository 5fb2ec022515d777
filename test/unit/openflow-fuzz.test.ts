// Owns fuzzing the OpenFlow stream parser with random and mutated frames from a fixed seed.
// It never opens a socket; a failure prints the case number and bytes so it can be replayed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OFCodecError } from '../../controller/openflow/buffer.js';
import { encode } from '../../controller/openflow/encode.js';
import { decodeMessage, OFParser } from '../../controller/openflow/parser.js';
import { prng } from '../harness/prng.js';
import { sampleMessages } from './openflow-samples.js';

const CASES = 100_000;
const valid = sampleMessages().map((s) => encode(s.msg));
const barrier = encode({ type: 'barrierRequest', xid: 0xb0 });

function fuzzer(seed: number) {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const randomBytes = (n: number): Buffer => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };

  /** One mutated frame; several strategies, some keeping the header's length consistent. */
  function mutate(src: Buffer): Buffer {
    const b = Buffer.from(src);
    switch (int(8)) {
      case 0: {
        // flip a few bytes in the body, length still right: exercises the body decoders
        const n = 1 + int(4);
        for (let i = 0; i < n && b.length > 8; i++) b[8 + int(b.length - 8)] ^= 1 + int(255);
        return b;
      }
      case 1: {
        // truncate and fix the length field: a well-framed but short body
        const len = 8 + int(b.length - 7);
        const t = b.subarray(0, len);
        t.writeUInt16BE(len, 2);
        return t;
      }
      case 2: {
        // truncate, leaving the length field as it was: the parser waits for more
        return b.subarray(0, int(b.length));
      }
      case 3: {
        // change the length field to anything
        b.writeUInt16BE(int(0x10000), 2);
        return b;
      }
      case 4: {
        // change the length field a little
        b.writeUInt16BE(Math.max(0, Math.min(0xffff, b.length + int(33) - 16)), 2);
        return b;
      }
      case 5: {
        // bytes flipped anywhere, header included
        const n = 1 + int(6);
        for (let i = 0; i < n; i++) b[int(b.length)] ^= 1 + int(255);
        return b;
      }
      case 6: {
        // a random message type with the body of another
        b[1] = int(40);
        return b;
      }
      default: {
        // random body behind a valid header
        const body = randomBytes(int(300));
        const f = Buffer.concat([b.subarray(0, 8), body]);
        f.writeUInt16BE(f.length, 2);
        if (int(2) === 0) f[1] = int(30);
        return f;
      }
    }
  }

  function nextCase(): Buffer {
    const parts: Buffer[] = [];
    const n = 1 + int(3);
    for (let i = 0; i < n; i++) {
      const r = int(10);
      if (r === 0) parts.push(randomBytes(int(64)));
      else if (r === 1) parts.push(pick(valid));
      else parts.push(mutate(pick(valid)));
    }
    return Buffer.concat(parts);
  }

  /** Splits the bytes into 1..4 chunks at random places. */
  function chunks(b: Buffer): Buffer[] {
    const cuts = Array.from({ length: int(4) }, () => int(b.length + 1)).sort((x, y) => x - y);
    const out: Buffer[] = [];
    let at = 0;
    for (const c of cuts) {
      out.push(b.subarray(at, c));
      at = c;
    }
    out.push(b.subarray(at));
    return out;
  }

  return { nextCase, chunks, int };
}

describe('OFParser fuzz', () => {
  it(`${CASES} random and mutated streams: push never throws and the parser keeps making progress`, () => {
    const f = fuzzer(0xc0ffee);
    let messages = 0;
    let errors = 0;
    let fatal = 0;
    let foreign = 0;
    const seen: string[] = [];
    const parser = new OFParser({
      onMessage: (m) => {
        messages++;
        seen.push(m.type);
      },
      onError: (err, frame, isFatal) => {
        assert.ok(err instanceof OFCodecError);
        assert.equal(typeof isFatal, 'boolean');
        if (frame !== undefined) assert.ok(Buffer.isBuffer(frame));
        // A read the decoders did not bounds-check themselves (caught and wrapped by the parser).
        if (err.cause !== undefined && !(err.cause instanceof OFCodecError)) foreign++;
        errors++;
        if (isFatal) fatal++;
      },
    });

    for (let c = 0; c < CASES; c++) {
      const bytes = f.nextCase();
      try {
        for (const chunk of f.chunks(bytes)) {
          parser.push(chunk);
          assert.ok(parser.buffered < 0x10000, 'holds less than one maximal frame');
        }
        // Progress: whatever is pending completes within 64 KiB, and zeros then give a header with
        // length 0 (fatal), which resets the parser; after that a valid frame must come straight out.
        if (parser.buffered > 0) parser.push(Buffer.alloc(0x10000 - parser.buffered + 8));
        assert.equal(parser.buffered, 0);
        const before = messages;
        seen.length = 0;
        parser.push(barrier);
        assert.equal(messages, before + 1, 'a valid frame after the case is decoded');
        assert.deepEqual(seen, ['barrierRequest']);
      } catch (err) {
        assert.fail(`case ${c} (${bytes.toString('hex').slice(0, 400)}): ${(err as Error).stack}`);
      }
    }
    // The run must have exercised every outcome, or the mutations are too tame to mean anything.
    assert.ok(messages > CASES, `messages ${messages}`);
    assert.ok(errors - fatal > CASES / 10, `non-fatal errors ${errors - fatal}`);
    assert.ok(fatal > CASES / 10, `fatal errors ${fatal}`);
    assert.equal(foreign, 0, 'decoders let an unchecked read through');
  });

  it('decodeMessage on well-framed mutated frames throws only OFCodecError', () => {
    const f = fuzzer(7);
    let decoded = 0;
    let rejected = 0;
    for (let c = 0; c < 20_000; c++) {
      const base = valid[c % valid.length]!;
      const b = Buffer.from(base);
      const n = 1 + f.int(4);
      for (let i = 0; i < n; i++) b[8 + f.int(b.length - 8 || 1)] ^= 1 + f.int(255);
      b.writeUInt16BE(b.length, 2);
      b[0] = 4;
      try {
        decodeMessage(b);
        decoded++;
      } catch (err) {
        assert.ok(err instanceof OFCodecError, `case ${c}: ${String(err)}`);
        assert.ok(
          err.cause === undefined || err.cause instanceof OFCodecError,
          `case ${c}: unchecked read in a decoder: ${String(err.cause)} (${b.toString('hex')})`,
        );
        rejected++;
      }
    }
    assert.ok(decoded > 1000 && rejected > 1000, `decoded ${decoded}, rejected ${rejected}`);
  });
});
