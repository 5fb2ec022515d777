// Owns a network's REST behaviour: its tags allocated in its create's transaction, the Docker
// network it may have been made for, its addresses and tags given back, and its inspect view.
import {
  addressSpace,
  addressUsage,
  allocNetworkTags,
  CallerConflictError,
  type NetworkTags,
  releaseAllAddresses,
  releaseNetworkTags,
} from '../../../policy/ipam/index.js';
import { DOCKERNET_PREFIX, type DockerNetRecord } from '../../../policy/model/endpoint.js';
import { checkSiblings, configKey, type PlainObject } from '../../../policy/model/index.js';
import { HttpError } from '../http-error.js';
import { parseObj, unchanged } from '../read-set.js';
import type { ObjectBehaviour } from './behaviour.js';

/** Contiv shows the local VLAN as pktTag and, for VXLAN, the VNI as externalPktTag. */
export const tagFields = (tags: NetworkTags | undefined): PlainObject =>
  !tags
    ? {}
    : {
        pktTag: tags.localVlan ?? tags.pktTag,
        ...(tags.encap === 'vxlan' ? { externalPktTag: tags.pktTag } : {}),
      };

export const network: ObjectBehaviour = {
  aloneOnWrite: true,

  async create(a) {
    const { ctx, obj, key } = a;
    await checkSiblings('network', obj, (t) => ctx.listObjs(t));
    const encap = obj.encap === 'vlan' ? 'vlan' : 'vxlan';
    const pktTag = typeof obj.pktTag === 'number' ? obj.pktTag : undefined;
    await a.rs.get(configKey('global', 'global'));
    // The tag keys (owner = this network) go in the same transaction as the object: they are also the
    // record inspect reads back, so there is no second write that a crash could separate from them.
    // The ranges the tag was checked against must still be the global's when the network lands.
    try {
      await allocNetworkTags(
        ctx.store,
        { network: key, encap, ...(pktTag !== undefined ? { pktTag } : {}) },
        await ctx.globalRanges(),
        // The revision a write's answer waits on the Docker hosts for (docker-sync-wait.ts).
        { compares: a.compares(), ops: a.ops(), committed: (revision) => a.landed(revision) },
      );
    } catch (e) {
      if (e instanceof CallerConflictError) return 'conflict';
      throw e;
    }
    return 'done';
  },

  usedBy: (e, key) => `${e.tenant}:${e.network}` === key,

  // A network made for a Docker network goes with it (docker network rm), not on its own.
  async deleteExtra(ctx, key, dockerNetworkID) {
    const kv = await ctx.store.get(`${DOCKERNET_PREFIX}${key}`);
    const rec = parseObj(kv) as DockerNetRecord | undefined;
    if (!kv) return { compares: [], ops: [] };
    if (rec && rec.networkID !== dockerNetworkID)
      throw new HttpError(
        409,
        `network ${key}: made for Docker network ${rec.name} (${rec.networkID}); remove it with docker network rm`,
      );
    return { compares: [unchanged(kv)], ops: [{ type: 'delete', key: kv.key }] };
  },

  async release(ctx, key) {
    const tags = await ctx.getTags(key);
    if (tags) await releaseNetworkTags(ctx.store, key, tags);
    await releaseAllAddresses(ctx.store, key);
  },

  async oper(ctx, key, obj) {
    const tags = await ctx.getTags(key);
    const endpoints = await ctx.endpointsWhere((e) => `${e.tenant}:${e.network}` === key);
    const out: PlainObject = { numEndpoints: endpoints.length, endpoints };
    Object.assign(out, tagFields(tags));
    out.networkTag = `${obj.networkName}.${obj.tenantName}`;
    try {
      const u = await addressUsage(
        ctx.store,
        addressSpace(key, String(obj.subnet), typeof obj.gateway === 'string' ? obj.gateway : undefined),
      );
      out.allocatedAddressesCount = u.allocatedCount;
      out.allocatedIPAddresses = u.allocated;
      out.availableIPAddresses = u.available;
    } catch {
      // An unparsable stored subnet leaves the address fields out rather than failing inspect.
    }
    return out;
  },
};
