// Owns the names of OpenFlow 1.3 error types and codes (spec tables, plus the ONF and Nicira
// experimenter errors Open vSwitch sends to 1.3 controllers) and the Error thrown for an ERROR reply.
// It never decodes bytes and never imports anything outside controller/openflow.

import type { ErrorMsg, OFMessage } from './messages.js';
import { NX_VENDOR_ID, ONF_EXPERIMENTER_ID } from './messages.js';

/** ofp_error_type */
export const enum OFPET {
  HELLO_FAILED = 0,
  BAD_REQUEST = 1,
  BAD_ACTION = 2,
  BAD_INSTRUCTION = 3,
  BAD_MATCH = 4,
  FLOW_MOD_FAILED = 5,
  GROUP_MOD_FAILED = 6,
  PORT_MOD_FAILED = 7,
  TABLE_MOD_FAILED = 8,
  QUEUE_OP_FAILED = 9,
  SWITCH_CONFIG_FAILED = 10,
  ROLE_REQUEST_FAILED = 11,
  METER_MOD_FAILED = 12,
  TABLE_FEATURES_FAILED = 13,
  EXPERIMENTER = 0xffff,
}

interface ErrorTable {
  typeName: string;
  /** Code names indexed by code; the spec numbers them densely from 0. */
  codes: readonly string[];
}

// OpenFlow 1.3.5 section A.4.4, in order of error type.
const STANDARD: readonly ErrorTable[] = [
  { typeName: 'OFPET_HELLO_FAILED', codes: ['OFPHFC_INCOMPATIBLE', 'OFPHFC_EPERM'] },
  {
    typeName: 'OFPET_BAD_REQUEST',
    codes: [
      'OFPBRC_BAD_VERSION',
      'OFPBRC_BAD_TYPE',
      'OFPBRC_BAD_MULTIPART',
      'OFPBRC_BAD_EXPERIMENTER',
      'OFPBRC_BAD_EXP_TYPE',
      'OFPBRC_EPERM',
      'OFPBRC_BAD_LEN',
      'OFPBRC_BUFFER_EMPTY',
      'OFPBRC_BUFFER_UNKNOWN',
      'OFPBRC_BAD_TABLE_ID',
      'OFPBRC_IS_SLAVE',
      'OFPBRC_BAD_PORT',
      'OFPBRC_BAD_PACKET',
      'OFPBRC_MULTIPART_BUFFER_OVERFLOW',
    ],
  },
  {
    typeName: 'OFPET_BAD_ACTION',
    codes: [
      'OFPBAC_BAD_TYPE',
      'OFPBAC_BAD_LEN',
      'OFPBAC_BAD_EXPERIMENTER',
      'OFPBAC_BAD_EXP_TYPE',
      'OFPBAC_BAD_OUT_PORT',
      'OFPBAC_BAD_ARGUMENT',
      'OFPBAC_EPERM',
      'OFPBAC_TOO_MANY',
      'OFPBAC_BAD_QUEUE',
      'OFPBAC_BAD_OUT_GROUP',
      'OFPBAC_MATCH_INCONSISTENT',
      'OFPBAC_UNSUPPORTED_ORDER',
      'OFPBAC_BAD_TAG',
      'OFPBAC_BAD_SET_TYPE',
      'OFPBAC_BAD_SET_LEN',
      'OFPBAC_BAD_SET_ARGUMENT',
    ],
  },
  {
    typeName: 'OFPET_BAD_INSTRUCTION',
    codes: [
      'OFPBIC_UNKNOWN_INST',
      'OFPBIC_UNSUP_INST',
      'OFPBIC_BAD_TABLE_ID',
      'OFPBIC_UNSUP_METADATA',
      'OFPBIC_UNSUP_METADATA_MASK',
      'OFPBIC_BAD_EXPERIMENTER',
      'OFPBIC_BAD_EXP_TYPE',
      'OFPBIC_BAD_LEN',
      'OFPBIC_EPERM',
    ],
  },
  {
    typeName: 'OFPET_BAD_MATCH',
    codes: [
      'OFPBMC_BAD_TYPE',
      'OFPBMC_BAD_LEN',
      'OFPBMC_BAD_TAG',
      'OFPBMC_BAD_DL_ADDR_MASK',
      'OFPBMC_BAD_NW_ADDR_MASK',
      'OFPBMC_BAD_WILDCARDS',
      'OFPBMC_BAD_FIELD',
      'OFPBMC_BAD_VALUE',
      'OFPBMC_BAD_MASK',
      'OFPBMC_BAD_PREREQ',
      'OFPBMC_DUP_FIELD',
      'OFPBMC_EPERM',
    ],
  },
  {
    typeName: 'OFPET_FLOW_MOD_FAILED',
    codes: [
      'OFPFMFC_UNKNOWN',
      'OFPFMFC_TABLE_FULL',
      'OFPFMFC_BAD_TABLE_ID',
      'OFPFMFC_OVERLAP',
      'OFPFMFC_EPERM',
      'OFPFMFC_BAD_TIMEOUT',
      'OFPFMFC_BAD_COMMAND',
      'OFPFMFC_BAD_FLAGS',
    ],
  },
  {
    typeName: 'OFPET_GROUP_MOD_FAILED',
    codes: [
      'OFPGMFC_GROUP_EXISTS',
      'OFPGMFC_INVALID_GROUP',
      'OFPGMFC_WEIGHT_UNSUPPORTED',
      'OFPGMFC_OUT_OF_GROUPS',
      'OFPGMFC_OUT_OF_BUCKETS',
      'OFPGMFC_CHAINING_UNSUPPORTED',
      'OFPGMFC_WATCH_UNSUPPORTED',
      'OFPGMFC_LOOP',
      'OFPGMFC_UNKNOWN_GROUP',
      'OFPGMFC_CHAINED_GROUP',
      'OFPGMFC_BAD_TYPE',
      'OFPGMFC_BAD_COMMAND',
      'OFPGMFC_BAD_BUCKET',
      'OFPGMFC_BAD_WATCH',
      'OFPGMFC_EPERM',
    ],
  },
  {
    typeName: 'OFPET_PORT_MOD_FAILED',
    codes: [
      'OFPPMFC_BAD_PORT',
      'OFPPMFC_BAD_HW_ADDR',
      'OFPPMFC_BAD_CONFIG',
      'OFPPMFC_BAD_ADVERTISE',
      'OFPPMFC_EPERM',
    ],
  },
  { typeName: 'OFPET_TABLE_MOD_FAILED', codes: ['OFPTMFC_BAD_TABLE', 'OFPTMFC_BAD_CONFIG', 'OFPTMFC_EPERM'] },
  { typeName: 'OFPET_QUEUE_OP_FAILED', codes: ['OFPQOFC_BAD_PORT', 'OFPQOFC_BAD_QUEUE', 'OFPQOFC_EPERM'] },
  {
    typeName: 'OFPET_SWITCH_CONFIG_FAILED',
    codes: ['OFPSCFC_BAD_FLAGS', 'OFPSCFC_BAD_LEN', 'OFPSCFC_EPERM'],
  },
  { typeName: 'OFPET_ROLE_REQUEST_FAILED', codes: ['OFPRRFC_STALE', 'OFPRRFC_UNSUP', 'OFPRRFC_BAD_ROLE'] },
  {
    typeName: 'OFPET_METER_MOD_FAILED',
    codes: [
      'OFPMMFC_UNKNOWN',
      'OFPMMFC_METER_EXISTS',
      'OFPMMFC_INVALID_METER',
      'OFPMMFC_UNKNOWN_METER',
      'OFPMMFC_BAD_COMMAND',
      'OFPMMFC_BAD_FLAGS',
      'OFPMMFC_BAD_RATE',
      'OFPMMFC_BAD_BURST',
      'OFPMMFC_BAD_BAND',
      'OFPMMFC_BAD_BAND_VALUE',
      'OFPMMFC_OUT_OF_METERS',
      'OFPMMFC_OUT_OF_BANDS',
    ],
  },
  {
    typeName: 'OFPET_TABLE_FEATURES_FAILED',
    codes: [
      'OFPTFFC_BAD_TABLE',
      'OFPTFFC_BAD_METADATA',
      'OFPTFFC_BAD_TYPE',
      'OFPTFFC_BAD_LEN',
      'OFPTFFC_BAD_ARGUMENT',
      'OFPTFFC_EPERM',
    ],
  },
];

/**
 * ONF extension errors for OpenFlow 1.3 (experimenter ONF_EXPERIMENTER_ID, the number is the exp_type
 * carried in the code field). Names from the ONF extension spec; OVS prints the 1.4 names instead
 * (e.g. ONFERR_ET_BAD_ID is OVS's OFPBFC_BAD_ID). Numbers verified in OVS ofp-errors.h ("ONF1.3(n)").
 */
const ONF: ReadonlyMap<number, string> = new Map([
  [2300, 'ONFERR_ET_UNKNOWN'],
  [2301, 'ONFERR_ET_EPERM'],
  [2302, 'ONFERR_ET_BAD_ID'],
  [2303, 'ONFERR_ET_BUNDLE_EXIST'],
  [2304, 'ONFERR_ET_BUNDLE_CLOSED'],
  [2305, 'ONFERR_ET_OUT_OF_BUNDLES'],
  [2306, 'ONFERR_ET_BAD_TYPE'],
  [2307, 'ONFERR_ET_BAD_FLAGS'],
  [2308, 'ONFERR_ET_MSG_BAD_LEN'],
  [2309, 'ONFERR_ET_MSG_BAD_XID'],
  [2310, 'ONFERR_ET_MSG_UNSUP'],
  [2311, 'ONFERR_ET_MSG_CONFLICT'],
  [2312, 'ONFERR_ET_MSG_TOO_MANY'],
  [2313, 'ONFERR_ET_FAILED'],
  [2314, 'ONFERR_ET_TIMEOUT'],
  [2315, 'ONFERR_ET_BUNDLE_IN_PROGRESS'],
  [2360, 'ONFERR_ET_BAD_PRIORITY'],
  [2370, 'ONFERR_ET_ASYNC_INVALID'],
  [2371, 'ONFERR_ET_ASYNC_UNSUPPORTED'],
  [2372, 'ONFERR_ET_ASYNC_EPERM'],
  [2600, 'ONFERR_DUP_INSTRUCTION'],
  [2640, 'ONFERR_ET_MPART_REQUEST_TIMEOUT'],
  [2641, 'ONFERR_ET_MPART_REPLY_TIMEOUT'],
  [4250, 'ONFERR_ET_BAD_SET_MASK'],
  [4443, 'ONFERR_ET_PROP_TOO_MANY'],
  [4444, 'ONFERR_ET_PROP_DUP_TYPE'],
  [4445, 'ONFERR_ET_PROP_BAD_EXPERIMENTER'],
  [4446, 'ONFERR_ET_PROP_BAD_EXP_TYPE'],
  [4447, 'ONFERR_ET_PROP_BAD_EXP_VALUE'],
  [4448, 'ONFERR_ET_PROP_EPERM'],
]);

/** Nicira extension errors OVS sends to OpenFlow 1.2+ controllers ("NX1.2+(n)" in OVS ofp-errors.h). */
const NX: ReadonlyMap<number, string> = new Map([
  [2, 'NXBRC_NXM_INVALID'],
  [3, 'NXBRC_NXM_BAD_TYPE'],
  [4, 'NXBRC_MUST_BE_ZERO'],
  [5, 'NXBRC_BAD_REASON'],
  [6, 'OFPMOFC_MONITOR_EXISTS'],
  [7, 'OFPMOFC_BAD_FLAGS'],
  [8, 'OFPMOFC_UNKNOWN_MONITOR'],
  [9, 'NXBRC_FM_BAD_EVENT'],
  [10, 'NXBRC_UNENCODABLE_ERROR'],
  [11, 'NXBAC_MUST_BE_ZERO'],
  [12, 'NXFMFC_HARDWARE'],
  [13, 'NXFMFC_BAD_TABLE_ID'],
  [15, 'NXBAC_BAD_CONJUNCTION'],
  [16, 'NXTTMFC_BAD_COMMAND'],
  [17, 'NXTTMFC_BAD_OPT_LEN'],
  [18, 'NXTTMFC_BAD_FIELD_IDX'],
  [19, 'NXTTMFC_TABLE_FULL'],
  [20, 'NXTTMFC_ALREADY_MAPPED'],
  [21, 'NXTTMFC_DUP_ENTRY'],
  [34, 'NXR_NOT_SUPPORTED'],
  [35, 'NXR_STALE'],
  [36, 'NXST_NOT_CONFIGURED'],
  [37, 'NXFMFC_INVALID_TLV_FIELD'],
  [38, 'NXTTMFC_INVALID_TLV_DEL'],
  [39, 'NXBAC_BAD_HEADER_TYPE'],
  [40, 'NXBAC_UNKNOWN_ED_PROP'],
  [41, 'NXBAC_BAD_ED_PROP'],
  [42, 'NXBAC_CT_DATAPATH_SUPPORT'],
  [43, 'NXBMC_CT_DATAPATH_SUPPORT'],
  [44, 'NXTFFC_DUP_TABLE'],
]);

export interface ErrorNames {
  typeName: string;
  codeName: string;
}

/**
 * Names an error. For OFPET_EXPERIMENTER the code is the experimenter's exp_type and
 * `experimenter` (the 32-bit id that follows it on the wire) picks the table.
 * Unknown numbers get descriptive placeholders rather than failing: the error is still reported.
 */
export function errorNames(type: number, code: number, experimenter?: number): ErrorNames {
  if (type === OFPET.EXPERIMENTER) {
    const table = experimenter === ONF_EXPERIMENTER_ID ? ONF : experimenter === NX_VENDOR_ID ? NX : undefined;
    const name = table?.get(code);
    const vendor = `experimenter 0x${(experimenter ?? 0).toString(16).padStart(8, '0')}`;
    return { typeName: 'OFPET_EXPERIMENTER', codeName: name ?? `UNKNOWN(${vendor} exp_type ${code})` };
  }
  const table = STANDARD[type];
  if (table === undefined) return { typeName: `OFPET_UNKNOWN(${type})`, codeName: `UNKNOWN(${code})` };
  return { typeName: table.typeName, codeName: table.codes[code] ?? `UNKNOWN(${code})` };
}

/** What a request's caller receives when the switch answers it with OFPT_ERROR. */
export class OFErrorReply extends Error {
  override readonly name = 'OFErrorReply';
  constructor(
    readonly reply: ErrorMsg,
    /** The message the switch refused, when the sender still knows it (batches, bundles). */
    readonly request?: OFMessage,
  ) {
    super(`${reply.typeName}/${reply.codeName} (xid 0x${reply.xid.toString(16)})${describeRequest(request)}`);
  }

  get typeName(): string {
    return this.reply.typeName;
  }

  get codeName(): string {
    return this.reply.codeName;
  }
}

/** Enough of a refused message to find it: which flow, group or meter. */
function describeRequest(m: OFMessage | undefined): string {
  if (m === undefined) return '';
  switch (m.type) {
    case 'flowMod':
      return ` for flow_mod table=${m.tableId} priority=${m.priority} cookie=0x${m.cookie.toString(16)} match=${JSON.stringify(m.match, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`;
    case 'groupMod':
      return ` for group_mod group_id=${m.groupId}`;
    case 'meterMod':
      return ` for meter_mod meter=${m.meterId}`;
    default:
      return ` for ${m.type}`;
  }
}
