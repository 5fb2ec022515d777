// Crash safety of the embedded store: a child process writes with 16 concurrent writers and prints each
// acknowledged key; the parent kill -9s it at random moments, reopens, and finds every acknowledged key.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { EmbeddedStore } from '../../state/embedded.js';

const CHILD_FLAG = '--crash-child';

/** Child mode: write until killed; a key is printed only after its put resolved (was fsynced). */
async function child(dir: string, round: string): Promise<void> {
  // A small snapshot threshold so that kills also land during snapshots and log truncation.
  // Orphaned (the test runner died): stop rather than write forever.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(3);
  }, 200).unref();
  const store = await EmbeddedStore.open(dir, { snapshotBytes: 32 * 1024 });
  process.stdout.write('ready\n');
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; ; i++) {
        const key = `/crash/${round}/${w}/${i}`;
        await store.put(key, `${key}=${'v'.repeat(i % 200)}`);
        // Synchronous on Linux pipes: once written, the parent has it even if we die next.
        process.stdout.write(`${key}\n`);
      }
    }),
  );
}

if (process.argv[2] === CHILD_FLAG) {
  await child(process.argv[3]!, process.argv[4]!);
} else {
  const { after, test } = await import('node:test');
  const { onCleanup, runCleanups } = await import('../harness/cleanup.js');
  const { tempDirPrefix } = await import('../harness/names.js');
  const { prng } = await import('../harness/prng.js');
  after(runCleanups);

  test('every acknowledged put survives kill -9 at random moments', async (t) => {
    const dir = await mkdtemp(tempDirPrefix('crash'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    t.diagnostic(`seed ${seed} (CRASH_SEED=${seed} repeats this run)`);
    const rand = prng(seed);
    const acked = new Map<string, string>();
    const self = fileURLToPath(import.meta.url);
    for (let round = 0; round < 6; round++) {
      const proc = spawn(process.execPath, [self, CHILD_FLAG, dir, String(round)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const cleanup = onCleanup(
        () => {
          proc.kill('SIGKILL');
        },
        { label: 'crash child', sync: () => proc.kill('SIGKILL') },
      );
      let buf = '';
      let stderr = '';
      let ready = false;
      let count = 0;
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (d: string) => {
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const line of lines) {
          if (line === 'ready') ready = true;
          else if (line) {
            acked.set(line, `${line}=${'v'.repeat(Number(line.split('/').at(-1)) % 200)}`);
            count++;
          }
        }
      });
      proc.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      const deadline = Date.now() + 15_000;
      while (!ready && Date.now() < deadline && proc.exitCode === null)
        await new Promise((r) => setTimeout(r, 5));
      assert.ok(ready, `child did not open the store (round ${round}): ${stderr}`);
      // Let it write for a random while, then crash it mid-stream.
      await new Promise((r) => setTimeout(r, 50 + Math.floor(rand() * 700)));
      proc.kill('SIGKILL');
      await exited;
      cleanup.dispose();
      assert.equal(proc.signalCode, 'SIGKILL', `child ended by itself: ${stderr}`);

      const store = await EmbeddedStore.open(dir); // the dead child's lock is stale: taken over
      try {
        const all = new Map((await store.list('/crash/')).map((kv) => [kv.key, kv.value]));
        let missing = 0;
        for (const [k, v] of acked) if (all.get(k) !== v) missing++;
        assert.equal(missing, 0, `round ${round}: ${missing} acknowledged keys lost or wrong`);
        assert.ok((await store.revision()) >= acked.size);
        t.diagnostic(`round ${round}: ${count} acknowledged in this run, ${all.size} keys stored in all`);
      } finally {
        await store.close();
      }
    }
    assert.ok(acked.size > 0);
  });
}
