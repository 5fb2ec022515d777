// Owns building DNS queries as a stub resolver sends them, for the DNS tests (wire bytes by hand,
// so that every header bit and the OPT record are exactly what the test says).

export interface QueryOpts {
  id?: number;
  rd?: boolean;
  cd?: boolean;
  qclass?: number;
  edns?: { size: number; dnssecOk?: boolean; version?: number };
}

/** A query for name and type (RD set unless told otherwise; class IN unless told). */
export function dnsQuery(name: string, type: number, o: QueryOpts = {}): Buffer {
  const labels = name.split('.').filter((l) => l !== '');
  const qname = Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(o.id ?? 0x1234, 0);
  h[2] = o.rd === false ? 0 : 1;
  h[3] = o.cd ? 0x10 : 0;
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(o.edns ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(o.qclass ?? 1, 2);
  const parts = [h, qname, tail];
  if (o.edns) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(o.edns.size, 3);
    opt[6] = o.edns.version ?? 0;
    opt[7] = o.edns.dnssecOk ? 0x80 : 0;
    parts.push(opt);
  }
  return Buffer.concat(parts);
}
