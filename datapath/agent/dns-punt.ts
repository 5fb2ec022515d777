// Owns the controller's side of the DNS punt: a query a local container sent (punted by the dns
// table with the pipeline registers in the packet-in match) is answered with a PACKET_OUT of our
// reply straight back to the container's port when the name is ours; otherwise the query goes on
// through the pipeline where it left it, registers restored, to the container's own resolver.

import type { Action } from '../../controller/openflow/actions.js';
import { cookieFeature, Feature } from '../../controller/openflow/cookie.js';
import type { Match } from '../../controller/openflow/match.js';
import { OFP_NO_BUFFER, OFPP, type PacketIn, type PacketOut } from '../../controller/openflow/messages.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import { nextTable } from '../pipeline/tables.js';
import type { HostAgent } from './agent.js';

/** Answers a DNS query of a tenant's container; undefined: not ours. */
export type DnsAnswer = (query: Buffer, tenant: string) => Buffer | undefined;

const ETH_HEADER = 14;
const ETH_VLAN = 0x8100;
const ETH_IP = 0x0800;
const PROTO_UDP = 17;
const UDP_HEADER = 8;

interface UdpFrame {
  /** Offset of the IPv4 header. */
  ip: number;
  ipHeaderLen: number;
  payload: Buffer;
}

/** The DNS payload of an Ethernet/IPv4/UDP frame, undefined for anything else or a truncated frame. */
export function parseUdpFrame(frame: Buffer): UdpFrame | undefined {
  if (frame.length < ETH_HEADER + 20 + UDP_HEADER) return undefined;
  let ip = ETH_HEADER;
  let ethType = frame.readUInt16BE(12);
  if (ethType === ETH_VLAN) {
    ethType = frame.readUInt16BE(16);
    ip += 4;
  }
  if (ethType !== ETH_IP || frame.length < ip + 20) return undefined;
  const vihl = frame[ip] as number;
  const ipHeaderLen = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ipHeaderLen < 20 || frame[ip + 9] !== PROTO_UDP) return undefined;
  // Fragments carry no whole query.
  if ((frame.readUInt16BE(ip + 6) & 0x3fff) !== 0) return undefined;
  const total = frame.readUInt16BE(ip + 2);
  const udp = ip + ipHeaderLen;
  if (total < ipHeaderLen + UDP_HEADER || frame.length < ip + total) return undefined;
  const udpLen = frame.readUInt16BE(udp + 4);
  if (udpLen < UDP_HEADER || udpLen > total - ipHeaderLen) return undefined;
  return { ip, ipHeaderLen, payload: frame.subarray(udp + UDP_HEADER, udp + udpLen) };
}

function checksum(buf: Buffer, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i + 1 < end; i += 2) sum += buf.readUInt16BE(i);
  if ((end - start) & 1) sum += (buf[end - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The reply frame to `query` carrying `answer`: addresses and ports swapped, checksums made. */
export function replyFrame(query: Buffer, q: UdpFrame, answer: Buffer): Buffer {
  const ipLen = 20 + UDP_HEADER + answer.length;
  const out = Buffer.alloc(ETH_HEADER + ipLen);
  // Ethernet: back to the sender from whom it asked (untagged: local ports carry no tag).
  query.copy(out, 0, 6, 12);
  query.copy(out, 6, 0, 6);
  out.writeUInt16BE(ETH_IP, 12);
  const ip = ETH_HEADER;
  out[ip] = 0x45;
  out.writeUInt16BE(ipLen, ip + 2);
  out[ip + 8] = 64;
  out[ip + 9] = PROTO_UDP;
  query.copy(out, ip + 12, q.ip + 16, q.ip + 20);
  query.copy(out, ip + 16, q.ip + 12, q.ip + 16);
  out.writeUInt16BE(~checksum(out, ip, ip + 20) & 0xffff, ip + 10);
  const udp = ip + 20;
  const qUdp = q.ip + q.ipHeaderLen;
  query.copy(out, udp, qUdp + 2, qUdp + 4);
  query.copy(out, udp + 2, qUdp, qUdp + 2);
  out.writeUInt16BE(UDP_HEADER + answer.length, udp + 4);
  answer.copy(out, udp + UDP_HEADER);
  // Pseudo-header: addresses, protocol, UDP length.
  let pseudo = checksum(out, ip + 12, ip + 20);
  pseudo += PROTO_UDP + UDP_HEADER + answer.length;
  const sum = ~checksum(out, udp, out.length, pseudo) & 0xffff;
  out.writeUInt16BE(sum === 0 ? 0xffff : sum, udp + 6);
  return out;
}

/** A register of the packet-in match as a number (OVS sends the pipeline registers it had). */
function reg(m: Match, field: 'reg0' | 'reg4' | 'reg5' | 'reg6' | 'reg7'): number {
  const v = m[field];
  return v === undefined ? 0 : typeof v === 'number' ? v : v.value;
}

/**
 * What to send for a punted packet: our answer back to its port, or the query itself resumed at
 * the table after dns with the registers it had. Undefined for a packet-in that is not a punt.
 */
export function puntResponse(
  pin: PacketIn,
  answer: DnsAnswer,
  tenantOfVrf: (vrf: number) => string | undefined,
): PacketOut | undefined {
  const inPort = pin.match.inPort;
  if (inPort === undefined) return undefined;
  const frame = Buffer.from(pin.data);
  const q = parseUdpFrame(frame);
  const vrf = reg(pin.match, 'reg7') & 0xffff;
  const tenant = tenantOfVrf(vrf);
  const reply = q && tenant !== undefined ? answer(q.payload, tenant) : undefined;
  if (q && reply) {
    return {
      type: 'packetOut',
      xid: 0,
      bufferId: OFP_NO_BUFFER,
      inPort: OFPP.CONTROLLER,
      actions: [{ type: 'output', port: inPort }],
      data: replyFrame(frame, q, reply),
    };
  }
  const restore: Action[] = (['reg0', 'reg4', 'reg5', 'reg6', 'reg7'] as const).map((field) => ({
    type: 'regLoad',
    dst: { field, ofs: 0, nBits: 32 },
    value: BigInt(reg(pin.match, field) >>> 0),
  }));
  return {
    type: 'packetOut',
    xid: 0,
    bufferId: OFP_NO_BUFFER,
    inPort,
    actions: [...restore, { type: 'resubmit', table: nextTable('dns') }],
    data: frame,
  };
}

/** Answers the DNS punts of an agent's switch from now on; returns the unsubscribe. */
export function servePunts(agent: HostAgent, answer: DnsAnswer): () => void {
  const onPacketIn = (pin: PacketIn, conn: SwitchConnection) => {
    if (cookieFeature(pin.cookie) !== Feature.Dns) return;
    const out = puntResponse(pin, answer, (vrf) => agent.tenantOfVrf(vrf));
    if (out && conn.isOpen) conn.send(out);
  };
  agent.on('packetIn', onPacketIn);
  return () => agent.off('packetIn', onPacketIn);
}
