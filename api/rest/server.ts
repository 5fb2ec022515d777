// Owns netmaster's REST server: the fastify instance, its error forms, leader forwarding, the
// defaults every cluster has, /version and /info. The routes are in routes.ts (config objects),
// plugin-networks.ts and endpoints.ts (what netplugins call); each object type's own behaviour is
// in objects/. It must never write an object without checking, in the same store transaction,
// what the object depends on.

import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger, LoggerOptions } from 'pino';
import { AllocationError, CallerConflictError, IpamError, tagPrefix } from '../../policy/ipam/index.js';
import { CONFIG_PREFIX, configKey, ModelError, validate } from '../../policy/model/index.js';
import { PrefixCache } from '../../state/cache.js';
import { EtcdStore } from '../../state/etcd.js';
import type { Store, TxnOp } from '../../state/store.js';
import { AccountError } from '../auth/accounts.js';
import { type AuthOptions, registerAuth } from './auth.js';
import { type BatcherOptions, TxnBatcher } from './batch.js';
import { acceptContivBodies } from './body.js';
import { RestContext } from './context.js';
import { DockerSyncWait } from './docker-sync-wait.js';
import { registerEndpointRoutes } from './endpoints.js';
import { sendError } from './error-form.js';
import { forward, type Leadership } from './forward.js';
import { HttpError } from './http-error.js';
import { openapi } from './openapi.js';
import { registerPluginNetworkRoutes } from './plugin-networks.js';
import { absent } from './read-set.js';
import { registerObjectRoutes } from './routes.js';
import { backfillTenantIds, createWithTenantId } from './tenant-ids.js';
import { VERSION } from './version.js';

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
  /** Serve HTTPS with this key and certificate (PEM); without it, plain HTTP. */
  https?: { key: string; cert: string };
  /** The CA that signed the leader's certificate, for forwarding writes to it over HTTPS. */
  leaderCa?: string;
  /** Logins and roles on every route but the public ones (see auth.ts); without it, none. */
  auth?: AuthOptions;
  /** Contiv's cluster mode (docker, kubernetes, swarm-mode), shown by global inspect (default docker). */
  clusterMode?: string;
  /** How long a client may take to send a whole request (default CLIENT_LIMITS). */
  clientLimits?: ClientLimits;
}

export interface ClientLimits {
  /** A request's headers and body must have arrived within this; else 408 and the connection closes. */
  requestMs: number;
  /** How often the server looks for connections over that time. */
  checkEveryMs: number;
}

/** A slow client (slowloris) holds a connection 30 s at most, found within 5 s after. */
export const CLIENT_LIMITS: ClientLimits = { requestMs: 30_000, checkEveryMs: 5_000 };

const isLogger = (l: ServerOptions['logger']): l is Logger =>
  typeof l === 'object' && l !== null && typeof (l as Logger).child === 'function';

export function buildServer(opts: ServerOptions): FastifyInstance {
  const { store } = opts;
  // 1 MiB is fastify's default too; said here because the API promises it (413 above it).
  const limits = opts.clientLimits ?? CLIENT_LIMITS;
  const app = Fastify({
    ...(isLogger(opts.logger) ? { loggerInstance: opts.logger } : { logger: opts.logger ?? false }),
    bodyLimit: 1024 * 1024,
    requestTimeout: limits.requestMs,
    ...(opts.https
      ? { https: { ...opts.https, connectionsCheckingInterval: limits.checkEveryMs } }
      : { http: { connectionsCheckingInterval: limits.checkEveryMs } }),
    routerOptions: { ignoreTrailingSlash: true },
  }) as unknown as FastifyInstance;
  // Node's own headers timeout (60 s) must not outlast the request's.
  app.server.headersTimeout = Math.min(app.server.headersTimeout, limits.requestMs);
  acceptContivBodies(app);

  // Concurrent writes on disjoint keys share one store transaction (see batch.ts).
  // On etcd one transaction at a time, carrying what queued meanwhile, measured best (rest-create:
  // 1 in flight 1,270/s, 2: 1,068/s, 4: 830/s); the embedded store already shares one fsync among
  // concurrent transactions, so there each write goes alone and at once.
  const batcher = new TxnBatcher(
    store,
    opts.batch ??
      (store instanceof EtcdStore ? { maxInFlight: 1 } : { maxInFlight: Number.POSITIVE_INFINITY }),
  );
  const ctx = new RestContext(store, batcher, opts.clusterMode ?? 'docker');
  app.addHook('onReady', async () => {
    ctx.cache = await PrefixCache.open(store, [CONFIG_PREFIX, tagPrefix('epg')], {
      onError: (err) => app.log.warn({ err }, 'store watch broke; writes read the store until it is rebuilt'),
    });
    ctx.groupIds.follow(ctx.cache);
    ctx.dockerSync = await DockerSyncWait.open(store, { log: app.log });
  });
  app.addHook('onClose', async () => {
    await ctx.cache?.close();
    await ctx.dockerSync?.close();
  });

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
    if (err instanceof HttpError || err instanceof AccountError) return fail(reply, err.status, err.message);
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

  if (opts.auth) registerAuth(app, opts.auth);
  const leadership = opts.leadership;
  if (leadership) {
    app.addHook('preHandler', async (req, reply) => {
      if (req.method === 'GET' || req.method === 'HEAD' || leadership.isLeader) return;
      // A forwarded request that reaches a non-leader (leadership moved meanwhile) is not sent on again.
      if (req.headers['x-contiv-forwarded']) return fail(reply, 503, 'leadership is changing; retry');
      const leader = await leadership.leader();
      if (!leader) return fail(reply, 503, 'no netmaster leads yet; retry');
      const res = await forward(leader.address, req.method, req.url, req.body, {
        authToken: req.headers['x-auth-token'],
        ...(opts.leaderCa ? { ca: opts.leaderCa } : {}),
      }).catch((err: Error) => {
        throw new HttpError(
          502,
          `forwarding to the leader ${leader.id} at ${leader.address}: ${err.message}`,
        );
      });
      return reply.code(res.status).header('content-type', res.contentType).send(res.body);
    });
  }

  app.get('/version', async () => ({ Version: VERSION, GitCommit: 'unknown', BuildTime: 'unknown' }));
  app.get('/info', async () => {
    const leader = leadership ? await leadership.leader() : undefined;
    const isLeader = leadership ? leadership.isLeader : true;
    const g = (await ctx.getObj('global', 'global')) ?? {};
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

  registerPluginNetworkRoutes(app, ctx);
  registerEndpointRoutes(app, {
    store,
    shared: (fn) => ctx.order.shared(fn),
    epgIdOf: (group) => ctx.groupIds.idOf(group),
  });
  registerObjectRoutes(app, ctx);
  return app;
}
