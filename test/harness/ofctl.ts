// Owns decoding OpenFlow bytes with OVS's own printer, the oracle for our codec.
// It must never need a running daemon: `ovs-ofctl ofp-print` works offline.
import { run } from './run.js';

/** `ovs-ofctl ofp-print <hex>` of one or more whole OpenFlow messages; verbosity as ofp-print takes it. */
export async function ofpPrint(buf: Buffer, verbosity?: number): Promise<string> {
  const args = ['ofp-print', buf.toString('hex')];
  if (verbosity !== undefined) args.push(String(verbosity));
  return (await run('ovs-ofctl', args)).trimEnd();
}
