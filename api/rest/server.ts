// Owns netmaster's REST API: Contiv's /api/v1 config and inspect paths, /version, /info, and the openapi document.
// It must never write an object without checking, in the same store transaction, what the object depends on.

import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger, LoggerOptions } from 'pino';
import {
  AllocationError,
  addressSpace,
  addressUsage,
  allocNetworkTags,
  CallerConflictError,
  checkRangeChange,
  formatRuns,
  GroupIds,
  IpamError,
  type NetworkTags,
  networkTagsByOwner,
  releaseAllAddresses,
  releaseId,
  releaseNetworkTags,
  releasePool,
  reservePool,
  tagKey,
  tagPrefix,
} from '../../policy/ipam/index.js';
import {
  bgpOperKey,
  DOCKERNET_PREFIX,
  type DockerNetRecord,
  dockerNetKey,
  type EndpointRecord,
} from '../../policy/model/endpoint.js';
import {
  checkDelete,
  checkGlobalUpdate,
  checkParents,
  checkSiblings,
  checkUpdate,
  ModelError,
  OBJECT_TYPES,
  type ObjType,
  ownedBy,
  type PlainObject,
  parents,
  parseKey,
  SCHEMA,
  typeOfPlural,
  validate,
} from '../../policy/model/index.js';
import { type CachedKV, PrefixCache } from '../../state/cache.js';
import { EtcdStore } from '../../state/etcd.js';
import type { Compare, KV, Store, TxnOp } from '../../state/store.js';
import { type BatcherOptions, type BatchOutcome, TxnBatcher } from './batch.js';
import { acceptContivBodies } from './body.js';
import { EndpointError, endpointOper, nameSome, readEndpoints, registerEndpointRoutes } from './endpoints.js';
import { sendError } from './error-form.js';
import { forward, type Leadership } from './forward.js';
import { memoLists } from './links.js';
import { backfillTenantIds, createWithTenantId, releaseTenantId } from './tenant-ids.js';
import { configView, shown } from './views.js';

export const CONFIG_PREFIX = '/contiv.io/config/';
export const VERSION = '0.1.0';

export const configKey = (t: ObjType, key: string) => `${CONFIG_PREFIX}${t}/${key}`;

export interface ServerOptions {
  store: Store;
  /**
   * With several netmasters on one store: only the leader writes; a follower forwards writes to
   * it. Without it (one netmaster), this one writes.
   */
  leadership?: Leadership;
  /** How the store was opened, for /info ("etcd://h:2379,…" or "embedded:/var/lib/…"). */
  storeDescription?: string;
  /** Group commit of concurrent writes (default: on for etcd, one transaction in flight; off otherwise). */
  batch?: BatcherOptions;
  /** The daemon's logger (request log and errors), or pino options, or false (the default): none. */
  logger?: Logger | LoggerOptions | boolean;
  /** Contiv's network mode (vlan or vxlan) and Docker plugin name, shown by /info. */
  networkMode?: string;
  pluginName?: string;
  /** Contiv's cluster mode (docker, kubernetes, swarm-mode), shown by global inspect (default docker). */
  clusterMode?: string;
}

/** A refused request with its HTTP status; the message goes back as {"Err": ...}. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const absent = (key: string): Compare => ({ key, target: 'create', op: '==', value: 0 });
const unchanged = (kv: KV): Compare => ({ key: kv.key, target: 'mod', op: '==', value: kv.modRevision });

/** Writes that must land in the same transaction as a new network. */
interface TxnExtra {
  compares: Compare[];
  ops: TxnOp[];
}

/** /plugin/dockerNetwork's body, checked field by field. */
function dockerNetBody(b: unknown): { networkID: string; name: string; subnet: string; gateway: string } {
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    throw new HttpError(400, 'the request body must be a JSON object');
  const o = b as PlainObject;
  const field = (f: string, required: boolean): string => {
    const v = o[f];
    if (v === undefined || v === null || v === '') {
      if (required) throw new HttpError(400, `${f} is required`);
      return '';
    }
    if (typeof v !== 'string') throw new HttpError(400, `${f} must be a string, not ${JSON.stringify(v)}`);
    return v;
  };
  const networkID = field('networkID', true);
  if (!/^[0-9a-z]{1,64}$/.test(networkID))
    throw new HttpError(400, `networkID: "${networkID}" is not a Docker network id`);
  return {
    networkID,
    name: field('name', true),
    subnet: field('subnet', true),
    gateway: field('gateway', false),
  };
}

function parseObj(kv: KV | undefined): PlainObject | undefined {
  if (!kv) return undefined;
  try {
    return JSON.parse(kv.value) as PlainObject;
  } catch {
    return undefined;
  }
}

/** Parsed values of the watch-fed copy's entries: each create reads its parents, parsed once. */
const parsedEntries = new WeakMap<object, Readonly<PlainObject>>();

/** A read's object; shared between requests while its entry is unchanged, so frozen. */
function parseCached(kv: { value: string } | undefined): Readonly<PlainObject> | undefined {
  if (!kv) return undefined;
  const known = parsedEntries.get(kv);
  if (known) return known;
  try {
    const obj = Object.freeze(JSON.parse(kv.value) as PlainObject);
    parsedEntries.set(kv, obj);
    return obj;
  } catch {
    return undefined;
  }
}

/** Conflicts past this many attempts are answered 409 (each attempt re-reads what changed). */
const MAX_WRITE_ATTEMPTS = 8;

/**
 * The keys one write attempt read, each with the revision it saw (0: absent), so the write can
 * require exactly those (compares) and, when they no longer hold, read them back in the same
 * round trip (failureReads) for the next attempt.
 */
class ReadSet {
  private readonly seen = new Map<string, { value: string; modRevision: number } | undefined>();
  usedCache = false;
  /** After a failed transaction: the keys as the store had them then. */
  readonly fresh = new Map<string, KV | undefined>();

  constructor(
    private readonly store: Store,
    private readonly cache: PrefixCache | undefined,
    private readonly known: Map<string, KV | undefined> | undefined,
  ) {}

  async get(key: string): Promise<{ value: string; modRevision: number } | undefined> {
    if (this.seen.has(key)) return this.seen.get(key);
    let v: { value: string; modRevision: number } | undefined;
    if (this.known?.has(key)) v = this.known.get(key);
    else if (this.cache) {
      v = this.cache.get(key) as CachedKV | undefined;
      this.usedCache = true;
    } else v = await this.store.get(key);
    this.seen.set(key, v);
    return v;
  }

  compares(): Compare[] {
    return [...this.seen].map(([key, v]) =>
      v ? { key, target: 'mod', op: '==', value: v.modRevision } : absent(key),
    );
  }

  keys(): string[] {
    return [...this.seen.keys()];
  }

  learn(reads: (KV | undefined)[], revision: number): void {
    const keys = [...this.seen.keys()];
    keys.forEach((key, i) => {
      const kv = reads[i];
      this.fresh.set(key, kv);
      this.cache?.note(key, kv, revision);
    });
  }
}

/** Contiv shows the local VLAN as pktTag and, for VXLAN, the VNI as externalPktTag. */
const tagFields = (tags: NetworkTags | undefined): PlainObject =>
  !tags
    ? {}
    : {
        pktTag: tags.localVlan ?? tags.pktTag,
        ...(tags.encap === 'vxlan' ? { externalPktTag: tags.pktTag } : {}),
      };

const isLogger = (l: ServerOptions['logger']): l is Logger =>
  typeof l === 'object' && l !== null && typeof (l as Logger).child === 'function';

export function buildServer(opts: ServerOptions): FastifyInstance {
  const { store } = opts;
  // 1 MiB is fastify's default too; said here because the API promises it (413 above it).
  const app = Fastify({
    ...(isLogger(opts.logger) ? { loggerInstance: opts.logger } : { logger: opts.logger ?? false }),
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
  }) as unknown as FastifyInstance;
  acceptContivBodies(app);

  // Writes whose checks a concurrent write could invalidate without touching a key they compare
  // (checkDelete's "nobody uses it" vs a child create; checkSiblings' subnet overlap; global range
  // changes) run alone. The others run together: each is one transaction whose compares (its own
  // key absent or unchanged, its parents unchanged) reject a conflicting write. Concurrent writes
  // let the store share one fsync among them. Across processes, leader election leaves one writer.
  let exclusiveTail: Promise<unknown> = Promise.resolve();
  const running = new Set<Promise<unknown>>();
  const shared = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = exclusiveTail.then(fn);
    const tracked = run.catch(() => undefined);
    running.add(tracked);
    void tracked.then(() => running.delete(tracked));
    return run;
  };
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const before = [...running];
    const run = exclusiveTail.then(() => Promise.all(before)).then(fn);
    exclusiveTail = run.catch(() => undefined);
    return run;
  };
  /** Types whose create or update must not overlap other writes (see above). */
  const aloneOnWrite = new Set<ObjType>(['network', 'global']);

  // Concurrent writes on disjoint keys share one store transaction (see batch.ts).
  // On etcd one transaction at a time, carrying what queued meanwhile, measured best (rest-create:
  // 1 in flight 1,270/s, 2: 1,068/s, 4: 830/s); the embedded store already shares one fsync among
  // concurrent transactions, so there each write goes alone and at once.
  const batcher = new TxnBatcher(
    store,
    opts.batch ??
      (store instanceof EtcdStore ? { maxInFlight: 1 } : { maxInFlight: Number.POSITIVE_INFINITY }),
  );
  // The watch-fed copy of config objects and group ids that writes read first (see writeObj).
  let cache: PrefixCache | undefined;
  const groupIds = new GroupIds(store);
  app.addHook('onReady', async () => {
    cache = await PrefixCache.open(store, [CONFIG_PREFIX, tagPrefix('epg')], {
      onError: (err) => app.log.warn({ err }, 'store watch broke; writes read the store until it is rebuilt'),
    });
    groupIds.follow(cache);
  });
  app.addHook('onClose', async () => {
    await cache?.close();
  });

  const getObj = async (t: ObjType, key: string) => parseObj(await store.get(configKey(t, key)));
  const listObjs = async (t: ObjType): Promise<PlainObject[]> =>
    (await store.list(`${CONFIG_PREFIX}${t}/`))
      .map(parseObj)
      .filter((o): o is PlainObject => o !== undefined);
  /** A network's tags, read from the allocation keys it owns (the allocator's record is the only one). */
  const getTags = async (key: string): Promise<NetworkTags | undefined> =>
    (await networkTagsByOwner(store)).get(key);

  async function globalRanges(): Promise<{ vlans?: string; vxlans?: string }> {
    const g = (await getObj('global', 'global')) ?? {};
    return {
      ...(typeof g.vlans === 'string' ? { vlans: g.vlans } : {}),
      ...(typeof g.vxlans === 'string' ? { vxlans: g.vxlans } : {}),
    };
  }

  function objectFromRequest(t: ObjType, key: string, body: unknown): PlainObject {
    const keyFields = parseKey(t, key);
    if (!keyFields) {
      throw new HttpError(400, `${t} ${key}: the key must be ${SCHEMA.get(t)?.key.join(':')}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpError(400, `${t} ${key}: the request body must be a JSON object`);
    }
    const raw = { ...(body as PlainObject) };
    for (const [f, v] of Object.entries(keyFields)) {
      if (raw[f] === undefined || raw[f] === '') raw[f] = v;
      else if (String(raw[f]) !== v) {
        throw new HttpError(400, `${t} ${key}: ${f} ${JSON.stringify(raw[f])} does not match the URL key`);
      }
    }
    return validate(t, raw);
  }

  /**
   * Creates or updates (Contiv's POST and PUT both do either) in one transaction guarded by compares
   * on every key its checks read. The first attempt reads the watch-fed copy (no store round trip);
   * a stale copy makes the compares fail, and the failure branch returns the keys fresh for the next
   * attempt. A check that fails on the copy is redone on the store before it is reported.
   */
  async function writeObj(t: ObjType, key: string, obj: PlainObject, extra?: TxnExtra): Promise<void> {
    let fresh: Map<string, KV | undefined> | undefined;
    let useCache = cache?.ready === true && !aloneOnWrite.has(t);
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const rs = new ReadSet(store, useCache ? cache : undefined, fresh);
      let outcome: 'done' | 'conflict';
      try {
        outcome = await writeAttempt(t, key, obj, rs, extra);
      } catch (e) {
        // A refusal seen through the copy may be the copy's lag (a parent created a moment ago).
        if (rs.usedCache && (e instanceof ModelError || e instanceof HttpError)) {
          useCache = false;
          fresh = undefined;
          continue;
        }
        throw e;
      }
      if (outcome === 'done') return;
      useCache = false;
      fresh = rs.fresh;
    }
    throw new HttpError(409, `${t} ${key}: it, or something it depends on, kept changing; try again`);
  }

  async function writeAttempt(
    t: ObjType,
    key: string,
    obj: PlainObject,
    rs: ReadSet,
    extra: TxnExtra | undefined,
  ): Promise<'done' | 'conflict'> {
    const selfKey = configKey(t, key);
    const before = await rs.get(selfKey);
    const old = before ? (parseCached(before) ?? {}) : undefined;
    if (extra && (old || t !== 'network')) throw new Error('internal: extra writes only with a new network');
    if (old) checkUpdate(t, old, obj);
    const lookup = async (pt: ObjType, pk: string) => parseCached(await rs.get(configKey(pt, pk)));
    await checkParents(t, obj, lookup);
    // Every parent is compared on, also those the checks had no reason to read.
    for (const r of parents(t, obj)) await rs.get(configKey(r.objType, r.key));
    const put: TxnOp = { type: 'put', key: selfKey, value: JSON.stringify(obj) };
    if (!old && t === 'network') {
      await checkSiblings(t, obj, listObjs);
      const encap = obj.encap === 'vlan' ? 'vlan' : 'vxlan';
      const pktTag = typeof obj.pktTag === 'number' ? obj.pktTag : undefined;
      await rs.get(configKey('global', 'global'));
      // The tag keys (owner = this network) go in the same transaction as the object: they are also the
      // record inspect reads back, so there is no second write that a crash could separate from them.
      // The ranges the tag was checked against must still be the global's when the network lands.
      try {
        await allocNetworkTags(
          store,
          { network: key, encap, ...(pktTag !== undefined ? { pktTag } : {}) },
          await globalRanges(),
          { compares: [...rs.compares(), ...(extra?.compares ?? [])], ops: [put, ...(extra?.ops ?? [])] },
        );
      } catch (e) {
        if (e instanceof CallerConflictError) return 'conflict';
        throw e;
      }
      return 'done';
    }
    if (old && t === 'global') {
      const nets = await listObjs('network');
      checkGlobalUpdate(old, obj, {
        vlans: nets.filter((n) => n.encap === 'vlan').length,
        vxlans: nets.filter((n) => n.encap !== 'vlan').length,
        bgps: (await listObjs('Bgp')).length,
      });
      if (old.vlans !== obj.vlans) await checkRangeChange(store, 'vlan', String(obj.vlans));
      if (old.vxlans !== obj.vxlans) await checkRangeChange(store, 'vxlan', String(obj.vxlans));
    }
    if (!old && t === 'tenant') {
      // The tenant's id (its VRF and conntrack zone) is allocated with it.
      return (await createWithTenantId(store, key, rs.compares(), [put])) ? 'done' : 'conflict';
    }
    const ops: TxnOp[] = [put];
    let epgId: number | undefined;
    if (!old && t === 'endpointGroup') {
      // The group's id (what the datapath marks its traffic with) is allocated with it.
      epgId = await groupIds.pick((k) => rs.get(k));
      ops.push({ type: 'put', key: tagKey('epg', epgId), value: JSON.stringify({ owner: key }) });
    }
    let reserved = false;
    if (!old && t === 'endpointGroup' && typeof obj.ipPool === 'string' && obj.ipPool !== '') {
      const netKey = `${obj.tenantName}:${obj.networkName}`;
      const net = await lookup('network', netKey);
      if (!net) throw new HttpError(400, `${t} ${key}: network ${netKey} does not exist`);
      const space = addressSpace(netKey, String(net.subnet), String(net.gateway ?? ''), obj.ipPool);
      await reservePool(store, space, key);
      reserved = true;
    }
    if (epgId !== undefined) groupIds.hold(epgId);
    let r: BatchOutcome;
    try {
      r = await batcher.submit({ compares: rs.compares(), ops, readBack: rs.keys() });
    } finally {
      if (epgId !== undefined) groupIds.settled(epgId);
    }
    if (!r.succeeded) {
      if (reserved) await releasePool(store, `${obj.tenantName}:${obj.networkName}`, key);
      rs.learn(r.reads, r.revision);
      return 'conflict';
    }
    for (const op of ops) {
      if (op.type === 'put') {
        cache?.note(
          op.key,
          { key: op.key, value: op.value, modRevision: r.revision, createRevision: 0, version: 0 },
          r.revision,
        );
      }
    }
    return 'done';
  }

  /** dockerNetworkID: the removal of the Docker network a Contiv network was made for (see DockerNetRecord). */
  async function remove(t: ObjType, key: string, dockerNetworkID?: string): Promise<void> {
    const kv = await store.get(configKey(t, key));
    const obj = parseObj(kv);
    if (!kv || !obj) throw new HttpError(404, `${t} ${key} not found`);
    const docknetKv = t === 'network' ? await store.get(`${DOCKERNET_PREFIX}${key}`) : undefined;
    const docknet = parseObj(docknetKv) as DockerNetRecord | undefined;
    if (docknet && docknet.networkID !== dockerNetworkID)
      throw new HttpError(
        409,
        `network ${key}: made for Docker network ${docknet.name} (${docknet.networkID}); remove it with docker network rm`,
      );
    if (t === 'network' || t === 'endpointGroup' || t === 'tenant') {
      // Endpoints are created under the same lock-free discipline as config children: deletes run
      // alone, so none can appear between this check and the delete below.
      const users = (await readEndpoints(store)).endpoints
        .filter((e) =>
          t === 'tenant'
            ? e.tenant === key
            : t === 'network'
              ? `${e.tenant}:${e.network}` === key
              : e.endpointGroup !== '' && `${e.tenant}:${e.endpointGroup}` === key,
        )
        .map((e) => e.endpointID);
      if (users.length > 0) {
        throw new HttpError(409, `${t} ${key}: in use by ${users.length} endpoint(s): ${nameSome(users)}`);
      }
    }
    try {
      await checkDelete(t, key, listObjs);
    } catch (e) {
      if (e instanceof ModelError) throw new HttpError(409, e.message);
      throw e;
    }
    const ops: TxnOp[] = [{ type: 'delete', key: configKey(t, key) }];
    for (const o of await ownedBy(t, key, listObjs))
      ops.push({ type: 'delete', key: configKey(o.objType, o.key) });
    if (docknetKv) ops.push({ type: 'delete', key: docknetKv.key });
    const tags = t === 'network' ? await getTags(key) : undefined;
    const r = await store.txn([unchanged(kv), ...(docknetKv ? [unchanged(docknetKv)] : [])], ops);
    if (!r.succeeded) throw new HttpError(409, `${t} ${key}: changed meanwhile; try again`);
    // Allocations go back after the object is gone: a crash in between leaks ids, never hands out one in use.
    if (t === 'network') {
      if (tags) await releaseNetworkTags(store, key, tags);
      await releaseAllAddresses(store, key);
    }
    if (t === 'tenant') await releaseTenantId(store, key);
    if (t === 'endpointGroup') {
      if (obj.ipPool) await releasePool(store, `${obj.tenantName}:${obj.networkName}`, key);
      const id = await groupIds.idOf(key);
      if (id !== undefined && (await releaseId(store, 'epg', id, key))) groupIds.released(key, id);
    }
  }

  async function oper(t: ObjType, key: string, obj: PlainObject): Promise<PlainObject> {
    // Endpoint lists and counts, from the endpoint records netplugins made through /plugin.
    const eps = async (pick: (e: EndpointRecord) => boolean) => {
      const { endpoints, hosts } = await readEndpoints(store);
      return endpoints.filter(pick).map((e) => endpointOper(e, hosts.get(e.homingHost)));
    };
    if (t === 'tenant') {
      const mine = (o: PlainObject) => o.tenantName === key;
      const endpoints = await eps((e) => e.tenant === key);
      const count = async (ot: ObjType) => (await listObjs(ot)).filter(mine).length;
      return {
        totalNetworks: await count('network'),
        totalEPGs: await count('endpointGroup'),
        totalNetprofiles: await count('netprofile'),
        totalAppProfiles: await count('appProfile'),
        totalServicelbs: await count('serviceLB'),
        totalPolicies: await count('policy'),
        totalEndpoints: endpoints.length,
        endpoints,
      };
    }
    if (t === 'policy') {
      // A policy's endpoints are the members of the groups it is attached to.
      const groups = new Set(
        (await listObjs('endpointGroup'))
          .filter(
            (g) =>
              g.tenantName === obj.tenantName &&
              Array.isArray(g.policies) &&
              g.policies.includes(obj.policyName),
          )
          .map((g) => String(g.groupName)),
      );
      const endpoints = await eps((e) => e.tenant === obj.tenantName && groups.has(e.endpointGroup));
      return { numEndpoints: endpoints.length, endpoints };
    }
    if (t === 'network') {
      const tags = await getTags(key);
      const endpoints = await eps((e) => `${e.tenant}:${e.network}` === key);
      const out: PlainObject = { numEndpoints: endpoints.length, endpoints };
      Object.assign(out, tagFields(tags));
      out.networkTag = `${obj.networkName}.${obj.tenantName}`;
      try {
        const u = await addressUsage(
          store,
          addressSpace(key, String(obj.subnet), typeof obj.gateway === 'string' ? obj.gateway : undefined),
        );
        out.allocatedAddressesCount = u.allocatedCount;
        out.allocatedIPAddresses = u.allocated;
        out.availableIPAddresses = u.available;
      } catch {
        // An unparsable stored subnet leaves the address fields out rather than failing inspect.
      }
      return out;
    }
    if (t === 'endpointGroup') {
      const tags = await getTags(`${obj.tenantName}:${obj.networkName}`);
      const endpoints = await eps((e) => e.tenant === obj.tenantName && e.endpointGroup === obj.groupName);
      const out: PlainObject = { numEndpoints: endpoints.length, endpoints };
      Object.assign(out, tagFields(tags));
      out.groupTag = `${obj.groupName}.${obj.tenantName}`;
      const net =
        typeof obj.ipPool === 'string'
          ? await getObj('network', `${obj.tenantName}:${obj.networkName}`)
          : undefined;
      if (net && typeof obj.ipPool === 'string') {
        // A group with its own pool shows that pool's usage, as Contiv did.
        try {
          const gw = typeof net.gateway === 'string' ? net.gateway : undefined;
          const u = await addressUsage(
            store,
            addressSpace(`${obj.tenantName}:${obj.networkName}`, String(net.subnet), gw, obj.ipPool),
          );
          out.allocatedIPAddresses = u.allocated;
          out.availableIPAddresses = u.available;
        } catch {
          // An unparsable stored pool leaves the address fields out rather than failing inspect.
        }
      }
      return out;
    }
    if (t === 'global') {
      // Contiv counts a network once per id it holds (its VLAN or its VNI; a VNI's local VLAN apart).
      const tags = [...(await networkTagsByOwner(store)).values()];
      const vlans = tags.filter((n) => n.encap === 'vlan').map((n) => n.pktTag);
      const vxlans = tags.filter((n) => n.encap === 'vxlan').map((n) => n.pktTag);
      return {
        clusterMode: opts.clusterMode ?? 'docker',
        numNetworks: vlans.length + vxlans.length,
        vlansInUse: formatRuns(vlans, String),
        vxlansInUse: formatRuns(vxlans, String),
      };
    }
    if (t === 'Bgp') {
      // The host agent's live view of its speaker; gone with the agent (it lives on its lease).
      const kv = await store.get(bgpOperKey(key));
      if (!kv) return { adminStatus: 'unknown', neighborStatus: 'no agent view (netplugin not running?)' };
      try {
        return JSON.parse(kv.value) as PlainObject;
      } catch {
        return { adminStatus: 'unknown' };
      }
    }
    return {};
  }

  async function ensureDefaults(): Promise<void> {
    for (const [t, key, o] of [
      ['global', 'global', { name: 'global' }],
      ['tenant', 'default', { tenantName: 'default' }],
    ] as const) {
      const obj = validate(t, o);
      // Create-if-absent in one txn: two netmasters starting together write it once.
      const put: TxnOp = { type: 'put', key: configKey(t, key), value: JSON.stringify(obj) };
      if (t === 'tenant') await createWithTenantId(store, key, [absent(configKey(t, key))], [put]);
      else await store.txn([absent(configKey(t, key))], [put]);
    }
    const tenants = await store.list(`${CONFIG_PREFIX}tenant/`);
    await backfillTenantIds(
      store,
      tenants.map((kv) => kv.key.slice(`${CONFIG_PREFIX}tenant/`.length)),
    );
  }
  app.addHook('onReady', ensureDefaults);

  const fail = sendError;

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err instanceof HttpError || err instanceof EndpointError) return fail(reply, err.status, err.message);
    if (err instanceof ModelError) {
      return fail(reply, 400, err.message);
    }
    if (err instanceof AllocationError || err instanceof IpamError) return fail(reply, 409, err.message);
    if (err instanceof CallerConflictError) return fail(reply, 409, err.message);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return fail(reply, 413, 'request body larger than 1 MiB');
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return fail(reply, err.statusCode, err.message);
    }
    reply.log.error({ err }, 'request failed');
    return fail(reply, 500, err.message);
  });
  app.setNotFoundHandler((req, reply) => fail(reply, 404, `${req.method} ${req.url}: no such path`));

  const leadership = opts.leadership;
  if (leadership) {
    app.addHook('preHandler', async (req, reply) => {
      if (req.method === 'GET' || req.method === 'HEAD' || leadership.isLeader) return;
      // A forwarded request that reaches a non-leader (leadership moved meanwhile) is not sent on again.
      if (req.headers['x-contiv-forwarded']) return fail(reply, 503, 'leadership is changing; retry');
      const leader = await leadership.leader();
      if (!leader) return fail(reply, 503, 'no netmaster leads yet; retry');
      const res = await forward(leader.address, req.method, req.url, req.body).catch((err: Error) => {
        throw new HttpError(
          502,
          `forwarding to the leader ${leader.id} at ${leader.address}: ${err.message}`,
        );
      });
      return reply.code(res.status).header('content-type', res.contentType).send(res.body);
    });
  }

  const typeOr404 = (plural: string): ObjType => {
    const t = typeOfPlural(plural);
    if (!t) throw new HttpError(404, `no object type "${plural}"`);
    return t;
  };

  app.get('/version', async () => ({ Version: VERSION, GitCommit: 'unknown', BuildTime: 'unknown' }));
  app.get('/info', async () => {
    const leader = leadership ? await leadership.leader() : undefined;
    const isLeader = leadership ? leadership.isLeader : true;
    const g = (await getObj('global', 'global')) ?? {};
    return {
      Version: VERSION,
      ClusterMode: opts.clusterMode ?? 'docker',
      NetworkMode: opts.networkMode ?? '',
      PluginName: opts.pluginName ?? 'netplugin',
      FwdMode: g.fwdMode ?? '',
      ArpMode: g.arpMode ?? '',
      IsLeader: isLeader,
      // This netmaster's part: the one that writes, one that forwards writes to it, or the only one.
      Role: !leadership ? 'standalone' : isLeader ? 'leader' : 'follower',
      Leader: leader?.address ?? '',
      LeaderID: leader?.id ?? '',
      StoreKind: store instanceof EtcdStore ? 'etcd' : 'embedded',
      Store: opts.storeDescription ?? '',
    };
  });
  app.get('/api/v1/openapi.json', async () => openapi());

  // A Docker network made without a contiv-tag (swarm mode, `--subnet`): its Contiv network, named
  // after it in the default tenant, and the record saying so, in one transaction; idempotent for
  // that Docker network (swarm allocates again after a manager restart).
  app.post('/plugin/dockerNetwork', async (req) => {
    const body = dockerNetBody(req.body);
    const key = `default:${body.name}`;
    return exclusive(async () => {
      const recKey = dockerNetKey('default', body.name);
      const rec = parseObj(await store.get(recKey)) as DockerNetRecord | undefined;
      const existing = await getObj('network', key);
      if (rec?.networkID === body.networkID && existing) return shown('network', existing);
      if (rec)
        throw new HttpError(
          409,
          `name: Contiv network ${key} was made for another Docker network (${rec.networkID})`,
        );
      if (existing)
        throw new HttpError(
          409,
          `name: Contiv network ${key} exists already; give the Docker network another name, or map it to ` +
            'that network with -o contiv-tag / --ipam-opt contiv-tag',
        );
      const obj = objectFromRequest('network', key, {
        subnet: body.subnet,
        ...(body.gateway ? { gateway: body.gateway } : {}),
        encap: 'vxlan',
      });
      const record: DockerNetRecord = { networkID: body.networkID, name: body.name };
      await writeObj('network', key, obj, {
        compares: [absent(recKey)],
        ops: [{ type: 'put', key: recKey, value: JSON.stringify(record) }],
      });
      return shown('network', obj);
    });
  });
  app.post('/plugin/deleteDockerNetwork', async (req) => {
    const body = typeof req.body === 'object' && req.body !== null ? (req.body as PlainObject) : {};
    const id = body.networkID;
    if (typeof id !== 'string' || id === '') throw new HttpError(400, 'networkID is required');
    await exclusive(async () => {
      for (const kv of await store.list(DOCKERNET_PREFIX)) {
        const rec = parseObj(kv) as DockerNetRecord | undefined;
        if (rec?.networkID === id) await remove('network', kv.key.slice(DOCKERNET_PREFIX.length), id);
      }
    });
    return {};
  });

  registerEndpointRoutes(app, {
    store,
    configKey: (t, key) => configKey(t, key),
    shared,
    epgIdOf: (group) => groupIds.idOf(group),
  });
  app.get<{ Params: { plural: string; key: string } }>('/api/v1/inspect/:plural/:key/', async (req) => {
    const t = typeOr404(req.params.plural);
    const obj = await getObj(t, req.params.key);
    if (!obj) throw new HttpError(404, `${t} ${req.params.key} not found`);
    return { Config: await configView(t, obj, listObjs), Oper: await oper(t, req.params.key, obj) };
  });
  app.get<{ Params: { plural: string } }>('/api/v1/:plural/', async (req) => {
    const t = typeOr404(req.params.plural);
    const lists = memoLists(listObjs);
    return Promise.all((await lists(t)).map((o) => configView(t, o, lists)));
  });
  app.get<{ Params: { plural: string; key: string } }>('/api/v1/:plural/:key/', async (req) => {
    const t = typeOr404(req.params.plural);
    const obj = await getObj(t, req.params.key);
    if (!obj) throw new HttpError(404, `${t} ${req.params.key} not found`);
    return configView(t, obj, listObjs);
  });
  const write = async (plural: string, key: string, body: unknown) => {
    const t = typeOr404(plural);
    const obj = objectFromRequest(t, key, body);
    return (aloneOnWrite.has(t) ? exclusive : shared)(async () => {
      // Contiv's POST and PUT both create or update: netctl's "global set" POSTs over the existing object.
      await writeObj(t, key, obj);
      return shown(t, obj);
    });
  };
  app.post<{ Params: { plural: string; key: string } }>('/api/v1/:plural/:key/', (req) =>
    write(req.params.plural, req.params.key, req.body),
  );
  app.put<{ Params: { plural: string; key: string } }>('/api/v1/:plural/:key/', (req) =>
    write(req.params.plural, req.params.key, req.body),
  );
  app.delete<{ Params: { plural: string; key: string } }>('/api/v1/:plural/:key/', async (req) => {
    const t = typeOr404(req.params.plural);
    await exclusive(() => remove(t, req.params.key));
    return {};
  });
  return app;
}

type JsonSchema = Record<string, unknown>;

/** An OpenAPI 3 document with one schema per object type, from the model's field metadata. */
export function openapi(): JsonSchema {
  const schemas: Record<string, JsonSchema> = {};
  const paths: Record<string, JsonSchema> = {};
  for (const t of OBJECT_TYPES) {
    const spec = SCHEMA.get(t);
    if (!spec) continue;
    const properties: Record<string, JsonSchema> = { key: { type: 'string', readOnly: true } };
    for (const f of spec.fields.values()) {
      const p: JsonSchema = {
        type:
          f.type === 'int'
            ? 'integer'
            : f.type === 'float'
              ? 'number'
              : f.type === 'bool'
                ? 'boolean'
                : f.type,
      };
      if (f.type === 'array') p.items = { type: 'string' };
      if (f.formatText !== undefined) p.pattern = f.formatText;
      if (f.length !== undefined) p.maxLength = f.length;
      if (f.min !== undefined) p.minimum = f.min;
      if (f.max !== undefined) p.maximum = f.max;
      if (f.default !== undefined) p.default = f.default;
      properties[f.name] = p;
    }
    schemas[t] = { type: 'object', required: [...spec.key], properties };
    const ref = { $ref: `#/components/schemas/${t}` };
    const body = { content: { 'application/json': { schema: ref } } };
    const ok = { description: 'the object', ...body };
    paths[`/api/v1/${spec.plural}/`] = {
      get: {
        responses: {
          '200': {
            description: 'all objects',
            content: { 'application/json': { schema: { type: 'array', items: ref } } },
          },
        },
      },
    };
    paths[`/api/v1/${spec.plural}/{key}/`] = {
      parameters: [
        {
          name: 'key',
          in: 'path',
          required: true,
          schema: { type: 'string' },
          description: spec.key.join(':'),
        },
      ],
      get: { responses: { '200': ok } },
      post: { requestBody: body, responses: { '200': ok } },
      put: { requestBody: body, responses: { '200': ok } },
      delete: { responses: { '200': { description: 'deleted' } } },
    };
  }
  return {
    openapi: '3.0.3',
    info: { title: 'contiv-ts netmaster', version: VERSION },
    paths,
    components: { schemas },
  };
}
