// Owns `netctl net|network create|rm|ls|inspect`: Contiv's network object over /api/v1/networks/.
// It must never allocate or check address space itself beyond shape; IPAM and tag ranges are netmaster's.

import { int, str } from '../args.js';
import { objKey, omitEmpty } from '../client.js';
import { tabwrite } from '../table.js';
import {
  type Command,
  inspectCommand,
  isCidr4,
  isIP,
  isIPv4,
  isIPv6,
  listFlags,
  listForTenant,
  n,
  printList,
  s,
  tenantFlag,
  ValidationError,
} from './types.js';

const NET = ['network', 'net'];

/** A subnet is a CIDR or Contiv's range form `10.1.1.10-10.1.1.20/24` (allocate only inside the range). */
export function validSubnet(v: string): boolean {
  if (isCidr4(v)) return true;
  const m = /^([^-/]+)-([^/]+)\/(\d{1,2})$/.exec(v);
  return m !== null && isIPv4(m[1]!) && isIPv4(m[2]!) && Number(m[3]) <= 32;
}

export const networkCommands: Command[] = [
  {
    object: NET,
    verb: ['create'],
    usage: 'Create a network',
    argsUsage: 'NETWORK',
    nargs: [1, 1],
    nargsMessage: 'Network name required',
    flags: [
      tenantFlag,
      {
        names: ['nw-type', 'n'],
        kind: 'string',
        usage: 'Network Type (infra or data)',
        default: 'data',
        valueName: 'TYPE',
      },
      { names: ['encap', 'e'], kind: 'string', usage: 'Encap type (vlan or vxlan)', default: 'vxlan' },
      { names: ['pkt-tag', 'p'], kind: 'int', usage: 'Packet tag (Vlan ID/VNI)' },
      {
        names: ['subnet', 's'],
        kind: 'string',
        usage: 'Subnet CIDR - REQUIRED',
        required: true,
        valueName: 'CIDR',
      },
      { names: ['gateway', 'g'], kind: 'string', usage: 'Gateway', valueName: 'IP' },
      { names: ['subnetv6', 's6'], kind: 'string', usage: 'IPv6 Subnet CIDR', valueName: 'CIDR' },
      { names: ['gatewayv6', 'g6'], kind: 'string', usage: 'IPv6 Gateway', valueName: 'IP' },
      { names: ['nw-tag', 'tag'], kind: 'string', usage: 'Configured Network Tag', valueName: 'TAG' },
    ],
    async run(ctx) {
      const a = ctx.args;
      const tenant = str(a, 'tenant');
      const network = a.positionals[0]!;
      const subnet = str(a, 'subnet');
      const gateway = str(a, 'gateway');
      const gatewayv6 = str(a, 'gatewayv6');
      const encap = str(a, 'encap');
      const nwType = str(a, 'nw-type');
      if (!validSubnet(subnet)) {
        throw new ValidationError(`Invalid subnet '${subnet}' - enter A.B.C.D/N or A.B.C.D-A.B.C.E/N`);
      }
      if (gateway !== '' && !isIP(gateway))
        throw new ValidationError('Invalid gateway - Enter in A.B.C.D format');
      if (gatewayv6 !== '' && !isIPv6(gatewayv6)) throw new ValidationError('Invalid IPv6 gateway');
      if (encap !== 'vlan' && encap !== 'vxlan')
        throw new ValidationError(`Invalid encap '${encap}' - vlan or vxlan`);
      if (nwType !== 'data' && nwType !== 'infra') {
        throw new ValidationError(`Invalid network type '${nwType}' - data or infra`);
      }
      await ctx.client.post(
        `/api/v1/networks/${objKey(tenant, network)}/`,
        omitEmpty({
          tenantName: tenant,
          networkName: network,
          encap,
          subnet,
          gateway,
          ipv6Subnet: str(a, 'subnetv6'),
          ipv6Gateway: gatewayv6,
          pktTag: int(a, 'pkt-tag'),
          nwType,
          cfgdTag: str(a, 'nw-tag'),
        }),
      );
      ctx.io.out(`Creating network ${tenant}:${network}\n`);
    },
  },
  {
    object: NET,
    verb: ['rm', 'delete'],
    usage: 'Delete a network',
    argsUsage: 'NETWORK',
    nargs: [1, 1],
    nargsMessage: 'Network name required',
    flags: [tenantFlag],
    async run(ctx) {
      const tenant = str(ctx.args, 'tenant');
      const network = ctx.args.positionals[0]!;
      ctx.io.out(`Deleting network ${tenant}:${network}\n`);
      await ctx.client.delete(`/api/v1/networks/${objKey(tenant, network)}/`);
    },
  },
  inspectCommand({
    object: NET,
    plural: 'networks',
    usage: 'Inspect a Network',
    argsUsage: 'NETWORK',
    nargsMessage: 'Network name required',
  }),
  {
    object: NET,
    verb: ['ls', 'list'],
    usage: 'List networks',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: listFlags,
    async run(ctx) {
      const rows = await listForTenant(ctx, 'networks');
      printList(
        ctx,
        rows,
        'networkName',
        'Tenant\tNetwork\tNw Type\tEncap type\tPacket tag\tSubnet\tGateway\tIPv6Subnet\tIPv6Gateway\tCfgd Tag \n' +
          '------\t-------\t-------\t----------\t----------\t-------\t------\t----------\t-----------\t---------\n',
        (r) =>
          `${[
            s(r, 'tenantName'),
            s(r, 'networkName'),
            s(r, 'nwType'),
            s(r, 'encap'),
            n(r, 'pktTag'),
            s(r, 'subnet'),
            s(r, 'gateway'),
            s(r, 'ipv6Subnet'),
            s(r, 'ipv6Gateway'),
            s(r, 'cfgdTag'),
          ].join('\t')}\n`,
        tabwrite,
      );
    },
  },
];
