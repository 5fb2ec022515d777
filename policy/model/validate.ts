// Owns validation and normalisation of config objects (types, formats, ranges, defaults, semantic checks)
// and their keys. It must never look at other objects or the store: cross-object rules live in integrity.ts.
import { IpamError, parseIdRange, parseIP, parsePool, parseSubnet, type Subnet } from '../ipam/addr.js';
import { type ConfigOf, type FieldSpec, type ObjType, specOf } from './schema.js';

/** A refused object; the message names the object key, the field and the reason. */
export class ModelError extends Error {
  constructor(
    readonly objType: string,
    readonly key: string,
    readonly field: string | undefined,
    readonly reason: string,
    value?: unknown,
  ) {
    const v = value === undefined ? '' : ` ${JSON.stringify(value)}`;
    super(`${objType} ${key}: ${field === undefined ? '' : `${field}${v}: `}${reason}`);
    this.name = 'ModelError';
  }
}

export type PlainObject = Record<string, unknown>;

/**
 * Defaults Contiv applied outside the model JSON (netctl's flag defaults, netmaster's initial global
 * object), so REST clients that omit them see what netctl users see.
 */
const EXTRA_DEFAULTS: Partial<Record<ObjType, PlainObject>> = {
  global: {
    name: 'global',
    networkInfraType: 'default',
    vlans: '1-4094',
    vxlans: '1-10000',
    fwdMode: 'bridge',
    arpMode: 'proxy',
    pvtSubnet: '172.19.0.0/16',
  },
  network: { encap: 'vxlan' },
  aciGw: { name: 'aciGw', enforcePolicies: 'yes', includeCommonTenant: 'no' },
};

/** Key of an object: its key fields joined with ":" (network "tenant:network", rule "tenant:policy:ruleId"). */
export function keyOf(objType: ObjType, obj: PlainObject): string {
  return specOf(objType)
    .key.map((k) => {
      const v = obj[k];
      return typeof v === 'string' ? v : v === undefined ? '' : String(v);
    })
    .join(':');
}

/** Splits a REST key back into key fields; undefined when the number of parts is wrong. */
export function parseKey(objType: ObjType, key: string): Record<string, string> | undefined {
  const fields = specOf(objType).key;
  const parts = key.split(':');
  if (parts.length !== fields.length || parts.some((p) => p === '')) return undefined;
  return Object.fromEntries(fields.map((f, i) => [f, parts[i] as string]));
}

function checkField(fail: (f: string, r: string, v?: unknown) => never, f: FieldSpec, v: unknown): unknown {
  switch (f.type) {
    case 'int':
    case 'float': {
      // netctl and some clients send numbers as strings; accept those that are plain integers.
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) return fail(f.name, 'must be a number', v);
      if (f.type === 'int' && !Number.isInteger(n)) return fail(f.name, 'must be an integer', v);
      const lo = f.min ?? 0;
      if (n < lo || (f.max !== undefined && n > f.max)) {
        return fail(f.name, f.max === undefined ? `must be at least ${lo}` : `must be ${lo}..${f.max}`, v);
      }
      return n;
    }
    case 'bool':
      if (typeof v !== 'boolean') return fail(f.name, 'must be true or false', v);
      return v;
    case 'array':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
        return fail(f.name, 'must be a list of strings', v);
      }
      return [...(v as string[])];
    default:
      if (typeof v !== 'string') return fail(f.name, 'must be a string', v);
      if (f.length !== undefined && v.length > f.length) {
        return fail(f.name, `must be at most ${f.length} characters`, v);
      }
      return v;
  }
}

const KNOWN_PROTOCOLS = new Set(['tcp', 'udp', 'icmp']);

/** Semantic checks per object, beyond what the model's regexes say; run before the regexes. */
type Semantic = (o: PlainObject, fail: (f: string, r: string, v?: unknown) => never) => void;

const str = (o: PlainObject, k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');

function subnetField(
  o: PlainObject,
  k: string,
  fail: (f: string, r: string, v?: unknown) => never,
  family: 4 | 6,
) {
  const v = str(o, k);
  if (v === '') return undefined;
  let s: Subnet;
  try {
    s = parseSubnet(v);
  } catch (e) {
    return fail(k, e instanceof IpamError ? e.reason : String(e), v);
  }
  if (s.family !== family) fail(k, `must be an IPv${family} subnet`, v);
  return s;
}

function gatewayField(
  o: PlainObject,
  k: string,
  subnet: Subnet | undefined,
  subnetField: string,
  fail: (f: string, r: string, v?: unknown) => never,
) {
  const v = str(o, k);
  if (v === '') return;
  const ip = parseIP(v);
  if (!ip || (subnet && ip.family !== subnet.family)) fail(k, 'is not a valid address', v);
  if (!subnet) return fail(k, `needs a ${subnetField}`, v);
  if (ip.value < subnet.network || ip.value > subnet.broadcast) fail(k, `must be inside ${subnet.cidr}`, v);
  if (ip.value === subnet.network || (subnet.family === 4 && ip.value === subnet.broadcast)) {
    fail(k, `must not be the network or broadcast address of ${subnet.cidr}`, v);
  }
}

function ipOrCidr(o: PlainObject, k: string, fail: (f: string, r: string, v?: unknown) => never) {
  const v = str(o, k);
  // Contiv's "A.B.C.D-E" last-octet ranges are left to the model's regex.
  if (v === '' || v.includes('-')) return;
  const [addr, len, ...rest] = v.split('/');
  if (rest.length > 0 || !parseIP(addr ?? '') || (len !== undefined && !/^\d{1,3}$/.test(len))) {
    fail(k, 'must be an IP address or CIDR', v);
  }
  const max = parseIP(addr ?? '')?.family === 6 ? 128 : 32;
  if (len !== undefined && (Number(len) < 1 || Number(len) > max))
    fail(k, `prefix length must be 1..${max}`, v);
}

const SEMANTIC: Partial<Record<ObjType, Semantic>> = {
  global(o, fail) {
    for (const [k, hi] of [
      ['vlans', 4094],
      ['vxlans', 16777215],
    ] as const) {
      try {
        parseIdRange(str(o, k), 1, hi);
      } catch (e) {
        fail(k, (e as IpamError).reason, o[k]);
      }
    }
    if (!/^(bridge|routing)$/.test(str(o, 'fwdMode')))
      fail('fwdMode', 'must be bridge or routing', o.fwdMode);
    if (!/^(proxy|flood)$/.test(str(o, 'arpMode'))) fail('arpMode', 'must be proxy or flood', o.arpMode);
    const pvt = subnetField(o, 'pvtSubnet', fail, 4);
    if (pvt && pvt.prefixLen !== 16) fail('pvtSubnet', 'must be a /16', o.pvtSubnet);
  },
  network(o, fail) {
    if (str(o, 'subnet') === '') fail('subnet', 'is required');
    if (!/^(vlan|vxlan)$/.test(str(o, 'encap'))) fail('encap', 'must be vlan or vxlan', o.encap);
    if (!/^(data|infra)$/.test(str(o, 'nwType'))) fail('nwType', 'must be data or infra', o.nwType);
    const s4 = subnetField(o, 'subnet', fail, 4);
    gatewayField(o, 'gateway', s4, 'subnet', fail);
    const s6 = subnetField(o, 'ipv6Subnet', fail, 6);
    gatewayField(o, 'ipv6Gateway', s6, 'ipv6Subnet', fail);
    const tag = o.pktTag;
    // vlan ids on the wire are 12 bits (0 and 4095 reserved); VNIs are 24 bits.
    if (typeof tag === 'number' && tag !== 0) {
      if (o.encap === 'vlan' && tag > 4094) fail('pktTag', 'must be 1..4094 for vlan', tag);
      if (o.encap === 'vxlan' && tag > 16777215) fail('pktTag', 'must be 1..16777215 for vxlan', tag);
    }
  },
  endpointGroup(o, fail) {
    const pool = str(o, 'ipPool');
    if (pool !== '') {
      try {
        parsePool(pool);
      } catch (e) {
        fail('ipPool', (e as IpamError).reason, pool);
      }
    }
  },
  rule(o, fail) {
    if (!/^(in|out)$/.test(str(o, 'direction'))) fail('direction', 'must be in or out', o.direction);
    if (!/^(allow|deny)$/.test(str(o, 'action'))) fail('action', 'must be allow or deny', o.action);
    const proto = str(o, 'protocol');
    if (proto !== '' && !KNOWN_PROTOCOLS.has(proto) && !(/^\d{1,3}$/.test(proto) && Number(proto) <= 255)) {
      fail('protocol', 'must be tcp, udp, icmp or a protocol number 0..255', proto);
    }
    const port = typeof o.port === 'number' ? o.port : 0;
    if (port !== 0 && proto !== 'tcp' && proto !== 'udp') fail('port', 'needs protocol tcp or udp', port);
    ipOrCidr(o, 'fromIpAddress', fail);
    ipOrCidr(o, 'toIpAddress', fail);
    // As Contiv's RuleCreate: a network peer excludes a group or an address peer on the same side
    // (a group narrowed by an address is fine).
    for (const side of ['from', 'to'] as const) {
      if (str(o, `${side}Network`) === '') continue;
      for (const other of ['EndpointGroup', 'IpAddress']) {
        const k = `${side}${other}`;
        if (str(o, k) !== '') fail(k, `cannot be combined with ${side}Network`, o[k]);
      }
    }
    // from* fields match the sender of incoming traffic, to* the receiver of outgoing traffic. Contiv
    // lets an incoming rule name toIpAddress (one member of the policy's group, as Kubernetes policies do).
    const wrong =
      o.direction === 'in'
        ? ['toEndpointGroup', 'toNetwork']
        : ['fromEndpointGroup', 'fromNetwork', 'fromIpAddress'];
    for (const k of wrong) {
      if (str(o, k) !== '') fail(k, `is not valid in direction ${o.direction}`, o[k]);
    }
  },
  netprofile(o, fail) {
    // Contiv: a burst of 1 KB is below one full-size packet (1500 bytes), so the shaper would stall.
    if (o.burst === 1) fail('burst', 'must be 0 (none) or at least 2 KB', o.burst);
  },
  Bgp(o, fail) {
    for (const k of ['as', 'neighbor-as']) {
      const v = str(o, k);
      if (v !== '' && !(/^\d{1,10}$/.test(v) && Number(v) >= 1 && Number(v) <= 4294967295)) {
        fail(k, 'must be an AS number 1..4294967295', v);
      }
    }
    ipOrCidr(o, 'routerip', fail);
  },
  serviceLB(o, fail) {
    for (const p of (o.ports as string[] | undefined) ?? []) {
      const m = /^(\d{1,5}):(\d{1,5}):(TCP|UDP|tcp|udp)$/.exec(p);
      if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) {
        fail('ports', 'each entry must be SERVICEPORT:PROVIDERPORT:TCP|UDP with ports 0..65535', p);
      }
    }
    for (const s of (o.selectors as string[] | undefined) ?? []) {
      if (!/^[^=\s]+=[^=\s]*$/.test(s)) fail('selectors', 'each entry must be KEY=VALUE', s);
    }
  },
  extContractsGroup(o, fail) {
    const t = str(o, 'contractsType');
    if (t !== '' && t !== 'provided' && t !== 'consumed')
      fail('contractsType', 'must be provided or consumed', t);
  },
};

/**
 * Checks an object against the model and returns a normalised copy: only model fields, numbers as
 * numbers, defaults filled. Throws ModelError naming key, field and reason.
 */
export function validate<T extends ObjType>(objType: T, input: unknown): ConfigOf<T> & PlainObject {
  const spec = specOf(objType);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ModelError(objType, '?', undefined, 'must be a JSON object');
  }
  const raw = input as PlainObject;
  const out: PlainObject = {};
  const defaults: PlainObject = EXTRA_DEFAULTS[objType] ?? {};
  for (const f of spec.fields.values()) {
    const v = raw[f.name];
    const d = f.default ?? defaults[f.name];
    // Go clients send "" for an unset string: where a default exists, "" means "use it".
    if (v === undefined || v === null || (v === '' && d !== undefined)) {
      if (d !== undefined) out[f.name] = Array.isArray(d) ? [...d] : d;
    } else {
      out[f.name] = v;
    }
  }
  // A missing key part shows as "?" so the message still reads "network default:?: networkName: ...".
  const key = spec.key.map((k) => (typeof out[k] === 'string' && out[k] !== '' ? out[k] : '?')).join(':');
  const fail = (field: string, reason: string, value?: unknown): never => {
    throw new ModelError(objType, key, field, reason, value);
  };
  for (const k of spec.key) if (typeof out[k] !== 'string' || out[k] === '') fail(k, 'is required');
  for (const f of spec.fields.values()) {
    if (out[f.name] !== undefined) out[f.name] = checkField(fail, f, out[f.name]);
  }
  SEMANTIC[objType]?.(out, fail);
  for (const f of spec.fields.values()) {
    const v = out[f.name];
    if (f.format && typeof v === 'string' && !f.format.test(v)) fail(f.name, `must match ${f.formatText}`, v);
    if (f.format && f.type === 'string' && v === undefined && !f.format.test('')) fail(f.name, 'is required');
  }
  return out as ConfigOf<T> & PlainObject;
}

/**
 * Fields that cannot change once an object exists (Contiv refuses these updates: the datapath and the
 * allocations were built from them). Everything else may be updated in place.
 */
const IMMUTABLE: Partial<Record<ObjType, readonly string[] | 'all'>> = {
  // Contiv's NetworkUpdate, RuleUpdate and TenantUpdate refuse any change: delete and re-create instead.
  network: 'all',
  rule: 'all',
  tenant: 'all',
  endpointGroup: ['networkName', 'ipPool'],
  serviceLB: ['networkName'],
};

/** Refuses an update of validated `before` to validated `after` that changes an immutable field. */
export function checkUpdate(objType: ObjType, before: PlainObject, after: PlainObject): void {
  const im = IMMUTABLE[objType] ?? [];
  const spec = specOf(objType);
  for (const f of im === 'all' ? [...spec.fields.keys()].filter((k) => !spec.key.includes(k)) : im) {
    const a = before[f] ?? '';
    const b = after[f] ?? '';
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      throw new ModelError(objType, keyOf(objType, after), f, `cannot change from ${JSON.stringify(a)}`, b);
    }
  }
}
