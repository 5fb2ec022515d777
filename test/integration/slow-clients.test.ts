// Proves a slow client cannot hold netmaster's REST server: one that trickles its headers (slowloris)
// gets 408 and is closed once the request time is up, while other clients are served meanwhile.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../api/rest/server.js';
import { EmbeddedStore } from '../../state/index.js';
import { tempDirPrefix } from '../harness/names.js';

describe('slow clients', () => {
  let dir: string;
  let store: EmbeddedStore;
  let app: FastifyInstance;
  let port: number;

  before(async () => {
    dir = await mkdtemp(tempDirPrefix('slow'));
    store = await EmbeddedStore.open(dir);
    app = buildServer({ store, clientLimits: { requestMs: 600, checkEveryMs: 100 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  after(async () => {
    await app?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('headers trickled byte by byte: 408 and closed after the request time; others served meanwhile', async () => {
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString();
    });
    const closed = new Promise<number>((resolve) => sock.once('close', () => resolve(Date.now())));
    const t0 = Date.now();
    sock.write('GET /api/v1/tenants/ HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => {
      if (!sock.destroyed) sock.write('X');
    }, 50);
    try {
      // Meanwhile another client is answered.
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/tenants/`);
      assert.equal(r.status, 200);
      const at = await Promise.race([
        closed,
        new Promise<number>((_, reject) =>
          setTimeout(() => reject(new Error('still open after 5 s')), 5000).unref(),
        ),
      ]);
      assert.ok(at - t0 >= 500, `closed after ${at - t0} ms`);
      assert.match(got, /^HTTP\/1\.1 408/);
    } finally {
      clearInterval(trickle);
      sock.destroy();
    }
  });
});
