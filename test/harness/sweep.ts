// Owns finding and removing harness resources by owner pid: netns, links, temp dirs and their daemons.
// It must never touch a resource whose name does not carry the harness prefix, nor one of a live owner
// (other than this process when asked to sweep its own).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownerOfName, ownerOfTempDir } from './names.js';
import { cmdlineOf, isAlive, readPidFile, stopPidsSync } from './procs.js';
import { runSync, trySync } from './run.js';

export interface OwnedResources {
  netns: string[];
  links: string[];
  dirs: string[];
  /** Live processes: daemons named in the dirs' pidfiles and anything running inside the netns. */
  pids: number[];
}

type OwnerFilter = (owner: number) => boolean;

function listNetns(): string[] {
  try {
    return runSync('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Names of links in the current namespace (`eth0@if5` → `eth0`). */
export function listLinks(): string[] {
  try {
    return runSync('ip', ['-o', 'link', 'show'])
      .split('\n')
      .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Processes inside a namespace; synchronous because the 'exit' fallback uses it too. */
export function pidsInNetns(ns: string): number[] {
  try {
    return runSync('ip', ['netns', 'pids', ns])
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((p) => p !== process.pid);
  } catch {
    return [];
  }
}

/** Mount points at or under dir, deepest first (a killed dockerd leaves its root bind-mounted). */
export function mountsUnder(dir: string): string[] {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m === dir || m.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
  } catch {
    return [];
  }
}

/** Daemons whose pidfile is in dir and whose command line names that dir (guards against pid reuse). */
function daemonsOfDir(dir: string): number[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.pid'));
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const f of files) {
    const pid = readPidFile(join(dir, f));
    if (pid !== undefined && pid !== process.pid && isAlive(pid) && cmdlineOf(pid).includes(dir))
      pids.push(pid);
  }
  return pids;
}

function find(select: OwnerFilter): OwnedResources {
  const pick = (owner: number | undefined) => owner !== undefined && select(owner);
  const netns = listNetns().filter((n) => pick(ownerOfName(n)));
  const links = listLinks().filter((n) => pick(ownerOfName(n)));
  let dirs: string[] = [];
  try {
    dirs = readdirSync(tmpdir())
      .filter((d) => pick(ownerOfTempDir(d)))
      .map((d) => join(tmpdir(), d));
  } catch {
    // no tmpdir listing: nothing to find there
  }
  const pids = [...new Set([...dirs.flatMap(daemonsOfDir), ...netns.flatMap(pidsInNetns)])];
  return { netns, links, dirs, pids };
}

/** What the harness of process `pid` left (or still holds): for tests that check nothing remains. */
export function findOwnedBy(pid: number): OwnedResources {
  return find((owner) => owner === pid);
}

function remove(found: OwnedResources): OwnedResources {
  // Processes first: a process inside a netns keeps its veth alive after `ip netns del`.
  stopPidsSync(found.pids);
  for (const ns of found.netns) trySync('ip', ['netns', 'del', ns]);
  // Deleting a netns removes veth peers asynchronously; re-list so only survivors are deleted.
  const links = new Set(listLinks());
  for (const link of found.links) if (links.has(link)) trySync('ip', ['link', 'del', link]);
  for (const dir of found.dirs) {
    for (const m of mountsUnder(dir)) trySync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
  }
  return found;
}

/** Removes leftovers of earlier runs whose owner process is dead. Returns what it removed. */
export function sweepStale(): OwnedResources {
  return remove(find((owner) => owner !== process.pid && !isAlive(owner)));
}

/** Removes everything this process's harness created (last resort on exit). */
export function sweepOwn(): OwnedResources {
  return remove(find((owner) => owner === process.pid));
}
