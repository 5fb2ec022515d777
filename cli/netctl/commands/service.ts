// Owns `netctl service create|rm|ls|inspect`: serviceLB objects (VIP + ports selecting providers by label).
// It must never pick providers or program load balancing; netmaster and the datapath do that.

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

const SVC = ['service'];

export const serviceCommands: Command[] = [
  {
    object: SVC,
    verb: ['create'],
    usage: 'Create Service object',
    argsUsage: 'SERVICENAME',
    nargs: [1, 1],
    nargsMessage: 'Service name required',
    flags: [
      tenantFlag,
      { names: ['network', 's'], kind: 'string', usage: 'service network name', valueName: 'NETWORK' },
      { names: ['selector', 'l'], kind: 'list', usage: 'service selector key=value', valueName: 'K=V' },
      { names: ['port', 'p'], kind: 'list', usage: 'svcPort:provPort:protocol', valueName: 'S:P:PROTO' },
      { names: ['preferred-ip', 'ip'], kind: 'string', usage: 'preferred ip address', valueName: 'IP' },
    ],
    async run(ctx) {
      const a = ctx.args;
      const tenant = str(a, 'tenant') || 'default';
      const name = a.positionals[0]!;
      const ip = str(a, 'preferred-ip');
      if (ip !== '' && !isIPv4(ip)) throw new ValidationError(`Invalid preferred-ip '${ip}'`);
      for (const p of list(a, 'port')) {
        if (!/^\d+:\d+:(TCP|UDP|tcp|udp)$/.test(p)) {
          throw new ValidationError(`Invalid port '${p}' - svcPort:provPort:protocol`);
        }
      }
      await ctx.client.post(
        `/api/v1/serviceLBs/${objKey(tenant, name)}/`,
        omitEmpty({
          serviceName: name,
          tenantName: tenant,
          networkName: str(a, 'network'),
          ipAddress: ip,
          selectors: list(a, 'selector'),
          ports: list(a, 'port'),
        }),
      );
      ctx.io.out(`Creating ServiceLB ${tenant}:${name}\n`);
    },
  },
  {
    object: SVC,
    verb: ['rm', 'delete'],
    usage: 'Delete service object',
    argsUsage: 'SERVICENAME',
    nargs: [1, 1],
    nargsMessage: 'Service name required',
    flags: [tenantFlag],
    async run(ctx) {
      const tenant = str(ctx.args, 'tenant') || 'default';
      const name = ctx.args.positionals[0]!;
      ctx.io.out(`Deleting Service  ${name},${tenant}\n`);
      await ctx.client.delete(`/api/v1/serviceLBs/${objKey(tenant, name)}/`);
    },
  },
  inspectCommand({
    object: SVC,
    plural: 'serviceLBs',
    usage: 'Inspect a service',
    argsUsage: 'SERVICENAME',
    nargsMessage: 'Service group name required',
  }),
  {
    object: SVC,
    verb: ['ls', 'list'],
    usage: 'List service objects',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: listFlags,
    async run(ctx) {
      const rows = await listForTenant(ctx, 'serviceLBs', str(ctx.args, 'tenant') || 'default');
      printList(
        ctx,
        rows,
        'serviceName',
        'ServiceName\tTenant\tNetwork\tSelectors\n---------\t--------\t-------\t-------\n',
        (r) =>
          `${s(r, 'serviceName')}\t${s(r, 'tenantName')}\t${s(r, 'networkName')}\t[${strList(r, 'selectors').join(' ')}]\t\n`,
        tabwrite,
      );
    },
  },
];
