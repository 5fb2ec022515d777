// Owns the BGP benchmarks on the BGP lab (FRR ToR, a host with OVS, agent and gobgpd):
// bgp-announce: 10,000 endpoint records written to the store at once until all 10,000 /32s are in
//   the ToR's kernel table; peer: a plain gobgpd that already holds the same routes when its
//   session comes up, from Established until all are in the ToR's table. Target ours ÷ peer ≤ 1.5.
// bgp-learn: 10,000 routes announced by the ToR until the matching flows are in OVS; target < 2 s.

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GobgpApi } from '../datapath/bgp/gobgp-api.js';
import { GobgpdSupervisor } from '../datapath/bgp/gobgpd.js';
import { type EndpointRecord, endpointKey } from '../policy/model/endpoint.js';
import { type BgpLab, startBgpLab } from '../test/harness/bgp-lab.js';
import { onCleanup, runCleanups } from '../test/harness/cleanup.js';
import { endpointRecord } from '../test/harness/intents.js';
import { tempDirPrefix } from '../test/harness/names.js';
import { LAB_COMMANDS, missingFor } from '../test/harness/require.js';
import { run } from '../test/harness/run.js';
import { log } from './openflow-install.js';
import type { Benchmark, BenchResult } from './run.js';

const N = Number(process.env.BGP_N ?? 10_000);
const LEARN_TARGET_S = 2;
const ANNOUNCE_TARGET_RATIO = 1.5;

function need(): void {
  const missing = missingFor(...LAB_COMMANDS, 'nsenter', 'gobgpd', 'vtysh');
  if (missing.length > 0) throw new Error(`benchmark needs ${missing.join(', ')}`);
}

async function until(what: string, cond: () => Promise<boolean>, ms: number, every = 50): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

/** /32s of the endpoint range in the ToR's kernel table. */
async function torHostRoutes(lab: BgpLab): Promise<number> {
  const out = await run('ip', ['-n', lab.torNs.name, 'route', 'show', 'proto', 'bgp']);
  let n = 0;
  for (const line of out.split('\n')) if (line.startsWith('20.1.') && !line.includes('/')) n++;
  return n;
}

/**
 * When the ToR's kernel got the routes, by its own clock: `ip -ts monitor route` in the ToR's
 * namespace stamps each change as the kernel reports it. Polling from this process would measure
 * late whenever the agent (same process) holds the event loop compiling, which a real netplugin
 * would not do to an observer. Its output goes to a file, not a pipe: a pipe this busy process
 * does not drain would block ip, and the kernel would drop the netlink messages it cannot queue.
 */
class TorRouteClock {
  private armedAt = 0;
  private target = 0;

  private constructor(private readonly file: string) {}

  static async start(ns: string): Promise<TorRouteClock> {
    const dir = await mkdtemp(tempDirPrefix('torclk'));
    const file = join(dir, 'routes');
    const fd = openSync(file, 'w');
    const p = spawn('ip', ['-n', ns, '-ts', 'monitor', 'route'], { stdio: ['ignore', fd, 'ignore'] });
    closeSync(fd);
    onCleanup(async () => {
      p.kill();
      await rm(dir, { recursive: true, force: true });
    });
    await sleep(200);
    return new TorRouteClock(file);
  }

  /** From now, note when the table holds `n` of the /32s. */
  arm(n: number): void {
    this.target = n;
    this.armedAt = statSync(this.file).size;
  }

  /**
   * Wall-clock ms when it did, once ip has written it (it may trail the polling that saw the
   * table full); 0 when not seen within 3 s (a lost netlink message, say).
   */
  async fullAt(): Promise<number> {
    const deadline = Date.now() + 3000;
    for (;;) {
      const at = this.scan();
      if (at !== 0 || Date.now() > deadline) return at;
      await sleep(50);
    }
  }

  private scan(): number {
    const text = readFileSync(this.file);
    const present = new Set<string>();
    let offset = 0;
    for (const l of text.toString('latin1').split('\n')) {
      const after = offset >= this.armedAt;
      offset += l.length + 1;
      const m = /^\[(\S+)\] (Deleted )?(20\.1\.\d+\.\d+) /.exec(l);
      if (!m) continue;
      if (m[2]) present.delete(m[3] as string);
      else present.add(m[3] as string);
      // ip prints local time without a zone: Date parses such an ISO text as local time too.
      if (after && present.size === this.target) return Date.parse(m[1] as string);
    }
    return 0;
  }
}

const ipOf = (i: number) => `20.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;

function record(i: number): EndpointRecord {
  return endpointRecord({
    id: `bench${i}`,
    network: 'public',
    ip: ipOf(i),
    host: 'h1',
    intfName: `bench${i}`,
  });
}

async function announce(): Promise<BenchResult[]> {
  need();
  try {
    const lab = await startBgpLab({ hosts: 1 });
    await until('session', () => lab.established(), 20_000);
    const clock = await TorRouteClock.start(lab.torNs.name);
    clock.arm(N);
    const t0 = Date.now();
    // "At once": one transaction, one revision, one watch batch.
    await lab.store.txn(
      [],
      Array.from({ length: N }, (_, i) => ({
        type: 'put' as const,
        key: endpointKey(`bench${i}`),
        value: JSON.stringify(record(i)),
      })),
    );
    const written = Date.now() - t0;
    await until(`${N} /32s on the ToR`, async () => (await torHostRoutes(lab)) === N, 120_000, 100);
    const polled = (Date.now() - t0) / 1000;
    const oursAt = await clock.fullAt();
    const ours = oursAt ? (oursAt - t0) / 1000 : polled;
    log(
      `ours: ${ours.toFixed(2)} s (store writes ${(written / 1000).toFixed(2)} s; seen by polling at ${polled.toFixed(2)} s)`,
    );

    // Peer: the agent goes (its gobgpd with it; the router port and its flows stay in OVS), then a
    // plain gobgpd holding the same paths opens its session.
    await lab.plugins[0]?.stop({ stopGobgpd: true });
    await until('ToR empty', async () => (await torHostRoutes(lab)) === 0, 60_000, 100);
    const stateDir = await mkdtemp(tempDirPrefix('gobgp'));
    const peer = new GobgpdSupervisor({ netns: lab.hosts[0]?.netns as string, stateDir });
    const api = await new Promise<GobgpApi>((resolve) => {
      peer.once('up', resolve);
      peer.start();
    });
    try {
      await api.startBgp(65002, '50.1.1.2');
      await api.addPaths(
        Array.from({ length: N }, (_, i) => [`${ipOf(i)}/32`, '50.1.1.2'] as [string, string]),
      );
      let established = 0;
      const stopWatch = api.watch(
        () => undefined,
        (_a, state) => {
          if (state === 'ESTABLISHED' && established === 0) established = Date.now();
        },
        () => undefined,
      );
      clock.arm(N);
      await api.addPeer('50.1.1.1', 500, { connectRetrySec: 1 });
      await until('peer established', async () => established !== 0, 30_000, 10);
      await until(`${N} /32s on the ToR (peer)`, async () => (await torHostRoutes(lab)) === N, 120_000, 100);
      const peerPolled = (Date.now() - established) / 1000;
      const peerAt = await clock.fullAt();
      const peerS = peerAt ? (peerAt - established) / 1000 : peerPolled;
      stopWatch();
      log(`peer: ${peerS.toFixed(2)} s (seen by polling at ${peerPolled.toFixed(2)} s)`);
      return [
        {
          name: 'bgp-announce',
          value: ours,
          unit: 's',
          peer: `plain gobgpd holding ${N} routes, from Established`,
          peerValue: peerS,
          ratio: ours / peerS,
          context: {
            routes: N,
            routesPerSec: Math.round(N / ours),
            peerRoutesPerSec: Math.round(N / peerS),
            storeWritesS: Number((written / 1000).toFixed(3)),
            oursPolledS: Number(polled.toFixed(3)),
            peerPolledS: Number(peerPolled.toFixed(3)),
            clock: `${oursAt ? 'ip -ts monitor route' : 'polling'} (ours), ${peerAt ? 'ip -ts monitor route' : 'polling'} (peer)`,
            target: `ratio ≤ ${ANNOUNCE_TARGET_RATIO}`,
          },
        },
      ];
    } finally {
      await peer.stop({ kill: true });
      await rm(stateDir, { recursive: true, force: true });
    }
  } finally {
    await runCleanups();
  }
}

async function learn(): Promise<BenchResult[]> {
  need();
  try {
    const lab = await startBgpLab({ hosts: 1, torGlobal: ['no bgp network import-check'] });
    await until('session', () => lab.established(), 20_000);
    // The outside prefix is learned first: then only the new routes are awaited.
    await until('outside route', async () => (await lab.learnedFlows(0)) === 1, 20_000);
    const file = `${tempDirPrefix('frrcfg')}networks.conf`;
    const lines = ['router bgp 500', ' address-family ipv4 unicast'];
    for (let i = 0; i < N; i++) lines.push(`  network 30.${Math.floor(i / 256)}.${i % 256}.0/24`);
    lines.push(' exit-address-family', 'end', '');
    await writeFile(file, lines.join('\n'));
    // Our part starts when gobgpd hands the agent the first new route.
    const speaker = lab.plugins[0]?.agent.bgpHook.bgpSpeaker;
    let first = 0;
    let all = 0;
    const sampler = setInterval(() => {
      const n = speaker?.learnedRoutes.size ?? 0;
      if (first === 0 && n > 1) first = performance.now();
      if (all === 0 && n >= N + 1) all = performance.now();
    }, 2);
    const t0 = performance.now();
    await lab.tor.applyFile(file);
    const applied = performance.now() - t0;
    await rm(file, { force: true });
    await until(`${N} flows`, async () => (await lab.learnedFlows(0)) === N + 1, 120_000, 50);
    const end = performance.now();
    clearInterval(sampler);
    const total = (end - t0) / 1000;
    const s = (end - first) / 1000;
    log(
      `learn: ${s.toFixed(2)} s from the first route at gobgpd (the last came at ${((all - first) / 1000).toFixed(2)} s); ${total.toFixed(2)} s from the ToR's config (FRR applied it in ${(applied / 1000).toFixed(2)} s)`,
    );
    return [
      {
        name: 'bgp-learn',
        value: s,
        unit: 's',
        peer: 'target',
        peerValue: LEARN_TARGET_S,
        ratio: s / LEARN_TARGET_S,
        context: {
          routes: N,
          routesPerSec: Math.round(N / s),
          fromTorConfigS: Number(total.toFixed(3)),
          lastRouteAtS: Number(((all - first) / 1000).toFixed(3)),
          afterLastRouteS: Number(((end - all) / 1000).toFixed(3)),
          frrApplyS: Number((applied / 1000).toFixed(3)),
        },
      },
    ];
  } finally {
    await runCleanups();
  }
}

export const announceBenchmark: Benchmark = {
  describe: `${N} endpoints written at once until all /32s are in the FRR ToR's kernel; peer: plain gobgpd from Established (ratio ≤ ${ANNOUNCE_TARGET_RATIO})`,
  run: announce,
};

export const learnBenchmark: Benchmark = {
  describe: `${N} routes announced by the FRR ToR until their flows are in OVS (target < ${LEARN_TARGET_S} s)`,
  run: learn,
};
