// Owns `netctl app-profile create|update|rm|ls|group-ls`: application profiles over /api/v1/appProfiles/.
// It must never resolve group names; netmaster checks that every listed group exists in the tenant.

import { str } from '../args.js';
import { type JsonObject, objKey } from '../client.js';
import { tabwrite } from '../table.js';
import {
  type Command,
  type Ctx,
  listFlags,
  listForTenant,
  printJson,
  printList,
  s,
  strList,
  tenantFlag,
} from './types.js';

const AP = ['app-profile'];
const groupFlag = {
  names: ['group', 'g'],
  kind: 'string',
  usage: 'Endpoint Group List (separated by commas)',
  valueName: 'G1,G2',
} as const;

/** create and update are one POST in Contiv (netmaster's create is an upsert); only the message differs. */
async function post(ctx: Ctx): Promise<[string, string]> {
  const tenant = str(ctx.args, 'tenant');
  const prof = ctx.args.positionals[0]!;
  const g = str(ctx.args, 'group');
  const body: JsonObject = {
    tenantName: tenant,
    appProfileName: prof,
    endpointGroups: g === '' ? [] : g.split(','),
  };
  await ctx.client.post(`/api/v1/appProfiles/${objKey(tenant, prof)}/`, body);
  return [tenant, prof];
}

export const appProfileCommands: Command[] = [
  {
    object: AP,
    verb: ['create'],
    usage: 'Create an application profile',
    argsUsage: 'APP-PROFILE',
    nargs: [1, 1],
    nargsMessage: 'Profile name required',
    flags: [tenantFlag, groupFlag],
    async run(ctx) {
      const [tenant, prof] = await post(ctx);
      ctx.io.out(`Creating AppProfile ${tenant}:${prof}\n`);
    },
  },
  {
    object: AP,
    verb: ['update'],
    usage: 'Update an application profile',
    argsUsage: 'APP-PROFILE',
    nargs: [1, 1],
    nargsMessage: 'Profile name required',
    flags: [tenantFlag, groupFlag],
    async run(ctx) {
      await post(ctx);
    },
  },
  {
    object: AP,
    verb: ['rm', 'delete'],
    usage: 'Delete an application profile',
    argsUsage: 'APP-PROFILE',
    nargs: [1, 1],
    nargsMessage: 'Profile name required',
    flags: [tenantFlag],
    async run(ctx) {
      await ctx.client.delete(
        `/api/v1/appProfiles/${objKey(str(ctx.args, 'tenant'), ctx.args.positionals[0]!)}/`,
      );
    },
  },
  {
    object: AP,
    verb: ['ls', 'list'],
    usage: 'List Application Profiles',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: listFlags,
    async run(ctx) {
      const rows = await listForTenant(ctx, 'appProfiles');
      printList(
        ctx,
        rows,
        'appProfileName',
        'Tenant\tAppProfile\tGroups\n------\t----------\t------\n',
        (r) =>
          `${s(r, 'tenantName')}\t${s(r, 'appProfileName')}\t${strList(r, 'endpointGroups').join(',')}\n`,
        tabwrite,
      );
    },
  },
  {
    object: AP,
    verb: ['group-ls', 'group-list'],
    usage: 'List groups in an app-profile',
    argsUsage: 'APP-PROFILE',
    nargs: [1, 1],
    nargsMessage: 'Profile name required',
    flags: listFlags,
    async run(ctx) {
      const key = objKey(str(ctx.args, 'tenant'), ctx.args.positionals[0]!);
      const p = await ctx.client.get(`/api/v1/appProfiles/${key}/`);
      if (ctx.args.values.get('json') === true) {
        printJson(ctx.io, p);
        return;
      }
      const obj = p !== null && typeof p === 'object' && !Array.isArray(p) ? p : {};
      ctx.io.out(`${strList(obj, 'endpointGroups').join(',')}\n`);
    },
  },
];
