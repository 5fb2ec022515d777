// Owns the unit tests of the message codec: round trips, byte layouts, stream framing, malformed frames.
// It never opens a socket or starts OVS.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OFCodecError, Writer } from '../../controller/openflow/buffer.js';
import { encode, encodeBundleAdd, encodeMessage } from '../../controller/openflow/encode.js';
import { errorNames, OFErrorReply } from '../../controller/openflow/errors.js';
import type { OFMessage } from '../../controller/openflow/messages.js';
import { decodeMessage, OFParser } from '../../controller/openflow/parser.js';
import { flowMod, packetBytes, portDesc, sampleMessages } from './openflow-samples.js';

interface Reported {
  err: OFCodecError;
  frame: Buffer | undefined;
  fatal: boolean;
}

function collect(): { parser: OFParser; messages: OFMessage[]; errors: Reported[] } {
  const messages: OFMessage[] = [];
  const errors: Reported[] = [];
  const parser = new OFParser({
    onMessage: (m) => messages.push(m),
    onError: (err, frame, fatal) => errors.push({ err, frame, fatal }),
  });
  return { parser, messages, errors };
}

const samples = sampleMessages();

/** True when `view` lies inside `buf`'s bytes (small Buffers share a pool, so `.buffer` alone says nothing). */
function isViewInto(view: Buffer, buf: Buffer): boolean {
  return (
    view.buffer === buf.buffer &&
    view.byteOffset >= buf.byteOffset &&
    view.byteOffset + view.length <= buf.byteOffset + buf.length
  );
}

describe('encode → decode round trip', () => {
  for (const { name, msg } of samples) {
    it(name, () => {
      const bytes = encode(msg);
      assert.equal(bytes[0], 4, 'version');
      assert.equal(bytes.readUInt16BE(2), bytes.length, 'length field');
      assert.equal(bytes.readUInt32BE(4), msg.xid, 'xid');
      assert.deepEqual(decodeMessage(bytes), msg);
    });
  }

  it('covers every message type of the model', () => {
    const kinds = new Set(samples.map((s) => s.msg.type));
    // A Record over the union: the compiler refuses this list if the model gains a message type.
    const every: Record<OFMessage['type'], true> = {
      hello: true,
      error: true,
      echoRequest: true,
      echoReply: true,
      featuresRequest: true,
      featuresReply: true,
      getConfigRequest: true,
      getConfigReply: true,
      setConfig: true,
      packetIn: true,
      packetOut: true,
      flowMod: true,
      flowRemoved: true,
      portStatus: true,
      groupMod: true,
      meterMod: true,
      multipartRequest: true,
      multipartReply: true,
      barrierRequest: true,
      barrierReply: true,
      roleRequest: true,
      roleReply: true,
      bundleControl: true,
      bundleAdd: true,
      experimenter: true,
      getAsyncRequest: true,
      getAsyncReply: true,
      setAsync: true,
    };
    const all = Object.keys(every);
    assert.deepEqual([...kinds].sort(), [...all].sort());
  });
});

describe('byte layouts', () => {
  it('BARRIER_REQUEST is a bare header', () => {
    assert.equal(encode({ type: 'barrierRequest', xid: 5 }).toString('hex'), '0414000800000005');
  });

  it('HELLO carries a version bitmap element', () => {
    assert.equal(
      encode({ type: 'hello', xid: 1, versions: [1, 4] }).toString('hex'),
      '04000010000000010001000800000012',
    );
    assert.equal(encode({ type: 'hello', xid: 1, versions: [] }).toString('hex'), '0400000800000001');
  });

  it('HELLO from a peer of another version keeps that version', () => {
    const m = decodeMessage(Buffer.from('0600001000000001000100080000005a', 'hex'));
    assert.deepEqual(m, { type: 'hello', xid: 1, versions: [1, 3, 4, 6], version: 6 });
  });

  it('ONF BUNDLE_CONTROL: experimenter header then bundle_id, type, flags', () => {
    const b = encode({ type: 'bundleControl', xid: 11, bundleId: 1, ctrlType: 4, flags: 1 });
    assert.equal(b.toString('hex'), `04040018${'0000000b'}4f4e4600${'000008fc'}00000001${'0004'}0001`);
  });

  it('ONF BUNDLE_ADD_MESSAGE: the inner message follows with the outer xid', () => {
    const w = new Writer(64);
    encodeBundleAdd(w, 0x77, 9, 3, { type: 'barrierRequest', xid: 1 });
    assert.equal(
      w.take().toString('hex'),
      `04040020${'00000077'}4f4e4600${'000008fd'}00000009${'0000'}0003${'0414000800000077'}`,
    );
  });

  it('FLOW_MOD fixed part', () => {
    const b = encode(flowMod);
    assert.equal(b[1], 14);
    assert.equal(b.subarray(8, 24).toString('hex'), '01020304050607080000000000000000');
    assert.equal(
      b.subarray(24, 48).toString('hex'),
      '02 00 000a 0014 0064 ffffffff ffffffff ffffffff 0001 0000'.replaceAll(' ', ''),
    );
    assert.equal(b.readUInt16BE(48), 1, 'match type OXM');
  });

  it('PORT_STATUS port name is NUL-padded to 16 bytes and MAC is 6 bytes', () => {
    const b = encode({ type: 'portStatus', xid: 0, reason: 2, desc: portDesc });
    assert.equal(b.length, 80);
    assert.equal(b.subarray(24, 30).toString('hex'), 'aabbccddee01');
    assert.equal(
      b.subarray(32, 48).toString('hex'),
      `${Buffer.from('veth1').toString('hex')}${'00'.repeat(11)}`,
    );
  });

  it('a value that cannot be encoded throws and leaves the writer as it was', () => {
    const w = new Writer(16);
    encodeMessage(w, { type: 'barrierRequest', xid: 1 });
    assert.throws(
      () =>
        encodeMessage(w, { type: 'portStatus', xid: 0, reason: 0, desc: { ...portDesc, hwAddr: 'nope' } }),
      (e: unknown) => e instanceof OFCodecError && e.field === 'hwAddr',
    );
    assert.equal(w.off, 8);
  });

  it('many FLOW_MODs wrapped in bundle adds go into one writer back to back', () => {
    const w = new Writer(256);
    for (let i = 0; i < 100; i++) encodeBundleAdd(w, 1000 + i, 1, 1, { ...flowMod, priority: i });
    const { parser, messages, errors } = collect();
    parser.push(w.take());
    assert.equal(errors.length, 0);
    assert.equal(messages.length, 100);
    for (const [i, m] of messages.entries()) {
      assert.equal(m.type, 'bundleAdd');
      if (m.type !== 'bundleAdd' || m.message.type !== 'flowMod') return assert.fail('not a flow mod inside');
      assert.equal(m.xid, 1000 + i);
      assert.equal(m.message.xid, 1000 + i);
      assert.equal(m.message.priority, i);
    }
  });
});

describe('errors', () => {
  it('names standard and experimenter errors', () => {
    assert.deepEqual(errorNames(4, 9), { typeName: 'OFPET_BAD_MATCH', codeName: 'OFPBMC_BAD_PREREQ' });
    assert.deepEqual(errorNames(5, 1), { typeName: 'OFPET_FLOW_MOD_FAILED', codeName: 'OFPFMFC_TABLE_FULL' });
    assert.deepEqual(errorNames(12, 11), {
      typeName: 'OFPET_METER_MOD_FAILED',
      codeName: 'OFPMMFC_OUT_OF_BANDS',
    });
    assert.deepEqual(errorNames(13, 5), {
      typeName: 'OFPET_TABLE_FEATURES_FAILED',
      codeName: 'OFPTFFC_EPERM',
    });
    assert.deepEqual(errorNames(0xffff, 2313, 0x4f4e4600), {
      typeName: 'OFPET_EXPERIMENTER',
      codeName: 'ONFERR_ET_FAILED',
    });
    assert.deepEqual(errorNames(0xffff, 2315, 0x4f4e4600).codeName, 'ONFERR_ET_BUNDLE_IN_PROGRESS');
    assert.deepEqual(errorNames(0xffff, 42, 0x2320).codeName, 'NXBAC_CT_DATAPATH_SUPPORT');
    assert.match(errorNames(99, 1).typeName, /UNKNOWN/);
    assert.match(errorNames(2, 99).codeName, /UNKNOWN\(99\)/);
    assert.match(errorNames(0xffff, 2302, 0x1234).codeName, /experimenter 0x00001234 exp_type 2302/);
  });

  it('the decoder resolves names and OFErrorReply reads well', () => {
    const bytes = Buffer.from('040100100000001f00020004deadbeef', 'hex');
    const m = decodeMessage(bytes);
    assert.equal(m.type, 'error');
    if (m.type !== 'error') return;
    assert.equal(m.typeName, 'OFPET_BAD_ACTION');
    assert.equal(m.codeName, 'OFPBAC_BAD_OUT_PORT');
    assert.equal(m.data.toString('hex'), 'deadbeef');
    const e = new OFErrorReply(m);
    assert.ok(e instanceof Error);
    assert.equal(e.message, 'OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT (xid 0x1f)');
    assert.equal(e.reply, m);
  });
});

describe('OFParser framing', () => {
  const stream = Buffer.concat(samples.map((s) => encode(s.msg)));
  const expected = samples.map((s) => s.msg);

  it('all in one chunk', () => {
    const { parser, messages, errors } = collect();
    parser.push(stream);
    assert.deepEqual(errors, []);
    assert.deepEqual(messages, expected);
    assert.equal(parser.buffered, 0);
  });

  it('split in two at every byte boundary', () => {
    for (let i = 0; i <= stream.length; i++) {
      const { parser, messages, errors } = collect();
      parser.push(stream.subarray(0, i));
      parser.push(stream.subarray(i));
      assert.equal(errors.length, 0, `split at ${i}`);
      assert.equal(messages.length, expected.length, `split at ${i}`);
      assert.equal(parser.buffered, 0);
    }
    // Deep comparison is costly: check it for every split inside the first few messages.
    const firstFew = encode(samples[0]!.msg).length + encode(samples[1]!.msg).length + 200;
    for (let i = 0; i <= firstFew; i++) {
      const { parser, messages } = collect();
      parser.push(stream.subarray(0, i));
      parser.push(stream.subarray(i));
      assert.deepEqual(messages, expected, `split at ${i}`);
    }
  });

  it('one byte at a time', () => {
    const { parser, messages, errors } = collect();
    for (let i = 0; i < stream.length; i++) parser.push(stream.subarray(i, i + 1));
    assert.deepEqual(errors, []);
    assert.deepEqual(messages, expected);
  });

  it('three pieces at many boundary pairs', () => {
    const step = 7;
    for (let i = 0; i < stream.length; i += step) {
      for (let j = i; j < Math.min(stream.length, i + 200); j += 13) {
        const { parser, messages } = collect();
        parser.push(stream.subarray(0, i));
        parser.push(stream.subarray(i, j));
        parser.push(stream.subarray(j));
        assert.equal(messages.length, expected.length, `split at ${i}, ${j}`);
      }
    }
  });

  it('whole messages are decoded in place: PACKET_IN data views into the chunk', () => {
    const chunk = Buffer.concat([encode(samples.find((s) => s.msg.type === 'packetIn')!.msg)]);
    const { parser, messages } = collect();
    parser.push(chunk);
    const m = messages[0];
    assert.equal(m?.type, 'packetIn');
    if (m?.type !== 'packetIn') return;
    assert.ok(isViewInto(m.data, chunk), 'data is a view into the chunk');
    assert.deepEqual(m.data, packetBytes);
  });

  it('a message split across chunks is copied once into a buffer of its own', () => {
    const chunk = encode(samples.find((s) => s.msg.type === 'packetIn')!.msg);
    const { parser, messages } = collect();
    parser.push(chunk.subarray(0, 3));
    assert.equal(parser.buffered, 3);
    parser.push(chunk.subarray(3, 30));
    assert.equal(parser.buffered, 30);
    parser.push(chunk.subarray(30));
    const m = messages[0];
    if (m?.type !== 'packetIn') return assert.fail('no packet in');
    assert.ok(!isViewInto(m.data, chunk), 'data was assembled in a buffer of its own');
    assert.deepEqual(m.data, packetBytes);
  });
});

describe('OFParser malformed input', () => {
  const barrier = encode({ type: 'barrierRequest', xid: 0x42 });

  it('short header: waits for more, decodeMessage names the header', () => {
    const { parser, messages, errors } = collect();
    parser.push(barrier.subarray(0, 5));
    assert.equal(messages.length + errors.length, 0);
    assert.equal(parser.buffered, 5);
    parser.push(barrier.subarray(5));
    assert.equal(messages.length, 1);
    assert.throws(
      () => decodeMessage(barrier.subarray(0, 5)),
      (e: unknown) => e instanceof OFCodecError && e.field === 'header' && /needs 8 bytes/.test(e.message),
    );
  });

  it('length field < 8 is fatal and the parser drops its buffer', () => {
    const { parser, messages, errors } = collect();
    const bad = Buffer.from('0414000400000001', 'hex');
    parser.push(Buffer.concat([barrier, bad, barrier]));
    assert.equal(messages.length, 1);
    assert.equal(errors.length, 1);
    const e = errors[0]!;
    assert.equal(e.fatal, true);
    assert.equal(e.err.structure, 'BARRIER_REQUEST');
    assert.equal(e.err.field, 'length');
    assert.match(e.err.message, /length field 4 < 8/);
    assert.equal(parser.buffered, 0);
    // The connection would close; a fresh stream after it is framed from its start.
    parser.push(barrier);
    assert.equal(messages.length, 2);
  });

  it('length < 8 in a header split across chunks is fatal too', () => {
    const { parser, errors } = collect();
    parser.push(Buffer.from('0414', 'hex'));
    parser.push(Buffer.from('000000000001', 'hex'));
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.fatal, true);
    assert.equal(parser.buffered, 0);
  });

  it('a version other than 1.3 is fatal except on HELLO', () => {
    const { parser, messages, errors } = collect();
    parser.push(Buffer.from('0100000800000001', 'hex')); // OF1.0 hello: fine
    assert.equal(messages.length, 1);
    parser.push(Buffer.from('0114000800000001', 'hex'));
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.fatal, true);
    assert.equal(errors[0]!.err.field, 'version');
  });

  it('truncated body: reported with the message and field, and parsing goes on', () => {
    // FEATURES_REPLY whose header says 16 bytes: 8 bytes of body where 24 are needed.
    const truncated = Buffer.from('0406001000000007' + '0000505400000001', 'hex');
    const { parser, messages, errors } = collect();
    parser.push(Buffer.concat([truncated, barrier]));
    assert.equal(errors.length, 1);
    const e = errors[0]!;
    assert.equal(e.fatal, false);
    assert.equal(e.err.structure, 'FEATURES_REPLY');
    assert.equal(e.err.field, 'n_buffers');
    assert.deepEqual(e.frame, truncated);
    assert.deepEqual(messages, [{ type: 'barrierRequest', xid: 0x42 }]);
  });

  it('bad OXM length inside a FLOW_MOD: names FLOW_MOD and the field, next frame still parsed', () => {
    const good = encode({ ...flowMod, match: { inPort: 1 }, instructions: [] });
    const bad = Buffer.from(good);
    // in_port OXM header at 48+4: 0x80000004 → length byte 0x04 becomes 0x06.
    assert.equal(bad.readUInt32BE(52), 0x80000004);
    bad[55] = 6;
    const { parser, messages, errors } = collect();
    parser.push(Buffer.concat([bad, good]));
    assert.equal(errors.length, 1);
    const e = errors[0]!;
    assert.equal(e.fatal, false);
    assert.match(e.err.structure, /^FLOW_MOD\//);
    assert.equal(e.err.field, 'inPort');
    assert.match(e.err.message, /length 6/);
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.type, 'flowMod');
  });

  it('ofp_match length past the end of a FLOW_MOD', () => {
    const good = encode({ ...flowMod, match: { inPort: 1 }, instructions: [] });
    const bad = Buffer.from(good);
    bad.writeUInt16BE(200, 50);
    assert.throws(
      () => decodeMessage(bad),
      (e: unknown) => e instanceof OFCodecError && e.structure.startsWith('FLOW_MOD') && e.field === 'length',
    );
  });

  it('a message type the model does not cover is reported, not fatal', () => {
    const { parser, messages, errors } = collect();
    parser.push(Buffer.concat([Buffer.from('0411001000000001' + '0000000000000000', 'hex'), barrier]));
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.fatal, false);
    assert.equal(errors[0]!.err.structure, 'TABLE_MOD');
    assert.equal(messages.length, 1);
  });

  it('a bad inner message of a bundle add names both', () => {
    const w = new Writer(128);
    encodeBundleAdd(w, 1, 1, 0, { ...flowMod, match: { inPort: 1 }, instructions: [] });
    const b = w.take();
    b[24 + 55] = 6; // in_port OXM length of the inner FLOW_MOD
    assert.throws(
      () => decodeMessage(b),
      (e: unknown) => e instanceof OFCodecError && /^BUNDLE_ADD_MESSAGE\/FLOW_MOD\//.test(e.structure),
    );
  });

  it('decodeMessage rejects a frame whose length field disagrees', () => {
    assert.throws(
      () => decodeMessage(Buffer.concat([barrier, Buffer.alloc(2)])),
      (e: unknown) => e instanceof OFCodecError && e.structure === 'BARRIER_REQUEST' && e.field === 'length',
    );
  });
});
