// Owns what every REST handler shares: the store and its watch-fed copy, the write batcher and
// order, group ids, and the reads the object behaviours and views make.
import { GroupIds, type NetworkTags, networkTagsByOwner } from '../../policy/ipam/index.js';
import type { EndpointRecord } from '../../policy/model/endpoint.js';
import { CONFIG_PREFIX, configKey, type ObjType, type PlainObject } from '../../policy/model/index.js';
import type { PrefixCache } from '../../state/cache.js';
import type { Compare, Store, TxnOp } from '../../state/store.js';
import type { TxnBatcher } from './batch.js';
import type { DockerSyncWait } from './docker-sync-wait.js';
import { endpointOper, readEndpoints } from './endpoints.js';
import { parseObj } from './read-set.js';
import { WriteOrder } from './write-order.js';

/** Writes that must land in the same transaction as a new object (a Docker network's record). */
export interface TxnExtra {
  compares: Compare[];
  ops: TxnOp[];
}

export class RestContext {
  readonly order = new WriteOrder();
  readonly groupIds: GroupIds;
  /** The watch-fed copy of config objects and group ids that writes read first; set once ready. */
  cache: PrefixCache | undefined;
  /** Waits for the Docker hosts after network and group writes; set once ready. */
  dockerSync: DockerSyncWait | undefined;

  constructor(
    readonly store: Store,
    readonly batcher: TxnBatcher,
    /** Contiv's cluster mode (docker, kubernetes, swarm-mode), shown by global inspect. */
    readonly clusterMode: string,
  ) {
    this.groupIds = new GroupIds(store);
  }

  async getObj(t: ObjType, key: string): Promise<PlainObject | undefined> {
    return parseObj(await this.store.get(configKey(t, key)));
  }

  async listObjs(t: ObjType): Promise<PlainObject[]> {
    return (await this.store.list(`${CONFIG_PREFIX}${t}/`))
      .map(parseObj)
      .filter((o): o is PlainObject => o !== undefined);
  }

  /** A network's tags, read from the allocation keys it owns (the allocator's record is the only one). */
  async getTags(networkKey: string): Promise<NetworkTags | undefined> {
    return (await networkTagsByOwner(this.store)).get(networkKey);
  }

  async globalRanges(): Promise<{ vlans?: string; vxlans?: string }> {
    const g = (await this.getObj('global', 'global')) ?? {};
    return {
      ...(typeof g.vlans === 'string' ? { vlans: g.vlans } : {}),
      ...(typeof g.vxlans === 'string' ? { vxlans: g.vxlans } : {}),
    };
  }

  /** The oper view of the endpoints picked, from the records netplugins made through /plugin. */
  async endpointsWhere(pick: (e: EndpointRecord) => boolean): Promise<PlainObject[]> {
    const { endpoints, hosts } = await readEndpoints(this.store);
    return endpoints.filter(pick).map((e) => endpointOper(e, hosts.get(e.homingHost)));
  }
}
