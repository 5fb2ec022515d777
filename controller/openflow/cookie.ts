// Owns the meaning of a flow's 64-bit cookie: which datapath feature and which object made it.
// Pure arithmetic; it never talks to a switch.
//
// Layout: | feature (8) | reserved (24) | object id (32) |
// The cookie carries no restart "round": after a restart the manager reads the switch's flows
// and keeps the ones it still wants, so identical flows must keep identical cookies.

export const FEATURE_SHIFT = 56n;
export const FEATURE_MASK = 0xff00_0000_0000_0000n;
export const OBJECT_MASK = 0x0000_0000_ffff_ffffn;

/** Datapath features that own flows. Numbers are persisted in switches' cookies: never reuse one. */
export const enum Feature {
  Test = 0xfe,
  Classifier = 1,
  Vlan = 2,
  Vxlan = 3,
  Arp = 4,
  L2Forwarding = 5,
  L3Forwarding = 6,
  Policy = 7,
  Dns = 8,
  ServiceLb = 9,
  NetProfile = 10,
  Output = 11,
  HostAccess = 12,
  /** The pipeline's own flows: every table's miss flow (datapath/pipeline/base.ts). */
  Pipeline = 13,
  /** Routes learned over BGP and the router port (datapath/pipeline/bgp.ts). */
  Bgp = 14,
}

export function makeCookie(feature: number, objectId: number): bigint {
  if (!Number.isInteger(feature) || feature < 1 || feature > 0xff) {
    throw new Error(`cookie: feature ${feature} is not in 1..255`);
  }
  if (!Number.isInteger(objectId) || objectId < 0 || objectId > 0xffffffff) {
    throw new Error(`cookie: object id ${objectId} is not a 32-bit unsigned integer`);
  }
  return (BigInt(feature) << FEATURE_SHIFT) | BigInt(objectId);
}

export function cookieFeature(cookie: bigint): number {
  return Number((cookie & FEATURE_MASK) >> FEATURE_SHIFT);
}
