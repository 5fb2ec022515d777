// Owns `netctl tenant create|rm|ls|inspect`: the tenant object over /api/v1/tenants/.
// It must never touch objects inside a tenant; netmaster decides whether a tenant can go.

import { tabwrite } from '../table.js';
import { asList, type Command, jsonFlag, printJson, printList, quietFlag, s } from './types.js';

const path = (t: string): string => `/api/v1/tenants/${encodeURIComponent(t)}/`;

export const tenantCommands: Command[] = [
  {
    object: ['tenant'],
    verb: ['create'],
    usage: 'Create a tenant',
    argsUsage: 'TENANT',
    nargs: [1, 1],
    nargsMessage: 'Tenant name required',
    flags: [],
    async run(ctx) {
      const tenant = ctx.args.positionals[0]!;
      await ctx.client.post(path(tenant), { tenantName: tenant });
      ctx.io.out(`Creating tenant: ${tenant}\n`);
    },
  },
  {
    object: ['tenant'],
    verb: ['rm', 'delete'],
    usage: 'Delete a tenant',
    argsUsage: 'TENANT',
    nargs: [1, 1],
    nargsMessage: 'Tenant name required',
    flags: [],
    async run(ctx) {
      const tenant = ctx.args.positionals[0]!;
      ctx.io.out(`Deleting tenant ${tenant}\n`);
      await ctx.client.delete(path(tenant));
    },
  },
  {
    object: ['tenant'],
    verb: ['inspect'],
    usage: 'Inspect a tenant',
    argsUsage: 'TENANT',
    nargs: [1, 1],
    nargsMessage: 'Tenant name required',
    flags: [],
    async run(ctx) {
      const tenant = ctx.args.positionals[0]!;
      printJson(ctx.io, await ctx.client.get(`/api/v1/inspect/tenants/${encodeURIComponent(tenant)}/`));
    },
  },
  {
    object: ['tenant'],
    verb: ['ls', 'list'],
    usage: 'List tenants',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [quietFlag, jsonFlag],
    async run(ctx) {
      const rows = asList(await ctx.client.get('/api/v1/tenants/'));
      printList(ctx, rows, 'tenantName', 'Name\t\n------\t\n', (t) => `${s(t, 'tenantName')}\t\n`, tabwrite);
    },
  },
];
