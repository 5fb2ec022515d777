// Owns the host side of the host port (contivh0): its address and MAC in the host's namespace and
// the kernel's NAT onwards (MASQUERADE of the private subnet), removed when the subnet changes or
// goes. The port itself is the port sync's.

import { macFromIPv4 } from '../../policy/ipam/addr.js';
import {
  configureInterface,
  ensureHostNat,
  linkExists,
  type NetnsRef,
  removeHostNat,
} from '../host/index.js';
import { HOST_PORT_NAME } from '../pipeline/hostaccess.js';

export class HostNat {
  /** The private subnet our MASQUERADE rule is for, once made. */
  private natSubnet: string | undefined;

  constructor(private readonly netns: NetnsRef | undefined) {}

  /** Follows the private subnet; hostIp is the host port's address in it, undefined for none. */
  async sync(pvtSubnet: string, hostIp: string | undefined): Promise<void> {
    if (this.natSubnet !== undefined && this.natSubnet !== (hostIp && pvtSubnet)) {
      await removeHostNat(this.netns, this.natSubnet, HOST_PORT_NAME);
      this.natSubnet = undefined;
    }
    if (hostIp) await this.configureHostSide(pvtSubnet, hostIp);
  }

  /** The host port's address and MAC in the host namespace, and the kernel's NAT onwards. */
  private async configureHostSide(pvtSubnet: string, ip: string): Promise<void> {
    const netns = this.netns;
    // The dummy datapath (tests) makes no kernel device: the flows are all there is.
    if (!(await linkExists(HOST_PORT_NAME, netns))) return;
    const ns = netns === undefined ? {} : { netns };
    await configureInterface({
      ...ns,
      ifName: HOST_PORT_NAME,
      mac: macFromIPv4(ip),
      addresses: [`${ip}/16`],
      up: true,
    });
    await ensureHostNat(netns, pvtSubnet, HOST_PORT_NAME);
    this.natSubnet = pvtSubnet;
  }
}
