// Owns one host's datapath as netplugin runs it: registers the host in the store, follows the
// intent there, keeps the bridge's tunnel and uplink ports, compiles the intent for this host and
// keeps the switch's flows equal to it. Endpoints are plugged in and out through it.
// It never decides flows itself (features do) nor allocates addresses (netmaster does).

import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { type ApplyStats, FlowTableManager } from '../../controller/flowtable/manager.js';
import type { PacketIn } from '../../controller/openflow/messages.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import { SwitchClient } from '../../controller/switch/endpoint.js';
import { Compilation } from '../../policy/compiler/compile.js';
import { diffIntent, hostFactsChange, type IntentChange } from '../../policy/compiler/diff.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import { INTENT_PREFIXES, intentFromStore } from '../../policy/compiler/from-store.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import type { HostFacts, Intent } from '../../policy/compiler/intent.js';
import { type BgpOperRecord, bgpOperKey, type HostRecord, hostKey } from '../../policy/model/endpoint.js';
import type { BgpConfig as BgpObject } from '../../policy/model/generated.js';
import type { Lease, Store, Watcher } from '../../state/store.js';
import { BgpHook, ROUTER_PORT_NAME } from '../bgp/hook.js';
import { BULK_PATHS } from '../bgp/speaker.js';
import {
  configureInterface,
  ensureHostNat,
  linkExists,
  macFromIpv4,
  type NetnsRef,
  removeHostNat,
  runHost,
  setTxOffload,
} from '../host/index.js';
import { HOST_PORT_NAME, hostPortAddress, hostPortMac } from '../pipeline/hostaccess.js';
import { applyDelta } from '../pipeline/index.js';
import type { PortInfo, PortSpec, VSwitch } from '../vswitch.js';

/** external_ids of our ports: which endpoint or remote host a port is for. */
export const EXT_ENDPOINT = 'contiv-endpoint';
export const EXT_REMOTE_HOST = 'contiv-remote-host';
export const EXT_ROLE = 'contiv-role';
/** EXT_ROLE of a port plugged ahead of use (see api/docker/veth-pool.ts). */
export const ROLE_SPARE = 'spare';
/** The host port's address, so facts read back from OVS say it (and a new address replaces the port). */
export const EXT_HOST_IP = 'contiv-host-ip';
/** The BGP router port's address (a.b.c.d/n): a new address replaces the port. */
export const EXT_ROUTER_IP = 'contiv-router-ip';
/** gobgpd's pidfile, log and API socket unless told otherwise. */
export const DEFAULT_BGP_STATE_DIR = '/var/run/contiv-ts';
/** Where the intent keeps the Bgp objects, keyed by host name. */
const BGP_CONFIG_PREFIX = '/contiv.io/config/Bgp/';

export interface AgentOptions {
  store: Store;
  host: HostRecord;
  vswitch: VSwitch;
  /** OpenFlow target of the bridge, e.g. "unix:/run/openvswitch/contivbr.mgmt". */
  switchTarget: string;
  features: readonly PipelineFeature[];
  logger: Logger;
  /** TTL of the host record's lease: the host disappears from the others' view this long after dying. */
  hostTtlSec?: number;
  /** Batch store events arriving within this many ms into one compile (default 10). */
  settleMs?: number;
  /** Where the host port's device lives: the host's namespace (tests: the one ovs-vswitchd runs in). */
  hostNetns?: NetnsRef;
  /** gobgpd's pidfile, log and default API socket (default /var/run/contiv-ts). */
  bgpStateDir?: string;
  /** gobgpd's gRPC listen address, unix:///PATH or HOST:PORT (default unix://<bgpStateDir>/gobgpd.sock). */
  bgpApi?: string;
}

export interface AgentEvents {
  /** The switch (re)connected and now holds the desired state; what that took. */
  attached: [ApplyStats];
  /** A packet the pipeline sent to the controller (the DNS punt, say), and the session to answer on. */
  packetIn: [PacketIn, SwitchConnection];
  /** A reconcile finished: the switch (if connected) holds the compiled state. */
  converged: [{ flows: number; owners: number; ms: number }];
  error: [Error];
}

/** Tunnel port name for a remote VTEP: "vx" + the address in hex (fits IFNAMSIZ). */
export function tunnelPortName(vtepIP: string): string {
  return `vx${vtepIP
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')}`;
}

export class HostAgent extends EventEmitter<AgentEvents> {
  private readonly kvs = new Map<string, string>();
  private readonly watchers: Watcher[] = [];
  private lease: Lease | undefined;
  private intent: Intent | undefined;
  private compilation: Compilation | undefined;
  private facts: HostFacts;
  private readonly manager = new FlowTableManager();
  private readonly client: SwitchClient;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Newest store revision seen by the watches, and the newest one the switch reflects. */
  private seenRevision = 0;
  private compiledRevision = 0;
  /** The private subnet our MASQUERADE rule is for, once made. */
  private natSubnet: string | undefined;
  private readonly bgp: BgpHook;
  /**
   * This host's Bgp object as last configured (JSON, '' for none), to notice changes; undefined
   * before the first: "none" at start is news too (a gobgpd left running must go).
   */
  private bgpObject: string | undefined;
  /** Learned routes with resolved next hops (prefix → MAC), kept for facts read back from OVS. */
  private bgpRoutes: ReadonlyMap<string, string> = new Map();
  private bgpOperTimer: NodeJS.Timeout | undefined;
  /** Spare ports plugged by this process: attaching one only relabels it. */
  private readonly spares = new Set<string>();

  constructor(private readonly opts: AgentOptions) {
    super();
    this.facts = { name: opts.host.name, endpointPorts: new Map(), tunnelPorts: new Map() };
    this.client = new SwitchClient(opts.switchTarget);
    this.bgp = new BgpHook({
      ...(opts.hostNetns !== undefined ? { netns: opts.hostNetns } : {}),
      stateDir: opts.bgpStateDir ?? DEFAULT_BGP_STATE_DIR,
      ...(opts.bgpApi !== undefined ? { api: opts.bgpApi } : {}),
      logger: opts.logger.child({ part: 'bgp' }),
    });
    this.bgp.on('routes', (routes) => {
      void this.serially(() => this.learnRoutes(routes));
      this.writeBgpOper();
    });
    this.bgp.on('status', () => this.writeBgpOper());
    this.client.on('connected', (conn) => {
      conn.on('packetIn', (pin) => this.emit('packetIn', pin, conn));
      this.manager.attach(conn).then(
        (s) => {
          opts.logger.info(
            { added: s.flowsAdded, modified: s.flowsModified, deleted: s.flowsDeleted, ms: Math.round(s.ms) },
            'switch attached',
          );
          this.emit('attached', s);
        },
        (err: Error) => this.fail(err),
      );
    });
    this.client.on('disconnected', (err) => opts.logger.warn({ err: err?.message }, 'switch disconnected'));
  }

  get hostFacts(): HostFacts {
    return this.facts;
  }

  /** The tenant whose VRF id this is, in the intent as compiled. */
  tenantOfVrf(vrf: number): string | undefined {
    for (const t of this.compilation?.ix.tenants.values() ?? []) if (t.id === vrf) return t.name;
    return undefined;
  }

  /** The BGP hook (status, speaker), for inspection and tests. */
  get bgpHook(): BgpHook {
    return this.bgp;
  }

  /** The store revision up to which intent has been compiled and applied (0 before any event). */
  get appliedRevision(): number {
    return this.compiledRevision;
  }

  get flowManager(): FlowTableManager {
    return this.manager;
  }

  /** Registers the host, loads and compiles the intent, connects to the switch. */
  async start(): Promise<void> {
    const { store, vswitch, host } = this.opts;
    await vswitch.ensureBridge();
    this.lease = await store.grantLease(this.opts.hostTtlSec ?? 10);
    this.lease.onLost((err) => this.fail(new Error(`host record lease lost: ${err.message}`)));
    await store.put(hostKey(host.name), JSON.stringify(host), { lease: this.lease.id });
    const rev = await store.revision();
    for (const prefix of INTENT_PREFIXES) {
      for (const kv of await store.list(prefix)) this.kvs.set(kv.key, kv.value);
    }
    for (const prefix of INTENT_PREFIXES) {
      this.watchers.push(
        await store.watch(
          prefix,
          (e) => {
            if (e.type === 'put' && e.value !== undefined) this.kvs.set(e.key, e.value);
            else this.kvs.delete(e.key);
            if (e.revision > this.seenRevision) this.seenRevision = e.revision;
            this.schedule();
          },
          {
            fromRevision: rev + 1,
            onError: (err) => this.fail(new Error(`store watch on ${prefix} ended: ${err.message}`)),
          },
        ),
      );
    }
    const intent = intentFromStore(this.kvEntries());
    this.configureBgp();
    await this.syncPorts(intent);
    this.intent = intent;
    this.compilation = new Compilation(intent, this.facts, this.opts.features);
    const state = this.compilation.state();
    this.manager.setFlows(state.flows);
    this.manager.setGroups(state.groups);
    this.manager.setMeters(state.meters);
    // The listing's revision is compiled; events after it arrive through the watches.
    this.compiledRevision = rev;
    this.client.start();
    this.bgp.announce(intent, host.name);
    this.opts.logger.info({ flows: state.flows.length, host: host.name }, 'agent started');
  }

  /**
   * stopGobgpd: gobgpd ends with the agent (the ToR withdraws this host's routes); by default it
   * stays and the next agent adopts it, so a netplugin restart does not flap the ToR's routes.
   */
  async stop(opts: { stopGobgpd?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.bgpOperTimer);
    await this.running;
    for (const w of this.watchers.splice(0)) await w.close();
    this.client.stop();
    await this.bgp.stop({ stopGobgpd: opts.stopGobgpd === true });
    await this.lease?.revoke().catch(() => undefined);
  }

  /** Plugs a local endpoint's host-side interface into the bridge; its flows follow. */
  async attachEndpoint(endpointId: string, ifName: string): Promise<number> {
    const externalIds = { [EXT_ENDPOINT]: endpointId };
    const ofport = this.spares.delete(ifName)
      ? await this.opts.vswitch.relabelPort(ifName, { [EXT_ROLE]: ROLE_SPARE }, externalIds)
      : await this.opts.vswitch.addPort({ name: ifName, kind: 'system', externalIds });
    await this.serially(async () => {
      const ports = new Map(this.facts.endpointPorts);
      ports.set(endpointId, ofport);
      await this.applyChanges([hostFactsChangeFor({ ...this.facts, endpointPorts: ports }, endpointId)]);
    });
    await this.endpointCompiled(endpointId);
    return ofport;
  }

  /**
   * Waits until the endpoint's record (written by netmaster before the runtime plugs the container
   * in) has come through the store watch and its flows are on the switch, so the container's first
   * packets meet them. Bounded: a record that does not come is logged, not waited for forever.
   */
  private async endpointCompiled(endpointId: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stopped && !this.compilation?.ix.endpoints.has(endpointId)) {
      if (Date.now() > deadline) {
        this.opts.logger.warn(
          { endpoint: endpointId },
          'plugged before its record arrived; its flows follow the record',
        );
        return;
      }
      if (this.timer) {
        // Store events are waiting out the settle delay (the record among them, usually): a Join
        // waiting on them is reason enough to compile them now.
        clearTimeout(this.timer);
        this.timer = undefined;
        await this.serially(() => this.reconcile());
        continue;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await this.running;
  }

  /**
   * Unplugs a local endpoint's interface; idempotent. Resolves once its flows are off the switch and
   * OVSDB no longer has the port: ovs-vswitchd's own reconfiguration is not waited for (nothing
   * depends on it, and it costs every container's teardown ~30 ms).
   */
  async detachEndpoint(endpointId: string, ifName: string): Promise<void> {
    await this.serially(async () => {
      if (!this.facts.endpointPorts.has(endpointId)) return;
      const ports = new Map(this.facts.endpointPorts);
      ports.delete(endpointId);
      await this.applyChanges([hostFactsChangeFor({ ...this.facts, endpointPorts: ports }, endpointId)]);
    });
    await this.opts.vswitch.removePorts([ifName], { applied: false });
  }

  /** Plugs host ends no endpoint has yet (the Docker driver's spare veths): role "spare", no flows. */
  async plugSpares(ifNames: readonly string[]): Promise<void> {
    await this.opts.vswitch.addPorts(
      ifNames.map((name) => ({ name, kind: 'system', externalIds: { [EXT_ROLE]: ROLE_SPARE } })),
    );
    for (const n of ifNames) this.spares.add(n);
  }

  /** Unplugs spares; a name that is not a spare port (an endpoint took it, say) is left alone. */
  async unplugSpares(ifNames: readonly string[]): Promise<void> {
    const wanted = new Set(ifNames);
    const spares = (await this.opts.vswitch.ports())
      .filter((p) => p.ours && wanted.has(p.name) && p.externalIds[EXT_ROLE] === ROLE_SPARE)
      .map((p) => p.name);
    await this.opts.vswitch.removePorts(spares, { applied: false });
    for (const n of ifNames) this.spares.delete(n);
  }

  /** The ports plugged for endpoints (endpoint id → interface) and the spares. */
  async pluggedPorts(): Promise<{ endpoints: Map<string, string>; spares: string[] }> {
    const endpoints = new Map<string, string>();
    const spares: string[] = [];
    for (const p of await this.opts.vswitch.ports()) {
      if (!p.ours) continue;
      const ep = p.externalIds[EXT_ENDPOINT];
      if (ep !== undefined) endpoints.set(ep, p.name);
      else if (p.externalIds[EXT_ROLE] === ROLE_SPARE) spares.push(p.name);
    }
    return { endpoints, spares };
  }

  private kvEntries(): { key: string; value: string }[] {
    return [...this.kvs].map(([key, value]) => ({ key, value }));
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.serially(() => this.reconcile());
    }, this.opts.settleMs ?? 10);
  }

  private serially(fn: () => Promise<void>): Promise<void> {
    const next = this.running.then(fn).catch((err: Error) => this.fail(err));
    this.running = next;
    return next;
  }

  private async reconcile(): Promise<void> {
    if (!this.intent || !this.compilation) return;
    const t0 = performance.now();
    const upTo = this.seenRevision;
    try {
      await this.reconcileIntent(t0);
    } finally {
      this.compiledRevision = Math.max(this.compiledRevision, upTo);
    }
  }

  private async reconcileIntent(t0: number): Promise<void> {
    if (!this.intent || !this.compilation) return;
    const next = intentFromStore(this.kvEntries());
    const changes = diffIntent(this.intent, next);
    const routerChanged = this.configureBgp();
    if (changes.length === 0 && !routerChanged) return;
    const factsBefore = this.facts;
    // Hosts make tunnels; the private subnet (global) makes the host port's address; the Bgp
    // object the router port.
    // The session must end (NOTIFICATION sent) before its port goes, or the ToR keeps our routes
    // until its hold timer expires.
    if (routerChanged) await this.bgp.settled();
    if (routerChanged || changes.some((c) => c.change.kind === 'host' || c.change.kind === 'global'))
      await this.syncPorts(next);
    if (this.facts !== factsBefore) changes.push(hostFactsChange(this.facts));
    this.intent = next;
    // Announced as the records join, before they are compiled and their flows reach the switch:
    // the ports follow the records anyway. A burst (thousands of endpoints at once) is handed to
    // gobgpd before the compile holds the event loop for a while; bounded, so a hung gobgpd
    // cannot hold the datapath up.
    if (this.bgp.announce(next, this.opts.host.name) >= BULK_PATHS) {
      let timer: NodeJS.Timeout | undefined;
      const cap = new Promise((r) => {
        timer = setTimeout(r, 2000);
      });
      await Promise.race([this.bgp.settled(), cap]);
      clearTimeout(timer);
    }
    const owners = await this.applyChanges(changes);
    this.emit('converged', { flows: this.manager.desiredCount, owners, ms: performance.now() - t0 });
  }

  /** Feeds changes to the compilation and their delta to the switch as one bundle. */
  private async applyChanges(changes: IntentChange[]): Promise<number> {
    const c = this.compilation;
    if (!c) return 0;
    const delta = c.changeAll(
      changes.map((ch) => ({
        change: ch.change,
        mutate: (ix: IntentIndex) => {
          const before = ch.mutate(ix);
          this.facts = ix.host;
          return before;
        },
      })),
    );
    await applyDelta(this.manager, delta);
    return delta.owners;
  }

  /** Feeds this host's Bgp object to the hook; true when the router port's address changed. */
  private configureBgp(): boolean {
    const raw = this.kvs.get(BGP_CONFIG_PREFIX + this.opts.host.name) ?? '';
    if (raw === this.bgpObject) return false;
    this.bgpObject = raw;
    let obj: BgpObject | undefined;
    try {
      obj = raw ? (JSON.parse(raw) as BgpObject) : undefined;
    } catch {
      obj = undefined;
    }
    return this.bgp.configure(obj);
  }

  /**
   * The speaker's state as `netctl bgp inspect` shows it: written under the host's lease (so it
   * goes with the agent), at most every 100 ms.
   */
  private writeBgpOper(): void {
    const lease = this.lease;
    if (this.stopped || this.bgpOperTimer || !lease) return;
    this.bgpOperTimer = setTimeout(() => {
      this.bgpOperTimer = undefined;
      const s = this.bgp.status();
      const rec: BgpOperRecord = {
        neighborStatus: s.session,
        adminStatus: s.admin,
        neighbor: s.neighbor,
        numRoutes: s.received.length,
        routes: s.received,
        announced: s.sent,
        problem: s.problem,
      };
      const key = bgpOperKey(this.opts.host.name);
      const write = this.bgpObject
        ? this.opts.store.put(key, JSON.stringify(rec), { lease: lease.id })
        : this.opts.store.delete(key);
      write.catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'bgp oper record'));
    }, 100);
  }

  /** Learned routes (resolved) into the facts and the flows: one change for the prefixes that moved. */
  private async learnRoutes(routes: ReadonlyMap<string, string>): Promise<void> {
    const old = this.bgpRoutes;
    this.bgpRoutes = routes;
    if (!this.facts.bgp) return;
    const prefixes: string[] = [];
    for (const [p, mac] of routes) if (old.get(p) !== mac) prefixes.push(p);
    for (const p of old.keys()) if (!routes.has(p)) prefixes.push(p);
    if (prefixes.length === 0) return;
    await this.applyChanges([
      {
        change: { kind: 'bgpRoutes', prefixes },
        mutate: (ix) => {
          const before = ix.host;
          if (before.bgp) ix.host = { ...before, bgp: { ...before.bgp, routes } };
          return before;
        },
      },
    ]);
  }

  /**
   * Makes the bridge's tunnel ports match the other hosts in the intent and reads back which
   * port is what. Endpoint ports are found by their external_ids, so a restart finds them again.
   */
  private async syncPorts(intent: Intent): Promise<void> {
    const { vswitch, host } = this.opts;
    const ports = await vswitch.ports();
    const wanted = new Map<string, PortSpec>();
    for (const h of intent.hosts) {
      if (h.name === host.name || !h.vtepIP) continue;
      const name = tunnelPortName(h.vtepIP);
      wanted.set(name, {
        name,
        kind: 'vxlan',
        remoteIp: h.vtepIP,
        key: 'flow',
        externalIds: { [EXT_REMOTE_HOST]: h.name, [EXT_ROLE]: 'tunnel' },
      });
    }
    for (const uplink of host.uplinks) {
      wanted.set(uplink, { name: uplink, kind: 'system', externalIds: { [EXT_ROLE]: 'uplink' } });
    }
    const router = this.bgp.routerAddress;
    const routerCidr = router ? `${router.ip}/${router.prefixLen}` : undefined;
    if (routerCidr) {
      wanted.set(ROUTER_PORT_NAME, {
        name: ROUTER_PORT_NAME,
        kind: 'internal',
        externalIds: { [EXT_ROLE]: 'router', [EXT_ROUTER_IP]: routerCidr },
      });
    }
    const hostIp = hostPortAddress(intent.global.pvtSubnet);
    if (hostIp) {
      wanted.set(HOST_PORT_NAME, {
        name: HOST_PORT_NAME,
        kind: 'internal',
        externalIds: { [EXT_ROLE]: 'hostport', [EXT_HOST_IP]: hostIp },
      });
    }
    const present = new Map(ports.map((p) => [p.name, p]));
    const roles = ['tunnel', 'uplink', 'hostport', 'router'];
    const stale = ports
      .filter((p) => p.ours && roles.includes(p.externalIds[EXT_ROLE] ?? ''))
      .filter((p) => {
        const w = wanted.get(p.name);
        return (
          !w ||
          w.remoteIp !== (p.options.remote_ip ?? undefined) ||
          w.externalIds?.[EXT_HOST_IP] !== p.externalIds[EXT_HOST_IP] ||
          w.externalIds?.[EXT_ROUTER_IP] !== p.externalIds[EXT_ROUTER_IP]
        );
      })
      .map((p) => p.name);
    if (stale.length > 0) await vswitch.removePorts(stale);
    const missing = [...wanted.values()].filter((s) => !present.has(s.name) || stale.includes(s.name));
    if (missing.length > 0) await vswitch.addPorts(missing);
    if (this.natSubnet !== undefined && this.natSubnet !== (hostIp && intent.global.pvtSubnet)) {
      await removeHostNat(this.opts.hostNetns, this.natSubnet, HOST_PORT_NAME);
      this.natSubnet = undefined;
    }
    if (hostIp) await this.configureHostSide(intent.global.pvtSubnet, hostIp);
    if (router && routerCidr && (await linkExists(ROUTER_PORT_NAME, this.opts.hostNetns))) {
      // With the userspace datapath the kernel still sees the uplink's frames and, by default,
      // answers ARP for the router IP there too, with the uplink's MAC: the ToR would then send
      // to a MAC no flow takes in. Only the router port may answer, so this comes first.
      for (const uplink of host.uplinks) {
        await runHost(this.opts.hostNetns, 'sysctl', [
          '-q',
          '-w',
          `net.ipv4.conf.${uplink}.arp_ignore=1`,
        ]).catch((err: Error) => this.opts.logger.warn({ err: err.message, uplink }, 'bgp: arp_ignore'));
      }
      await configureInterface({
        ...(this.opts.hostNetns !== undefined ? { netns: this.opts.hostNetns } : {}),
        ifName: ROUTER_PORT_NAME,
        mac: macFromIpv4(router.ip),
        addresses: [routerCidr],
        up: true,
      });
      // The userspace datapath forwards the kernel's partial checksums as they are: the BGP
      // session's TCP would reach the ToR unusable.
      await setTxOffload(ROUTER_PORT_NAME, false, this.opts.hostNetns);
    }
    const facts = factsFrom(
      host.name,
      stale.length || missing.length ? await vswitch.ports() : ports,
      host.uplinks,
      this.bgpRoutes,
    );
    if (JSON.stringify(serializeFacts(facts)) !== JSON.stringify(serializeFacts(this.facts)))
      this.facts = facts;
  }

  /** The host port's address and MAC in the host namespace, and the kernel's NAT onwards. */
  private async configureHostSide(pvtSubnet: string, ip: string): Promise<void> {
    const netns = this.opts.hostNetns;
    // The dummy datapath (tests) makes no kernel device: the flows are all there is.
    if (!(await linkExists(HOST_PORT_NAME, netns))) return;
    const ns = netns === undefined ? {} : { netns };
    await configureInterface({
      ...ns,
      ifName: HOST_PORT_NAME,
      mac: hostPortMac(ip),
      addresses: [`${ip}/16`],
      up: true,
    });
    await ensureHostNat(netns, pvtSubnet, HOST_PORT_NAME);
    this.natSubnet = pvtSubnet;
  }

  private fail(err: Error): void {
    this.opts.logger.error({ err: err.message }, 'agent error');
    this.emit('error', err);
  }
}

function hostFactsChangeFor(facts: HostFacts, endpointId: string): IntentChange {
  // Plugging one endpoint changes only that endpoint's flows: tell the features so.
  const c = hostFactsChange(facts);
  return { change: { kind: 'endpoint', id: endpointId }, mutate: c.mutate };
}

export function factsFrom(
  name: string,
  ports: readonly PortInfo[],
  uplinks: readonly string[],
  bgpRoutes: ReadonlyMap<string, string> = new Map(),
): HostFacts {
  const endpointPorts = new Map<string, number>();
  const tunnelPorts = new Map<string, number>();
  let uplinkPort: number | undefined;
  let hostPort: HostFacts['hostPort'];
  let bgp: HostFacts['bgp'];
  for (const p of ports) {
    if (p.ofport === undefined || p.ofport < 0) continue;
    const ep = p.externalIds[EXT_ENDPOINT];
    const remote = p.externalIds[EXT_REMOTE_HOST];
    const hostIp = p.externalIds[EXT_ROLE] === 'hostport' ? p.externalIds[EXT_HOST_IP] : undefined;
    const routerIp = p.externalIds[EXT_ROLE] === 'router' ? p.externalIds[EXT_ROUTER_IP] : undefined;
    if (ep) endpointPorts.set(ep, p.ofport);
    else if (remote) tunnelPorts.set(remote, p.ofport);
    else if (hostIp) hostPort = { ofport: p.ofport, ip: hostIp, mac: hostPortMac(hostIp) };
    else if (routerIp)
      bgp = {
        routerPort: p.ofport,
        routerMac: macFromIpv4(routerIp.split('/')[0] as string),
        routes: bgpRoutes,
      };
    else if (uplinks.includes(p.name) && uplinkPort === undefined) uplinkPort = p.ofport;
  }
  return {
    name,
    endpointPorts,
    tunnelPorts,
    ...(uplinkPort !== undefined ? { uplinkPort } : {}),
    ...(hostPort ? { hostPort } : {}),
    ...(bgp ? { bgp } : {}),
  };
}

function serializeFacts(f: HostFacts): unknown {
  return {
    ...f,
    endpointPorts: [...f.endpointPorts].sort(),
    tunnelPorts: [...f.tunnelPorts].sort(),
    bgp: f.bgp ? { ...f.bgp, routes: [...f.bgp.routes].sort() } : undefined,
  };
}
