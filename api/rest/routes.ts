// Owns Contiv's /api/v1 routes: list, get and inspect views, create or update, delete, for every
// object type. What a type does beyond the model's checks is in objects/.
import type { FastifyInstance } from 'fastify';
import { keyOf, type ObjType, typeOfPlural } from '../../policy/model/index.js';
import { mayRead, tenantOf } from '../auth/guard.js';
import { requestRights } from './auth.js';
import type { RestContext } from './context.js';
import { HttpError } from './http-error.js';
import { memoLists } from './links.js';
import { configView, shown } from './views.js';
import { aloneOnWrite, objectFromRequest, oper, remove, writeObj } from './writes.js';

type KeyRoute = { Params: { plural: string; key: string } };

/** The types whose writes change the hosts' Docker networks: their answers wait for the hosts. */
const DOCKER_NETWORK_TYPES: ReadonlySet<ObjType> = new Set<ObjType>(['network', 'endpointGroup']);

const typeOr404 = (plural: string): ObjType => {
  const t = typeOfPlural(plural);
  if (!t) throw new HttpError(404, `no object type "${plural}"`);
  return t;
};

export function registerObjectRoutes(app: FastifyInstance, ctx: RestContext): void {
  const list = (t: ObjType) => ctx.listObjs(t);
  const found = async (t: ObjType, key: string) => {
    const obj = await ctx.getObj(t, key);
    if (!obj) throw new HttpError(404, `${t} ${key} not found`);
    return obj;
  };

  app.get<KeyRoute>('/api/v1/inspect/:plural/:key/', async (req) => {
    const t = typeOr404(req.params.plural);
    const obj = await found(t, req.params.key);
    return { Config: await configView(t, obj, list), Oper: await oper(ctx, t, req.params.key, obj) };
  });
  app.get<{ Params: { plural: string } }>('/api/v1/:plural/', async (req) => {
    const t = typeOr404(req.params.plural);
    const lists = memoLists(list);
    const rights = requestRights(req);
    const shownTo = (await lists(t)).filter((o) => !rights || mayRead(rights, tenantOf(t, keyOf(t, o))));
    return Promise.all(shownTo.map((o) => configView(t, o, lists)));
  });
  app.get<KeyRoute>('/api/v1/:plural/:key/', async (req) => {
    const t = typeOr404(req.params.plural);
    return configView(t, await found(t, req.params.key), list);
  });

  // Contiv's POST and PUT both create or update: netctl's "global set" POSTs over the existing object.
  const write = async (req: { params: KeyRoute['Params']; body: unknown }) => {
    const t = typeOr404(req.params.plural);
    const obj = objectFromRequest(t, req.params.key, req.body);
    const run = aloneOnWrite(t) ? ctx.order.exclusive.bind(ctx.order) : ctx.order.shared.bind(ctx.order);
    const revision = await run(() => writeObj(ctx, t, req.params.key, obj));
    // Outside the write order: waiting on the hosts holds up no other write.
    if (DOCKER_NETWORK_TYPES.has(t)) await ctx.dockerSync?.until(revision);
    return shown(t, obj);
  };
  app.post<KeyRoute>('/api/v1/:plural/:key/', write);
  app.put<KeyRoute>('/api/v1/:plural/:key/', write);
  app.delete<KeyRoute>('/api/v1/:plural/:key/', async (req) => {
    const t = typeOr404(req.params.plural);
    const revision = await ctx.order.exclusive(() => remove(ctx, t, req.params.key));
    if (DOCKER_NETWORK_TYPES.has(t)) await ctx.dockerSync?.until(revision);
    return {};
  });
}
