// Owns the text forms of DNS names this service uses: lookup keys (lower case, no trailing dot)
// and the reverse (PTR) names of IPv4 and IPv6 addresses. Pure functions, no I/O.
import { isIPv4, isIPv6 } from 'node:net';
import { ipv4ToNumber } from '../policy/ipam/addr.js';

/** Lookup key of a name: lower case, without the root dot. DNS names compare case-insensitively. */
export function nameKey(name: string): string {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return n.toLowerCase();
}

/** `10.1.2.3` → `3.2.1.10.in-addr.arpa`; an IPv6 address → its 32-nibble ip6.arpa name. */
export function reverseName(address: string): string | undefined {
  if (isIPv4(address)) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  if (!isIPv6(address)) return undefined;
  return `${ipv6Nibbles(address.toLowerCase()).reverse().join('.')}.ip6.arpa`;
}

/** The 32 hex nibbles of an IPv6 address, most significant first. */
function ipv6Nibbles(address: string): string[] {
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups first.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const v = ipv4ToNumber(v4[1]!) ?? 0;
    text = `${text.slice(0, v4.index)}${(v >>> 16).toString(16)}:${(v & 0xffff).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => g.padStart(4, '0').split(''));
}

/** True for names under in-addr.arpa or ip6.arpa (given as lookup keys). */
export function isReverseKey(key: string): boolean {
  return key.endsWith('.in-addr.arpa') || key.endsWith('.ip6.arpa');
}
