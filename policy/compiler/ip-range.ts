// Owns turning a rule's address text into IPv4 prefixes a flow can match: "a.b.c.d", CIDR, and
// Contiv's last-octet ranges "a.b.c.d-e[/n]", plus intersecting two prefix sets (a network peer
// narrowed by an address). Pure arithmetic on unsigned 32-bit numbers.

import { ipv4Mask, ipv4ToNumber, numberToIPv4 } from '../ipam/addr.js';

export interface Prefix {
  /** Network address, host bits zero, as an unsigned 32-bit number. */
  readonly addr: number;
  /** 0..32 */
  readonly len: number;
}

export function prefixText(p: Prefix): string {
  return `${numberToIPv4(p.addr)}/${p.len}`;
}

/** The fewest prefixes covering exactly first..last (inclusive), in address order. */
export function rangeToPrefixes(first: number, last: number): Prefix[] {
  const out: Prefix[] = [];
  let cur = first;
  while (cur <= last) {
    // The largest aligned block starting at cur that does not pass last.
    let len = 32;
    while (len > 0) {
      const size = 2 ** (32 - (len - 1));
      if (cur % size !== 0 || cur + size - 1 > last) break;
      len--;
    }
    out.push({ addr: cur, len });
    cur += 2 ** (32 - len);
  }
  return out;
}

/**
 * "a.b.c.d" (/32), "a.b.c.d/n" (host bits dropped) or "a.b.c.d-e[/n]" (a.b.c.d..a.b.c.e; for a
 * range the /n only names the subnet it lies in and does not narrow it). Undefined when the text
 * is none of these (the model validates rules, so that means "matches nothing").
 */
export function parseAddressSpec(text: string): Prefix[] | undefined {
  const [body, lenText, ...rest] = text.trim().split('/');
  if (rest.length > 0 || body === undefined) return undefined;
  const dash = body.indexOf('-');
  if (dash >= 0) {
    const first = ipv4ToNumber(body.slice(0, dash));
    const endText = body.slice(dash + 1);
    if (first === undefined || !/^\d{1,3}$/.test(endText) || Number(endText) > 255) return undefined;
    const last = first - (first % 256) + Number(endText);
    if (last < first) return undefined;
    return rangeToPrefixes(first, last);
  }
  const addr = ipv4ToNumber(body);
  if (addr === undefined) return undefined;
  let len = 32;
  if (lenText !== undefined) {
    if (!/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) return undefined;
    len = Number(lenText);
  }
  return [{ addr: (addr & ipv4Mask(len)) >>> 0, len }];
}

/** Addresses in both sets, as prefixes in address order (prefixes nest or are disjoint). */
export function intersectPrefixes(a: readonly Prefix[], b: readonly Prefix[]): Prefix[] {
  const out: Prefix[] = [];
  for (const x of a) {
    for (const y of b) {
      const len = Math.min(x.len, y.len);
      if (((x.addr ^ y.addr) & ipv4Mask(len)) >>> 0 !== 0) continue;
      out.push(x.len >= y.len ? x : y);
    }
  }
  out.sort((p, q) => p.addr - q.addr || p.len - q.len);
  return out.filter((p, i) => i === 0 || p.addr !== out[i - 1]!.addr || p.len !== out[i - 1]!.len);
}
