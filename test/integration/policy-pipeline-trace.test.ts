// The whole pipeline (forwarding + policy) decides like the reference evaluator: random intents
// compiled for host h1 and installed into a private OVS, then packets between endpoints of one
// network traced from where they really enter (a local endpoint's port with its own MAC and IP, or
// the VXLAN tunnel from h2 with the network's VNI). The registers policy matches (flags, source and
// destination group, VRF) are whatever the forwarding features load, so this checks the two agree.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FlowTableManager } from '../../controller/flowtable/manager.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';
import { applyState, forwardingFeatures } from '../../datapath/pipeline/index.js';
import { policyFeature } from '../../datapath/pipeline/policy.js';
import { compile } from '../../policy/compiler/compile.js';
import type { EndpointIntent, HostFacts, Intent } from '../../policy/compiler/intent.js';
import { runCleanups } from '../harness/cleanup.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { type Conn, evaluate, randomWorld } from '../harness/policy-eval.js';
import { prng } from '../harness/prng.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';
import { overConnections, traceDelivers, Unixctl } from '../harness/unixctl.js';

const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const WORLDS = Number(process.env.POLICY_PIPELINE_WORLDS ?? 150);
const CONNS = 40;
const PARALLEL = 3;
const TUNNEL = 100;
/** Enough ports for every h1 endpoint of a random world. */
const PORTS = 16;

let ovs: OvsInstance;
let br: string;
let conn: SwitchConnection;
const mgr = new FlowTableManager();
/** ofproto/trace over unixctl connections: thousands of ovs-appctl processes would dominate. */
const ctls: Unixctl[] = [];

function facts(intent: Intent): HostFacts {
  const endpointPorts = new Map<string, number>();
  for (const e of intent.endpoints) if (e.host === 'h1') endpointPorts.set(e.id, endpointPorts.size + 1);
  return { name: 'h1', endpointPorts, tunnelPorts: new Map([['h2', TUNNEL]]) };
}

/** Where the packet enters h1: the source's port, or the tunnel with its network's VNI. */
function traceFlow(intent: Intent, f: HostFacts, c: Conn): string {
  const src = c.srcEp as EndpointIntent;
  const dst = c.dstEp as EndpointIntent;
  const net = intent.networks.find((n) => n.tenant === src.tenant && n.name === src.network)!;
  const p = c.packet;
  const [proto, l4] =
    p.proto === 6
      ? ['tcp', `,tcp_src=40000,tcp_dst=${p.dport}`]
      : p.proto === 17
        ? ['udp', `,udp_src=40000,udp_dst=${p.dport}`]
        : p.proto === 1
          ? ['icmp', ',icmp_type=8,icmp_code=0']
          : [`ip,nw_proto=${p.proto}`, ''];
  const entry = c.srcLocal
    ? `in_port=${f.endpointPorts.get(src.id)}`
    : `in_port=${TUNNEL},tun_id=${net.pktTag},tun_src=192.168.0.2,tun_dst=192.168.0.1`;
  return `${proto},${entry},dl_src=${src.mac},dl_dst=${dst.mac},nw_src=${p.src},nw_dst=${p.dst},nw_ttl=64${l4}`;
}

/** New connections within one network that h1 sees: from a local endpoint, or to one from h2. */
function conns(intent: Intent, seed: number, n: number): Conn[] {
  const rand = prng(seed);
  const eps = intent.endpoints;
  const out: Conn[] = [];
  for (let tries = 0; out.length < n && tries < n * 50; tries++) {
    const src = eps[Math.floor(rand() * eps.length)]!;
    const dst = eps[Math.floor(rand() * eps.length)]!;
    if (src === dst || src.network !== dst.network) continue;
    if (src.host !== 'h1' && dst.host !== 'h1') continue;
    const proto = [1, 6, 6, 6, 17, 17, 47][Math.floor(rand() * 7)]!;
    const dport = proto === 6 || proto === 17 ? [22, 80, 443, 8080, 9999][Math.floor(rand() * 5)]! : 0;
    out.push({
      packet: { proto, src: src.ip, dst: dst.ip, dport },
      srcEp: src,
      dstEp: dst,
      srcLocal: src.host === 'h1',
      dstLocal: dst.host === 'h1',
    });
  }
  return out;
}

describe('forwarding + policy pipeline vs the reference evaluator (ofproto/trace)', { skip }, () => {
  before(async () => {
    ovs = await startOvs();
    br = await ovs.addBridge({ failMode: 'secure', protocols: ['OpenFlow13'] });
    for (let port = 1; port <= PORTS; port++) {
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
    await ovs.vsctl(
      'add-port',
      br,
      'vx-h2',
      '--',
      'set',
      'interface',
      'vx-h2',
      'type=vxlan',
      'options:remote_ip=192.168.0.2',
      'options:key=flow',
      `ofport_request=${TUNNEL}`,
    );
    conn = await connectSwitch(ovs.mgmt(br));
    await mgr.attach(conn);
    for (let i = 0; i < PARALLEL; i++) ctls.push(await Unixctl.open(join(ovs.dir, 'ovs-vswitchd.ctl')));
  });
  after(async () => {
    for (const c of ctls) c.close();
    conn?.close();
    await runCleanups();
  });

  test(`${WORLDS} random intents × ${CONNS} connections within a network agree`, async () => {
    let allowed = 0;
    let total = 0;
    // Connections arriving by the tunnel, by verdict: the remote source's group comes from its address.
    const remote = { allowed: 0, denied: 0 };
    for (let w = 1; w <= WORLDS; w++) {
      const { intent } = randomWorld(w + 500, 6, 5, 8);
      const f = facts(intent);
      assert.ok(f.endpointPorts.size <= PORTS);
      await applyState(mgr, compile(intent, f, [...forwardingFeatures, policyFeature]));
      const cs = conns(intent, w * 77, CONNS);
      const got = await overConnections(ctls, cs, (ctl, c) =>
        traceDelivers(ctl, br, traceFlow(intent, f, c), 'trk,new'),
      );
      cs.forEach((c, i) => {
        const want = evaluate(intent, c);
        if (got[i] !== want) {
          const rules = intent.policies.map((p) => `${p.name}: ${JSON.stringify(p.rules)}`).join('\n');
          const groups = JSON.stringify(intent.groups.map((g) => [g.name, g.id, g.policies]));
          assert.fail(
            `world ${w}: ${traceFlow(intent, f, c)} (${c.srcEp?.id}→${c.dstEp?.id}) the pipeline says ${got[i] ? 'deliver' : 'drop'}, the evaluator ${want ? 'allow' : 'deny'}\n${groups}\n${rules}`,
          );
        }
        if (want) allowed++;
        total++;
        if (!c.srcLocal) remote[want ? 'allowed' : 'denied']++;
      });
    }
    assert.ok(allowed > total * 0.2 && allowed < total * 0.95, `allowed ${allowed} of ${total}`);
    assert.ok(remote.allowed > 20 && remote.denied > 20, JSON.stringify(remote));
  });
});
