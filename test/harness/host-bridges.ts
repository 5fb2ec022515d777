// Owns the integration bridge of two simulated hosts for the pipeline tests that compile by hand:
// `brint` on each host's OVS, joined by a VXLAN tunnel to the other host or, for VLAN, by the
// underlay veth itself as the uplink (its frames carry the networks' tags).
import { OvsdbClient } from '../../datapath/ovsdb/client.js';
import { VSwitch } from '../../datapath/vswitch.js';
import type { Host } from './hosts.js';

export const HOST_BRIDGE = 'brint';

/** Makes both hosts' bridges and their tunnel (vxlan) or uplink (vlan) port at the ofport given. */
export async function joinHostBridges(
  hosts: readonly [Host, Host],
  encap: 'vxlan' | 'vlan',
  ofports: { tunnel: number; uplink: number },
): Promise<void> {
  const [h1, h2] = hosts;
  for (const [h, peer] of [
    [h1, h2],
    [h2, h1],
  ] as const) {
    const client = await OvsdbClient.connect(`unix:${h.ovs.dbSock}`);
    try {
      const vs = new VSwitch(client, { name: HOST_BRIDGE, datapathType: 'netdev', owner: 'netplugin' });
      await vs.ensureBridge();
      const want = encap === 'vxlan' ? ofports.tunnel : ofports.uplink;
      if (encap === 'vxlan') await h.vtep();
      const got =
        encap === 'vxlan'
          ? await vs.addPort({
              name: `vx-${peer.name}`,
              kind: 'vxlan',
              remoteIp: peer.underlayIp,
              key: 'flow',
              ofportRequest: want,
            })
          : await vs.addPort({ name: h.underlayIf, kind: 'system', ofportRequest: want });
      if (got !== want) throw new Error(`${h.name}: ${encap} port got ofport ${got}, not ${want}`);
    } finally {
      await client.close();
    }
  }
}
