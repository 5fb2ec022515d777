// Owns `netctl policy create|rm|ls|inspect|rule-add|rule-ls|rule-rm`: policies and their rules over REST.
// It must never evaluate rules; it only checks the shape Contiv's netctl checked before sending one.

import { int, str } from '../args.js';
import { type JsonObject, objKey, omitEmpty } from '../client.js';
import { tabwrite } from '../table.js';
import {
  asList,
  type Command,
  inspectCommand,
  isCidr4,
  isIPv4,
  jsonFlag,
  listFlags,
  listForTenant,
  n,
  printJson,
  printList,
  quietFlag,
  requireTenant,
  s,
  tenantFlag,
  ValidationError,
} from './types.js';

const P = ['policy'];

/** A rule's IP match: a host address or a CIDR. */
function validIpMatch(v: string): boolean {
  return isIPv4(v) || isCidr4(v);
}

export const policyCommands: Command[] = [
  {
    object: P,
    verb: ['create'],
    usage: 'Create a new policy',
    argsUsage: 'POLICY',
    nargs: [1, 1],
    nargsMessage: 'Policy name required',
    flags: [tenantFlag],
    async run(ctx) {
      const tenant = str(ctx.args, 'tenant');
      const policy = ctx.args.positionals[0]!;
      await ctx.client.post(`/api/v1/policys/${objKey(tenant, policy)}/`, {
        policyName: policy,
        tenantName: tenant,
      });
      ctx.io.out(`Creating policy ${tenant}:${policy}\n`);
    },
  },
  {
    object: P,
    verb: ['rm', 'delete'],
    usage: 'Delete a policy',
    argsUsage: 'POLICY',
    nargs: [1, 1],
    nargsMessage: 'Policy name required',
    flags: [tenantFlag],
    async run(ctx) {
      const tenant = str(ctx.args, 'tenant');
      const policy = ctx.args.positionals[0]!;
      ctx.io.out(`Deleting policy ${tenant}:${policy}\n`);
      await ctx.client.delete(`/api/v1/policys/${objKey(tenant, policy)}/`);
    },
  },
  inspectCommand({
    object: P,
    plural: 'policys',
    usage: 'Inspect a policy',
    argsUsage: 'POLICY',
    nargsMessage: 'Policy name required',
  }),
  {
    object: P,
    verb: ['ls', 'list'],
    usage: 'List policies',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: listFlags,
    async run(ctx) {
      const rows = await listForTenant(ctx, 'policys');
      printList(
        ctx,
        rows,
        'policyName',
        'Tenant\tPolicy\n------\t------\n',
        (r) => `${s(r, 'tenantName')}\t${s(r, 'policyName')}\n`,
        tabwrite,
      );
    },
  },
  {
    object: P,
    verb: ['rule-add'],
    usage: 'Add a new rule to the policy',
    argsUsage: 'POLICY RULEID',
    nargs: [2, 2],
    nargsMessage: 'Policy name and Rule ID required',
    flags: [
      tenantFlag,
      { names: ['priority', 'p'], kind: 'int', usage: 'Priority Indicator (1..100)', default: 1 },
      { names: ['direction', 'd'], kind: 'string', usage: 'Direction of traffic (in/out)', default: 'in' },
      {
        names: ['from-group', 'g'],
        kind: 'string',
        usage: 'From Endpoint Group Name (Valid in incoming direction only)',
        valueName: 'GROUP',
      },
      {
        names: ['to-group', 'e'],
        kind: 'string',
        usage: 'To Endpoint Group Name (Valid in outgoing direction only)',
        valueName: 'GROUP',
      },
      {
        names: ['from-network', 'n'],
        kind: 'string',
        usage: 'From Network name (Valid in incoming direction only)',
        valueName: 'NETWORK',
      },
      {
        names: ['to-network', 'o'],
        kind: 'string',
        usage: 'To Network name (Valid in outgoing direction only)',
        valueName: 'NETWORK',
      },
      {
        names: ['from-ip-address', 'i'],
        kind: 'string',
        usage: 'From IP address/CIDR (Valid in incoming direction only)',
        valueName: 'CIDR',
      },
      {
        names: ['to-ip-address', 's'],
        kind: 'string',
        usage: 'To IP address/CIDR (Valid in outgoing direction only)',
        valueName: 'CIDR',
      },
      {
        names: ['protocol', 'l'],
        kind: 'string',
        usage: 'Protocol (e.g., tcp, udp, icmp)',
        valueName: 'PROTO',
      },
      { names: ['port', 'P'], kind: 'int', usage: 'Port' },
      { names: ['action', 'j'], kind: 'string', usage: 'Action to take (allow or deny)', default: 'allow' },
    ],
    async run(ctx) {
      const a = ctx.args;
      const dir = str(a, 'direction');
      const fromGroup = str(a, 'from-group');
      const toGroup = str(a, 'to-group');
      const fromNet = str(a, 'from-network');
      const toNet = str(a, 'to-network');
      const fromIp = str(a, 'from-ip-address');
      const toIp = str(a, 'to-ip-address');
      const protocol = str(a, 'protocol');
      const action = str(a, 'action');
      const priority = int(a, 'priority');
      const port = int(a, 'port');
      // Contiv's own checks, in its order and words, so scripts see the same refusals.
      if (dir === 'in') {
        if (toGroup !== '') throw new ValidationError('Cant specify to-group for incoming rule');
        if (toNet !== '') throw new ValidationError('Cant specify to-network for incoming rule');
        if (fromGroup !== '' && fromNet !== '') {
          throw new ValidationError("Can't specify both from-group argument and -from-network ");
        }
      } else if (dir === 'out') {
        if (fromGroup !== '') throw new ValidationError('Cant specify from-group for outgoing rule');
        if (fromNet !== '') throw new ValidationError('Cant specify from-network for outgoing rule');
        if (fromIp !== '') throw new ValidationError('Cant specify from-ip-address for outgoing rule');
        if (toGroup !== '' && toNet !== '')
          throw new ValidationError("Can't specify both -to-group and -to-network");
      } else {
        throw new ValidationError(`Unknown direction '${dir}' - in or out`);
      }
      if (priority < 1 || priority > 100) throw new ValidationError(`Invalid priority ${priority} - 1..100`);
      if (action !== 'allow' && action !== 'deny')
        throw new ValidationError(`Invalid action '${action}' - allow or deny`);
      if (protocol !== '' && !/^(tcp|udp|icmp|\d{1,3})$/.test(protocol)) {
        throw new ValidationError(`Invalid protocol '${protocol}' - tcp, udp, icmp or a number`);
      }
      if (port < 0 || port > 65535) throw new ValidationError(`Invalid port ${port} - 0..65535`);
      if (fromIp !== '' && !validIpMatch(fromIp))
        throw new ValidationError(`Invalid from-ip-address '${fromIp}'`);
      if (toIp !== '' && !validIpMatch(toIp)) throw new ValidationError(`Invalid to-ip-address '${toIp}'`);
      const tenant = str(a, 'tenant');
      const [policy, ruleId] = a.positionals as [string, string];
      await ctx.client.post(
        `/api/v1/rules/${objKey(tenant, policy, ruleId)}/`,
        omitEmpty({
          tenantName: tenant,
          policyName: policy,
          ruleId,
          priority,
          direction: dir,
          fromEndpointGroup: fromGroup,
          toEndpointGroup: toGroup,
          fromNetwork: fromNet,
          toNetwork: toNet,
          fromIpAddress: fromIp,
          toIpAddress: toIp,
          protocol,
          port,
          action,
        }),
      );
    },
  },
  {
    object: P,
    verb: ['rule-rm'],
    usage: 'Delete a rule from the policy',
    argsUsage: 'POLICY RULEID',
    nargs: [2, 2],
    nargsMessage: 'Policy name and Rule ID required',
    flags: [tenantFlag],
    async run(ctx) {
      const [policy, ruleId] = ctx.args.positionals as [string, string];
      await ctx.client.delete(`/api/v1/rules/${objKey(str(ctx.args, 'tenant'), policy, ruleId)}/`);
    },
  },
  {
    object: P,
    verb: ['rule-ls'],
    usage: 'List rules for a given tenant,policy',
    argsUsage: 'POLICY',
    nargs: [1, 1],
    nargsMessage: 'Policy name required',
    flags: [tenantFlag, jsonFlag, quietFlag],
    async run(ctx) {
      const tenant = str(ctx.args, 'tenant');
      const policy = ctx.args.positionals[0]!;
      await requireTenant(ctx, tenant);
      await ctx.client.get(`/api/v1/policys/${objKey(tenant, policy)}/`);
      const prio = (r: JsonObject): number => Number(n(r, 'priority'));
      // Array.prototype.sort is stable, which keeps netctl's "same priority: server order" grouping.
      const rules = asList(await ctx.client.get('/api/v1/rules/'))
        .filter((r) => s(r, 'tenantName') === tenant && s(r, 'policyName') === policy)
        .sort((x, y) => prio(x) - prio(y));
      if (ctx.args.values.get('json') === true) {
        printJson(ctx.io, rules);
        return;
      }
      if (ctx.args.values.get('quiet') === true) {
        ctx.io.out(rules.map((r) => `${s(r, 'ruleId')}\n`).join(''));
        return;
      }
      let t =
        'Incoming Rules:\n' +
        'Rule\tPriority\tFrom EndpointGroup\tFrom Network\tFrom IpAddress\tTo IpAddress\tProtocol\tPort\tAction\n' +
        '----\t--------\t------------------\t------------\t---------\t------------\t--------\t----\t------\n';
      for (const r of rules) {
        if (s(r, 'direction') !== 'in') continue;
        t += `${[
          s(r, 'ruleId'),
          n(r, 'priority'),
          s(r, 'fromEndpointGroup'),
          s(r, 'fromNetwork'),
          s(r, 'fromIpAddress'),
          s(r, 'toIpAddress'),
          s(r, 'protocol'),
          n(r, 'port'),
          s(r, 'action'),
        ].join('\t')}\n`;
      }
      t +=
        'Outgoing Rules:\n' +
        'Rule\tPriority\tTo EndpointGroup\tTo Network\tTo IpAddress\tProtocol\tPort\tAction\n' +
        '----\t--------\t----------------\t----------\t---------\t--------\t----\t------\n';
      for (const r of rules) {
        if (s(r, 'direction') !== 'out') continue;
        t += `${[
          s(r, 'ruleId'),
          n(r, 'priority'),
          s(r, 'toEndpointGroup'),
          s(r, 'toNetwork'),
          s(r, 'toIpAddress'),
          s(r, 'protocol'),
          n(r, 'port'),
          s(r, 'action'),
        ].join('\t')}\n`;
      }
      ctx.io.out(tabwrite(t));
    },
  },
];
