// Owns Docker's IpamDriver calls: a pool is a Contiv network (or group) chosen by IPAM options,
// addresses come from netmaster's allocator. The pool id names the Contiv object, so nothing is kept
// between calls and a restarted netplugin answers Docker's later calls as before. In swarm mode a
// pool may also be just a subnet (`--subnet` without a contiv-tag): its Contiv network is made
// later, at AllocateNetwork, so that pool id is the subnet and its network is found by it.

import { formatIP, parseIP, parseSubnet, type Subnet } from '../../policy/ipam/addr.js';
import type { FreedAddresses, NetmasterClient } from './ports.js';
import {
  GATEWAY_REQUEST,
  type Handler,
  PluginError,
  REQUEST_ADDRESS_TYPE,
  type ReleaseAddressRequest,
  type RequestAddressRequest,
  type RequestAddressResponse,
  type RequestPoolRequest,
  type RequestPoolResponse,
} from './protocol.js';
import {
  type ContivTarget,
  describeSelector,
  OPT_TAG,
  parsePoolId,
  poolIdOf,
  type SubnetPools,
  selectorFrom,
  subnetOfPoolId,
  subnetPoolIdOf,
  type TargetResolver,
} from './target.js';

export interface IpamDriverOptions {
  targets: TargetResolver;
  netmaster: NetmasterClient;
  /** The plugin's name, for messages that tell the user what to type. */
  pluginName: string;
  /** Addresses already returned with their endpoint: their ReleaseAddress is a no-op. */
  freed?: FreedAddresses;
  /** Swarm mode: pools given by subnet alone are allowed, their Contiv networks found here. */
  subnetPools?: SubnetPools;
}

function obj<T>(body: unknown, call: string): T {
  if (typeof body !== 'object' || body === null) throw new PluginError(`${call}: expected a JSON object`);
  return body as T;
}

/** "10.1.0.5" → "10.1.0.5/24" in the target's subnet. */
function withPrefix(t: ContivTarget, ip: string): string {
  return `${ip}/${parseSubnet(t.subnet).prefixLen}`;
}

export class IpamDriver {
  constructor(private readonly opts: IpamDriverOptions) {}

  handlers(): Record<string, Handler> {
    return {
      '/IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
      '/IpamDriver.GetDefaultAddressSpaces': () => ({
        LocalDefaultAddressSpace: 'contiv-local',
        GlobalDefaultAddressSpace: 'contiv-global',
      }),
      '/IpamDriver.RequestPool': (b) => this.requestPool(obj(b, 'RequestPool')),
      '/IpamDriver.ReleasePool': (b) => {
        // The pool is the Contiv network's; it outlives the Docker network (or, made for it, goes
        // with it at FreeNetwork).
        const id = obj<{ PoolID: string }>(b, 'ReleasePool').PoolID;
        if (subnetOfPoolId(id) === undefined) parsePoolId(id);
        return {};
      },
      '/IpamDriver.RequestAddress': (b) => this.requestAddress(obj(b, 'RequestAddress')),
      '/IpamDriver.ReleaseAddress': (b) => this.releaseAddress(obj(b, 'ReleaseAddress')),
    };
  }

  async requestPool(req: RequestPoolRequest): Promise<RequestPoolResponse> {
    if (req.V6) throw new PluginError(`the ${this.opts.pluginName} IPAM driver has no IPv6 pools`);
    const sel = selectorFrom(req.Options);
    if (!sel && this.opts.subnetPools) return this.subnetPool(this.opts.subnetPools, req);
    if (!sel)
      throw new PluginError(
        `the ${this.opts.pluginName} IPAM driver needs to know the Contiv group: ` +
          `--ipam-opt ${OPT_TAG}=T (or tenant=, network=, group=; in swarm mode --subnet alone)`,
      );
    const t = await this.opts.targets.resolve(sel);
    const cidr = parseSubnet(t.subnet).cidr;
    if (req.Pool && parseSubnet(req.Pool).cidr !== cidr)
      throw new PluginError(`Contiv ${describeSelector(sel)} has subnet ${cidr}, not ${req.Pool}`);
    if (req.SubPool)
      throw new PluginError(`--ip-range is not supported: give the Contiv group an ip-pool instead`);
    return { PoolID: poolIdOf(t), Pool: cidr, Data: {} };
  }

  /** Swarm mode's `--subnet` without a contiv-tag: the pool is the subnet (see the top). */
  private async subnetPool(pools: SubnetPools, req: RequestPoolRequest): Promise<RequestPoolResponse> {
    if (!req.Pool)
      throw new PluginError(
        `the ${this.opts.pluginName} IPAM driver needs --subnet (a new Contiv network) or --ipam-opt ${OPT_TAG}=T`,
      );
    let cidr: string;
    try {
      cidr = parseSubnet(req.Pool).cidr;
    } catch (err) {
      throw new PluginError(`--subnet "${req.Pool}": ${(err as Error).message}`);
    }
    if (parseSubnet(cidr).family !== 4) throw new PluginError(`--subnet ${cidr}: only IPv4 subnets`);
    if (req.SubPool)
      throw new PluginError('--ip-range is not supported: the Contiv network gets the whole --subnet');
    const other = await pools.overlapping(cidr);
    if (other) throw new PluginError(`--subnet ${cidr} overlaps Contiv network ${other} in tenant default`);
    return { PoolID: subnetPoolIdOf(cidr), Pool: cidr, Data: {} };
  }

  /** The target of a pool id; undefined for a subnet pool whose Contiv network is not made (yet, or any more). */
  private async poolTarget(poolID: string): Promise<ContivTarget | undefined> {
    const cidr = subnetOfPoolId(poolID);
    if (cidr === undefined) return this.opts.targets.resolve(parsePoolId(poolID));
    if (!this.opts.subnetPools) throw new PluginError(`pool id "${poolID}" is only used in swarm mode`);
    return this.opts.subnetPools.forSubnet(cidr);
  }

  async requestAddress(req: RequestAddressRequest): Promise<RequestAddressResponse> {
    const asked = req.Address ? req.Address : undefined;
    if (asked !== undefined && !parseIP(asked))
      throw new PluginError(`RequestAddress: "${asked}" is not an IP address`);
    const t = await this.poolTarget(req.PoolID);
    if (!t) return this.gatewayBeforeNetwork(req, asked);
    if (req.Options?.[REQUEST_ADDRESS_TYPE] === GATEWAY_REQUEST && t.gateway) {
      if (asked !== undefined && asked !== t.gateway)
        throw new PluginError(
          `Contiv network ${t.network} has gateway ${t.gateway}; Docker asked for ${asked} (drop --gateway)`,
        );
      return { Address: withPrefix(t, t.gateway), Data: {} };
    }
    // A network without a gateway gives Docker the subnet's own address as a stand-in, as Contiv did:
    // no host address is spent on it, so the first container gets the first address.
    if (req.Options?.[REQUEST_ADDRESS_TYPE] === GATEWAY_REQUEST && asked === undefined) {
      const s = parseSubnet(t.subnet);
      return { Address: `${s.cidr.split('/')[0]}/${s.prefixLen}`, Data: {} };
    }
    const ip = await this.opts.netmaster.allocAddress({
      tenant: t.tenant,
      network: t.network,
      group: t.group,
      ...(asked !== undefined ? { preferred: asked } : {}),
    });
    return { Address: withPrefix(t, ip), Data: {} };
  }

  /**
   * Swarm's manager asks for the gateway of a subnet pool before AllocateNetwork makes the Contiv
   * network, which then takes that gateway: the one given with --gateway, else the first address.
   */
  private gatewayBeforeNetwork(
    req: RequestAddressRequest,
    asked: string | undefined,
  ): RequestAddressResponse {
    const cidr = subnetOfPoolId(req.PoolID) ?? '';
    if (req.Options?.[REQUEST_ADDRESS_TYPE] !== GATEWAY_REQUEST)
      throw new PluginError(
        `no Contiv network has the pool ${cidr} yet (swarm has not allocated the network)`,
      );
    let s: Subnet;
    try {
      s = parseSubnet(cidr);
    } catch {
      throw new PluginError(`pool id "${req.PoolID}" is not one this IPAM driver gave out`);
    }
    if (asked === undefined) return { Address: `${formatIP(4, s.first)}/${s.prefixLen}`, Data: {} };
    const ip = parseIP(asked);
    if (!ip || ip.family !== 4 || ip.value < s.first || ip.value > s.last)
      throw new PluginError(`--gateway ${asked} is not a host address of --subnet ${cidr}`);
    return { Address: `${asked}/${s.prefixLen}`, Data: {} };
  }

  async releaseAddress(req: ReleaseAddressRequest): Promise<Record<string, never>> {
    const address = (req.Address ?? '').split('/')[0] ?? '';
    let t: ContivTarget | undefined;
    try {
      t = await this.poolTarget(req.PoolID);
    } catch (err) {
      // A Contiv network deleted first took its addresses with it: nothing is left to release.
      if (err instanceof PluginError) return {};
      throw err;
    }
    if (!t) return {};
    // Neither the gateway nor the stand-in for a missing one was allocated.
    if (address === t.gateway || address === parseSubnet(t.subnet).cidr.split('/')[0]) return {};
    if (this.opts.freed?.take(t.tenant, t.network, address)) return {};
    await this.opts.netmaster.releaseAddress({ tenant: t.tenant, network: t.network, address });
    return {};
  }
}
