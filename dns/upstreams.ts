// Owns where forwarded queries go: the host's resolvers as /etc/resolv.conf lists them, or a
// configured list. Pure parsing plus one file read.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export interface Upstream {
  host: string;
  port: number;
  family: 4 | 6;
}

/** `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353` → an upstream; throws on anything else. */
export function parseUpstream(text: string): Upstream {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const host = m ? m[1]! : text;
  const port = m ? Number(m[2]) : 53;
  const family = isIP(host);
  if (family === 0 || !(port > 0 && port < 65536)) throw new Error(`dns upstream "${text}" is not ip[:port]`);
  return { host, port, family: family as 4 | 6 };
}

/** The `nameserver` lines of a resolv.conf text that hold an address (a link-local one may carry its zone). */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && isIP(m[1]!)) out.push(parseUpstream(isIP(m[1]!) === 6 ? `[${m[1]}]:53` : m[1]!));
  }
  return out;
}

export function hostResolvers(path = '/etc/resolv.conf'): Upstream[] {
  try {
    return parseResolvConf(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}
