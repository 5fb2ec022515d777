// Owns simulated hosts for multi-host tests: one netns per host with its own OVS, joined by an underlay,
// and containers plugged into a host's OVS with the production plugContainer.
// It must never put an address in the root namespace (the underlay bridge there has none) nor leave a
// namespace, link or daemon behind: everything is registered with the cleanup registry and carries the
// harness name prefix, so the start-up sweep removes a crashed run's leftovers.

import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  configureInterface,
  deleteLink,
  linkExists,
  parseCidr,
  plugContainer,
  setTxOffload,
} from '../../datapath/host/index.js';
import { macFromIPv4 } from '../../policy/ipam/addr.js';
import { type CleanupHandle, onCleanup } from './cleanup.js';
import { uniqueName } from './names.js';
import {
  addNamespace,
  type Container,
  type Listener,
  listenIn,
  type Namespace,
  type NcListener,
  pingFrom,
  tcpConnectFrom,
} from './netns.js';
import { type OvsInstance, startOvs } from './ovs.js';
import { stopPidsSync } from './procs.js';
import { type RunOptions, run, trySync } from './run.js';

export type UnderlayKind = 'bridge' | 'veth';

export interface StartHostsOptions {
  /**
   * 'bridge' (default): a Linux bridge in the root namespace, without an address, one veth per host.
   * 'veth': one veth straight between two host namespaces (exactly two hosts).
   */
  underlay?: UnderlayKind;
  /** Third octet of the underlay subnet 192.168.<subnet>.0/24 (default 50); host i gets .i+1. */
  subnet?: number;
}

export interface HostContainerOptions {
  /** For messages only; the netns gets a unique name. */
  name: string;
  /** Address with prefix length, e.g. "10.1.0.2/24". */
  ip: string;
  /** OVS bridge of this host the container's host end is added to. */
  bridge: string;
  /** ofport_request of the host end. */
  ofport?: number;
  /** Both veth ends; with a VXLAN overlay, 1450 leaves room for the 50-byte encapsulation. */
  mtu?: number;
  /** Default: macFromIPv4 (Contiv's rule). */
  mac?: string;
  gateway?: string;
}

export interface Host {
  /** "h1", "h2", … for messages. */
  readonly name: string;
  /** The host's network namespace, where its ovs-vswitchd, bridges and container host ends live. */
  readonly netns: string;
  /** The host's own OVS (netdev datapath, vswitchd inside `netns`). */
  readonly ovs: OvsInstance;
  /** The underlay interface inside the host namespace ("ul0"). */
  readonly underlayIf: string;
  /** The host's underlay address without prefix, e.g. "192.168.50.1". */
  readonly underlayIp: string;
  /** The same with prefix length, e.g. "192.168.50.1/24". */
  readonly underlayCidr: string;
  /** Runs cmd inside the host namespace and resolves with its stdout. */
  exec(cmd: string, args: string[], opts?: Omit<RunOptions, 'netns'>): Promise<string>;
  /** A container namespace whose eth0 is plugged into `opts.bridge` of this host with plugContainer. */
  addContainer(opts: HostContainerOptions): Promise<Container>;
  /**
   * Makes the host a VXLAN endpoint for OVS native tunneling and resolves with the bridge's name.
   * The userspace datapath routes and ARPs for tunnels itself (ovs/route/show, tnl/arp/show) and only
   * through OVS bridges, so the underlay address must sit on a bridge's internal port: this adds an
   * OVS bridge (default "brphy", NORMAL forwarding) holding the underlay interface and moves the
   * underlay address from the interface to the bridge's internal port. Idempotent.
   */
  vtep(bridgeName?: string): Promise<string>;
  /** Destroys the containers, stops OVS, deletes the namespace. Idempotent. */
  destroy(): Promise<void>;
}

const UNDERLAY_IF = 'ul0';

/** No IPv6 link-local address either: the root-namespace side of the underlay carries no address at all. */
function disableIpv6(ifName: string): void {
  const path = `/proc/sys/net/ipv6/conf/${ifName}/disable_ipv6`;
  if (existsSync(path)) writeFileSync(path, '1');
}

class SimHost implements Host {
  readonly underlayIf = UNDERLAY_IF;
  readonly underlayIp: string;
  private readonly containers = new Set<HostContainer>();
  private readonly cleanup: CleanupHandle;
  private vtepBridge: string | undefined;
  private destroying: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly ns: Namespace,
    readonly ovs: OvsInstance,
    readonly underlayCidr: string,
  ) {
    this.underlayIp = parseCidr(underlayCidr).address;
    // Registered after the namespace and OVS, so it runs before their own cleanups (LIFO).
    this.cleanup = onCleanup(() => this.destroy(), { label: `host ${name} (${ns.name})` });
  }

  get netns(): string {
    return this.ns.name;
  }

  get destroyed(): boolean {
    return this.destroying !== undefined;
  }

  exec(cmd: string, args: string[], opts: Omit<RunOptions, 'netns'> = {}): Promise<string> {
    return this.ns.exec(cmd, args, opts);
  }

  async addContainer(opts: HostContainerOptions): Promise<Container> {
    const ns = await addNamespace();
    const c = new HostContainer(this, ns, opts, uniqueName('v'));
    this.containers.add(c);
    try {
      await c.plug();
    } catch (err) {
      await c.destroy().catch(() => undefined);
      throw err;
    }
    return c;
  }

  forget(c: HostContainer): void {
    this.containers.delete(c);
  }

  async vtep(bridgeName = 'brphy'): Promise<string> {
    if (this.vtepBridge !== undefined) return this.vtepBridge;
    const br = await this.ovs.addBridge(bridgeName, { failMode: 'standalone' });
    this.vtepBridge = br;
    await this.ovs.vsctl('add-port', br, this.underlayIf);
    await this.ovs.ofctl('add-flow', this.ovs.mgmt(br), 'priority=0,actions=NORMAL');
    // Off the interface first: the same subnet on two links would give two connected routes.
    await this.exec('ip', ['addr', 'del', this.underlayCidr, 'dev', this.underlayIf]);
    await configureInterface({ netns: this.netns, ifName: br, addresses: [this.underlayCidr], up: true });
    await setTxOffload(br, false, this.netns);
    return br;
  }

  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    this.cleanup.dispose();
    const errors: unknown[] = [];
    for (const c of [...this.containers]) await c.destroy().catch((e: unknown) => errors.push(e));
    await this.ovs.stop().catch((e: unknown) => errors.push(e));
    await this.ns.destroy().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw new AggregateError(errors, `destroying host ${this.name} failed`);
  }
}

class HostContainer implements Container {
  readonly ip: string;
  readonly cidr: string;
  readonly label: string;
  mac = '';
  ofport = 0;
  private readonly listeners = new Set<NcListener>();
  private readonly cleanup: CleanupHandle;
  private destroying: Promise<void> | undefined;

  constructor(
    private readonly host: SimHost,
    private readonly ns: Namespace,
    private readonly opts: HostContainerOptions,
    readonly hostIf: string,
  ) {
    this.label = opts.name;
    this.cidr = opts.ip;
    this.ip = parseCidr(opts.ip).address;
    this.cleanup = onCleanup(() => this.destroy(), {
      label: `container ${opts.name} (${ns.name})`,
      sync: () => stopPidsSync([...this.listeners].map((l) => l.pid)),
    });
  }

  get name(): string {
    return this.ns.name;
  }

  async plug(): Promise<void> {
    const { mac } = await plugContainer({
      hostNetns: this.host.netns,
      hostIf: this.hostIf,
      netns: { name: this.ns.name },
      ifName: 'eth0',
      ip: this.opts.ip,
      ...(this.opts.gateway !== undefined ? { gateway: this.opts.gateway } : {}),
      ...(this.opts.mtu !== undefined ? { mtu: this.opts.mtu } : {}),
      ...(this.opts.mac !== undefined ? { mac: this.opts.mac } : {}),
    });
    this.mac = mac;
    const ovs = this.host.ovs;
    const port = ['add-port', this.opts.bridge, this.hostIf];
    if (this.opts.ofport !== undefined)
      port.push('--', 'set', 'Interface', this.hostIf, `ofport_request=${this.opts.ofport}`);
    await ovs.vsctl(...port);
    this.ofport = Number((await ovs.vsctl('get', 'Interface', this.hostIf, 'ofport')).trim());
    if (!(this.ofport > 0)) {
      const error = await ovs.vsctl('get', 'Interface', this.hostIf, 'error').catch(() => '?');
      throw new Error(
        `container ${this.label}: port ${this.hostIf} got no ofport (${this.ofport}): ${error.trim()}`,
      );
    }
  }

  exec(cmd: string, args: string[], opts: Omit<RunOptions, 'netns'> = {}): Promise<string> {
    return this.ns.exec(cmd, args, opts);
  }

  ping(ip: string, opts: { count?: number; timeoutSec?: number } = {}): Promise<boolean> {
    return pingFrom(this.name, ip, opts);
  }

  tcpConnect(ip: string, port: number, timeoutMs = 2000): Promise<boolean> {
    return tcpConnectFrom(this.name, ip, port, timeoutMs);
  }

  tcpListen(port: number): Promise<Listener> {
    return listenIn(this.name, port, this.listeners);
  }

  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    this.cleanup.dispose();
    this.host.forget(this);
    await Promise.all([...this.listeners].map((l) => l.stop()));
    if (!this.host.ovs.stopped) await this.host.ovs.vsctl('--if-exists', 'del-port', this.hostIf);
    await this.ns.destroy();
    // The host end goes with its peer's namespace, but asynchronously: wait a little, then delete it.
    if (this.host.destroyed && !existsSync(`/var/run/netns/${this.host.netns}`)) return;
    const deadline = Date.now() + 2000;
    while ((await linkExists(this.hostIf, this.host.netns)) && Date.now() < deadline) await sleep(20);
    await deleteLink(this.hostIf, this.host.netns);
  }
}

/** The root-namespace part of a bridge underlay: the bridge and the root ends of the host veths. */
class BridgeUnderlay {
  readonly bridge = uniqueName('ub');
  private readonly ends: string[] = [];
  private readonly cleanup: CleanupHandle;

  constructor() {
    this.cleanup = onCleanup(() => this.destroy(), {
      label: `underlay bridge ${this.bridge}`,
      sync: () => {
        for (const l of [...this.ends, this.bridge]) trySync('ip', ['link', 'del', l]);
      },
    });
  }

  async create(): Promise<void> {
    // With br_netfilter loaded, bridged IPv4 would traverse the root namespace's iptables FORWARD
    // chain (often DROP where Docker runs): the underlay must not depend on the machine's firewall.
    await run('ip', [
      'link',
      'add',
      this.bridge,
      'type',
      'bridge',
      'nf_call_iptables',
      '0',
      'nf_call_ip6tables',
      '0',
      'nf_call_arptables',
      '0',
    ]);
    disableIpv6(this.bridge);
    await run('ip', ['link', 'set', 'dev', this.bridge, 'up']);
  }

  /** A veth from the bridge into the host namespace, where it becomes ul0 with the host's address. */
  async attach(hostNetns: string, cidr: string): Promise<void> {
    const end = uniqueName('uv');
    this.ends.push(end);
    await plugContainer({ hostIf: end, netns: { name: hostNetns }, ifName: UNDERLAY_IF, ip: cidr });
    disableIpv6(end);
    await run('ip', ['link', 'set', 'dev', end, 'master', this.bridge]);
  }

  async destroy(): Promise<void> {
    this.cleanup.dispose();
    // The ends normally vanish with the host namespaces; whatever is left goes now.
    for (const l of [...this.ends, this.bridge]) await deleteLink(l);
  }
}

/**
 * Starts n simulated hosts: each a network namespace with its own ovsdb-server + ovs-vswitchd (netdev
 * datapath inside the namespace) and an underlay interface ul0 with 192.168.<subnet>.<i+1>/24, TX
 * offload off on every underlay veth end. Destroyed by runCleanups() (or on exit) unless destroyed
 * before. On failure, whatever was made is removed before the error is thrown.
 */
export async function startHosts(n: number, opts: StartHostsOptions = {}): Promise<Host[]> {
  const kind = opts.underlay ?? 'bridge';
  const subnet = opts.subnet ?? 50;
  if (!Number.isInteger(n) || n < 1 || n > 250) throw new Error(`startHosts: n must be 1..250, got ${n}`);
  if (kind === 'veth' && n !== 2)
    throw new Error(`startHosts: a veth underlay joins exactly 2 hosts, got ${n}`);
  if (!Number.isInteger(subnet) || subnet < 0 || subnet > 255)
    throw new Error(`startHosts: bad subnet ${subnet}`);
  const hosts: SimHost[] = [];
  let underlay: BridgeUnderlay | undefined;
  try {
    if (kind === 'bridge') {
      underlay = new BridgeUnderlay();
      await underlay.create();
    }
    for (let i = 0; i < n; i++) {
      const ns = await addNamespace();
      let ovs: OvsInstance;
      try {
        ovs = await startOvs({ netns: ns.name });
      } catch (err) {
        await ns.destroy().catch(() => undefined);
        throw err;
      }
      const host = new SimHost(`h${i + 1}`, ns, ovs, `192.168.${subnet}.${i + 1}/24`);
      hosts.push(host);
      if (underlay !== undefined) await underlay.attach(host.netns, host.underlayCidr);
    }
    if (kind === 'veth') await joinByVeth(hosts[0]!, hosts[1]!);
    return hosts;
  } catch (err) {
    for (const h of hosts.reverse()) await h.destroy().catch(() => undefined);
    await underlay?.destroy().catch(() => undefined);
    throw err;
  }
}

async function joinByVeth(a: SimHost, b: SimHost): Promise<void> {
  // The pair is made in a's namespace under a unique name, its peer becomes b's ul0; then a's end is
  // renamed to ul0 too (configureInterface takes it down for the rename and brings it up again).
  const tmp = uniqueName('uv');
  await plugContainer({
    hostNetns: a.netns,
    hostIf: tmp,
    netns: { name: b.netns },
    ifName: UNDERLAY_IF,
    ip: b.underlayCidr,
  });
  await configureInterface({
    netns: a.netns,
    ifName: tmp,
    rename: UNDERLAY_IF,
    mac: macFromIPv4(a.underlayIp),
    addresses: [a.underlayCidr],
    up: true,
  });
}
