// Owns how a config object is written and deleted: one store transaction guarded by compares on
// every key its checks read, the model's checks, then the object type's own (objects/).
import {
  checkDelete,
  checkParents,
  checkUpdate,
  configKey,
  ModelError,
  type ObjType,
  ownedBy,
  type PlainObject,
  parents,
  parseKey,
  SCHEMA,
  validate,
} from '../../policy/model/index.js';
import type { KV, TxnOp } from '../../state/store.js';
import type { RestContext, TxnExtra } from './context.js';
import { nameSome, readEndpoints } from './endpoints.js';
import { HttpError } from './http-error.js';
import { type Attempt, behaviourOf } from './objects/index.js';
import { MAX_WRITE_ATTEMPTS, parseCached, parseObj, ReadSet, unchanged } from './read-set.js';

/** The object a create or update asks for, its key fields filled from the URL and checked against it. */
export function objectFromRequest(t: ObjType, key: string, body: unknown): PlainObject {
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

/** Whether t's writes must run alone (see write-order.ts). */
export const aloneOnWrite = (t: ObjType): boolean => behaviourOf(t).aloneOnWrite === true;

/**
 * Creates or updates (Contiv's POST and PUT both do either). The first attempt reads the watch-fed
 * copy (no store round trip); a stale copy makes the compares fail, and the failure branch returns
 * the keys fresh for the next attempt. A check that fails on the copy is redone on the store before
 * it is reported. extra: writes that must land with a new object. Returns the commit's revision.
 */
export async function writeObj(
  ctx: RestContext,
  t: ObjType,
  key: string,
  obj: PlainObject,
  extra?: TxnExtra,
): Promise<number> {
  let fresh: Map<string, KV | undefined> | undefined;
  let useCache = ctx.cache?.ready === true && !aloneOnWrite(t);
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    const rs = new ReadSet(ctx.store, useCache ? ctx.cache : undefined, fresh);
    let outcome: number | 'conflict';
    try {
      outcome = await writeAttempt(ctx, t, key, obj, rs, extra);
    } catch (e) {
      // A refusal seen through the copy may be the copy's lag (a parent created a moment ago).
      if (rs.usedCache && (e instanceof ModelError || e instanceof HttpError)) {
        useCache = false;
        fresh = undefined;
        continue;
      }
      throw e;
    }
    if (outcome !== 'conflict') return outcome;
    useCache = false;
    fresh = rs.fresh;
  }
  throw new HttpError(409, `${t} ${key}: it, or something it depends on, kept changing; try again`);
}

async function writeAttempt(
  ctx: RestContext,
  t: ObjType,
  key: string,
  obj: PlainObject,
  rs: ReadSet,
  extra: TxnExtra | undefined,
): Promise<number | 'conflict'> {
  const selfKey = configKey(t, key);
  const before = await rs.get(selfKey);
  const old = before ? (parseCached(before) ?? {}) : undefined;
  if (extra && old) throw new Error('internal: extra writes only with a new object');
  if (old) checkUpdate(t, old, obj);
  const lookup = async (pt: ObjType, pk: string) => parseCached(await rs.get(configKey(pt, pk)));
  await checkParents(t, obj, lookup);
  // Every parent is compared on, also those the checks had no reason to read.
  for (const r of parents(t, obj)) await rs.get(configKey(r.objType, r.key));
  const put: TxnOp = { type: 'put', key: selfKey, value: JSON.stringify(obj) };
  let committedAt = 0;
  const a: Attempt = {
    ctx,
    rs,
    key,
    obj,
    lookup,
    compares: () => [...rs.compares(), ...(extra?.compares ?? [])],
    ops: (...more) => [put, ...(extra?.ops ?? []), ...more],
    commit: async (ops) => {
      const r = await commit(ctx, a, ops);
      if (r === 'conflict') return r;
      committedAt = r;
      return 'done';
    },
    landed: (revision) => {
      committedAt = revision;
    },
  };
  const b = behaviourOf(t);
  if (old) await b.checkUpdate?.(a, old);
  const outcome = !old && b.create ? await b.create(a) : await a.commit(a.ops());
  return outcome === 'conflict' ? outcome : committedAt;
}

/** The commit's revision, or 'conflict' when its compares failed. */
async function commit(ctx: RestContext, a: Attempt, ops: TxnOp[]): Promise<number | 'conflict'> {
  const r = await ctx.batcher.submit({ compares: a.compares(), ops, readBack: a.rs.keys() });
  if (!r.succeeded) {
    a.rs.learn(r.reads, r.revision);
    return 'conflict';
  }
  for (const op of ops) {
    if (op.type === 'put') {
      ctx.cache?.note(
        op.key,
        { key: op.key, value: op.value, modRevision: r.revision, createRevision: 0, version: 0 },
        r.revision,
      );
    }
  }
  return r.revision;
}

/**
 * dockerNetworkID: the removal of the Docker network a Contiv network was made for (see
 * DockerNetRecord). Returns the delete's revision.
 */
export async function remove(
  ctx: RestContext,
  t: ObjType,
  key: string,
  dockerNetworkID?: string,
): Promise<number> {
  const { store } = ctx;
  const kv = await store.get(configKey(t, key));
  const obj = parseObj(kv);
  if (!kv || !obj) throw new HttpError(404, `${t} ${key} not found`);
  const b = behaviourOf(t);
  const extra = (await b.deleteExtra?.(ctx, key, dockerNetworkID)) ?? { compares: [], ops: [] };
  const usedBy = b.usedBy;
  if (usedBy) {
    // Endpoints are created under the same lock-free discipline as config children: deletes run
    // alone, so none can appear between this check and the delete below.
    const users = (await readEndpoints(store)).endpoints
      .filter((e) => usedBy(e, key))
      .map((e) => e.endpointID);
    if (users.length > 0) {
      throw new HttpError(409, `${t} ${key}: in use by ${users.length} endpoint(s): ${nameSome(users)}`);
    }
  }
  const list = (lt: ObjType) => ctx.listObjs(lt);
  try {
    await checkDelete(t, key, list);
  } catch (e) {
    if (e instanceof ModelError) throw new HttpError(409, e.message);
    throw e;
  }
  const ops: TxnOp[] = [{ type: 'delete', key: configKey(t, key) }];
  for (const o of await ownedBy(t, key, list)) ops.push({ type: 'delete', key: configKey(o.objType, o.key) });
  ops.push(...extra.ops);
  const r = await store.txn([unchanged(kv), ...extra.compares], ops);
  if (!r.succeeded) throw new HttpError(409, `${t} ${key}: changed meanwhile; try again`);
  // Allocations go back after the object is gone: a crash in between leaks ids, never hands out one in use.
  await b.release?.(ctx, key, obj);
  return r.revision;
}

/** The inspect view's Oper part. */
export const oper = (ctx: RestContext, t: ObjType, key: string, obj: PlainObject): Promise<PlainObject> =>
  behaviourOf(t).oper?.(ctx, key, obj) ?? Promise.resolve({});
