// Owns what the agent asks of BGP on one host: the Bgp object read into a speaker config (errors
// as a clear state, not a crash), the /32s of local endpoints on routing-mode VLAN networks to
// announce, and learned routes turned into prefix → next hop MAC for the pipeline (HostFacts.bgp).
// gobgpd is started (or adopted from an earlier netplugin) the first time this host has a Bgp
// object; a netplugin stopping leaves it running unless told to stop it, and one starting with no
// Bgp object stops a gobgpd left over.

import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { SerialQueue } from '../../lib/serial-queue.js';
import type { Intent } from '../../policy/compiler/intent.js';
import { ipv4Mask, ipv4ToNumber } from '../../policy/ipam/addr.js';
import type { BgpConfig as BgpObject } from '../../policy/model/generated.js';
import type { NetnsRef } from '../host/exec.js';
import { GobgpdSupervisor } from './gobgpd.js';
import { resolveNextHops } from './neighbor.js';
import { type BgpConfig, BgpSpeaker, type BgpStatus } from './speaker.js';

/** Contiv's name for the router port. */
export const ROUTER_PORT_NAME = 'inb01';

export interface BgpHookOptions {
  netns?: NetnsRef;
  /** gobgpd's pidfile, log and default API socket. */
  stateDir: string;
  /** gobgpd's gRPC listen address (default unix://<stateDir>/gobgpd.sock). */
  api?: string;
  binary?: string;
  protoDir?: string;
  logger: Logger;
}

export interface RouterAddress {
  ip: string;
  prefixLen: number;
}

export interface HookEvents {
  /** Learned routes whose next hop is resolved: prefix → next hop MAC. */
  routes: [ReadonlyMap<string, string>];
  status: [BgpStatus & { problem: string }];
}

/** The router port's address, or an error text for a Bgp object that cannot be used. */
export function parseBgpObject(
  o: BgpObject,
): { cfg: BgpConfig; router: RouterAddress; problem: string } | string {
  const m = /^([\d.]+)\/(\d+)$/.exec(o.routerip ?? '');
  const routerIp = m ? ipv4ToNumber(m[1] as string) : undefined;
  if (!m || routerIp === undefined) return `router-ip "${o.routerip ?? ''}" is not a.b.c.d/n`;
  const asn = Number(o.as);
  const neighborAs = Number(o['neighbor-as']);
  if (!Number.isInteger(asn) || asn < 1 || asn > 4294967295) return `as "${o.as ?? ''}" is not an AS number`;
  if (!Number.isInteger(neighborAs) || neighborAs < 1 || neighborAs > 4294967295)
    return `neighbor-as "${o['neighbor-as'] ?? ''}" is not an AS number`;
  const neighbor = o.neighbor ?? '';
  const neighborIp = ipv4ToNumber(neighbor);
  if (neighbor !== '' && neighborIp === undefined) return `neighbor "${neighbor}" is not an IPv4 address`;
  const router = { ip: m[1] as string, prefixLen: Number(m[2]) };
  const problem =
    neighborIp !== undefined && ((neighborIp ^ routerIp) & ipv4Mask(router.prefixLen)) !== 0
      ? `neighbor ${neighbor} is not on the router IP's subnet ${o.routerip}: unreachable over the uplink`
      : '';
  return { cfg: { asn, routerId: router.ip, neighbor, neighborAs }, router, problem };
}

/**
 * The /32s `host` announces: its endpoints (by their records in the store, as they join) on VLAN
 * networks, in routing mode. From the intent as read, before it is compiled: 10,000 endpoints
 * take a while to compile, and their routes need none of it.
 */
export function announcedPrefixes(intent: Intent, host: string, nextHop: string): Map<string, string> {
  const out = new Map<string, string>();
  if (intent.global.fwdMode !== 'routing') return out;
  const vlan = new Set(
    intent.networks.filter((n) => n.encap === 'vlan').map((n) => `${n.tenant}\u0000${n.name}`),
  );
  for (const e of intent.endpoints) {
    if (e.host === host && vlan.has(`${e.tenant}\u0000${e.network}`)) out.set(`${e.ip}/32`, nextHop);
  }
  return out;
}

export class BgpHook extends EventEmitter<HookEvents> {
  private speaker: BgpSpeaker | undefined;
  private router: RouterAddress | undefined;
  private problem = '';
  private retry: NodeJS.Timeout | undefined;
  private readonly resolving = new SerialQueue();
  private lastRoutes: ReadonlyMap<string, string> = new Map();
  private macs = new Map<string, string>();
  private macsAt = 0;
  private stopped = false;
  private leftoverChecked = false;
  private leftover: Promise<void> = Promise.resolve();

  constructor(private readonly opts: BgpHookOptions) {
    super();
  }

  /** The router port's address while a usable Bgp object exists. */
  get routerAddress(): RouterAddress | undefined {
    return this.router;
  }

  get bgpSpeaker(): BgpSpeaker | undefined {
    return this.speaker;
  }

  status(): BgpStatus & { problem: string } {
    const s = this.speaker?.status() ?? {
      admin: 'unconfigured',
      neighbor: '',
      session: 'NONE' as const,
      sent: [],
      received: [],
    };
    return { ...s, problem: this.problem };
  }

  /** The host's Bgp object (undefined: none). Returns whether the router address changed. */
  configure(o: BgpObject | undefined): boolean {
    const before = this.router;
    if (!o && !this.speaker && !before && !this.problem) {
      // No BGP before or now (the agent's first look): nothing to report, only a leftover to stop.
      this.stopLeftover();
      return false;
    }
    if (!o) {
      this.router = undefined;
      this.problem = '';
      this.speaker?.setConfig(undefined);
    } else {
      const p = parseBgpObject(o);
      if (typeof p === 'string') {
        this.router = undefined;
        this.problem = p;
        this.speaker?.setConfig(undefined);
        if (!this.speaker) this.stopLeftover();
        this.opts.logger.error({ problem: p }, 'bgp: unusable Bgp object');
      } else {
        this.router = p.router;
        this.problem = p.problem;
        if (p.problem) this.opts.logger.warn({ problem: p.problem }, 'bgp');
        this.ensureSpeaker().setConfig(p.cfg);
      }
    }
    this.emit('status', this.status());
    return before?.ip !== this.router?.ip || before?.prefixLen !== this.router?.prefixLen;
  }

  /** Resolves once gobgpd holds everything asked of it so far (a withdrawn config included). */
  async settled(): Promise<void> {
    await this.speaker?.settled();
  }

  /** What to announce for this intent (this host's endpoints); returns how many paths are new. */
  announce(intent: Intent, host: string): number {
    if (!this.speaker) return 0;
    return this.speaker.setAnnounced(
      this.router ? announcedPrefixes(intent, host, this.router.ip) : new Map(),
    );
  }

  /** stopGobgpd: the ToR withdraws this host; else gobgpd stays for the next netplugin to adopt. */
  async stop(opts: { stopGobgpd: boolean }): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.leftover;
    await this.speaker?.stop({ kill: opts.stopGobgpd });
  }

  /** No Bgp object at start: a gobgpd an earlier netplugin left would announce stale routes. */
  private stopLeftover(): void {
    if (this.leftoverChecked) return;
    this.leftoverChecked = true;
    this.leftover = GobgpdSupervisor.stopLeftover(this.opts.stateDir).then(
      (stopped) => {
        if (stopped) this.opts.logger.info('bgp: stopped the gobgpd left running (no Bgp object)');
      },
      (err: Error) => this.opts.logger.warn({ err: err.message }, 'bgp: leftover gobgpd'),
    );
  }

  private ensureSpeaker(): BgpSpeaker {
    if (this.speaker) return this.speaker;
    this.leftoverChecked = true;
    const { netns, stateDir, api, binary, protoDir, logger } = this.opts;
    const s = new BgpSpeaker(
      {
        stateDir,
        ...(api !== undefined ? { api } : {}),
        ...(netns !== undefined ? { netns } : {}),
        ...(binary !== undefined ? { binary } : {}),
        ...(protoDir !== undefined ? { protoDir } : {}),
      },
      logger,
    );
    s.on('routes', () => this.resolveSoon());
    s.on('status', () => this.emit('status', this.status()));
    // After a leftover gobgpd is gone, not adopting it half-stopped.
    void this.leftover.then(() => {
      if (!this.stopped) s.start();
    });
    this.speaker = s;
    return s;
  }

  private resolveSoon(): void {
    void this.resolving
      .run(() => this.resolve())
      .catch((err: Error) => {
        this.opts.logger.warn({ err: err.message }, 'bgp: next hop resolution');
        this.retryLater();
      });
  }

  private retryLater(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.resolveSoon();
    }, 1000);
  }

  private async resolve(): Promise<void> {
    const learned = this.speaker?.learnedRoutes ?? new Map<string, string>();
    const hops = new Set(learned.values());
    // Routes stream in as many events with one next hop (the ToR): ask the kernel only for one
    // not known yet, or when the last answer is older than 5 s (the ToR's MAC may change).
    const stale = Date.now() - this.macsAt > 5000;
    if (stale || [...hops].some((h) => !this.macs.has(h))) {
      this.macs = await resolveNextHops(this.opts.netns, ROUTER_PORT_NAME, hops);
      this.macsAt = Date.now();
    }
    const macs = this.macs;
    const routes = new Map<string, string>();
    for (const [prefix, nh] of learned) {
      const mac = macs.get(nh);
      if (mac) routes.set(prefix, mac);
    }
    if (routes.size < learned.size) this.retryLater();
    if (!sameMap(routes, this.lastRoutes)) {
      this.lastRoutes = routes;
      this.emit('routes', routes);
    }
  }
}

function sameMap(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
