// Owns a policy's inspect view: its endpoints are the members of the groups it is attached to.
import type { ObjectBehaviour } from './behaviour.js';

export const policy: ObjectBehaviour = {
  async oper(ctx, _key, obj) {
    const groups = new Set(
      (await ctx.listObjs('endpointGroup'))
        .filter(
          (g) =>
            g.tenantName === obj.tenantName &&
            Array.isArray(g.policies) &&
            g.policies.includes(obj.policyName),
        )
        .map((g) => String(g.groupName)),
    );
    const endpoints = await ctx.endpointsWhere(
      (e) => e.tenant === obj.tenantName && groups.has(e.endpointGroup),
    );
    return { numEndpoints: endpoints.length, endpoints };
  },
};
