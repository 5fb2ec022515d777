// Owns the embedded store's lease handles and their state: a handle is its own keep-alive while the
// holder lives in this process; the expiry check, the grant and revocation records are the store's.
import type { Lease } from '../store.js';

/** What a lease handle needs of its store. */
export interface LeaseOwner {
  revokeLease(id: string): Promise<void>;
}

export interface LeaseState {
  ttlSec: number;
  expiresAt: number;
  keys: Set<string>;
  handle: EmbeddedLease | undefined;
}

export class EmbeddedLease implements Lease {
  private lostFns: ((err: Error) => void)[] = [];
  /**
   * The holder lives in this process, so holding the handle is the keep-alive: the expiry check
   * refreshes such leases instead of timers doing it (a long event-loop stall cannot lose a lease).
   */
  keepingAlive = true;
  done = false;

  constructor(
    private readonly store: LeaseOwner,
    readonly id: string,
    readonly ttlSec: number,
  ) {}

  async revoke(): Promise<void> {
    this.stopKeepAlive();
    this.done = true;
    await this.store.revokeLease(this.id);
  }

  onLost(fn: (err: Error) => void): void {
    this.lostFns.push(fn);
  }

  /** Stops refreshing without revoking, as a crashed holder would: the lease expires after its TTL. */
  abandon(): void {
    this.stopKeepAlive();
  }

  stopKeepAlive(): void {
    this.keepingAlive = false;
  }

  lost(err: Error): void {
    this.stopKeepAlive();
    if (this.done) return;
    this.done = true;
    for (const fn of this.lostFns) fn(err);
  }
}
