// Proves the README's main job: `make demo`'s script on a fresh state directory brings up the
// all-in-one host, types the seed's commands, and shows the policy at work; run again it changes
// nothing; a step that fails ends it with the error. `make demo-stop`'s script always ends it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { DOCKER_COMMANDS } from '../harness/docker.js';
import { tempDirPrefix } from '../harness/names.js';
import { LAB_COMMANDS, requireCommands } from '../harness/require.js';
import { CommandError, run } from '../harness/run.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

after(runCleanups);

describe('make demo', () => {
  it("on a fresh state directory: the seed's commands, two containers, the policy at work; again: harmless", async (t) => {
    if (!requireCommands(t, ...LAB_COMMANDS, ...DOCKER_COMMANDS)) return;
    const dir = await mkdtemp(tempDirPrefix('demo'));
    onCleanup(() => rm(dir, { recursive: true, force: true }), { label: `rm ${dir}` });
    const env = { CONTIV_DEMO_DIR: join(dir, 'state') };
    const demo = () => run('bash', [join(ROOT, 'scripts', 'demo.sh')], { env, timeoutMs: 240_000 });
    onCleanup(
      () =>
        run('bash', [join(ROOT, 'scripts', 'demo-stop.sh')], { env, timeoutMs: 60_000 }).then(
          () => undefined,
        ),
      {
        label: 'demo-stop',
      },
    );
    let out: string;
    try {
      out = await demo();
    } catch (err) {
      if (err instanceof CommandError) assert.fail(`demo failed:\n${err.stdout}\n${err.stderr}`);
      throw err;
    }
    for (const line of [
      '$ netctl net create contiv-net --subnet=20.1.1.0/24 --gateway=20.1.1.254 --pkt-tag=1001',
      'Creating network default:contiv-net',
      '$ netctl group create contiv-net web -policy=prod_web',
      'web2 → web1 ping: passes',
      'web2 → web1 tcp/80 (rule 2 allows): passes',
      'web2 → web1 tcp/22 (rule 1 denies): blocked',
      'contiv-ts is running',
    ])
      assert.ok(out.includes(line), `missing "${line}" in:\n${out}`);
    assert.match(out, /default\s+contiv-net\s+data\s+vxlan\s+1001\s+20\.1\.1\.0\/24\s+20\.1\.1\.254/);
    // Over TLS, netctl signed in with the credential netmaster wrote in the demo's state.
    assert.match(
      out,
      /export NETMASTER=https:\/\/127\.0\.0\.1:9999 CONTIV_ADMIN_CONF=\S+\/state\/admin\.conf/,
    );
    assert.ok(existsSync(join(dir, 'state', 'admin.conf')), 'the local admin credential in the state dir');
    const again = await demo();
    assert.ok(!again.includes('$ netctl net create'), 'a second run creates nothing');
    assert.ok(again.includes('web2 → web1 tcp/22 (rule 1 denies): blocked'));
  });
});
