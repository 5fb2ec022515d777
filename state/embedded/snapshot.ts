// Owns the embedded store's snapshot file: <dir>/snapshot, JSON of the whole state at log sequence
// `seq`, read at open and replaced atomically (tmp + fsync + rename + directory fsync).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry } from './keyspace.js';

export interface Snapshot {
  seq: number;
  rev: number;
  nextLease: number;
  kv: [string, Entry][];
  leases: [string, number][];
}

/** The snapshot in dir, or undefined when there is none yet. */
export function readSnapshot(dir: string): Snapshot | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'snapshot'), 'utf8')) as Snapshot;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return undefined;
  }
}

/** Replaces the snapshot in dir; a crash leaves either the old one or the new one whole. */
export function writeSnapshot(dir: string, snap: Snapshot): void {
  const tmp = join(dir, 'snapshot.tmp');
  const fd = openSync(tmp, 'w');
  try {
    writeFileSync(fd, JSON.stringify(snap));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, 'snapshot'));
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
