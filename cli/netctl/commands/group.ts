// Owns `netctl group create|rm|ls|inspect`: endpoint groups over /api/v1/endpointGroups/.
// It must never check that the network, policies or profile exist; netmaster refuses dangling references.

import { list, str } from '../args.js';
import { objKey, omitEmpty } from '../client.js';
import { tabwrite } from '../table.js';
import {
  type Command,
  inspectCommand,
  isIPv4,
  listFlags,
  listForTenant,
  printList,
  s,
  strList,
  tenantFlag,
  ValidationError,
} from './types.js';

export const groupCommands: Command[] = [
  {
    object: ['group'],
    verb: ['create'],
    usage: 'Create an endpoint group',
    argsUsage: 'NETWORK GROUP',
    nargs: [2, 2],
    nargsMessage: 'Network and group name required',
    flags: [
      tenantFlag,
      { names: ['policy', 'p'], kind: 'list', usage: 'Policy', valueName: 'POLICY' },
      { names: ['networkprofile', 'n'], kind: 'string', usage: 'network profile', valueName: 'PROFILE' },
      { names: ['external-contract', 'e'], kind: 'list', usage: 'External contract', valueName: 'CONTRACTS' },
      {
        names: ['ip-pool', 'r'],
        kind: 'string',
        usage: 'IP Address range, example 10.36.0.1-10.36.0.10',
        valueName: 'A-B',
      },
      { names: ['epg-tag', 'tag'], kind: 'string', usage: 'Configured Group Tag', valueName: 'TAG' },
    ],
    async run(ctx) {
      const a = ctx.args;
      const tenant = str(a, 'tenant');
      const [network, group] = a.positionals as [string, string];
      const ipPool = str(a, 'ip-pool');
      if (ipPool !== '') {
        const [lo, hi, extra] = ipPool.split('-');
        if (extra !== undefined || !lo || !hi || !isIPv4(lo) || !isIPv4(hi)) {
          throw new ValidationError(`Invalid ip-pool '${ipPool}' - enter A.B.C.D-A.B.C.E`);
        }
      }
      await ctx.client.post(
        `/api/v1/endpointGroups/${objKey(tenant, group)}/`,
        omitEmpty({
          tenantName: tenant,
          networkName: network,
          groupName: group,
          netProfile: str(a, 'networkprofile'),
          ipPool,
          policies: list(a, 'policy'),
          extContractsGrps: list(a, 'external-contract'),
          cfgdTag: str(a, 'epg-tag'),
        }),
      );
      ctx.io.out(`Creating EndpointGroup ${tenant}:${group}\n`);
    },
  },
  inspectCommand({
    object: ['group'],
    plural: 'endpointGroups',
    usage: 'Inspect a EndpointGroup',
    argsUsage: 'GROUP',
    nargsMessage: 'EndpointGroup name required',
  }),
  {
    object: ['group'],
    verb: ['rm', 'delete'],
    usage: 'Delete an endpoint group',
    argsUsage: 'GROUP',
    nargs: [1, 1],
    nargsMessage: 'EndpointGroup name required',
    flags: [tenantFlag],
    async run(ctx) {
      const key = objKey(str(ctx.args, 'tenant'), ctx.args.positionals[0]!);
      await ctx.client.delete(`/api/v1/endpointGroups/${key}/`);
    },
  },
  {
    object: ['group'],
    verb: ['ls', 'list'],
    usage: 'List endpoint groups',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: listFlags,
    async run(ctx) {
      const rows = await listForTenant(ctx, 'endpointGroups');
      printList(
        ctx,
        rows,
        'groupName',
        'Tenant\tGroup\tNetwork\tIP Pool\tCfgdTag\tPolicies\tNetwork profile\n' +
          '------\t-----\t-------\t-------\t-------\t--------\t---------------\n',
        (r) =>
          `${[
            s(r, 'tenantName'),
            s(r, 'groupName'),
            s(r, 'networkName'),
            s(r, 'ipPool'),
            s(r, 'cfgdTag'),
            strList(r, 'policies').join(','),
            s(r, 'netProfile'),
          ].join('\t')}\n`,
        tabwrite,
      );
    },
  },
];
