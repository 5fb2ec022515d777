// Owns `netctl login` (Contiv's auth_proxy login) and the token file it writes,
// ~/.netctl/config.json ({"token": ...}, mode 0600 in a 0700 directory), which every later
// netctl call sends as X-Auth-Token. It must never print the password or the token.

import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { str } from '../args.js';
import type { Command } from './types.js';

/** auth_proxy's login path; the user points --netmaster at auth_proxy's https:// address. */
export const LOGIN_PATH = '/api/v1/auth_proxy/login/';

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOME || homedir(), '.netctl', 'config.json');
}

/** The saved token, or undefined when netctl never logged in (or the file is unreadable). */
export function readToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const c = JSON.parse(readFileSync(configPath(env), 'utf8')) as { token?: unknown };
    return typeof c.token === 'string' && c.token !== '' ? c.token : undefined;
  } catch {
    return undefined;
  }
}

export function writeToken(token: string, env: NodeJS.ProcessEnv = process.env): void {
  const file = configPath(env);
  const dir = join(file, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify({ token })}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // also when the file existed with wider permissions
}

/** Reads the missing credentials from stdin, one line each (prompts on stderr, so stdout stays clean). */
async function prompt(questions: string[]): Promise<string[]> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const out: string[] = [];
  try {
    for (const q of questions) {
      process.stderr.write(q);
      const next = await lines.next();
      out.push(next.done ? '' : String(next.value).trim());
    }
  } finally {
    rl.close();
  }
  return out;
}

export const loginCommands: Command[] = [
  {
    object: ['login'],
    verb: [],
    usage: "authenticate to Contiv (you must specify auth_proxy's HTTPS address in the --netmaster flag)",
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [
      { names: ['username', 'u'], kind: 'string', usage: 'username (asked on stdin when absent)' },
      { names: ['password', 'p'], kind: 'string', usage: 'password (asked on stdin when absent)' },
    ],
    async run(ctx) {
      let username = str(ctx.args, 'username');
      let password = str(ctx.args, 'password');
      const ask = [...(username ? [] : ['Username: ']), ...(password ? [] : ['Password: '])];
      if (ask.length > 0) {
        const got = await prompt(ask);
        if (!username) username = got.shift() ?? '';
        if (!password) password = got.shift() ?? '';
      }
      if (!username || !password) throw new Error('login: a username and a password are required');
      const r = await ctx.client.post(LOGIN_PATH, { username, password });
      const token =
        r !== null && typeof r === 'object' && !Array.isArray(r) && typeof r.token === 'string'
          ? r.token
          : '';
      if (!token) throw new Error(`login: ${ctx.client.baseUrl} answered without a token`);
      writeToken(token, ctx.env);
      ctx.io.out('Login succeeded.\n');
    },
  },
];
