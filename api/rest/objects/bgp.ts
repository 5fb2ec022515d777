// Owns a BGP neighbor's inspect view: the host agent's live view of its speaker, which lives on
// the agent's lease and so is gone with the agent.
import { bgpOperKey } from '../../../policy/model/endpoint.js';
import type { PlainObject } from '../../../policy/model/index.js';
import type { ObjectBehaviour } from './behaviour.js';

export const bgp: ObjectBehaviour = {
  async oper(ctx, key) {
    const kv = await ctx.store.get(bgpOperKey(key));
    if (!kv) return { adminStatus: 'unknown', neighborStatus: 'no agent view (netplugin not running?)' };
    try {
      return JSON.parse(kv.value) as PlainObject;
    } catch {
      return { adminStatus: 'unknown' };
    }
  },
};
