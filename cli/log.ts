// Owns how the daemons log, as Contiv's flags say: JSON lines with --json-log, readable text lines
// otherwise, at --log-level, and also to syslog (RFC 5424, daemon facility) with --use-syslog at
// --syslog-url (udp://host:port or tcp://host:port, Contiv's default udp://127.0.0.1:514).
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogOptions {
  name: string;
  level: LogLevel;
  json: boolean;
  /** Where syslog lines go; absent: no syslog. */
  syslogUrl?: string;
}

/** pino's numeric levels → names and syslog severities (RFC 5424 table 2). */
const LEVELS: Record<number, { name: string; severity: number }> = {
  10: { name: 'TRACE', severity: 7 },
  20: { name: 'DEBUG', severity: 7 },
  30: { name: 'INFO', severity: 6 },
  40: { name: 'WARN', severity: 4 },
  50: { name: 'ERROR', severity: 3 },
  60: { name: 'FATAL', severity: 2 },
};
const BASE_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);
const DAEMON_FACILITY = 3;

type Record_ = { level?: number; time?: number; name?: string; msg?: string; [k: string]: unknown };

const show = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
};

/** One pino record as a text line: time, level, name, message, then its fields as key=value. */
export function textLine(rec: Record_): string {
  const level = LEVELS[rec.level ?? 30]?.name ?? String(rec.level);
  const fields = Object.entries(rec)
    .filter(([k]) => !BASE_KEYS.has(k))
    .map(([k, v]) => `${k}=${show(v)}`);
  const time = new Date(rec.time ?? Date.now()).toISOString();
  return [`${time} ${level.padEnd(5)} ${rec.name ?? ''}: ${rec.msg ?? ''}`, ...fields].join(' ');
}

/** One pino record as an RFC 5424 syslog message (no structured data; the fields ride in the text). */
export function syslogMessage(rec: Record_, app: string, host = hostname()): string {
  const severity = LEVELS[rec.level ?? 30]?.severity ?? 6;
  const time = new Date(rec.time ?? Date.now()).toISOString();
  const text = textLine(rec).replace(/^\S+ \S+\s+/, '');
  return `<${DAEMON_FACILITY * 8 + severity}>1 ${time} ${host} ${app} ${process.pid} - - ${text}`;
}

/** Where syslog messages go: each message one datagram (udp) or one line (tcp). */
export function parseSyslogUrl(url: string): { proto: 'udp' | 'tcp'; host: string; port: number } {
  const m = /^(udp|tcp):\/\/(.+):(\d+)$/.exec(url);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535)
    throw new Error(`--syslog-url: "${url}" is not udp://host:port or tcp://host:port`);
  return { proto: m[1] as 'udp' | 'tcp', host: (m[2] as string).replace(/^\[|\]$/g, ''), port };
}

/** A stream of pino's JSON lines that forwards each record, transformed, and never blocks logging. */
class LineStream extends Writable {
  private pending = '';
  constructor(private readonly each: (rec: Record_) => void) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.pending += chunk.toString();
    let nl = this.pending.indexOf('\n');
    while (nl >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      try {
        this.each(JSON.parse(line) as Record_);
      } catch {
        // A line that is not a record (never written by pino) is dropped, not fatal.
      }
      nl = this.pending.indexOf('\n');
    }
    done();
  }
}

function syslogStream(url: string, app: string): Writable {
  const to = parseSyslogUrl(url);
  let udp: UdpSocket | undefined;
  let tcp: Socket | undefined;
  // A syslog that is down loses lines; it never stops the daemon (as Contiv's hook did).
  const send = (msg: string) => {
    if (to.proto === 'tcp') {
      if (!tcp || tcp.destroyed) {
        tcp = connect(to.port, to.host);
        tcp.on('error', () => tcp?.destroy());
        tcp.unref();
      }
      tcp.write(`${msg}\n`);
      return;
    }
    if (!udp) {
      udp = createSocket(to.host.includes(':') ? 'udp6' : 'udp4');
      udp.on('error', () => undefined);
      udp.unref();
    }
    udp.send(Buffer.from(msg), to.port, to.host);
  };
  return new LineStream((rec) => send(syslogMessage(rec, app)));
}

/** The daemon's logger; its lines go to stdout (JSON or text) and, when asked, to syslog. */
export function makeLogger(o: LogOptions): Logger {
  const out = o.json
    ? pino.destination({ dest: 1, sync: false })
    : new LineStream((r) => process.stdout.write(`${textLine(r)}\n`));
  const streams: pino.StreamEntry[] = [{ level: o.level, stream: out }];
  if (o.syslogUrl) streams.push({ level: o.level, stream: syslogStream(o.syslogUrl, o.name) });
  return pino({ name: o.name, level: o.level }, pino.multistream(streams));
}
