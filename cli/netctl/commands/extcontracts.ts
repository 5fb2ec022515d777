// Owns `netctl external-contracts create|rm|ls`: ACI external contract groups over /api/v1/extContractsGroups/.
// It must never talk to ACI; these are plain objects to netmaster that groups refer to by name.

import { bool, list, str } from '../args.js';
import { objKey } from '../client.js';
import { tabwrite } from '../table.js';
import {
  type Command,
  listFlags,
  listForTenant,
  printList,
  s,
  strList,
  tenantFlag,
  ValidationError,
} from './types.js';

const EC = ['external-contracts'];

export const extContractsCommands: Command[] = [
  {
    object: EC,
    verb: ['create'],
    usage: 'Create external contracts',
    argsUsage: 'CONTRACTS-GROUP',
    nargs: [1, 1],
    nargsMessage: 'Contracts group name required',
    flags: [
      tenantFlag,
      { names: ['consumed', 'c'], kind: 'bool', usage: 'External contracts type - consumed' },
      { names: ['provided', 'p'], kind: 'bool', usage: 'External contracts type - provided' },
      { names: ['contract', 'a'], kind: 'list', usage: 'Contract', valueName: 'DN' },
    ],
    async run(ctx) {
      const a = ctx.args;
      const provided = bool(a, 'provided');
      const consumed = bool(a, 'consumed');
      if (provided && consumed) throw new ValidationError('Cannot use both provided and consumed');
      if (!provided && !consumed) throw new ValidationError('Either provided or consumed must be specified');
      const contracts = list(a, 'contract');
      if (contracts.length === 0) throw new ValidationError('Contracts not provided');
      const tenant = str(a, 'tenant');
      const name = a.positionals[0]!;
      await ctx.client.post(`/api/v1/extContractsGroups/${objKey(tenant, name)}/`, {
        tenantName: tenant,
        contractsGroupName: name,
        contractsType: provided ? 'provided' : 'consumed',
        contracts,
      });
      ctx.io.out(`Creating ExternalContracts ${tenant}:${name}\n`);
    },
  },
  {
    object: EC,
    verb: ['rm', 'delete'],
    usage: 'Delete external contracts',
    argsUsage: 'CONTRACTS-GROUP',
    nargs: [1, 1],
    nargsMessage: 'Contracts group name required',
    flags: [tenantFlag],
    async run(ctx) {
      const tenant = str(ctx.args, 'tenant');
      const name = ctx.args.positionals[0]!;
      ctx.io.out(`Deleting external contracts group ${name} in tenant ${tenant}\n`);
      await ctx.client.delete(`/api/v1/extContractsGroups/${objKey(tenant, name)}/`);
    },
  },
  {
    object: EC,
    verb: ['ls', 'list'],
    usage: 'List external contracts',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: listFlags,
    async run(ctx) {
      const rows = await listForTenant(ctx, 'extContractsGroups');
      printList(
        ctx,
        rows,
        'contractsGroupName',
        'Tenant\tName\t\tType\t\tContracts\n------\t------\t\t------\t\t-------\n',
        // Contracts print as Go's %s of a []string: "[a b]".
        (r) =>
          `${s(r, 'tenantName')}\t${s(r, 'contractsGroupName')}\t\t${s(r, 'contractsType')}\t[${strList(r, 'contracts').join(' ')}]\n`,
        tabwrite,
      );
    },
  },
];
