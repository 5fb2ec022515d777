// The OVSDB JSON framer: values split at every byte boundary, several per chunk, strings holding
// escapes, brackets and multi-byte UTF-8, and the oversize and malformed errors that end a stream.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FramerError, JsonFramer } from '../../datapath/ovsdb/framer.js';

const MESSAGES: unknown[] = [
  { id: 1, method: 'transact', params: ['Open_vSwitch', { op: 'select', table: 'Bridge', where: [] }] },
  { id: null, method: 'update', params: ['m1', { Bridge: { x: { new: { name: 'br-"}]{[' } } } }] },
  {
    result: ['a\\', '\\"', 'quote " in } text ]', '\u00e9\u4e2d\u{1f600}', 'tab\tnew\nline'],
    error: null,
    id: 2,
  },
  [1, 2.5, -3e2, true, false, null, [], {}],
  'a top-level string with \\" and }',
];

function framed(values: unknown[], sep = ''): Buffer {
  return Buffer.from(values.map((v) => JSON.stringify(v)).join(sep), 'utf8');
}

/** Feeds the chunks and returns every value, failing on any framing error. */
function feed(framer: JsonFramer, chunks: Buffer[]): unknown[] {
  const out: unknown[] = [];
  for (const c of chunks) {
    const { values, error } = framer.push(c);
    assert.equal(error, undefined, error?.message);
    out.push(...values);
  }
  return out;
}

describe('JsonFramer', () => {
  test('one chunk holding several values, with and without whitespace between them', () => {
    for (const sep of ['', '\n', ' \r\n\t ']) {
      assert.deepEqual(feed(new JsonFramer(), [framed(MESSAGES, sep)]), MESSAGES);
    }
  });

  test('split at every byte boundary into two chunks', () => {
    const bytes = framed(MESSAGES, '\n');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const got = feed(new JsonFramer(), [bytes.subarray(0, cut), bytes.subarray(cut)]);
      assert.deepEqual(got, MESSAGES, `cut at byte ${cut}`);
    }
  });

  test('one byte per chunk (escapes, quotes and UTF-8 sequences split everywhere)', () => {
    const bytes = framed(MESSAGES);
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    assert.deepEqual(feed(new JsonFramer(), chunks), MESSAGES);
  });

  test('every value completes in the chunk of its last byte, and nothing earlier', () => {
    const framer = new JsonFramer();
    const text = JSON.stringify({ s: 'x\\"}' });
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length - 1; i++) {
      assert.deepEqual(framer.push(bytes.subarray(i, i + 1)).values, [], `byte ${i}`);
    }
    assert.deepEqual(framer.push(bytes.subarray(bytes.length - 1)).values, [{ s: 'x\\"}' }]);
    assert.equal(framer.pendingBytes, 0);
  });

  test('a bare top-level number ends at its delimiter', () => {
    const framer = new JsonFramer();
    assert.deepEqual(framer.push(Buffer.from('12')).values, []);
    assert.deepEqual(framer.push(Buffer.from('3 true{"a":1}')).values, [123, true, { a: 1 }]);
  });

  test('a value larger than the limit is refused before it is complete', () => {
    const framer = new JsonFramer(1000);
    const { error } = framer.push(Buffer.from(`{"a":"${'x'.repeat(2000)}`));
    assert.ok(error instanceof FramerError);
    assert.equal(error.kind, 'too-large');
    assert.match(error.message, /exceeds 1000 bytes/);
    assert.equal(framer.pendingBytes, 0, 'nothing of the oversize value is kept');
    // The stream has lost its framing: later input gets the same error, never a value.
    assert.equal(framer.push(Buffer.from('{"b":1}')).error, error);
  });

  test('a value over the limit that is complete within one chunk is refused too', () => {
    const framer = new JsonFramer(100);
    const { values, error } = framer.push(framed([{ ok: 1 }, { big: 'y'.repeat(200) }]));
    assert.deepEqual(values, [{ ok: 1 }], 'the values before it are still delivered');
    assert.equal(error?.kind, 'too-large');
  });

  test('many chunks of a value below the limit add up and are then refused', () => {
    const framer = new JsonFramer(4096);
    let error: FramerError | undefined;
    framer.push(Buffer.from('["'));
    for (let i = 0; i < 10 && error === undefined; i++) error = framer.push(Buffer.alloc(1000, 0x61)).error;
    assert.equal(error?.kind, 'too-large');
  });

  for (const [name, input] of [
    ['a closing bracket between values', '{"a":1}]'],
    ['mismatched brackets', '{"a":[1}'],
    ['an unquoted key', '{a:1}'],
    ['a bad literal', 'nul '],
    ['a trailing comma', '[1,2,]'],
    ['a comma between values', '{},{}'],
  ] as const) {
    test(`malformed input is a typed error: ${name}`, () => {
      const { error } = new JsonFramer().push(Buffer.from(input));
      assert.ok(error instanceof FramerError, `no error for ${input}`);
      assert.equal(error.kind, 'malformed');
      assert.match(error.message, /^malformed JSON: /);
    });
  }

  test('invalid UTF-8 in a string decodes as U+FFFD rather than failing', () => {
    const bytes = Buffer.concat([Buffer.from('["'), Buffer.from([0xff, 0xfe]), Buffer.from('"]')]);
    assert.deepEqual(feed(new JsonFramer(), [bytes]), [['\ufffd\ufffd']]);
  });

  test('a 4 MiB value split in 64 KiB chunks is scanned once (linear time)', () => {
    const big = {
      rows: Array.from({ length: 40_000 }, (_, i) => ({ name: `port-${i}`, tag: i, x: 'é"\\' })),
    };
    const bytes = framed([big]);
    const framer = new JsonFramer();
    const t0 = performance.now();
    const out: unknown[] = [];
    for (let i = 0; i < bytes.length; i += 65536)
      out.push(...framer.push(bytes.subarray(i, i + 65536)).values);
    const ms = performance.now() - t0;
    assert.deepEqual(out, [big]);
    // Re-scanning from the start on every chunk would be ~40× slower than one pass.
    assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms for ${bytes.length} bytes`);
  });
});
