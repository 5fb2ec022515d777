// SwitchConnection against a scripted fake switch on loopback: negotiation, multipart assembly,
// error attribution, malformed frames, keep-alive and dead-peer detection.

import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { encode } from '../../controller/openflow/encode.js';
import { OFErrorReply } from '../../controller/openflow/errors.js';
import {
  type FlowMod,
  MultipartType,
  type OFMessage,
  OFPMPF_MORE,
} from '../../controller/openflow/messages.js';
import { OFParser } from '../../controller/openflow/parser.js';
import { RequestError } from '../../controller/switch/connection.js';
import { connectSwitch } from '../../controller/switch/endpoint.js';

type Script = (m: OFMessage, reply: (r: OFMessage) => void, sock: Socket) => void;

let server: Server;
let port = 0;
let script: Script = () => {};
/** Versions the fake switch offers in its HELLO. */
let offered = [4];
const received: OFMessage[] = [];

before(async () => {
  server = createServer((sock) => {
    const reply = (r: OFMessage) => sock.write(encode(r));
    reply({ type: 'hello', xid: 1, versions: offered });
    const parser = new OFParser({
      onMessage: (m) => {
        received.push(m);
        if (m.type === 'featuresRequest') {
          reply({
            type: 'featuresReply',
            xid: m.xid,
            datapathId: 0xabcn,
            nBuffers: 0,
            nTables: 254,
            auxiliaryId: 0,
            capabilities: 0,
          });
          return;
        }
        script(m, reply, sock);
      },
      onError: () => {},
    });
    sock.on('data', (c) => parser.push(c));
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const target = () => `tcp:127.0.0.1:${port}`;

test('handshake negotiates 1.3 and reads the datapath id', async () => {
  offered = [1, 4];
  script = () => {};
  const conn = await connectSwitch(target());
  assert.equal(conn.datapathId, 0xabcn);
  assert.equal(conn.features.nTables, 254);
  conn.close();
});

test('a switch without OpenFlow 1.3 is refused with HELLO_FAILED', async () => {
  offered = [1, 3];
  received.length = 0;
  await assert.rejects(connectSwitch(target()), /does not speak OpenFlow 1\.3/);
  await new Promise((r) => setTimeout(r, 50));
  const err = received.find((m) => m.type === 'error');
  assert.ok(
    err && err.type === 'error' && err.errType === 0 && err.code === 0,
    'HELLO_FAILED/INCOMPATIBLE sent',
  );
  offered = [4];
});

test('multipart replies flagged MORE are assembled in order', async () => {
  script = (m, reply) => {
    if (m.type !== 'multipartRequest' || m.mpType !== MultipartType.PORT_DESC) return;
    for (let i = 1; i <= 3; i++) {
      reply({
        type: 'multipartReply',
        xid: m.xid,
        flags: i < 3 ? OFPMPF_MORE : 0,
        mpType: MultipartType.PORT_DESC,
        ports: [
          {
            portNo: i,
            hwAddr: `02:00:00:00:00:0${i}`,
            name: `p${i}`,
            config: 0,
            state: 0,
            curr: 0,
            advertised: 0,
            supported: 0,
            peer: 0,
            currSpeed: 0,
            maxSpeed: 0,
          },
        ],
      });
    }
  };
  const conn = await connectSwitch(target());
  const ports = await conn.portDescs();
  assert.deepEqual(
    ports.map((p) => p.name),
    ['p1', 'p2', 'p3'],
  );
  conn.close();
});

test('an error reply rejects the request it answers, with type and code names', async () => {
  script = (m, reply) => {
    if (m.type === 'roleRequest') {
      reply({
        type: 'error',
        xid: m.xid,
        errType: 11,
        code: 2,
        typeName: '',
        codeName: '',
        data: Buffer.alloc(0),
      });
    }
  };
  const conn = await connectSwitch(target());
  await assert.rejects(conn.setRole(2), (err: unknown) => {
    assert.ok(err instanceof OFErrorReply);
    assert.match(err.message, /^OFPET_ROLE_REQUEST_FAILED\/OFPRRFC_BAD_ROLE/);
    return true;
  });
  conn.close();
});

test('a bundle whose message is refused rejects with that message error', async () => {
  script = (m, reply) => {
    if (m.type === 'bundleControl') {
      reply({ ...m, ctrlType: m.ctrlType + 1 });
    } else if (m.type === 'bundleAdd' && m.message.type === 'flowMod' && m.message.priority === 2) {
      reply({
        type: 'error',
        xid: m.xid,
        errType: 5,
        code: 6,
        typeName: '',
        codeName: '',
        data: Buffer.alloc(0),
      });
    }
  };
  const conn = await connectSwitch(target());
  const fm = (priority: number): FlowMod => ({
    type: 'flowMod',
    xid: 0,
    cookie: 0n,
    cookieMask: 0n,
    tableId: 0,
    command: 0,
    idleTimeout: 0,
    hardTimeout: 0,
    priority,
    bufferId: 0xffffffff,
    outPort: 0xffffffff,
    outGroup: 0xffffffff,
    flags: 0,
    match: {},
    instructions: [],
  });
  await assert.rejects(conn.bundle([fm(1), fm(2), fm(3)]), /OFPET_FLOW_MOD_FAILED\/OFPFMFC_BAD_COMMAND/);
  await conn.bundle([fm(1)]);
  conn.close();
});

test('a malformed frame is reported and the session goes on', async () => {
  script = (m, _reply, sock) => {
    if (m.type !== 'barrierRequest') return;
    // A FLOW_REMOVED whose body is cut short, then the real barrier reply in the same chunk.
    const bad = Buffer.from([4, 11, 0, 12, 0, 0, 0, 9, 1, 2, 3, 4]);
    sock.write(Buffer.concat([bad, encode({ type: 'barrierReply', xid: m.xid })]));
  };
  const conn = await connectSwitch(target());
  const errors: Error[] = [];
  conn.on('asyncError', (e) => errors.push(e));
  await conn.barrier();
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /FLOW_REMOVED/);
  assert.ok(conn.isOpen);
  conn.close();
});

test('a broken frame length closes the session instead of stalling it', async () => {
  script = (m, _reply, sock) => {
    if (m.type === 'barrierRequest') sock.write(Buffer.from([4, 21, 0, 4, 0, 0, 0, 1]));
  };
  const conn = await connectSwitch(target());
  const closed = new Promise<Error | undefined>((r) => conn.once('close', r));
  await assert.rejects(conn.barrier(), RequestError);
  assert.ok(await closed);
  assert.equal(conn.isOpen, false);
});

test('echo requests are answered; a silent switch is declared dead', async () => {
  let echoes = 0;
  script = (m) => {
    if (m.type === 'echoRequest') echoes++; // never answered: the switch is "dead"
  };
  const conn = await connectSwitch(target(), { echoIntervalMs: 60, deadPeerMs: 300 });
  const reason = await new Promise<Error | undefined>((r) => conn.once('close', r));
  assert.ok(echoes >= 1, 'probed before giving up');
  assert.match(String(reason?.message), /declared dead/);
});

test('a request without reply times out and leaves the session usable', async () => {
  script = (m, reply) => {
    if (m.type === 'barrierRequest') reply({ type: 'barrierReply', xid: m.xid });
  };
  const conn = await connectSwitch(target(), { requestTimeoutMs: 100 });
  await assert.rejects(conn.request({ type: 'getConfigRequest', xid: 0 }), /no reply within 100 ms/);
  await conn.barrier();
  conn.close();
});

test('handshake times out when the peer never says HELLO', async () => {
  // It reads (and ignores) what we send, so that it sees our close.
  const silent = createServer((s) => s.on('error', () => {}).resume());
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const p = (silent.address() as { port: number }).port;
  try {
    await assert.rejects(
      connectSwitch(`tcp:127.0.0.1:${p}`, { handshakeTimeoutMs: 100 }),
      /no HELLO within 100 ms/,
    );
  } finally {
    await new Promise<void>((r) => silent.close(() => r()));
  }
});
