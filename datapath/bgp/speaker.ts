// Owns keeping one gobgpd equal to what this host wants said over BGP: the global AS and router
// id, the one neighbor (the ToR), the /32s of local endpoints; and reporting what the peer taught
// it (the learned routes, from gobgpd's RIB, never from memory). A fresh gobgpd is configured
// from scratch; one adopted from an earlier netplugin is read back (global config, peer, the
// paths it originates) and only the difference applied, so its session and routes stay up.

import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { SerialQueue } from '../../lib/serial-queue.js';
import type { GobgpApi, RibPath, SessionState } from './gobgp-api.js';
import { type GobgpdOptions, GobgpdSupervisor } from './gobgpd.js';

export interface BgpConfig {
  asn: number;
  routerId: string;
  neighbor: string;
  neighborAs: number;
}

export interface BgpStatus {
  /** 'configured' | 'unconfigured' | 'error: …' */
  admin: string;
  neighbor: string;
  session: SessionState | 'NONE';
  /** Prefixes announced and learned. */
  sent: string[];
  received: string[];
}

export interface SpeakerEvents {
  /** Learned routes changed: prefix → next hop (whole map). */
  routes: [ReadonlyMap<string, string>];
  /** Session state or admin state changed. */
  status: [BgpStatus];
}

/** From this many new paths at once, addBulk (held back, then one soft reset) instead of AddPathStream. */
export const BULK_PATHS = 256;

export class BgpSpeaker extends EventEmitter<SpeakerEvents> {
  private readonly gobgpd: GobgpdSupervisor;
  private wantConfig: BgpConfig | undefined;
  private readonly wantPaths = new Map<string, string>();
  /** What the current gobgpd holds (forgotten at each restart, read back when adopted). */
  private hasConfig: BgpConfig | undefined;
  private readonly hasPaths = new Map<string, string>();
  private readonly learned = new Map<string, string>();
  private api: GobgpApi | undefined;
  /** The gobgpd just adopted has state of its own to read before anything is changed. */
  private adopting = false;
  /**
   * Whether setAnnounced was called: until then the wanted paths are unknown, and an adopted
   * gobgpd's paths must not be withdrawn for being unwanted.
   */
  private pathsKnown = false;
  private cancelWatch: (() => void) | undefined;
  private readonly runs = new SerialQueue();
  private pending = false;
  private emitPending = false;
  private session: SessionState | 'NONE' = 'NONE';
  private error = '';

  constructor(
    opts: GobgpdOptions,
    private readonly logger: Logger,
  ) {
    super();
    this.gobgpd = new GobgpdSupervisor(opts);
    this.gobgpd.on('up', (api, { adopted }) => {
      this.api = api;
      this.adopting = adopted;
      this.hasConfig = undefined;
      this.hasPaths.clear();
      this.logger.info({ pid: this.gobgpd.pid, adopted }, 'gobgpd up');
      this.kick();
    });
    this.gobgpd.on('exit', ({ code, signal, stderr }) => {
      this.api = undefined;
      this.cancelWatch?.();
      this.cancelWatch = undefined;
      this.session = 'NONE';
      this.logger.warn({ code, signal, stderr: stderr.slice(-300) }, 'gobgpd exited');
    });
  }

  get supervisor(): GobgpdSupervisor {
    return this.gobgpd;
  }

  start(): void {
    this.gobgpd.start();
  }

  /** kill: gobgpd ends too (the ToR withdraws); else it stays for the next netplugin to adopt. */
  async stop(opts: { kill: boolean }): Promise<void> {
    this.cancelWatch?.();
    await this.gobgpd.stop(opts);
  }

  /** undefined: no BGP on this host (no peer, nothing announced). */
  setConfig(c: BgpConfig | undefined): void {
    this.wantConfig = c;
    this.kick();
  }

  /** The prefixes ("a.b.c.d/32") to originate, each with its next hop; returns how many are new. */
  setAnnounced(paths: ReadonlyMap<string, string>): number {
    this.wantPaths.clear();
    let fresh = 0;
    for (const [p, nh] of paths) {
      this.wantPaths.set(p, nh);
      if (this.hasPaths.get(p) !== nh) fresh++;
    }
    this.pathsKnown = true;
    this.kick();
    return fresh;
  }

  get learnedRoutes(): ReadonlyMap<string, string> {
    return this.learned;
  }

  status(): BgpStatus {
    return {
      admin: this.error ? `error: ${this.error}` : this.wantConfig ? 'configured' : 'unconfigured',
      neighbor: this.wantConfig?.neighbor ?? '',
      session: this.session,
      sent: [...this.hasPaths.keys()].sort(),
      received: [...this.learned.keys()].sort(),
    };
  }

  /** Resolves once everything asked so far is in gobgpd (or failed and was logged). */
  settled(): Promise<void> {
    return this.runs.idle();
  }

  private kick(): void {
    if (this.pending) return;
    this.pending = true;
    void this.runs.run(async () => {
      this.pending = false;
      await this.reconcile().catch((err: Error) => this.setError(err.message));
    });
  }

  private setError(msg: string): void {
    if (msg !== this.error) this.logger.error({ err: msg }, 'bgp');
    this.error = msg;
    this.emit('status', this.status());
  }

  private async reconcile(): Promise<void> {
    const api = this.api;
    if (!api) return;
    if (this.adopting) {
      this.adopting = false;
      await this.readBack(api);
    }
    const want = this.wantConfig;
    const has = this.hasConfig;
    if (has && (!want || want.asn !== has.asn || want.routerId !== has.routerId)) {
      // Peers and paths go with the global config.
      await api.stopBgp();
      this.hasConfig = undefined;
      this.hasPaths.clear();
      this.setLearned(new Map());
    }
    if (!want) {
      if (this.error) this.setError('');
      return;
    }
    if (!this.hasConfig) {
      if ((await api.globalAs()) === undefined) await api.startBgp(want.asn, want.routerId);
      this.startWatch(api);
      if (want.neighbor) await api.addPeer(want.neighbor, want.neighborAs);
      this.hasConfig = want;
      this.setLearned(learnedOf((await api.listRib({ originated: false })).best));
    } else if (has && (has.neighbor !== want.neighbor || has.neighborAs !== want.neighborAs)) {
      if (has.neighbor) await api.deletePeer(has.neighbor).catch(() => undefined);
      if (want.neighbor) await api.addPeer(want.neighbor, want.neighborAs);
      this.hasConfig = want;
      this.session = 'NONE';
    }
    if (!this.pathsKnown) return;
    const gone = [...this.hasPaths].filter(([p, nh]) => this.wantPaths.get(p) !== nh);
    // Withdrawals in parallel batches: DeletePath has no stream form.
    for (let i = 0; i < gone.length; i += 64) {
      const batch = gone.slice(i, i + 64);
      await Promise.all(batch.map(([p, nh]) => api.deletePath(p, nh)));
      for (const [p] of batch) this.hasPaths.delete(p);
    }
    const added = [...this.wantPaths].filter(([p]) => !this.hasPaths.has(p));
    if (added.length >= BULK_PATHS && this.session === 'ESTABLISHED' && want.neighbor) {
      await this.addBulk(api, added, want.neighbor);
    } else if (added.length === 1) await api.addPath(...(added[0] as [string, string]));
    else if (added.length > 1) await api.addPaths(added);
    for (const [p, nh] of added) this.hasPaths.set(p, nh);
    if (this.error) this.setError('');
    else this.emit('status', this.status());
  }

  /**
   * Many paths for an Established session: gobgpd would send each added path in an UPDATE of its
   * own (10,000 UPDATEs for 10,000 endpoints, seconds for it and the ToR). Held back by the
   * export policy while they go in, they leave in one soft reset, packed as at session start.
   * The watch pauses meanwhile (gobgpd would echo every path to it, one message each, doubling
   * its intake); what the peer taught us is read back after.
   */
  private async addBulk(api: GobgpApi, paths: [string, string][], neighbor: string): Promise<void> {
    this.cancelWatch?.();
    this.cancelWatch = undefined;
    try {
      await api.setExportDefault('REJECT');
      try {
        await api.addPaths(paths);
      } finally {
        await api.setExportDefault('ACCEPT');
      }
      await api.softResetOut(neighbor);
    } finally {
      if (this.api === api) {
        this.startWatch(api);
        // The RIB would be all 10,000 of ours again: the peer's Adj-RIB-In is what it taught us.
        const own = new Set(this.wantPaths.keys());
        const learned = await api.listAdjIn(neighbor, this.hasConfig?.asn ?? 0);
        this.setLearned(learnedOf(learned.filter((p) => !own.has(p.prefix))));
      }
    }
  }

  /** What an adopted gobgpd holds, as hasConfig and hasPaths; the one peer wanted kept. */
  private async readBack(api: GobgpApi): Promise<void> {
    const g = await api.globalAs();
    if (!g) return;
    const peers = await api.listPeers();
    const keep = peers.find((p) => p.address === this.wantConfig?.neighbor) ?? peers[0];
    for (const p of peers) if (p !== keep) await api.deletePeer(p.address);
    this.hasConfig = {
      asn: g.asn,
      routerId: g.routerId,
      neighbor: keep?.address ?? '',
      neighborAs: keep?.peerAs ?? 0,
    };
    this.session = keep?.state ?? 'NONE';
    // An earlier netplugin that died during addBulk left paths held back: let them go.
    if ((await api.exportDefault()) === 'REJECT') {
      await api.setExportDefault('ACCEPT');
      if (keep) await api.softResetOut(keep.address);
    }
    this.startWatch(api);
    const rib = await api.listRib({ originated: true });
    for (const p of rib.originated) this.hasPaths.set(p.prefix, p.nextHop);
    this.setLearned(learnedOf(rib.best));
    this.logger.info(
      { neighbor: this.hasConfig.neighbor, session: this.session, paths: this.hasPaths.size },
      'gobgpd adopted',
    );
  }

  private startWatch(api: GobgpApi): void {
    this.cancelWatch?.();
    this.cancelWatch = api.watch(
      (paths) => {
        let changed = false;
        for (const p of paths) {
          if (p.neighbor === '') continue;
          if (p.withdraw) changed = this.learned.delete(p.prefix) || changed;
          else if (this.learned.get(p.prefix) !== p.nextHop) {
            this.learned.set(p.prefix, p.nextHop);
            changed = true;
          }
        }
        if (changed) this.emitRoutes();
      },
      (address, state) => {
        if (address !== this.wantConfig?.neighbor) return;
        this.session = state;
        this.logger.info({ neighbor: address, state }, 'bgp session');
        this.emit('status', this.status());
      },
      () => undefined,
    );
  }

  private setLearned(next: Map<string, string>): void {
    this.learned.clear();
    for (const [p, nh] of next) this.learned.set(p, nh);
    this.emitRoutes();
  }

  private emitRoutes(): void {
    // Many paths arrive as many events in one tick: one report for all of them.
    if (this.emitPending) return;
    this.emitPending = true;
    setImmediate(() => {
      this.emitPending = false;
      this.emit('routes', new Map(this.learned));
    });
  }
}

function learnedOf(paths: RibPath[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of paths) if (p.neighbor !== '' && !p.withdraw) out.set(p.prefix, p.nextHop);
  return out;
}
