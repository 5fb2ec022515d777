// Checks the action and instruction codec by itself: round trips, byte layouts, malformed input.
// It must never need OVS: the integration test ofp-print-actions checks the same bytes against ovs-ofctl.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Action, Instruction } from '../../controller/openflow/actions.js';
import { decodeActions, decodeInstructions } from '../../controller/openflow/actions-decode.js';
import { encodeActions, encodeInstructions } from '../../controller/openflow/actions-encode.js';
import { OFCodecError, Reader, Writer } from '../../controller/openflow/buffer.js';
import { fieldFromHeader, fieldHeader } from '../../controller/openflow/match.js';

const CONTROLLER = 0xfffffffd;
const IN_PORT = 0xfffffff8;
const LOCAL = 0xfffffffe;

function encA(actions: Action[]): Buffer {
  const w = new Writer(16);
  encodeActions(w, actions);
  return w.take();
}

function encI(ins: Instruction[]): Buffer {
  const w = new Writer(16);
  encodeInstructions(w, ins);
  return w.take();
}

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** The OFCodecError a decode throws, checked to be one, for inspecting structure and field. */
function codecError(fn: () => unknown): OFCodecError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof OFCodecError, `expected OFCodecError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a decode error');
}

// Every action kind, minimal and with options; each must come back deep-equal.
const ACTIONS: Array<[string, Action]> = [
  ['output', { type: 'output', port: 7 }],
  ['output with max_len', { type: 'output', port: 7, maxLen: 128 }],
  ['output to controller', { type: 'output', port: CONTROLLER }],
  ['output to controller, max_len 0', { type: 'output', port: CONTROLLER, maxLen: 0 }],
  ['group', { type: 'group', groupId: 0x12345678 }],
  ['set_queue', { type: 'setQueue', queueId: 9 }],
  ['push_vlan', { type: 'pushVlan', ethertype: 0x8100 }],
  ['pop_vlan', { type: 'popVlan' }],
  ['dec_ttl', { type: 'decTtl' }],
  ['set_mpls_ttl', { type: 'setMplsTtl', ttl: 63 }],
  ['set_nw_ttl', { type: 'setNwTtl', ttl: 17 }],
  ['set_field vlan_vid', { type: 'setField', field: 'vlanVid', value: 0x1000 | 10 }],
  ['set_field eth_dst', { type: 'setField', field: 'ethDst', value: '02:00:00:00:00:01' }],
  ['set_field ipv4_src', { type: 'setField', field: 'ipv4Src', value: '10.1.2.3' }],
  ['set_field ipv6_dst', { type: 'setField', field: 'ipv6Dst', value: 'fe80::1' }],
  ['set_field tun_id', { type: 'setField', field: 'tunnelId', value: 5000n }],
  ['set_field reg3', { type: 'setField', field: 'reg3', value: 0xdeadbeef }],
  ['set_field metadata', { type: 'setField', field: 'metadata', value: 0x1122334455667788n }],
  ['resubmit table', { type: 'resubmit', table: 5 }],
  ['resubmit port', { type: 'resubmit', port: 3 }],
  ['resubmit port and table', { type: 'resubmit', port: LOCAL, table: 0 }],
  ['output_reg', { type: 'outputReg', src: { field: 'reg1', ofs: 0, nBits: 32 } }],
  [
    'output_reg subfield max_len',
    { type: 'outputReg', src: { field: 'reg6', ofs: 16, nBits: 16 }, maxLen: 128 },
  ],
  ['reg_load', { type: 'regLoad', dst: { field: 'reg0', ofs: 0, nBits: 16 }, value: 0xabcdn }],
  [
    'reg_load metadata 64 bits',
    { type: 'regLoad', dst: { field: 'metadata', ofs: 0, nBits: 64 }, value: 2n ** 64n - 1n },
  ],
  ['reg_load xxreg high bits', { type: 'regLoad', dst: { field: 'xxreg1', ofs: 64, nBits: 8 }, value: 255n }],
  [
    'reg_move',
    {
      type: 'regMove',
      src: { field: 'ethSrc', ofs: 0, nBits: 48 },
      dst: { field: 'ethDst', ofs: 0, nBits: 48 },
    },
  ],
  [
    'reg_move subfields',
    {
      type: 'regMove',
      src: { field: 'reg1', ofs: 4, nBits: 12 },
      dst: { field: 'tunId', ofs: 20, nBits: 12 },
    },
  ],
  ['conjunction', { type: 'conjunction', id: 7, clause: 1, nClauses: 3 }],
  ['conjunction last clause', { type: 'conjunction', id: 0xffffffff, clause: 64, nClauses: 64 }],
  ['ct', { type: 'ct' }],
  ['ct table zone', { type: 'ct', table: 1, zone: 1 }],
  ['ct commit force alg', { type: 'ct', commit: true, force: true, zone: 65535, table: 0, alg: 21 }],
  ['ct zone from field', { type: 'ct', commit: true, zone: { field: 'reg6', ofs: 0, nBits: 16 } }],
  ['nat bare', { type: 'nat' }],
  ['nat src ip', { type: 'nat', kind: 'src', ipMin: '10.0.0.1' }],
  [
    'nat dst range ports random',
    {
      type: 'nat',
      kind: 'dst',
      ipMin: '10.0.0.1',
      ipMax: '10.0.0.9',
      portMin: 1000,
      portMax: 2000,
      random: true,
    },
  ],
  [
    'nat ipv6 hash persistent',
    { type: 'nat', kind: 'src', ipMin: 'fd00::1', ipMax: 'fd00::2:0:0:9', hash: true, persistent: true },
  ],
  ['nat src port only min', { type: 'nat', kind: 'src', ipMin: '192.168.1.1', portMin: 80 }],
  ['ct_clear', { type: 'ctClear' }],
  ['note of 6 bytes', { type: 'note', data: hex('0102030405 06') }],
  ['note of 14 bytes', { type: 'note', data: hex('0102030405060708090a0b0c0d0e') }],
  ['controller', { type: 'controller' }],
  ['controller with options', { type: 'controller', maxLen: 128, reason: 0, controllerId: 3 }],
];

describe('actions round trip', () => {
  for (const [name, action] of ACTIONS) {
    test(name, () => {
      const buf = encA([action]);
      assert.equal(buf.length % 8, 0, 'padded to 8');
      assert.equal(buf.readUInt16BE(2), buf.length, 'length field covers the whole action');
      assert.deepEqual(decodeActions(new Reader(buf)), [action]);
    });
  }

  test('all of them back to back', () => {
    const all = ACTIONS.map(([, a]) => a);
    assert.deepEqual(decodeActions(new Reader(encA(all))), all);
  });

  test('nested ct actions: nat and set_field ct_mark / ct_label', () => {
    const ct: Action = {
      type: 'ct',
      commit: true,
      zone: { field: 'reg6', ofs: 0, nBits: 16 },
      table: 3,
      actions: [
        { type: 'nat', kind: 'src', ipMin: '10.0.0.1', ipMax: '10.0.0.2', portMin: 5000, portMax: 6000 },
        { type: 'setField', field: 'ctMark', value: 5 },
        { type: 'setField', field: 'ctLabel', value: 1n << 100n },
      ],
    };
    const buf = encA([ct, { type: 'output', port: 2 }]);
    const ctLen = buf.readUInt16BE(2);
    assert.ok(ctLen > 24, 'ct length includes the nested actions');
    assert.equal(buf.readUInt16BE(ctLen), 0, 'output follows right after the nested actions');
    assert.deepEqual(decodeActions(new Reader(buf)), [ct, { type: 'output', port: 2 }]);
  });

  test('a decoded note is a copy, not a view of the receive buffer', () => {
    const buf = encA([{ type: 'note', data: hex('aabbccddeeff') }]);
    const [note] = decodeActions(new Reader(buf));
    buf.fill(0);
    assert.deepEqual(note, { type: 'note', data: hex('aabbccddeeff') });
  });

  test('a short note is padded and comes back with its padding, as OVS shows it', () => {
    const buf = encA([{ type: 'note', data: hex('010203') }]);
    assert.equal(buf.length, 16);
    assert.deepEqual(decodeActions(new Reader(buf)), [{ type: 'note', data: hex('010203000000') }]);
  });

  test('plain NXAST_RESUBMIT (subtype 1) decodes as a port-only resubmit', () => {
    assert.deepEqual(decodeActions(new Reader(hex('ffff0010 00002320 0001 0003 00000000'))), [
      { type: 'resubmit', port: 3 },
    ]);
  });

  test('resubmit to IN_PORT explicitly is the default port and is omitted when decoded', () => {
    const buf = encA([{ type: 'resubmit', port: IN_PORT, table: 5 }]);
    assert.deepEqual(decodeActions(new Reader(buf)), [{ type: 'resubmit', table: 5 }]);
  });

  test('decoding stops at the reader end, not the buffer end', () => {
    const buf = Buffer.concat([encA([{ type: 'popVlan' }, { type: 'decTtl' }]), hex('ffffffffffffffff')]);
    assert.deepEqual(decodeActions(new Reader(buf, 0, 16)), [{ type: 'popVlan' }, { type: 'decTtl' }]);
  });
});

describe('action byte layouts', () => {
  const VECTORS: Array<[string, Action, string]> = [
    ['output:1', { type: 'output', port: 1 }, '0000 0010 00000001 0000 000000000000'],
    ['CONTROLLER:65535', { type: 'output', port: CONTROLLER }, '0000 0010 fffffffd ffff 000000000000'],
    ['group:5', { type: 'group', groupId: 5 }, '0016 0008 00000005'],
    ['push_vlan:0x8100', { type: 'pushVlan', ethertype: 0x8100 }, '0011 0008 8100 0000'],
    [
      'set_field:10->reg3',
      { type: 'setField', field: 'reg3', value: 10 },
      '0019 0010 00010604 0000000a 00000000',
    ],
    ['resubmit(,5)', { type: 'resubmit', table: 5 }, 'ffff 0010 00002320 000e fff8 05 000000'],
    ['resubmit:LOCAL', { type: 'resubmit', port: LOCAL }, 'ffff 0010 00002320 000e fffe ff 000000'],
    [
      'load:0x1->NXM_NX_REG0[0..15]',
      { type: 'regLoad', dst: { field: 'reg0', ofs: 0, nBits: 16 }, value: 1n },
      'ffff 0018 00002320 0007 000f 00010004 0000000000000001',
    ],
    [
      'load:0x3->NXM_NX_REG5[4..5]',
      { type: 'regLoad', dst: { field: 'reg5', ofs: 4, nBits: 2 }, value: 3n },
      'ffff 0018 00002320 0007 0101 00010a04 0000000000000003',
    ],
    [
      'move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]',
      {
        type: 'regMove',
        src: { field: 'ethSrc', ofs: 0, nBits: 48 },
        dst: { field: 'ethDst', ofs: 0, nBits: 48 },
      },
      'ffff 0018 00002320 0006 0030 0000 0000 00000406 00000206',
    ],
    [
      'conjunction(7,1/3)',
      { type: 'conjunction', id: 7, clause: 1, nClauses: 3 },
      'ffff 0010 00002320 0022 00 03 00000007',
    ],
    [
      'ct(commit,zone=1)',
      { type: 'ct', commit: true, zone: 1 },
      'ffff 0018 00002320 0023 0001 00000000 0001 ff 000000 0000',
    ],
    [
      'ct(zone=NXM_NX_REG6[0..15],table=1)',
      { type: 'ct', zone: { field: 'reg6', ofs: 0, nBits: 16 }, table: 1 },
      'ffff 0018 00002320 0023 0000 00010c04 000f 01 000000 0000',
    ],
    [
      'nat(src=10.0.0.1)',
      { type: 'nat', kind: 'src', ipMin: '10.0.0.1' },
      'ffff 0018 00002320 0024 0000 0001 0001 0a000001 00000000',
    ],
    ['ct_clear', { type: 'ctClear' }, 'ffff 0010 00002320 002b 000000000000'],
    ['note:01.02', { type: 'note', data: hex('0102') }, 'ffff 0010 00002320 0008 0102 00000000'],
    [
      'controller(reason=no_match,id=2)',
      { type: 'controller', reason: 0, controllerId: 2 },
      'ffff 0010 00002320 0014 ffff 0002 00 00',
    ],
  ];
  for (const [name, action, bytes] of VECTORS) {
    test(name, () => {
      assert.equal(encA([action]).toString('hex'), hex(bytes).toString('hex'));
    });
  }
});

describe('instructions', () => {
  const ALL: Instruction[] = [
    { type: 'meter', meterId: 4 },
    { type: 'applyActions', actions: [{ type: 'popVlan' }, { type: 'output', port: 1 }] },
    { type: 'clearActions' },
    { type: 'writeActions', actions: [{ type: 'group', groupId: 2 }] },
    { type: 'writeMetadata', metadata: 0x8000000000000001n, mask: 0xffffffffffffffffn },
    { type: 'gotoTable', tableId: 3 },
  ];
  for (const ins of ALL) {
    test(`round trip ${ins.type}`, () => {
      const buf = encI([ins]);
      assert.equal(buf.readUInt16BE(2), buf.length);
      assert.deepEqual(decodeInstructions(new Reader(buf)), [ins]);
    });
  }

  test('all of them back to back, and empty action lists', () => {
    const list: Instruction[] = [...ALL, { type: 'applyActions', actions: [] }];
    assert.deepEqual(decodeInstructions(new Reader(encI(list))), list);
  });

  test('byte layouts', () => {
    assert.equal(encI([{ type: 'gotoTable', tableId: 3 }]).toString('hex'), '0001000803000000');
    assert.equal(encI([{ type: 'meter', meterId: 7 }]).toString('hex'), '0006000800000007');
    assert.equal(encI([{ type: 'clearActions' }]).toString('hex'), '0005000800000000');
    assert.equal(
      encI([{ type: 'writeMetadata', metadata: 1n, mask: 3n }]).toString('hex'),
      '000200180000000000000000000000010000000000000003',
    );
    assert.equal(
      encI([{ type: 'applyActions', actions: [{ type: 'decTtl' }] }]).toString('hex'),
      '0004001000000000' + '0018000800000000',
    );
  });
});

describe('field headers', () => {
  test('registers, ct fields and OXM-only fields use the header OVS writes back', () => {
    assert.deepEqual(fieldHeader('reg6'), { header: 0x00010c04, bits: 32 });
    assert.deepEqual(fieldHeader('ctMark'), { header: 0x0001d604, bits: 32 });
    assert.deepEqual(fieldHeader('xxreg0'), { header: 0x0001de10, bits: 128 });
    assert.deepEqual(fieldHeader('ethDst'), { header: 0x00000206, bits: 48 });
    assert.deepEqual(fieldHeader('metadata'), { header: 0x80000408, bits: 64 });
    assert.deepEqual(fieldHeader('inPort'), { header: 0x00000002, bits: 16 });
  });

  test('the reverse lookup knows NXM headers and the OXM_OF aliases of the same fields', () => {
    assert.equal(fieldFromHeader(0x00010c04), 'reg6');
    assert.equal(fieldFromHeader(0x80000606), 'ethDst');
    assert.equal(fieldFromHeader(0x80004c08), 'tunnelId');
    assert.equal(fieldFromHeader(0x00012008), 'tunId');
    assert.equal(fieldFromHeader(0x12345678), undefined);
  });
});

describe('malformed input', () => {
  test('unknown standard action type names the type', () => {
    const e = codecError(() => decodeActions(new Reader(hex('0005 0010 000000000000 0000000000000000'))));
    assert.equal(e.structure, 'action');
    assert.equal(e.field, 'type');
    assert.match(e.message, /unknown action type 5\b/);
  });

  test('unknown Nicira subtype names the subtype', () => {
    const e = codecError(() => decodeActions(new Reader(hex('ffff 0010 00002320 0063 000000000000'))));
    assert.equal(e.structure, 'action');
    assert.equal(e.field, 'subtype');
    assert.match(e.message, /subtype 99\b/);
  });

  test('unknown experimenter names it', () => {
    const e = codecError(() => decodeActions(new Reader(hex('ffff 0010 4f4e4600 0c80 000000000000'))));
    assert.equal(e.field, 'experimenter');
    assert.match(e.message, /0x4f4e4600/);
  });

  test('a length that is not a multiple of 8 names the action and the length', () => {
    const e = codecError(() => decodeActions(new Reader(hex('0016 000c 00000005 00000000'))));
    assert.equal(e.structure, 'action');
    assert.equal(e.field, 'group length');
    assert.match(e.message, /\b12\b/);
  });

  test('a zero length is rejected rather than looping', () => {
    const e = codecError(() => decodeActions(new Reader(hex('0018 0000 00000000'))));
    assert.equal(e.field, 'dec_nw_ttl length');
  });

  test('a length that overruns the list names the action and the length', () => {
    const e = codecError(() => decodeActions(new Reader(hex('ffff 0020 00002320 0022 00 03 00000007'))));
    assert.equal(e.field, 'NXAST_CONJUNCTION length');
    assert.match(e.message, /\b32\b.*16 bytes left/);
  });

  test('a wrong fixed length is rejected', () => {
    const e = codecError(() => decodeActions(new Reader(hex('0000 0008 00000001'))));
    assert.equal(e.field, 'output length');
    assert.match(e.message, /8, expected 16/);
  });

  test('trailing bytes too short for an action', () => {
    const e = codecError(() => decodeActions(new Reader(hex('0012 0008 00000000 0012'))));
    assert.equal(e.field, 'length');
  });

  test('a conjunction whose clause is not below n_clauses', () => {
    const e = codecError(() => decodeActions(new Reader(hex('ffff 0010 00002320 0022 03 03 00000007'))));
    assert.equal(e.field, 'conjunction.clause');
  });

  test('an unknown field header in reg_load', () => {
    const e = codecError(() =>
      decodeActions(new Reader(hex('ffff 0018 00002320 0007 000f 12345604 0000000000000001'))),
    );
    assert.equal(e.field, 'reg_load.dst');
    assert.match(e.message, /0x12345604/);
  });

  test('nested actions of ct are checked too', () => {
    const e = codecError(() =>
      decodeActions(
        new Reader(hex('ffff 0020 00002320 0023 0001 00000000 0000 ff 000000 0000 0005 0008 00000000')),
      ),
    );
    assert.equal(e.field, 'type');
  });

  test('unknown instruction type and bad instruction length', () => {
    const e1 = codecError(() => decodeInstructions(new Reader(hex('0007 0008 00000000'))));
    assert.equal(e1.structure, 'instruction');
    assert.match(e1.message, /type 7\b/);
    const e2 = codecError(() => decodeInstructions(new Reader(hex('0001 0010 03000000'))));
    assert.equal(e2.field, 'goto_table length');
    const e3 = codecError(() => decodeInstructions(new Reader(hex('0001 0010 03000000 0000000000000000'))));
    assert.match(e3.message, /16, expected 8/);
  });
});

describe('bad input to the encoder names the field', () => {
  const BAD: Array<[string, Action, RegExp]> = [
    ['conjunction clause 0', { type: 'conjunction', id: 1, clause: 0, nClauses: 3 }, /conjunction\.clause/],
    [
      'conjunction clause > nClauses',
      { type: 'conjunction', id: 1, clause: 4, nClauses: 3 },
      /conjunction\.clause/,
    ],
    [
      'conjunction nClauses 65',
      { type: 'conjunction', id: 1, clause: 1, nClauses: 65 },
      /conjunction\.nClauses/,
    ],
    [
      'conjunction nClauses 1',
      { type: 'conjunction', id: 1, clause: 1, nClauses: 1 },
      /conjunction\.nClauses/,
    ],
    ['resubmit with neither port nor table', { type: 'resubmit' }, /resubmit/],
    ['resubmit to a port without a 16-bit number', { type: 'resubmit', port: 0x10000 }, /resubmit\.port/],
    [
      'reg_load value wider than the range',
      { type: 'regLoad', dst: { field: 'reg0', ofs: 0, nBits: 4 }, value: 16n },
      /regLoad\.value/,
    ],
    [
      'reg_load range beyond the field',
      { type: 'regLoad', dst: { field: 'reg0', ofs: 30, nBits: 4 }, value: 1n },
      /regLoad\.dst/,
    ],
    [
      'reg_move of different widths',
      { type: 'regMove', src: { field: 'reg0', ofs: 0, nBits: 4 }, dst: { field: 'reg1', ofs: 0, nBits: 5 } },
      /regMove\.nBits/,
    ],
    ['ct force without commit', { type: 'ct', force: true }, /ct\.force/],
    ['ct zone range not 16 bits', { type: 'ct', zone: { field: 'reg6', ofs: 0, nBits: 8 } }, /ct\.zone/],
    [
      'nat hash and random',
      { type: 'nat', kind: 'src', ipMin: '1.2.3.4', hash: true, random: true },
      /nat\.hash/,
    ],
    ['nat ports without address', { type: 'nat', kind: 'src', portMin: 10 }, /nat\.ipMin/],
    ['nat bad address', { type: 'nat', kind: 'src', ipMin: '10.0.0.256' }, /nat\.ipMin/],
    ['nat address of three octets', { type: 'nat', kind: 'src', ipMin: '10.0.1' }, /nat\.ipMin/],
    ['nat address of five octets', { type: 'nat', kind: 'src', ipMin: '10.0.0.1.2' }, /nat\.ipMin/],
    ['nat bad max address', { type: 'nat', kind: 'src', ipMin: '10.0.0.1', ipMax: '10.0..2' }, /nat\.ipMax/],
    ['nat bad ipv6 address', { type: 'nat', kind: 'dst', ipMin: 'fd00::1::2' }, /nat\.ipMin/],
  ];
  for (const [name, action, re] of BAD) {
    test(name, () => {
      assert.throws(() => encA([action]), re);
    });
  }
});
