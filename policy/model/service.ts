// Owns the operational record of a serviceLB: the virtual address netmaster allocated for it in
// its network (the preferred `ipAddress`, or the first free one), written with the service in one
// transaction. DNS answers the service's name with it; the service datapath balances on it.

/** `/contiv.io/oper/servicevip/<tenant>:<service>` → ServiceVipRecord (JSON). */
export const SERVICE_VIP_PREFIX = '/contiv.io/oper/servicevip/';
export const serviceVipKey = (serviceKey: string) => `${SERVICE_VIP_PREFIX}${serviceKey}`;

export interface ServiceVipRecord {
  tenantName: string;
  serviceName: string;
  networkName: string;
  /** The allocated virtual IPv4 address. */
  serviceVip: string;
}

/** The address pool owner recorded for a service's VIP (IPAM's `{owner}`). */
export const serviceVipOwner = (serviceKey: string) => `serviceLB:${serviceKey}`;
