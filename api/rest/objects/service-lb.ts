// Owns a serviceLB's REST behaviour: its virtual address, allocated in its network with the service
// (the preferred `ipAddress`, else the first free one), kept across updates, given back after it
// goes, and shown as the inspect view's `serviceVip`, as Contiv's netmaster did.
import {
  addressSpace,
  allocAddress,
  CallerConflictError,
  idClaim,
  listAddresses,
  listTags,
  releaseAddress,
  releaseId,
  SERVICE_ID_RANGE,
} from '../../../policy/ipam/index.js';
import {
  type PlainObject,
  type ServiceVipRecord,
  serviceVipKey,
  serviceVipOwner,
} from '../../../policy/model/index.js';
import type { Store } from '../../../state/store.js';
import { HttpError } from '../http-error.js';
import { parseObj, unchanged } from '../read-set.js';
import type { ObjectBehaviour } from './behaviour.js';

const networkOf = (s: PlainObject) => `${s.tenantName}:${s.networkName}`;

export const serviceLB: ObjectBehaviour = {
  async create(a) {
    const { ctx, obj, key } = a;
    const netKey = networkOf(obj);
    const net = await a.lookup('network', netKey);
    if (!net) throw new HttpError(400, `serviceLB ${key}: network ${netKey} does not exist`);
    const space = addressSpace(
      netKey,
      String(net.subnet),
      typeof net.gateway === 'string' ? net.gateway : undefined,
    );
    const preferred = typeof obj.ipAddress === 'string' && obj.ipAddress !== '' ? obj.ipAddress : undefined;
    // The service id (numbering its datapath groups) is taken in the same transaction.
    const id = await idClaim(ctx.store, 'service', SERVICE_ID_RANGE, key);
    try {
      await allocAddress(ctx.store, space, {
        owner: serviceVipOwner(key),
        ...(preferred ? { preferred } : {}),
        // The record goes with the object and its address, in one transaction.
        extras: (ip) => {
          const record: ServiceVipRecord = {
            tenantName: String(obj.tenantName),
            serviceName: String(obj.serviceName),
            networkName: String(obj.networkName),
            serviceVip: ip,
          };
          return {
            compares: [...a.compares(), ...id.compares],
            ops: a.ops({ type: 'put', key: serviceVipKey(key), value: JSON.stringify(record) }, ...id.ops),
            committed: (revision) => a.landed(revision),
          };
        },
      });
    } catch (e) {
      if (e instanceof CallerConflictError) return 'conflict';
      throw e;
    }
    return 'done';
  },

  // The address stays the service's: what clients were given must not move under them.
  // (networkName cannot change either: the model's immutable fields refuse that first.)
  async checkUpdate(a) {
    const { obj, key } = a;
    const vip = await vipOf(a.ctx.store, key);
    if (typeof obj.ipAddress === 'string' && obj.ipAddress !== '' && obj.ipAddress !== vip)
      throw new HttpError(
        400,
        `serviceLB ${key}: ipAddress cannot change from ${vip ?? 'none'} (delete the service and create it again)`,
      );
  },

  async deleteExtra(ctx, key) {
    const kv = await ctx.store.get(serviceVipKey(key));
    return kv
      ? {
          compares: [unchanged(kv)],
          ops: [{ type: 'delete', key: kv.key }],
        }
      : { compares: [], ops: [] };
  },

  async release(ctx, key, obj) {
    const netKey = networkOf(obj);
    const owner = serviceVipOwner(key);
    for (const a of await listAddresses(ctx.store, netKey))
      if (a.owner === owner) await releaseAddress(ctx.store, netKey, a.ip, owner);
    for (const t of await listTags(ctx.store, 'service'))
      if (t.owner === key) await releaseId(ctx.store, 'service', t.id, key);
  },

  async oper(ctx, key) {
    const vip = await vipOf(ctx.store, key);
    return vip ? { serviceVip: vip } : {};
  },
};

async function vipOf(store: Store, key: string): Promise<string | undefined> {
  return parseObj<Partial<ServiceVipRecord>>(await store.get(serviceVipKey(key)))?.serviceVip;
}
