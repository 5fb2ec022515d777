// Owns the config view of an object as Contiv's netmaster showed it: the stored fields, its key,
// its links and link-sets, and what Contiv wrote into the object as it used it (a rule that names a
// network shows that network's subnet as its address once applied), derived here at read time.
import type { ObjType } from '../../policy/model/schema.js';
import { keyOf, type PlainObject } from '../../policy/model/validate.js';
import { type ListObjects, linkView } from './links.js';

/** What clients see of a write: the stored config plus Contiv's "key" field. */
export const shown = (t: ObjType, o: PlainObject): PlainObject => ({ key: keyOf(t, o), ...o });

/** Contiv filled these in when it compiled the rule for a group, so only once its policy is applied. */
async function ruleAddresses(rule: PlainObject, list: ListObjects): Promise<PlainObject> {
  const out: PlainObject = {};
  const applied = (await list('endpointGroup')).some(
    (g) =>
      g.tenantName === rule.tenantName && Array.isArray(g.policies) && g.policies.includes(rule.policyName),
  );
  if (!applied) return out;
  for (const [net, ip] of [
    ['fromNetwork', 'fromIpAddress'],
    ['toNetwork', 'toIpAddress'],
  ] as const) {
    const name = rule[net];
    if (typeof name !== 'string' || name === '' || (typeof rule[ip] === 'string' && rule[ip] !== ''))
      continue;
    const found = (await list('network')).find(
      (n) => n.tenantName === rule.tenantName && n.networkName === name,
    );
    if (typeof found?.subnet === 'string') out[ip] = found.subnet;
  }
  return out;
}

/** A read's view of one object; `list` is shared by all the objects of one answer. */
export async function configView(t: ObjType, o: PlainObject, list: ListObjects): Promise<PlainObject> {
  return {
    ...shown(t, o),
    ...(t === 'rule' ? await ruleAddresses(o, list) : {}),
    ...(await linkView(t, o, list)),
  };
}
