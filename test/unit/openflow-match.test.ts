// Unit tests of the OXM match codec: every field both ways, canonical bytes, hand-written vectors,
// malformed input, prerequisites and ct_state text. Pure: no switch, no I/O.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OFCodecError, Reader, Writer } from '../../controller/openflow/buffer.js';
import {
  ctState,
  decodeMatch,
  decodeOxm,
  encodeMatch,
  encodeOxm,
  formatCtState,
  MATCH_FIELDS,
  type Match,
  type MatchField,
  matchPrerequisiteError,
  normalizeMatch,
} from '../../controller/openflow/match.js';

function enc(m: Match): Buffer {
  const w = new Writer(16);
  encodeMatch(w, m);
  return w.take();
}

function hex(b: Buffer): string {
  return b.toString('hex');
}

function bytes(text: string): Buffer {
  return Buffer.from(text.replace(/[\s|]/g, ''), 'hex');
}

/** An ofp_match around the given OXM TLVs (hex), with the length and padding filled in. */
function ofpMatch(tlvs: string): Buffer {
  const body = bytes(tlvs);
  const len = 4 + body.length;
  const out = Buffer.alloc((len + 7) & ~7);
  out.writeUInt16BE(1, 0);
  out.writeUInt16BE(len, 2);
  body.copy(out, 4);
  return out;
}

interface Sample {
  /** OXM header (class, field, hasmask, length) of the exact TLV, written from the specs by hand. */
  hdr: string;
  exact: unknown;
  /** Its payload bytes. */
  payload: string;
  /** Header, a masked input and its normal form (value ANDed with the mask); absent if not maskable. */
  masked?: { hdr: string; input: unknown; expect: unknown };
}

const M = (value: unknown, mask: unknown) => ({ value, mask });

// Field numbers: OpenFlow 1.3.5 §7.2.3.7 (OFPXMT_OFB_*, class 0x8000) and OVS ovs-fields(7)
// (NXM_NX class 0x0001). Header = class<<16 | field<<9 | hasmask<<8 | length.
const SAMPLES: Record<MatchField, Sample> = {
  inPort: { hdr: '80000004', exact: 7, payload: '00000007' },
  inPhyPort: { hdr: '80000204', exact: 3, payload: '00000003' },
  metadata: {
    hdr: '80000408',
    exact: 0x0123456789abcdefn,
    payload: '0123456789abcdef',
    masked: { hdr: '80000510', input: M(0x12345n, 0xff00n), expect: M(0x2300n, 0xff00n) },
  },
  ethDst: {
    hdr: '80000606',
    exact: '00:11:22:33:44:55',
    payload: '001122334455',
    masked: {
      hdr: '8000070c',
      input: M('03:00:00:00:00:01', '01:00:00:00:00:00'),
      expect: M('01:00:00:00:00:00', '01:00:00:00:00:00'),
    },
  },
  ethSrc: {
    hdr: '80000806',
    exact: 'fe:dc:ba:98:76:54',
    payload: 'fedcba987654',
    masked: {
      hdr: '8000090c',
      input: M('fe:dc:ba:98:76:54', 'ff:ff:ff:00:00:00'),
      expect: M('fe:dc:ba:00:00:00', 'ff:ff:ff:00:00:00'),
    },
  },
  ethType: { hdr: '80000a02', exact: 0x86dd, payload: '86dd' },
  vlanVid: {
    hdr: '80000c02',
    exact: 0x1005,
    payload: '1005',
    masked: { hdr: '80000d04', input: M(0x1fff, 0x1000), expect: M(0x1000, 0x1000) },
  },
  vlanPcp: { hdr: '80000e01', exact: 5, payload: '05' },
  ipDscp: { hdr: '80001001', exact: 46, payload: '2e' },
  ipEcn: { hdr: '80001201', exact: 3, payload: '03' },
  ipProto: { hdr: '80001401', exact: 17, payload: '11' },
  ipv4Src: {
    hdr: '80001604',
    exact: '10.1.2.3',
    payload: '0a010203',
    masked: { hdr: '80001708', input: M('10.1.2.3', '255.255.0.0'), expect: M('10.1.0.0', '255.255.0.0') },
  },
  ipv4Dst: {
    hdr: '80001804',
    exact: '192.168.255.1',
    payload: 'c0a8ff01',
    masked: {
      hdr: '80001908',
      input: M('192.168.255.1', '255.0.255.0'),
      expect: M('192.0.255.0', '255.0.255.0'),
    },
  },
  tcpSrc: {
    hdr: '80001a02',
    exact: 443,
    payload: '01bb',
    masked: { hdr: '80001b04', input: M(0x1234, 0xff00), expect: M(0x1200, 0xff00) },
  },
  tcpDst: {
    hdr: '80001c02',
    exact: 80,
    payload: '0050',
    masked: { hdr: '80001d04', input: M(0x0400, 0xfc00), expect: M(0x0400, 0xfc00) },
  },
  udpSrc: {
    hdr: '80001e02',
    exact: 68,
    payload: '0044',
    masked: { hdr: '80001f04', input: M(65535, 1), expect: M(1, 1) },
  },
  udpDst: {
    hdr: '80002002',
    exact: 53,
    payload: '0035',
    masked: { hdr: '80002104', input: M(0x8000, 0x8000), expect: M(0x8000, 0x8000) },
  },
  sctpSrc: {
    hdr: '80002202',
    exact: 9,
    payload: '0009',
    masked: { hdr: '80002304', input: M(0xffff, 0x00f0), expect: M(0x00f0, 0x00f0) },
  },
  sctpDst: {
    hdr: '80002402',
    exact: 65535,
    payload: 'ffff',
    masked: { hdr: '80002504', input: M(0x0a0a, 0x0f0f), expect: M(0x0a0a, 0x0f0f) },
  },
  icmpv4Type: { hdr: '80002601', exact: 8, payload: '08' },
  icmpv4Code: { hdr: '80002801', exact: 255, payload: 'ff' },
  arpOp: { hdr: '80002a02', exact: 2, payload: '0002' },
  arpSpa: {
    hdr: '80002c04',
    exact: '1.2.3.4',
    payload: '01020304',
    masked: { hdr: '80002d08', input: M('1.2.3.4', '255.255.255.0'), expect: M('1.2.3.0', '255.255.255.0') },
  },
  arpTpa: {
    hdr: '80002e04',
    exact: '0.0.0.0',
    payload: '00000000',
    masked: { hdr: '80002f08', input: M('255.255.255.255', '0.0.0.1'), expect: M('0.0.0.1', '0.0.0.1') },
  },
  arpSha: {
    hdr: '80003006',
    exact: 'AA:BB:CC:DD:EE:FF',
    payload: 'aabbccddeeff',
    masked: {
      hdr: '8000310c',
      input: M('aa:bb:cc:dd:ee:ff', '00:00:00:00:00:0f'),
      expect: M('00:00:00:00:00:0f', '00:00:00:00:00:0f'),
    },
  },
  arpTha: {
    hdr: '80003206',
    exact: '00:00:00:00:00:00',
    payload: '000000000000',
    masked: {
      hdr: '8000330c',
      input: M('12:34:56:78:9a:bc', 'ff:00:00:00:00:00'),
      expect: M('12:00:00:00:00:00', 'ff:00:00:00:00:00'),
    },
  },
  ipv6Src: {
    hdr: '80003410',
    exact: '2001:db8::1',
    payload: '20010db8000000000000000000000001',
    masked: {
      hdr: '80003520',
      input: M('2001:db8:aaaa:bbbb::1', 'ffff:ffff:ffff::'),
      expect: M('2001:db8:aaaa::', 'ffff:ffff:ffff::'),
    },
  },
  ipv6Dst: {
    hdr: '80003610',
    exact: '::ffff:10.0.0.1',
    payload: '00000000000000000000ffff0a000001',
    masked: { hdr: '80003720', input: M('fe80::1', 'ffc0::'), expect: M('fe80::', 'ffc0::') },
  },
  ipv6Flabel: {
    hdr: '80003804',
    exact: 0xfffff,
    payload: '000fffff',
    masked: { hdr: '80003908', input: M(0x12345, 0xff), expect: M(0x45, 0xff) },
  },
  icmpv6Type: { hdr: '80003a01', exact: 135, payload: '87' },
  icmpv6Code: { hdr: '80003c01', exact: 0, payload: '00' },
  ipv6NdTarget: {
    hdr: '80003e10',
    exact: '::',
    payload: '00000000000000000000000000000000',
    masked: { hdr: '80003f20', input: M('1::2', 'ffff::'), expect: M('1::', 'ffff::') },
  },
  ipv6NdSll: {
    hdr: '80004006',
    exact: '02:00:00:00:00:01',
    payload: '020000000001',
    masked: {
      hdr: '8000410c',
      input: M('02:00:00:00:00:01', 'ff:ff:ff:ff:ff:00'),
      expect: M('02:00:00:00:00:00', 'ff:ff:ff:ff:ff:00'),
    },
  },
  ipv6NdTll: {
    hdr: '80004206',
    exact: '02:00:00:00:00:02',
    payload: '020000000002',
    masked: {
      hdr: '8000430c',
      input: M('02:00:00:00:00:02', '00:ff:00:00:00:00'),
      expect: M('00:00:00:00:00:00', '00:ff:00:00:00:00'),
    },
  },
  tunnelId: {
    hdr: '80004c08',
    exact: 0xffffffffffffffffn,
    payload: 'ffffffffffffffff',
    masked: { hdr: '80004d10', input: M(0xabcdn, 0xff00000000000000n), expect: M(0n, 0xff00000000000000n) },
  },
  ...regSamples(),
  xxreg0: {
    hdr: '0001de10',
    exact: 1n,
    payload: '00000000000000000000000000000001',
    masked: { hdr: '0001df20', input: M(0x5n << 100n, 0xfn << 100n), expect: M(0x5n << 100n, 0xfn << 100n) },
  },
  xxreg1: {
    hdr: '0001e010',
    exact: (1n << 128n) - 1n,
    payload: 'ffffffffffffffffffffffffffffffff',
    masked: { hdr: '0001e120', input: M((1n << 128n) - 1n, 1n << 64n), expect: M(1n << 64n, 1n << 64n) },
  },
  xxreg2: {
    hdr: '0001e210',
    exact: 1n << 64n,
    payload: '00000000000000010000000000000000',
    masked: { hdr: '0001e320', input: M(7n, 3n), expect: M(3n, 3n) },
  },
  xxreg3: {
    hdr: '0001e410',
    exact: 0x0102030405060708090a0b0c0d0e0f10n,
    payload: '0102030405060708090a0b0c0d0e0f10',
    masked: { hdr: '0001e520', input: M(0x10n, 0x10n), expect: M(0x10n, 0x10n) },
  },
  tunId: {
    hdr: '00012008',
    exact: 0x64n,
    payload: '0000000000000064',
    masked: { hdr: '00012110', input: M(0x1234n, 0xffffn), expect: M(0x1234n, 0xffffn) },
  },
  tunIpv4Src: {
    hdr: '00013e04',
    exact: '172.16.0.1',
    payload: 'ac100001',
    masked: {
      hdr: '00013f08',
      input: M('172.16.0.1', '255.255.255.0'),
      expect: M('172.16.0.0', '255.255.255.0'),
    },
  },
  tunIpv4Dst: {
    hdr: '00014004',
    exact: '172.16.0.2',
    payload: 'ac100002',
    masked: {
      hdr: '00014108',
      input: M('172.16.0.2', '255.240.0.0'),
      expect: M('172.16.0.0', '255.240.0.0'),
    },
  },
  ctState: {
    hdr: '0001d204',
    exact: 0x22,
    payload: '00000022',
    masked: { hdr: '0001d308', input: ctState('+trk-new'), expect: M(0x20, 0x21) },
  },
  ctZone: { hdr: '0001d402', exact: 0xabc, payload: '0abc' },
  ctMark: {
    hdr: '0001d604',
    exact: 0xdeadbeef,
    payload: 'deadbeef',
    masked: { hdr: '0001d708', input: M(0xdeadbeef, 0xffff0000), expect: M(0xdead0000, 0xffff0000) },
  },
  ctLabel: {
    hdr: '0001d810',
    exact: 0x1n,
    payload: '00000000000000000000000000000001',
    masked: { hdr: '0001d920', input: M(0xfn, 0x3n), expect: M(0x3n, 0x3n) },
  },
  conjId: { hdr: '00014a04', exact: 0x12345678, payload: '12345678' },
};

function regSamples(): Record<Extract<MatchField, `reg${number}`>, Sample> {
  const out: Record<string, Sample> = {};
  for (let i = 0; i < 16; i++) {
    const field = (i << 1).toString(16).padStart(2, '0');
    const masked = ((i << 1) | 1).toString(16).padStart(2, '0');
    out[`reg${i}`] = {
      hdr: `0001${field}04`,
      exact: 0x01000000 + i,
      payload: (0x01000000 + i).toString(16).padStart(8, '0'),
      masked: { hdr: `0001${masked}08`, input: M(0xffffffff, 0xf0 + i), expect: M(0xf0 + i, 0xf0 + i) },
    };
  }
  return out as Record<Extract<MatchField, `reg${number}`>, Sample>;
}

describe('OXM field table', () => {
  it('lists every Match field once, in declaration order', () => {
    assert.deepEqual([...MATCH_FIELDS], Object.keys(SAMPLES));
  });
});

describe('round trip of every field', () => {
  for (const field of MATCH_FIELDS) {
    const s = SAMPLES[field];
    it(`${field}: exact`, () => {
      const m = { [field]: s.exact } as Match;
      const b = enc(m);
      assert.equal(hex(b), hex(ofpMatch(s.hdr + s.payload)));
      const expect = typeof s.exact === 'string' ? { [field]: s.exact.toLowerCase() } : m;
      assert.deepEqual(decodeMatch(new Reader(b)), expect);
    });
    if (s.masked !== undefined) {
      const mk = s.masked;
      it(`${field}: masked`, () => {
        const b = enc({ [field]: mk.input } as Match);
        assert.equal(hex(b.subarray(4, 8)), mk.hdr);
        assert.equal(b.readUInt16BE(2), 4 + 4 + (b[7] as number));
        assert.deepEqual(decodeMatch(new Reader(b)), { [field]: mk.expect });
        assert.deepEqual(normalizeMatch({ [field]: mk.input } as Match), { [field]: mk.expect });
      });
      it(`${field}: a mask of all ones is an exact match, a zero mask no match at all`, () => {
        const exact = enc({ [field]: s.exact } as Match);
        const allOnes = enc({ [field]: { value: s.exact, mask: onesLike(s.exact, field) } } as Match);
        assert.equal(hex(allOnes), hex(exact));
        const zero = enc({ [field]: { value: s.exact, mask: zeroLike(s.exact, field) } } as Match);
        assert.equal(hex(zero), '0001000400000000');
      });
    }
  }

  it('decodes every field together, and in any wire order', () => {
    const all: Record<string, unknown> = {};
    const want: Record<string, unknown> = {};
    for (const f of MATCH_FIELDS) {
      const s = SAMPLES[f];
      all[f] = s.masked?.input ?? s.exact;
      want[f] = s.masked?.expect ?? (typeof s.exact === 'string' ? s.exact.toLowerCase() : s.exact);
    }
    const b = enc(all as Match);
    assert.deepEqual(decodeMatch(new Reader(b)), want);
    // Reverse the TLVs: decoding does not depend on their order.
    const tlvs: Buffer[] = [];
    const r = new Reader(b, 4, b.readUInt16BE(2));
    while (r.remaining > 0) {
      const len = 4 + (r.buf[r.off + 3] as number);
      tlvs.push(r.bytes(len));
    }
    assert.equal(tlvs.length, MATCH_FIELDS.length);
    const reversed = ofpMatch(hex(Buffer.concat(tlvs.reverse())));
    assert.deepEqual(decodeMatch(new Reader(reversed)), want);
  });

  it('round-trips random values of every field', () => {
    let seed = 0x2545f491;
    const rnd = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    for (let n = 0; n < 200; n++) {
      const w = new Writer(64);
      for (const f of MATCH_FIELDS) {
        const s = SAMPLES[f];
        // Random bytes in place of the sample payload, read back with the same header.
        const len = s.payload.length / 2;
        const body = Buffer.alloc(len);
        for (let i = 0; i < len; i++) body[i] = rnd() & 0xff;
        if (f === 'vlanVid') body[0] = (body[0] as number) & 0x1f;
        if (f === 'vlanPcp') body[0] = (body[0] as number) & 0x07;
        if (f === 'ipDscp') body[0] = (body[0] as number) & 0x3f;
        if (f === 'ipEcn') body[0] = (body[0] as number) & 0x03;
        if (f === 'ipv6Flabel') body[1] = (body[1] as number) & 0x0f;
        if (f === 'ipv6Flabel') body[0] = 0;
        if (f === 'ctState') body.fill(0, 0, 3);
        const m = decodeMatch(new Reader(ofpMatch(s.hdr + hex(body))));
        w.reset();
        encodeMatch(w, m);
        assert.equal(hex(w.take()), hex(ofpMatch(s.hdr + hex(body))), f);
      }
    }
  });
});

function onesLike(v: unknown, field: MatchField): unknown {
  if (typeof v === 'bigint')
    return field.startsWith('xxreg') || field === 'ctLabel' ? (1n << 128n) - 1n : MAX64;
  if (typeof v === 'number') {
    if (field === 'vlanVid') return 0x1fff;
    if (field === 'ipv6Flabel') return 0xfffff;
    if (field.startsWith('tcp') || field.startsWith('udp') || field.startsWith('sctp')) return 0xffff;
    return 0xffffffff;
  }
  const s = v as string;
  if (s.includes('.')) return s.includes(':') ? 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' : '255.255.255.255';
  if (s.length === 17 && s[2] === ':') return 'ff:ff:ff:ff:ff:ff';
  return 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
}

function zeroLike(v: unknown, field: MatchField): unknown {
  if (typeof v === 'bigint') return 0n;
  if (typeof v === 'number') return 0;
  void field;
  const s = v as string;
  if (s.includes('.') && !s.includes(':')) return '0.0.0.0';
  if (s.length === 17 && s[2] === ':') return '00:00:00:00:00:00';
  return '::';
}

const MAX64 = (1n << 64n) - 1n;

describe('canonical encoding', () => {
  it('gives identical bytes for semantically equal matches', () => {
    const a: Match = {
      ethType: 0x0800,
      ipProto: 6,
      ipv4Src: { value: '10.0.0.0', mask: '255.0.0.0' },
      tcpDst: 80,
      ethSrc: '02:00:00:00:00:0a',
      reg6: { value: 0x10, mask: 0xff },
      ctState: { value: 0x20, mask: 0x21 },
      ipv6Dst: undefined,
    };
    // Other key order, all-ones masks for exact fields, bits outside the masks, other text case.
    const b: Match = {
      ctState: { value: 0xa0, mask: 0x21 },
      reg6: { value: 0xabcd10, mask: 0xff },
      tcpDst: { value: 80, mask: 0xffff },
      ethSrc: { value: '02:00:00:00:00:0A', mask: 'FF:FF:FF:FF:FF:FF' },
      ipv4Src: { value: '10.9.8.7', mask: '255.0.0.0' },
      ipProto: 6,
      ethType: 0x0800,
    };
    assert.equal(hex(enc(b)), hex(enc(a)));
    assert.deepEqual(normalizeMatch(b), normalizeMatch(a));
  });

  it('writes IPv6 the same whatever the text form', () => {
    const forms = ['2001:db8::1:0:0:1', '2001:DB8:0:0:1:0:0:1', '2001:0db8:0000:0000:0001:0000:0000:0001'];
    const want = hex(enc({ ipv6Src: forms[0] }));
    for (const f of forms) assert.equal(hex(enc({ ipv6Src: f })), want, f);
    assert.deepEqual(decodeMatch(new Reader(enc({ ipv6Src: forms[2] }))), { ipv6Src: '2001:db8::1:0:0:1' });
  });

  it('formats IPv6 as RFC 5952 says', () => {
    const cases: [string, string][] = [
      ['0:0:0:0:0:0:0:1', '::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
      ['1:0:0:2:2:0:0:3', '1::2:2:0:0:3'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['fe80::', 'fe80::'],
      ['::ffff:0a00:0001', '::ffff:10.0.0.1'],
      ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
      ['ABCD:EF01:2345:6789:ABCD:EF01:2345:6789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
    ];
    for (const [input, want] of cases) {
      assert.deepEqual(normalizeMatch({ ipv6Dst: input }), { ipv6Dst: want }, input);
      assert.deepEqual(decodeMatch(new Reader(enc({ ipv6Dst: input }))), { ipv6Dst: want }, input);
    }
  });
});

describe('known byte vectors (written by hand from the spec)', () => {
  it('an empty match is type 1, length 4, four bytes of padding', () => {
    assert.equal(hex(enc({})), '0001000400000000');
  });

  it('tcp,nw_src=10.0.0.0/8,tp_dst=80', () => {
    const b = enc({
      tcpDst: 80,
      ipv4Src: { value: '10.0.0.0', mask: '255.0.0.0' },
      ipProto: 6,
      ethType: 0x0800,
    });
    const want = bytes(`
      0001 0021
      8000 0a 02 0800
      8000 14 01 06
      8000 17 08 0a000000 ff000000
      8000 1c 02 0050
      00000000000000`);
    assert.equal(hex(b), hex(want));
  });

  it('any VLAN tag, ct_state=+trk-new, reg0=5, xxreg0 low bit, conj_id', () => {
    const b = enc({
      conjId: 9,
      xxreg0: { value: 1n, mask: 1n },
      reg0: 5,
      ctState: ctState('+trk-new'),
      vlanVid: { value: 0x1000, mask: 0x1000 },
    });
    const want = bytes(`
      0001 004c
      8000 0d 04 1000 1000
      0001 00 04 00000005
      0001 df 20 00000000000000000000000000000001 00000000000000000000000000000001
      0001 d3 08 00000020 00000021
      0001 4a 04 00000009
      00000000`);
    assert.equal(hex(b), hex(want));
  });

  it("decodes OVS's own encoding of tcp,nw_src=10.0.0.0/8,tp_dst=80 (its field order)", () => {
    // From `ovs-ofctl -O OpenFlow13 -mmmmm parse-flow` (OVS 3.1), ofp_match part of the FLOW_MOD.
    const ovs = bytes(
      '00010021 80000a020800 800017080a000000ff000000 8000140106 80001c020050 00000000000000',
    );
    assert.deepEqual(decodeMatch(new Reader(ovs)), {
      ethType: 0x0800,
      ipv4Src: { value: '10.0.0.0', mask: '255.0.0.0' },
      ipProto: 6,
      tcpDst: 80,
    });
  });

  it('leaves the reader after the padding, inside a larger buffer', () => {
    const m = enc({ inPort: 1, ethType: 0x0806 });
    const framed = Buffer.concat([bytes('cafe'), m, bytes('beef')]);
    const r = new Reader(framed, 2);
    assert.deepEqual(decodeMatch(r), { inPort: 1, ethType: 0x0806 });
    assert.equal(r.off, 2 + m.length);
    assert.equal(r.u16(), 0xbeef);
  });

  it('encodes a set_field OXM alone, mask only when given', () => {
    const w = new Writer(8);
    encodeOxm(w, 'ethDst', '0A:00:00:00:00:01');
    encodeOxm(w, 'reg3', { value: 0x12, mask: 0xff });
    encodeOxm(w, 'tunId', { value: 7n, mask: MAX64 });
    assert.equal(
      hex(w.take()),
      hex(bytes('80000606 0a0000000001 00010708 00000012 000000ff 00012008 0000000000000007')),
    );
    const into: Match = {};
    const r = new Reader(bytes('0001070800000012000000ff'), 0, 12, 'OXM');
    assert.equal(decodeOxm(r, into), 'reg3');
    assert.deepEqual(into, { reg3: { value: 0x12, mask: 0xff } });
    assert.equal(r.remaining, 0);
    assert.throws(() => encodeOxm(w, 'reg3', { value: 1, mask: 0 }), /reg3: invalid mask 0/);
    assert.throws(() => encodeOxm(w, 'nope' as MatchField, 1), /unknown match field "nope"/);
  });
});

describe('malformed input to the decoder', () => {
  function codecError(b: Buffer, field: RegExp, detail: RegExp): void {
    assert.throws(
      () => decodeMatch(new Reader(b)),
      (e: unknown) => {
        assert.ok(e instanceof OFCodecError, `not an OFCodecError: ${String(e)}`);
        assert.match(e.field, field);
        assert.match(e.message, detail);
        return true;
      },
    );
  }

  it('names the class and field of an unknown OXM', () => {
    codecError(ofpMatch('00030204 00000001'), /class 0x0003 field 1/, /unknown/);
    codecError(ofpMatch('80004e02 0000'), /class 0x8000 field 39/, /unknown/); // ipv6_exthdr: not modelled
    codecError(ofpMatch('0001fe04 00000000'), /class 0x0001 field 127/, /unknown/);
    codecError(
      ofpMatch('ffffde14 00002320 00000000000000000000000000000001'),
      /experimenter 0x00002320/,
      /unknown/,
    );
  });

  it('names the field and length of a TLV of the wrong size', () => {
    codecError(ofpMatch('80000002 0001'), /^inPort$/, /length 2, expected 4/);
    codecError(ofpMatch('80000d02 1000'), /^vlanVid$/, /length 2 \(masked\), expected 4/);
    codecError(ofpMatch('0001d810 00'), /^ctLabel$/, /length 16 exceeds the 1 bytes left/);
  });

  it('refuses a TLV that runs past the match length, even when the buffer is longer', () => {
    // The match length cuts the TLV short; the bytes after it (padding) must not be read as payload.
    const b = bytes('0001 000b 80000004 000000 01 0000 0000 0000');
    codecError(b, /^inPort$/, /length 4 exceeds the 3 bytes left/);
    codecError(
      bytes('0001 000a 80000004 0000 0000 0000 0000'),
      /^inPort$/,
      /length 4 exceeds the 2 bytes left/,
    );
    codecError(bytes('0001 000f 80000004 00000001 800a00 00'), /^header$/, /needs 4 bytes, 3 left/);
  });

  it('refuses a match whose length exceeds the buffer, or of another type', () => {
    codecError(bytes('0001 0010 80000004 00000001'), /^length$/, /exceeds/);
    codecError(bytes('0000 0058'), /^type$/, /not OFPMT_OXM/);
    codecError(bytes('0001 0002 00000000'), /^length$/, /shorter than its header/);
  });

  it('refuses a duplicate field, a mask on an unmaskable field, a value wider than its field', () => {
    codecError(ofpMatch('80000a02 0800 80000a02 0800'), /^ethType$/, /duplicate/);
    codecError(ofpMatch('80000b04 0800 ffff'), /^ethType$/, /not maskable/);
    codecError(ofpMatch('80000e01 08'), /^vlanPcp$/, /wider than the field/);
    codecError(ofpMatch('80000c02 2000'), /^vlanVid$/, /wider than the field/);
  });

  it('treats a decoded all-ones mask as exact and a zero mask as absent', () => {
    const b = ofpMatch('80001708 0a010203 ffffffff 00010108 00000007 00000000');
    assert.deepEqual(decodeMatch(new Reader(b)), { ipv4Src: '10.1.2.3' });
  });
});

describe('bad input to the encoder', () => {
  const cases: [Match, RegExp][] = [
    [{ ipv4Src: '10.1.1' }, /ipv4Src: invalid value "10\.1\.1"/],
    [{ ipv4Dst: '10.1.1.256' }, /ipv4Dst: invalid value "10\.1\.1\.256"/],
    [{ ipv4Dst: '10.1.1.1.1' }, /ipv4Dst/],
    [{ ipv4Dst: '010.1.1.1' }, /ipv4Dst/],
    [{ arpSpa: '1..2.3' }, /arpSpa/],
    [{ tunIpv4Src: { value: '1.2.3.4', mask: '255.255.0' } }, /tunIpv4Src: invalid mask "255\.255\.0"/],
    [{ tcpDst: 65536 }, /tcpDst: invalid value 65536/],
    [{ tcpSrc: -1 }, /tcpSrc: invalid value -1/],
    [{ udpDst: 1.5 }, /udpDst: invalid value 1\.5/],
    [{ vlanPcp: 8 }, /vlanPcp: invalid value 8/],
    [{ ipDscp: 64 }, /ipDscp: invalid value 64/],
    [{ vlanVid: { value: 0x1000, mask: 0xffff } }, /vlanVid: invalid mask 65535/],
    [{ ethDst: 'aa:bb:cc:dd:ee' }, /ethDst: invalid value "aa:bb:cc:dd:ee"/],
    [{ ethSrc: 'aa-bb-cc-dd-ee-ff' }, /ethSrc/],
    [{ ethSrc: 'gg:bb:cc:dd:ee:ff' }, /ethSrc/],
    [{ ipv6Src: '1:2:3' }, /ipv6Src: invalid value "1:2:3"/],
    [{ ipv6Src: 'fe80::1::2' }, /ipv6Src/],
    [{ ipv6Src: '1:2:3:4:5:6:7:8:9' }, /ipv6Src/],
    [{ ipv6Src: '1:2:3:4:5:6:7::8' }, /ipv6Src/],
    [{ ipv6Src: '12345::' }, /ipv6Src/],
    [{ ipv6Src: 'fe80::1%eth0' }, /ipv6Src/],
    [{ ipv6Src: ':1::' }, /ipv6Src/],
    [{ ipv6Src: '1:' }, /ipv6Src/],
    [{ ipv6Dst: '::1.2.3' }, /ipv6Dst/],
    [{ ipv6Dst: '10.0.0.0/8' }, /ipv6Dst/],
    [{ metadata: 1n << 64n }, /metadata: invalid value 18446744073709551616n/],
    [{ metadata: -1n }, /metadata/],
    [{ xxreg0: 1n << 128n }, /xxreg0/],
    [{ tunId: 5 as unknown as bigint }, /tunId: invalid value 5/],
    [{ inPort: '1' as unknown as number }, /inPort: invalid value "1"/],
    [{ ethType: { value: 0x800, mask: 0xffff } as unknown as number }, /ethType: invalid value/],
    [{ ctState: 0x100 }, /ctState: invalid value 256/],
    [{ ctZone: 0x10000 }, /ctZone/],
    [{ conjId: 0x100000000 }, /conjId/],
  ];
  for (const [m, want] of cases) {
    it(`refuses ${JSON.stringify(m, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`, () => {
      assert.throws(
        () => enc(m),
        (e: unknown) => {
          assert.ok(e instanceof Error && !(e instanceof OFCodecError), String(e));
          assert.match(e.message, want);
          return true;
        },
      );
    });
  }
  it('refuses a key that is no match field rather than silently wildcarding it', () => {
    assert.throws(() => enc({ tcpdst: 80 } as unknown as Match), /encodeMatch: unknown match field "tcpdst"/);
  });
});

describe('prerequisites', () => {
  const cases: [Match, string | undefined][] = [
    [{}, undefined],
    [{ tcpDst: 80 }, 'tcpDst requires ipProto=6'],
    [{ ethType: 0x0800, ipProto: 17, tcpSrc: 1 }, 'tcpSrc requires ipProto=6'],
    [{ ethType: 0x0800, ipProto: 6, tcpDst: 80 }, undefined],
    [{ ethType: 0x86dd, ipProto: 6, tcpDst: { value: 0, mask: 0xfc00 } }, undefined],
    [{ ipProto: 6 }, 'ipProto requires ethType=0x0800 or ethType=0x86dd'],
    [{ ipDscp: 1, ethType: 0x0806 }, 'ipDscp requires ethType=0x0800 or ethType=0x86dd'],
    [{ ipv4Src: '1.2.3.4' }, 'ipv4Src requires ethType=0x0800'],
    [{ ethType: 0x86dd, ipv4Dst: '1.2.3.4' }, 'ipv4Dst requires ethType=0x0800'],
    [{ ethType: 0x0800, ipProto: 17, udpDst: 53 }, undefined],
    [{ ethType: 0x0800, ipProto: 6, udpDst: 53 }, 'udpDst requires ipProto=17'],
    [{ ethType: 0x0800, ipProto: 6, sctpSrc: 1 }, 'sctpSrc requires ipProto=132'],
    [{ ethType: 0x0800, ipProto: 1, icmpv4Type: 8, icmpv4Code: 0 }, undefined],
    [{ ethType: 0x86dd, ipProto: 1, icmpv4Type: 8 }, 'icmpv4Type requires ethType=0x0800'],
    [{ ethType: 0x0800, icmpv4Code: 0 }, 'icmpv4Code requires ipProto=1'],
    [{ arpOp: 1 }, 'arpOp requires ethType=0x0806'],
    [{ ethType: 0x0806, arpOp: 1, arpSpa: '1.1.1.1', arpTha: '00:00:00:00:00:01' }, undefined],
    [{ ethType: 0x0800, arpTpa: '1.1.1.1' }, 'arpTpa requires ethType=0x0806'],
    [{ arpSha: '00:00:00:00:00:01' }, 'arpSha requires ethType=0x0806'],
    [{ ipv6Src: '::1' }, 'ipv6Src requires ethType=0x86dd'],
    [{ ethType: 0x0800, ipv6Flabel: 1 }, 'ipv6Flabel requires ethType=0x86dd'],
    [{ ethType: 0x86dd, ipv6Dst: '::1', ipv6Flabel: 1 }, undefined],
    [{ ethType: 0x86dd, icmpv6Type: 135 }, 'icmpv6Type requires ipProto=58'],
    [{ ethType: 0x0800, ipProto: 58, icmpv6Code: 0 }, 'icmpv6Code requires ethType=0x86dd'],
    [
      { ethType: 0x86dd, ipProto: 58, icmpv6Type: 128, ipv6NdTarget: '::1' },
      'ipv6NdTarget requires icmpv6Type=135 or icmpv6Type=136',
    ],
    [
      { ethType: 0x86dd, ipProto: 58, icmpv6Type: 136, ipv6NdTarget: '::1', ipv6NdTll: '00:00:00:00:00:01' },
      undefined,
    ],
    [
      { ethType: 0x86dd, ipProto: 58, icmpv6Type: 136, ipv6NdSll: '00:00:00:00:00:01' },
      'ipv6NdSll requires icmpv6Type=135',
    ],
    [
      { ethType: 0x86dd, ipProto: 58, icmpv6Type: 135, ipv6NdTll: '00:00:00:00:00:01' },
      'ipv6NdTll requires icmpv6Type=136',
    ],
    [{ ipv6NdSll: '00:00:00:00:00:01' }, 'ipv6NdSll requires ethType=0x86dd'],
    [{ vlanPcp: 3 }, 'vlanPcp requires vlanVid with OFPVID_PRESENT (0x1000)'],
    [{ vlanVid: 0, vlanPcp: 3 }, 'vlanPcp requires vlanVid with OFPVID_PRESENT (0x1000)'],
    [{ vlanVid: 0x1005, vlanPcp: 3 }, undefined],
    [{ vlanVid: { value: 0x1000, mask: 0x1000 }, vlanPcp: 3 }, undefined],
    [
      { reg0: 1, ctState: ctState('+trk'), ctZone: 1, ctMark: 1, ctLabel: 1n, conjId: 1, tunId: 1n },
      undefined,
    ],
    [{ tunId: 1n, tunnelId: 1n }, 'tunId and tunnelId are both tun_id: set one'],
    [{ xxreg1: 1n, reg6: 1 }, 'xxreg1 overlaps reg6: set one'],
    [{ xxreg1: 1n, reg8: 1 }, undefined],
  ];
  for (const [m, want] of cases) {
    it(`${JSON.stringify(m, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))} -> ${want ?? 'ok'}`, () => {
      assert.equal(matchPrerequisiteError(m), want);
    });
  }
});

describe('ct_state text', () => {
  it('parses OVS flag syntax', () => {
    assert.deepEqual(ctState('+trk+new-est'), { value: 0x21, mask: 0x23 });
    assert.deepEqual(ctState('-trk'), { value: 0, mask: 0x20 });
    assert.deepEqual(ctState('+new+est+rel+rpl+inv+trk+snat+dnat'), { value: 0xff, mask: 0xff });
    assert.deepEqual(ctState('+est-rel-inv+trk'), { value: 0x22, mask: 0x36 });
    assert.deepEqual(ctState('0x21/0x21'), { value: 0x21, mask: 0x21 });
    assert.deepEqual(ctState('0x23/0x21'), { value: 0x21, mask: 0x21 });
  });

  it('refuses unknown, repeated, empty or signless flags', () => {
    assert.throws(() => ctState('+trk+bogus'), /unknown flag "bogus"/);
    assert.throws(() => ctState('+trk-trk'), /flag trk given twice/);
    assert.throws(() => ctState(''), /no flags in ""/);
    assert.throws(() => ctState('+'), /unknown flag ""/);
    assert.throws(() => ctState('trk'), /invalid value "trk"/);
    assert.throws(() => ctState('0x21/'), /invalid value/);
  });

  it('formats as OVS prints it', () => {
    assert.equal(formatCtState(ctState('+trk+new-est')), '+new-est+trk');
    assert.equal(formatCtState({ value: 0x21, mask: 0x3f }), '+new-est-rel-rpl-inv+trk');
    assert.equal(formatCtState(0x21), 'new|trk');
    assert.equal(formatCtState({ value: 0x21, mask: 0xffffffff }), 'new|trk');
    assert.equal(formatCtState(0), '0');
    assert.equal(formatCtState({ value: 0, mask: 0x100 }), '0x0/0x100');
  });
});

describe('normalizeMatch', () => {
  it('returns the canonical form decodeMatch gives back', () => {
    assert.deepEqual(
      normalizeMatch({
        tcpDst: { value: 80, mask: 0xffff },
        ethDst: 'AA:BB:CC:DD:EE:FF',
        metadata: { value: 5n, mask: 0n },
        ipv6Src: { value: '2001:DB8::FFFF', mask: 'ffff:ffff::' },
        ctState: ctState('+trk'),
        inPort: undefined,
      }),
      {
        ethDst: 'aa:bb:cc:dd:ee:ff',
        tcpDst: 80,
        ipv6Src: { value: '2001:db8::', mask: 'ffff:ffff::' },
        ctState: { value: 0x20, mask: 0x20 },
      },
    );
  });
});
