// kill -9 netmaster (embedded store) in the middle of a stream of REST writes, several times:
// every write it acknowledged is there after a restart, and the store opens cleanly each time.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startNetmaster } from '../harness/netmaster.js';
import { prng } from '../harness/prng.js';

let dir = '';
let current: ChildProcess | undefined;

after(async () => {
  current?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<{ p: ChildProcess; url: string }> {
  const n = await startNetmaster(['--data-dir', dataDir]);
  current = n.p;
  return n;
}

test('every acknowledged write survives kill -9 of netmaster', async () => {
  dir = await mkdtemp(join(tmpdir(), 'netmaster-crash-'));
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
  const rnd = prng(seed);
  const acknowledged: string[] = [];
  let n = 0;
  for (let round = 0; round < 4; round++) {
    const { p, url } = await start(dir);
    // The store opened cleanly and holds everything acknowledged so far.
    const list = (await (await fetch(`${url}/api/v1/tenants/`)).json()) as { tenantName: string }[];
    const have = new Set(list.map((t) => t.tenantName));
    const lost = acknowledged.filter((t) => !have.has(t));
    assert.deepEqual(lost, [], `seed ${seed}, round ${round}: acknowledged tenants lost`);

    // 8 writers until the kill; a tenant counts only once its 200 came back.
    let killed = false;
    const writer = async () => {
      while (!killed) {
        const name = `t${n++}`;
        try {
          const res = await fetch(`${url}/api/v1/tenants/${name}/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ tenantName: name }),
          });
          if (res.ok) acknowledged.push(name);
          else if (!killed) throw new Error(`POST ${name}: ${res.status} ${await res.text()}`);
        } catch (err) {
          if (!killed) throw err;
        }
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    await new Promise((r) => setTimeout(r, 150 + Math.floor(rnd() * 400)));
    killed = true;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await Promise.allSettled(writers);
    await exited;
  }
  assert.ok(
    acknowledged.length > 50,
    `only ${acknowledged.length} writes were acknowledged: the test proved little`,
  );
  const { p, url } = await start(dir);
  const list = (await (await fetch(`${url}/api/v1/tenants/`)).json()) as { tenantName: string }[];
  const have = new Set(list.map((t) => t.tenantName));
  assert.deepEqual(
    acknowledged.filter((t) => !have.has(t)),
    [],
    `seed ${seed}: acknowledged tenants lost`,
  );
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
});
