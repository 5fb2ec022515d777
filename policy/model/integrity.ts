// Owns referential integrity between config objects: which objects must exist before one is created,
// which block its deletion, which go with it. Pure over lookup callbacks; it must never read the store itself.
import { type IpamError, parsePool, parseSubnet } from '../ipam/addr.js';
import { OBJECT_TYPES, type ObjType } from './schema.js';
import { keyOf, ModelError, type PlainObject } from './validate.js';

/** A reference from one object to another, through one of its fields. */
export interface Ref {
  objType: ObjType;
  key: string;
  /** The field of the referring object that names the target. */
  via: string;
}

/** Fetches an object by type and key (inside the caller's transaction, if it has one). */
export type Lookup = (
  objType: ObjType,
  key: string,
) => PlainObject | undefined | Promise<PlainObject | undefined>;
/** Lists all objects of a type. */
export type ListAll = (objType: ObjType) => Iterable<PlainObject> | Promise<Iterable<PlainObject>>;

const s = (o: PlainObject, k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');
const list = (o: PlainObject, k: string): string[] =>
  Array.isArray(o[k])
    ? (o[k] as unknown[]).filter((x): x is string => typeof x === 'string' && x !== '')
    : [];

/**
 * The objects `obj` refers to, which must exist first. Rules belong to their policy (deleted with it);
 * every other reference blocks the target's deletion (see usedBy).
 */
export function parents(objType: ObjType, obj: PlainObject): Ref[] {
  const t = s(obj, 'tenantName');
  const refs: Ref[] = [];
  const add = (objType: ObjType, key: string, via: string) => refs.push({ objType, key, via });
  const inTenant = () => add('tenant', t, 'tenantName');
  switch (objType) {
    case 'network':
    case 'policy':
    case 'netprofile':
    case 'extContractsGroup':
      inTenant();
      break;
    case 'endpointGroup':
      inTenant();
      add('network', `${t}:${s(obj, 'networkName')}`, 'networkName');
      for (const p of list(obj, 'policies')) add('policy', `${t}:${p}`, 'policies');
      if (s(obj, 'netProfile')) add('netprofile', `${t}:${s(obj, 'netProfile')}`, 'netProfile');
      for (const c of list(obj, 'extContractsGrps'))
        add('extContractsGroup', `${t}:${c}`, 'extContractsGrps');
      break;
    case 'rule':
      add('policy', `${t}:${s(obj, 'policyName')}`, 'policyName');
      for (const f of ['fromEndpointGroup', 'toEndpointGroup'])
        if (s(obj, f)) add('endpointGroup', `${t}:${s(obj, f)}`, f);
      for (const f of ['fromNetwork', 'toNetwork']) if (s(obj, f)) add('network', `${t}:${s(obj, f)}`, f);
      break;
    case 'appProfile':
      inTenant();
      for (const g of list(obj, 'endpointGroups')) add('endpointGroup', `${t}:${g}`, 'endpointGroups');
      break;
    case 'serviceLB':
      inTenant();
      add('network', `${t}:${s(obj, 'networkName')}`, 'networkName');
      break;
    default:
      // global, tenant, Bgp, aciGw stand alone.
      break;
  }
  return refs;
}

/** Which references are ownership: the child is deleted with its parent rather than blocking it. */
function owns(child: ObjType, via: string): boolean {
  return child === 'rule' && via === 'policyName';
}

/**
 * Refuses `obj` when something it refers to is missing, and checks what needs the parent's content
 * (a group's ip-pool must lie inside its network's subnet).
 */
export async function checkParents(objType: ObjType, obj: PlainObject, lookup: Lookup): Promise<void> {
  const key = keyOf(objType, obj);
  // Contiv refuses a group named like a network of its tenant (and the reverse): Docker and DNS names
  // ("web" for a group, "web" for a network) would clash.
  if (objType === 'endpointGroup' && (await lookup('network', key))) {
    throw new ModelError(objType, key, 'groupName', `network ${key} has the same name`, obj.groupName);
  }
  if (objType === 'network' && (await lookup('endpointGroup', key))) {
    throw new ModelError(
      objType,
      key,
      'networkName',
      `endpointGroup ${key} has the same name`,
      obj.networkName,
    );
  }
  for (const ref of parents(objType, obj)) {
    const found = await lookup(ref.objType, ref.key);
    if (!found) {
      throw new ModelError(objType, key, ref.via, `${ref.objType} ${ref.key} does not exist`);
    }
    if (objType === 'endpointGroup' && ref.objType === 'network' && s(obj, 'ipPool')) {
      try {
        parsePool(s(obj, 'ipPool'), parseSubnet(s(found, 'subnet')));
      } catch (e) {
        throw new ModelError(objType, key, 'ipPool', (e as IpamError).reason, obj.ipPool);
      }
    }
  }
}

/** Objects whose references block deleting objType/key (rules of a deleted policy do not: they go with it). */
export async function usedBy(objType: ObjType, key: string, listAll: ListAll): Promise<Ref[]> {
  const out: Ref[] = [];
  for (const t of OBJECT_TYPES) {
    for (const o of await listAll(t)) {
      for (const r of parents(t, o)) {
        if (r.objType === objType && r.key === key && !owns(t, r.via)) {
          out.push({ objType: t, key: keyOf(t, o), via: r.via });
        }
      }
    }
  }
  return out;
}

/** Objects deleted together with objType/key (a policy's rules). */
export async function ownedBy(objType: ObjType, key: string, listAll: ListAll): Promise<Ref[]> {
  const out: Ref[] = [];
  for (const t of OBJECT_TYPES) {
    for (const o of await listAll(t)) {
      for (const r of parents(t, o)) {
        if (r.objType === objType && r.key === key && owns(t, r.via))
          out.push({ objType: t, key: keyOf(t, o), via: r.via });
      }
    }
  }
  return out;
}

/**
 * Refuses deleting an object still in use: by config objects, or (oper state the caller knows)
 * by endpoints attached to a network or group.
 */
export async function checkDelete(
  objType: ObjType,
  key: string,
  listAll: ListAll,
  oper: { endpoints?: number } = {},
): Promise<void> {
  if (oper.endpoints) {
    throw new ModelError(objType, key, undefined, `in use by ${oper.endpoints} endpoint(s)`);
  }
  const users = await usedBy(objType, key, listAll);
  if (users.length > 0) {
    const shown = users.map((u) => `${u.objType} ${u.key}`);
    throw new ModelError(objType, key, undefined, `in use by ${[...new Set(shown)].join(', ')}`);
  }
}

function overlaps(a: string, b: string): boolean {
  try {
    const x = parseSubnet(a);
    const y = parseSubnet(b);
    return x.family === y.family && x.network <= y.broadcast && y.network <= x.broadcast;
  } catch {
    return false;
  }
}

/**
 * Refuses a new network whose subnet (or IPv6 subnet) overlaps another network of the same tenant, as
 * Contiv's NetworkCreate does: addresses and routes must be unambiguous within a tenant.
 */
export async function checkSiblings(objType: ObjType, obj: PlainObject, listAll: ListAll): Promise<void> {
  if (objType !== 'network') return;
  const key = keyOf(objType, obj);
  for (const other of await listAll('network')) {
    if (s(other, 'tenantName') !== s(obj, 'tenantName') || keyOf('network', other) === key) continue;
    for (const f of ['subnet', 'ipv6Subnet']) {
      if (s(obj, f) && s(other, f) && overlaps(s(obj, f), s(other, f))) {
        throw new ModelError(
          objType,
          key,
          f,
          `overlaps network ${keyOf('network', other)} (${s(other, f)})`,
          obj[f],
        );
      }
    }
  }
}

/**
 * Refuses global changes Contiv refuses (GlobalUpdate): the forwarding mode or the private subnet while
 * networks exist, and leaving routing mode while BGP peers are configured. Range changes that would
 * orphan ids are checked by IPAM (checkRangeChange), which knows the allocations.
 */
export function checkGlobalUpdate(
  before: PlainObject,
  after: PlainObject,
  inUse: { vlans: number; vxlans: number; bgps: number },
): void {
  const existing = () =>
    [inUse.vlans ? `${inUse.vlans} vlans` : '', inUse.vxlans ? `${inUse.vxlans} vxlans` : '']
      .filter(Boolean)
      .join(' and ');
  const networks = inUse.vlans + inUse.vxlans;
  if (before.fwdMode !== after.fwdMode) {
    if (networks > 0) {
      throw new ModelError(
        'global',
        'global',
        'fwdMode',
        `cannot change while networks exist (${existing()})`,
        after.fwdMode,
      );
    }
    if (before.fwdMode === 'routing' && inUse.bgps > 0) {
      throw new ModelError(
        'global',
        'global',
        'fwdMode',
        `cannot leave routing while ${inUse.bgps} Bgp config(s) exist`,
        after.fwdMode,
      );
    }
  }
  if (before.pvtSubnet !== after.pvtSubnet && networks > 0) {
    throw new ModelError(
      'global',
      'global',
      'pvtSubnet',
      `cannot change while networks exist (${existing()})`,
      after.pvtSubnet,
    );
  }
}
