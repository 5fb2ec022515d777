// Owns deciding and building the answer to one query for one tenant: ours (from the registry),
// not ours (to forward, or to let continue), or nothing at all. Answers are precomputed wire
// messages keyed by the question bytes and the query bits that change the answer; a repeated
// question costs one Map lookup and a copy with the id rewritten. A tenant's cached answers are
// dropped when its names change.
import { isReverseKey, nameKey } from './names.js';
import { aaaaRecord, aRecord, ptrRecord } from './records.js';
import type { NameRegistry } from './registry.js';
import {
  CLASS_IN,
  emptyResponse,
  HEADER_SIZE,
  headerOnlyError,
  isRejection,
  OPT_SIZE,
  optRecord,
  type ParsedQuery,
  parseQuery,
  questionName,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  responseFlags,
  TYPE_A,
  TYPE_AAAA,
  TYPE_ANY,
  TYPE_PTR,
} from './wire.js';

export const DEFAULT_TTL = 120;
/** Rotations precomputed for a name with several addresses (answer i starts at member i mod RING). */
export const ROTATIONS = 16;
/** The cache starts over beyond this many entries (questions are attacker-chosen). */
const MAX_CACHED = 100_000;
const TCP_LIMIT = 65_535;
/** FNV-1a offset basis mixed with a per-process random value, so collisions cannot be precomputed. */
const HASH_SEED = 0x811c9dc5 ^ ((Math.random() * 0x100000000) >>> 0);
/** Longest chain of entries sharing one hash. */
const MAX_CHAIN = 8;

/**
 * udp: too large → empty with TC (the asker retries over our TCP); tcp: whole; punt: too large →
 * as many records as fit, no TC (a punted query's TCP retry would go to the container's own
 * resolver, which does not know our names; rotation spreads the subsets).
 */
export type Transport = 'udp' | 'tcp' | 'punt';

/** answer: send buf; forward: not ours, a well-formed query for another resolver; drop: send nothing. */
export type Resolution =
  | { kind: 'answer'; buf: Buffer }
  | { kind: 'forward'; query: ParsedQuery }
  | { kind: 'drop' };

/** A cached question's answers, as a copy of the cache elsewhere (the native UDP path) needs them. */
export interface CachedAnswer {
  /** RD, CD, EDNS, DO, punt: the query bits the answer depends on. */
  readonly bits: number;
  /** The size limit the answers obey. */
  readonly limit: number;
  /** The question's bytes (after the header): name as sent, type, class. */
  readonly question: Buffer;
  /** The lookup key a registry change names. */
  readonly name: string;
  /** Answers with the id zeroed, served in turn. */
  readonly orders: readonly Buffer[];
  /** The turn of the next answer (modulo the orders). */
  readonly next: number;
}

/** Answers with the id zeroed, in rotation order; none means "not ours". */
interface Entry extends CachedAnswer {
  orders: Buffer[];
  next: number;
  bits: number;
  limit: number;
  question: Buffer;
  /** The next entry of the same hash. */
  chain: Entry | undefined;
  name: string;
}

/** One tenant's answers by hash, and the hashes each name's answers sit under. */
interface TenantCache {
  entries: Map<number, Entry>;
  byName: Map<string, number[]>;
}

const EMPTY = Buffer.alloc(0);
const entry = (orders: Buffer[]): Entry => ({
  orders,
  next: 0,
  bits: 0,
  limit: 0,
  question: EMPTY,
  chain: undefined,
  name: '',
});

function sameBytes(question: Buffer, q: Buffer, qEnd: number): boolean {
  if (question.length !== qEnd - HEADER_SIZE) return false;
  for (let i = 0; i < question.length; i++) if (question[i] !== q[HEADER_SIZE + i]) return false;
  return true;
}

export interface AnswererOptions {
  /** TTL of our records, seconds (Contiv: 120). */
  ttl?: number;
}

export class Answerer {
  private readonly ttl: number;
  private readonly caches = new Map<string, TenantCache>();
  private readonly unsubscribe: () => void;
  /** Entries made since the caches last started over (an upper bound of what they hold). */
  private cached = 0;

  constructor(
    private readonly registry: NameRegistry,
    opts: AnswererOptions = {},
  ) {
    this.ttl = opts.ttl ?? DEFAULT_TTL;
    this.unsubscribe = registry.onChange((tenant, names) => {
      if (tenant === '*') this.caches.clear();
      else if (!names) this.caches.delete(tenant);
      else this.forget(tenant, names);
    });
  }

  /** Drops the cached answers of these names only: other names keep theirs through churn. */
  private forget(tenant: string, names: readonly string[]): void {
    const cache = this.caches.get(tenant);
    if (!cache) return;
    for (const name of names) {
      for (const h of cache.byName.get(name) ?? []) {
        let head = cache.entries.get(h);
        while (head && head.name === name) head = head.chain;
        for (let e = head; e; e = e.chain) while (e.chain && e.chain.name === name) e.chain = e.chain.chain;
        if (head) cache.entries.set(h, head);
        else cache.entries.delete(h);
      }
      cache.byName.delete(name);
    }
  }

  /** Stops following the registry (the registry may outlive this answerer). */
  close(): void {
    this.unsubscribe();
  }

  /**
   * The datapath punt's entry: our answer to a query from a container of tenant, or undefined
   * when it is not ours (or not a query) and should continue to the container's resolver.
   */
  answer(query: Buffer, tenant: string): Buffer | undefined {
    const r = this.resolve(query, tenant, 'punt');
    return r.kind === 'answer' ? r.buf : undefined;
  }

  /** onAnswers: called with the answers an answer came from (not for errors or forwarding). */
  resolve(
    q: Buffer,
    tenant: string,
    transport: Transport,
    onAnswers?: (a: CachedAnswer) => void,
  ): Resolution {
    const p = parseQuery(q);
    if (isRejection(p)) {
      return p.reject === 'drop' ? { kind: 'drop' } : { kind: 'answer', buf: headerOnlyError(q, p.rcode) };
    }
    if (p.edns && p.ednsVersion !== 0) {
      // BADVERS (16): upper 8 bits in the OPT, lower 4 (0) in the header (RFC 6891 §6.1.3).
      return { kind: 'answer', buf: emptyResponse(q, p, { aa: false, rcode: 0, extRcode: 1 }) };
    }
    const limit = transport === 'tcp' ? TCP_LIMIT : p.udpLimit;
    const fit = transport === 'punt';
    const bits =
      (q[2]! & 0x01) | (q[3]! & 0x10 ? 2 : 0) | (p.edns ? 4 : 0) | (p.dnssecOk ? 8 : 0) | (fit ? 16 : 0);
    // The key: bits, limit and the question's bytes (name as sent, type, class), hashed to a small
    // integer (a Map with number keys is much cheaper than building a string per query).
    let h = HASH_SEED ^ bits ^ (limit << 8);
    for (let i = HEADER_SIZE; i < p.qEnd; i++) h = Math.imul(h ^ q[i]!, 0x01000193);
    let cache = this.caches.get(tenant);
    if (!cache) {
      cache = { entries: new Map(), byName: new Map() };
      this.caches.set(tenant, cache);
    }
    let e = cache.entries.get(h);
    let depth = 0;
    while (e && !(e.bits === bits && e.limit === limit && sameBytes(e.question, q, p.qEnd))) {
      e = e.chain;
      depth++;
    }
    if (!e && depth >= MAX_CHAIN) {
      // Crafted collisions get answers, not a longer chain to walk.
      e = this.build(q, p, tenant, limit, fit);
      e.bits = bits;
      e.limit = limit;
      e.question = Buffer.from(q.subarray(HEADER_SIZE, p.qEnd));
    } else if (!e) {
      if (this.cached >= MAX_CACHED) {
        // Every tenant starts over (the count is not kept per tenant).
        this.caches.clear();
        this.cached = 0;
        cache = { entries: new Map(), byName: new Map() };
        this.caches.set(tenant, cache);
      }
      e = this.build(q, p, tenant, limit, fit);
      e.bits = bits;
      e.limit = limit;
      e.question = Buffer.from(q.subarray(HEADER_SIZE, p.qEnd));
      e.chain = cache.entries.get(h);
      cache.entries.set(h, e);
      const hashes = cache.byName.get(e.name);
      if (hashes) hashes.push(h);
      else cache.byName.set(e.name, [h]);
      this.cached++;
    }
    const n = e.orders.length;
    if (n === 0) return { kind: 'forward', query: p };
    const src = e.orders[n === 1 ? 0 : e.next++ % n]!;
    onAnswers?.(e);
    const out = Buffer.allocUnsafe(src.length);
    src.copy(out);
    out[0] = q[0]!;
    out[1] = q[1]!;
    return { kind: 'answer', buf: out };
  }

  /** The answers (one per rotation) for a question not yet cached, tagged with its lookup key. */
  private build(q: Buffer, p: ParsedQuery, tenant: string, limit: number, fit: boolean): Entry {
    const key = nameKey(questionName(q));
    const e = this.buildFor(key, q, p, tenant, limit, fit);
    e.name = key;
    return e;
  }

  private buildFor(
    key: string,
    q: Buffer,
    p: ParsedQuery,
    tenant: string,
    limit: number,
    fit: boolean,
  ): Entry {
    if (p.qclass !== CLASS_IN) return entry([]);
    const ttl = this.ttl;
    if (isReverseKey(key)) {
      const names = this.registry.lookupPtr(tenant, key);
      if (!names) return entry([]);
      const records = p.qtype === TYPE_PTR || p.qtype === TYPE_ANY ? names.map((n) => ptrRecord(n, ttl)) : [];
      return this.entry(q, p, [records], limit, fit);
    }
    const found = this.registry.lookup(tenant, key);
    if (found === undefined) return entry([]);
    if (found === 'nxdomain')
      return entry([zeroId(emptyResponse(q, p, { aa: true, rcode: RCODE_NXDOMAIN }))]);
    const v4 = p.qtype === TYPE_A || p.qtype === TYPE_ANY ? found.v4.map((a) => aRecord(a, ttl)) : [];
    const v6 = p.qtype === TYPE_AAAA || p.qtype === TYPE_ANY ? found.v6.map((a) => aaaaRecord(a, ttl)) : [];
    const rings = Math.min(Math.max(v4.length, v6.length, 1), ROTATIONS);
    const orders = Array.from({ length: rings }, (_, k) => [rotate(v4, k), rotate(v6, k)].flat());
    return this.entry(q, p, orders, limit, fit);
  }

  /**
   * Full answers for each record order. When they do not fit the limit: an empty answer with TC,
   * or (fit) the records that fit, in each order.
   */
  private entry(q: Buffer, p: ParsedQuery, orders: Buffer[][], limit: number, fit: boolean): Entry {
    const fixed = p.qEnd + (p.edns ? OPT_SIZE : 0);
    const sizeOf = (records: Buffer[]) => fixed + records.reduce((s, r) => s + r.length, 0);
    if (sizeOf(orders[0]!) > limit) {
      if (!fit) return entry([zeroId(emptyResponse(q, p, { aa: true, rcode: RCODE_NOERROR, tc: true }))]);
      orders = orders.map((records) => {
        let size = fixed;
        let n = 0;
        while (n < records.length && size + records[n]!.length <= limit) size += records[n++]!.length;
        return records.slice(0, n);
      });
    }
    return entry(
      orders.map((records) => {
        const out = Buffer.alloc(sizeOf(records));
        q.copy(out, 0, 0, p.qEnd);
        out.writeUInt16BE(0, 0);
        out.writeUInt16BE(responseFlags(q, true, RCODE_NOERROR), 2);
        out.writeUInt16BE(1, 4);
        out.writeUInt16BE(records.length, 6);
        out.writeUInt16BE(0, 8);
        out.writeUInt16BE(p.edns ? 1 : 0, 10);
        let off = p.qEnd;
        for (const r of records) off += r.copy(out, off);
        if (p.edns) optRecord(p.dnssecOk).copy(out, off);
        return out;
      }),
    );
  }
}

function rotate<T>(xs: readonly T[], k: number): T[] {
  if (xs.length < 2) return [...xs];
  const s = k % xs.length;
  return [...xs.slice(s), ...xs.slice(0, s)];
}

function zeroId(b: Buffer): Buffer {
  b.writeUInt16BE(0, 0);
  return b;
}
