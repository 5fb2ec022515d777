// Owns which scope the driver reports to Docker. A dockerd with a cluster store (`--cluster-store`,
// Contiv's legacy swarm) keeps global-scope networks in that store, made once and seen by every
// engine, as Contiv's tutorial shows (`contiv-net  netplugin  global`); any other dockerd refuses
// a global driver's networks outside a swarm manager, so there the driver is local. Swarm mode
// fixes it global. The engine is asked in the background from the start (its API may not answer
// yet), and the answer is kept in the store for this host: a dockerd that asks for the driver's
// capabilities while it starts, before it serves its API, gets the answer it had last time.

import type { Logger } from 'pino';
import { dockerScopeKey } from '../../policy/model/endpoint.js';
import type { Store } from '../../state/store.js';
import type { DockerEngine } from './engine.js';
import { type Retried, retryInBackground } from './retry.js';

export type DriverScope = 'local' | 'global';

/** How long a capabilities call waits for the engine's first answer before using the kept one (ms). */
const ASK_WAIT_MS = 2000;

/** Whether the engine's /info says it has a cluster store. */
export async function hasClusterStore(engine: DockerEngine): Promise<boolean> {
  const info = (await engine.call('GET', '/info')) as { ClusterStore?: unknown };
  return typeof info.ClusterStore === 'string' && info.ClusterStore !== '';
}

export class EngineScope {
  private known: DriverScope | undefined;
  private probe: Retried<DriverScope> | undefined;

  constructor(
    private readonly opts: { engine: DockerEngine; store: Store; hostName: string; log?: Logger },
  ) {}

  /** Asks the engine until it answers, and keeps the answer. */
  start(): void {
    this.probe = retryInBackground(
      async () => {
        const scope: DriverScope = (await hasClusterStore(this.opts.engine)) ? 'global' : 'local';
        this.known = scope;
        const key = dockerScopeKey(this.opts.hostName);
        if ((await this.opts.store.get(key))?.value !== scope) await this.opts.store.put(key, scope);
        this.opts.log?.info(
          { scope },
          scope === 'global' ? 'dockerd has a cluster store: networks are global' : 'networks are local',
        );
        return scope;
      },
      {
        what: 'asking dockerd whether it has a cluster store',
        ...(this.opts.log ? { log: this.opts.log } : {}),
      },
    );
  }

  /** The scope to report now: the engine's answer, else the one kept from last time, else local. */
  async scope(): Promise<DriverScope> {
    if (this.known) return this.known;
    if (this.probe) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ASK_WAIT_MS);
      });
      const answer = await Promise.race([this.probe.done, late]);
      clearTimeout(timer);
      if (answer) return answer;
    }
    const kept = (await this.opts.store.get(dockerScopeKey(this.opts.hostName)).catch(() => undefined))
      ?.value;
    return kept === 'global' ? 'global' : 'local';
  }

  close(): void {
    this.probe?.cancel();
  }
}
