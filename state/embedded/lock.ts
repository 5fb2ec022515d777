// Owns the embedded store's directory lock (<dir>/LOCK holding the owner's pid): taking it, a stale
// one's takeover without a race, releasing it. Two openers of one dir, in one process or two, never both win.
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The store directory is in use by another opener. */
export class StoreLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly ownerPid: number,
  ) {
    super(`store ${dir} is locked by pid ${ownerPid}${ownerPid === process.pid ? ' (this process)' : ''}`);
    this.name = 'StoreLockedError';
  }
}

const heldDirs = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * Takes <dir>/LOCK for this process. The lock is made by link(2) of a file holding our pid, which
 * fails if LOCK exists, so of several processes creating it one wins. A stale LOCK (its pid dead)
 * is taken over without the race "both judge it stale, one removes it and takes it, the other
 * removes the new one and takes it too": the stale file is renamed aside (atomic), and deleted
 * only if what was moved is the very inode judged stale; a lock another process took meanwhile is
 * linked back. Two processes racing for one dir: exactly one opens it.
 * `staleLockPauseMs` waits that long between judging a lock stale and taking it over: tests widen
 * the race window with it.
 */
export function acquireLock(dir: string, staleLockPauseMs = 0): void {
  const path = join(dir, 'LOCK');
  if (heldDirs.has(dir)) throw new StoreLockedError(dir, process.pid);
  const mine = join(dir, `LOCK.${process.pid}.new`);
  const aside = join(dir, `LOCK.${process.pid}.stale`);
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, path);
        heldDirs.add(dir);
        return;
      } catch (err) {
        if (code(err) !== 'EEXIST') throw err;
      }
      let judged: { ino: number; dev: number };
      let owner: number;
      try {
        judged = statSync(path);
        owner = Number(readFileSync(path, 'utf8').trim());
      } catch (err) {
        if (code(err) === 'ENOENT') continue; // released meanwhile
        throw err;
      }
      // A live other pid holds it. Our own pid without heldDirs is a leftover of a pid reused after a crash.
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner))
        throw new StoreLockedError(dir, owner);
      if (staleLockPauseMs > 0)
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, staleLockPauseMs);
      try {
        renameSync(path, aside);
      } catch (err) {
        if (code(err) === 'ENOENT') continue; // someone else moved the stale one
        throw err;
      }
      const moved = statSync(aside);
      if (moved.ino !== judged.ino || moved.dev !== judged.dev) {
        // Not the stale lock: another process took over in between. Give its lock back.
        try {
          linkSync(aside, path);
        } finally {
          unlinkSync(aside);
        }
        continue;
      }
      unlinkSync(aside); // the stale one, gone; try to link ours again
    }
    throw new Error(`store ${dir}: could not take the lock`);
  } finally {
    try {
      unlinkSync(mine);
    } catch {
      // already gone
    }
  }
}

/** Gives up the lock taken by acquireLock (a missing LOCK is fine). */
export function releaseLock(dir: string): void {
  heldDirs.delete(dir);
  try {
    unlinkSync(join(dir, 'LOCK'));
  } catch {
    // already gone
  }
}
