// Owns an endpoint group's REST behaviour: its id (what the datapath marks its traffic with) and
// its own address pool allocated with it, both given back after it goes, and its inspect view.
import {
  addressSpace,
  addressUsage,
  releaseId,
  releasePool,
  reservePool,
  tagKey,
} from '../../../policy/ipam/index.js';
import type { PlainObject } from '../../../policy/model/index.js';
import { HttpError } from '../http-error.js';
import type { ObjectBehaviour } from './behaviour.js';
import { tagFields } from './network.js';

const networkOf = (g: PlainObject) => `${g.tenantName}:${g.networkName}`;

export const endpointGroup: ObjectBehaviour = {
  async create(a) {
    const { ctx, obj, key } = a;
    const id = await ctx.groupIds.pick((k) => a.rs.get(k));
    const ops = a.ops({ type: 'put', key: tagKey('epg', id), value: JSON.stringify({ owner: key }) });
    let reserved = false;
    if (typeof obj.ipPool === 'string' && obj.ipPool !== '') {
      const netKey = networkOf(obj);
      const net = await a.lookup('network', netKey);
      if (!net) throw new HttpError(400, `endpointGroup ${key}: network ${netKey} does not exist`);
      const space = addressSpace(netKey, String(net.subnet), String(net.gateway ?? ''), obj.ipPool);
      await reservePool(ctx.store, space, key);
      reserved = true;
    }
    ctx.groupIds.hold(id);
    let outcome: 'done' | 'conflict';
    try {
      outcome = await a.commit(ops);
    } finally {
      ctx.groupIds.settled(id);
    }
    if (outcome === 'conflict' && reserved) await releasePool(ctx.store, networkOf(obj), key);
    return outcome;
  },

  usedBy: (e, key) => e.endpointGroup !== '' && `${e.tenant}:${e.endpointGroup}` === key,

  async release(ctx, key, obj) {
    if (obj.ipPool) await releasePool(ctx.store, networkOf(obj), key);
    const id = await ctx.groupIds.idOf(key);
    if (id !== undefined && (await releaseId(ctx.store, 'epg', id, key))) ctx.groupIds.released(key, id);
  },

  async oper(ctx, _key, obj) {
    const tags = await ctx.getTags(networkOf(obj));
    const endpoints = await ctx.endpointsWhere(
      (e) => e.tenant === obj.tenantName && e.endpointGroup === obj.groupName,
    );
    const out: PlainObject = { numEndpoints: endpoints.length, endpoints };
    Object.assign(out, tagFields(tags));
    out.groupTag = `${obj.groupName}.${obj.tenantName}`;
    const net = typeof obj.ipPool === 'string' ? await ctx.getObj('network', networkOf(obj)) : undefined;
    if (net && typeof obj.ipPool === 'string') {
      // A group with its own pool shows that pool's usage, as Contiv did.
      try {
        const gw = typeof net.gateway === 'string' ? net.gateway : undefined;
        const u = await addressUsage(
          ctx.store,
          addressSpace(networkOf(obj), String(net.subnet), gw, obj.ipPool),
        );
        out.allocatedIPAddresses = u.allocated;
        out.availableIPAddresses = u.available;
      } catch {
        // An unparsable stored pool leaves the address fields out rather than failing inspect.
      }
    }
    return out;
  },
};
