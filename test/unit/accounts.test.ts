// Proves how long a token's rights are remembered: at once on the netmaster that changed them,
// within the cache time on another one on the same store, and never past the token's expiry.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Accounts } from '../../api/auth/accounts.js';
import { EmbeddedStore } from '../../state/index.js';

test('rights: changed at once here, within the cache time elsewhere, gone at expiry', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'accounts-'));
  const store = await EmbeddedStore.open(dir);
  try {
    let now = 1_000_000;
    const clock = () => now;
    const here = new Accounts(store, { now: clock, rightsCacheMs: 1000, tokenTtlMs: 5000 });
    const there = new Accounts(store, { now: clock, rightsCacheMs: 1000 });
    await here.ensureAdmin('Adm1n-secret');
    await here.createUser({ username: 'alice', password: 'Al1ce-secret' });
    const a = await here.addAuthorization({
      principalName: 'alice',
      local: true,
      role: 'ops',
      tenantName: 'blue',
    });
    const token = await here.login('alice', 'Al1ce-secret');
    assert.deepEqual([...((await here.rightsOf(token))?.tenants ?? [])], ['blue']);
    assert.deepEqual([...((await there.rightsOf(token))?.tenants ?? [])], ['blue']);

    await here.removeAuthorization(a.authzUUID);
    assert.equal((await here.rightsOf(token))?.tenants.size, 0, 'at once where it changed');
    assert.equal((await there.rightsOf(token))?.tenants.size, 1, 'the other still remembers');
    now += 1001;
    assert.equal((await there.rightsOf(token))?.tenants.size, 0, 'and forgets within the cache time');

    await here.logout(token);
    assert.equal(await here.rightsOf(token), undefined, 'a logout at once');
    const next = await here.login('alice', 'Al1ce-secret');
    assert.ok(await here.rightsOf(next));
    now += 5000;
    assert.equal(await here.rightsOf(next), undefined, 'never past the expiry');
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
