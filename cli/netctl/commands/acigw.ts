// Owns `netctl aci-gw set|info|inspect`: the single aciGw object (ACI fabric bindings) over /api/v1/aciGws/.
// It must never talk to an APIC; contiv-ts only stores this config for completeness of Contiv's surface.

import { str } from '../args.js';
import {
  allFlag,
  asList,
  type Command,
  jsonFlag,
  printJson,
  s,
  tenantFlag,
  ValidationError,
} from './types.js';

const A = ['aci-gw'];

export const aciGwCommands: Command[] = [
  {
    object: A,
    verb: ['set'],
    usage: 'Set aci-gw parameters',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [
      {
        names: ['path-bindings', 'p'],
        kind: 'string',
        usage: 'Blank or comma separated paths of the form topology/pod-1/paths-101/pathep-[eth1/14]',
        valueName: 'PATHS',
      },
      {
        names: ['node-bindings', 'n'],
        kind: 'string',
        usage: 'Blank or comma separated nodes of the form topology/pod-1/node-101',
        valueName: 'NODES',
      },
      { names: ['phys-dom', 'd'], kind: 'string', usage: 'ACI physical domain name', valueName: 'DOMAIN' },
      {
        names: ['enforce-policies', 'e'],
        kind: 'string',
        usage: 'Should security policies be enforced (yes,no)',
        default: 'yes',
      },
      {
        names: ['include-common-tenant', 'i'],
        kind: 'string',
        usage: 'Should gateway look up objects in common tenant as well(yes,no)',
        default: 'no',
      },
    ],
    async run(ctx) {
      const a = ctx.args;
      const enforce = str(a, 'enforce-policies');
      const common = str(a, 'include-common-tenant');
      if (enforce !== 'yes' && enforce !== 'no')
        throw new ValidationError('enforce-policies must be yes or no');
      if (common !== 'yes' && common !== 'no')
        throw new ValidationError('include-common-tenant must be yes or no');
      // Contiv's netctl replaced the whole object (unset bindings become blank), so this does too.
      await ctx.client.post('/api/v1/aciGws/aciGw/', {
        name: 'aciGw',
        enforcePolicies: enforce,
        includeCommonTenant: common,
        nodeBindings: str(a, 'node-bindings'),
        pathBindings: str(a, 'path-bindings'),
        physicalDomain: str(a, 'phys-dom'),
      });
    },
  },
  {
    object: A,
    verb: ['info'],
    usage: 'Show aci gateway information',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [tenantFlag, allFlag, jsonFlag],
    async run(ctx) {
      const list = asList(await ctx.client.get('/api/v1/aciGws/'));
      if (ctx.args.values.get('json') === true) {
        printJson(ctx.io, list);
        return;
      }
      for (const g of list) {
        ctx.io.out(
          `Path bindings: ${s(g, 'pathBindings')}\n` +
            `Node bindings: ${s(g, 'nodeBindings')}\n` +
            `Physical domain: ${s(g, 'physicalDomain')}\n` +
            `Enforce policies: ${s(g, 'enforcePolicies')}\n` +
            `Include Common-Tenant: ${s(g, 'includeCommonTenant')}\n`,
        );
      }
    },
  },
  {
    object: A,
    verb: ['inspect'],
    usage: 'Inspect aci gateway operational information',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [],
    async run(ctx) {
      printJson(ctx.io, await ctx.client.get('/api/v1/inspect/aciGws/aciGw/'));
    },
  },
];
