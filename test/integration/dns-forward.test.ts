// Owns the forwarding edge cases against fake upstreams on loopback: the next upstream after a
// silent one, SERVFAIL when none answers, a relayed answer too large for the asker truncated,
// answers with the wrong question or from the wrong port ignored, the asker's id restored.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { NameRegistry } from '../../dns/registry.js';
import { DnsServer } from '../../dns/server.js';
import { dnsQuery } from '../harness/dns-query.js';

/** An answer to q with n A records (16 bytes each). */
function answerTo(q: Buffer, n: number): Buffer {
  const out = Buffer.concat([
    q,
    ...Array.from({ length: n }, (_, i) =>
      Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, i & 255]),
    ),
  ]);
  out[2] = 0x81;
  out[3] = 0x80;
  out.writeUInt16BE(n, 6);
  return out;
}

async function bound(onQuery?: (s: Socket, q: Buffer, port: number) => void): Promise<Socket> {
  const s = createSocket('udp4');
  if (onQuery) s.on('message', (m, r) => onQuery(s, m, r.port));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

describe('dns forwarding edge cases', () => {
  let silent: Socket;
  let good: Socket;
  let liar: Socket;
  let server: DnsServer;
  let lonely: DnsServer;
  let client: Socket;
  const sockets: Socket[] = [];

  before(async () => {
    silent = await bound();
    liar = await bound();
    good = await bound((s, q, port) => {
      const name = q.toString('latin1', 13, 16);
      // A forged answer first (wrong question), then one from another port: both must be ignored.
      const forged = answerTo(dnsQuery('evil.test', 1, { id: q.readUInt16BE(0) }), 1);
      s.send(forged, port, '127.0.0.1');
      liar.send(answerTo(q, 1), port, '127.0.0.1');
      s.send(answerTo(q, name === 'big' ? 60 : 2), port, '127.0.0.1');
    });
    sockets.push(silent, good, liar);
    const port = (s: Socket) => `127.0.0.1:${s.address().port}`;
    const registry = new NameRegistry();
    server = await DnsServer.start({
      registry,
      port: 0,
      upstreams: [port(silent), port(good)],
      forwardTimeoutMs: 200,
    });
    lonely = await DnsServer.start({ registry, port: 0, upstreams: [port(silent)], forwardTimeoutMs: 200 });
    client = await bound();
    sockets.push(client);
  });
  after(async () => {
    await server.close();
    await lonely.close();
    for (const s of sockets) s.close();
  });

  const ask = (srv: DnsServer, q: Buffer) =>
    new Promise<Buffer>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer')), 2000);
      client.once('message', (m) => {
        clearTimeout(t);
        resolve(m);
      });
      client.send(q, srv.port, '127.0.0.1');
    });

  it("tries the next upstream after a silent one and relays its answer with the asker's id", async () => {
    const t0 = Date.now();
    const r = await ask(server, dnsQuery('ok.test', 1, { id: 0x4242 }));
    assert.ok(Date.now() - t0 >= 150, 'waited for the first upstream');
    assert.equal(r.readUInt16BE(0), 0x4242);
    assert.equal(r.readUInt16BE(6), 2, 'the good answer, not the forged ones');
  });

  it('truncates a relayed answer larger than the asker allows', async () => {
    const r = await ask(server, dnsQuery('big.test', 1, { id: 7 }));
    assert.ok(r.length <= 512, `${r.length} bytes`);
    assert.ok(r[2]! & 0x02, 'TC');
    assert.equal(r.readUInt16BE(6), 0);
    assert.equal(r.readUInt16BE(0), 7);
  });

  it('SERVFAIL when no upstream answers', async () => {
    const r = await ask(lonely, dnsQuery('ok.test', 1, { id: 9 }));
    assert.equal(r[3]! & 0x0f, 2);
    assert.equal(r.readUInt16BE(0), 9);
  });
});
