// Owns this host's record in the store: written under a lease, so the host disappears from the
// others' view a TTL after the agent dies. Other records that must go with the agent (the BGP
// oper record) are written under the same lease.

import { type HostRecord, hostKey } from '../../policy/model/endpoint.js';
import type { Lease, Store } from '../../state/store.js';

export interface HostLeaseOptions {
  store: Store;
  host: HostRecord;
  ttlSec: number;
  /** The lease is lost: the host has gone from the others' view. */
  onLost: (err: Error) => void;
}

export class HostLease {
  private lease: Lease | undefined;

  constructor(private readonly opts: HostLeaseOptions) {}

  /** The lease's id once registered. */
  get id(): string | undefined {
    return this.lease?.id;
  }

  async register(): Promise<void> {
    const { store, host } = this.opts;
    this.lease = await store.grantLease(this.opts.ttlSec);
    this.lease.onLost((err) => this.opts.onLost(new Error(`host record lease lost: ${err.message}`)));
    await store.put(hostKey(host.name), JSON.stringify(host), { lease: this.lease.id });
  }

  /** Deletes the host record (and everything else under the lease); errors are ignored. */
  async revoke(): Promise<void> {
    await this.lease?.revoke().catch(() => undefined);
  }
}
