// The compiled policy flows decide like the reference evaluator: hundreds of random intents, each
// installed into a private OVS, and many random new connections per intent traced with
// `ofproto/trace --ct-next trk,new`; the verdict is whether the packet leaves by the output port.
// Tables other than policy's get stand-in miss flows here, so this tests policy alone.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import { Feature, makeCookie } from '../../controller/openflow/cookie.js';
import type { Flow } from '../../controller/openflow/flow.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';
import { policyFeature } from '../../datapath/pipeline/policy.js';
import { FLAG, PIPELINE, table } from '../../datapath/pipeline/tables.js';
import { compile } from '../../policy/compiler/compile.js';
import type { HostFacts, Intent } from '../../policy/compiler/intent.js';
import { runCleanups } from '../harness/cleanup.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { type Conn, evaluate, randomConns, randomWorld } from '../harness/policy-eval.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { overConnections, traceDelivers, Unixctl } from '../harness/unixctl.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const WORLDS = Number(process.env.POLICY_TRACE_WORLDS ?? 300);
const CONNS = 60;
const PARALLEL = 3;
const IN_PORT = 1;
const OUT_PORT = 2;
const HOST: HostFacts = { name: 'h1', endpointPorts: new Map(), tunnelPorts: new Map() };

/** Stand-ins for the forwarding features: table 0 → conntrack; misses go on; output to port 2. */
function scaffold(): Flow[] {
  const cookie = makeCookie(Feature.Test, 1);
  const flows: Flow[] = [
    {
      tableId: 0,
      priority: 0,
      match: {},
      instructions: [{ type: 'gotoTable', tableId: table('conntrack') }],
      cookie,
    },
  ];
  for (const t of PIPELINE) {
    if (t.id === 0) continue;
    const instructions: Flow['instructions'] =
      t.name === 'output'
        ? [{ type: 'applyActions', actions: [{ type: 'output', port: OUT_PORT }] }]
        : t.miss === 'drop'
          ? []
          : [{ type: 'gotoTable', tableId: t.miss === 'next' ? nextId(t.id) : table(t.miss) }];
    flows.push({ tableId: t.id, priority: 0, match: {}, instructions, cookie });
  }
  return flows;
}

function nextId(id: number): number {
  const i = PIPELINE.findIndex((t) => t.id === id);
  return PIPELINE[i + 1]!.id;
}

function groupId(intent: Intent, tenant: string, name: string): number {
  return intent.groups.find((g) => g.tenant === tenant && g.name === name)?.id ?? 0;
}

function traceFlow(intent: Intent, c: Conn): string {
  const flags = (c.srcLocal ? FLAG.fromLocal : 0) | (c.dstLocal ? FLAG.toLocal : 0);
  const sg = c.srcEp?.group ? groupId(intent, c.srcEp.tenant, c.srcEp.group) : 0;
  const dg = c.dstEp?.group ? groupId(intent, c.dstEp.tenant, c.dstEp.group) : 0;
  const p = c.packet;
  // The protocol keyword goes first: the flow parser checks prerequisites as it reads.
  const [proto, l4] =
    p.proto === 6
      ? ['tcp', `,tcp_src=40000,tcp_dst=${p.dport}`]
      : p.proto === 17
        ? ['udp', `,udp_src=40000,udp_dst=${p.dport}`]
        : p.proto === 1
          ? ['icmp', ',icmp_type=8,icmp_code=0']
          : [`ip,nw_proto=${p.proto}`, ''];
  return `${proto},in_port=${IN_PORT},reg0=${flags},reg4=${sg},reg5=${dg},reg6=101,reg7=1,nw_src=${p.src},nw_dst=${p.dst}${l4}`;
}

let ovs: OvsInstance;
let br: string;
let conn: SwitchConnection;
const mgr = new FlowTableManager();
/** ofproto/trace over unixctl connections: thousands of ovs-appctl processes would dominate. */
const ctls: Unixctl[] = [];

describe('policy flows vs the reference evaluator (ofproto/trace)', { skip }, () => {
  before(async () => {
    ovs = await startOvs();
    br = await ovs.addBridge({ failMode: 'secure', protocols: ['OpenFlow13'] });
    for (const port of [IN_PORT, OUT_PORT]) {
      await ovs.vsctl(
        'add-port',
        br,
        `p${port}`,
        '--',
        'set',
        'interface',
        `p${port}`,
        'type=dummy',
        `ofport_request=${port}`,
      );
    }
    conn = await connectSwitch(ovs.mgmt(br));
    await mgr.attach(conn);
    for (let i = 0; i < PARALLEL; i++) ctls.push(await Unixctl.open(join(ovs.dir, 'ovs-vswitchd.ctl')));
  });
  after(async () => {
    for (const c of ctls) c.close();
    conn?.close();
    await runCleanups();
  });

  test(`${WORLDS} random intents × ${CONNS} new connections agree`, async () => {
    let allowed = 0;
    let total = 0;
    for (let w = 1; w <= WORLDS; w++) {
      const world = randomWorld(w, 6, 5, 8);
      const flows = [...scaffold(), ...compile(world.intent, HOST, [policyFeature]).flows];
      await mgr.sync(flows);
      const conns = randomConns(world, w * 1000 + 1, CONNS);
      const got = await overConnections(ctls, conns, (ctl, c) =>
        traceDelivers(ctl, br, traceFlow(world.intent, c), 'trk,new'),
      );
      conns.forEach((c, i) => {
        const want = evaluate(world.intent, c);
        if (got[i] !== want) {
          const rules = world.intent.policies.map((p) => `${p.name}: ${JSON.stringify(p.rules)}`).join('\n');
          const groups = JSON.stringify(world.intent.groups.map((g) => [g.name, g.id, g.policies]));
          assert.fail(
            `world ${w}: ${traceFlow(world.intent, c)} flows say ${got[i] ? 'allow' : 'deny'}, evaluator ${want ? 'allow' : 'deny'}\n${groups}\n${rules}`,
          );
        }
        if (want) allowed++;
        total++;
      });
      // Established and related traffic passes whatever the rules; invalid is dropped.
      const c0 = conns[0]!;
      assert.equal(await traceDelivers(ctls[0]!, br, traceFlow(world.intent, c0), 'trk,est'), true);
      assert.equal(await traceDelivers(ctls[0]!, br, traceFlow(world.intent, c0), 'trk,rel'), true);
      assert.equal(await traceDelivers(ctls[0]!, br, traceFlow(world.intent, c0), 'trk,inv'), false);
    }
    // Both verdicts must be well represented, or the comparison proves little.
    assert.ok(allowed > total * 0.2 && allowed < total * 0.9, `allowed ${allowed} of ${total}`);
  });
});
