// Owns `netctl version`: this client's version and netmaster's, from GET /version.
// It must never hide the client's own version because the server is down: that half prints first.

import { readFileSync } from 'node:fs';
import type { JsonObject } from '../client.js';
import type { Command } from './types.js';

interface VersionInfo {
  version: string;
  gitCommit: string;
  buildTime: string;
}

/** The package's version, read beside the compiled tree (dist/cli/netctl/commands → package.json). */
export function clientVersion(): VersionInfo {
  let version = 'unknown';
  for (const rel of ['../../../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'contiv-ts' && pkg.version) {
        version = pkg.version;
        break;
      }
    } catch {
      // Not there in this layout: try the next.
    }
  }
  return {
    version,
    gitCommit: process.env.CONTIV_GIT_COMMIT ?? '',
    buildTime: process.env.CONTIV_BUILD_TIME ?? '',
  };
}

function pick(o: JsonObject, ...keys: string[]): string {
  for (const k of keys) {
    const v = o[k];
    if (typeof v === 'string') return v;
  }
  return '';
}

function show(v: VersionInfo): string {
  return `Version: ${v.version}\nGitCommit: ${v.gitCommit}\nBuildTime: ${v.buildTime}\n`;
}

export const versionCommands: Command[] = [
  {
    object: ['version'],
    verb: [],
    usage: 'Version Information',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [],
    async run(ctx) {
      // The client half never needs the network, so it prints even when netmaster is down; the failure to reach
      // the server is then an error (exit 1) rather than Contiv's silent "Unable to fetch".
      ctx.io.out(`Client Version:\n${show(clientVersion())}\n`);
      const r = await ctx.client.get('/version');
      const o: JsonObject = r !== null && typeof r === 'object' && !Array.isArray(r) ? r : {};
      // Contiv's Go struct had no json tags (Version, GitCommit, BuildTime); accept camelCase too.
      const server: VersionInfo = {
        version: pick(o, 'Version', 'version'),
        gitCommit: pick(o, 'GitCommit', 'gitCommit'),
        buildTime: pick(o, 'BuildTime', 'buildTime'),
      };
      ctx.io.out(`Server Version:\n${show(server)}`);
    },
  },
];
