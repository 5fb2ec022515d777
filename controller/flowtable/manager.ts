// Owns, for one switch, the desired flows, groups and meters, what the switch is known to hold,
// and the reconciliation between them: only differences are sent, atomically, barrier-confirmed.
// It never decides what flows should exist (features do) and never clears a table wholesale.

import { SerialQueue } from '../../lib/serial-queue.js';
import { FEATURE_MASK, FEATURE_SHIFT } from '../openflow/cookie.js';
import { encode } from '../openflow/encode.js';
import { type Flow, flowMod, type Group, KEPT_FLAGS, type Meter } from '../openflow/flow.js';
import {
  FlowModCommand,
  type FlowStats,
  GroupModCommand,
  MeterFlags,
  MeterModCommand,
} from '../openflow/messages.js';
import type { BundleBuilder, FlowModInput, SwitchConnection } from '../switch/connection.js';
import { canonicalActions } from './canonical.js';
import { encodeEntry, type FlowEntry, FlowIndex } from './flow-index.js';

export interface ApplyStats {
  flowsAdded: number;
  flowsModified: number;
  flowsDeleted: number;
  groupsChanged: number;
  metersChanged: number;
  /** Wall time of the whole apply, milliseconds. */
  ms: number;
}

interface Keyed<T> {
  item: T;
  sig: string;
}

/** A group's canonical bytes (as a GROUP_MOD ADD): equal exactly when the switch would hold the same group. */
function groupSig(g: Group): string {
  const buckets = g.buckets.map((b) => ({ ...b, actions: canonicalActions(b.actions) }));
  return encode({ type: 'groupMod', xid: 0, command: GroupModCommand.ADD, ...g, buckets }).toString('latin1');
}

function meterSig(m: Meter): string {
  // Without the BURST flag the switch picks its own burst size and reports that: not ours to compare.
  const burst = (m.flags & MeterFlags.BURST) !== 0;
  const bands = burst ? m.bands : m.bands.map((b) => ({ ...b, burstSize: 0 }));
  return encode({ type: 'meterMod', xid: 0, command: MeterModCommand.ADD, ...m, bands }).toString('latin1');
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
  private desired = new FlowIndex();
  private installed = new FlowIndex();
  /** Identity hashes whose desired and installed flows may differ. */
  private readonly dirty = new Set<number>();
  private readonly desiredGroups = new Map<number, Keyed<Group>>();
  private installedGroups = new Map<number, Keyed<Group>>();
  private readonly dirtyGroups = new Set<number>();
  private readonly desiredMeters = new Map<number, Keyed<Meter>>();
  private installedMeters = new Map<number, Keyed<Meter>>();
  private readonly dirtyMeters = new Set<number>();
  /** Set while sync() streams a replacement desired set to the switch. */
  private syncing = false;
  private conn: SwitchConnection | undefined;
  private readonly jobs = new SerialQueue();

  get connection(): SwitchConnection | undefined {
    return this.conn?.isOpen ? this.conn : undefined;
  }

  get desiredCount(): number {
    return this.desired.size;
  }

  /** Replaces the whole desired flow set. All or nothing: a bad flow throws and changes nothing. */
  setFlows(flows: Iterable<Flow>): void {
    this.notSyncing('setFlows');
    const next = indexOf(flows);
    for (const e of next) {
      if (this.desired.get(e)?.msg !== e.msg) this.dirty.add(e.hash);
    }
    for (const e of this.desired) if (!next.get(e)) this.dirty.add(e.hash);
    this.desired = next;
  }

  /** Adds or changes flows, leaving the others. All or nothing. */
  addFlows(flows: Iterable<Flow>): void {
    this.notSyncing('addFlows');
    for (const e of entriesOf(flows)) this.put(e);
  }

  removeFlows(flows: Iterable<Pick<Flow, 'tableId' | 'priority' | 'match'>>): void {
    this.notSyncing('removeFlows');
    const probes = [...flows].map((f) => encodeEntry({ ...f, instructions: [], cookie: 0n }));
    for (const p of probes) {
      const gone = this.desired.delete(p);
      if (gone) this.dirty.add(gone.hash);
    }
  }

  /**
   * Replaces the flows owned by one cookie (feature and object): flows the owner no longer
   * produces are removed, others are left alone. A flow whose match another owner holds is an
   * error. All or nothing.
   */
  replaceOwned(owner: bigint, ownerMask: bigint, flows: Iterable<Flow>): void {
    this.notSyncing('replaceOwned');
    const mine = (cookie: bigint) => (cookie & ownerMask) === (owner & ownerMask);
    const entries = entriesOf(flows);
    const keep = new FlowIndex();
    for (const e of entries) {
      if (!mine(e.flow.cookie)) {
        throw new Error(
          `flow: cookie 0x${e.flow.cookie.toString(16)} is not owned by 0x${owner.toString(16)}`,
        );
      }
      const prev = this.desired.get(e);
      if (prev && !mine(prev.flow.cookie)) {
        throw new Error(
          `flow: table ${e.flow.tableId} priority ${e.flow.priority}: match already owned by cookie 0x${prev.flow.cookie.toString(16)}`,
        );
      }
      keep.set({ ...e, next: undefined });
    }
    for (const e of this.desired) {
      if (mine(e.flow.cookie) && !keep.get(e)) {
        this.desired.delete(e);
        this.dirty.add(e.hash);
      }
    }
    for (const e of entries) this.put(e);
  }

  /** Desired flows, optionally those of one feature. */
  flows(feature?: number): Flow[] {
    const out: Flow[] = [];
    for (const e of this.desired) {
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
    replaceKeyed(this.desiredGroups, this.dirtyGroups, groups, (g) => g.groupId, groupSig, 'group');
  }

  setMeters(meters: Iterable<Meter>): void {
    replaceKeyed(this.desiredMeters, this.dirtyMeters, meters, (m) => m.meterId, meterSig, 'meter');
  }

  /**
   * Adds or replaces these groups and removes those ids, leaving the others: cost proportional to
   * the change, not to all groups (an incremental compile's delta). All or nothing.
   */
  changeGroups(put: Iterable<Group>, remove: Iterable<number> = []): void {
    changeKeyed(this.desiredGroups, this.dirtyGroups, put, remove, (g) => g.groupId, groupSig, 'group');
  }

  /** As changeGroups, for meters. */
  changeMeters(put: Iterable<Meter>, remove: Iterable<number> = []): void {
    changeKeyed(this.desiredMeters, this.dirtyMeters, put, remove, (m) => m.meterId, meterSig, 'meter');
  }

  /** Pushes pending differences to the switch (a no-op when disconnected: attach() will). */
  apply(): Promise<ApplyStats> {
    return this.jobs.run(() => this.push());
  }

  /**
   * setFlows(flows) then apply(), streamed: each flow is encoded, compared and sent while the
   * switch is already parsing the ones before, in one bundle. A bad flow throws and changes
   * nothing, here or on the switch. Other changes must wait until it resolves.
   */
  sync(flows: Iterable<Flow>): Promise<ApplyStats> {
    return this.jobs.run(async () => {
      if (!this.connection) {
        this.setFlows(flows);
        return this.push();
      }
      this.syncing = true;
      try {
        return await this.push(flows);
      } finally {
        this.syncing = false;
      }
    });
  }

  /**
   * Adopts a connection: reads the switch's flows, groups and meters, then sends only the
   * difference to the desired state. Flows the switch already has as desired are not touched.
   */
  attach(conn: SwitchConnection): Promise<ApplyStats> {
    return this.jobs.run(async () => {
      this.conn = conn;
      conn.once('close', () => {
        if (this.conn === conn) this.conn = undefined;
      });
      const [flows, groups, meters] = await Promise.all([
        conn.dumpFlows(),
        conn.dumpGroups(),
        conn.dumpMeters(),
      ]);
      this.installed = new FlowIndex();
      for (const s of flows) this.installed.set(encodeEntry(flowFromStats(s)));
      this.installedGroups = new Map(groups.map((g) => [g.groupId, { item: g, sig: groupSig(g) }]));
      this.installedMeters = new Map(meters.map((m) => [m.meterId, { item: m, sig: meterSig(m) }]));
      for (const e of this.installed) this.dirty.add(e.hash);
      for (const e of this.desired) this.dirty.add(e.hash);
      for (const id of this.installedGroups.keys()) this.dirtyGroups.add(id);
      for (const id of this.desiredGroups.keys()) this.dirtyGroups.add(id);
      for (const id of this.installedMeters.keys()) this.dirtyMeters.add(id);
      for (const id of this.desiredMeters.keys()) this.dirtyMeters.add(id);
      return this.push();
    });
  }

  private put(e: FlowEntry): void {
    const prev = this.desired.get(e);
    if (prev?.msg === e.msg) return;
    this.desired.set(e);
    this.dirty.add(e.hash);
  }

  private notSyncing(what: string): void {
    if (this.syncing) throw new Error(`${what}: a sync() is streaming the desired flows; await it first`);
  }

  /**
   * Sends what differs, in this order: meter adds (meters cannot ride in a bundle), then one
   * ordered atomic bundle of group adds/modifies, flow changes and group deletes, then meter
   * deletes. With `replacement`, the desired flows become exactly those, streamed into the bundle.
   */
  private async push(replacement?: Iterable<Flow>): Promise<ApplyStats> {
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
    const restore = () => {
      for (const k of dirty) this.dirty.add(k);
      for (const k of dirtyGroups) this.dirtyGroups.add(k);
      for (const k of dirtyMeters) this.dirtyMeters.add(k);
    };

    const meters = planMeters(this.desiredMeters, this.installedMeters, dirtyMeters);
    const groups = planGroups(this.desiredGroups, this.installedGroups, dirtyGroups);
    stats.metersChanged = meters.changes.length;
    stats.groupsChanged = groups.changes.length;
    const installs: FlowEntry[] = [];
    const removals: FlowEntry[] = [];
    let next: FlowIndex | undefined;
    let replacedWhole = false;
    let bundle: BundleBuilder | undefined;

    const flowChange = (want: FlowEntry | undefined, have: FlowEntry | undefined): void => {
      if (want) {
        if (have?.msg === want.msg) return;
        (bundle as BundleBuilder).add(want.msg);
        if (have) stats.flowsModified++;
        else stats.flowsAdded++;
        installs.push(want);
      } else if (have) {
        (bundle as BundleBuilder).add(flowMod(FlowModCommand.DELETE_STRICT, have.flow));
        stats.flowsDeleted++;
        removals.push(have);
      }
    };

    try {
      if (meters.adds.length > 0) await conn.sendChecked(meters.adds);
      if (replacement || dirty.length > 0 || groups.adds.length + groups.dels.length > 0) {
        bundle = await conn.openBundle();
        for (const g of groups.adds) bundle.add(g);
        if (replacement) {
          next = new FlowIndex();
          let n = 0;
          for (const f of replacement) {
            const e = encodeEntry(f);
            if (next.set(e)) throw duplicate(e);
            flowChange(e, this.installed.get(e));
            // Let the socket drain now and then, so the switch parses while we encode.
            if (++n % 2048 === 0) await bundle.pace();
          }
          replacedWhole = true;
          for (const have of this.installed) if (!next.get(have)) flowChange(undefined, have);
        } else {
          for (const hash of dirty) {
            for (const want of this.desired.chain(hash)) flowChange(want, this.installed.get(want));
            for (const have of this.installed.chain(hash))
              if (!this.desired.get(have)) flowChange(undefined, have);
          }
        }
        for (const g of groups.dels) bundle.add(g);
        if (bundle.size > 0) await bundle.commit();
        else await bundle.discard();
      }
      if (meters.dels.length > 0) await conn.sendChecked(meters.dels);
    } catch (err) {
      if (bundle && !bundle.ended) await bundle.discard().catch(() => undefined);
      restore();
      if (next && replacedWhole) {
        // The replacement was whole; the switch refused it. It stays desired, to be retried.
        this.desired = next;
        for (const e of next) this.dirty.add(e.hash);
        for (const e of this.installed) this.dirty.add(e.hash);
      }
      throw err;
    }

    if (next) this.desired = next;
    // An entry sits in one index only (its hash chain link is its own): install a copy.
    for (const e of installs) this.installed.set({ ...e, next: undefined });
    for (const e of removals) this.installed.delete(e);
    commitKeyed(this.installedGroups, groups.changes);
    commitKeyed(this.installedMeters, meters.changes);
    stats.ms = performance.now() - started;
    return stats;
  }
}

/** Replaces a desired group or meter set, all or nothing: every item is encoded before any is kept. */
function replaceKeyed<T>(
  desired: Map<number, Keyed<T>>,
  dirty: Set<number>,
  items: Iterable<T>,
  id: (t: T) => number,
  sig: (t: T) => string,
  what: string,
): void {
  const next = new Map<number, Keyed<T>>();
  for (const item of items) {
    const k = id(item);
    if (next.has(k)) throw new Error(`${what} ${k} given twice`);
    next.set(k, { item, sig: sig(item) });
  }
  for (const [k, e] of next) {
    if (desired.get(k)?.sig !== e.sig) {
      desired.set(k, e);
      dirty.add(k);
    }
  }
  for (const k of desired.keys()) {
    if (!next.has(k)) {
      desired.delete(k);
      dirty.add(k);
    }
  }
}

/** Puts some items and removes some ids, all or nothing: every put item is encoded first. */
function changeKeyed<T>(
  desired: Map<number, Keyed<T>>,
  dirty: Set<number>,
  put: Iterable<T>,
  remove: Iterable<number>,
  id: (t: T) => number,
  sig: (t: T) => string,
  what: string,
): void {
  const next = new Map<number, Keyed<T>>();
  for (const item of put) {
    const k = id(item);
    if (next.has(k)) throw new Error(`${what} ${k} given twice`);
    next.set(k, { item, sig: sig(item) });
  }
  for (const k of remove) {
    if (next.has(k)) continue;
    if (desired.delete(k)) dirty.add(k);
  }
  for (const [k, e] of next) {
    if (desired.get(k)?.sig !== e.sig) {
      desired.set(k, e);
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

interface Plan<T> {
  adds: FlowModInput[];
  dels: FlowModInput[];
  changes: [number, Keyed<T> | undefined][];
}

function planMeters(
  desired: Map<number, Keyed<Meter>>,
  installed: Map<number, Keyed<Meter>>,
  dirty: number[],
): Plan<Meter> {
  const plan: Plan<Meter> = { adds: [], dels: [], changes: [] };
  plan.changes = diffKeyed(desired, installed, dirty, (meterId, want, have) => {
    if (want) {
      const command = have ? MeterModCommand.MODIFY : MeterModCommand.ADD;
      plan.adds.push({ type: 'meterMod', xid: 0, command, ...want.item });
    } else {
      plan.dels.push({
        type: 'meterMod',
        xid: 0,
        command: MeterModCommand.DELETE,
        flags: 0,
        meterId,
        bands: [],
      });
    }
  });
  return plan;
}

function planGroups(
  desired: Map<number, Keyed<Group>>,
  installed: Map<number, Keyed<Group>>,
  dirty: number[],
): Plan<Group> {
  const plan: Plan<Group> = { adds: [], dels: [], changes: [] };
  plan.changes = diffKeyed(desired, installed, dirty, (groupId, want, have) => {
    if (want) {
      const command = have ? GroupModCommand.MODIFY : GroupModCommand.ADD;
      plan.adds.push({ type: 'groupMod', xid: 0, command, ...want.item });
    } else {
      plan.dels.push({
        type: 'groupMod',
        xid: 0,
        command: GroupModCommand.DELETE,
        groupType: 0,
        groupId,
        buckets: [],
      });
    }
  });
  return plan;
}

function duplicate(e: FlowEntry): Error {
  return new Error(`flow: table ${e.flow.tableId} priority ${e.flow.priority}: the same match twice`);
}

/** Encodes every flow first, so that a bad one throws before anything changes. */
function entriesOf(flows: Iterable<Flow>): FlowEntry[] {
  const entries: FlowEntry[] = [];
  const seen = new FlowIndex();
  for (const f of flows) {
    const e = encodeEntry(f);
    if (seen.set({ ...e, next: undefined })) throw duplicate(e);
    entries.push(e);
  }
  return entries;
}

function indexOf(flows: Iterable<Flow>): FlowIndex {
  const index = new FlowIndex();
  for (const f of flows) {
    const e = encodeEntry(f);
    if (index.set(e)) throw duplicate(e);
  }
  return index;
}
