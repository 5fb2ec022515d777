// Owns, for one switch, the desired flows, groups and meters, what the switch is known to hold,
// and the reconciliation between them: only differences are sent, atomically, barrier-confirmed.
// It never decides what flows should exist (features do) and never clears a table wholesale.

import type { Instruction } from '../openflow/actions.js';
import { Writer } from '../openflow/buffer.js';
import { encodeMessage } from '../openflow/encode.js';
import type { Match } from '../openflow/match.js';
import {
  type Bucket,
  FlowModCommand,
  FlowModFlags,
  type FlowStats,
  GroupModCommand,
  type GroupType,
  type MeterBand,
  MeterFlags,
  MeterModCommand,
  OFP_NO_BUFFER,
  OFPG_ANY,
  OFPP,
} from '../openflow/messages.js';
import type { BatchItem, FlowModInput, SwitchConnection } from '../switch/connection.js';
import { canonicalFlow } from './canonical.js';
import { FEATURE_MASK, FEATURE_SHIFT } from './cookie.js';

export interface Flow {
  tableId: number;
  priority: number;
  match: Match;
  instructions: Instruction[];
  cookie: bigint;
  idleTimeout?: number;
  hardTimeout?: number;
  /** FlowModFlags; only SEND_FLOW_REM, NO_PKT_COUNTS and NO_BYT_COUNTS are kept by switches. */
  flags?: number;
}

export interface Group {
  groupId: number;
  groupType: GroupType;
  buckets: Bucket[];
}

export interface Meter {
  meterId: number;
  flags: number;
  bands: MeterBand[];
}

export interface ApplyStats {
  flowsAdded: number;
  flowsModified: number;
  flowsDeleted: number;
  groupsChanged: number;
  metersChanged: number;
  /** Wall time of the whole apply, milliseconds. */
  ms: number;
}

const KEPT_FLAGS = FlowModFlags.SEND_FLOW_REM | FlowModFlags.NO_PKT_COUNTS | FlowModFlags.NO_BYT_COUNTS;

interface FlowEntry {
  /** The flow in canonical form (as the switch reports it). */
  flow: Flow;
  /**
   * The flow as a complete FLOW_MOD ADD (xid 0), encoded once: it is what gets sent, and two
   * entries with the same key are the same flow exactly when these bytes are equal.
   */
  msg: Buffer;
  /** setFlows pass that last produced this flow. */
  gen: number;
}

interface Keyed<T> {
  item: T;
  sig: string;
}

// FLOW_MOD layout offsets (OpenFlow 1.3 ofp_flow_mod).
const FM_TABLE = 24;
const FM_PRIORITY = 30;
const FM_MATCH = 48;

/** Identity of an encoded flow: table, priority and the exact match bytes. */
function keyOf(msg: Buffer): string {
  const matchLen = (msg[FM_MATCH + 2]! << 8) | msg[FM_MATCH + 3]!;
  return (
    String.fromCharCode(msg[FM_TABLE]!, msg[FM_PRIORITY]!, msg[FM_PRIORITY + 1]!) +
    msg.toString('latin1', FM_MATCH + 4, FM_MATCH + matchLen)
  );
}

const scratch = new Writer(1 << 12);

function entryOf(flow: Flow, gen = 0): FlowEntry {
  const f = canonicalFlow(flow);
  scratch.reset();
  encodeMessage(scratch, flowMod(FlowModCommand.ADD, f));
  return { flow: f, msg: scratch.take(), gen };
}

/** Identity of a flow in OpenFlow: table, priority and the exact match. */
export function flowKey(flow: Pick<Flow, 'tableId' | 'priority' | 'match'>): string {
  return keyOf(entryOf({ ...flow, instructions: [], cookie: 0n }).msg);
}

function groupSig(g: Group): string {
  return JSON.stringify([g.groupType, g.buckets], bigintJson);
}

function meterSig(m: Meter): string {
  // Without the BURST flag the switch picks its own burst size and reports that: not ours to compare.
  const burst = (m.flags & MeterFlags.BURST) !== 0;
  return JSON.stringify([m.flags, m.bands.map((b) => (burst ? b : { ...b, burstSize: 0 }))]);
}

function bigintJson(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

export function flowFromStats(s: FlowStats): Flow {
  return {
    tableId: s.tableId,
    priority: s.priority,
    match: s.match,
    instructions: s.instructions,
    cookie: s.cookie,
    idleTimeout: s.idleTimeout,
    hardTimeout: s.hardTimeout,
    flags: s.flags & KEPT_FLAGS,
  };
}

/**
 * The desired state of one switch and its reconciliation. Desired state may be changed at any
 * time, connected or not; `apply()` pushes what changed; `attach()` adopts a (new) connection by
 * reading what the switch holds and sending only the difference.
 */
export class FlowTableManager {
  private readonly desired = new Map<string, FlowEntry>();
  private installed = new Map<string, FlowEntry>();
  private readonly dirty = new Set<string>();
  private readonly desiredGroups = new Map<number, Keyed<Group>>();
  private installedGroups = new Map<number, Keyed<Group>>();
  private readonly dirtyGroups = new Set<number>();
  private readonly desiredMeters = new Map<number, Keyed<Meter>>();
  /** Bumped by every call that marks the flows it produced (setFlows, addFlows, replaceOwned). */
  private generation = 0;
  private installedMeters = new Map<number, Keyed<Meter>>();
  private readonly dirtyMeters = new Set<number>();
  private conn: SwitchConnection | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  get connection(): SwitchConnection | undefined {
    return this.conn?.isOpen ? this.conn : undefined;
  }

  get desiredCount(): number {
    return this.desired.size;
  }

  /** Replaces the whole desired flow set. */
  setFlows(flows: Iterable<Flow>): void {
    const gen = ++this.generation;
    for (const f of flows) this.put(entryOf(f, gen), gen);
    for (const [key, e] of this.desired) {
      if (e.gen !== gen) {
        this.desired.delete(key);
        this.dirty.add(key);
      }
    }
  }

  /** Adds or changes flows, leaving the others. */
  addFlows(flows: Iterable<Flow>): void {
    const gen = ++this.generation;
    for (const f of flows) this.put(entryOf(f, gen), gen);
  }

  removeFlows(flows: Iterable<Pick<Flow, 'tableId' | 'priority' | 'match'>>): void {
    for (const f of flows) {
      const key = flowKey(f);
      if (this.desired.delete(key)) this.dirty.add(key);
    }
  }

  /**
   * Replaces the flows owned by one cookie (feature and object): flows the owner no longer
   * produces are removed, others are left alone. A flow whose key another owner holds is an error.
   */
  replaceOwned(owner: bigint, ownerMask: bigint, flows: Iterable<Flow>): void {
    const gen = ++this.generation;
    const mine = (cookie: bigint) => (cookie & ownerMask) === (owner & ownerMask);
    const entries: [string, FlowEntry][] = [];
    for (const f of flows) {
      if (!mine(f.cookie)) {
        throw new Error(`flow: cookie 0x${f.cookie.toString(16)} is not owned by 0x${owner.toString(16)}`);
      }
      const e = entryOf(f, gen);
      const key = keyOf(e.msg);
      const prev = this.desired.get(key);
      if (prev && !mine(prev.flow.cookie)) {
        throw new Error(
          `flow: table ${f.tableId} priority ${f.priority}: match already owned by cookie 0x${prev.flow.cookie.toString(16)}`,
        );
      }
      entries.push([key, e]);
    }
    for (const [key, e] of entries) this.put(e, gen, key);
    for (const [key, e] of this.desired) {
      if (mine(e.flow.cookie) && e.gen !== gen) {
        this.desired.delete(key);
        this.dirty.add(key);
      }
    }
  }

  /** Desired flows, optionally those of one feature. */
  flows(feature?: number): Flow[] {
    const out: Flow[] = [];
    for (const e of this.desired.values()) {
      if (feature === undefined || (e.flow.cookie & FEATURE_MASK) >> FEATURE_SHIFT === BigInt(feature)) {
        out.push(e.flow);
      }
    }
    return out;
  }

  groups(): Group[] {
    return [...this.desiredGroups.values()].map((g) => g.item);
  }

  meters(): Meter[] {
    return [...this.desiredMeters.values()].map((m) => m.item);
  }

  setGroups(groups: Iterable<Group>): void {
    replaceKeyed(this.desiredGroups, this.dirtyGroups, groups, (g) => g.groupId, groupSig);
  }

  setMeters(meters: Iterable<Meter>): void {
    replaceKeyed(this.desiredMeters, this.dirtyMeters, meters, (m) => m.meterId, meterSig);
  }

  /** Pushes pending differences to the switch (a no-op when disconnected: attach() will). */
  apply(): Promise<ApplyStats> {
    return this.serial(() => this.push());
  }

  /**
   * Adopts a connection: reads the switch's flows, groups and meters, then sends only the
   * difference to the desired state. Flows the switch already has as desired are not touched.
   */
  attach(conn: SwitchConnection): Promise<ApplyStats> {
    return this.serial(async () => {
      this.conn = conn;
      conn.once('close', () => {
        if (this.conn === conn) this.conn = undefined;
      });
      const [flows, groups, meters] = await Promise.all([
        conn.dumpFlows(),
        conn.dumpGroups(),
        conn.dumpMeters(),
      ]);
      this.installed = new Map();
      for (const s of flows) {
        const e = entryOf(flowFromStats(s));
        this.installed.set(keyOf(e.msg), e);
      }
      this.installedGroups = new Map(groups.map((g) => [g.groupId, { item: g, sig: groupSig(g) }]));
      this.installedMeters = new Map(meters.map((m) => [m.meterId, { item: m, sig: meterSig(m) }]));
      for (const key of this.installed.keys()) this.dirty.add(key);
      for (const key of this.desired.keys()) this.dirty.add(key);
      for (const id of this.installedGroups.keys()) this.dirtyGroups.add(id);
      for (const id of this.desiredGroups.keys()) this.dirtyGroups.add(id);
      for (const id of this.installedMeters.keys()) this.dirtyMeters.add(id);
      for (const id of this.desiredMeters.keys()) this.dirtyMeters.add(id);
      return this.push();
    });
  }

  private put(e: FlowEntry, gen: number, key = keyOf(e.msg)): void {
    const prev = this.desired.get(key);
    if (prev?.gen === gen) {
      throw new Error(`flow: table ${e.flow.tableId} priority ${e.flow.priority}: the same match twice`);
    }
    if (prev?.msg.equals(e.msg)) {
      prev.gen = gen;
      return;
    }
    this.desired.set(key, e);
    this.dirty.add(key);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async push(): Promise<ApplyStats> {
    const started = performance.now();
    const stats: ApplyStats = {
      flowsAdded: 0,
      flowsModified: 0,
      flowsDeleted: 0,
      groupsChanged: 0,
      metersChanged: 0,
      ms: 0,
    };
    const conn = this.connection;
    if (!conn) return stats;

    // Take the pending changes now: desired state may change again while we wait on the switch.
    const dirty = [...this.dirty];
    const dirtyGroups = [...this.dirtyGroups];
    const dirtyMeters = [...this.dirtyMeters];
    this.dirty.clear();
    this.dirtyGroups.clear();
    this.dirtyMeters.clear();

    const meterAdds: FlowModInput[] = [];
    const meterDels: FlowModInput[] = [];
    const meterChanges = diffKeyed(
      this.desiredMeters,
      this.installedMeters,
      dirtyMeters,
      (id, want, have) => {
        if (want) {
          const command = have ? MeterModCommand.MODIFY : MeterModCommand.ADD;
          meterAdds.push({ type: 'meterMod', xid: 0, command, ...want.item });
        } else {
          meterDels.push({
            type: 'meterMod',
            xid: 0,
            command: MeterModCommand.DELETE,
            flags: 0,
            meterId: id,
            bands: [],
          });
        }
      },
    );

    // One ordered, atomic bundle: groups a flow may point at come first, flows, then group deletes.
    const bundle: BatchItem[] = [];
    const groupDels: FlowModInput[] = [];
    const groupChanges = diffKeyed(
      this.desiredGroups,
      this.installedGroups,
      dirtyGroups,
      (id, want, have) => {
        if (want) {
          const command = have ? GroupModCommand.MODIFY : GroupModCommand.ADD;
          bundle.push({ type: 'groupMod', xid: 0, command, ...want.item });
        } else {
          groupDels.push({
            type: 'groupMod',
            xid: 0,
            command: GroupModCommand.DELETE,
            groupType: 0,
            groupId: id,
            buckets: [],
          });
        }
      },
    );
    const flowChanges: [string, FlowEntry | undefined][] = [];
    for (const key of dirty) {
      const want = this.desired.get(key);
      const have = this.installed.get(key);
      if (want) {
        if (have?.msg.equals(want.msg)) continue;
        bundle.push(want.msg);
        if (have) stats.flowsModified++;
        else stats.flowsAdded++;
        flowChanges.push([key, want]);
      } else if (have) {
        bundle.push(flowMod(FlowModCommand.DELETE_STRICT, have.flow));
        stats.flowsDeleted++;
        flowChanges.push([key, undefined]);
      }
    }
    for (const g of groupDels) bundle.push(g);
    stats.groupsChanged = groupChanges.length;
    stats.metersChanged = meterChanges.length;

    try {
      // Meters cannot ride in a bundle; adds go before the flows that use them, deletes after.
      if (meterAdds.length > 0) await conn.sendChecked(meterAdds);
      if (bundle.length > 0) await conn.bundle(bundle);
      if (meterDels.length > 0) await conn.sendChecked(meterDels);
    } catch (err) {
      // Nothing of a failed bundle was applied: retry these changes on the next apply.
      for (const k of dirty) this.dirty.add(k);
      for (const k of dirtyGroups) this.dirtyGroups.add(k);
      for (const k of dirtyMeters) this.dirtyMeters.add(k);
      throw err;
    }

    for (const [key, e] of flowChanges) {
      if (e) this.installed.set(key, e);
      else this.installed.delete(key);
    }
    commitKeyed(this.installedGroups, groupChanges);
    commitKeyed(this.installedMeters, meterChanges);
    stats.ms = performance.now() - started;
    return stats;
  }
}

function flowMod(command: FlowModCommand, f: Flow): FlowModInput {
  return {
    type: 'flowMod',
    xid: 0,
    cookie: f.cookie,
    cookieMask: 0n,
    tableId: f.tableId,
    command,
    idleTimeout: f.idleTimeout ?? 0,
    hardTimeout: f.hardTimeout ?? 0,
    priority: f.priority,
    bufferId: OFP_NO_BUFFER,
    outPort: OFPP.ANY,
    outGroup: OFPG_ANY,
    flags: f.flags ?? 0,
    match: f.match,
    instructions: command === FlowModCommand.ADD ? f.instructions : [],
  };
}

function replaceKeyed<T>(
  desired: Map<number, Keyed<T>>,
  dirty: Set<number>,
  items: Iterable<T>,
  id: (t: T) => number,
  sig: (t: T) => string,
): void {
  const seen = new Set<number>();
  for (const item of items) {
    const k = id(item);
    if (seen.has(k)) throw new Error(`id ${k} given twice`);
    seen.add(k);
    const s = sig(item);
    if (desired.get(k)?.sig !== s) {
      desired.set(k, { item, sig: s });
      dirty.add(k);
    }
  }
  for (const k of desired.keys()) {
    if (!seen.has(k)) {
      desired.delete(k);
      dirty.add(k);
    }
  }
}

/** Calls `each` for every dirty id whose desired and installed versions differ; returns them. */
function diffKeyed<T>(
  desired: Map<number, Keyed<T>>,
  installed: Map<number, Keyed<T>>,
  dirty: readonly number[],
  each: (id: number, want: Keyed<T> | undefined, have: Keyed<T> | undefined) => void,
): [number, Keyed<T> | undefined][] {
  const changes: [number, Keyed<T> | undefined][] = [];
  for (const id of dirty) {
    const want = desired.get(id);
    const have = installed.get(id);
    if (want?.sig === have?.sig) continue;
    each(id, want, have);
    changes.push([id, want]);
  }
  return changes;
}

function commitKeyed<T>(installed: Map<number, Keyed<T>>, changes: [number, Keyed<T> | undefined][]): void {
  for (const [id, want] of changes) {
    if (want) installed.set(id, want);
    else installed.delete(id);
  }
}
