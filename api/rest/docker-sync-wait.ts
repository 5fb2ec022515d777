// Owns waiting, after a network or group write, until every live Docker host has that write in its
// engine: Contiv's netmaster made the Docker network within the request, so `docker run --net
// web.contiv-net` typed right after `netctl group create` worked. Each host's netplugin reports
// how far its engine has caught up (DockerSyncMark, under its lease: a dead host stops counting);
// a host whose engine fails its passes is not waited for, and none is waited for longer than the
// limit (the write itself is done; the host catches up on its own).
import type { Logger } from 'pino';
import { DOCKER_SYNC_PREFIX, type DockerSyncMark } from '../../policy/model/endpoint.js';
import { PrefixCache } from '../../state/cache.js';
import type { Store } from '../../state/store.js';

/** How long a write's answer waits for the hosts at most (ms). */
export const DOCKER_SYNC_WAIT_MS = 5000;

type WarnLog = Pick<Logger, 'warn'>;

interface Waiter {
  revision: number;
  done: () => void;
}

function markOf(value: string): DockerSyncMark | undefined {
  try {
    const m = JSON.parse(value) as Partial<DockerSyncMark>;
    return typeof m.revision === 'number' ? (m as DockerSyncMark) : undefined;
  } catch {
    return undefined;
  }
}

export class DockerSyncWait {
  private readonly waiters = new Set<Waiter>();

  private constructor(
    private readonly marks: PrefixCache,
    private readonly limitMs: number,
    private readonly log: WarnLog | undefined,
  ) {
    marks.onChange(() => this.wake());
  }

  static async open(store: Store, opts: { limitMs?: number; log?: WarnLog } = {}): Promise<DockerSyncWait> {
    const marks = await PrefixCache.open(store, [DOCKER_SYNC_PREFIX], {
      ...(opts.log ? { onError: (err) => opts.log?.warn({ err }, 'docker sync marks: watch broke') } : {}),
    });
    return new DockerSyncWait(marks, opts.limitMs ?? DOCKER_SYNC_WAIT_MS, opts.log);
  }

  /** Hosts (by key) whose engine has not yet caught up with revision and is not failing. */
  behind(revision: number): string[] {
    // A broken watch: the marks may be stale, and a stale mark must not hold answers up.
    if (!this.marks.ready) return [];
    const out: string[] = [];
    for (const kv of this.marks.under(DOCKER_SYNC_PREFIX)) {
      const m = markOf(kv.value);
      if (m && !m.error && m.revision < revision)
        out.push(decodeURIComponent(kv.key.slice(DOCKER_SYNC_PREFIX.length)));
    }
    return out;
  }

  /** Resolves once no host is behind revision, or after the limit (logged, never an error). */
  async until(revision: number): Promise<void> {
    if (this.behind(revision).length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const waiter: Waiter = { revision, done: () => undefined };
    const caughtUp = new Promise<boolean>((resolve) => {
      waiter.done = () => resolve(true);
      timer = setTimeout(() => resolve(false), this.limitMs);
    });
    this.waiters.add(waiter);
    const inTime = await caughtUp;
    clearTimeout(timer);
    this.waiters.delete(waiter);
    if (!inTime)
      this.log?.warn(
        { revision, hosts: this.behind(revision), waitedMs: this.limitMs },
        'answered before these hosts made the Docker networks; they catch up on their own',
      );
  }

  private wake(): void {
    for (const w of this.waiters) if (this.behind(w.revision).length === 0) w.done();
  }

  async close(): Promise<void> {
    for (const w of this.waiters) w.done();
    await this.marks.close();
  }
}
