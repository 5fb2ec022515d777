// Owns checking our encoder against Open vSwitch as the oracle: every message kind we encode is
// printed by `ovs-ofctl ofp-print` and compared with text written by hand. It never starts a daemon.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writer } from '../../controller/openflow/buffer.js';
import { encode, encodeBundleAdd } from '../../controller/openflow/encode.js';
import { BundleCtrlType } from '../../controller/openflow/messages.js';
import { ofpPrint } from '../harness/ofctl.js';
import { requireCommands } from '../harness/require.js';
import { flowMod, sampleMessages } from '../unit/openflow-samples.js';

const PACKET = [
  'icmp,vlan_tci=0x0000,dl_src=00:11:22:33:44:55,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.0.0.1,nw_dst=10.0.0.2,',
  'nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=0,icmp_code=0',
].join('');

const FLOW =
  'priority=100,tcp,in_port=1,nw_src=10.0.0.1,nw_dst=10.1.0.0/16,tp_dst=80 cookie:0x102030405060708 idle:10 hard:20' +
  ' send_flow_rem actions=set_field:00:11:22:33:44:55->eth_dst,output:2,goto_table:3';

const PORT_DETAIL = [
  '     config:     0',
  '     state:      LIVE',
  '     current:    10GB-FD COPPER AUTO_NEG',
  '     speed: 10000 Mbps now, 0 Mbps max',
];

/** What OVS 3.1 prints for each sample in openflow-samples.ts, by sample name. */
const EXPECTED: Record<string, string[]> = {
  hello: ['OFPT_HELLO (OF1.3) (xid=0x1):', ' version bitmap: 0x01, 0x04'],
  // Without a bitmap, the header version (1.3) implies every version up to it.
  'hello without bitmap': ['OFPT_HELLO (OF1.3) (xid=0x2):', ' version bitmap: 0x01, 0x02, 0x03, 0x04'],
  error: [
    'OFPT_ERROR (OF1.3) (xid=0x1f): OFPBAC_BAD_OUT_PORT',
    'OFPT_FLOW_MOD (OF1.3) (xid=0x10):',
    '(***truncated to 16 bytes from 80***)',
    '00000000  04 0e 00 50 00 00 00 10-00 00 00 00 00 00 00 00 |...P............|',
  ],
  // OVS names the ONF 1.3 bundle errors by their OpenFlow 1.4 names.
  'error (ONF bundle)': [
    'OFPT_ERROR (OF1.3) (xid=0x20): OFPBFC_BAD_ID',
    '(***truncated to 8 bytes from 24***)',
    '00000000  04 04 00 18 00 00 00 20-                        |.......         |',
  ],
  'echo request': [
    'OFPT_ECHO_REQUEST (OF1.3) (xid=0x3): 4 bytes of payload',
    '00000000  70 69 6e 67                                     |ping            |',
  ],
  'echo reply': ['OFPT_ECHO_REPLY (OF1.3) (xid=0x3): 0 bytes of payload'],
  'features request': ['OFPT_FEATURES_REQUEST (OF1.3) (xid=0x4):'],
  'features reply': [
    'OFPT_FEATURES_REPLY (OF1.3) (xid=0x4): dpid:0000505400000001',
    'n_tables:254, n_buffers:0',
    'capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS QUEUE_STATS',
  ],
  'get config request': ['OFPT_GET_CONFIG_REQUEST (OF1.3) (xid=0x5):'],
  'get config reply': ['OFPT_GET_CONFIG_REPLY (OF1.3) (xid=0x5): frags=normal miss_send_len=128'],
  'set config': ['OFPT_SET_CONFIG (OF1.3) (xid=0x6): frags=normal miss_send_len=65535'],
  'packet in': [
    'OFPT_PACKET_IN (OF1.3) (xid=0x0): table_id=5 cookie=0xab total_len=34 reg0=0x7,in_port=3 (via action) data_len=34 (unbuffered)',
    PACKET,
  ],
  'packet out': [
    'OFPT_PACKET_OUT (OF1.3) (xid=0x7): in_port=CONTROLLER actions=output:2 data_len=34',
    PACKET,
  ],
  'flow mod': [`OFPT_FLOW_MOD (OF1.3) (xid=0x10): ADD table:2 ${FLOW}`],
  'flow mod delete': [
    'OFPT_FLOW_MOD (OF1.3) (xid=0x11): DEL table:255 priority=100 cookie:0xff000000000000/0xffff000000000000 idle:10 hard:20 actions=drop',
  ],
  'flow removed': [
    'OFPT_FLOW_REMOVED (OF1.3) (xid=0x0): priority=100,arp reason=hard table_id=5 cookie:0xfedcba9876543210 duration1.010s idle60 hard120 pkts1234567 bytes1869134438',
  ],
  'port status': [
    'OFPT_PORT_STATUS (OF1.3) (xid=0x0): ADD: 1(veth1): addr:aa:bb:cc:dd:ee:01',
    ...PORT_DETAIL,
  ],
  'group mod': [
    'OFPT_GROUP_MOD (OF1.3) (xid=0x8):',
    ' ADD group_id=7,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=output:2',
  ],
  'meter mod': [
    'OFPT_METER_MOD (OF1.3) (xid=0x9): ADD meter=5 kbps burst stats bands=',
    'type=drop rate=1000 burst_size=100',
    'type=dscp_remark rate=2000 burst_size=200 prec_level=1',
  ],
  'barrier request': ['OFPT_BARRIER_REQUEST (OF1.3) (xid=0x5):'],
  'barrier reply': ['OFPT_BARRIER_REPLY (OF1.3) (xid=0x5):'],
  'role request': ['OFPT_ROLE_REQUEST (OF1.3) (xid=0xa): role=primary generation_id=3'],
  'role reply': ['OFPT_ROLE_REPLY (OF1.3) (xid=0xa): role=secondary generation_id=3'],
  'get async request': ['OFPT_GET_ASYNC_REQUEST (OF1.3) (xid=0x7):'],
  'get async reply': [
    'OFPT_GET_ASYNC_REPLY (OF1.3) (xid=0x7):',
    ' primary:',
    '       PACKET_IN: no_match action',
    '     PORT_STATUS: add delete modify',
    '    FLOW_REMOVED: idle hard delete group_delete',
    '     ROLE_STATUS: (off)',
    '    TABLE_STATUS: (off)',
    '  REQUESTFORWARD: (off)',
    '',
    ' secondary:',
    '       PACKET_IN: (off)',
    '     PORT_STATUS: (off)',
    '    FLOW_REMOVED: (off)',
    '     ROLE_STATUS: (off)',
    '    TABLE_STATUS: (off)',
    '  REQUESTFORWARD: (off)',
  ],
  'set async': [
    'OFPT_SET_ASYNC (OF1.3) (xid=0x7):',
    ' primary:',
    '       PACKET_IN: no_match action',
    '     PORT_STATUS: add delete modify',
    '    FLOW_REMOVED: idle hard delete group_delete',
    '     ROLE_STATUS: (off)',
    '    TABLE_STATUS: (off)',
    '  REQUESTFORWARD: (off)',
    '',
    ' secondary:',
    '       PACKET_IN: (off)',
    '     PORT_STATUS: (off)',
    '    FLOW_REMOVED: (off)',
    '     ROLE_STATUS: (off)',
    '    TABLE_STATUS: (off)',
    '  REQUESTFORWARD: (off)',
  ],
  'bundle control': [
    'ONFT_BUNDLE_CONTROL (OF1.3) (xid=0xb):',
    ' bundle_id=0x1 type=OPEN_REQUEST flags=atomic ordered',
  ],
  'bundle add': [
    'ONFT_BUNDLE_ADD_MESSAGE (OF1.3) (xid=0xc):',
    ' bundle_id=0x1 flags=atomic',
    `OFPT_FLOW_MOD (OF1.3) (xid=0xc): ADD table:2 ${FLOW}`,
  ],
  experimenter: ['NXT_SET_CONTROLLER_ID (OF1.3) (xid=0xd): id=7'],
  'mp desc request': ['OFPST_DESC request (OF1.3) (xid=0x14):'],
  'mp flow request': ['OFPST_FLOW request (OF1.3) (xid=0x15): arp'],
  'mp aggregate request': ['OFPST_AGGREGATE request (OF1.3) (xid=0x16): arp'],
  'mp port stats request': ['OFPST_PORT request (OF1.3) (xid=0x17): port_no=ANY'],
  'mp port desc request': ['OFPST_PORT_DESC request (OF1.3) (xid=0x18): port=ANY'],
  'mp group desc request': ['OFPST_GROUP_DESC request (OF1.3) (xid=0x19): group_id=ALL'],
  'mp meter request': ['OFPST_METER request (OF1.3) (xid=0x1a): meter=1'],
  'mp meter config request': ['OFPST_METER_CONFIG request (OF1.3) (xid=0x1b): meter=1'],
  'mp desc reply': [
    'OFPST_DESC reply (OF1.3) (xid=0x14):',
    'Manufacturer: Nicira, Inc.',
    'Hardware: Open vSwitch',
    'Software: 3.1.0',
    'Serial Num: None',
    'DP Description: br0',
  ],
  'mp flow reply': [
    'OFPST_FLOW reply (OF1.3) (xid=0x15):',
    ' cookie=0x5, duration=3.005s, table=2, n_packets=2, n_bytes=128, priority=100,tcp,in_port=1,nw_src=10.0.0.1,nw_dst=10.1.0.0/16,tp_dst=80 actions=set_field:00:11:22:33:44:55->eth_dst,output:2,goto_table:3',
    ' cookie=0x0, duration=1s, table=0, n_packets=0, n_bytes=0, priority=0 actions=drop',
  ],
  'mp aggregate reply': [
    'OFPST_AGGREGATE reply (OF1.3) (xid=0x16): packet_count=121 byte_count=19279 flow_count=3',
  ],
  'mp port stats reply': [
    'OFPST_PORT reply (OF1.3) (xid=0x17): 1 ports',
    '  port  1: rx pkts=1, bytes=3, drop=5, errs=7, frame=9, over=10, crc=11',
    '           tx pkts=2, bytes=4, drop=6, errs=8, coll=12',
    '           duration=13.000000014s',
  ],
  'mp port desc reply': [
    'OFPST_PORT_DESC reply (OF1.3) (xid=0x18):',
    ' 1(veth1): addr:aa:bb:cc:dd:ee:01',
    ...PORT_DETAIL,
    ' LOCAL(br0): addr:02:00:00:00:00:fe',
    ...PORT_DETAIL,
  ],
  'mp group desc reply': [
    'OFPST_GROUP_DESC reply (OF1.3) (xid=0x19):',
    ' group_id=1,type=all,bucket=actions=output:2',
  ],
  'mp meter reply': [
    'OFPST_METER reply (OF1.3) (xid=0x1a):',
    'meter:1 flow_count:2 packet_in_count:3 byte_in_count:4 duration:5.000000006s bands:',
    '0: packet_count:7 byte_count:8',
  ],
  'mp meter config reply': [
    'OFPST_METER_CONFIG reply (OF1.3) (xid=0x1b):',
    'meter=1 kbps bands=',
    'type=drop rate=100',
  ],
  'mp unknown reply': [
    'OFPST_TABLE reply (OF1.3) (xid=0x1c): flags=[more]',
    '  table 0:',
    '    active=5, lookup=100, matched=10',
  ],
};

/** Signs that OVS did not accept our bytes as a well-formed message. */
const COMPLAINTS = /decode error|bad |only uses|\*\*\*|unknown|too short|invalid/i;

describe('ovs-ofctl ofp-print reads what we encode', () => {
  for (const { name, msg } of sampleMessages()) {
    it(name, async (t) => {
      if (!requireCommands(t, 'ovs-ofctl')) return;
      const expected = EXPECTED[name];
      assert.ok(expected, `no expected text written for sample "${name}"`);
      // ERROR messages quote a truncated request by design; everything else must print clean
      // (strict ofpPrint throws on OVS's "***" complaints).
      const clean = msg.type !== 'error';
      const text = await ofpPrint(encode(msg), { strict: clean });
      assert.equal(text, expected.join('\n'));
      if (clean) assert.doesNotMatch(text, COMPLAINTS);
    });
  }

  it('bundle commit request and open reply', async (t) => {
    if (!requireCommands(t, 'ovs-ofctl')) return;
    const commit = encode({
      type: 'bundleControl',
      xid: 0x30,
      bundleId: 0xabc,
      ctrlType: BundleCtrlType.COMMIT_REQUEST,
      flags: 0,
    });
    assert.equal(
      await ofpPrint(commit),
      'ONFT_BUNDLE_CONTROL (OF1.3) (xid=0x30):\n bundle_id=0xabc type=COMMIT_REQUEST flags=0',
    );
    const reply = encode({
      type: 'bundleControl',
      xid: 0x31,
      bundleId: 2,
      ctrlType: BundleCtrlType.OPEN_REPLY,
      flags: 1,
    });
    assert.equal(
      await ofpPrint(reply),
      'ONFT_BUNDLE_CONTROL (OF1.3) (xid=0x31):\n bundle_id=0x2 type=OPEN_REPLY flags=atomic',
    );
  });

  it('FLOW_MODs streamed into one writer inside bundle adds each print as a whole message', async (t) => {
    if (!requireCommands(t, 'ovs-ofctl')) return;
    const w = new Writer(256);
    const starts: number[] = [];
    for (let i = 0; i < 3; i++) {
      starts.push(w.off);
      encodeBundleAdd(w, 0x40 + i, 7, 1, { ...flowMod, priority: 200 + i, flags: 0 });
    }
    starts.push(w.off);
    const all = w.take();
    for (let i = 0; i < 3; i++) {
      const text = await ofpPrint(all.subarray(starts[i], starts[i + 1]));
      const lines = text.split('\n');
      assert.equal(lines[0], `ONFT_BUNDLE_ADD_MESSAGE (OF1.3) (xid=0x${(0x40 + i).toString(16)}):`);
      assert.equal(lines[1], ' bundle_id=0x7 flags=atomic');
      assert.match(
        lines[2] ?? '',
        new RegExp(
          `^OFPT_FLOW_MOD \\(OF1\\.3\\) \\(xid=0x${(0x40 + i).toString(16)}\\): ADD table:2 priority=${200 + i},tcp,`,
        ),
      );
      assert.doesNotMatch(text, COMPLAINTS);
    }
  });
});
