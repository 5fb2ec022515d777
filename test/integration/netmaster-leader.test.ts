// Two netmasters on one etcd: one leads, a write sent to the follower is forwarded to the leader,
// and when the leader is killed the other takes over within 5 s and accepts writes itself.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, test } from 'node:test';
import { runCleanups } from '../harness/cleanup.js';
import { startEtcd } from '../harness/etcd.js';
import { type NetmasterProcess, startNetmaster } from '../harness/netmaster.js';

const procs: ChildProcess[] = [];

after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await runCleanups();
});

async function start(etcd: string): Promise<NetmasterProcess> {
  const n = await startNetmaster(['--etcd', etcd]);
  procs.push(n.p);
  return n;
}

interface Info {
  IsLeader: boolean;
  Leader: string;
}
const info = async (url: string) => (await (await fetch(`${url}/info`)).json()) as Info;

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const createTenant = (url: string, name: string) =>
  fetch(`${url}/api/v1/tenants/${name}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenantName: name }),
  });

test('one netmaster leads; followers forward writes; a dead leader is replaced within 5 s', async () => {
  const etcd = await startEtcd();
  const a = await start(etcd.endpoint);
  const b = await start(etcd.endpoint);
  const [leader, follower] = await until('a leader', 10_000, async () => {
    const [ia, ib] = await Promise.all([info(a.url), info(b.url)]);
    if (ia.IsLeader !== ib.IsLeader && ia.Leader && ib.Leader === ia.Leader)
      return ia.IsLeader ? [a, b] : [b, a];
    return undefined;
  });
  assert.equal((await info(follower.url)).Leader, leader.secureUrl, 'the follower knows where the leader is');

  // A write to the follower lands (through the leader), and both see it.
  const res = await createTenant(follower.url, 'blue');
  assert.equal(res.status, 200, await res.text());
  for (const n of [leader, follower]) {
    const got = await fetch(`${n.url}/api/v1/tenants/blue/`);
    assert.equal(got.status, 200);
  }

  const killedAt = Date.now();
  leader.p.kill('SIGKILL');
  await until('the follower to lead', 5_000, async () =>
    (await info(follower.url)).IsLeader ? true : undefined,
  );
  const took = Date.now() - killedAt;
  assert.ok(took < 5_000, `takeover took ${took} ms`);
  const after = await createTenant(follower.url, 'red');
  assert.equal(after.status, 200, await after.text());
  const done = new Promise((r) => follower.p.once('exit', r));
  follower.p.kill('SIGTERM');
  await done;
});
