// Owns this host's Open vSwitch configuration through OVSDB: the integration bridge, its
// controllers, and the ports and tunnels netplugin makes, each change one transaction. It never
// modifies or removes an object whose external_ids do not say it is ours.

import type { OvsdbClient } from './ovsdb/client.js';
import {
  type Atom,
  map,
  mapEntries,
  namedUuid,
  type Operation,
  OvsdbError,
  type Row,
  set,
  setAtoms,
  type TableUpdates,
  uuid,
  uuidOf,
  type Value,
} from './ovsdb/types.js';

const DB = 'Open_vSwitch';
const CFG_TIMEOUT_MS = 30_000;
/** external_ids key that marks what contiv-ts made; its value names the component. */
export const OWNER_KEY = 'contiv-ts';

export interface BridgeConfig {
  /** One integration bridge carries VLAN and VXLAN networks alike (see docs/architecture.md). */
  name: string;
  /** 'netdev' (userspace, here), 'system' (kernel module), 'dummy' (tests). */
  datapathType: string;
  /** Controller targets the bridge connects to (e.g. "tcp:127.0.0.1:6653"); none = we connect to it. */
  controllers?: string[];
  /** Value of our external_ids mark, e.g. "netplugin". */
  owner: string;
}

export type PortKind = 'system' | 'internal' | 'vxlan' | 'dummy';

export interface PortSpec {
  name: string;
  /** system: an existing device (a container's veth, a VLAN uplink); internal: host access, VTEP. */
  kind: PortKind;
  /** Asked for so that a port keeps its number across restarts (flows name it). */
  ofportRequest?: number;
  /** vxlan: the remote VTEP. */
  remoteIp?: string;
  /** vxlan: "flow" (the flows set tun_id) or a fixed VNI. */
  key?: 'flow' | number;
  /** vxlan: the UDP port (absent: OVS's 4789). */
  dstPort?: number;
  /** VLAN uplink: trunk these VLANs (empty: all). */
  trunks?: number[];
  /** Access port: this VLAN tag. */
  tag?: number;
  externalIds?: Record<string, string>;
}

export interface PortInfo {
  name: string;
  /** The Port row's uuid. */
  uuid: string;
  kind: string;
  ofport: number | undefined;
  ours: boolean;
  externalIds: Record<string, string>;
  options: Record<string, string>;
  ofportRequest: number | undefined;
}

/** A request the caller got wrong: names the object and the reason; nothing was changed. */
export class VSwitchError extends Error {
  override readonly name = 'VSwitchError';
}

const NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

function checkName(what: string, name: string): void {
  if (!NAME.test(name)) {
    throw new VSwitchError(`${what} "${name}": 1 to 15 letters, digits or _ . : - (an interface name)`);
  }
}

function toRecord(v: Value | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined) return out;
  for (const [k, val] of mapEntries(v)) out[String(k)] = String(val);
  return out;
}

function optionalInt(v: Value | undefined): number | undefined {
  if (v === undefined) return undefined;
  const atoms = setAtoms(v);
  const first = atoms[0];
  return typeof first === 'number' && first >= 0 ? first : undefined;
}

function interfaceRow(spec: PortSpec, owner: string): Row {
  const options: Record<string, string> = {};
  if (spec.kind === 'vxlan') {
    if (!spec.remoteIp) throw new VSwitchError(`port ${spec.name}: a vxlan port needs remoteIp`);
    options.remote_ip = spec.remoteIp;
    options.key = String(spec.key ?? 'flow');
    if (spec.dstPort !== undefined) options.dst_port = String(spec.dstPort);
  }
  return {
    name: spec.name,
    type: spec.kind === 'system' ? '' : spec.kind,
    options: map(options),
    ofport_request: set(spec.ofportRequest === undefined ? [] : [spec.ofportRequest]),
    external_ids: map({ ...spec.externalIds, [OWNER_KEY]: owner }),
  };
}

function portRow(spec: PortSpec, owner: string, ifaceRef: Atom): Row {
  return {
    name: spec.name,
    interfaces: set([ifaceRef]),
    tag: set(spec.tag === undefined ? [] : [spec.tag]),
    trunks: set(spec.trunks ?? []),
    external_ids: map({ ...spec.externalIds, [OWNER_KEY]: owner }),
  };
}

function validatePort(spec: PortSpec): void {
  checkName('port', spec.name);
  if (
    spec.ofportRequest !== undefined &&
    (!Number.isInteger(spec.ofportRequest) || spec.ofportRequest < 1 || spec.ofportRequest > 65279)
  ) {
    throw new VSwitchError(`port ${spec.name}: ofportRequest ${spec.ofportRequest} is not in 1..65279`);
  }
  if (spec.tag !== undefined && (!Number.isInteger(spec.tag) || spec.tag < 0 || spec.tag > 4095)) {
    throw new VSwitchError(`port ${spec.name}: tag ${spec.tag} is not a VLAN id (0..4095)`);
  }
  for (const t of spec.trunks ?? []) {
    if (!Number.isInteger(t) || t < 0 || t > 4095)
      throw new VSwitchError(`port ${spec.name}: trunk ${t} is not a VLAN id`);
  }
  if (
    spec.kind !== 'vxlan' &&
    (spec.remoteIp !== undefined || spec.key !== undefined || spec.dstPort !== undefined)
  ) {
    throw new VSwitchError(`port ${spec.name}: remoteIp, key and dstPort belong to vxlan ports`);
  }
}

/** Does the port as it exists already say what the spec says? */
function sameAsSpec(p: PortInfo, spec: PortSpec, owner: string): boolean {
  const want = interfaceRow(spec, owner);
  const wantOptions = toRecord(want.options);
  const wantIds = toRecord(want.external_ids);
  const sameMap = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
  return (
    p.kind === want.type &&
    p.ofportRequest === spec.ofportRequest &&
    sameMap(p.options, wantOptions) &&
    sameMap(p.externalIds, wantIds)
  );
}

/**
 * This host's bridge as netplugin sees it. Every method is one OVSDB transaction (plus reads)
 * and waits until ovs-vswitchd has applied it, as ovs-vsctl does, so that ofports are real; only a
 * removal may be told not to wait, and relabelPort changes nothing ovs-vswitchd applies.
 */
export class VSwitch {
  private curCfg = -1;
  private cfgWaiters: { target: number; resolve: () => void }[] = [];
  private cfgMonitor: Promise<unknown> | undefined;

  constructor(
    private readonly client: OvsdbClient,
    readonly config: BridgeConfig,
  ) {
    checkName('bridge', config.name);
  }

  /**
   * Creates the bridge if it is missing, or brings ours back to the configuration: datapath
   * type, fail_mode secure, OpenFlow 1.3, controllers. A bridge of that name that is not ours is
   * an error. Returns whether anything changed.
   */
  async ensureBridge(): Promise<boolean> {
    const [found] = await this.client.transact(DB, [
      { op: 'select', table: 'Bridge', where: [['name', '==', this.config.name]] },
    ]);
    const row = found?.rows?.[0];
    const owner = this.config.owner;
    const controllers = this.config.controllers ?? [];
    const ctlOps: Operation[] = controllers.map((target, i) => ({
      op: 'insert',
      table: 'Controller',
      row: { target, max_backoff: 1000, external_ids: map({ [OWNER_KEY]: owner }) },
      'uuid-name': `ctl${i}`,
    }));
    const ctlRefs = set(controllers.map((_, i) => namedUuid(`ctl${i}`)));
    const settings: Row = {
      datapath_type: this.config.datapathType,
      fail_mode: 'secure',
      protocols: set(['OpenFlow13']),
      other_config: map({ 'disable-in-band': 'true' }),
    };
    if (!row) {
      await this.transactAndWait([
        ...ctlOps,
        {
          op: 'insert',
          table: 'Interface',
          row: { name: this.config.name, type: 'internal', external_ids: map({ [OWNER_KEY]: owner }) },
          'uuid-name': 'brif',
        },
        {
          op: 'insert',
          table: 'Port',
          row: {
            name: this.config.name,
            interfaces: set([namedUuid('brif')]),
            external_ids: map({ [OWNER_KEY]: owner }),
          },
          'uuid-name': 'brport',
        },
        {
          op: 'insert',
          table: 'Bridge',
          row: {
            name: this.config.name,
            ...settings,
            ports: set([namedUuid('brport')]),
            controller: ctlRefs,
            external_ids: map({ [OWNER_KEY]: owner }),
          },
          'uuid-name': 'br',
        },
        {
          op: 'mutate',
          table: 'Open_vSwitch',
          where: [],
          mutations: [['bridges', 'insert', set([namedUuid('br')])]],
        },
      ]);
      return true;
    }
    const ids = toRecord(row.external_ids);
    if (ids[OWNER_KEY] === undefined) {
      throw new VSwitchError(
        `bridge ${this.config.name} exists and is not ours (no external_ids:${OWNER_KEY})`,
      );
    }
    const current = await this.controllerTargets(row);
    const same =
      row.datapath_type === settings.datapath_type &&
      row.fail_mode === 'secure' &&
      setAtoms(row.protocols as Value).join(',') === 'OpenFlow13' &&
      current.join(',') === [...controllers].sort().join(',');
    if (same) return false;
    await this.transactAndWait([
      ...ctlOps,
      {
        op: 'update',
        table: 'Bridge',
        where: [['name', '==', this.config.name]],
        row: { ...settings, controller: ctlRefs },
      },
    ]);
    return true;
  }

  private async controllerTargets(bridge: Row): Promise<string[]> {
    const refs = setAtoms(bridge.controller as Value).map((a) => uuidOf(a as Value));
    if (refs.length === 0) return [];
    const [res] = await this.client.transact(DB, [
      { op: 'select', table: 'Controller', where: [], columns: ['_uuid', 'target'] },
    ]);
    return (res?.rows ?? [])
      .filter((r) => refs.includes(uuidOf(r._uuid as Value)))
      .map((r) => String(r.target))
      .sort();
  }

  /** Every port on the bridge, ours and the user's. */
  async ports(): Promise<PortInfo[]> {
    const [br, ports, ifaces] = await this.client.transact(DB, [
      { op: 'select', table: 'Bridge', where: [['name', '==', this.config.name]], columns: ['ports'] },
      { op: 'select', table: 'Port', where: [], columns: ['_uuid', 'name', 'interfaces', 'external_ids'] },
      {
        op: 'select',
        table: 'Interface',
        where: [],
        columns: ['_uuid', 'name', 'type', 'ofport', 'ofport_request', 'options', 'external_ids'],
      },
    ]);
    const bridge = br?.rows?.[0];
    if (!bridge) throw new VSwitchError(`bridge ${this.config.name} does not exist`);
    const onBridge = new Set(setAtoms(bridge.ports as Value).map((a) => uuidOf(a as Value)));
    const ifaceByUuid = new Map((ifaces?.rows ?? []).map((r) => [uuidOf(r._uuid as Value), r]));
    const out: PortInfo[] = [];
    for (const p of ports?.rows ?? []) {
      if (!onBridge.has(uuidOf(p._uuid as Value))) continue;
      if (p.name === this.config.name) continue; // the bridge's own internal port
      const iface = ifaceByUuid.get(uuidOf(setAtoms(p.interfaces as Value)[0] as Value));
      const externalIds = toRecord(iface?.external_ids);
      out.push({
        name: String(p.name),
        uuid: uuidOf(p._uuid as Value),
        kind: String(iface?.type ?? ''),
        ofport: optionalInt(iface?.ofport),
        ofportRequest: optionalInt(iface?.ofport_request),
        options: toRecord(iface?.options),
        externalIds,
        ours: toRecord(p.external_ids)[OWNER_KEY] !== undefined,
      });
    }
    return out;
  }

  /**
   * Adds ports (or brings ours back to their spec) in one transaction and resolves with their
   * ofports once ovs-vswitchd has them. A port of the same name that is not ours is an error, and
   * nothing is changed.
   */
  async addPorts(specs: readonly PortSpec[]): Promise<Map<string, number>> {
    const names = new Set<string>();
    for (const s of specs) {
      validatePort(s);
      if (names.has(s.name)) throw new VSwitchError(`port ${s.name}: given twice`);
      names.add(s.name);
    }
    const existing = new Map((await this.ports()).map((p) => [p.name, p]));
    const ops: Operation[] = [];
    const refs: Atom[] = [];
    const owner = this.config.owner;
    specs.forEach((spec, i) => {
      const have = existing.get(spec.name);
      if (have && !have.ours) throw new VSwitchError(`port ${spec.name} exists and is not ours`);
      if (have) {
        if (sameAsSpec(have, spec, owner)) return;
        // name is immutable, and the Port keeps its Interface.
        const { name: _i, ...iface } = interfaceRow(spec, owner);
        ops.push({ op: 'update', table: 'Interface', where: [['name', '==', spec.name]], row: iface });
        const { name: _p, interfaces: _keep, ...port } = portRow(spec, owner, namedUuid('unused'));
        ops.push({ op: 'update', table: 'Port', where: [['name', '==', spec.name]], row: port });
        return;
      }
      ops.push({ op: 'insert', table: 'Interface', row: interfaceRow(spec, owner), 'uuid-name': `i${i}` });
      ops.push({
        op: 'insert',
        table: 'Port',
        row: portRow(spec, owner, namedUuid(`i${i}`)),
        'uuid-name': `p${i}`,
      });
      refs.push(namedUuid(`p${i}`));
    });
    if (refs.length > 0) {
      ops.push({
        op: 'mutate',
        table: 'Bridge',
        where: [['name', '==', this.config.name]],
        mutations: [['ports', 'insert', set(refs)]],
      });
    }
    if (ops.length > 0) await this.transactAndWait(ops);
    const ofports = new Map<string, number>();
    for (const p of await this.ports()) {
      if (!names.has(p.name)) continue;
      if (p.ofport === undefined) throw new VSwitchError(`port ${p.name}: ovs-vswitchd gave it no ofport`);
      ofports.set(p.name, p.ofport);
    }
    return ofports;
  }

  async addPort(spec: PortSpec): Promise<number> {
    return (await this.addPorts([spec])).get(spec.name) as number;
  }

  /**
   * Replaces the external_ids of our port `name` whose external_ids hold `expect` (a spare given to
   * an endpoint) and resolves with its ofport: one round trip, and no configuration for
   * ovs-vswitchd to apply or to wait for. A port that is missing, not ours or not labelled as
   * expected is an error, and is left as it was.
   */
  async relabelPort(
    name: string,
    expect: Record<string, string>,
    externalIds: Record<string, string>,
  ): Promise<number> {
    checkName('port', name);
    const owner = this.config.owner;
    const ids = map({ ...externalIds, [OWNER_KEY]: owner });
    const expected = (table: string): Operation => ({
      op: 'wait',
      table,
      where: [
        ['name', '==', name],
        ['external_ids', 'includes', map({ ...expect, [OWNER_KEY]: owner })],
      ],
      columns: ['name'],
      until: '==',
      rows: [{ name }],
      timeout: 0,
    });
    let ofport: number | undefined;
    try {
      // The waits abort the whole transaction unless both rows are as expected.
      const results = await this.client.transact(DB, [
        expected('Interface'),
        expected('Port'),
        { op: 'update', table: 'Interface', where: [['name', '==', name]], row: { external_ids: ids } },
        { op: 'update', table: 'Port', where: [['name', '==', name]], row: { external_ids: ids } },
        { op: 'select', table: 'Interface', where: [['name', '==', name]], columns: ['ofport'] },
      ]);
      ofport = optionalInt(results[4]?.rows?.[0]?.ofport);
    } catch (err) {
      if (!(err instanceof OvsdbError && err.error === 'timed out')) throw err;
    }
    if (ofport === undefined)
      throw new VSwitchError(
        `port ${name}: no port of ours with external_ids ${JSON.stringify(expect)} and an ofport`,
      );
    return ofport;
  }

  /**
   * Removes our ports of these names; a user's port is an error, a missing one is not. With
   * `applied: false` it resolves once OVSDB has committed the removal, without waiting for
   * ovs-vswitchd (~30 ms per reconfiguration here): a removed port has no ofport left to learn.
   */
  async removePorts(names: readonly string[], opts: { applied?: boolean } = {}): Promise<void> {
    const existing = new Map((await this.ports()).map((p) => [p.name, p]));
    const gone: Atom[] = [];
    for (const n of names) {
      const p = existing.get(n);
      if (!p) continue;
      if (!p.ours) throw new VSwitchError(`port ${n} is not ours: not removed`);
      gone.push(uuid(p.uuid));
    }
    if (gone.length === 0) return;
    // Removing the Bridge's reference is enough: Port and Interface are not root tables, so the
    // server deletes rows nothing references any more.
    await this.transactAndWait(
      [
        {
          op: 'mutate',
          table: 'Bridge',
          where: [['name', '==', this.config.name]],
          mutations: [['ports', 'delete', set(gone)]],
        },
      ],
      opts.applied ?? true,
    );
  }

  /**
   * Makes the bridge's ports that are ours exactly `desired`: adds what is missing, fixes what
   * differs, removes our stale ports. The user's ports are never touched. Returns what changed.
   */
  async adopt(desired: readonly PortSpec[]): Promise<{ added: string[]; removed: string[] }> {
    const want = new Set(desired.map((d) => d.name));
    const before = await this.ports();
    const stale = before.filter((p) => p.ours && !want.has(p.name)).map((p) => p.name);
    const added = desired.filter((d) => !before.some((p) => p.name === d.name)).map((d) => d.name);
    await this.addPorts(desired);
    await this.removePorts(stale);
    return { added, removed: stale };
  }

  /** Removes our bridge with all its ports. */
  async removeBridge(): Promise<void> {
    const [found] = await this.client.transact(DB, [
      {
        op: 'select',
        table: 'Bridge',
        where: [['name', '==', this.config.name]],
        columns: ['_uuid', 'external_ids'],
      },
    ]);
    const row = found?.rows?.[0];
    if (!row) return;
    if (toRecord(row.external_ids)[OWNER_KEY] === undefined) {
      throw new VSwitchError(`bridge ${this.config.name} is not ours: not removed`);
    }
    await this.transactAndWait([
      {
        op: 'mutate',
        table: 'Open_vSwitch',
        where: [],
        mutations: [['bridges', 'delete', set([row._uuid as Atom])]],
      },
    ]);
  }

  /**
   * Runs ops plus a next_cfg increment in one transaction, then (unless told not to) waits until
   * ovs-vswitchd reports that configuration (cur_cfg), as ovs-vsctl does.
   */
  private async transactAndWait(ops: Operation[], waitApplied = true): Promise<void> {
    await this.watchCfg();
    const results = await this.client.transact(DB, [
      ...ops,
      { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['next_cfg', '+=', 1]] },
      { op: 'select', table: 'Open_vSwitch', where: [], columns: ['next_cfg'] },
    ]);
    const target = Number(results.at(-1)?.rows?.[0]?.next_cfg);
    if (!waitApplied || this.curCfg >= target) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.cfgWaiters.push({ target, resolve });
        timer = setTimeout(
          () =>
            reject(
              new VSwitchError(
                `ovs-vswitchd did not apply configuration ${target} within ${CFG_TIMEOUT_MS} ms (is it running?)`,
              ),
            ),
          CFG_TIMEOUT_MS,
        );
      });
    } finally {
      clearTimeout(timer);
      this.cfgWaiters = this.cfgWaiters.filter((w) => w.target !== target);
    }
  }

  private watchCfg(): Promise<unknown> {
    this.cfgMonitor ??= this.client.monitor(
      DB,
      { Open_vSwitch: { columns: ['cur_cfg'] } },
      (u: TableUpdates) => {
        for (const row of Object.values(u.Open_vSwitch ?? {})) {
          const cfg = row.new?.cur_cfg;
          if (typeof cfg === 'number') this.curCfg = cfg;
        }
        const ready = this.cfgWaiters.filter((w) => w.target <= this.curCfg);
        this.cfgWaiters = this.cfgWaiters.filter((w) => w.target > this.curCfg);
        for (const w of ready) w.resolve();
      },
    );
    return this.cfgMonitor;
  }
}
