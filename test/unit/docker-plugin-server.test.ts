// The plugin socket's protocol as Docker's plugin client sees it, on a socket in a temp dir:
// Activate, Docker's content type, errors as {"Err"} (4xx for refusals, 5xx for failures, 404 for
// calls that do not exist), and one live plugin per name.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type PluginServer, startPluginServer } from '../../api/docker/plugin-server.js';
import { PLUGIN_CONTENT_TYPE, PluginError } from '../../api/docker/protocol.js';

function post(
  socketPath: string,
  path: string,
  body: string,
): Promise<{ status: number; type: string; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'POST', headers: { host: 'plugin' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type']),
          json: JSON.parse(text),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('plugin server', () => {
  let dir: string;
  let server: PluginServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'docker-plugin-'));
    // A socket file left behind by a crashed run must not stop the plugin from starting.
    await writeFile(join(dir, 'np.sock'), '');
    server = await startPluginServer({
      name: 'np',
      dir,
      implements: ['NetworkDriver', 'IpamDriver'],
      handlers: {
        '/NetworkDriver.Echo': (b) => ({ got: b }),
        '/NetworkDriver.Refuse': () => {
          throw new PluginError('no such Contiv group');
        },
        '/NetworkDriver.Crash': async () => {
          throw new Error('store unreachable');
        },
      },
    });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('Activate lists both drivers, in Docker content type', async () => {
    const r = await post(server.socketPath, '/Plugin.Activate', '');
    assert.equal(r.status, 200);
    assert.equal(r.type, PLUGIN_CONTENT_TYPE);
    assert.deepEqual(r.json, { Implements: ['NetworkDriver', 'IpamDriver'] });
  });

  test('bodies are JSON in and out', async () => {
    const r = await post(server.socketPath, '/NetworkDriver.Echo', '{"NetworkID":"n1"}');
    assert.deepEqual(r.json, { got: { NetworkID: 'n1' } });
  });

  test('errors are {"Err": message}: refusals 400, failures 500, bad JSON 400, unknown calls 404', async () => {
    assert.deepEqual(await post(server.socketPath, '/NetworkDriver.Refuse', '{}'), {
      status: 400,
      type: PLUGIN_CONTENT_TYPE,
      json: { Err: 'no such Contiv group' },
    });
    const crash = await post(server.socketPath, '/NetworkDriver.Crash', '{}');
    assert.equal(crash.status, 500);
    assert.deepEqual(crash.json, { Err: 'store unreachable' });
    const bad = await post(server.socketPath, '/NetworkDriver.Echo', '{nope');
    assert.equal(bad.status, 400);
    assert.match((bad.json as { Err: string }).Err, /not JSON/);
    const unknown = await post(server.socketPath, '/NetworkDriver.Nothing', '{}');
    assert.equal(unknown.status, 404);
    assert.match((unknown.json as { Err: string }).Err, /no such plugin call/);
  });

  test('a second plugin of the same name is refused while the first runs', async () => {
    await assert.rejects(
      startPluginServer({ name: 'np', dir, implements: [], handlers: {} }),
      /is in use: is another np plugin running/,
    );
    await assert.rejects(
      startPluginServer({ name: '../x', dir, implements: [], handlers: {} }),
      /plugin name/,
    );
  });
});
