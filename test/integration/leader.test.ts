// Leader election on a real etcd (one client per elector) and on one embedded store shared in-process:
// one leads, the follower knows its address, and a dead or resigned leader is replaced within 5 s.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EmbeddedStore } from '../../state/embedded.js';
import { EtcdStore } from '../../state/etcd.js';
import { type Election, elect } from '../../state/leader.js';
import type { Store } from '../../state/store.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { type EtcdInstance, startEtcd } from '../harness/etcd.js';
import { tempDirPrefix } from '../harness/names.js';
import { missingFor } from '../harness/require.js';
import { waitFor } from '../harness/wait.js';

const TTL = 2;
const CHILD_FLAG = '--elector-child';

/** Each elector gets its own store client (for etcd a separate connection, so closing it is a death). */
type Stores = () => Promise<Store>;

function electionSuite(name: string, storeFor: Stores): void {
  describe(`leader election: ${name}`, () => {
    test('one leads, the follower knows its address, a resign hands over', async (t) => {
      const key = `/contiv.io/leader-${name}-resign`;
      const a = await elect(await storeFor(), { id: 'a', address: '127.0.0.1:9001', ttlSec: TTL, key });
      onCleanup(() => a.close());
      const b = await elect(await storeFor(), { id: 'b', address: '127.0.0.1:9002', ttlSec: TTL, key });
      onCleanup(() => b.close());
      assert.equal(a.isLeader, true);
      assert.equal(b.isLeader, false);
      assert.deepEqual(await b.leader(), { id: 'a', address: '127.0.0.1:9001' });
      assert.deepEqual(await a.leader(), { id: 'a', address: '127.0.0.1:9001' });

      const events: string[] = [];
      b.on('elected', () => events.push('b elected'));
      b.on('leader', (l) => events.push(`b sees ${l?.id ?? 'none'}`));
      a.on('deposed', () => events.push('a deposed'));
      await a.resign();
      assert.equal(a.isLeader, false);
      const ms = await waitFor('b to lead', () => b.isLeader, 5000);
      t.diagnostic(`${name}: resign → new leader in ${ms} ms`);
      assert.ok(ms < 5000);
      assert.deepEqual(await b.leader(), { id: 'b', address: '127.0.0.1:9002' });
      assert.ok(events.includes('a deposed'));
      assert.ok(events.includes('b elected'));
      assert.ok(events.includes('b sees b'), events.join(', '));
    });

    test('a dead leader (lease no longer kept alive) is replaced within 5 s', async (t) => {
      const key = `/contiv.io/leader-${name}-death`;
      const sa = await storeFor();
      const a = await elect(sa, { id: 'a', address: '10.0.0.1:9999', ttlSec: TTL, key });
      const b = await elect(await storeFor(), { id: 'b', address: '10.0.0.2:9999', ttlSec: TTL, key });
      onCleanup(() => b.close());
      assert.equal(a.isLeader, true);
      assert.equal((await b.leader())?.address, '10.0.0.1:9999');
      const seen: (string | undefined)[] = [];
      b.on('leader', (l) => seen.push(l?.address));
      // The leader dies: nothing revokes its lease or deletes its key.
      await a.close();
      const ms = await waitFor('b to take over', () => b.isLeader, 5000);
      t.diagnostic(`${name}: dead leader → new leader in ${ms} ms (TTL ${TTL} s)`);
      assert.ok(ms >= 500, `took over after ${ms} ms: too early for a lease expiry`);
      assert.deepEqual(await b.leader(), { id: 'b', address: '10.0.0.2:9999' });
      assert.equal(seen.at(-1), '10.0.0.2:9999');

      // A third elector joining now follows b.
      const c = await elect(await storeFor(), { id: 'c', address: '10.0.0.3:9999', ttlSec: TTL, key });
      onCleanup(() => c.close());
      assert.equal(c.isLeader, false);
      assert.equal((await c.leader())?.id, 'b');
    });
  });
}

/** Child mode: one elector on etcd that prints when it leads, then lives until killed. */
async function child(endpoint: string, key: string): Promise<void> {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(3); // orphaned: the test runner died
  }, 200);
  const s = await EtcdStore.connect([endpoint]);
  const e = await elect(s, { id: 'child', address: '10.0.1.1:9999', ttlSec: TTL, key });
  process.stdout.write(e.isLeader ? 'elected\n' : 'follower\n');
}

if (process.argv[2] === CHILD_FLAG) {
  await child(process.argv[3]!, process.argv[4]!);
} else {
  describe('embedded store', () => {
    let store: EmbeddedStore;
    before(async () => {
      const dir = await mkdtemp(tempDirPrefix('leader'));
      onCleanup(() => rm(dir, { recursive: true, force: true }));
      store = await EmbeddedStore.open(dir);
      onCleanup(() => store.close());
    });
    electionSuite('embedded', async () => store);
  });

  const missing = missingFor('etcd');
  const skipEtcd = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;
  describe('etcd', { skip: skipEtcd }, () => {
    let etcd: EtcdInstance;
    before(async () => {
      if (missing.length > 0)
        throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
      etcd = await startEtcd();
    });
    test('a leader process killed with SIGKILL is replaced within 5 s', async (t) => {
      const key = '/contiv.io/leader-etcd-kill';
      const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), CHILD_FLAG, etcd.endpoint, key], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      onCleanup(() => void proc.kill('SIGKILL'), {
        label: 'elector child',
        sync: () => proc.kill('SIGKILL'),
      });
      let out = '';
      proc.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      proc.stderr.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      await waitFor('the child to lead', () => out.includes('elected'), 10_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${out}`);
      });
      const s = await EtcdStore.connect([etcd.endpoint]);
      onCleanup(() => s.close());
      const b = await elect(s, { id: 'b', address: '10.0.1.2:9999', ttlSec: TTL, key });
      onCleanup(() => b.close());
      assert.equal(b.isLeader, false);
      assert.deepEqual(await b.leader(), { id: 'child', address: '10.0.1.1:9999' });
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
      const ms = await waitFor('b to take over from the killed leader', () => b.isLeader, 5000);
      t.diagnostic(`etcd: SIGKILLed leader → new leader in ${ms} ms (TTL ${TTL} s)`);
      assert.ok(ms < 5000);
      assert.deepEqual(await b.leader(), { id: 'b', address: '10.0.1.2:9999' });
    });
    electionSuite('etcd', async () => {
      const s = await EtcdStore.connect([etcd.endpoint]);
      onCleanup(() => s.close());
      return s;
    });
  });

  // Electors' close() registered above runs before their stores close (cleanups are LIFO).
  after(runCleanups);
}

export type { Election };
