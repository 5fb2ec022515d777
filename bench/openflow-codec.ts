// Owns the codec micro-benchmarks (benny, one core): FLOW_MOD encode and PACKET_IN decode against
// a fixed target of 1M ops/s. It never opens a socket and never prints to stdout itself.

import b from 'benny';
import type { Writer as WriterT } from '../controller/openflow/buffer.js';
import { Writer } from '../controller/openflow/buffer.js';
import { encode, encodeMessage } from '../controller/openflow/encode.js';
import {
  FlowModCommand,
  type OFMessage,
  OFP_NO_BUFFER,
  OFPG_ANY,
  OFPP,
} from '../controller/openflow/messages.js';
import { decodeMessage } from '../controller/openflow/parser.js';
import type { Benchmark, BenchResult } from './run.js';

const TARGET_OPS = 1_000_000;

/** The FLOW_MOD a policy compiler emits most: a 5-tuple allow with a rewrite and a next table. */
export const FLOW_MOD: OFMessage = {
  type: 'flowMod',
  xid: 7,
  cookie: 0x0700_0000_0000_002an,
  cookieMask: 0n,
  tableId: 30,
  command: FlowModCommand.ADD,
  idleTimeout: 0,
  hardTimeout: 0,
  priority: 1200,
  bufferId: OFP_NO_BUFFER,
  outPort: OFPP.ANY,
  outGroup: OFPG_ANY,
  flags: 0,
  match: {
    ethType: 0x0800,
    ipProto: 6,
    ipv4Src: '10.1.0.5',
    ipv4Dst: { value: '10.2.3.0', mask: '255.255.255.0' },
    tcpSrc: 40000,
    tcpDst: 443,
  },
  instructions: [
    {
      type: 'applyActions',
      actions: [
        { type: 'setField', field: 'ethDst', value: '02:00:00:00:00:05' },
        { type: 'output', port: 5 },
      ],
    },
    { type: 'gotoTable', tableId: 40 },
  ],
};

/** A 64-byte Ethernet/IPv4/TCP SYN, as a table-miss or controller action would punt it. */
export function tcpSyn64(): Buffer {
  const p = Buffer.alloc(64);
  Buffer.from('020000000005020000000001', 'hex').copy(p, 0); // dst, src MAC
  p.writeUInt16BE(0x0800, 12);
  // IPv4: 20-byte header, total length 50 (64 − 14), DF, TTL 64, TCP.
  Buffer.from([0x45, 0, 0, 50, 0, 0, 0x40, 0, 64, 6, 0, 0]).copy(p, 14);
  Buffer.from([10, 1, 0, 5, 10, 2, 3, 7]).copy(p, 26);
  p.writeUInt16BE(40000, 34);
  p.writeUInt16BE(443, 36);
  p[46] = 0x50; // data offset 5
  p[47] = 0x02; // SYN
  p.writeUInt16BE(64240, 48);
  return p;
}

export function packetInFrame(): Buffer {
  return encode({
    type: 'packetIn',
    xid: 0,
    bufferId: OFP_NO_BUFFER,
    totalLen: 64,
    reason: 0,
    tableId: 30,
    cookie: 0x0700_0000_0000_002an,
    match: { inPort: 3 },
    data: tcpSyn64(),
  });
}

interface Case {
  name: string;
  fn: () => void;
}

/** Runs one benny case with benny's stdout chatter sent to stderr; returns ops/s. */
async function measure(c: Case): Promise<number> {
  const log = console.log;
  // benny announces suites with console.log; stdout carries only our JSON lines.
  console.log = (...args: unknown[]) => process.stderr.write(`${args.map(String).join(' ')}\n`);
  try {
    const summary = await b.suite(
      c.name,
      b.add(c.name, c.fn),
      b.configure({ cases: { minSamples: 10, maxTime: 3, minTime: 0.05 } }),
    );
    const result = summary.results[0];
    if (!result || !result.completed || result.ops <= 0)
      throw new Error(`${c.name}: benny reported no result`);
    process.stderr.write(`  ${c.name}: ${result.ops} ops/s ±${result.margin}% (${result.samples} samples)\n`);
    return result.ops;
  } finally {
    console.log = log;
  }
}

async function codecBench(): Promise<BenchResult[]> {
  const w: WriterT = new Writer(4096);
  const frame = packetInFrame();
  // Sanity: the cases do what they claim before they are timed.
  encodeMessage(w, FLOW_MOD);
  if (w.off !== (w.buf[2]! << 8) + w.buf[3]! || w.buf[1] !== 14)
    throw new Error('FLOW_MOD encode: bad frame');
  const decoded = decodeMessage(frame);
  if (decoded.type !== 'packetIn' || decoded.match.inPort !== 3 || decoded.data.length !== 64) {
    throw new Error('PACKET_IN decode: bad result');
  }

  let sink = 0;
  const cases: Case[] = [
    {
      name: 'openflow-codec/flowmod-encode',
      fn: () => {
        w.reset();
        encodeMessage(w, FLOW_MOD);
        sink += w.off;
      },
    },
    {
      name: 'openflow-codec/packetin-decode',
      fn: () => {
        const m = decodeMessage(frame);
        sink += m.xid;
      },
    },
  ];
  const out: BenchResult[] = [];
  for (const c of cases) {
    const ops = await measure(c);
    out.push({
      name: c.name,
      value: ops,
      unit: 'ops/s',
      peer: 'target',
      peerValue: TARGET_OPS,
      ratio: ops / TARGET_OPS,
    });
  }
  // Keeps the results observable so the work cannot be optimised away.
  if (sink === -1) process.stderr.write('\n');
  return out;
}

export const benchmark: Benchmark = {
  describe: 'FLOW_MOD encode and PACKET_IN decode, ops/s on one core (benny; target ≥ 1M ops/s each)',
  run: codecBench,
};
