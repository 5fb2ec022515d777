// Owns the OpenFlow 1.3 message model: one interface per message, tagged by `type`.
// Encoders live in encode.ts, the streaming decoder in parser.ts. Imports nothing outside controller/openflow.

import type { Action, Instruction } from './actions.js';
import type { Match } from './match.js';

export const OFP_VERSION = 0x04;
export const OFP_HEADER_LEN = 8;
export const OFP_NO_BUFFER = 0xffffffff;

/** Wire message types (ofp_type). */
export const enum OFPT {
  HELLO = 0,
  ERROR = 1,
  ECHO_REQUEST = 2,
  ECHO_REPLY = 3,
  EXPERIMENTER = 4,
  FEATURES_REQUEST = 5,
  FEATURES_REPLY = 6,
  GET_CONFIG_REQUEST = 7,
  GET_CONFIG_REPLY = 8,
  SET_CONFIG = 9,
  PACKET_IN = 10,
  FLOW_REMOVED = 11,
  PORT_STATUS = 12,
  PACKET_OUT = 13,
  FLOW_MOD = 14,
  GROUP_MOD = 15,
  PORT_MOD = 16,
  TABLE_MOD = 17,
  MULTIPART_REQUEST = 18,
  MULTIPART_REPLY = 19,
  BARRIER_REQUEST = 20,
  BARRIER_REPLY = 21,
  QUEUE_GET_CONFIG_REQUEST = 22,
  QUEUE_GET_CONFIG_REPLY = 23,
  ROLE_REQUEST = 24,
  ROLE_REPLY = 25,
  GET_ASYNC_REQUEST = 26,
  GET_ASYNC_REPLY = 27,
  SET_ASYNC = 28,
  METER_MOD = 29,
}

/** Reserved port numbers (ofp_port_no). */
export const enum OFPP {
  MAX = 0xffffff00,
  IN_PORT = 0xfffffff8,
  TABLE = 0xfffffff9,
  NORMAL = 0xfffffffa,
  FLOOD = 0xfffffffb,
  ALL = 0xfffffffc,
  CONTROLLER = 0xfffffffd,
  LOCAL = 0xfffffffe,
  ANY = 0xffffffff,
}

export const OFPTT_ALL = 0xff;
export const OFPG_ANY = 0xffffffff;
export const OFPG_ALL = 0xfffffffc;
export const OFPM_ALL = 0xffffffff;

export const enum FlowModCommand {
  ADD = 0,
  MODIFY = 1,
  MODIFY_STRICT = 2,
  DELETE = 3,
  DELETE_STRICT = 4,
}

/** ofp_flow_mod_flags */
export const enum FlowModFlags {
  SEND_FLOW_REM = 1 << 0,
  CHECK_OVERLAP = 1 << 1,
  RESET_COUNTS = 1 << 2,
  NO_PKT_COUNTS = 1 << 3,
  NO_BYT_COUNTS = 1 << 4,
}

export const enum MultipartType {
  DESC = 0,
  FLOW = 1,
  AGGREGATE = 2,
  TABLE = 3,
  PORT_STATS = 4,
  QUEUE = 5,
  GROUP = 6,
  GROUP_DESC = 7,
  GROUP_FEATURES = 8,
  METER = 9,
  METER_CONFIG = 10,
  METER_FEATURES = 11,
  TABLE_FEATURES = 12,
  PORT_DESC = 13,
  EXPERIMENTER = 0xffff,
}

export const enum ControllerRole {
  NOCHANGE = 0,
  EQUAL = 1,
  MASTER = 2,
  SLAVE = 3,
}

export const enum GroupModCommand {
  ADD = 0,
  MODIFY = 1,
  DELETE = 2,
}

export const enum GroupType {
  ALL = 0,
  SELECT = 1,
  INDIRECT = 2,
  FF = 3,
}

export const enum MeterModCommand {
  ADD = 0,
  MODIFY = 1,
  DELETE = 2,
}

/** ofp_meter_flags */
export const enum MeterFlags {
  KBPS = 1 << 0,
  PKTPS = 1 << 1,
  BURST = 1 << 2,
  STATS = 1 << 3,
}

export const enum BundleCtrlType {
  OPEN_REQUEST = 0,
  OPEN_REPLY = 1,
  CLOSE_REQUEST = 2,
  CLOSE_REPLY = 3,
  COMMIT_REQUEST = 4,
  COMMIT_REPLY = 5,
  DISCARD_REQUEST = 6,
  DISCARD_REPLY = 7,
}

/** ofp_bundle_flags */
export const enum BundleFlags {
  ATOMIC = 1 << 0,
  ORDERED = 1 << 1,
}

export const ONF_EXPERIMENTER_ID = 0x4f4e4600;
export const NX_VENDOR_ID = 0x00002320;
export const ONFT_BUNDLE_CONTROL = 2300;
export const ONFT_BUNDLE_ADD_MESSAGE = 2301;

/** Common to every message: the transaction id. `encode` fills xid 0 when omitted. */
interface Base {
  xid: number;
}

export interface Hello extends Base {
  type: 'hello';
  /** Versions offered in the version bitmap element; empty means no bitmap element. */
  versions: number[];
  /**
   * The header's version when it is not OFP_VERSION (a peer that does not offer 1.3, or a hello
   * without a bitmap announcing a higher one). The decoder sets it only then; the encoder uses it if given.
   */
  version?: number;
}

export interface ErrorMsg extends Base {
  type: 'error';
  errType: number;
  code: number;
  /** Names resolved from the spec's tables, e.g. "OFPET_BAD_MATCH" / "OFPBMC_BAD_FIELD". */
  typeName: string;
  codeName: string;
  /** Only for errType OFPET_EXPERIMENTER (0xffff): the experimenter id; `code` is then its exp_type. */
  experimenter?: number;
  /** The start of the offending request (at least 64 bytes of it, per the spec). */
  data: Buffer;
}

export interface EchoRequest extends Base {
  type: 'echoRequest';
  data: Buffer;
}
export interface EchoReply extends Base {
  type: 'echoReply';
  data: Buffer;
}
export interface FeaturesRequest extends Base {
  type: 'featuresRequest';
}
export interface FeaturesReply extends Base {
  type: 'featuresReply';
  datapathId: bigint;
  nBuffers: number;
  nTables: number;
  auxiliaryId: number;
  capabilities: number;
}
export interface GetConfigRequest extends Base {
  type: 'getConfigRequest';
}
export interface SwitchConfig {
  flags: number;
  missSendLen: number;
}
export interface GetConfigReply extends Base, SwitchConfig {
  type: 'getConfigReply';
}
export interface SetConfig extends Base, SwitchConfig {
  type: 'setConfig';
}

export interface PacketIn extends Base {
  type: 'packetIn';
  bufferId: number;
  totalLen: number;
  reason: number;
  tableId: number;
  cookie: bigint;
  match: Match;
  /** A view into the received frame, not a copy. */
  data: Buffer;
}

export interface PacketOut extends Base {
  type: 'packetOut';
  bufferId: number;
  inPort: number;
  actions: Action[];
  data: Buffer;
}

export interface FlowMod extends Base {
  type: 'flowMod';
  cookie: bigint;
  cookieMask: bigint;
  tableId: number;
  command: FlowModCommand;
  idleTimeout: number;
  hardTimeout: number;
  priority: number;
  bufferId: number;
  outPort: number;
  outGroup: number;
  flags: number;
  match: Match;
  instructions: Instruction[];
}

export interface FlowRemoved extends Base {
  type: 'flowRemoved';
  cookie: bigint;
  priority: number;
  reason: number;
  tableId: number;
  durationSec: number;
  durationNsec: number;
  idleTimeout: number;
  hardTimeout: number;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
}

export interface PortDesc {
  portNo: number;
  hwAddr: string;
  name: string;
  config: number;
  state: number;
  curr: number;
  advertised: number;
  supported: number;
  peer: number;
  currSpeed: number;
  maxSpeed: number;
}

export interface PortStatus extends Base {
  type: 'portStatus';
  /** 0 add, 1 delete, 2 modify */
  reason: number;
  desc: PortDesc;
}

export interface Bucket {
  weight: number;
  watchPort: number;
  watchGroup: number;
  actions: Action[];
}

export interface GroupMod extends Base {
  type: 'groupMod';
  command: GroupModCommand;
  groupType: GroupType;
  groupId: number;
  buckets: Bucket[];
}

export interface MeterBand {
  /** 1 drop, 2 dscp_remark */
  bandType: number;
  rate: number;
  burstSize: number;
  precLevel?: number;
}

export interface MeterMod extends Base {
  type: 'meterMod';
  command: MeterModCommand;
  flags: number;
  meterId: number;
  bands: MeterBand[];
}

/**
 * Which asynchronous messages the switch sends on this connection, by reason bit (OFPR_*,
 * OFPPR_*, OFPRR_*): [0] when master or equal, [1] when slave. OVS sends none on a service
 * connection (its management socket) until told to with SET_ASYNC.
 */
export interface AsyncConfig {
  packetInMask: [number, number];
  portStatusMask: [number, number];
  flowRemovedMask: [number, number];
}

export interface GetAsyncRequest extends Base {
  type: 'getAsyncRequest';
}
export interface GetAsyncReply extends Base, AsyncConfig {
  type: 'getAsyncReply';
}
export interface SetAsync extends Base, AsyncConfig {
  type: 'setAsync';
}

export interface BarrierRequest extends Base {
  type: 'barrierRequest';
}
export interface BarrierReply extends Base {
  type: 'barrierReply';
}

export interface RoleRequest extends Base {
  type: 'roleRequest';
  role: ControllerRole;
  generationId: bigint;
}
export interface RoleReply extends Base {
  type: 'roleReply';
  role: ControllerRole;
  generationId: bigint;
}

export interface BundleControl extends Base {
  type: 'bundleControl';
  bundleId: number;
  ctrlType: BundleCtrlType;
  flags: number;
}

export interface BundleAdd extends Base {
  type: 'bundleAdd';
  bundleId: number;
  flags: number;
  /** The message to add; its xid must equal the bundleAdd's xid (OVS checks this). */
  message: OFMessage;
}

/** Any other experimenter message, kept raw. */
export interface Experimenter extends Base {
  type: 'experimenter';
  experimenter: number;
  expType: number;
  data: Buffer;
}

// ---- multipart ----

export interface FlowStatsRequest {
  tableId: number;
  outPort: number;
  outGroup: number;
  cookie: bigint;
  cookieMask: bigint;
  match: Match;
}

export interface FlowStats {
  tableId: number;
  durationSec: number;
  durationNsec: number;
  priority: number;
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  cookie: bigint;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
  instructions: Instruction[];
}

export interface AggregateStats {
  packetCount: bigint;
  byteCount: bigint;
  flowCount: number;
}

export interface PortStats {
  portNo: number;
  rxPackets: bigint;
  txPackets: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  rxDropped: bigint;
  txDropped: bigint;
  rxErrors: bigint;
  txErrors: bigint;
  rxFrameErr: bigint;
  rxOverErr: bigint;
  rxCrcErr: bigint;
  collisions: bigint;
  durationSec: number;
  durationNsec: number;
}

export interface GroupDesc {
  groupType: GroupType;
  groupId: number;
  buckets: Bucket[];
}

export interface MeterStats {
  meterId: number;
  flowCount: number;
  packetInCount: bigint;
  byteInCount: bigint;
  durationSec: number;
  durationNsec: number;
  bands: { packetBandCount: bigint; byteBandCount: bigint }[];
}

export interface Desc {
  mfrDesc: string;
  hwDesc: string;
  swDesc: string;
  serialNum: string;
  dpDesc: string;
}

export type MultipartRequestBody =
  | { mpType: MultipartType.DESC }
  | { mpType: MultipartType.FLOW; request: FlowStatsRequest }
  | { mpType: MultipartType.AGGREGATE; request: FlowStatsRequest }
  | { mpType: MultipartType.PORT_STATS; portNo: number }
  | { mpType: MultipartType.PORT_DESC }
  | { mpType: MultipartType.GROUP_DESC }
  | { mpType: MultipartType.METER; meterId: number }
  | { mpType: MultipartType.METER_CONFIG; meterId: number };

export type MultipartReplyBody =
  | { mpType: MultipartType.DESC; desc: Desc }
  | { mpType: MultipartType.FLOW; flows: FlowStats[] }
  | { mpType: MultipartType.AGGREGATE; aggregate: AggregateStats }
  | { mpType: MultipartType.PORT_STATS; ports: PortStats[] }
  | { mpType: MultipartType.PORT_DESC; ports: PortDesc[] }
  | { mpType: MultipartType.GROUP_DESC; groups: GroupDesc[] }
  | { mpType: MultipartType.METER; meters: MeterStats[] }
  | { mpType: MultipartType.METER_CONFIG; configs: { flags: number; meterId: number; bands: MeterBand[] }[] }
  /** A multipart type this library does not model; body kept raw. */
  | { mpType: 'unknown'; rawType: number; raw: Buffer };

/** OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE */
export const OFPMPF_MORE = 1;

export type MultipartRequest = Base & { type: 'multipartRequest'; flags: number } & MultipartRequestBody;
export type MultipartReply = Base & { type: 'multipartReply'; flags: number } & MultipartReplyBody;

export type OFMessage =
  | Hello
  | ErrorMsg
  | EchoRequest
  | EchoReply
  | FeaturesRequest
  | FeaturesReply
  | GetConfigRequest
  | GetConfigReply
  | SetConfig
  | PacketIn
  | PacketOut
  | FlowMod
  | FlowRemoved
  | PortStatus
  | GroupMod
  | MeterMod
  | MultipartRequest
  | MultipartReply
  | BarrierRequest
  | BarrierReply
  | RoleRequest
  | RoleReply
  | GetAsyncRequest
  | GetAsyncReply
  | SetAsync
  | BundleControl
  | BundleAdd
  | Experimenter;
