// Owns leader election on any Store: one key held under a lease, won by compare-and-swap on its absence.
// It must never report leadership it does not hold in the store: leadership ends with the lease or the key.
import { EventEmitter } from 'node:events';
import { SerialQueue } from '../lib/serial-queue.js';
import type { Lease, Store, Watcher } from './store.js';

/** Where the leader records itself unless told otherwise. */
export const LEADER_KEY = '/contiv.io/leader';

export interface LeaderInfo {
  id: string;
  /** Where the leader serves (followers forward requests there). */
  address: string;
}

export interface ElectOptions extends LeaderInfo {
  /** Lease TTL: a dead leader is replaced within about this long. Default 10 s. */
  ttlSec?: number;
  /** Default '/contiv.io/leader'. */
  key?: string;
}

export interface Election {
  readonly isLeader: boolean;
  /** The current leader as the store says, or undefined while there is none. */
  leader(): Promise<LeaderInfo | undefined>;
  /** Gives up leadership (deletes the key, revokes the lease) and stops campaigning. */
  resign(): Promise<void>;
  /** Stops campaigning without releasing anything, as a crash would: a held key expires with the lease. */
  close(): Promise<void>;
  on(event: 'elected' | 'deposed', fn: () => void): this;
  on(event: 'leader', fn: (leader: LeaderInfo | undefined) => void): this;
  on(event: 'error', fn: (err: Error) => void): this;
}

/** Leases of our stores that can stop their keep-alive without revoking. */
interface Abandonable {
  abandon?: () => void;
}

function parse(value: string): LeaderInfo | undefined {
  try {
    const v = JSON.parse(value) as Partial<LeaderInfo>;
    return typeof v.id === 'string' && typeof v.address === 'string'
      ? { id: v.id, address: v.address }
      : undefined;
  } catch {
    return undefined;
  }
}

class StoreElection extends EventEmitter implements Election {
  isLeader = false;
  private current: LeaderInfo | undefined;
  private lease: Lease | undefined;
  private watcher: Watcher | undefined;
  private stopped = false;
  /** The key's state at this revision is already accounted for; older watch events are stale. */
  private knownRev = 0;
  /** Our key's modRevision while we lead (a resign deletes only our own key). */
  private ownRev = 0;
  private readonly campaigns = new SerialQueue();
  private recheck: NodeJS.Timeout | undefined;
  private readonly key: string;
  private readonly ttlSec: number;
  private readonly me: LeaderInfo;

  constructor(
    private readonly store: Store,
    opts: ElectOptions,
  ) {
    super();
    this.key = opts.key ?? LEADER_KEY;
    this.ttlSec = opts.ttlSec ?? 10;
    this.me = { id: opts.id, address: opts.address };
  }

  async start(): Promise<void> {
    const rev = await this.store.revision();
    this.knownRev = Math.max(this.knownRev, rev);
    await this.watchKey(rev + 1);
    // A safety net for a missed event (a watch stream reset): look again every TTL.
    this.recheck = setInterval(() => {
      if (!this.isLeader) this.schedule();
    }, this.ttlSec * 1000);
    this.recheck.unref();
    await this.schedule();
  }

  /**
   * Watches the leader key from `from`. A watch that ends by itself (its stream to etcd broke) is
   * started again from the last revision seen, after a pause while the store does not answer.
   */
  private async watchKey(from: number): Promise<void> {
    this.watcher = await this.store.watch(
      this.key,
      (e) => {
        if (e.key !== this.key || e.revision <= this.knownRev || this.stopped) return;
        this.knownRev = e.revision;
        if (e.type === 'put') {
          const info = e.value === undefined ? undefined : parse(e.value);
          if (this.isLeader && info?.id !== this.me.id) this.depose();
          this.setLeader(info);
        } else {
          if (this.isLeader) this.depose();
          this.setLeader(undefined);
          this.schedule();
        }
      },
      { fromRevision: from, onError: () => this.rewatch() },
    );
  }

  private rewatch(): void {
    if (this.stopped) return;
    const retry = setTimeout(
      () => {
        if (this.stopped) return;
        this.watchKey(this.knownRev + 1).then(
          () => void this.schedule(),
          (err: Error) => {
            // A closed store will not come back; anything else (etcd away) is tried again.
            if (!/ closed/.test(err.message)) this.rewatch();
          },
        );
      },
      Math.min(500, this.ttlSec * 250),
    );
    retry.unref();
  }

  async leader(): Promise<LeaderInfo | undefined> {
    const kv = await this.store.get(this.key);
    return kv ? parse(kv.value) : undefined;
  }

  async resign(): Promise<void> {
    this.stopped = true;
    await this.campaigns.idle();
    this.stop();
    if (this.isLeader) {
      this.isLeader = false;
      await this.store.txn(
        [{ key: this.key, target: 'mod', op: '==', value: this.ownRev }],
        [{ type: 'delete', key: this.key }],
      );
      this.emit('deposed');
    }
    const lease = this.lease;
    this.lease = undefined;
    await lease?.revoke();
    await this.watcher?.close();
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.stop();
    (this.lease as (Lease & Abandonable) | undefined)?.abandon?.();
    this.lease = undefined;
    this.isLeader = false;
    await this.watcher?.close();
  }

  private stop(): void {
    if (this.recheck) clearInterval(this.recheck);
  }

  /** Campaigns run one at a time. */
  private schedule(): Promise<void> {
    return this.campaigns
      .run(() => this.campaign())
      .catch((err: unknown) => {
        if (this.stopped) return;
        this.emit('error', err instanceof Error ? err : new Error(String(err)));
        // Retry later: the store may be back by then.
        setTimeout(() => this.schedule(), Math.min(1000, this.ttlSec * 300)).unref();
      });
  }

  private async campaign(): Promise<void> {
    if (this.stopped || this.isLeader) return;
    if (!this.lease) {
      const lease = await this.store.grantLease(this.ttlSec);
      if (this.stopped) {
        await lease.revoke();
        return;
      }
      this.lease = lease;
      lease.onLost(() => {
        if (this.lease !== lease) return;
        this.lease = undefined;
        if (this.isLeader) this.depose();
        this.schedule();
      });
    }
    const res = await this.store.txn(
      [{ key: this.key, target: 'create', op: '==', value: 0 }],
      [{ type: 'put', key: this.key, value: JSON.stringify(this.me), lease: this.lease.id }],
      [{ type: 'get', key: this.key }],
    );
    if (this.stopped) return;
    if (res.succeeded) {
      this.knownRev = Math.max(this.knownRev, res.revision);
      this.ownRev = res.revision;
      this.isLeader = true;
      this.setLeader(this.me);
      this.emit('elected');
      return;
    }
    const kv = res.reads[0];
    if (!kv) {
      this.schedule(); // deleted between compare and read: try again
      return;
    }
    if (kv.modRevision >= this.knownRev) {
      this.knownRev = kv.modRevision;
      this.setLeader(parse(kv.value));
    }
  }

  private depose(): void {
    this.isLeader = false;
    this.emit('deposed');
  }

  private setLeader(info: LeaderInfo | undefined): void {
    if (info?.id === this.current?.id && info?.address === this.current?.address) return;
    this.current = info;
    this.emit('leader', info);
  }
}

/** Joins the election for opts.key; resolves after the first campaign (isLeader tells the outcome). */
export async function elect(store: Store, opts: ElectOptions): Promise<Election> {
  const e = new StoreElection(store, opts);
  // Without a listener an 'error' event would throw; campaign errors are retried anyway.
  e.on('error', () => {});
  await e.start();
  return e;
}
