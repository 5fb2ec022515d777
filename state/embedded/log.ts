// Owns the embedded store's log file: record framing ([u32 payload length][u32 crc32(payload)][payload
// JSON], little-endian), parsing a log image up to its first torn or corrupt record, and opening the
// file for appends with that torn tail cut off. It never decides what a record means.
import { constants as fsConstants, readFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

/** One logged effect; replaying them in order rebuilds the state exactly. */
export type Effect =
  | { p: string; v: string; l?: string }
  | { d: string }
  | { lg: string; ttl: number }
  | { lr: string };
export interface LogRecord {
  seq: number;
  /** Store revision after this record. */
  rev: number;
  e: Effect[];
}

const HEADER = 8;

export function frame(rec: LogRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(rec), 'utf8');
  const buf = Buffer.allocUnsafe(HEADER + payload.length);
  buf.writeUInt32LE(payload.length, 0);
  buf.writeUInt32LE(crc32(payload), 4);
  payload.copy(buf, HEADER);
  return buf;
}

/** Every whole, valid record of a log image, and the byte length they cover (the rest is a torn tail). */
export function parseLog(buf: Buffer): { records: LogRecord[]; validBytes: number } {
  const records: LogRecord[] = [];
  let off = 0;
  while (off + HEADER <= buf.length) {
    const len = buf.readUInt32LE(off);
    const sum = buf.readUInt32LE(off + 4);
    if (off + HEADER + len > buf.length) break;
    const payload = buf.subarray(off + HEADER, off + HEADER + len);
    if (crc32(payload) !== sum) break;
    try {
      records.push(JSON.parse(payload.toString('utf8')) as LogRecord);
    } catch {
      break;
    }
    off += HEADER + len;
  }
  return { records, validBytes: off };
}

/** Reads <dir>/log and opens it for appends, its torn tail (never acknowledged) truncated away. */
export async function openLog(
  dir: string,
): Promise<{ log: FileHandle; records: LogRecord[]; validBytes: number }> {
  let image: Buffer;
  try {
    image = readFileSync(join(dir, 'log'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    image = Buffer.alloc(0);
  }
  const { records, validBytes } = parseLog(image);
  // O_DSYNC: each append returns once its data is on disk, one thread-pool trip per group commit
  // instead of write + fdatasync (same guarantee, fewer hops on the event loop).
  const log = await open(
    join(dir, 'log'),
    fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_APPEND | fsConstants.O_DSYNC,
  );
  if (validBytes < image.length) {
    // Drop the torn tail so new records do not follow garbage.
    await log.truncate(validBytes);
    await log.sync();
  }
  return { log, records, validBytes };
}
