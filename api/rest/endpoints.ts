// Owns endpoints as netmaster sees them: the /plugin routes netplugins (which may have no store of
// their own) call to allocate addresses and create or delete endpoint records, the endpoint inspect
// view, and the endpoint lists and counts the other inspect views show. An endpoint's record and
// its address are always written or removed in one store transaction.
import type { FastifyInstance } from 'fastify';
import {
  AllocationError,
  addressSpace,
  addrKey,
  addrPrefix,
  allocAddress,
  CallerConflictError,
  formatIP,
  macFromIPv4,
  parseIP,
  parseSubnet,
} from '../../policy/ipam/index.js';
import {
  ENDPOINT_ID_RE,
  ENDPOINT_PREFIX,
  type EndpointRecord,
  endpointKey,
  HOST_PREFIX,
  type HostRecord,
  hostKey,
} from '../../policy/model/endpoint.js';
import { configKey, type PlainObject } from '../../policy/model/index.js';
import type { Compare, KV, Store, TxnOp } from '../../state/store.js';
import { HttpError } from './http-error.js';
import { absent, parseObj, unchanged } from './read-set.js';

/** The owner an address allocated by /plugin/allocAddress carries until an endpoint takes it. */
export const UNBOUND_OWNER = 'plugin:unbound';

export interface EndpointContext {
  store: Store;
  /** Runs a write that may run alongside other such writes but never alongside a delete. */
  shared: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The group's id (ipam epg), if it has one. */
  epgIdOf: (group: string) => Promise<number | undefined>;
}

const owner = (kv: KV | undefined): string | undefined => {
  const o = parseObj<{ owner?: unknown }>(kv)?.owner;
  return typeof o === 'string' ? o : undefined;
};

/** A request's `labels`: an object, its values as strings. */
function labelsOf(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new HttpError(400, 'labels must be an object of strings');
  }
  return Object.fromEntries(Object.entries(v as PlainObject).map(([k, x]) => [k, String(x)]));
}

/** Go's fmt of a map[string]string, as Contiv's endpoint inspect showed labels: "map[a:1 b:2]". */
export function goMapText(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return `map[${keys.map((k) => `${k}:${labels[k]}`).join(' ')}]`;
}

/** Contiv's endpoint oper view of a record (network "net.tenant", group key "group:tenant"). */
export function endpointOper(ep: EndpointRecord, host: HostRecord | undefined): PlainObject {
  return {
    endpointID: ep.endpointID,
    network: `${ep.network}.${ep.tenant}`,
    endpointGroupId: ep.endpointGroupId,
    endpointGroupKey: ep.endpointGroup ? `${ep.endpointGroup}:${ep.tenant}` : '',
    ipAddress: [ep.ipAddress, ep.ipv6Address],
    macAddress: ep.macAddress,
    homingHost: ep.homingHost,
    intfName: ep.intfName,
    vtepIP: host?.vtepIP ?? '',
    labels: goMapText(ep.labels ?? {}),
    containerID: ep.containerID,
    containerName: ep.containerName,
  };
}

/** Every endpoint record and host record, for inspect views (one list each). */
export async function readEndpoints(
  store: Store,
): Promise<{ endpoints: EndpointRecord[]; hosts: Map<string, HostRecord> }> {
  const endpoints = (await store.list(ENDPOINT_PREFIX))
    .map((kv) => parseObj<EndpointRecord>(kv))
    .filter((e): e is EndpointRecord => e !== undefined);
  const hosts = new Map<string, HostRecord>();
  for (const kv of await store.list(HOST_PREFIX)) {
    const h = parseObj<HostRecord>(kv);
    if (h) hosts.set(h.name, h);
  }
  return { endpoints, hosts };
}

/** "ep1, ep2, ep3 and 4 more": what a refused delete names. */
export function nameSome(ids: string[], n = 5): string {
  const shown = ids.slice(0, n).join(', ');
  return ids.length > n ? `${shown} and ${ids.length - n} more` : shown;
}

/** A /plugin body's string field: absent or '' is '' (or a 400 when required). */
export function str(body: PlainObject, field: string, required: boolean): string {
  const v = body[field];
  if (v === undefined || v === null || v === '') {
    if (required) throw new HttpError(400, `${field} is required`);
    return '';
  }
  if (typeof v !== 'string') throw new HttpError(400, `${field} must be a string, not ${JSON.stringify(v)}`);
  return v;
}

/** A /plugin body, or a 400 when it is not a JSON object. */
export function bodyOf(b: unknown): PlainObject {
  if (typeof b !== 'object' || b === null || Array.isArray(b)) {
    throw new HttpError(400, 'the request body must be a JSON object');
  }
  return b as PlainObject;
}

interface Target {
  tenant: string;
  network: string;
  group: string;
  netKv: KV;
  net: PlainObject;
  groupKv: KV | undefined;
  grp: PlainObject | undefined;
}

/** Conflicting concurrent writers retry; past this many, the caller gets a 409. */
const ATTEMPTS = 20;

export function registerEndpointRoutes(app: FastifyInstance, ctx: EndpointContext): void {
  const { store } = ctx;

  async function target(body: PlainObject): Promise<Target> {
    const tenant = str(body, 'tenant', false) || 'default';
    const network = str(body, 'network', true);
    const group = str(body, 'group', false);
    const netKey = `${tenant}:${network}`;
    const netKv = await store.get(configKey('network', netKey));
    const net = parseObj<PlainObject>(netKv);
    if (!netKv || !net) throw new HttpError(404, `network: ${netKey} does not exist`);
    let groupKv: KV | undefined;
    let grp: PlainObject | undefined;
    if (group) {
      groupKv = await store.get(configKey('endpointGroup', `${tenant}:${group}`));
      grp = parseObj<PlainObject>(groupKv);
      if (!groupKv || !grp) throw new HttpError(404, `group: ${tenant}:${group} does not exist`);
      if (grp.networkName !== network) {
        throw new HttpError(
          400,
          `group: ${tenant}:${group} is in network ${String(grp.networkName)}, not ${network}`,
        );
      }
    }
    return { tenant, network, group, netKv, net, groupKv, grp };
  }

  /** Where the target's IPv4 addresses come from: the group's ip-pool, else the network. */
  const v4Space = (t: Target) =>
    addressSpace(
      `${t.tenant}:${t.network}`,
      String(t.net.subnet),
      typeof t.net.gateway === 'string' ? t.net.gateway : undefined,
      typeof t.grp?.ipPool === 'string' && t.grp.ipPool ? t.grp.ipPool : undefined,
    );
  const parentCompares = (t: Target): Compare[] => [
    unchanged(t.netKv),
    ...(t.groupKv ? [unchanged(t.groupKv)] : []),
  ];

  /** The first free IPv6 address of the network ('' when it has no IPv6 subnet). */
  async function v6Candidate(t: Target): Promise<{ ip: string; key: string } | undefined> {
    const text = typeof t.net.ipv6Subnet === 'string' ? t.net.ipv6Subnet : '';
    if (!text) return undefined;
    const s = parseSubnet(text);
    const gw = typeof t.net.ipv6Gateway === 'string' ? parseIP(t.net.ipv6Gateway)?.value : undefined;
    const netKey = `${t.tenant}:${t.network}`;
    const prefix = addrPrefix(netKey);
    const taken = new Set<bigint>();
    for (const kv of await store.list(prefix)) {
      const ip = parseIP(kv.key.slice(prefix.length));
      if (ip?.family === 6) taken.add(ip.value);
    }
    for (let v = s.first; v <= s.last; v++) {
      if (taken.has(v) || v === gw) continue;
      const ip = formatIP(6, v);
      return { ip, key: addrKey(netKey, ip) };
    }
    throw new AllocationError(`network ${netKey}`, 'no free IPv6 address left', {
      name: 'ipv6Subnet',
      value: text,
    });
  }

  app.post('/plugin/allocAddress', async (req) => {
    const body = bodyOf(req.body);
    const preferred = str(body, 'preferred', false) || str(body, 'address', false);
    return ctx.shared(async () => {
      const t = await target(body);
      const len = String(t.net.subnet).split('/')[1];
      // Swarm asks twice per task (the manager, then the node naming the manager's address): a named
      // address handed out here that no endpoint holds yet is granted again, not refused.
      const asked = preferred ? parseIP(preferred.split('/')[0] ?? '') : undefined;
      if (asked?.family === 4) {
        const kv = await store.get(addrKey(`${t.tenant}:${t.network}`, formatIP(4, asked.value)));
        if (kv && owner(kv) === UNBOUND_OWNER) {
          const again = `${formatIP(4, asked.value)}/${len}`;
          return { networkID: `${t.network}.${t.tenant}`, address: again, ipAddress: again };
        }
      }
      const ip = await allocAddress(store, v4Space(t), {
        owner: UNBOUND_OWNER,
        ...(preferred
          ? {
              preferred: preferred.split('/')[0],
              preferredField: str(body, 'preferred', false) ? 'preferred' : 'address',
            }
          : {}),
        extras: { compares: parentCompares(t), ops: [] },
      });
      return { networkID: `${t.network}.${t.tenant}`, address: `${ip}/${len}`, ipAddress: `${ip}/${len}` };
    });
  });

  app.post('/plugin/releaseAddress', async (req) => {
    const body = bodyOf(req.body);
    const tenant = str(body, 'tenant', false) || 'default';
    const network = str(body, 'network', true);
    const address = (str(body, 'address', false) || str(body, 'ipAddress', true)).split('/')[0] ?? '';
    const ip = parseIP(address);
    if (!ip) throw new HttpError(400, `address: "${address}" is not an IP address`);
    const key = addrKey(`${tenant}:${network}`, formatIP(ip.family, ip.value));
    return ctx.shared(async () => {
      const kv = await store.get(key);
      if (!kv) return {}; // already free: not an error
      const who = owner(kv);
      if (who !== UNBOUND_OWNER) {
        throw new HttpError(
          409,
          `address: ${address} in ${tenant}:${network} belongs to endpoint ${who ?? '?'}; delete the endpoint`,
        );
      }
      await store.txn([unchanged(kv)], [{ type: 'delete', key }]);
      return {};
    });
  });

  app.post('/plugin/createEndpoint', async (req) => {
    const body = bodyOf(req.body);
    const endpointID = str(body, 'endpointID', true);
    if (!ENDPOINT_ID_RE.test(endpointID)) {
      throw new HttpError(400, `endpointID: "${endpointID}" must match ${ENDPOINT_ID_RE.source}`);
    }
    const requested = (str(body, 'ipAddress', false) || str(body, 'preferred', false)).split('/')[0] ?? '';
    const homingHost = str(body, 'host', false) || str(body, 'homingHost', true);
    const labels = labelsOf(body.labels ?? {});
    return ctx.shared(async () => {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const t = await target(body);
        const recKey = endpointKey(endpointID);
        const existing = await store.get(recKey);
        const old = parseObj<EndpointRecord>(existing);
        if (old) {
          // A retried create (netplugin restarted, a lost answer) gets the record it made.
          if (
            old.tenant === t.tenant &&
            old.network === t.network &&
            (!requested || old.ipAddress === requested)
          )
            return old;
          throw new HttpError(
            409,
            `endpointID: ${endpointID} already exists in ${old.tenant}:${old.network} with ${old.ipAddress}`,
          );
        }
        const epgId = t.group ? ((await ctx.epgIdOf(`${t.tenant}:${t.group}`)) ?? 0) : 0;
        const v6 = await v6Candidate(t);
        const record = (ip: string): EndpointRecord => ({
          endpointID,
          tenant: t.tenant,
          network: t.network,
          endpointGroup: t.group,
          endpointGroupId: epgId,
          ipAddress: ip,
          ipv6Address: v6?.ip ?? '',
          macAddress: macFromIPv4(ip),
          homingHost,
          intfName: str(body, 'intfName', false),
          containerID: str(body, 'containerID', false),
          containerName: str(body, 'containerName', false),
          labels,
        });
        const mine = JSON.stringify({ owner: endpointID });
        const base: Compare[] = [absent(recKey), ...parentCompares(t), ...(v6 ? [absent(v6.key)] : [])];
        const v6Ops: TxnOp[] = v6 ? [{ type: 'put', key: v6.key, value: mine }] : [];
        const space = v4Space(t);
        if (requested) {
          const ip = parseIP(requested);
          if (!ip || ip.family !== 4)
            throw new HttpError(400, `ipAddress: "${requested}" is not an IPv4 address`);
          const text = formatIP(4, ip.value);
          const key = addrKey(space.network, text);
          const held = await store.get(key);
          if (held) {
            // Taken by /plugin/allocAddress (Docker's IPAM call) for this endpoint: the endpoint takes it over.
            const who = owner(held);
            if (who !== UNBOUND_OWNER && who !== endpointID) {
              throw new HttpError(
                409,
                `ipAddress: ${text} in ${space.network} is in use by endpoint ${who ?? '?'}`,
              );
            }
            const rec = record(text);
            const r = await store.txn(
              [...base, unchanged(held)],
              [
                { type: 'put', key, value: mine },
                { type: 'put', key: recKey, value: JSON.stringify(rec) },
                ...v6Ops,
              ],
            );
            if (r.succeeded) return rec;
            continue;
          }
        }
        let rec: EndpointRecord | undefined;
        try {
          // The record holding the address goes in the allocation's own transaction.
          const ip = await allocAddress(store, space, {
            owner: endpointID,
            ...(requested
              ? {
                  preferred: requested,
                  preferredField: str(body, 'ipAddress', false) ? 'ipAddress' : 'preferred',
                }
              : {}),
            extras: (chosen) => {
              rec = record(chosen);
              return {
                compares: base,
                ops: [{ type: 'put', key: recKey, value: JSON.stringify(rec) }, ...v6Ops],
              };
            },
          });
          if (rec && rec.ipAddress === ip) return rec;
          throw new Error(`internal: allocated ${ip} but recorded ${rec?.ipAddress}`);
        } catch (e) {
          if (e instanceof CallerConflictError) continue;
          throw e;
        }
      }
      throw new HttpError(
        409,
        `endpointID: ${endpointID}: kept conflicting with concurrent writes; try again`,
      );
    });
  });

  app.post('/plugin/deleteEndpoint', async (req) => {
    const body = bodyOf(req.body);
    const endpointID = str(body, 'endpointID', true);
    return ctx.shared(async () => {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const recKey = endpointKey(endpointID);
        const kv = await store.get(recKey);
        const rec = parseObj<EndpointRecord>(kv);
        if (!kv || !rec) return {}; // gone already: deleting is idempotent
        const compares: Compare[] = [unchanged(kv)];
        const ops: TxnOp[] = [{ type: 'delete', key: recKey }];
        const net = `${rec.tenant}:${rec.network}`;
        for (const ip of [rec.ipAddress, rec.ipv6Address]) {
          if (!ip) continue;
          const key = addrKey(net, ip);
          const held = await store.get(key);
          // Only the endpoint's own address goes back with it.
          if (held && owner(held) === endpointID) {
            compares.push(unchanged(held));
            ops.push({ type: 'delete', key });
          }
        }
        if ((await store.txn(compares, ops)).succeeded) return {};
      }
      throw new HttpError(
        409,
        `endpointID: ${endpointID}: kept conflicting with concurrent writes; try again`,
      );
    });
  });

  // The container's name, learned after Join (Docker's driver calls do not carry it): only a record
  // still there is updated; one its container's removal took meanwhile stays gone.
  app.post('/plugin/nameEndpoint', async (req) => {
    const body = bodyOf(req.body);
    const endpointID = str(body, 'endpointID', true);
    const containerID = str(body, 'containerID', false);
    const containerName = str(body, 'containerName', true);
    const labels = body.labels === undefined ? undefined : labelsOf(body.labels);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const kv = await store.get(endpointKey(endpointID));
      const rec = parseObj<EndpointRecord>(kv);
      if (!kv || !rec) return {};
      if (
        rec.containerName === containerName &&
        (!containerID || rec.containerID === containerID) &&
        (!labels || JSON.stringify(rec.labels ?? {}) === JSON.stringify(labels))
      )
        return {};
      const named: EndpointRecord = {
        ...rec,
        containerName,
        ...(containerID ? { containerID } : {}),
        ...(labels ? { labels } : {}),
      };
      const r = await store.txn(
        [unchanged(kv)],
        [{ type: 'put', key: kv.key, value: JSON.stringify(named) }],
      );
      if (r.succeeded) return {};
    }
    throw new HttpError(409, `endpointID: ${endpointID}: kept conflicting with concurrent writes; try again`);
  });

  app.get<{ Querystring: { host?: string } }>('/plugin/endpoints', async (req) => {
    const host = req.query.host;
    const { endpoints } = await readEndpoints(store);
    return host ? endpoints.filter((e) => e.homingHost === host) : endpoints;
  });

  app.get<{ Params: { id: string } }>('/api/v1/inspect/endpoints/:id/', async (req) => {
    const rec = parseObj<EndpointRecord>(await store.get(endpointKey(req.params.id)));
    if (!rec) throw new HttpError(404, `endpoint ${req.params.id} not found`);
    const host = parseObj<HostRecord>(await store.get(hostKey(rec.homingHost)));
    return { Oper: endpointOper(rec, host) };
  });
}
