// Owns fuzzing the DNS answerer with random and mutated packets from a fixed seed: it must never
// throw, never answer a response or a runt, and never send more than the query allows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Answerer } from '../../dns/answer.js';
import { NameRegistry } from '../../dns/registry.js';
import { CLASSIC_UDP_SIZE, isRejection, parseQuery } from '../../dns/wire.js';
import { prng } from '../harness/prng.js';

const CASES = 100_000;

function registry(): NameRegistry {
  const r = new NameRegistry();
  r.replaceAll(
    Array.from({ length: 60 }, (_, i) => ({
      key: `/contiv.io/oper/endpoints/e${i}`,
      value: JSON.stringify({
        tenant: 'default',
        network: 'net',
        endpointGroup: i < 50 ? 'big' : 'web',
        containerName: `c${i}`,
        ipAddress: `10.0.0.${i + 1}`,
        ipv6Address: `2001:db8::${i + 1}`,
      }),
    })),
  );
  return r;
}

function q(name: string, type: number, opt?: Buffer): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const h = Buffer.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, opt ? 1 : 0]);
  return Buffer.concat([h, ...labels, Buffer.from([0, type >> 8, type & 255, 0, 1]), ...(opt ? [opt] : [])]);
}

const opt = (size: number) => Buffer.from([0, 0, 41, size >> 8, size & 255, 0, 0, 0, 0, 0, 0]);
const SEEDS = [
  q('big', 1),
  q('big', 28, opt(4096)),
  q('big.net', 255, opt(600)),
  q('web', 1),
  q('c7', 28),
  q('nope.net', 1),
  q('example.com', 1),
  q('1.0.0.10.in-addr.arpa', 12, opt(1232)),
];

describe('dns fuzz', () => {
  it(`${CASES} random and mutated packets: no throw, bounded answers`, () => {
    const rnd = prng(0xd45);
    const int = (n: number) => Math.floor(rnd() * n);
    const answerer = new Answerer(registry());
    const kinds = { answer: 0, forward: 0, drop: 0 };
    for (let i = 0; i < CASES; i++) {
      let b: Buffer;
      if (i % 4 === 0) {
        b = Buffer.alloc(int(80));
        for (let j = 0; j < b.length; j++) b[j] = int(256);
      } else {
        b = Buffer.from(SEEDS[int(SEEDS.length)]!);
        const n = 1 + int(4);
        for (let m = 0; m < n; m++) {
          switch (int(6)) {
            case 0:
              if (b.length > 0) b[int(b.length)] = int(256);
              break;
            case 1:
              b = b.subarray(0, int(b.length + 1));
              break;
            case 2: // counts
              if (b.length >= 12) b.writeUInt16BE(int(4) === 0 ? 0xffff : int(3), 4 + 2 * int(4));
              break;
            case 3: // a compression pointer somewhere
              if (b.length > 13) b.writeUInt16BE(0xc000 | int(b.length), 12 + int(b.length - 13));
              break;
            case 4:
              b = Buffer.concat([b, Buffer.from(Array.from({ length: int(20) }, () => int(256)))]);
              break;
            default: // flags
              if (b.length >= 4) b[2 + int(2)] = int(256);
          }
        }
      }
      const transport = i % 8 === 7 ? 'tcp' : i % 8 === 6 ? 'punt' : 'udp';
      let r: ReturnType<Answerer['resolve']>;
      try {
        r = answerer.resolve(b, 'default', transport);
      } catch (err) {
        assert.fail(`case ${i} threw ${String(err)} on ${b.toString('hex')}`);
      }
      kinds[r.kind]++;
      if (b.length < 12 || b[2]! & 0x80) assert.equal(r.kind, 'drop', `case ${i}: runt or response answered`);
      if (r.kind !== 'answer') continue;
      const p = parseQuery(b);
      assert.equal(r.buf.readUInt16BE(0), b.readUInt16BE(0), `case ${i}: id`);
      assert.ok(r.buf[2]! & 0x80, `case ${i}: QR`);
      if (isRejection(p)) assert.ok(r.buf.length <= b.length, `case ${i}: error longer than the query`);
      else if (transport !== 'tcp') {
        const limit = p.edns ? p.udpLimit : CLASSIC_UDP_SIZE;
        assert.ok(r.buf.length <= limit, `case ${i}: ${r.buf.length} bytes > ${limit} allowed`);
      }
    }
    // The mutations must reach every outcome, or the fuzzer tests little.
    assert.ok(kinds.answer > 1000 && kinds.forward > 100 && kinds.drop > 1000, JSON.stringify(kinds));
  });
});
