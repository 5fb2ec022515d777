// Owns `netctl user create|rm|ls|set-password` and `netctl authorization create|rm|ls`: people and
// their roles over auth_proxy's local_users and authorizations routes (admin only; netmaster
// checks). It must never print a password.

import { str } from '../args.js';
import { tabwrite } from '../table.js';
import { asList, type Command, jsonFlag, printList, quietFlag, s, ValidationError } from './types.js';

const USERS = '/api/v1/auth_proxy/local_users/';
const AUTHZ = '/api/v1/auth_proxy/authorizations/';
const passwordFlag = { names: ['password', 'p'], kind: 'string', usage: 'the password' } as const;

function password(ctx: Parameters<Command['run']>[0]): string {
  const p = str(ctx.args, 'password');
  if (!p) throw new ValidationError(`${ctx.command}: --password is required`);
  return p;
}

export const userCommands: Command[] = [
  {
    object: ['user'],
    verb: ['create'],
    usage: 'Create a local user',
    argsUsage: 'USERNAME',
    nargs: [1, 1],
    nargsMessage: 'User name required',
    flags: [
      passwordFlag,
      { names: ['first-name'], kind: 'string', usage: 'first name' },
      { names: ['last-name'], kind: 'string', usage: 'last name' },
    ],
    async run(ctx) {
      const username = ctx.args.positionals[0]!;
      await ctx.client.post(USERS, {
        username,
        password: password(ctx),
        firstname: str(ctx.args, 'first-name'),
        lastname: str(ctx.args, 'last-name'),
      });
      ctx.io.out(`Creating user ${username}\n`);
    },
  },
  {
    object: ['user'],
    verb: ['set-password'],
    usage: "Change a local user's password",
    argsUsage: 'USERNAME',
    nargs: [1, 1],
    nargsMessage: 'User name required',
    flags: [passwordFlag],
    async run(ctx) {
      const username = ctx.args.positionals[0]!;
      await ctx.client.put(`${USERS}${encodeURIComponent(username)}/`, { password: password(ctx) });
      ctx.io.out(`Password of ${username} changed\n`);
    },
  },
  {
    object: ['user'],
    verb: ['rm', 'delete'],
    usage: 'Delete a local user',
    argsUsage: 'USERNAME',
    nargs: [1, 1],
    nargsMessage: 'User name required',
    flags: [],
    async run(ctx) {
      const username = ctx.args.positionals[0]!;
      ctx.io.out(`Deleting user ${username}\n`);
      await ctx.client.delete(`${USERS}${encodeURIComponent(username)}/`);
    },
  },
  {
    object: ['user'],
    verb: ['ls', 'list'],
    usage: 'List local users',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [quietFlag, jsonFlag],
    async run(ctx) {
      printList(
        ctx,
        asList(await ctx.client.get(USERS)),
        'username',
        'Username\tFirst name\tLast name\tDisabled\t\n--------\t----------\t---------\t--------\t\n',
        (u) => `${s(u, 'username')}\t${s(u, 'firstname')}\t${s(u, 'lastname')}\t${s(u, 'disable')}\t\n`,
        tabwrite,
      );
    },
  },
  {
    object: ['authorization'],
    verb: ['create'],
    usage: 'Give a principal a role: admin, or ops for one tenant',
    argsUsage: 'PRINCIPAL',
    nargs: [1, 1],
    nargsMessage: 'Principal name required',
    flags: [
      { names: ['role', 'r'], kind: 'string', usage: 'admin or ops' },
      { names: ['tenant', 't'], kind: 'string', usage: 'the tenant an ops role is for' },
    ],
    async run(ctx) {
      const principalName = ctx.args.positionals[0]!;
      const role = str(ctx.args, 'role');
      if (!role) throw new ValidationError(`${ctx.command}: --role is required (admin or ops)`);
      const tenant = str(ctx.args, 'tenant');
      const a = await ctx.client.post(AUTHZ, {
        principalName,
        local: true,
        role,
        ...(tenant ? { tenantName: tenant } : {}),
      });
      const id = a !== null && typeof a === 'object' && !Array.isArray(a) ? s(a, 'authzUUID') : '';
      ctx.io.out(`Authorization ${id}: ${principalName} ${role}${tenant ? ` for tenant ${tenant}` : ''}\n`);
    },
  },
  {
    object: ['authorization'],
    verb: ['rm', 'delete'],
    usage: 'Remove an authorization',
    argsUsage: 'AUTHORIZATION-ID',
    nargs: [1, 1],
    nargsMessage: 'Authorization id required',
    flags: [],
    async run(ctx) {
      const id = ctx.args.positionals[0]!;
      ctx.io.out(`Deleting authorization ${id}\n`);
      await ctx.client.delete(`${AUTHZ}${encodeURIComponent(id)}/`);
    },
  },
  {
    object: ['authorization'],
    verb: ['ls', 'list'],
    usage: 'List authorizations',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [quietFlag, jsonFlag],
    async run(ctx) {
      printList(
        ctx,
        asList(await ctx.client.get(AUTHZ)),
        'authzUUID',
        'Id\tPrincipal\tLocal\tRole\tTenant\t\n--\t---------\t-----\t----\t------\t\n',
        (a) =>
          `${s(a, 'authzUUID')}\t${s(a, 'principalName')}\t${s(a, 'local')}\t${s(a, 'role')}\t${s(a, 'tenantName')}\t\n`,
        tabwrite,
      );
    },
  },
];
