// Owns `netctl bgp create|rm|ls|inspect`: per-host BGP peering config over /api/v1/Bgps/.
// It must never start or talk BGP; it only records the host's router IP, AS numbers and neighbor.

import { str } from '../args.js';
import { tabwrite } from '../table.js';
import {
  asList,
  type Command,
  isCidr4,
  isIP,
  jsonFlag,
  printJson,
  printList,
  quietFlag,
  s,
  ValidationError,
} from './types.js';

const B = ['bgp'];
const path = (host: string): string => `/api/v1/Bgps/${encodeURIComponent(host)}/`;

export const bgpCommands: Command[] = [
  {
    object: B,
    verb: ['create'],
    usage: 'Add BGP configuration.',
    argsUsage: 'HOSTNAME',
    nargs: [1, 1],
    nargsMessage: 'Host name required',
    flags: [
      { names: ['router-ip'], kind: 'string', usage: 'BGP my-router ip', valueName: 'CIDR', required: true },
      { names: ['as'], kind: 'string', usage: 'Self AS id', valueName: 'AS', required: true },
      {
        names: ['neighbor-as'],
        kind: 'string',
        usage: 'BGP neighbor AS id',
        valueName: 'AS',
        required: true,
      },
      {
        names: ['neighbor'],
        kind: 'string',
        usage: 'BGP neighbor to be added',
        valueName: 'IP',
        required: true,
      },
    ],
    async run(ctx) {
      const a = ctx.args;
      const host = a.positionals[0]!;
      const routerip = str(a, 'router-ip');
      const neighbor = str(a, 'neighbor');
      const as = str(a, 'as');
      const neighborAs = str(a, 'neighbor-as');
      if (!isCidr4(routerip)) throw new ValidationError('Wrong CIDR format. Enter in x.x.x.x/len format');
      if (!isIP(neighbor)) throw new ValidationError('Wrong IP format. Enter in x.x.x.x format');
      if (!/^\d+$/.test(as) || !/^\d+$/.test(neighborAs)) throw new ValidationError('AS ids must be numbers');
      await ctx.client.post(path(host), {
        as,
        hostname: host,
        neighbor,
        'neighbor-as': neighborAs,
        routerip,
      });
    },
  },
  {
    object: B,
    verb: ['rm', 'delete'],
    usage: 'Delete BGP configuration',
    argsUsage: 'HOSTNAME',
    nargs: [1, 1],
    nargsMessage: 'Host name required',
    flags: [],
    async run(ctx) {
      const host = ctx.args.positionals[0]!;
      ctx.io.out(`Deleting Bgp router config: ${host}\n`);
      await ctx.client.delete(path(host));
    },
  },
  {
    object: B,
    verb: ['ls', 'list'],
    usage: 'List BGP configuration',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [jsonFlag, quietFlag],
    async run(ctx) {
      const rows = asList(await ctx.client.get('/api/v1/Bgps/'));
      printList(
        ctx,
        rows,
        'hostname',
        'HostName\tRouterIP\tAS\tNeighbor\tNeighborAS\n---------\t--------\t-------\t--------\t-------\n',
        (r) =>
          `${[s(r, 'hostname'), s(r, 'routerip'), s(r, 'as'), s(r, 'neighbor'), s(r, 'neighbor-as')].join('\t')}\n`,
        tabwrite,
      );
    },
  },
  {
    object: B,
    verb: ['inspect'],
    usage: 'Inspect Bgp',
    argsUsage: 'HOSTNAME',
    nargs: [1, 1],
    nargsMessage: 'Host name required',
    flags: [],
    async run(ctx) {
      printJson(
        ctx.io,
        await ctx.client.get(`/api/v1/inspect/Bgps/${encodeURIComponent(ctx.args.positionals[0]!)}/`),
      );
    },
  },
];
