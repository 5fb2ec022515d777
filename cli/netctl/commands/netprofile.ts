// Owns `netctl netprofile create|rm|ls|inspect`: bandwidth/DSCP profiles over /api/v1/netprofiles/.
// It must never apply rates; it only carries the user's words ("10 mbps") to netmaster unchanged.

import { int, str } from '../args.js';
import { objKey, omitEmpty } from '../client.js';
import { tabwrite } from '../table.js';
import {
  type Command,
  inspectCommand,
  listFlags,
  listForTenant,
  n,
  printList,
  s,
  tenantFlag,
  ValidationError,
} from './types.js';

const NP = ['netprofile'];

/** The model's own format for bandwidth (netProfile.json): "10 mbps", "1gbps", "100M", "512 kb". */
const BANDWIDTH =
  /^([1-9][0-9]* ([kmgKMG]bps|[kmgKMG]|kb|Kb|Gb|gb|Mb|mb))?$|^([1-9][0-9]*([kmgKMG]bps|[kmgKMG]|kb|Kb|Gb|gb|Mb|mb))?$/;

/** netctl's `ls` rendering of a bandwidth: first number + Gbps/Mbps/Kbps ("10 mbps" → "10Mbps"). */
export function showBandwidth(bw: string): string {
  const num = /[0-9]+/.exec(bw)?.[0] ?? '';
  const unit = /[gG]/.test(bw) ? 'Gbps' : /[mM]/.test(bw) ? 'Mbps' : /[kK]/.test(bw) ? 'Kbps' : '';
  return num + unit;
}

export const netprofileCommands: Command[] = [
  {
    object: NP,
    verb: ['create'],
    usage: 'Create a network profile',
    argsUsage: 'NETPROFILE',
    nargs: [1, 1],
    nargsMessage: 'Net profile name required',
    flags: [
      tenantFlag,
      {
        names: ['bandwidth', 'b'],
        kind: 'string',
        usage: 'Bandwidth (e.g., 10 kbps, 100 mbps, 1gbps)',
        valueName: 'RATE',
      },
      { names: ['dscp', 'd'], kind: 'int', usage: 'DSCP' },
      { names: ['burst', 's'], kind: 'int', usage: 'burst size(Must be in kilobytes)', valueName: 'KB' },
    ],
    async run(ctx) {
      const a = ctx.args;
      const tenant = str(a, 'tenant');
      const name = a.positionals[0]!;
      const bandwidth = str(a, 'bandwidth');
      const dscp = int(a, 'dscp');
      const burst = int(a, 'burst');
      if (!BANDWIDTH.test(bandwidth)) {
        throw new ValidationError(`Invalid bandwidth '${bandwidth}' - e.g. 10 kbps, 100 mbps, 1gbps`);
      }
      if (dscp < 0 || dscp > 63) throw new ValidationError(`Invalid DSCP ${dscp} - 0..63`);
      if (burst < 0) throw new ValidationError(`Invalid burst ${burst}`);
      await ctx.client.post(
        `/api/v1/netprofiles/${objKey(tenant, name)}/`,
        omitEmpty({ burst, bandwidth, DSCP: dscp, profileName: name, tenantName: tenant }),
      );
      ctx.io.out(`Creating netprofile ${tenant}:${name}\n`);
    },
  },
  {
    object: NP,
    verb: ['rm', 'delete'],
    usage: 'Delete a network profile',
    argsUsage: 'NETPROFILE',
    nargs: [1, 1],
    nargsMessage: 'Net profile name required',
    flags: [tenantFlag],
    async run(ctx) {
      await ctx.client.delete(
        `/api/v1/netprofiles/${objKey(str(ctx.args, 'tenant'), ctx.args.positionals[0]!)}/`,
      );
    },
  },
  inspectCommand({
    object: NP,
    plural: 'netprofiles',
    usage: 'inspect network profile',
    argsUsage: 'NETPROFILE',
    nargsMessage: 'Net profile name required',
  }),
  {
    object: NP,
    verb: ['ls', 'list'],
    usage: 'List network profile',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: listFlags,
    async run(ctx) {
      const rows = await listForTenant(ctx, 'netprofiles');
      printList(
        ctx,
        rows,
        'profileName',
        'Name\tTenant\tBandwidth\tDSCP\tburst size\n------\t------\t---------\t--------\t----------\n',
        (r) => {
          const bw = s(r, 'bandwidth');
          // netctl drops the burst column when no bandwidth is set; kept so tables line up the same way.
          return bw !== ''
            ? `${[s(r, 'profileName'), s(r, 'tenantName'), showBandwidth(bw), n(r, 'DSCP'), n(r, 'burst')].join('\t')}\n`
            : `${[s(r, 'profileName'), s(r, 'tenantName'), bw, n(r, 'DSCP')].join('\t')}\n`;
        },
        tabwrite,
      );
    },
  },
];
