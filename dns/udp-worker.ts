// Owns one extra process reading the DNS server's UDP socket (started by DnsServer with
// udpProcesses > 1): a mirror of the parent's registry fed over IPC, its own answer cache and
// forwarder. It exits when the parent goes away.
import type { Socket } from 'node:dgram';
import { Answerer } from './answer.js';
import { Forwarder } from './forwarder.js';
import { NameRegistry } from './registry.js';
import { serveUdp, type WorkerMessage } from './server.js';
import { parseUpstream } from './upstreams.js';

const registry = new NameRegistry();

process.on('message', (m: WorkerMessage, handle: unknown) => {
  if (m.type === 'update') {
    registry.apply(m.u);
    return;
  }
  registry.replaceAll(m.kvs);
  const answerer = new Answerer(registry, m.ttl !== undefined ? { ttl: m.ttl } : {});
  const forwarder = new Forwarder(m.upstreams.map(parseUpstream), m.forwardTimeoutMs);
  serveUdp(handle as Socket, answerer, forwarder, m.tenant);
  process.send?.('ready');
});
process.on('disconnect', () => process.exit(0));
