// Owns tenant ids for netmaster: each tenant gets one (its VRF and conntrack zone in the
// datapath) in the transaction that creates it, and gives it back when deleted. Tenants made
// before ids existed get one when netmaster starts.
import {
  allocId,
  CallerConflictError,
  listTags,
  releaseId,
  TENANT_ID_RANGE,
} from '../../policy/ipam/allocator.js';
import type { Compare, Store, TxnOp } from '../../state/store.js';

/**
 * Writes `ops` (the tenant's own put) together with a fresh tenant id, if `compares` hold.
 * False when they did not (the caller retries or reports the conflict); `committed` is told the
 * transaction's revision.
 */
export async function createWithTenantId(
  store: Store,
  tenant: string,
  compares: Compare[],
  ops: TxnOp[],
  committed?: (revision: number) => void,
): Promise<boolean> {
  try {
    await allocId(store, 'tenant', TENANT_ID_RANGE, tenant, {
      compares,
      ops,
      ...(committed ? { committed } : {}),
    });
    return true;
  } catch (e) {
    if (e instanceof CallerConflictError) return false;
    throw e;
  }
}

export async function releaseTenantId(store: Store, tenant: string): Promise<void> {
  for (const { id, owner } of await listTags(store, 'tenant')) {
    if (owner === tenant) await releaseId(store, 'tenant', id, tenant);
  }
}

/** Gives every tenant in `tenants` without an id one. */
export async function backfillTenantIds(store: Store, tenants: readonly string[]): Promise<void> {
  const owned = new Set((await listTags(store, 'tenant')).map((t) => t.owner));
  for (const t of tenants) if (!owned.has(t)) await allocId(store, 'tenant', TENANT_ID_RANGE, t);
}
