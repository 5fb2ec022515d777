// A program run inside a container's namespace (`node svc-echo.js …`) for the service tests:
//   serve NAME PORT            TCP and UDP on PORT: a TCP client is sent "NAME\n" and then echoed,
//                              a UDP datagram is answered with "NAME"
//   spread tcp|udp IP PORT N   N new connections (or datagrams from N sockets) one after another;
//                              prints {"NAME": count, …, "": failures} as JSON
//   hold IP PORT               one TCP connection: prints "NAME", then a line a tick (every 50 ms,
//                              echoed back) until stdin closes or the connection breaks ("lost")
//   rate IP PORT SECONDS C     new TCP connections (C at a time), each read until the server's first
//                              line; prints {"connections": n, "failures": f, "seconds": s}
import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';

const [mode, ...args] = process.argv.slice(2);

function firstLine(sock: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
    sock.on('data', (d) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        sock.removeAllListeners('data');
        resolve(buf.slice(0, i));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      reject(new Error('closed'));
    });
  });
}

function nameOver(proto: string, ip: string, port: number): Promise<string> {
  if (proto === 'udp') {
    return new Promise((resolve, reject) => {
      const s = createSocket('udp4');
      const timer = setTimeout(() => {
        s.close();
        reject(new Error('timeout'));
      }, 1000);
      s.on('message', (m) => {
        clearTimeout(timer);
        s.close();
        resolve(m.toString());
      });
      s.send('who', port, ip);
    });
  }
  const sock = connect({ host: ip, port });
  return firstLine(sock, 2000).finally(() => sock.destroy());
}

async function main(): Promise<void> {
  if (mode === 'serve') {
    const [name, port] = args as [string, string];
    createServer((s) => {
      s.on('error', () => undefined);
      s.write(`${name}\n`);
      s.pipe(s);
    }).listen(Number(port), () => {
      const u = createSocket('udp4');
      u.on('message', (_m, from) => u.send(name, from.port, from.address));
      u.bind(Number(port), () => process.stdout.write('listening\n'));
    });
    return;
  }
  if (mode === 'spread') {
    const [proto, ip, port, n] = args as [string, string, string, string];
    const counts: Record<string, number> = {};
    // One untallied first try: the client's ARP for the VIP and the switches' first upcalls.
    await nameOver(proto, ip, Number(port)).catch(() => '');
    for (let i = 0; i < Number(n); i++) {
      const name = await nameOver(proto, ip, Number(port)).catch(() => '');
      counts[name] = (counts[name] ?? 0) + 1;
    }
    process.stdout.write(`${JSON.stringify(counts)}\n`);
    return;
  }
  if (mode === 'hold') {
    const [ip, port] = args as [string, string];
    const sock = connect({ host: ip, port: Number(port) });
    sock.setNoDelay(true);
    process.stdout.write(`${await firstLine(sock, 3000)}\n`);
    let echoed = 0;
    let sent = 0;
    sock.on('data', (d) => {
      echoed += d.toString().split('\n').length - 1;
    });
    const lost = () => {
      process.stdout.write('lost\n');
      process.exit(1);
    };
    sock.on('close', lost);
    sock.on('error', lost);
    const tick = setInterval(() => {
      if (sent - echoed > 20) lost();
      sock.write('x\n');
      sent++;
      process.stdout.write(`ok ${echoed}\n`);
    }, 50);
    process.stdin.on('end', () => {
      clearInterval(tick);
      sock.removeAllListeners('close');
      sock.end();
      process.stdout.write(`done ${echoed}\n`);
    });
    process.stdin.resume();
    return;
  }
  if (mode === 'rate') {
    const [ip, port, seconds, concurrency] = args as [string, string, string, string];
    const until = Date.now() + Number(seconds) * 1000;
    let connections = 0;
    let failures = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: Number(concurrency) }, async () => {
        while (Date.now() < until) {
          try {
            await nameOver('tcp', ip, Number(port));
            connections++;
          } catch {
            failures++;
          }
        }
      }),
    );
    process.stdout.write(`${JSON.stringify({ connections, failures, seconds: (Date.now() - t0) / 1000 })}\n`);
    return;
  }
  throw new Error(`svc-echo: unknown mode ${mode}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`svc-echo: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
