// Owns the spare veth pairs the Docker driver hands to Join: made, their offload turned off and
// their host ends plugged into the bridge ahead of use, so a Join only relabels a port (no process
// spawned, no reconfiguration of ovs-vswitchd waited for). A taken pair is never given back: Leave
// deletes it as any other. Every pair carries the owner as its host end's alias, so what a crash
// leaves is found and removed at the next start (reconcile.ts) and close removes the spares.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { SerialQueue } from '../../lib/serial-queue.js';
import type { Links, VethSpec } from './network-driver.js';
import type { SparePorts } from './ports.js';

export interface Spare {
  hostName: string;
  /** The end Docker moves into the container. */
  peerName: string;
}

export interface VethPoolOptions {
  links: Links;
  ports: SparePorts;
  /** The veths' alias, e.g. "contiv-ts/netplugin": one owner per plugin and namespace. */
  owner: string;
  /** Spares kept per MTU (default 8); refilled when a quarter are left. */
  size?: number;
  log?: Logger;
}

/** Spares per MTU (undefined: the kernel's default). */
const key = (mtu: number | undefined) => String(mtu ?? 'default');

export class VethPool {
  private readonly ready = new Map<string, Spare[]>();
  private readonly size: number;
  private readonly refills = new SerialQueue();
  private closed = false;

  constructor(private readonly opts: VethPoolOptions) {
    this.size = opts.size ?? 8;
    if (!Number.isInteger(this.size) || this.size < 1 || this.size > 64)
      throw new Error(`veth pool size ${String(opts.size)}: an integer from 1 to 64`);
  }

  /** A plugged spare of this MTU, or undefined when none is ready (the caller makes its own pair). */
  take(mtu: number | undefined): Spare | undefined {
    return this.ready.get(key(mtu))?.shift();
  }

  /**
   * Called once the Join that took (or wanted) a spare is done, so the refill does not delay its
   * flows: the first call for an MTU starts its pool; one down to a quarter is refilled in the
   * background, in one batch: each refill makes ovs-vswitchd reconfigure (~30 ms, during which it
   * installs no flows), so it happens once every few Joins rather than after each.
   */
  replenish(mtu: number | undefined): void {
    const list = this.ready.get(key(mtu)) ?? [];
    this.ready.set(key(mtu), list);
    if (list.length <= Math.floor(this.size / 4)) this.refill(mtu);
  }

  /** How many spares of this MTU are ready (tests). */
  readyCount(mtu: number | undefined): number {
    return this.ready.get(key(mtu))?.length ?? 0;
  }

  /** Resolves once the refills asked for so far have finished. */
  settled(): Promise<void> {
    return this.refills.idle();
  }

  private refill(mtu: number | undefined): void {
    void this.refills.run(async () => {
      const list = this.ready.get(key(mtu)) ?? [];
      const missing = this.size - list.length;
      if (this.closed || missing <= 0) return;
      const made: Spare[] = [];
      for (let i = 0; i < missing; i++) {
        const id = randomBytes(5).toString('hex');
        made.push({ hostName: `vs${id}`, peerName: `vt${id}` });
      }
      const specs: VethSpec[] = made.map((s) => ({
        ...s,
        ...(mtu !== undefined ? { mtu } : {}),
        owner: this.opts.owner,
      }));
      try {
        await this.opts.links.createVeths(specs);
        await this.opts.ports.plugSpares(made.map((s) => s.hostName));
      } catch (err) {
        this.opts.log?.error(
          { err: err instanceof Error ? err.message : String(err) },
          'veth pool: refill failed',
        );
        await this.remove(made);
        return;
      }
      // Closed meanwhile: these are not handed out, and close may have listed the spares before.
      if (this.closed) await this.remove(made);
      else list.push(...made);
    });
  }

  private async remove(spares: readonly Spare[]): Promise<void> {
    const names = spares.map((s) => s.hostName);
    await this.opts.ports.unplugSpares(names).catch(() => undefined);
    await Promise.all(names.map((n) => this.opts.links.deleteLink(n).catch(() => undefined)));
  }

  /** Stops refilling and removes the spares (their ports and veths). */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
    const all = [...this.ready.values()].flat();
    this.ready.clear();
    await this.remove(all);
  }
}
