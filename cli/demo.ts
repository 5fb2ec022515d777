// The demo's controller: connects to one bridge, installs an L2 + stateful-policy pipeline for the
// endpoints it is given, prints what the switch holds, and keeps converging until stopped.

import { parseArgs } from 'node:util';
import { Feature, makeCookie } from '../controller/flowtable/cookie.js';
import { type Flow, FlowTableManager } from '../controller/flowtable/manager.js';
import { ctState } from '../controller/openflow/match.js';
import { OFPP } from '../controller/openflow/messages.js';
import { SwitchClient } from '../controller/switch/endpoint.js';

interface Endpoint {
  ofport: number;
  ip: string;
  mac: string;
}

const CT_ZONE = 1;
const T_CLASSIFY = 0;
const T_CONNTRACK = 1;
const T_POLICY = 2;
const T_L2 = 3;

/** ofport=IP=MAC */
function parseEndpoint(text: string): Endpoint {
  const [port, ip, mac] = text.split('=');
  if (!port || !ip || !mac || !/^\d+$/.test(port))
    throw new Error(`--endpoint: "${text}" is not OFPORT=IP=MAC`);
  return { ofport: Number(port), ip, mac: mac.toLowerCase() };
}

/**
 * The pipeline: classify → conntrack → policy (established passes; new TCP only to the server's
 * allowed port; ICMP and ARP pass) → L2 by destination MAC.
 */
function pipeline(endpoints: Endpoint[], server: Endpoint, allowPort: number): Flow[] {
  const c = (object: number) => makeCookie(Feature.Classifier, object);
  const p = (object: number) => makeCookie(Feature.Policy, object);
  const l2 = (object: number) => makeCookie(Feature.L2Forwarding, object);
  const flows: Flow[] = [];
  for (const e of endpoints) {
    flows.push({
      tableId: T_CLASSIFY,
      priority: 100,
      match: { inPort: e.ofport },
      instructions: [{ type: 'gotoTable', tableId: T_CONNTRACK }],
      cookie: c(e.ofport),
    });
    flows.push({
      tableId: T_L2,
      priority: 100,
      match: { ethDst: e.mac },
      instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: e.ofport }] }],
      cookie: l2(e.ofport),
    });
  }
  flows.push(
    {
      tableId: T_CONNTRACK,
      priority: 100,
      match: { ethType: 0x0800 },
      instructions: [{ type: 'applyActions', actions: [{ type: 'ct', zone: CT_ZONE, table: T_POLICY }] }],
      cookie: p(1),
    },
    {
      tableId: T_CONNTRACK,
      priority: 1,
      match: {},
      instructions: [{ type: 'gotoTable', tableId: T_L2 }],
      cookie: p(1),
    },
    {
      tableId: T_POLICY,
      priority: 200,
      match: { ethType: 0x0800, ctState: ctState('+trk+est') },
      instructions: [{ type: 'gotoTable', tableId: T_L2 }],
      cookie: p(2),
    },
    {
      tableId: T_POLICY,
      priority: 150,
      match: { ethType: 0x0800, ipProto: 1 },
      instructions: [{ type: 'gotoTable', tableId: T_L2 }],
      cookie: p(3),
    },
    {
      tableId: T_POLICY,
      priority: 120,
      match: {
        ethType: 0x0800,
        ipProto: 6,
        ipv4Dst: server.ip,
        tcpDst: allowPort,
        ctState: ctState('+trk+new'),
      },
      instructions: [
        { type: 'applyActions', actions: [{ type: 'ct', commit: true, zone: CT_ZONE }] },
        { type: 'gotoTable', tableId: T_L2 },
      ],
      cookie: p(4),
    },
    // Everything else that is IP is dropped: a deny rule with no instructions.
    { tableId: T_POLICY, priority: 1, match: { ethType: 0x0800 }, instructions: [], cookie: p(5) },
    {
      tableId: T_L2,
      priority: 10,
      match: { ethDst: 'ff:ff:ff:ff:ff:ff' },
      instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: OFPP.FLOOD }] }],
      cookie: l2(0),
    },
  );
  return flows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      switch: { type: 'string' },
      endpoint: { type: 'string', multiple: true },
      'allow-port': { type: 'string', default: '80' },
      once: { type: 'boolean', default: false },
    },
  });
  if (!values.switch) throw new Error('--switch: required (unix:PATH or tcp:HOST:PORT)');
  const endpoints = (values.endpoint ?? []).map(parseEndpoint);
  const server = endpoints.at(-1);
  if (!server || endpoints.length < 2)
    throw new Error('--endpoint: give at least two (the last is the server)');
  const allowPort = Number(values['allow-port']);
  if (!Number.isInteger(allowPort) || allowPort < 1 || allowPort > 65535) {
    throw new Error(`--allow-port: "${values['allow-port']}" is not a port number`);
  }

  const mgr = new FlowTableManager();
  mgr.setFlows(pipeline(endpoints, server, allowPort));
  const client = new SwitchClient(values.switch);
  const firstSync = new Promise<void>((resolve, reject) => {
    client.on('connected', (conn) => {
      console.log(`connected to datapath 0x${conn.datapathId.toString(16).padStart(16, '0')}`);
      mgr.attach(conn).then(async (stats) => {
        console.log(
          `converged in ${stats.ms.toFixed(1)} ms: +${stats.flowsAdded} ~${stats.flowsModified} -${stats.flowsDeleted} flows`,
        );
        for (const f of await conn.dumpFlows()) {
          console.log(
            `  table=${f.tableId} priority=${f.priority} cookie=0x${f.cookie.toString(16)} packets=${f.packetCount}` +
              ` match=${JSON.stringify(f.match, bigints)} instructions=${JSON.stringify(f.instructions, bigints)}`,
          );
        }
        resolve();
      }, reject);
    });
    client.on('retry', (err) => console.error(`connect failed (${err.message}); retrying`));
    client.on('disconnected', (err) => console.error(`disconnected: ${err?.message ?? 'closed'}`));
  });
  client.start();
  await firstSync;
  if (values.once) {
    client.stop();
    return;
  }
  console.log('controller running; Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  client.stop();
}

function bigints(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `0x${v.toString(16)}` : v;
}

main().catch((err: Error) => {
  console.error(`demo: ${err.message}`);
  process.exit(1);
});
