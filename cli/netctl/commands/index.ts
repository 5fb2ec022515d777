// Owns the registry of every netctl command and how a command line finds one (object word, then verb).
// It must never run a command; main.ts parses, dispatches and maps outcomes to exit codes.

import { aciGwCommands } from './acigw.js';
import { appProfileCommands } from './appprofile.js';
import { bgpCommands } from './bgp.js';
import { endpointCommands } from './endpoint.js';
import { extContractsCommands } from './extcontracts.js';
import { globalCommands } from './global.js';
import { groupCommands } from './group.js';
import { loginCommands } from './login.js';
import { netprofileCommands } from './netprofile.js';
import { networkCommands } from './network.js';
import { policyCommands } from './policy.js';
import { serviceCommands } from './service.js';
import { tenantCommands } from './tenant.js';
import type { Command } from './types.js';
import { userCommands } from './users.js';
import { versionCommands } from './version.js';

export const commands: readonly Command[] = [
  ...versionCommands,
  ...loginCommands,
  ...groupCommands,
  ...endpointCommands,
  ...netprofileCommands,
  ...networkCommands,
  ...tenantCommands,
  ...policyCommands,
  ...extContractsCommands,
  ...globalCommands,
  ...aciGwCommands,
  ...bgpCommands,
  ...appProfileCommands,
  ...serviceCommands,
  ...userCommands,
];

/** One line per object for the top-level usage, in registry order. */
export const objectSummaries: readonly (readonly [string, string])[] = [
  ['version', 'Version Information'],
  ['login', "authenticate to Contiv (you must specify auth_proxy's HTTPS address in the --netmaster flag)"],
  ['group', 'Endpoint Group manipulation tools'],
  ['endpoint, ep', 'Endpoint Inspection'],
  ['netprofile', 'Network profile manipulation tools'],
  ['network, net', 'Network manipulation tools'],
  ['tenant', 'Tenant manipulation tools'],
  ['policy', 'Policy manipulation tools'],
  ['external-contracts', 'External contracts'],
  ['global', 'Global information'],
  ['aci-gw', 'ACI Gateway information'],
  ['bgp', 'router capability configuration'],
  ['app-profile', 'Application Profile manipulation tools'],
  ['service', 'service object creation'],
  ['user', 'local users (auth_proxy local_users; admin only)'],
  ['authorization', 'roles of users: admin, or ops for a tenant (admin only)'],
];

export function commandsFor(object: string): Command[] {
  return commands.filter((c) => c.object.includes(object));
}

export function findCommand(object: string, verb: string): Command | undefined {
  return commandsFor(object).find((c) => c.verb.includes(verb));
}
