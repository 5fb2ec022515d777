// Owns Docker's IpamDriver calls: a pool is a Contiv network (or group) chosen by IPAM options,
// addresses come from netmaster's allocator. The pool id names the Contiv object, so nothing is kept
// between calls and a restarted netplugin answers Docker's later calls as before.

import { parseIP, parseSubnet } from '../../policy/ipam/addr.js';
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
  selectorFrom,
  type TargetResolver,
} from './target.js';

export interface IpamDriverOptions {
  targets: TargetResolver;
  netmaster: NetmasterClient;
  /** The plugin's name, for messages that tell the user what to type. */
  pluginName: string;
  /** Addresses already returned with their endpoint: their ReleaseAddress is a no-op. */
  freed?: FreedAddresses;
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
        // The pool is the Contiv network's; it outlives the Docker network.
        parsePoolId(obj<{ PoolID: string }>(b, 'ReleasePool').PoolID);
        return {};
      },
      '/IpamDriver.RequestAddress': (b) => this.requestAddress(obj(b, 'RequestAddress')),
      '/IpamDriver.ReleaseAddress': (b) => this.releaseAddress(obj(b, 'ReleaseAddress')),
    };
  }

  async requestPool(req: RequestPoolRequest): Promise<RequestPoolResponse> {
    if (req.V6) throw new PluginError(`the ${this.opts.pluginName} IPAM driver has no IPv6 pools`);
    const sel = selectorFrom(req.Options);
    if (!sel)
      throw new PluginError(
        `the ${this.opts.pluginName} IPAM driver needs to know the Contiv group: ` +
          `--ipam-opt ${OPT_TAG}=T (or tenant=, network=, group=)`,
      );
    const t = await this.opts.targets.resolve(sel);
    const cidr = parseSubnet(t.subnet).cidr;
    if (req.Pool && parseSubnet(req.Pool).cidr !== cidr)
      throw new PluginError(`Contiv ${describeSelector(sel)} has subnet ${cidr}, not ${req.Pool}`);
    if (req.SubPool)
      throw new PluginError(`--ip-range is not supported: give the Contiv group an ip-pool instead`);
    return { PoolID: poolIdOf(t), Pool: cidr, Data: {} };
  }

  async requestAddress(req: RequestAddressRequest): Promise<RequestAddressResponse> {
    const pool = parsePoolId(req.PoolID);
    const t = await this.opts.targets.resolve(pool);
    const asked = req.Address ? req.Address : undefined;
    if (asked !== undefined && !parseIP(asked))
      throw new PluginError(`RequestAddress: "${asked}" is not an IP address`);
    if (req.Options?.[REQUEST_ADDRESS_TYPE] === GATEWAY_REQUEST && t.gateway) {
      if (asked !== undefined && asked !== t.gateway)
        throw new PluginError(
          `Contiv network ${t.network} has gateway ${t.gateway}; Docker asked for ${asked} (drop --gateway)`,
        );
      return { Address: withPrefix(t, t.gateway), Data: {} };
    }
    // A network without a gateway still gets one address for Docker's gateway: allocated like any
    // other, so no container is ever given it, and returned when Docker removes the network.
    const ip = await this.opts.netmaster.allocAddress({
      tenant: t.tenant,
      network: t.network,
      group: t.group,
      ...(asked !== undefined ? { preferred: asked } : {}),
    });
    return { Address: withPrefix(t, ip), Data: {} };
  }

  async releaseAddress(req: ReleaseAddressRequest): Promise<Record<string, never>> {
    const pool = parsePoolId(req.PoolID);
    const address = (req.Address ?? '').split('/')[0] ?? '';
    let t: ContivTarget;
    try {
      t = await this.opts.targets.resolve(pool);
    } catch (err) {
      // A Contiv network deleted first took its addresses with it: nothing is left to release.
      if (err instanceof PluginError) return {};
      throw err;
    }
    if (address === t.gateway) return {};
    if (this.opts.freed?.take(t.tenant, t.network, address)) return {};
    await this.opts.netmaster.releaseAddress({ tenant: t.tenant, network: t.network, address });
    return {};
  }
}
