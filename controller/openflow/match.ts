// Owns the OpenFlow 1.3 match (ofp_match of type OXM): field model, encoding and decoding.
// Imports nothing outside controller/openflow.

import type { Reader, Writer } from './buffer.js';

/** A value, or a value with a mask (bits set in the mask are matched). */
export type Masked<T> = T | { value: T; mask: T };

/**
 * The fields a flow can match on. Representation (also used by set_field actions):
 * - ports, 8/16/32-bit fields, registers: number (unsigned)
 * - 64-bit and wider fields (metadata, tunnelId, tunId, xxreg*, ctLabel): bigint
 * - MAC addresses: lower-case "aa:bb:cc:dd:ee:ff"
 * - IPv4 addresses: dotted "10.1.1.1"; IPv6: canonical RFC 5952 text ("fe80::1")
 * - vlanVid: the 12-bit VID with OFPVID_PRESENT (0x1000) set when a tag is present, as on the wire
 *   (0x1000|vid matches a tag, 0 matches untagged, {value:0x1000,mask:0x1000} matches any tag)
 * - ctState: bits as in OVS (new=0x01, est=0x02, rel=0x04, rpl=0x08, inv=0x10, trk=0x20, snat=0x40,
 *   dnat=0x80); use `ctState("+trk+new")` to build one
 */
export interface Match {
  inPort?: number;
  inPhyPort?: number;
  metadata?: Masked<bigint>;
  ethDst?: Masked<string>;
  ethSrc?: Masked<string>;
  ethType?: number;
  vlanVid?: Masked<number>;
  vlanPcp?: number;
  ipDscp?: number;
  ipEcn?: number;
  ipProto?: number;
  ipv4Src?: Masked<string>;
  ipv4Dst?: Masked<string>;
  tcpSrc?: Masked<number>;
  tcpDst?: Masked<number>;
  udpSrc?: Masked<number>;
  udpDst?: Masked<number>;
  sctpSrc?: Masked<number>;
  sctpDst?: Masked<number>;
  icmpv4Type?: number;
  icmpv4Code?: number;
  arpOp?: number;
  arpSpa?: Masked<string>;
  arpTpa?: Masked<string>;
  arpSha?: Masked<string>;
  arpTha?: Masked<string>;
  ipv6Src?: Masked<string>;
  ipv6Dst?: Masked<string>;
  ipv6Flabel?: Masked<number>;
  icmpv6Type?: number;
  icmpv6Code?: number;
  ipv6NdTarget?: Masked<string>;
  ipv6NdSll?: Masked<string>;
  ipv6NdTll?: Masked<string>;
  tunnelId?: Masked<bigint>;
  // Nicira extension fields (NXM_NX class and NX experimenter OXMs).
  reg0?: Masked<number>;
  reg1?: Masked<number>;
  reg2?: Masked<number>;
  reg3?: Masked<number>;
  reg4?: Masked<number>;
  reg5?: Masked<number>;
  reg6?: Masked<number>;
  reg7?: Masked<number>;
  reg8?: Masked<number>;
  reg9?: Masked<number>;
  reg10?: Masked<number>;
  reg11?: Masked<number>;
  reg12?: Masked<number>;
  reg13?: Masked<number>;
  reg14?: Masked<number>;
  reg15?: Masked<number>;
  xxreg0?: Masked<bigint>;
  xxreg1?: Masked<bigint>;
  xxreg2?: Masked<bigint>;
  xxreg3?: Masked<bigint>;
  tunId?: Masked<bigint>;
  tunIpv4Src?: Masked<string>;
  tunIpv4Dst?: Masked<string>;
  ctState?: Masked<number>;
  ctZone?: number;
  ctMark?: Masked<number>;
  ctLabel?: Masked<bigint>;
  conjId?: number;
}

export type MatchField = keyof Match;

/** Encodes a whole ofp_match (type OXM, length, the OXM TLVs, zero padding to 8 bytes). */
export function encodeMatch(w: Writer, m: Match): void {
  void w;
  void m;
  throw new Error('encodeMatch: not written yet');
}

/** Decodes a whole ofp_match, padding included. Throws OFCodecError on a malformed one. */
export function decodeMatch(r: Reader): Match {
  void r;
  throw new Error('decodeMatch: not written yet');
}

/** Encodes one field as a single OXM TLV (no mask unless the value carries one); used by set_field. */
export function encodeOxm(w: Writer, field: MatchField, value: NonNullable<Match[MatchField]>): void {
  void w;
  void field;
  void value;
  throw new Error('encodeOxm: not written yet');
}

/** Decodes one OXM TLV into `into`. */
export function decodeOxm(r: Reader, into: Match): MatchField {
  void r;
  void into;
  throw new Error('decodeOxm: not written yet');
}
