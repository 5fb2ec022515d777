// Owns the host kernel's part of host access: IPv4 forwarding on, and the MASQUERADE rule that
// gives traffic from the private subnet (containers, NATed per tenant by the datapath) the host's
// own address on its way out of any other interface. Our rule carries a comment so it is found
// again and never confused with the user's rules.
import { type NetnsRef, runHost } from './exec.js';

const COMMENT = 'contiv-ts host access';

function ruleArgs(subnet: string, hostIf: string): string[] {
  return ['-s', subnet, '!', '-o', hostIf, '-m', 'comment', '--comment', COMMENT, '-j', 'MASQUERADE'];
}

async function hasRule(netns: NetnsRef | undefined, args: string[]): Promise<boolean> {
  try {
    await runHost(netns, 'iptables', ['-w', '5', '-t', 'nat', '-C', 'POSTROUTING', ...args]);
    return true;
  } catch {
    return false;
  }
}

/** Forwarding on and the one MASQUERADE rule for `subnet` present; idempotent. */
export async function ensureHostNat(
  netns: NetnsRef | undefined,
  subnet: string,
  hostIf: string,
): Promise<void> {
  await runHost(netns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  const args = ruleArgs(subnet, hostIf);
  if (!(await hasRule(netns, args)))
    await runHost(netns, 'iptables', ['-w', '5', '-t', 'nat', '-A', 'POSTROUTING', ...args]);
}

/** Removes our MASQUERADE rule for `subnet` (forwarding is left as it is: others may need it). */
export async function removeHostNat(
  netns: NetnsRef | undefined,
  subnet: string,
  hostIf: string,
): Promise<void> {
  const args = ruleArgs(subnet, hostIf);
  while (await hasRule(netns, args))
    await runHost(netns, 'iptables', ['-w', '5', '-t', 'nat', '-D', 'POSTROUTING', ...args]);
}
