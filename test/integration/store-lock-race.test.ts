// Proves the embedded store's stale-lock takeover under a race: two processes find the LOCK of a
// dead owner at the same moment (the window between judging it stale and taking it over widened to
// 300 ms through the staleLockPauseMs option) and exactly one of them opens the store, every round.
// Before the takeover moved the stale file aside and checked its inode, both could open it: each
// removed "the stale lock", the second removing the first's fresh one.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDirPrefix } from '../harness/names.js';

const EMBEDDED = fileURLToPath(new URL('../../state/embedded.js', import.meta.url));

// Opens the store, says OPEN or LOCKED, holds it a while, exits without closing (as a crash would).
const CHILD = `
const { EmbeddedStore, StoreLockedError } = await import(${JSON.stringify(EMBEDDED)});
try {
  await EmbeddedStore.open(process.argv[1], { staleLockPauseMs: 300 });
  process.stdout.write('OPEN');
  setTimeout(() => process.exit(0), 800);
} catch (e) {
  process.stdout.write(e instanceof StoreLockedError ? 'LOCKED' : 'ERROR ' + e.message);
  process.exit(0);
}`;

function child(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', CHILD, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.on('error', reject);
    p.on('exit', () => resolve(out));
  });
}

test('two processes taking over a stale lock at once: exactly one opens the store', async () => {
  const dir = await mkdtemp(tempDirPrefix('lock-race'));
  try {
    for (let round = 0; round < 4; round++) {
      // A dead owner's lock (a pid that has just exited).
      const dead = spawnSync(process.execPath, ['-e', '0']).pid;
      await writeFile(join(dir, 'LOCK'), `${dead}\n`);
      const outs = await Promise.all([child(dir), child(dir)]);
      assert.deepEqual([...outs].sort(), ['LOCKED', 'OPEN'], `round ${round}: ${JSON.stringify(outs)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
