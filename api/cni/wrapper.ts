#!/usr/bin/env node
// Owns the `contiv-cni` wrapper script that runtimes execute: it answers VERSION itself (a runtime
// asks before every ADD and DEL, and a Node start costs ~0.2 s on a loaded host) and runs the Node
// executable for the rest. `make install` writes it with `node wrapper.js NODE MAIN`.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { versionResult } from './protocol.js';

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** The script: VERSION in sh (stdin drained, as the runtime writes the config anyway), else exec Node. */
export function cniWrapperScript(nodePath: string, mainPath: string): string {
  return [
    '#!/bin/sh',
    '# contiv-cni: VERSION is answered here; ADD, DEL and CHECK go to netplugin through the Node client.',
    'if [ "$CNI_COMMAND" = VERSION ]; then',
    '  cat >/dev/null',
    `  printf '%s\\n' ${quote(JSON.stringify(versionResult()))}`,
    '  exit 0',
    'fi',
    `exec ${quote(nodePath)} ${quote(mainPath)} "$@"`,
    '',
  ].join('\n');
}

function isMain(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const [nodePath, mainPath] = process.argv.slice(2);
  if (!nodePath || !mainPath) {
    process.stderr.write('usage: wrapper.js NODE MAIN_JS  (prints the contiv-cni script)\n');
    process.exit(2);
  }
  process.stdout.write(cniWrapperScript(nodePath, mainPath));
}
