// Proves the local sockets are root's: the Docker plugin socket is 0600 and a non-root user (nobody,
// looked up here) is refused on connect, while root is answered.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type PluginServer, startPluginServer } from '../../api/docker/plugin-server.js';
import { tempDirPrefix } from '../harness/names.js';
import { missingFor } from '../harness/require.js';

const missing = missingFor('setpriv');
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

/** Node, as user nobody, connecting to a unix socket: "connected" or the error code. */
const CONNECT = `require('net').connect(process.argv[1]).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); });`;

describe('local sockets are root-only', { skip }, () => {
  let dir: string;
  let server: PluginServer;

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    dir = await mkdtemp(tempDirPrefix('sockets'));
    // The directory lets anyone through, so only the socket's own mode can refuse.
    await chmod(dir, 0o755);
    server = await startPluginServer({
      name: 'np',
      dir,
      implements: ['NetworkDriver'],
      handlers: {},
    });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the Docker plugin socket: 0600, nobody is refused, root is answered', async () => {
    assert.equal((await stat(server.socketPath)).mode & 0o777, 0o600);
    const id = promisify(execFile);
    const uid = (await id('id', ['-u', 'nobody'])).stdout.trim();
    const gid = (await id('id', ['-g', 'nobody'])).stdout.trim();
    const asNobody = await id('setpriv', [
      `--reuid=${uid}`,
      `--regid=${gid}`,
      '--clear-groups',
      process.execPath,
      '-e',
      CONNECT,
      server.socketPath,
    ]);
    assert.equal(asNobody.stdout.trim(), 'EACCES');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { socketPath: server.socketPath, path: '/Plugin.Activate', method: 'POST' },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    assert.equal(status, 200);
  });
});
