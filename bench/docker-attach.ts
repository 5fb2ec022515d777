// Owns the docker-attach benchmark: `docker run --rm --net web.contiv-net bbox true` on a whole
// Contiv host (netmaster REST, host agent on a private OVS, our plugin, a private dockerd) vs
// `docker run --rm --net none` in the same run, alternating, 30 runs each; target ratio ≤ 1.3.
// Also against Docker's own bridge driver on a user-defined network (what any network costs Docker).

import { runCleanups } from '../test/harness/cleanup.js';
import { DOCKER_COMMANDS } from '../test/harness/docker.js';
import { startDockerStack } from '../test/harness/docker-stack.js';
import { LAB_COMMANDS, missingFor } from '../test/harness/require.js';
import { alternate, log, secondsResult, timed } from './openflow-install.js';
import type { Benchmark, BenchResult } from './run.js';

const RUNS = 30;

async function attachBench(): Promise<BenchResult[]> {
  const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS);
  if (missing.length > 0) throw new Error(`benchmark needs ${missing.join(', ')}`);
  try {
    const s = await startDockerStack();
    await s.rest('POST', '/api/v1/networks/default:contiv-net/', {
      tenantName: 'default',
      networkName: 'contiv-net',
      encap: 'vxlan',
      subnet: '10.36.28.0/24',
      gateway: '10.36.28.254',
    });
    await s.rest('POST', '/api/v1/endpointGroups/default:web/', {
      tenantName: 'default',
      groupName: 'web',
      networkName: 'contiv-net',
    });
    await s.sync.sync();
    // Docker's own driver on a user-defined network: what any network costs Docker itself.
    await s.dockerd.docker(['network', 'create', '-d', 'bridge', '--subnet', '10.77.0.0/24', 'peerbr']);
    const runOn = (net: string) => () => s.dockerd.docker(['run', '--rm', '--net', net, 'bbox', 'true']);
    // One of each first: image and code paths warm, not measured.
    await runOn('web.contiv-net')();
    await runOn('none')();
    await runOn('peerbr')();
    const ours: number[] = [];
    const peer: number[] = [];
    const bridge: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await alternate(
        i,
        async () => ours.push(await timed(runOn('web.contiv-net'))),
        async () => {
          peer.push(await timed(runOn('none')));
          bridge.push(await timed(runOn('peerbr')));
        },
      );
    }
    const left = await s.store.list('/contiv.io/oper/endpoints/');
    if (left.length > 0) throw new Error(`${left.length} endpoint records left after the runs`);
    log(`docker-attach: ${RUNS} runs each`);
    return [
      secondsResult('docker-attach', ours, 'docker run --net none', peer),
      secondsResult('docker-attach-vs-bridge', ours, "docker run on Docker's bridge driver", bridge),
    ];
  } finally {
    await runCleanups();
  }
}

export const benchmark: Benchmark = {
  describe: `docker run --rm --net web.contiv-net vs --net none, ${RUNS} runs each, median (target ratio ≤ 1.3)`,
  run: attachBench,
};
