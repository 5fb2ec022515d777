// Owns flows as encoded entries and the index that finds a flow by its OpenFlow identity (table,
// priority, exact match). Pure data structure: it never talks to a switch.
//
// Why not a Map keyed by strings: with 100k flows, building and hashing a key string per flow
// costs more than encoding the flow. Entries are indexed by a 32-bit hash of their identity bytes,
// chained on collision, and compared byte for byte.

import { Writer } from '../openflow/buffer.js';
import { encodeMessage } from '../openflow/encode.js';
import { type Flow, FM_MATCH, FM_PRIORITY, FM_TABLE, flowMod } from '../openflow/flow.js';
import { FlowModCommand } from '../openflow/messages.js';
import { canonicalFlow } from './canonical.js';

export interface FlowEntry {
  /** The flow in canonical form (as the switch reports it). */
  readonly flow: Flow;
  /**
   * The flow as a complete FLOW_MOD ADD (xid 0), encoded once, one char per byte (latin1): it is
   * what gets sent, and two entries of the same identity are the same flow exactly when these
   * are equal. A string rather than a Buffer: 100k small Buffers cost the garbage collector dearly.
   */
  readonly msg: string;
  readonly hash: number;
  /** Which pass of the owner last produced this flow (see FlowTableManager). */
  gen: number;
  /** Next entry in the same hash chain. */
  next: FlowEntry | undefined;
}

const scratch = new Writer(1 << 12);

/** FNV-1a over table, priority and the match TLVs of the FLOW_MOD in `b`. */
function identityHash(b: Buffer, matchEnd: number): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ b[FM_TABLE]!, 0x01000193);
  h = Math.imul(h ^ b[FM_PRIORITY]!, 0x01000193);
  h = Math.imul(h ^ b[FM_PRIORITY + 1]!, 0x01000193);
  for (let i = FM_MATCH + 4; i < matchEnd; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** Canonicalises and encodes a flow (throws, naming the field, if it cannot be encoded). */
export function encodeEntry(flow: Flow, gen = 0): FlowEntry {
  const f = canonicalFlow(flow);
  scratch.reset();
  encodeMessage(scratch, flowMod(FlowModCommand.ADD, f));
  const b = scratch.buf;
  const matchEnd = FM_MATCH + ((b[FM_MATCH + 2]! << 8) | b[FM_MATCH + 3]!);
  return {
    flow: f,
    msg: b.toString('latin1', 0, scratch.off),
    hash: identityHash(b, matchEnd),
    gen,
    next: undefined,
  };
}

/** Same table, priority and match. */
export function sameIdentity(a: FlowEntry, b: FlowEntry): boolean {
  if (a.hash !== b.hash) return false;
  const x = a.msg;
  const y = b.msg;
  const end = FM_MATCH + ((x.charCodeAt(FM_MATCH + 2) << 8) | x.charCodeAt(FM_MATCH + 3));
  if (x.charCodeAt(FM_MATCH + 2) !== y.charCodeAt(FM_MATCH + 2)) return false;
  if (x.charCodeAt(FM_MATCH + 3) !== y.charCodeAt(FM_MATCH + 3)) return false;
  if (x.charCodeAt(FM_TABLE) !== y.charCodeAt(FM_TABLE)) return false;
  if (x.charCodeAt(FM_PRIORITY) !== y.charCodeAt(FM_PRIORITY)) return false;
  if (x.charCodeAt(FM_PRIORITY + 1) !== y.charCodeAt(FM_PRIORITY + 1)) return false;
  for (let i = FM_MATCH + 4; i < end; i++) if (x.charCodeAt(i) !== y.charCodeAt(i)) return false;
  return true;
}

/** Flows by identity, at most one entry per identity. */
export class FlowIndex {
  private readonly chains = new Map<number, FlowEntry>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The entry with the same identity as `probe`, if any. */
  get(probe: FlowEntry): FlowEntry | undefined {
    for (let e = this.chains.get(probe.hash); e; e = e.next) if (sameIdentity(e, probe)) return e;
    return undefined;
  }

  /** Entries whose identity hashes to `hash` (usually none or one). */
  *chain(hash: number): IterableIterator<FlowEntry> {
    for (let e = this.chains.get(hash); e; ) {
      const next = e.next; // read first: the caller may delete e
      yield e;
      e = next;
    }
  }

  /** Adds `entry`, replacing the entry of the same identity; returns the replaced one. */
  set(entry: FlowEntry): FlowEntry | undefined {
    const head = this.chains.get(entry.hash);
    let prev: FlowEntry | undefined;
    for (let e = head; e; prev = e, e = e.next) {
      if (!sameIdentity(e, entry)) continue;
      entry.next = e.next;
      if (prev) prev.next = entry;
      else this.chains.set(entry.hash, entry);
      e.next = undefined;
      return e;
    }
    entry.next = head;
    this.chains.set(entry.hash, entry);
    this.count++;
    return undefined;
  }

  /** Removes the entry with the same identity as `probe`; returns it. */
  delete(probe: FlowEntry): FlowEntry | undefined {
    let prev: FlowEntry | undefined;
    for (let e = this.chains.get(probe.hash); e; prev = e, e = e.next) {
      if (!sameIdentity(e, probe)) continue;
      if (prev) prev.next = e.next;
      else if (e.next) this.chains.set(probe.hash, e.next);
      else this.chains.delete(probe.hash);
      e.next = undefined;
      this.count--;
      return e;
    }
    return undefined;
  }

  /** Every entry; deleting the entry just yielded is allowed. */
  *[Symbol.iterator](): IterableIterator<FlowEntry> {
    for (const head of this.chains.values()) {
      for (let e: FlowEntry | undefined = head; e; ) {
        const next: FlowEntry | undefined = e.next;
        yield e;
        e = next;
      }
    }
  }
}
