// Owns deciding whether a test can run here: needed commands present, root for netns and taps.
// It must never let a missing component pass silently in CI: with CI=true a missing piece fails the test.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/** The part of node:test's TestContext this module uses. */
export interface Skippable {
  skip(message?: string): void;
}

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Commands that only work as root here (namespaces, links, taps of netdev bridges). */
const NEEDS_ROOT = new Set(['ip', 'ethtool', 'ovs-vswitchd', 'tcpdump']);

/** Everything startOvs and addContainer run. */
export const LAB_COMMANDS = [
  'ovsdb-tool',
  'ovsdb-server',
  'ovs-vswitchd',
  'ovs-vsctl',
  'ovs-ofctl',
  'ovs-appctl',
  'ip',
  'ethtool',
  'ping',
  'nc',
  'ss',
] as const;

function onPath(cmd: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN];
  return dirs.some((d) => {
    try {
      accessSync(join(d, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** What is missing for these commands: absent commands, and root when one of them needs it. */
export function missingFor(...names: string[]): string[] {
  const missing = names.filter((n) => !onPath(n)).map((n) => `command "${n}"`);
  if (names.some((n) => NEEDS_ROOT.has(n)) && process.getuid?.() !== 0) missing.push('root privileges');
  return missing;
}

/**
 * True when the commands are all there (and root, for ip/ethtool/ovs-vswitchd/tcpdump).
 * Otherwise skips the test with the reason and returns false, or throws when CI=true.
 * Use: `if (!requireCommands(t, 'ovs-ofctl')) return;`
 */
export function requireCommands(t: Skippable, ...names: string[]): boolean {
  const missing = missingFor(...names);
  if (missing.length === 0) return true;
  const reason = `missing ${missing.join(', ')}`;
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: a missing component fails the test)`);
  t.skip(reason);
  return false;
}

/** requireCommands for everything the OVS and netns harness uses. */
export function requireLab(t: Skippable): boolean {
  return requireCommands(t, ...LAB_COMMANDS);
}
