// Owns building resource records for precomputed answers, with dns2's encoders (speed does not
// matter here: each is built once per name and registry change). Owner names are a compression
// pointer to the question (offset 12), which keeps answers small and echoes the asker's case.
import DNS from 'dns2';
import { TYPE_A, TYPE_AAAA, TYPE_PTR } from './wire.js';

const { Packet } = DNS;
/** A compression pointer to the question's name, right after the 12-byte header. */
const TO_QNAME = Buffer.from([0xc0, 0x0c]);

function encode(resource: Record<string, unknown>): Buffer {
  // dns2 writes the root name ('' → one zero byte); that byte is swapped for the pointer.
  const b = Packet.Resource.encode({ name: '', class: Packet.CLASS.IN, ...resource } as never);
  return Buffer.concat([TO_QNAME, b.subarray(1)]);
}

export function aRecord(address: string, ttl: number): Buffer {
  return encode({ type: TYPE_A, ttl, address });
}

export function aaaaRecord(address: string, ttl: number): Buffer {
  return encode({ type: TYPE_AAAA, ttl, address });
}

export function ptrRecord(domain: string, ttl: number): Buffer {
  return encode({ type: TYPE_PTR, ttl, domain });
}
