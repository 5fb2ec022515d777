// Owns the global settings' REST behaviour: a change of mode or ranges checked against what the
// cluster holds, and the inspect view's counts of networks and ids in use.
import { checkRangeChange, formatRuns, networkTagsByOwner } from '../../../policy/ipam/index.js';
import { checkGlobalUpdate } from '../../../policy/model/index.js';
import type { ObjectBehaviour } from './behaviour.js';

export const global: ObjectBehaviour = {
  aloneOnWrite: true,

  async checkUpdate(a, old) {
    const { ctx, obj } = a;
    const nets = await ctx.listObjs('network');
    checkGlobalUpdate(old, obj, {
      vlans: nets.filter((n) => n.encap === 'vlan').length,
      vxlans: nets.filter((n) => n.encap !== 'vlan').length,
      bgps: (await ctx.listObjs('Bgp')).length,
    });
    if (old.vlans !== obj.vlans) await checkRangeChange(ctx.store, 'vlan', String(obj.vlans));
    if (old.vxlans !== obj.vxlans) await checkRangeChange(ctx.store, 'vxlan', String(obj.vxlans));
  },

  async oper(ctx) {
    // Contiv counts a network once per id it holds (its VLAN or its VNI; a VNI's local VLAN apart).
    const tags = [...(await networkTagsByOwner(ctx.store)).values()];
    const vlans = tags.filter((n) => n.encap === 'vlan').map((n) => n.pktTag);
    const vxlans = tags.filter((n) => n.encap === 'vxlan').map((n) => n.pktTag);
    return {
      clusterMode: ctx.clusterMode,
      numNetworks: vlans.length + vxlans.length,
      vlansInUse: formatRuns(vlans, String),
      vxlansInUse: formatRuns(vxlans, String),
    };
  },
};
