// Owns a tenant's REST behaviour: its id (its VRF and conntrack zone) allocated with it and given
// back after it goes, and its inspect view's counts.
import type { ObjType, PlainObject } from '../../../policy/model/index.js';
import { createWithTenantId, releaseTenantId } from '../tenant-ids.js';
import type { ObjectBehaviour } from './behaviour.js';

const COUNTED: [string, ObjType][] = [
  ['totalNetworks', 'network'],
  ['totalEPGs', 'endpointGroup'],
  ['totalNetprofiles', 'netprofile'],
  ['totalAppProfiles', 'appProfile'],
  ['totalServicelbs', 'serviceLB'],
  ['totalPolicies', 'policy'],
];

export const tenant: ObjectBehaviour = {
  async create(a) {
    const made = await createWithTenantId(a.ctx.store, a.key, a.compares(), a.ops(), (r) => a.landed(r));
    return made ? 'done' : 'conflict';
  },

  usedBy: (e, key) => e.tenant === key,

  release: (ctx, key) => releaseTenantId(ctx.store, key),

  async oper(ctx, key) {
    const out: PlainObject = {};
    for (const [field, t] of COUNTED) {
      out[field] = (await ctx.listObjs(t)).filter((o) => o.tenantName === key).length;
    }
    const endpoints = await ctx.endpointsWhere((e) => e.tenant === key);
    out.totalEndpoints = endpoints.length;
    out.endpoints = endpoints;
    return out;
  },
};
