// Owns decoding OpenFlow bytes with OVS's own printer, the oracle for our codec.
// It must never need a running daemon: `ovs-ofctl ofp-print` works offline.
import { run } from './run.js';

export interface OfpPrintOptions {
  /** ofp-print's verbosity argument. */
  verbosity?: number;
  /**
   * Default true: throw when OVS flags the bytes ("***decode error", "***truncated", "***only uses",
   * "packet too short"); ofp-print itself always exits 0. False returns the text as printed.
   */
  strict?: boolean;
}

const OVS_COMPLAINT = /\*\*\*|packet too short/;

/** `ovs-ofctl ofp-print <hex>` of one or more whole OpenFlow messages. */
export async function ofpPrint(buf: Buffer, opts: OfpPrintOptions = {}): Promise<string> {
  const args = ['ofp-print', buf.toString('hex')];
  if (opts.verbosity !== undefined) args.push(String(opts.verbosity));
  const text = (await run('ovs-ofctl', args)).trimEnd();
  if ((opts.strict ?? true) && OVS_COMPLAINT.test(text)) {
    throw new Error(`ovs-ofctl ofp-print rejects ${buf.toString('hex')}:\n${text}`);
  }
  return text;
}
