// netprofile through the running system: a profile on a group marks its members' packets with the
// DSCP (seen on the receiver's interface by tcpdump) and limits each member's rate (measured with
// a UDP flow well above the limit: what arrives is within 20% of the configured rate).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { type AgentLab, type LabEndpoint, startAgentLab } from '../harness/agent.js';
import { startCapture } from '../harness/capture.js';
import { runCleanups } from '../harness/cleanup.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const missing = missingFor(...LAB_COMMANDS, 'tcpdump');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

const RATE_KBPS = 8_000;
const SEND_KBPS = 40_000;
const SECONDS = 3;
const PORT = 5001;

/** Runs a node script inside a namespace and resolves with its stdout. */
function nodeIn(netns: string, script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`node in ${netns}: ${code} ${err}`)),
    );
  });
}

// Counts bytes for `seconds` from the first datagram; prints the received rate in kbit/s.
const RECEIVER = `
const s = require('node:dgram').createSocket('udp4');
const [port, seconds] = process.argv.slice(1).map(Number);
let bytes = 0, t0 = 0;
s.on('message', (m) => {
  if (!t0) { t0 = Date.now(); setTimeout(() => { console.log(Math.round(bytes * 8 / seconds / 1000)); process.exit(0); }, seconds * 1000); }
  bytes += m.length;
});
s.bind(port, () => console.error('ready'));
setTimeout(() => { console.log(0); process.exit(0); }, (seconds + 5) * 1000);
`;

// Paces 1,200-byte datagrams at the given rate for `seconds`.
const SENDER = `
const s = require('node:dgram').createSocket('udp4');
const [ip, port, kbps, seconds] = process.argv.slice(1);
const buf = Buffer.alloc(1200);
const perMs = Number(kbps) * 1000 / 8 / 1000 / buf.length;
const t0 = Date.now(); let sent = 0;
const tick = () => {
  const now = Date.now() - t0;
  if (now > Number(seconds) * 1000) { s.close(); return; }
  while (sent < now * perMs) { s.send(buf, Number(port), ip); sent++; }
  setTimeout(tick, 2);
};
tick();
`;

describe('netprofile', { skip }, () => {
  let lab: AgentLab;
  let gold1: LabEndpoint;
  let plain: LabEndpoint;
  let sink: LabEndpoint;

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    lab = await startAgentLab();
    await lab.rest('POST', '/api/v1/networks/default:n1/', {
      tenantName: 'default',
      networkName: 'n1',
      encap: 'vxlan',
      subnet: '30.1.1.0/24',
    });
    await lab.rest('POST', '/api/v1/netprofiles/default:gold/', {
      tenantName: 'default',
      profileName: 'gold',
      DSCP: 10,
      bandwidth: `${RATE_KBPS / 1000}mbps`,
      burst: 64,
    });
    await lab.rest('POST', '/api/v1/endpointGroups/default:gold/', {
      tenantName: 'default',
      groupName: 'gold',
      networkName: 'n1',
      netProfile: 'gold',
    });
    await lab.rest('POST', '/api/v1/endpointGroups/default:plain/', {
      tenantName: 'default',
      groupName: 'plain',
      networkName: 'n1',
    });
    gold1 = await lab.addEndpoint('gold1', 'n1', 'gold', '30.1.1.1');
    plain = await lab.addEndpoint('plain1', 'n1', 'plain', '30.1.1.2');
    sink = await lab.addEndpoint('sink', 'n1', 'plain', '30.1.1.3');
  });
  after(runCleanups);

  test("a member's packets carry the profile's DSCP; others keep theirs", async () => {
    const cap = await startCapture(sink.ns.name, 'eth0', ['-v', 'icmp']);
    assert.ok(await gold1.ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', sink.ip]).then(() => true));
    assert.ok(await plain.ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', sink.ip]).then(() => true));
    const lines = (await cap.stop()).join('\n');
    // DSCP 10 is TOS 0x28.
    assert.match(lines, /tos 0x28[^\n]*\n[^\n]*30\.1\.1\.1 > 30\.1\.1\.3: ICMP echo request/);
    assert.match(lines, /tos 0x0[^\n]*\n[^\n]*30\.1\.1\.2 > 30\.1\.1\.3: ICMP echo request/);
  });

  test("a member's rate is limited to the profile's bandwidth (within 20%); a non-member's is not", async (t) => {
    const measure = async (from: LabEndpoint) => {
      const received = nodeIn(sink.ns.name, RECEIVER, [String(PORT), String(SECONDS)]);
      await new Promise((r) => setTimeout(r, 300));
      await nodeIn(from.ns.name, SENDER, [sink.ip, String(PORT), String(SEND_KBPS), String(SECONDS + 1)]);
      return Number((await received).trim());
    };
    const limited = await measure(gold1);
    assert.ok(
      limited > RATE_KBPS * 0.8 && limited < RATE_KBPS * 1.2,
      `member received ${limited} kbit/s, profile says ${RATE_KBPS}`,
    );
    const free = await measure(plain);
    t.diagnostic(
      `limit ${RATE_KBPS} kbit/s: member ${limited} kbit/s, non-member ${free} kbit/s (sent ${SEND_KBPS})`,
    );
    assert.ok(free > RATE_KBPS * 1.5, `non-member received ${free} kbit/s: not limited`);
  });
});
