// Owns the /plugin routes for Docker networks made without a contiv-tag (swarm mode, `--subnet`):
// each gets a Contiv network named after it in the default tenant, and a record saying so, in one
// transaction; idempotent for that Docker network (swarm allocates again after a manager restart).
import type { FastifyInstance } from 'fastify';
import { DOCKERNET_PREFIX, type DockerNetRecord, dockerNetKey } from '../../policy/model/endpoint.js';
import type { PlainObject } from '../../policy/model/index.js';
import type { RestContext } from './context.js';
import { bodyOf, str } from './endpoints.js';
import { HttpError } from './http-error.js';
import { absent, parseObj } from './read-set.js';
import { shown } from './views.js';
import { objectFromRequest, remove, writeObj } from './writes.js';

/** /plugin/dockerNetwork's body, checked field by field. */
function dockerNetBody(b: unknown): { networkID: string; name: string; subnet: string; gateway: string } {
  const o = bodyOf(b);
  const networkID = str(o, 'networkID', true);
  if (!/^[0-9a-z]{1,64}$/.test(networkID))
    throw new HttpError(400, `networkID: "${networkID}" is not a Docker network id`);
  return {
    networkID,
    name: str(o, 'name', true),
    subnet: str(o, 'subnet', true),
    gateway: str(o, 'gateway', false),
  };
}

export function registerPluginNetworkRoutes(app: FastifyInstance, ctx: RestContext): void {
  const { store } = ctx;
  app.post('/plugin/dockerNetwork', async (req) => {
    const body = dockerNetBody(req.body);
    const key = `default:${body.name}`;
    return ctx.order.exclusive(async () => {
      const recKey = dockerNetKey('default', body.name);
      const rec = parseObj(await store.get(recKey)) as DockerNetRecord | undefined;
      const existing = await ctx.getObj('network', key);
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
      await writeObj(ctx, 'network', key, obj, {
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
    await ctx.order.exclusive(async () => {
      for (const kv of await store.list(DOCKERNET_PREFIX)) {
        const rec = parseObj(kv) as DockerNetRecord | undefined;
        if (rec?.networkID === id) await remove(ctx, 'network', kv.key.slice(DOCKERNET_PREFIX.length), id);
      }
    });
    return {};
  });
}
