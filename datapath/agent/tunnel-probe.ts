// Owns making a new VXLAN tunnel usable before its first packet: userspace OVS drops a packet to
// a remote VTEP whose MAC it has not learnt and only then ARPs for it, so the first packet to a new
// host was lost. A probe sent out of the tunnel makes OVS resolve the VTEP's neighbour (its own
// route and ARP, the cache tnl/neigh/show lists) at once. Never sends anything but the probe.

import { OFP_NO_BUFFER, OFPP, type PacketOut } from '../../controller/openflow/messages.js';

// Broadcast from a locally administered MAC, IEEE's local experimental ethertype: tun_id 0 is
// no network's, so the remote host's classify table drops it if it is sent at all.
const PROBE_FRAME = Buffer.concat([
  Buffer.from('ffffffffffff020000000001' + '88b5', 'hex'),
  Buffer.alloc(46),
]);

/** The PACKET_OUT that sends a probe out of tunnel port `ofport`. */
export function tunnelProbe(ofport: number): PacketOut {
  return {
    type: 'packetOut',
    xid: 0,
    bufferId: OFP_NO_BUFFER,
    inPort: OFPP.CONTROLLER,
    actions: [{ type: 'output', port: ofport }],
    data: PROBE_FRAME,
  };
}
