// Owns Docker's NetworkDriver calls: which Contiv object a Docker network is, the endpoint record at
// netmaster, and the container's veth plugged into this host's bridge. Every step that fails undoes
// what the call made before it: a failed Join leaves no veth and no port, a failed CreateEndpoint no
// record (Docker then releases the address through the IPAM driver).

import { isIPv4 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import {
  deleteLink,
  HostCommandError,
  type NetnsRef,
  normalizeMac,
  runHost,
  validateIfName,
  vethsWithAlias,
} from '../../datapath/host/index.js';
import { macFromIPv4, parseSubnet } from '../../policy/ipam/addr.js';
import type { FreedAddresses, HostAttach, NetmasterClient, SparePorts } from './ports.js';
import {
  type AllocateNetworkRequest,
  type CreateEndpointRequest,
  type CreateEndpointResponse,
  type CreateNetworkRequest,
  type EndpointOperInfoResponse,
  type EndpointRequest,
  GENERIC_OPTIONS,
  type Handler,
  type JoinRequest,
  type JoinResponse,
  type NetworkIdRequest,
  PluginError,
} from './protocol.js';
import type { DriverScope } from './scope.js';
import {
  type ContivTarget,
  DEFAULT_TENANT,
  describeSelector,
  type NetworkMemory,
  OPT_NETWORK,
  OPT_TAG,
  OPT_TENANT,
  selectorFrom,
  type TargetResolver,
} from './target.js';
import type { VethPool } from './veth-pool.js';

/** VXLAN adds 50 bytes to a 1500-byte underlay frame. */
export const VXLAN_MTU = 1450;

export interface VethSpec {
  hostName: string;
  peerName: string;
  /** The container end's MAC. */
  peerMac?: string;
  /** Both ends. */
  mtu?: number;
  /** Set as the host end's alias: whose veth it is, so a restart finds the ones a crash left. */
  owner?: string;
}

/** The link operations Join and Leave use; tests may count or fail them. */
export interface Links {
  /**
   * The pair in one step: MTU on both ends, the MAC on the peer, the host end up, TX checksum
   * offload off on both ends (the userspace datapath never completes partial checksums: TCP would
   * fail while ping works).
   */
  createVeth(spec: VethSpec): Promise<void>;
  /** Several new pairs as createVeth makes them, in one process (the spare pool's refill). */
  createVeths(specs: readonly VethSpec[]): Promise<void>;
  deleteLink(name: string): Promise<void>;
  /** The host ends of the veths marked with this owner. */
  ownedVeths(owner: string): Promise<string[]>;
}

// One process for the pairs (one `ip -batch`) and every offload change: under load each spawn
// from Node costs several milliseconds of every docker run. Arguments: the ip batch, then the
// names whose offload goes off.
const VETH_SCRIPT =
  'set -e; printf "%s\n" "$1" | ip -batch -; shift; for i in "$@"; do ethtool -K "$i" tx off >/dev/null; done';

function vethArgs(specs: readonly VethSpec[]): string[] {
  const batch: string[] = [];
  const ends: string[] = [];
  for (const spec of specs) {
    validateIfName(spec.hostName, 'veth name');
    validateIfName(spec.peerName, 'veth peer name');
    if (spec.owner !== undefined && !/^[\w./:-]{1,200}$/.test(spec.owner))
      throw new Error(`veth owner "${spec.owner}": 1 to 200 letters, digits or _ . / : -`);
    const mtu = spec.mtu === undefined ? '' : ` mtu ${spec.mtu}`;
    const mac = spec.peerMac === undefined ? '' : ` address ${normalizeMac(spec.peerMac)}`;
    batch.push(`link add ${spec.hostName}${mtu} up type veth peer name ${spec.peerName}${mac}${mtu}`);
    if (spec.owner !== undefined) batch.push(`link set dev ${spec.hostName} alias ${spec.owner}`);
    ends.push(spec.peerName, spec.hostName);
  }
  return ['-c', VETH_SCRIPT, 'sh', batch.join('\n'), ...ends];
}

async function createVeths(specs: readonly VethSpec[], netns: NetnsRef | undefined): Promise<void> {
  if (specs.length === 0) return;
  const args = vethArgs(specs);
  try {
    await runHost(netns, 'sh', args);
  } catch (err) {
    // ip -batch stops at the first failure: whatever it made goes.
    await Promise.all(specs.map((s) => deleteLink(s.hostName, netns).catch(() => undefined)));
    throw err;
  }
}

async function createVeth(spec: VethSpec, netns: NetnsRef | undefined): Promise<void> {
  const args = vethArgs([spec]);
  try {
    await runHost(netns, 'sh', args);
  } catch (err) {
    if (!(err instanceof HostCommandError && /File exists/.test(err.stderr))) {
      await deleteLink(spec.hostName, netns).catch(() => undefined);
      throw err;
    }
    // Left by a Join that died half-way or a crashed netplugin: made again from scratch.
    await deleteLink(spec.hostName, netns);
    await runHost(netns, 'sh', args);
  }
}

/** Links in the namespace dockerd runs in (the current one when undefined). */
export function linksIn(netns?: NetnsRef): Links {
  return {
    createVeth: (spec) => createVeth(spec, netns),
    createVeths: (specs) => createVeths(specs, netns),
    deleteLink: (n) => deleteLink(n, netns),
    ownedVeths: (owner) => vethsWithAlias(owner, netns),
  };
}

export const hostLinks: Links = linksIn(undefined);

/** Host end of an endpoint's veth: "vp" + the endpoint id's first 11 characters (fits IFNAMSIZ). */
export const hostIfName = (endpointID: string) => `vp${endpointID.slice(0, 11)}`;
/** The container end until Docker moves it and names it eth<N>. */
export const peerIfName = (endpointID: string) => `vc${endpointID.slice(0, 11)}`;

export interface NetworkDriverOptions {
  targets: TargetResolver;
  netmaster: NetmasterClient;
  host: HostAttach;
  /** This host's name, as its HostRecord and endpoint records say. */
  hostName: string;
  pluginName: string;
  /**
   * 'local' without swarm or a cluster store (Docker refuses global-scope networks outside a swarm
   * manager); a function is asked at each capabilities call (EngineScope).
   */
  scope?: DriverScope | (() => Promise<DriverScope>);
  links?: Links;
  /** The alias marking the veths Joins make (VethSpec.owner), so a restart can sweep them. */
  owner?: string;
  /** Spare veths already plugged into the bridge: a Join takes one when it can (veth-pool.ts). */
  pool?: VethPool;
  /** Finds an endpoint's host interface after a restart (a pooled one is not named after the endpoint). */
  plugged?: Pick<SparePorts, 'pluggedPorts'>;
  /** Where addresses returned with their endpoint are noted for the IPAM driver. */
  freed?: FreedAddresses;
  /**
   * The generic options of a Docker network this process has not seen created (a netplugin restart):
   * Docker does not repeat CreateNetwork, so they are read back from the engine.
   */
  networkOptions?: (networkID: string) => Promise<Record<string, unknown> | undefined>;
  /** Where the Contiv object of each Docker network is kept; asked before networkOptions. */
  memory?: NetworkMemory;
  /**
   * Swarm mode: a Docker network's name by id. With it, AllocateNetwork of a network without a
   * contiv-tag makes its Contiv network (named so, default tenant) and FreeNetwork removes it.
   */
  dockerNetworkName?: (networkID: string) => Promise<string | undefined>;
  /**
   * The container an endpoint of a Docker network is in, once the engine lists it there (Docker's
   * driver calls never name it): with it, each Join records the container's name for DNS.
   */
  containerOf?: (networkID: string, endpointID: string) => Promise<ContainerRef | undefined>;
  log?: Logger;
}

export interface ContainerRef {
  id: string;
  name: string;
  labels?: Record<string, string>;
}

/** Asking the engine for a joined container's name: first after this, then each time twice as long. */
const NAME_FIRST_MS = 100;
const NAME_MAX_MS = 500;
/** Past this the name is left unknown (the endpoint answers by group name only). */
const NAME_GIVE_UP_MS = 10_000;

interface EndpointState {
  networkID: string;
  tenant: string;
  network: string;
  ip: string;
  mac: string;
}

function obj<T>(body: unknown, call: string): T {
  if (typeof body !== 'object' || body === null) throw new PluginError(`${call}: expected a JSON object`);
  return body as T;
}

function genericOptions(opts: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const g = opts?.[GENERIC_OPTIONS];
  return typeof g === 'object' && g !== null ? (g as Record<string, unknown>) : undefined;
}

export class NetworkDriver {
  private readonly networks = new Map<string, ContivTarget>();
  private readonly endpoints = new Map<string, EndpointState>();
  /** Endpoints whose Leave has run: their DeleteEndpoint has nothing of the host left to undo. */
  private readonly left = new Set<string>();
  /** The host end Join plugged for each endpoint. */
  private readonly hostIfs = new Map<string, string>();
  /** Teardown Leave started and did not wait for. */
  private readonly pending = new Set<Promise<void>>();
  private readonly links: Links;
  /** Endpoints Docker has called about while a reconcile may run (see noteEndpoints). */
  private touched: Set<string> | undefined;
  private closed = false;

  constructor(private readonly opts: NetworkDriverOptions) {
    this.links = opts.links ?? hostLinks;
  }

  /** Notes, until stopNoting, every endpoint a call names: a reconcile must leave those alone. */
  noteEndpoints(): ReadonlySet<string> {
    this.touched = new Set();
    return this.touched;
  }

  stopNoting(): void {
    this.touched = undefined;
  }

  handlers(): Record<string, Handler> {
    const ok = () => ({});
    return {
      '/NetworkDriver.GetCapabilities': async () => {
        const s = this.opts.scope ?? 'local';
        return { Scope: typeof s === 'function' ? await s() : s, ConnectivityScope: 'global' };
      },
      '/NetworkDriver.CreateNetwork': (b) => this.createNetwork(obj(b, 'CreateNetwork')),
      '/NetworkDriver.DeleteNetwork': (b) => this.deleteNetwork(obj(b, 'DeleteNetwork')),
      '/NetworkDriver.CreateEndpoint': (b) => this.createEndpoint(obj(b, 'CreateEndpoint')),
      '/NetworkDriver.DeleteEndpoint': (b) => this.deleteEndpoint(obj(b, 'DeleteEndpoint')),
      '/NetworkDriver.EndpointOperInfo': (b) => this.endpointOperInfo(obj(b, 'EndpointOperInfo')),
      '/NetworkDriver.Join': (b) => this.join(obj(b, 'Join')),
      '/NetworkDriver.Leave': (b) => this.leave(obj(b, 'Leave')),
      '/NetworkDriver.AllocateNetwork': (b) => this.allocateNetwork(obj(b, 'AllocateNetwork')),
      '/NetworkDriver.FreeNetwork': (b) => this.freeNetwork(obj(b, 'FreeNetwork')),
      // External connectivity: nothing for this driver to do.
      '/NetworkDriver.ProgramExternalConnectivity': ok,
      '/NetworkDriver.RevokeExternalConnectivity': ok,
      '/NetworkDriver.DiscoverNew': ok,
      '/NetworkDriver.DiscoverDelete': ok,
    };
  }

  async createNetwork(req: CreateNetworkRequest): Promise<Record<string, never>> {
    const sel = selectorFrom(genericOptions(req.Options));
    if (!sel)
      throw new PluginError(
        `a ${this.opts.pluginName} network must name its Contiv group: -o ${OPT_TAG}=T --ipam-opt ${OPT_TAG}=T ` +
          '(netmaster creates the networks of its groups itself: use those names)',
      );
    const t = await this.opts.targets.resolve(sel);
    // Docker's pool is the Contiv subnet only when our IPAM driver gave it.
    const pool = req.IPv4Data?.[0]?.Pool;
    if (!pool || cidrOf(pool) !== cidrOf(t.subnet))
      throw new PluginError(
        `Contiv ${describeSelector(sel)} needs --ipam-driver ${this.opts.pluginName} with the same options ` +
          `(Docker's pool is ${pool ?? 'none'}, the Contiv subnet ${t.subnet})`,
      );
    this.touched?.add(req.NetworkID);
    await this.opts.memory?.remember(req.NetworkID, t);
    this.networks.set(req.NetworkID, t);
    this.opts.log?.info({ networkID: req.NetworkID, ...t }, 'docker network mapped');
    return {};
  }

  /**
   * Swarm's manager-side call, once per network; what it answers becomes the network's driver
   * options in the nodes' CreateNetwork: the given ones echoed (or the nodes never see the
   * contiv-tag), plus, for a network it made the Contiv network of, that network's name.
   */
  async allocateNetwork(req: AllocateNetworkRequest): Promise<{ Options: Record<string, string> }> {
    const options = req.Options ?? {};
    const nameOf = this.opts.dockerNetworkName;
    if (selectorFrom(options) || !nameOf) return { Options: options };
    const create = this.opts.netmaster.createDockerNetwork;
    if (!create) throw new PluginError('this netmaster client cannot create networks');
    const v4 = req.IPv4Data?.[0];
    const subnet = v4?.Pool ? cidrOf(v4.Pool) : undefined;
    if (!subnet)
      throw new PluginError(
        `Docker network ${req.NetworkID} has no IPv4 pool: give --subnet, or -o ${OPT_TAG}=T --ipam-opt ${OPT_TAG}=T`,
      );
    const name = await nameOf(req.NetworkID);
    if (!name) throw new PluginError(`Docker network ${req.NetworkID}: the engine does not know it`);
    await create.call(this.opts.netmaster, {
      networkID: req.NetworkID,
      name,
      subnet,
      gateway: (v4?.Gateway ?? '').split('/')[0] ?? '',
    });
    this.opts.log?.info(
      { networkID: req.NetworkID, name, subnet },
      'contiv network made for a docker network',
    );
    return { Options: { ...options, [OPT_TENANT]: DEFAULT_TENANT, [OPT_NETWORK]: name } };
  }

  async freeNetwork(req: NetworkIdRequest): Promise<Record<string, never>> {
    if (this.opts.dockerNetworkName) await this.opts.netmaster.deleteDockerNetwork?.(req.NetworkID);
    return {};
  }

  async deleteNetwork(req: NetworkIdRequest): Promise<Record<string, never>> {
    await this.opts.memory?.forget(req.NetworkID);
    this.networks.delete(req.NetworkID);
    return {};
  }

  private async network(networkID: string): Promise<ContivTarget> {
    const known = this.networks.get(networkID);
    if (known) return known;
    // Remembered, or (a network made before netplugin kept that memory) the engine's options.
    const sel =
      (await this.opts.memory?.recall(networkID)) ??
      selectorFrom(await this.opts.networkOptions?.(networkID));
    if (!sel)
      throw new PluginError(`Docker network ${networkID} is not a known ${this.opts.pluginName} network`);
    const t = await this.opts.targets.resolve(sel);
    this.networks.set(networkID, t);
    return t;
  }

  async createEndpoint(req: CreateEndpointRequest): Promise<CreateEndpointResponse> {
    this.touched?.add(req.EndpointID);
    const t = await this.network(req.NetworkID);
    const ip = (req.Interface?.Address ?? '').split('/')[0] ?? '';
    if (!isIPv4(ip))
      throw new PluginError(
        `endpoint ${req.EndpointID}: Docker gave no IPv4 address; use --ipam-driver ${this.opts.pluginName}`,
      );
    const asked = req.Interface?.MacAddress?.toLowerCase();
    if (asked && asked !== macFromIPv4(ip))
      throw new PluginError(
        `Contiv endpoints have MAC ${macFromIPv4(ip)} (02:02 + the IPv4 address), not ${asked}`,
      );
    const rec = await this.opts.netmaster.createEndpoint({
      endpointID: req.EndpointID,
      tenant: t.tenant,
      network: t.network,
      group: t.group,
      ipAddress: ip,
      host: this.opts.hostName,
    });
    const mac = (rec.macAddress || macFromIPv4(ip)).toLowerCase();
    this.endpoints.set(req.EndpointID, {
      networkID: req.NetworkID,
      tenant: t.tenant,
      network: t.network,
      ip,
      mac,
    });
    // Docker refuses an answer that sets what it set itself.
    return asked ? {} : { Interface: { MacAddress: mac } };
  }

  async deleteEndpoint(req: EndpointRequest): Promise<Record<string, never>> {
    this.touched?.add(req.EndpointID);
    // A Leave that never came (dockerd stopped with the container running, or this netplugin
    // restarted in between) left the port and the veth: they go with the endpoint.
    if (!this.left.delete(req.EndpointID)) {
      const hostIf = await this.hostIfOf(req.EndpointID);
      await this.opts.host.detachEndpoint(req.EndpointID, hostIf);
      await this.links.deleteLink(hostIf);
      this.hostIfs.delete(req.EndpointID);
    }
    await this.opts.netmaster.deleteEndpoint(req.EndpointID);
    const ep = this.endpoints.get(req.EndpointID);
    // netmaster returned the record's address with it (see FreedAddresses).
    if (ep) this.opts.freed?.add(ep.tenant, ep.network, ep.ip);
    this.endpoints.delete(req.EndpointID);
    return {};
  }

  endpointOperInfo(req: EndpointRequest): EndpointOperInfoResponse {
    const ep = this.endpoints.get(req.EndpointID);
    return {
      Value: ep
        ? {
            ipAddress: ep.ip,
            macAddress: ep.mac,
            hostInterface: this.hostIfs.get(req.EndpointID) ?? hostIfName(req.EndpointID),
          }
        : {},
    };
  }

  /** The host end of an endpoint's veth: as Join plugged it, else as the bridge says (a restart). */
  private async hostIfOf(endpointID: string): Promise<string> {
    const known = this.hostIfs.get(endpointID);
    if (known) return known;
    const plugged = await this.opts.plugged?.pluggedPorts();
    return plugged?.endpoints.get(endpointID) ?? hostIfName(endpointID);
  }

  async join(req: JoinRequest): Promise<JoinResponse> {
    this.touched?.add(req.EndpointID);
    const t = await this.network(req.NetworkID);
    const ep = this.endpoints.get(req.EndpointID);
    const mtu = t.encap === 'vxlan' ? VXLAN_MTU : undefined;
    // A spare's peer needs no MAC of its own: Docker sets the one CreateEndpoint answered.
    const spare = this.opts.pool?.take(mtu);
    const hostIf = spare?.hostName ?? hostIfName(req.EndpointID);
    const peer = spare?.peerName ?? peerIfName(req.EndpointID);
    const links = this.links;
    let attached = false;
    const t0 = performance.now();
    let tLinks = t0;
    try {
      if (!spare)
        await links.createVeth({
          hostName: hostIf,
          peerName: peer,
          ...(ep ? { peerMac: ep.mac } : {}),
          ...(mtu !== undefined ? { mtu } : {}),
          ...(this.opts.owner !== undefined ? { owner: this.opts.owner } : {}),
        });
      attached = true;
      tLinks = performance.now();
      await this.opts.host.attachEndpoint(req.EndpointID, hostIf);
    } catch (err) {
      const undo: unknown[] = [];
      if (attached) await this.opts.host.detachEndpoint(req.EndpointID, hostIf).catch((e) => undo.push(e));
      await links.deleteLink(hostIf).catch((e) => undo.push(e));
      const msg = err instanceof Error ? err.message : String(err);
      if (undo.length > 0)
        throw new Error(
          `join ${req.EndpointID}: ${msg}; undoing also failed: ${undo.map(String).join('; ')}`,
        );
      throw new Error(`join ${req.EndpointID}: ${msg}`, { cause: err });
    } finally {
      this.opts.pool?.replenish(mtu);
    }
    this.hostIfs.set(req.EndpointID, hostIf);
    const t1 = performance.now();
    this.opts.log?.debug(
      {
        endpointID: req.EndpointID,
        spare: spare !== undefined,
        linksMs: Math.round(tLinks - t0),
        attachMs: Math.round(t1 - tLinks),
      },
      'joined',
    );
    // Docker lists the endpoint in its network only once Join has answered: the name is looked
    // up after, off the container start's path.
    if (this.opts.containerOf && this.opts.netmaster.nameEndpoint)
      this.inBackground(`join ${req.EndpointID}: naming`, () =>
        this.recordName(req.NetworkID, req.EndpointID),
      );
    return {
      InterfaceName: { SrcName: peer, DstPrefix: 'eth' },
      // Without a gateway, Docker's gateway service (docker_gwbridge) gives the container its default
      // route out and its resolver a way to forward, as it did for Contiv's containers.
      ...(t.gateway ? { Gateway: t.gateway, DisableGatewayService: true } : {}),
    };
  }

  async leave(req: EndpointRequest): Promise<Record<string, never>> {
    this.touched?.add(req.EndpointID);
    const hostIf = await this.hostIfOf(req.EndpointID);
    const t0 = performance.now();
    // The flows and the port go before Leave answers: the address may be another container's as
    // soon as DeleteEndpoint returns it.
    await this.opts.host.detachEndpoint(req.EndpointID, hostIf);
    this.left.add(req.EndpointID);
    this.hostIfs.delete(req.EndpointID);
    // Deleting the host end removes the container end too, wherever Docker has moved it. The kernel
    // takes ~20 ms for it, which Docker need not wait for: nothing plugs this name again (endpoint
    // ids are not reused, spares are new pairs), and a veth a crash leaves is swept at the next start.
    this.inBackground(`leave ${req.EndpointID}: delete ${hostIf}`, () => this.links.deleteLink(hostIf));
    this.opts.log?.debug(
      { endpointID: req.EndpointID, detachMs: Math.round(performance.now() - t0) },
      'left',
    );
    return {};
  }

  /** Finds the endpoint's container through the engine and writes its name (and labels) into the record. */
  private async recordName(networkID: string, endpointID: string): Promise<void> {
    const containerOf = this.opts.containerOf!;
    const t0 = performance.now();
    for (
      let wait = NAME_FIRST_MS;
      performance.now() - t0 < NAME_GIVE_UP_MS;
      wait = Math.min(wait * 2, NAME_MAX_MS)
    ) {
      await sleep(wait);
      // Left meanwhile: its record is going, and must not be written again.
      if (this.closed || !this.hostIfs.has(endpointID)) return;
      // An engine busy or restarting is asked again, as one that does not list the endpoint yet.
      const c = await containerOf(networkID, endpointID).catch(() => undefined);
      if (!c) continue;
      const name = c.name.replace(/^\//, '');
      if (!name) return;
      await this.opts.netmaster.nameEndpoint?.({
        endpointID,
        containerID: c.id,
        containerName: name,
        ...(c.labels ? { labels: c.labels } : {}),
      });
      this.opts.log?.debug({ endpointID, name, ms: Math.round(performance.now() - t0) }, 'named');
      return;
    }
    this.opts.log?.warn(
      { endpointID, networkID },
      'the engine never listed the endpoint: it has no container name in DNS',
    );
  }

  private inBackground(what: string, fn: () => Promise<void>): void {
    const done: Promise<void> = fn()
      .catch((err: unknown) =>
        this.opts.log?.error({ err: err instanceof Error ? err.message : String(err) }, `${what} failed`),
      )
      .finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  /** Resolves once the work Leave left running (veth deletions) has finished; close waits for it. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  /** Stops looking up names and waits for the background work. */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
  }
}

function cidrOf(text: string): string | undefined {
  try {
    return parseSubnet(text).cidr;
  } catch {
    return undefined;
  }
}
