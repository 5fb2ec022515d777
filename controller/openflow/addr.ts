// Owns address text <-> bytes for OpenFlow fields and actions: MAC, IPv4, IPv6, parsed by hand
// on the hot path (no regex, no split, no allocation). It knows nothing of OXM or actions.

// ---------------------------------------------------------------------------------------------
// Text parsing by hand (hot path: no regex, no split, no allocation).

export function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parses dotted IPv4 text in s[start..end) to an unsigned 32-bit number, or -1. */
export function parseIpv4(s: string, start: number, end: number): number {
  let out = 0;
  let octets = 0;
  let digits = 0;
  let octet = 0;
  for (let i = start; i <= end; i++) {
    const c = i === end ? 46 : s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || octets === 4) return -1;
      out = out * 256 + octet;
      octets++;
      digits = 0;
      octet = 0;
    } else if (c >= 48 && c <= 57) {
      // A leading zero ("010") is refused: some parsers read it as octal.
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  return octets === 4 ? out : -1;
}

/** Parses "aa:bb:cc:dd:ee:ff" (either case) into buf[at..at+6); false if malformed. */
export function parseMacInto(s: string, buf: Buffer, at: number): boolean {
  if (s.length !== 17) return false;
  for (let i = 0; i < 6; i++) {
    const p = i * 3;
    const hi = hexDigit(s.charCodeAt(p));
    const lo = hexDigit(s.charCodeAt(p + 1));
    if (hi < 0 || lo < 0) return false;
    if (i < 5 && s.charCodeAt(p + 2) !== 58) return false;
    buf[at + i] = (hi << 4) | lo;
  }
  return true;
}

/** Parses IPv6 text (with "::" and an optional dotted IPv4 tail) into buf[at..at+16). */
export function parseIpv6Into(s: string, buf: Buffer, at: number): boolean {
  const n = s.length;
  if (n < 2) return false;
  let i = 0;
  let groups = 0;
  let gap = -1; // group index where "::" stands
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    const start = i;
    let v = 0;
    let h = 0;
    while (i < n && i - start < 5) {
      h = hexDigit(s.charCodeAt(i));
      if (h < 0) break;
      v = v * 16 + h;
      i++;
    }
    if (i < n && s.charCodeAt(i) === 46) {
      // Dotted IPv4 tail: takes the last two groups and must end the text.
      if (groups > 6) return false;
      const v4 = parseIpv4(s, start, n);
      if (v4 < 0) return false;
      buf[at + groups * 2] = v4 >>> 24;
      buf[at + groups * 2 + 1] = v4 >>> 16;
      buf[at + groups * 2 + 2] = v4 >>> 8;
      buf[at + groups * 2 + 3] = v4;
      groups += 2;
      i = n;
      break;
    }
    const digits = i - start;
    if (digits === 0 || digits > 4 || groups === 8) return false;
    buf[at + groups * 2] = v >>> 8;
    buf[at + groups * 2 + 1] = v;
    groups++;
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = groups;
      i++;
    } else if (i === n) {
      return false;
    }
  }
  if (gap < 0) return groups === 8;
  if (groups > 7) return false;
  // Slide the groups after "::" to the end and zero the gap.
  const tail = (groups - gap) * 2;
  buf.copyWithin(at + 16 - tail, at + gap * 2, at + groups * 2);
  buf.fill(0, at + gap * 2, at + 16 - tail);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Text formatting (decode side).

const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function formatMac(b: Buffer, at: number): string {
  return `${HEX2[b[at]!]}:${HEX2[b[at + 1]!]}:${HEX2[b[at + 2]!]}:${HEX2[b[at + 3]!]}:${HEX2[b[at + 4]!]}:${HEX2[b[at + 5]!]}`;
}

export function formatIpv4(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952: lower case, no leading zeros, the longest run (>= 2) of zero groups as "::". */
export function formatIpv6(b: Buffer, at: number): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = (b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIpv4(b, at + 12)}`; // IPv4-mapped, RFC 5952 §5
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestAt) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out.length > 0 && !out.endsWith(':')) out += ':';
    out += g[i]!.toString(16);
  }
  return out;
}
