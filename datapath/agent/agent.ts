// Owns one host's datapath as netplugin runs it: the composition of its jobs, started and stopped
// in order — the host record under a lease (host-lease.ts), the intent followed from the store
// (intent-watch.ts), the bridge's host ports (port-sync.ts, host-nat.ts), the BGP hook's wiring
// (bgp-wiring.ts), the compile loop keeping the switch's flows equal to the intent
// (compile-loop.ts) over the OpenFlow session (switch-session.ts), and endpoints and spares
// plugged in and out (endpoint-ports.ts). It never decides flows itself (features do) nor
// allocates addresses (netmaster does).

import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { type ApplyStats, FlowTableManager } from '../../controller/flowtable/manager.js';
import type { PacketIn } from '../../controller/openflow/messages.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import type { HostFacts } from '../../policy/compiler/intent.js';
import type { HostRecord } from '../../policy/model/endpoint.js';
import type { Store } from '../../state/store.js';
import type { BgpHook } from '../bgp/hook.js';
import type { NetnsRef } from '../host/index.js';
import type { VSwitch } from '../vswitch.js';
import { BgpWiring, DEFAULT_BGP_STATE_DIR } from './bgp-wiring.js';
import { CompileLoop } from './compile-loop.js';
import { EndpointPorts } from './endpoint-ports.js';
import { HostLease } from './host-lease.js';
import { HostNat } from './host-nat.js';
import { IntentWatch } from './intent-watch.js';
import { PortSync } from './port-sync.js';
import { SwitchSession } from './switch-session.js';
import { tunnelProbe } from './tunnel-probe.js';

export { DEFAULT_BGP_STATE_DIR } from './bgp-wiring.js';
export {
  EXT_ENDPOINT,
  EXT_HOST_IP,
  EXT_REMOTE_HOST,
  EXT_ROLE,
  EXT_ROUTER_IP,
  factsFrom,
  ROLE_SPARE,
  tunnelPortName,
} from './port-labels.js';

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
  /** The UDP port the VXLAN tunnels use (default 4789, the IANA port OVS takes when none is set). */
  vxlanPort?: number;
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

export class HostAgent extends EventEmitter<AgentEvents> {
  private readonly manager = new FlowTableManager();
  private readonly lease: HostLease;
  private readonly watch: IntentWatch;
  private readonly bgp: BgpWiring;
  private readonly loop: CompileLoop;
  private readonly session: SwitchSession;
  private readonly endpoints: EndpointPorts;

  constructor(private readonly opts: AgentOptions) {
    super();
    const fail = (err: Error) => this.fail(err);
    this.lease = new HostLease({
      store: opts.store,
      host: opts.host,
      ttlSec: opts.hostTtlSec ?? 10,
      onLost: fail,
    });
    this.watch = new IntentWatch({ store: opts.store, onChange: () => this.loop.schedule(), onError: fail });
    this.bgp = new BgpWiring({
      store: opts.store,
      host: opts.host,
      logger: opts.logger,
      ...(opts.hostNetns !== undefined ? { hostNetns: opts.hostNetns } : {}),
      stateDir: opts.bgpStateDir ?? DEFAULT_BGP_STATE_DIR,
      ...(opts.bgpApi !== undefined ? { api: opts.bgpApi } : {}),
      intent: this.watch,
      leaseId: () => this.lease.id,
      onRoutes: (routes) => this.loop.routesLearned(routes),
    });
    const ports = new PortSync({
      vswitch: opts.vswitch,
      host: opts.host,
      bgp: this.bgp,
      nat: new HostNat(opts.hostNetns),
      ...(opts.vxlanPort !== undefined ? { vxlanPort: opts.vxlanPort } : {}),
      onTunnelsAdded: (ofports) => this.probeTunnels(ofports),
    });
    this.loop = new CompileLoop({
      hostName: opts.host.name,
      features: opts.features,
      manager: this.manager,
      watch: this.watch,
      bgp: this.bgp,
      ports,
      settleMs: opts.settleMs ?? 10,
      logger: opts.logger,
      onConverged: (c) => this.emit('converged', c),
      fail,
    });
    this.session = new SwitchSession({
      target: opts.switchTarget,
      manager: this.manager,
      logger: opts.logger,
      onAttached: (s) => {
        // Tunnels made before this session (at start, or while OVS was away) are probed now.
        this.probeTunnels([...this.loop.hostFacts.tunnelPorts.values()]);
        this.emit('attached', s);
      },
      onPacketIn: (pin, conn) => this.emit('packetIn', pin, conn),
      fail,
    });
    this.endpoints = new EndpointPorts(opts.vswitch);
  }

  /** Makes OVS resolve the tunnels' remote VTEPs now (tunnel-probe.ts); without a session, later. */
  private probeTunnels(ofports: Iterable<number>): void {
    const conn = this.session.connection;
    if (!conn) return;
    try {
      for (const port of ofports) conn.send(tunnelProbe(port));
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'tunnel probe not sent');
    }
  }

  /** The host record's lease (once started): records that must vanish with this host go under it. */
  get leaseId(): string | undefined {
    return this.lease.id;
  }

  get hostFacts(): HostFacts {
    return this.loop.hostFacts;
  }

  /** The tenant whose VRF id this is, in the intent as compiled. */
  tenantOfVrf(vrf: number): string | undefined {
    return this.loop.tenantOfVrf(vrf);
  }

  /** The BGP hook (status, speaker), for inspection and tests. */
  get bgpHook(): BgpHook {
    return this.bgp.hook;
  }

  /** The store revision up to which intent has been compiled and applied (0 before any event). */
  get appliedRevision(): number {
    return this.loop.appliedRevision;
  }

  get flowManager(): FlowTableManager {
    return this.manager;
  }

  /** Registers the host, loads and compiles the intent, connects to the switch. */
  async start(): Promise<void> {
    const { vswitch, host } = this.opts;
    await vswitch.ensureBridge();
    await this.lease.register();
    const rev = await this.watch.start();
    const { intent, flows } = await this.loop.start(rev);
    this.session.start();
    this.bgp.hook.announce(intent, host.name);
    this.opts.logger.info({ flows, host: host.name }, 'agent started');
  }

  /**
   * stopGobgpd: gobgpd ends with the agent (the ToR withdraws this host's routes); by default it
   * stays and the next agent adopts it, so a netplugin restart does not flap the ToR's routes.
   */
  async stop(opts: { stopGobgpd?: boolean } = {}): Promise<void> {
    this.bgp.quiet();
    await this.loop.stop();
    await this.watch.close();
    this.session.stop();
    await this.bgp.stop({ stopGobgpd: opts.stopGobgpd === true });
    await this.lease.revoke();
  }

  /** Plugs a local endpoint's host-side interface into the bridge; its flows follow. */
  async attachEndpoint(endpointId: string, ifName: string): Promise<number> {
    const ofport = await this.endpoints.plug(endpointId, ifName);
    await this.loop.plugged(endpointId, ofport);
    await this.loop.endpointCompiled(endpointId);
    return ofport;
  }

  /**
   * Unplugs a local endpoint's interface; idempotent. Resolves once its flows are off the switch and
   * OVSDB no longer has the port: ovs-vswitchd's own reconfiguration is not waited for (nothing
   * depends on it, and it costs every container's teardown ~30 ms).
   */
  async detachEndpoint(endpointId: string, ifName: string): Promise<void> {
    await this.loop.unplugged(endpointId);
    await this.endpoints.unplug(ifName);
  }

  /** Plugs host ends no endpoint has yet (the Docker driver's spare veths): role "spare", no flows. */
  async plugSpares(ifNames: readonly string[]): Promise<void> {
    await this.endpoints.plugSpares(ifNames);
  }

  /** Unplugs spares; a name that is not a spare port (an endpoint took it, say) is left alone. */
  async unplugSpares(ifNames: readonly string[]): Promise<void> {
    await this.endpoints.unplugSpares(ifNames);
  }

  /** The ports plugged for endpoints (endpoint id → interface) and the spares. */
  async pluggedPorts(): Promise<{ endpoints: Map<string, string>; spares: string[] }> {
    return this.endpoints.plugged();
  }

  private fail(err: Error): void {
    this.opts.logger.error({ err: err.message }, 'agent error');
    this.emit('error', err);
  }
}
