// Owns keeping a Docker engine's networks equal to the Contiv networks and groups in the store:
// `contiv-net`, `web.contiv-net`, `contiv-net/blue`, created with our driver and IPAM driver, the
// subnet and gateway, options naming the Contiv object, and a label saying they are ours. It never
// removes a Docker network without that label, and one with containers attached is retried later.
//
// Each store change (and a periodic pass, which also repairs a restarted dockerd or a broken watch)
// runs one full comparison: the whole desired list against the engine's list. Cheap at the sizes
// Docker networks come in, and nothing is lost between passes. A pass the engine fails (dockerd
// still starting: it serves its API only once our plugin socket is up) is retried within seconds.
// Each pass ends with this host's mark in the store (how far it got), which netmaster waits on.
// Engines sharing a cluster store see the same global networks: one netplugin, elected, makes them.

import type { Logger } from 'pino';
import { parseSubnet } from '../../policy/ipam/addr.js';
import { type NetworkTags, networkTagsByOwner } from '../../policy/ipam/allocator.js';
import {
  DOCKER_GLOBAL_MAKER_KEY,
  DOCKERNET_PREFIX,
  type DockerSyncMark,
  dockerSyncKey,
} from '../../policy/model/endpoint.js';
import type { EndpointGroupConfig, NetworkConfig } from '../../policy/model/generated.js';
import { CONFIG_PREFIX } from '../../policy/model/schema.js';
import { type Election, elect } from '../../state/leader.js';
import type { Store, Watcher } from '../../state/store.js';
import { type DockerEngine, type DockerNetwork, MANAGED_LABEL, type NetworkSpec } from './engine.js';
import { hasClusterStore } from './scope.js';
import { dockerNetworkName, OPT_GROUP, OPT_NETWORK, OPT_TENANT } from './target.js';

const NETWORKS = `${CONFIG_PREFIX}network/`;
const GROUPS = `${CONFIG_PREFIX}endpointGroup/`;
/** Retry pauses after a failed pass (ms), doubled up to the maximum. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5000;

export interface DockerSyncOptions {
  store: Store;
  engine: DockerEngine;
  /** Driver and IPAM driver name of the networks. */
  pluginName: string;
  /** Label value marking our networks (several netmasters on one engine would differ); default "contiv". */
  owner?: string;
  /** 'swarm': networks of a global-scope driver in swarm mode (only a manager can create them). */
  scope?: 'local' | 'swarm';
  /** Full pass at least this often (ms); default 30 s. */
  resyncMs?: number;
  /** Batch store events arriving within this many ms into one pass; default 50. */
  settleMs?: number;
  /**
   * Report each finished pass as this host's mark (dockerSyncKey), under the host's lease, for
   * netmaster to answer writes once the hosts have their Docker networks. No lease yet: no mark.
   */
  mark?: { host: string; leaseId: () => string | undefined };
  log?: Logger;
}

export interface SyncResult {
  created: string[];
  removed: string[];
  /** Names that could not be changed this pass (e.g. containers still attached), with the reason. */
  failed: { name: string; error: string }[];
}

function parse<T>(value: string): T | undefined {
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}

/** The Docker networks the store's intent asks for, by name. */
export function desiredNetworks(
  networks: readonly NetworkConfig[],
  groups: readonly EndpointGroupConfig[],
  pluginName: string,
  owner: string,
  scope?: 'local' | 'swarm',
  /** "tenant:network" of Contiv networks made for a Docker network: that one exists already. */
  dockerMade: ReadonlySet<string> = new Set(),
  /** Each network's allocated tag by "tenant:network", shown in the Docker network's options. */
  tags: ReadonlyMap<string, NetworkTags> = new Map(),
): Map<string, NetworkSpec> {
  const out = new Map<string, NetworkSpec>();
  const byKey = new Map<string, NetworkConfig>();
  const spec = (n: NetworkConfig, group?: string): NetworkSpec => {
    const opts: Record<string, string> = { [OPT_TENANT]: n.tenantName, [OPT_NETWORK]: n.networkName };
    if (group) opts[OPT_GROUP] = group;
    const ipamOptions = { ...opts };
    // What Contiv showed in `docker network inspect`: the encapsulation and the allocated tag.
    const tag = tags.get(`${n.tenantName}:${n.networkName}`);
    opts.encap = tag?.encap ?? n.encap ?? 'vxlan';
    if (tag) opts['pkt-tag'] = String(tag.pktTag);
    return {
      name: dockerNetworkName(n.tenantName, n.networkName, group),
      driver: pluginName,
      ipamDriver: pluginName,
      subnet: parseSubnet(n.subnet ?? '').cidr,
      ...(n.gateway ? { gateway: n.gateway } : {}),
      options: opts,
      ipamOptions,
      labels: { [MANAGED_LABEL]: owner },
      attachable: true,
      ...(scope ? { scope } : {}),
    };
  };
  for (const n of networks) {
    // Docker's IPAM config needs an IPv4 subnet; a network without one has no Docker network.
    if (!n.subnet) continue;
    byKey.set(`${n.tenantName}:${n.networkName}`, n);
    if (dockerMade.has(`${n.tenantName}:${n.networkName}`)) continue;
    out.set(dockerNetworkName(n.tenantName, n.networkName), spec(n));
  }
  for (const g of groups) {
    const n = byKey.get(`${g.tenantName}:${g.networkName ?? ''}`);
    if (!n) continue;
    const s = spec(n, g.groupName);
    out.set(s.name, s);
  }
  return out;
}

/** Swarm refuses network names that are not DNS name components (`group.net`, `net/tenant`). */
const SWARM_NAME = /^[A-Za-z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

/** Does the engine's network say what the spec says? */
function sameAs(d: DockerNetwork, s: NetworkSpec): boolean {
  const cfg = d.IPAM.Config?.[0];
  // The engine adds options of its own (swarm: com.docker.network.ipam.serial); ours never start so.
  const eq = (a: Record<string, string> | null, b: Record<string, string>) =>
    JSON.stringify(
      Object.entries(a ?? {})
        .filter(([k]) => !k.startsWith('com.docker.'))
        .sort(),
    ) === JSON.stringify(Object.entries(b).sort());
  return (
    d.Driver === s.driver &&
    d.IPAM.Driver === s.ipamDriver &&
    cfg?.Subnet === s.subnet &&
    (cfg?.Gateway ?? '') === (s.gateway ?? '') &&
    eq(d.Options, s.options) &&
    eq(d.IPAM.Options, s.ipamOptions)
  );
}

export class DockerNetworkSync {
  private readonly watchers: Watcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private running: Promise<SyncResult> | undefined;
  private again = false;
  private stopped = false;
  private readonly owner: string;
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private markSynced!: (r: SyncResult) => void;
  /** Resolves with the first pass that succeeded. */
  readonly synced: Promise<SyncResult> = new Promise((resolve) => {
    this.markSynced = resolve;
  });
  /** Swarm mode: names already reported as refused by swarm, and whether this engine manages. */
  private readonly refusedNoted = new Set<string>();
  private managerNoted: boolean | undefined;
  /** The mark last written (see writeMark). */
  private lastMark: DockerSyncMark | undefined;
  /** With a cluster store: the election of the one that makes the global networks. */
  private maker: Election | undefined;
  private makerNoted: boolean | undefined;

  constructor(private readonly opts: DockerSyncOptions) {
    this.owner = opts.owner ?? 'contiv';
  }

  /** Watches the store and runs a first pass; resolves when that pass is done (a failed one is retried). */
  async start(): Promise<SyncResult> {
    await this.listen();
    return this.sync();
  }

  /** Watches the store and starts the periodic pass; no pass yet (the engine may not answer yet). */
  async listen(): Promise<void> {
    const rev = await this.opts.store.revision();
    for (const prefix of [NETWORKS, GROUPS])
      this.watchers.push(
        await this.opts.store.watch(prefix, () => this.schedule(), { fromRevision: rev + 1 }),
      );
    this.interval = setInterval(() => this.schedule(), this.opts.resyncMs ?? 30_000);
    this.interval.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    clearInterval(this.interval);
    for (const w of this.watchers.splice(0)) await w.close();
    await this.running?.catch(() => undefined);
    await this.maker?.resign().catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sync().catch((err: Error) =>
        this.opts.log?.warn({ err: err.message }, 'docker network sync failed'),
      );
    }, this.opts.settleMs ?? 50);
  }

  /** One full pass; passes never overlap (a request during one runs another after it). */
  sync(): Promise<SyncResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const pass = this.pass();
    pass.then(
      (r) => {
        this.retryMs = RETRY_FIRST_MS;
        this.markSynced(r);
      },
      () => {
        if (this.stopped || this.retryTimer) return;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.schedule();
        }, this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      },
    );
    this.running = pass.finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.schedule();
      }
    });
    return this.running;
  }

  /** One comparison, then the mark saying how far it got (or that the engine failed it). */
  private async pass(): Promise<SyncResult> {
    // Read before anything else: every write up to this revision is in what the pass compares.
    const revision = await this.opts.store.revision();
    let result: SyncResult;
    try {
      result = await this.compare();
    } catch (err) {
      await this.writeMark({ revision, error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    await this.writeMark({ revision });
    return result;
  }

  /** Written when it says something new: a later revision, or the change into or out of failing. */
  private async writeMark(mark: DockerSyncMark): Promise<void> {
    const { mark: where, store, log } = this.opts;
    const lease = where?.leaseId();
    if (!where || !lease) return;
    const last = this.lastMark;
    if (last && (mark.error ? last.error !== undefined : !last.error && last.revision >= mark.revision))
      return;
    try {
      await store.put(dockerSyncKey(where.host), JSON.stringify(mark), { lease });
      this.lastMark = mark;
    } catch (err) {
      log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'docker sync mark not written');
    }
  }

  private async compare(): Promise<SyncResult> {
    const { store, engine, pluginName, log } = this.opts;
    const result: SyncResult = { created: [], removed: [], failed: [] };
    // Swarm networks are made by a manager; every engine of a worker would be refused.
    if (this.opts.scope === 'swarm' && !(await this.isManager())) return result;
    if (this.opts.scope !== 'swarm' && (await hasClusterStore(engine)) && !(await this.makesGlobal()))
      return result;
    const networks = (await store.list(NETWORKS)).flatMap((kv) => parse<NetworkConfig>(kv.value) ?? []);
    const groups = (await store.list(GROUPS)).flatMap((kv) => parse<EndpointGroupConfig>(kv.value) ?? []);
    const made = new Set(
      (await store.list(DOCKERNET_PREFIX)).map((kv) => kv.key.slice(DOCKERNET_PREFIX.length)),
    );
    const desired = desiredNetworks(
      networks,
      groups,
      pluginName,
      this.owner,
      this.opts.scope,
      made,
      await networkTagsByOwner(store),
    );
    if (this.opts.scope === 'swarm')
      for (const name of [...desired.keys()]) {
        if (SWARM_NAME.test(name)) continue;
        desired.delete(name);
        if (this.refusedNoted.has(name)) continue;
        this.refusedNoted.add(name);
        log?.info(
          { network: name },
          'no swarm network of this name (swarm refuses names that are not DNS name components): use a contiv-tag network',
        );
      }
    const present = await engine.listNetworks({ label: [`${MANAGED_LABEL}=${this.owner}`] });
    const attempt = async (name: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        result.failed.push({ name, error });
        log?.warn({ network: name, err: error }, 'docker network not synced; retried on the next pass');
      }
    };
    const keep = new Set<string>();
    for (const d of present) {
      const want = desired.get(d.Name);
      if (want && sameAs(d, want)) {
        keep.add(d.Name);
        continue;
      }
      // Removed by id: names may hold a "/" (contiv-net/blue), which a URL path cannot carry safely.
      await attempt(d.Name, async () => {
        await engine.removeNetwork(d.Id);
        result.removed.push(d.Name);
      });
    }
    for (const [name, spec] of desired) {
      if (keep.has(name)) continue;
      await attempt(name, async () => {
        await engine.createNetwork(spec);
        result.created.push(name);
      });
    }
    if (result.created.length || result.removed.length)
      log?.info({ created: result.created, removed: result.removed }, 'docker networks synced');
    return result;
  }

  /**
   * With a cluster store, is this the netplugin that makes the global networks? Without a host
   * identity (no mark) there is no election: the only sync makes them.
   */
  private async makesGlobal(): Promise<boolean> {
    const host = this.opts.mark?.host;
    if (!host) return true;
    if (!this.maker) {
      this.maker = await elect(this.opts.store, { id: host, address: host, key: DOCKER_GLOBAL_MAKER_KEY });
      // Elected later (the maker died): make what is missing now, not at the next periodic pass.
      this.maker.on('elected', () => this.schedule());
    }
    const making = this.maker.isLeader;
    if (making !== this.makerNoted) {
      this.makerNoted = making;
      this.opts.log?.info(
        { making },
        making
          ? 'a cluster store: this host makes the global networks'
          : 'a cluster store: another host makes the global networks',
      );
    }
    return making;
  }

  /** Is this engine a swarm manager now (a node can be promoted or demoted)? Noted when it changes. */
  private async isManager(): Promise<boolean> {
    const info = (await this.opts.engine.call('GET', '/info')) as { Swarm?: { ControlAvailable?: boolean } };
    const manager = info.Swarm?.ControlAvailable === true;
    if (manager !== this.managerNoted) {
      this.managerNoted = manager;
      this.opts.log?.info(
        { manager },
        manager
          ? 'a swarm manager: making the swarm networks'
          : 'not a swarm manager: the managers make the swarm networks',
      );
    }
    return manager;
  }
}
