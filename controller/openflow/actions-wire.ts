// Owns the wire numbers of OpenFlow 1.3 actions and instructions (types, Nicira subtypes, flags) and
// what encoder and decoder share about them. Imports nothing outside controller/openflow.

// OpenFlow 1.3 §7.2.4-7.2.5; OVS include/openflow/nicira-ext.h, include/openvswitch/ofp-actions.h and
// lib/ofp-actions.c (enum ofp_raw_action_type).

export const enum OFPAT {
  OUTPUT = 0,
  SET_MPLS_TTL = 15,
  PUSH_VLAN = 17,
  POP_VLAN = 18,
  SET_QUEUE = 21,
  GROUP = 22,
  SET_NW_TTL = 23,
  DEC_NW_TTL = 24,
  SET_FIELD = 25,
  EXPERIMENTER = 0xffff,
}

export const enum NXAST {
  RESUBMIT = 1,
  REG_MOVE = 6,
  REG_LOAD = 7,
  NOTE = 8,
  RESUBMIT_TABLE = 14,
  OUTPUT_REG = 15,
  CONTROLLER = 20,
  CONJUNCTION = 34,
  CT = 35,
  NAT = 36,
  CT_CLEAR = 43,
}

export const enum OFPIT {
  GOTO_TABLE = 1,
  WRITE_METADATA = 2,
  WRITE_ACTIONS = 3,
  APPLY_ACTIONS = 4,
  CLEAR_ACTIONS = 5,
  METER = 6,
}

export const NX_VENDOR_ID = 0x00002320;
export const OFPP_CONTROLLER = 0xfffffffd;
export const OFPP_IN_PORT = 0xfffffff8;
/** OFPCML_NO_BUFFER: send the whole packet. (0xffe5 is OFPCML_MAX, the largest byte count.) */
export const OFPCML_NO_BUFFER = 0xffff;
/** OFPR_ACTION: the packet-in reason of an explicit controller action. */
export const OFPR_ACTION = 1;
export const NX_CT_F_COMMIT = 1;
export const NX_CT_F_FORCE = 2;
export const NX_CT_RECIRC_NONE = 0xff;
export const NX_NAT_F_SRC = 1;
export const NX_NAT_F_DST = 2;
export const NX_NAT_F_PERSISTENT = 4;
export const NX_NAT_F_PROTO_HASH = 8;
export const NX_NAT_F_PROTO_RANDOM = 16;
export const NX_NAT_RANGE_IPV4_MIN = 1;
export const NX_NAT_RANGE_IPV4_MAX = 2;
export const NX_NAT_RANGE_IPV6_MIN = 4;
export const NX_NAT_RANGE_IPV6_MAX = 8;
export const NX_NAT_RANGE_PROTO_MIN = 16;
export const NX_NAT_RANGE_PROTO_MAX = 32;

/** A 32-bit OpenFlow 1.3 port as the 16-bit port of Nicira actions (OFPP_* keep their meaning). */
export function toNxPort(port: number): number {
  if (port >= 0 && port < 0xff00) return port;
  if (port >= 0xffffff00 && port <= 0xffffffff) return port - 0xffff0000;
  throw new Error(`resubmit.port: ${port} has no 16-bit Nicira port number`);
}

export function fromNxPort(port: number): number {
  return port >= 0xff00 ? port + 0xffff0000 : port;
}
