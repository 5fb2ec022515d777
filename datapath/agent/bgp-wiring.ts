// Owns the agent's side of routing mode's BGP hook: this host's Bgp object fed to it from the
// intent, the learned routes kept for the facts, the router port's device in the host namespace,
// and the speaker's state written to the store for `netctl bgp inspect`. The hook itself
// (gobgpd, announcements, next hops) is datapath/bgp's.

import type { Logger } from 'pino';
import { macFromIPv4 } from '../../policy/ipam/addr.js';
import { type BgpOperRecord, bgpOperKey, type HostRecord } from '../../policy/model/endpoint.js';
import type { BgpConfig as BgpObject } from '../../policy/model/generated.js';
import type { Store } from '../../state/store.js';
import { BgpHook, ROUTER_PORT_NAME, type RouterAddress } from '../bgp/hook.js';
import { configureInterface, linkExists, type NetnsRef, runHost, setTxOffload } from '../host/index.js';

/** gobgpd's pidfile, log and API socket unless told otherwise. */
export const DEFAULT_BGP_STATE_DIR = '/var/run/contiv-ts';
/** Where the intent keeps the Bgp objects, keyed by host name. */
const BGP_CONFIG_PREFIX = '/contiv.io/config/Bgp/';

export interface BgpWiringOptions {
  store: Store;
  host: HostRecord;
  logger: Logger;
  hostNetns?: NetnsRef;
  stateDir: string;
  api?: string;
  /** The intent's keys as the store holds them. */
  intent: { get(key: string): string | undefined };
  /** The host lease's id once there is one: the oper record goes with the agent. */
  leaseId: () => string | undefined;
  /** gobgpd's learned routes (prefix → next hop MAC) changed. */
  onRoutes: (routes: ReadonlyMap<string, string>) => void;
}

export class BgpWiring {
  readonly hook: BgpHook;
  /**
   * This host's Bgp object as last configured (JSON, '' for none), to notice changes; undefined
   * before the first: "none" at start is news too (a gobgpd left running must go).
   */
  private bgpObject: string | undefined;
  /** Learned routes with resolved next hops (prefix → MAC), kept for facts read back from OVS. */
  private bgpRoutes: ReadonlyMap<string, string> = new Map();
  private operTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: BgpWiringOptions) {
    this.hook = new BgpHook({
      ...(opts.hostNetns !== undefined ? { netns: opts.hostNetns } : {}),
      stateDir: opts.stateDir,
      ...(opts.api !== undefined ? { api: opts.api } : {}),
      logger: opts.logger.child({ part: 'bgp' }),
    });
    this.hook.on('routes', (routes) => {
      opts.onRoutes(routes);
      this.writeOper();
    });
    this.hook.on('status', () => this.writeOper());
  }

  /** The router port's address while a usable Bgp object exists. */
  get routerAddress(): RouterAddress | undefined {
    return this.hook.routerAddress;
  }

  /** Learned routes as last taken in (see learn). */
  get routes(): ReadonlyMap<string, string> {
    return this.bgpRoutes;
  }

  /** Feeds this host's Bgp object to the hook; true when the router port's address changed. */
  configure(): boolean {
    const raw = this.opts.intent.get(BGP_CONFIG_PREFIX + this.opts.host.name) ?? '';
    if (raw === this.bgpObject) return false;
    this.bgpObject = raw;
    let obj: BgpObject | undefined;
    try {
      obj = raw ? (JSON.parse(raw) as BgpObject) : undefined;
    } catch {
      obj = undefined;
    }
    return this.hook.configure(obj);
  }

  /** Takes in learned routes; returns the prefixes whose next hop moved (or that came or went). */
  learn(routes: ReadonlyMap<string, string>): string[] {
    const old = this.bgpRoutes;
    this.bgpRoutes = routes;
    const prefixes: string[] = [];
    for (const [p, mac] of routes) if (old.get(p) !== mac) prefixes.push(p);
    for (const p of old.keys()) if (!routes.has(p)) prefixes.push(p);
    return prefixes;
  }

  /** The router port's device in the host namespace (cidr: its address as a.b.c.d/n), if it has one. */
  async configureRouterDevice(router: RouterAddress, cidr: string): Promise<void> {
    const { hostNetns, host, logger } = this.opts;
    if (!(await linkExists(ROUTER_PORT_NAME, hostNetns))) return;
    // With the userspace datapath the kernel still sees the uplink's frames and, by default,
    // answers ARP for the router IP there too, with the uplink's MAC: the ToR would then send
    // to a MAC no flow takes in. Only the router port may answer, so this comes first.
    for (const uplink of host.uplinks) {
      await runHost(hostNetns, 'sysctl', ['-q', '-w', `net.ipv4.conf.${uplink}.arp_ignore=1`]).catch(
        (err: Error) => logger.warn({ err: err.message, uplink }, 'bgp: arp_ignore'),
      );
    }
    await configureInterface({
      ...(hostNetns !== undefined ? { netns: hostNetns } : {}),
      ifName: ROUTER_PORT_NAME,
      mac: macFromIPv4(router.ip),
      addresses: [cidr],
      up: true,
    });
    // The userspace datapath forwards the kernel's partial checksums as they are: the BGP
    // session's TCP would reach the ToR unusable.
    await setTxOffload(ROUTER_PORT_NAME, false, hostNetns);
  }

  /** No more oper records (the agent is stopping). */
  quiet(): void {
    this.stopped = true;
    clearTimeout(this.operTimer);
  }

  async stop(opts: { stopGobgpd: boolean }): Promise<void> {
    await this.hook.stop(opts);
  }

  /**
   * The speaker's state as `netctl bgp inspect` shows it: written under the host's lease (so it
   * goes with the agent), at most every 100 ms.
   */
  private writeOper(): void {
    const leaseId = this.opts.leaseId();
    if (this.stopped || this.operTimer || leaseId === undefined) return;
    this.operTimer = setTimeout(() => {
      this.operTimer = undefined;
      const s = this.hook.status();
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
        ? this.opts.store.put(key, JSON.stringify(rec), { lease: leaseId })
        : this.opts.store.delete(key);
      write.catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'bgp oper record'));
    }, 100);
  }
}
