// Checks our action and instruction bytes with OVS as the oracle: ovs-ofctl ofp-print must print the
// hand-written OVS text for our FLOW_MOD, and OVS's own encoding of that text must decode to our model.
// It must never start a daemon: ofp-print and parse-flow work offline.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Action, Instruction } from '../../controller/openflow/actions.js';
import { decodeInstructions } from '../../controller/openflow/actions-decode.js';
import { Reader } from '../../controller/openflow/buffer.js';
import { encode } from '../../controller/openflow/encode.js';
import { decodeMatch, type Match } from '../../controller/openflow/match.js';
import type { FlowMod } from '../../controller/openflow/messages.js';
import { ofpPrint } from '../harness/ofctl.js';
import { requireCommands } from '../harness/require.js';
import { run } from '../harness/run.js';

const CONTROLLER = 0xfffffffd;
const LOCAL = 0xfffffffe;
const IP: Match = { ethType: 0x0800 };
const IPV6: Match = { ethType: 0x86dd };
const MPLS: Match = { ethType: 0x8847 };
/** The fixed part of ofp_flow_mod before the match (OpenFlow 1.3 §7.3.4.1). */
const FLOW_MOD_FIXED = 48;

interface Case {
  name: string;
  /** Match text for parse-flow and as ofp-print shows it; empty for match-all. */
  matchText: string;
  match: Match;
  instructions: Instruction[];
  /** The `actions=` text OVS prints, written by hand. */
  ovs: string;
  /**
   * What OVS's own encoding of `ovs` decodes to, when it is not `instructions` (OVS reads some
   * texts as a different action); when set, the bytes are not expected to be the same either.
   */
  fromOvs?: Instruction[];
}

function apply(matchText: string, match: Match, actions: Action[], ovs: string, fromOvs?: Action[]): Case {
  const c: Case = { name: ovs, matchText, match, instructions: [{ type: 'applyActions', actions }], ovs };
  if (fromOvs !== undefined) c.fromOvs = [{ type: 'applyActions', actions: fromOvs }];
  return c;
}

const CASES: Case[] = [
  apply('', {}, [{ type: 'output', port: 7 }], 'output:7'),
  apply('', {}, [{ type: 'output', port: CONTROLLER }], 'CONTROLLER:65535'),
  apply('', {}, [{ type: 'output', port: CONTROLLER, maxLen: 128 }], 'CONTROLLER:128'),
  apply('', {}, [{ type: 'group', groupId: 5 }], 'group:5'),
  apply(
    '',
    {},
    [
      { type: 'setQueue', queueId: 9 },
      { type: 'output', port: 1 },
    ],
    'set_queue:9,output:1',
  ),
  apply('', {}, [{ type: 'pushVlan', ethertype: 0x8100 }], 'push_vlan:0x8100'),
  apply('dl_vlan=10', { vlanVid: 0x1000 | 10 }, [{ type: 'popVlan' }], 'pop_vlan'),
  apply('ip', IP, [{ type: 'decTtl' }], 'dec_ttl'),
  apply('mpls', MPLS, [{ type: 'setMplsTtl', ttl: 63 }], 'set_mpls_ttl(63)'),
  apply('ip', IP, [{ type: 'setNwTtl', ttl: 17 }], 'mod_nw_ttl:17'),
  apply(
    '',
    {},
    [
      { type: 'pushVlan', ethertype: 0x8100 },
      { type: 'setField', field: 'vlanVid', value: 0x1000 | 10 },
    ],
    'push_vlan:0x8100,set_field:4106->vlan_vid',
  ),
  apply(
    '',
    {},
    [{ type: 'setField', field: 'ethDst', value: '02:00:00:00:00:01' }],
    'set_field:02:00:00:00:00:01->eth_dst',
  ),
  apply('ip', IP, [{ type: 'setField', field: 'ipv4Src', value: '10.1.2.3' }], 'set_field:10.1.2.3->ip_src'),
  apply('', {}, [{ type: 'setField', field: 'reg3', value: 10 }], 'set_field:0xa->reg3'),
  apply('', {}, [{ type: 'setField', field: 'tunnelId', value: 5000n }], 'set_field:0x1388->tun_id'),
  apply('', {}, [{ type: 'resubmit', table: 5 }], 'resubmit(,5)'),
  apply('', {}, [{ type: 'resubmit', port: 3 }], 'resubmit:3'),
  apply('', {}, [{ type: 'resubmit', port: LOCAL, table: 0 }], 'resubmit(LOCAL,0)'),
  apply('', {}, [{ type: 'outputReg', src: { field: 'reg1', ofs: 0, nBits: 32 } }], 'output:NXM_NX_REG1[]'),
  apply(
    '',
    {},
    [{ type: 'outputReg', src: { field: 'reg6', ofs: 16, nBits: 16 } }],
    'output:NXM_NX_REG6[16..31]',
  ),
  apply(
    '',
    {},
    [{ type: 'regLoad', dst: { field: 'reg0', ofs: 0, nBits: 16 }, value: 0xabcdn }],
    'load:0xabcd->NXM_NX_REG0[0..15]',
  ),
  apply(
    '',
    {},
    [{ type: 'regLoad', dst: { field: 'metadata', ofs: 0, nBits: 64 }, value: 0xffffffffffffffffn }],
    'load:0xffffffffffffffff->OXM_OF_METADATA[]',
  ),
  apply(
    '',
    {},
    [{ type: 'regLoad', dst: { field: 'inPort', ofs: 0, nBits: 16 }, value: 0n }],
    'load:0->NXM_OF_IN_PORT[]',
  ),
  apply(
    '',
    {},
    [
      {
        type: 'regMove',
        src: { field: 'ethSrc', ofs: 0, nBits: 48 },
        dst: { field: 'ethDst', ofs: 0, nBits: 48 },
      },
    ],
    'move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]',
  ),
  apply(
    '',
    {},
    [
      {
        type: 'regMove',
        src: { field: 'reg1', ofs: 4, nBits: 12 },
        dst: { field: 'tunId', ofs: 20, nBits: 12 },
      },
    ],
    'move:NXM_NX_REG1[4..15]->NXM_NX_TUN_ID[20..31]',
  ),
  apply('ip', IP, [{ type: 'conjunction', id: 7, clause: 1, nClauses: 3 }], 'conjunction(7,1/3)'),
  apply('ip', IP, [{ type: 'conjunction', id: 7, clause: 3, nClauses: 3 }], 'conjunction(7,3/3)'),
  apply('ip', IP, [{ type: 'ct', table: 1, zone: 1 }], 'ct(table=1,zone=1)'),
  apply(
    'tcp',
    { ethType: 0x0800, ipProto: 6 },
    [{ type: 'ct', commit: true, force: true, zone: 65535, table: 0, alg: 21 }],
    'ct(commit,force,table=0,zone=65535,alg=ftp)',
  ),
  apply('ip', IP, [{ type: 'ct', actions: [{ type: 'nat' }] }], 'ct(nat)'),
  apply(
    'ip',
    IP,
    [
      {
        type: 'ct',
        commit: true,
        actions: [
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
      },
    ],
    'ct(commit,nat(dst=10.0.0.1-10.0.0.9:1000-2000,random))',
  ),
  apply(
    'ipv6',
    IPV6,
    [
      {
        type: 'ct',
        commit: true,
        actions: [
          {
            type: 'nat',
            kind: 'src',
            ipMin: 'fd00::1',
            ipMax: 'fd00::2:0:0:9',
            persistent: true,
            hash: true,
          },
        ],
      },
    ],
    'ct(commit,nat(src=fd00::1-fd00::2:0:0:9,persistent,hash))',
  ),
  apply(
    'ip',
    IP,
    [
      {
        type: 'ct',
        commit: true,
        zone: { field: 'reg6', ofs: 0, nBits: 16 },
        actions: [
          { type: 'setField', field: 'ctMark', value: 5 },
          { type: 'setField', field: 'ctLabel', value: 1n << 100n },
        ],
      },
    ],
    'ct(commit,zone=NXM_NX_REG6[0..15],exec(set_field:0x5->ct_mark,set_field:0x10000000000000000000000000->ct_label))',
  ),
  apply('ip', IP, [{ type: 'ctClear' }], 'ct_clear'),
  apply('', {}, [{ type: 'note', data: Buffer.from('010203040506', 'hex') }], 'note:01.02.03.04.05.06'),
  // OVS reads the text "CONTROLLER:65535" as an output action, so its bytes differ from ours.
  apply('', {}, [{ type: 'controller' }], 'CONTROLLER:65535', [{ type: 'output', port: CONTROLLER }]),
  apply(
    '',
    {},
    [{ type: 'controller', maxLen: 128, reason: 0, controllerId: 3 }],
    'controller(reason=no_match,max_len=128,id=3)',
  ),
  {
    name: 'ct with nat, then goto_table',
    matchText: 'ip',
    match: IP,
    instructions: [
      {
        type: 'applyActions',
        actions: [
          {
            type: 'ct',
            commit: true,
            zone: { field: 'reg6', ofs: 0, nBits: 16 },
            actions: [{ type: 'nat', kind: 'src', ipMin: '10.0.0.1' }],
          },
        ],
      },
      { type: 'gotoTable', tableId: 3 },
    ],
    ovs: 'ct(commit,zone=NXM_NX_REG6[0..15],nat(src=10.0.0.1)),goto_table:3',
  },
  {
    name: 'every instruction kind, in the order OVS writes them',
    matchText: '',
    match: {},
    instructions: [
      { type: 'meter', meterId: 4 },
      {
        type: 'applyActions',
        actions: [
          { type: 'pushVlan', ethertype: 0x8100 },
          { type: 'output', port: 1 },
        ],
      },
      { type: 'clearActions' },
      { type: 'writeActions', actions: [{ type: 'group', groupId: 2 }] },
      { type: 'writeMetadata', metadata: 0x8000000000000001n, mask: 0xffffffffffffffffn },
      { type: 'gotoTable', tableId: 3 },
    ],
    ovs: 'meter:4,push_vlan:0x8100,output:1,clear_actions,write_actions(group:2),write_metadata:0x8000000000000001,goto_table:3',
  },
  {
    name: 'masked write_metadata alone',
    matchText: '',
    match: {},
    instructions: [{ type: 'writeMetadata', metadata: 0x10n, mask: 0xf0n }],
    ovs: 'write_metadata:0x10/0xf0',
  },
];

function flowMod(c: Case): FlowMod {
  return {
    type: 'flowMod',
    xid: 1,
    cookie: 0n,
    cookieMask: 0n,
    tableId: 0,
    command: 0, // ADD
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 0x8000,
    bufferId: 0xffffffff,
    outPort: 0xffffffff,
    outGroup: 0xffffffff,
    flags: 0,
    match: c.match,
    instructions: c.instructions,
  };
}

/** The bytes of a hex dump as ovs-ofctl prints it ("00000000  04 0e 00 50 ...-... |....|"). */
function fromHexDump(text: string): Buffer {
  const hex: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^[0-9a-f]{8} {2}(.*?) *\|/.exec(line);
    if (m?.[1] !== undefined) hex.push(m[1].replace(/[ -]/g, ''));
  }
  return Buffer.from(hex.join(''), 'hex');
}

/** The instruction bytes of one FLOW_MOD: after the fixed part and the padded match. */
function instructionBytes(msg: Buffer): { match: Match; bytes: Buffer } {
  const r = new Reader(msg, FLOW_MOD_FIXED, msg.readUInt16BE(2), 'FLOW_MOD');
  const match = decodeMatch(r);
  return { match, bytes: msg.subarray(r.off, r.end) };
}

function assertClean(text: string): void {
  assert.doesNotMatch(text, /bad|error|only uses|\*\*\*/i, text);
}

describe('ovs-ofctl prints our actions and instructions as OVS would write them', () => {
  for (const c of CASES) {
    test(c.name, async (t) => {
      if (!requireCommands(t, 'ovs-ofctl')) return;
      const ours = encode(flowMod(c));
      const printed = await ofpPrint(ours);
      assertClean(printed);
      const head = c.matchText === '' ? 'ADD' : `ADD ${c.matchText}`;
      assert.equal(printed, `OFPT_FLOW_MOD (OF1.3) (xid=0x1): ${head} actions=${c.ovs}`);
    });
  }
});

describe("OVS's own encoding of the same text decodes to our model", () => {
  for (const c of CASES) {
    test(c.name, async (t) => {
      if (!requireCommands(t, 'ovs-ofctl')) return;
      const spec = c.matchText === '' ? `actions=${c.ovs}` : `${c.matchText},actions=${c.ovs}`;
      // Verbosity 5 (-mmmmm) makes ofp-print append a hex dump of the encoded message.
      const out = await run('ovs-ofctl', ['-O', 'OpenFlow13', '-mmmmm', 'parse-flow', spec]);
      assertClean(out);
      const theirs = fromHexDump(out);
      assert.equal(theirs[1], 14, 'OVS produced one FLOW_MOD');
      const { match, bytes } = instructionBytes(theirs);
      assert.deepEqual(match, c.match);
      assert.deepEqual(decodeInstructions(new Reader(bytes)), c.fromOvs ?? c.instructions);
      if (c.fromOvs === undefined) {
        // Same model, same bytes: OVS writes back exactly what we send (what dump-flows relies on).
        assert.equal(instructionBytes(encode(flowMod(c))).bytes.toString('hex'), bytes.toString('hex'));
      }
    });
  }
});
