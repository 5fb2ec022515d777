// Owns netmaster's endpoint-group id allocation (the id a group's traffic is marked with): a cursor
// over the watch-fed copy of the epg keys, the ids in flight, and a group → id hint. It must never
// treat the copy as the truth: the create transaction still requires the id's key absent.
import type { PrefixCache } from '../../state/cache.js';
import type { Store } from '../../state/store.js';
import { AllocationError, EPG_ID_RANGE, tagKey, tagPrefix } from './allocator.js';

const epgPrefix = tagPrefix('epg');

function ownerOfValue(value: string): string | undefined {
  try {
    const o = (JSON.parse(value) as { owner?: unknown }).owner;
    return typeof o === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

export class GroupIds {
  /** Group ids below this are known taken (a cursor, so a create does not scan every id). */
  private hint: number = EPG_ID_RANGE.lo;
  /** Ids handed to transactions still in flight. */
  private readonly pending = new Set<number>();
  /** group key → id, a hint kept from the copy's changes (always checked against the id's key). */
  private readonly owners = new Map<string, number>();
  private cache: PrefixCache | undefined;

  constructor(private readonly store: Store) {}

  /** Follows the copy's epg keys from now on (the copy must cover tagPrefix('epg')). */
  follow(cache: PrefixCache): void {
    this.cache = cache;
    cache.onChange((e) => {
      if (!e.key.startsWith(epgPrefix)) return;
      const id = Number(e.key.slice(epgPrefix.length));
      if (e.type === 'put') {
        const owner = e.value ? ownerOfValue(e.value) : undefined;
        if (owner) this.owners.set(owner, id);
      } else if (id < this.hint) this.hint = id;
    });
    for (const kv of cache.under(epgPrefix)) {
      const owner = ownerOfValue(kv.value);
      if (owner) this.owners.set(owner, Number(kv.key.slice(epgPrefix.length)));
    }
  }

  /**
   * A free group id, found from the cursor (no list of all ids per create). readStore reads a key
   * as the create's transaction will compare it; an id taken meanwhile is the caller's retry.
   */
  async pick(readStore: (key: string) => Promise<unknown>): Promise<number> {
    for (let id = this.hint; id <= EPG_ID_RANGE.hi; id++) {
      const k = tagKey('epg', id);
      if (this.pending.has(id) || this.cache?.get(k)) {
        if (id === this.hint && !this.pending.has(id)) this.hint = id + 1;
        continue;
      }
      if (await readStore(k)) continue; // taken in the store (read fresh after a conflict)
      return id;
    }
    throw new AllocationError(
      'endpointGroup',
      `no free group id left in ${EPG_ID_RANGE.lo}-${EPG_ID_RANGE.hi}`,
    );
  }

  /** Marks an id as handed to a transaction in flight (until settled). */
  hold(id: number): void {
    this.pending.add(id);
  }

  settled(id: number): void {
    this.pending.delete(id);
  }

  /** A group's id from the copy (owner index checked against the key), or from the store. */
  async idOf(group: string): Promise<number | undefined> {
    const hinted = this.owners.get(group);
    if (hinted !== undefined && this.cache?.ready) {
      const kv = this.cache.get(tagKey('epg', hinted));
      if (kv && ownerOfValue(kv.value) === group) return hinted;
    }
    for (const kv of await this.store.list(epgPrefix)) {
      if (ownerOfValue(kv.value) === group) return Number(kv.key.slice(epgPrefix.length));
    }
    return undefined;
  }

  /** The group's id was released: it is free for the next create. */
  released(group: string, id: number): void {
    this.owners.delete(group);
    if (id < this.hint) this.hint = id;
  }
}
