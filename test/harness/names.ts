// Owns the naming scheme of every resource the harness creates: a prefix that encodes the owning pid.
// It must never create or delete anything; it only makes and parses names.
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Linux IFNAMSIZ is 16 including the NUL byte. */
export const MAX_IFNAME = 15;
const NAME_PREFIX = 'cts';
const DIR_PREFIX = 'contiv-ts-';
const pid36 = process.pid.toString(36);
let counter = 0;

/**
 * A name unique to this process and run, e.g. `cts1k3f-br1`, usable for a netns, a link or a bridge
 * (netdev bridges create a host tap of the same name, so bridge names must be unique host-wide).
 * `tag` is short letters: the result must fit in an interface name.
 */
export function uniqueName(tag: string): string {
  if (!/^[a-z]{1,3}$/.test(tag))
    throw new Error(`uniqueName: tag must be 1-3 lowercase letters, got "${tag}"`);
  counter += 1;
  const name = `${NAME_PREFIX}${pid36}-${tag}${counter.toString(36)}`;
  if (name.length > MAX_IFNAME)
    throw new Error(`uniqueName: "${name}" is longer than ${MAX_IFNAME} characters`);
  return name;
}

/** The pid encoded in a harness-made netns or link name, or undefined when the name is not ours. */
export function ownerOfName(name: string): number | undefined {
  const m = /^cts([0-9a-z]{1,7})-[a-z]{1,3}[0-9a-z]+$/.exec(name);
  return m ? Number.parseInt(m[1]!, 36) : undefined;
}

/** The prefix for mkdtemp: `<tmpdir>/contiv-ts-<pid>-<tag>-`. */
export function tempDirPrefix(tag: string): string {
  return join(tmpdir(), `${DIR_PREFIX}${process.pid}-${tag}-`);
}

/** The pid encoded in a harness-made temp dir's base name, or undefined when the dir is not ours. */
export function ownerOfTempDir(baseName: string): number | undefined {
  const m = /^contiv-ts-(\d+)-/.exec(baseName);
  return m ? Number(m[1]) : undefined;
}

/** The text every path the harness creates for `pid` contains (for pgrep -f and similar checks). */
export function dirMarker(pid: number): string {
  return `${DIR_PREFIX}${pid}-`;
}
