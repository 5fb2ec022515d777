// Proves the daemons' log settings do what they say: readable text by default, JSON lines with
// --json-log, the level obeyed, and with --use-syslog every line also reaches a real syslog daemon
// (Debian's rsyslogd, started by the test on a loopback UDP port with its own configuration).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseSyslogUrl, syslogMessage, textLine } from '../../cli/log.js';
import { parseArgs } from '../../cli/netmaster.js';
import { parseNetpluginArgs } from '../../cli/netplugin.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { freePort } from '../harness/etcd.js';
import { tempDirPrefix } from '../harness/names.js';
import { requireCommands } from '../harness/require.js';

const NETMASTER = fileURLToPath(new URL('../../cli/netmaster.js', import.meta.url));
after(runCleanups);

describe('log lines', () => {
  it('text: time, level, name, message, fields; syslog: RFC 5424 with the daemon facility', () => {
    const rec = {
      level: 50,
      time: Date.UTC(2026, 11, 7),
      name: 'netmaster',
      msg: 'store down',
      err: 'ECONNREFUSED',
      n: 3,
    };
    assert.equal(textLine(rec), '2026-12-07T00:00:00.000Z ERROR netmaster: store down err=ECONNREFUSED n=3');
    assert.equal(
      syslogMessage(rec, 'netmaster', 'h1'),
      `<27>1 2026-12-07T00:00:00.000Z h1 netmaster ${process.pid} - - netmaster: store down err=ECONNREFUSED n=3`,
    );
    assert.match(textLine({ level: 30, msg: 'x', path: 'a b' }), / INFO {2}: x path="a b"$/);
    assert.deepEqual(parseSyslogUrl('udp://127.0.0.1:514'), { proto: 'udp', host: '127.0.0.1', port: 514 });
    assert.throws(() => parseSyslogUrl('unix:///dev/log'), /--syslog-url: "unix:\/\/\/dev\/log" is not udp/);
  });

  it("the flags, Contiv's names and CONTIV_* variables", () => {
    const nm = parseArgs(
      ['--log-level', 'DEBUG', '--use-json-log', '--syslog', '--syslog-url=tcp://10.0.0.1:601'],
      {},
    );
    assert.deepEqual(nm !== 'help' && nm.log, {
      level: 'debug',
      json: true,
      syslogUrl: 'tcp://10.0.0.1:601',
    });
    assert.throws(() => parseArgs(['--log-level', 'LOUD'], {}), /--log-level: "loud" is not one of debug/);
    const np = parseNetpluginArgs([], {
      CONTIV_NETPLUGIN_USE_SYSLOG: '1',
      CONTIV_NETMASTER_LOG_LEVEL: 'WARN',
    });
    assert.ok(np !== 'help');
    assert.equal(np.syslogUrl, 'udp://127.0.0.1:514');
    assert.equal(np.netmasterLogLevel, 'warn');
    assert.equal(np.jsonLog, false);
  });
});

async function startRsyslog(dir: string): Promise<{ port: number; file: string }> {
  const port = await freePort();
  const file = join(dir, 'messages');
  const conf = join(dir, 'rsyslog.conf');
  await writeFile(
    conf,
    [
      `global(workDirectory="${dir}")`,
      'module(load="imudp")',
      `input(type="imudp" address="127.0.0.1" port="${port}")`,
      `*.* action(type="omfile" file="${file}" template="RSYSLOG_SyslogProtocol23Format")`,
      '',
    ].join('\n'),
  );
  const p: ChildProcess = spawn('rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
  });
  let err = '';
  p.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  onCleanup(
    () => {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    },
    { label: 'rsyslogd' },
  );
  await sleep(500);
  if (p.exitCode !== null) throw new Error(`rsyslogd exited: ${err}`);
  return { port, file };
}

function runNetmaster(args: string[]): Promise<{ out: string; stop: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    // Its local admin credential beside its data, never in the machine's /etc/contiv.
    const data = args[args.indexOf('--data-dir') + 1] ?? '';
    const own = ['--listen-url', '127.0.0.1:0', '--admin-conf', join(data, 'admin.conf')];
    const p = spawn(process.execPath, [NETMASTER, ...own, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onCleanup(
      () => {
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      },
      { label: 'netmaster' },
    );
    let out = '';
    const timer = setTimeout(() => reject(new Error(`netmaster did not start: ${out}`)), 15_000);
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('netmaster listening')) {
        clearTimeout(timer);
        resolve({
          out,
          stop: async () => {
            p.kill('SIGTERM');
            await new Promise((r) => p.once('exit', r));
          },
        });
      }
    });
    p.on('exit', (code) => reject(new Error(`netmaster exited ${code}: ${out}`)));
  });
}

describe('netmaster logs', () => {
  it('text by default, JSON with --json-log, and to a real rsyslogd with --use-syslog', async (t) => {
    if (!requireCommands(t, 'rsyslogd')) return;
    const dir = await mkdtemp(tempDirPrefix('syslog'));
    onCleanup(() => rm(dir, { recursive: true, force: true }), { label: `rm ${dir}` });
    const text = await runNetmaster(['--data-dir', join(dir, 'a')]);
    assert.match(text.out, /^\S+Z INFO {2}netmaster: netmaster listening listen=127\.0\.0\.1:\d+/m);
    await text.stop();
    const json = await runNetmaster(['--data-dir', join(dir, 'b'), '--json-log']);
    const line = json.out.split('\n').find((l) => l.includes('netmaster listening')) ?? '';
    assert.equal((JSON.parse(line) as { msg: string }).msg, 'netmaster listening');
    await json.stop();
    const syslog = await startRsyslog(dir);
    const sent = await runNetmaster([
      '--data-dir',
      join(dir, 'c'),
      '--use-syslog',
      '--syslog-url',
      `udp://127.0.0.1:${syslog.port}`,
    ]);
    await sent.stop();
    let got = '';
    for (const deadline = Date.now() + 5000; Date.now() < deadline && !got.includes('shutting down'); ) {
      got = await readFile(syslog.file, 'utf8').catch(() => '');
      await sleep(100);
    }
    assert.match(
      got,
      /<30>1 \S+ \S+ netmaster \d+ - - netmaster: netmaster listening listen=127\.0\.0\.1:\d+/,
    );
    assert.match(got, /netmaster: shutting down sig=SIGTERM/);
  });
});
