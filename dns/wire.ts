// Owns the DNS wire format on the hot path: validating a query and finding its parts without
// allocating (parseQuery), and the few responses built from a query's own bytes (errors,
// truncation). Record data is built elsewhere (records.ts, with dns2); this module never throws
// on input bytes.

export const TYPE_A = 1;
export const TYPE_PTR = 12;
export const TYPE_AAAA = 28;
export const TYPE_OPT = 41;
export const TYPE_ANY = 255;
export const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;

/** Without EDNS0 a UDP answer may not exceed 512 bytes (RFC 1035). */
export const CLASSIC_UDP_SIZE = 512;
/** The UDP payload size we advertise and the largest UDP answer we send (the DNS flag day value). */
export const OUR_UDP_SIZE = 1232;
export const HEADER_SIZE = 12;
/** Our OPT record: root name, type, class = payload size, TTL = ext-rcode/version/DO, rdlength 0. */
export const OPT_SIZE = 11;

/** What a well-formed query holds; offsets into the query buffer. */
export interface ParsedQuery {
  /** End of the question (after QTYPE/QCLASS). */
  qEnd: number;
  qtype: number;
  qclass: number;
  /** The query carried an OPT record. */
  edns: boolean;
  /** EDNS version asked for (only 0 is served). */
  ednsVersion: number;
  /** DNSSEC OK bit, echoed in our OPT (RFC 3225). */
  dnssecOk: boolean;
  /** The largest UDP answer this query allows: 512 without EDNS, else its size clamped to [512, OUR_UDP_SIZE]. */
  udpLimit: number;
}

/** Why a packet is not served: 'drop' (not a query we may answer at all) or an rcode for an error reply. */
export type Rejection = { reject: 'drop' } | { reject: 'error'; rcode: number };

/**
 * Validates a query: header, exactly one question of uncompressed labels, nothing in answer and
 * authority, at most one additional record which must be an OPT. Any other shape is rejected.
 */
export function parseQuery(q: Buffer): ParsedQuery | Rejection {
  if (q.length < HEADER_SIZE) return { reject: 'drop' };
  // A response (QR set) is never answered: that is how reflection loops start.
  if (q[2]! & 0x80) return { reject: 'drop' };
  if ((q[2]! >> 3) & 0x0f) return { reject: 'error', rcode: RCODE_NOTIMP };
  const qd = (q[4]! << 8) | q[5]!;
  const an = (q[6]! << 8) | q[7]!;
  const ns = (q[8]! << 8) | q[9]!;
  const ar = (q[10]! << 8) | q[11]!;
  if (qd !== 1 || an !== 0 || ns !== 0 || ar > 1) return FORMERR;
  let p = HEADER_SIZE;
  let nameLen = 1;
  for (;;) {
    if (p >= q.length) return FORMERR;
    const len = q[p]!;
    if (len === 0) break;
    // 0xc0 (pointer) and 0x40/0x80 (extended labels) have no place in a query's question.
    if (len > 63) return FORMERR;
    nameLen += len + 1;
    if (nameLen > 255) return FORMERR;
    p += len + 1;
  }
  const qEnd = p + 5;
  if (qEnd > q.length) return FORMERR;
  const qtype = (q[p + 1]! << 8) | q[p + 2]!;
  const qclass = (q[p + 3]! << 8) | q[p + 4]!;
  if (ar === 0) {
    if (qEnd !== q.length) return FORMERR;
    return { qEnd, qtype, qclass, edns: false, ednsVersion: 0, dnssecOk: false, udpLimit: CLASSIC_UDP_SIZE };
  }
  // The one additional record: OPT, owned by the root.
  if (qEnd + OPT_SIZE > q.length || q[qEnd] !== 0) return FORMERR;
  if (((q[qEnd + 1]! << 8) | q[qEnd + 2]!) !== TYPE_OPT) return FORMERR;
  const size = (q[qEnd + 3]! << 8) | q[qEnd + 4]!;
  const ednsVersion = q[qEnd + 6]!;
  const dnssecOk = (q[qEnd + 7]! & 0x80) !== 0;
  const rdlen = (q[qEnd + 9]! << 8) | q[qEnd + 10]!;
  if (qEnd + OPT_SIZE + rdlen !== q.length) return FORMERR;
  const udpLimit = Math.min(Math.max(size, CLASSIC_UDP_SIZE), OUR_UDP_SIZE);
  return { qEnd, qtype, qclass, edns: true, ednsVersion, dnssecOk, udpLimit };
}

const FORMERR: Rejection = { reject: 'error', rcode: RCODE_FORMERR };

export function isRejection(p: ParsedQuery | Rejection): p is Rejection {
  return 'reject' in p;
}

/** The question's name as text (labels joined by '.', case kept); the query must have parsed. */
export function questionName(q: Buffer): string {
  const labels: string[] = [];
  let p = HEADER_SIZE;
  for (let len = q[p]!; len !== 0; len = q[p]!) {
    labels.push(q.toString('latin1', p + 1, p + 1 + len));
    p += len + 1;
  }
  return labels.join('.');
}

/** Header flags of a response to q: QR, q's opcode and RD, RA, q's CD; AA and rcode as given. */
export function responseFlags(q: Buffer, aa: boolean, rcode: number): number {
  const hi = 0x80 | (q[2]! & 0x79) | (aa ? 0x04 : 0);
  const lo = 0x80 | (q[3]! & 0x10) | (rcode & 0x0f);
  return (hi << 8) | lo;
}

/** Our OPT record for a response: payload size, extended rcode bits, DO echoed. */
export function optRecord(dnssecOk: boolean, extRcode = 0): Buffer {
  const b = Buffer.alloc(OPT_SIZE);
  b.writeUInt16BE(TYPE_OPT, 1);
  b.writeUInt16BE(OUR_UDP_SIZE, 3);
  b[5] = extRcode;
  b[7] = dnssecOk ? 0x80 : 0;
  return b;
}

/**
 * An answer with no records: header (id copied), the question echoed, our OPT when the query had
 * one. Used for truncation (tc), errors on a parsed query, NXDOMAIN and NODATA.
 */
export function emptyResponse(
  q: Buffer,
  p: ParsedQuery,
  opts: { aa: boolean; rcode: number; tc?: boolean; extRcode?: number },
): Buffer {
  const opt = p.edns ? optRecord(p.dnssecOk, opts.extRcode) : undefined;
  const out = Buffer.alloc(p.qEnd + (opt ? OPT_SIZE : 0));
  q.copy(out, 0, 0, p.qEnd);
  out.writeUInt16BE(responseFlags(q, opts.aa, opts.rcode) | (opts.tc ? 0x0200 : 0), 2);
  out.writeUInt32BE(0x00010000, 4); // qd 1, an 0
  out.writeUInt32BE(opt ? 1 : 0, 8); // ns 0, ar
  if (opt) opt.copy(out, p.qEnd);
  return out;
}

/**
 * The reply to a query that did not parse: the header only (id, opcode, RD copied; no question),
 * never longer than the query, so a malformed packet can never be amplified.
 */
export function headerOnlyError(q: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  q.copy(out, 0, 0, 2);
  out.writeUInt16BE(responseFlags(q, false, rcode), 2);
  return out;
}
