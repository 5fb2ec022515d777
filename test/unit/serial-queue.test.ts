// Proves SerialQueue's contract: jobs run one at a time in the order queued, a failing job rejects
// only its own caller, and idle() waits for jobs queued while it waits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialQueue } from '../../lib/serial-queue.js';

test('jobs run one at a time, in order; a failure is its caller only', async () => {
  const q = new SerialQueue();
  const seen: string[] = [];
  let running = 0;
  const job = (name: string, ms: number, fail = false) =>
    q.run(async () => {
      running++;
      assert.equal(running, 1, 'two jobs at once');
      seen.push(`start ${name}`);
      await sleep(ms);
      running--;
      seen.push(`end ${name}`);
      if (fail) throw new Error(`${name} failed`);
      return name;
    });
  const a = job('a', 20);
  const b = job('b', 1, true);
  const c = job('c', 5);
  assert.equal(await a, 'a');
  await assert.rejects(b, /b failed/);
  assert.equal(await c, 'c');
  assert.deepEqual(seen, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
});

test('idle() waits for the jobs queued so far and those they queue', async () => {
  const q = new SerialQueue();
  let done = 0;
  void q.run(async () => {
    await sleep(5);
    done++;
    void q.run(async () => {
      await sleep(5);
      done++;
    });
  });
  await q.idle();
  assert.equal(done, 2);
  // A failed job does not make idle() reject.
  q.run(() => Promise.reject(new Error('x'))).catch(() => undefined);
  await q.idle();
});
