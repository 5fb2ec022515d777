// Owns `netctl endpoint|ep inspect ID`: one endpoint's operational state from /api/v1/inspect/endpoints/.
// It must never change endpoints; they are created by the host agents, never by netctl.

import { type Command, printJson } from './types.js';

export const endpointCommands: Command[] = [
  {
    object: ['endpoint', 'ep'],
    verb: ['inspect'],
    usage: 'Inspect an Endpoint',
    argsUsage: 'EPID',
    nargs: [1, 1],
    nargsMessage: 'Endpoint name required',
    flags: [],
    async run(ctx) {
      printJson(
        ctx.io,
        await ctx.client.get(`/api/v1/inspect/endpoints/${encodeURIComponent(ctx.args.positionals[0]!)}/`),
      );
    },
  },
];
