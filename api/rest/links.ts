// Owns Contiv's `links` and `link-sets` of the config views: which objects an object points at
// (its tenant, network, profiles) and which point at it (a policy's rules, a network's groups).
// Contiv stored them in each object and rewrote them on every related write; here they are
// derived from the objects themselves when a view is read, so they cannot go stale.
import { type ObjType, SCHEMA } from '../../policy/model/schema.js';
import { keyOf, type PlainObject } from '../../policy/model/validate.js';

export interface Link {
  type: ObjType;
  key: string;
}
export type LinkSet = Record<string, Link>;
export interface LinkView {
  links: Record<string, Link>;
  'link-sets': Record<string, LinkSet>;
}

export type ListObjects = (t: ObjType) => Promise<readonly PlainObject[]>;

/** One read of each type for a whole view: a list shows many objects over the same others. */
export function memoLists(list: ListObjects): ListObjects {
  const seen = new Map<ObjType, Promise<readonly PlainObject[]>>();
  return (t) => {
    let p = seen.get(t);
    if (!p) {
      p = list(t);
      seen.set(t, p);
    }
    return p;
  };
}

const link = (type: ObjType, key: string): Link => ({ type, key });

async function setOf(
  list: ListObjects,
  type: ObjType,
  pick: (o: PlainObject) => boolean,
): Promise<LinkSet | undefined> {
  const out: LinkSet = {};
  for (const o of await list(type)) {
    if (!pick(o)) continue;
    const key = keyOf(type, o);
    out[key] = link(type, key);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

const named = (type: ObjType, tenant: unknown, names: unknown): LinkSet | undefined => {
  if (!Array.isArray(names) || names.length === 0) return undefined;
  const out: LinkSet = {};
  for (const n of names) out[`${tenant}:${n}`] = link(type, `${tenant}:${n}`);
  return out;
};

/** The group a rule is matched on in Contiv: its from-group, else its to-group. */
const matchGroupOf = (rule: PlainObject): string | undefined => {
  const from = rule.fromEndpointGroup;
  if (typeof from === 'string' && from !== '') return from;
  const to = rule.toEndpointGroup;
  return typeof to === 'string' && to !== '' ? to : undefined;
};

/** The links of `obj` (of type `t`), or undefined for the types the model gives none. */
export async function linkView(
  t: ObjType,
  obj: PlainObject,
  list: ListObjects,
): Promise<LinkView | undefined> {
  const spec = SCHEMA.get(t);
  if (!spec || (Object.keys(spec.links).length === 0 && Object.keys(spec.linkSets).length === 0))
    return undefined;
  const links: Record<string, Link> = {};
  const sets: Record<string, LinkSet | undefined> = {};
  const tenant = obj.tenantName;
  const inTenant = (o: PlainObject) => o.tenantName === tenant;
  if (t !== 'tenant' && t !== 'rule' && t !== 'extContractsGroup' && typeof tenant === 'string') {
    links.Tenant = link('tenant', tenant);
  }
  switch (t) {
    case 'tenant': {
      const mine = (o: PlainObject) => o.tenantName === obj.tenantName;
      sets.AppProfiles = await setOf(list, 'appProfile', mine);
      sets.EndpointGroups = await setOf(list, 'endpointGroup', mine);
      sets.NetProfiles = await setOf(list, 'netprofile', mine);
      sets.Networks = await setOf(list, 'network', mine);
      sets.Policies = await setOf(list, 'policy', mine);
      sets.Servicelbs = await setOf(list, 'serviceLB', mine);
      break;
    }
    case 'network': {
      const onNet = (o: PlainObject) => inTenant(o) && o.networkName === obj.networkName;
      sets.EndpointGroups = await setOf(list, 'endpointGroup', onNet);
      sets.Servicelbs = await setOf(list, 'serviceLB', onNet);
      break;
    }
    case 'endpointGroup': {
      links.Network = link('network', `${tenant}:${obj.networkName}`);
      if (typeof obj.netProfile === 'string' && obj.netProfile !== '') {
        links.NetProfile = link('netprofile', `${tenant}:${obj.netProfile}`);
      }
      const app = (await list('appProfile')).find(
        (a) => inTenant(a) && Array.isArray(a.endpointGroups) && a.endpointGroups.includes(obj.groupName),
      );
      if (app) links.AppProfile = link('appProfile', keyOf('appProfile', app));
      sets.Policies = named('policy', tenant, obj.policies);
      sets.MatchRules = await setOf(list, 'rule', (r) => inTenant(r) && matchGroupOf(r) === obj.groupName);
      break;
    }
    case 'policy': {
      sets.EndpointGroups = await setOf(
        list,
        'endpointGroup',
        (g) => inTenant(g) && Array.isArray(g.policies) && g.policies.includes(obj.policyName),
      );
      sets.Rules = await setOf(list, 'rule', (r) => inTenant(r) && r.policyName === obj.policyName);
      break;
    }
    case 'rule': {
      const group = matchGroupOf(obj);
      if (group !== undefined) links.MatchEndpointGroup = link('endpointGroup', `${tenant}:${group}`);
      sets.Policies = named('policy', tenant, [obj.policyName]);
      break;
    }
    case 'netprofile':
      sets.EndpointGroups = await setOf(
        list,
        'endpointGroup',
        (g) => inTenant(g) && g.netProfile === obj.profileName,
      );
      break;
    case 'appProfile':
      sets.EndpointGroups = named('endpointGroup', tenant, obj.endpointGroups);
      break;
    case 'serviceLB':
      links.Network = link('network', `${tenant}:${obj.networkName}`);
      break;
    case 'extContractsGroup':
      sets.EndpointGroups = await setOf(
        list,
        'endpointGroup',
        (g) =>
          inTenant(g) &&
          Array.isArray(g.extContractsGrps) &&
          g.extContractsGrps.includes(obj.contractsGroupName),
      );
      break;
  }
  const linkSets: Record<string, LinkSet> = {};
  for (const [name, set] of Object.entries(sets)) if (set) linkSets[name] = set;
  return { links, 'link-sets': linkSets };
}
