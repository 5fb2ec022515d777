// Owns one JSON-RPC session with an ovsdb-server (RFC 7047): requests and replies, monitors, locks,
// echo keep-alive and reconnection. It must never import from the rest of the project nor throw from
// a socket callback: failures reach callers as rejected promises and events.

import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { DEFAULT_MAX_MESSAGE_BYTES, JsonFramer } from './framer.js';
import { Replica, type TableUpdates2 } from './replica.js';
import {
  type DatabaseSchema,
  describeOp,
  parseSchema,
  validateMonitorRequest,
  validateOperations,
} from './schema.js';
import {
  type MonitorCondition,
  type Operation,
  type OperationResult,
  OvsdbConnectionError,
  OvsdbError,
  type TableUpdates,
} from './types.js';

export interface OvsdbClientOptions {
  /** Send an echo request after this long without hearing from the server; 0 disables. Default 5000. */
  echoIntervalMs?: number;
  /** Close a connection the server has been silent on for this long. Default 3 × echoIntervalMs. */
  deadPeerMs?: number;
  /** How long a request may wait for its reply (queued time included). Default 30000. */
  requestTimeoutMs?: number;
  /** Reconnect after the connection drops. Default true. */
  reconnect?: boolean;
  /** First reconnect delay, doubled per failed attempt up to maxRetryMs. Defaults 100 and 5000. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Largest message accepted from the server. Default 64 MiB. */
  maxMessageBytes?: number;
}

export interface MonitorSelect {
  initial?: boolean;
  insert?: boolean;
  delete?: boolean;
  modify?: boolean;
}

export interface MonitorRequest {
  columns?: string[];
  select?: MonitorSelect;
}

export interface MonitorCondRequest extends MonitorRequest {
  /** Clauses ANDed together; rows matching all of them are monitored. Absent: every row. */
  where?: MonitorCondition[];
}

/** Receives a monitor's changes; initial=true carries the complete current state (rebuild from it). */
export type UpdateHandler = (updates: TableUpdates, initial: boolean) => void;

export interface Monitor {
  readonly id: string;
  cancel(): Promise<void>;
}

export interface OvsdbClientEvents {
  /** A (re)connection is up; re-issued monitors have delivered their state again. */
  connected: [];
  /** The connection dropped (held locks are lost with it); the reason says why. */
  disconnected: [Error];
  /** A connect attempt failed; the next one follows after the given delay (ms). */
  retry: [Error, number];
  /** The lock with this id is now held by this client. */
  locked: [string];
  /** Another client stole the lock with this id; this client waits to get it back. */
  stolen: [string];
  /** A monitor's update handler threw (monitor id, error); the monitor stays live. */
  updateError: [string, Error];
  /** A monitor could not be re-issued after a reconnect (monitor id, error); it is dropped. */
  resubscribeFailed: [string, Error];
}

type Json = unknown;

interface Request {
  method: string;
  params: Json[];
  resolve(result: Json): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  id?: number;
}

interface LiveMonitor {
  readonly id: string;
  readonly db: string;
  readonly method: 'monitor' | 'monitor_cond';
  readonly wire: Record<string, Json>;
  readonly onUpdate: UpdateHandler;
  /** monitor_cond only: the rows the server sends diffs against. */
  readonly replica: Replica | undefined;
  established: boolean;
}

interface ParsedTarget {
  path?: string;
  host?: string;
  port?: number;
}

function parseTarget(target: string): ParsedTarget {
  if (target.startsWith('unix:')) return { path: target.slice(5) };
  const m = /^tcp:(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
  if (!m || Number(m[2]) > 65535)
    throw new Error(`ovsdb target "${target}" is neither unix:PATH nor tcp:HOST:PORT`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function openSocket(t: ParsedTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = t.path !== undefined ? netConnect(t.path) : netConnect(t.port as number, t.host);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

function isObject(x: Json): x is Record<string, Json> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A JSON-RPC error member as an OvsdbError: OVS sends {"error": tag, "details": text} or a string. */
function rpcError(err: Json, context: string): OvsdbError {
  if (isObject(err) && typeof err.error === 'string') {
    return new OvsdbError(err.error, typeof err.details === 'string' ? err.details : undefined, { context });
  }
  return new OvsdbError(typeof err === 'string' ? err : JSON.stringify(err), undefined, { context });
}

export class OvsdbClient extends EventEmitter<OvsdbClientEvents> {
  private readonly parsed: ParsedTarget;
  private readonly echoIntervalMs: number;
  private readonly deadPeerMs: number;
  private readonly requestTimeoutMs: number;
  private readonly reconnect: boolean;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly maxMessageBytes: number;

  private socket: Socket | undefined;
  /** Bumped per connection: callbacks of an older socket see a stale number and do nothing. */
  private generation = 0;
  private dropReason: Error | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Request>();
  /** Requests made while reconnecting, sent once the connection is back. */
  private queue: Request[] = [];
  private readonly schemas = new Map<string, Promise<DatabaseSchema>>();
  private readonly monitors = new Map<string, LiveMonitor>();
  private monitorSeq = 0;
  /** Locks asked for: held now, or waiting (queued behind another client, or re-requested). */
  private readonly locks = new Map<string, 'held' | 'waiting'>();
  private lastRx = 0;
  private echoOutstanding = false;
  private keepalive: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;

  private constructor(
    readonly target: string,
    opts: OvsdbClientOptions,
  ) {
    super();
    this.parsed = parseTarget(target);
    this.echoIntervalMs = opts.echoIntervalMs ?? 5000;
    this.deadPeerMs = opts.deadPeerMs ?? 3 * this.echoIntervalMs;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.reconnect = opts.reconnect ?? true;
    this.minRetryMs = opts.minRetryMs ?? 100;
    this.maxRetryMs = Math.max(opts.maxRetryMs ?? 5000, this.minRetryMs);
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Connects once (a failure rejects); later drops reconnect on their own unless reconnect=false. */
  static async connect(target: string, opts: OvsdbClientOptions = {}): Promise<OvsdbClient> {
    const client = new OvsdbClient(target, opts);
    client.attach(await openSocket(client.parsed));
    return client;
  }

  /** True while a connection is up. */
  get connected(): boolean {
    return this.socket !== undefined;
  }

  async listDbs(): Promise<string[]> {
    const result = await this.request('list_dbs', []);
    if (!Array.isArray(result) || !result.every((x) => typeof x === 'string')) {
      throw new OvsdbError('syntax error', `list_dbs reply ${JSON.stringify(result)} is not a list of names`);
    }
    return result;
  }

  /** Fetches the schema (and refreshes the cached one that transact validates against). */
  getSchema(db: string): Promise<DatabaseSchema> {
    const fetching = this.request('get_schema', [db]).then(parseSchema);
    this.schemas.set(db, fetching);
    fetching.catch(() => {
      if (this.schemas.get(db) === fetching) this.schemas.delete(db);
    });
    return fetching;
  }

  /** The schema of this connection, fetched once per connection (a restarted server may have a new one). */
  private schemaFor(db: string): Promise<DatabaseSchema> {
    return this.schemas.get(db) ?? this.getSchema(db);
  }

  /**
   * Runs the operations as one transaction. Names are checked against the schema first (nothing is
   * sent when one is unknown). Rejects with an OvsdbError naming the failed operation when the server
   * reports an error in any result, including a commit failure reported after the last operation.
   */
  async transact(db: string, ops: Operation[]): Promise<OperationResult[]> {
    validateOperations(await this.schemaFor(db), ops);
    // A wait may legitimately hold the reply for its own timeout; one without a timeout waits forever.
    let timeoutMs: number | undefined = this.requestTimeoutMs;
    for (const op of ops) {
      if (op.op !== 'wait') continue;
      timeoutMs = op.timeout === undefined || timeoutMs === undefined ? undefined : timeoutMs + op.timeout;
    }
    const reply = await this.request('transact', [db, ...ops], timeoutMs);
    if (!Array.isArray(reply)) {
      throw new OvsdbError('syntax error', `transact reply ${JSON.stringify(reply)} is not an array`);
    }
    reply.forEach((r: Json, i) => {
      if (!isObject(r) || typeof r.error !== 'string') return;
      const details = typeof r.details === 'string' ? r.details : undefined;
      const op = ops[i];
      if (op === undefined) throw new OvsdbError(r.error, details, { context: 'transact (commit)' });
      throw new OvsdbError(r.error, details, { opIndex: i, context: describeOp(op, i) });
    });
    return reply.slice(0, ops.length).map((r: Json) => (isObject(r) ? (r as OperationResult) : {}));
  }

  /** RFC 7047 monitor: the initial state reaches onUpdate (initial=true) before this resolves. */
  monitor(db: string, requests: Record<string, MonitorRequest>, onUpdate: UpdateHandler): Promise<Monitor> {
    return this.startMonitor(db, 'monitor', requests, onUpdate);
  }

  /**
   * monitor_cond: like monitor, with per-table `where` clauses. The server's update2 diffs are
   * applied to a replica kept per monitor, so onUpdate gets full new rows (old: changed columns).
   */
  monitorCond(
    db: string,
    requests: Record<string, MonitorCondRequest>,
    onUpdate: UpdateHandler,
  ): Promise<Monitor> {
    return this.startMonitor(db, 'monitor_cond', requests, onUpdate);
  }

  private async startMonitor(
    db: string,
    method: 'monitor' | 'monitor_cond',
    requests: Record<string, MonitorCondRequest>,
    onUpdate: UpdateHandler,
  ): Promise<Monitor> {
    const schema = await this.schemaFor(db);
    validateMonitorRequest(schema, requests, method);
    const wire: Record<string, Json> = {};
    const columns: Record<string, string[] | undefined> = {};
    for (const [table, req] of Object.entries(requests)) {
      const r: Record<string, Json> = {};
      if (req.columns !== undefined) r.columns = req.columns;
      if (req.select !== undefined) r.select = req.select;
      if (method === 'monitor_cond' && req.where !== undefined) r.where = req.where;
      wire[table] = r;
      columns[table] = req.columns;
    }
    const m: LiveMonitor = {
      id: `m${++this.monitorSeq}`,
      db,
      method,
      wire,
      onUpdate,
      replica: method === 'monitor_cond' ? new Replica(schema, columns) : undefined,
      established: false,
    };
    this.monitors.set(m.id, m);
    try {
      await this.issueMonitor(m, true);
    } catch (err) {
      this.monitors.delete(m.id);
      throw err;
    }
    return { id: m.id, cancel: () => this.cancelMonitor(m) };
  }

  /** Sends the monitor request and delivers its reply as the full state (initial=true). */
  private async issueMonitor(m: LiveMonitor, first: boolean): Promise<void> {
    const result = await this.request(m.method, [m.db, m.id, m.wire]);
    if (this.monitors.get(m.id) !== m) {
      // Cancelled while the request was out: the server set it up anyway, so take it down again.
      if (this.socket !== undefined) this.request('monitor_cancel', [m.id]).catch(() => undefined);
      return;
    }
    if (!isObject(result)) throw new OvsdbError('syntax error', `${m.method} reply is not an object`);
    m.replica?.clear();
    const updates = m.replica ? m.replica.apply(result as TableUpdates2) : (result as TableUpdates);
    m.established = true;
    if (first) {
      try {
        m.onUpdate(updates, true);
      } catch (err) {
        // The caller's handler refused the initial state: there is no monitor to hand back.
        await this.cancelMonitor(m).catch(() => undefined);
        throw err;
      }
    } else {
      this.deliver(m, updates, true);
    }
  }

  private deliver(m: LiveMonitor, updates: TableUpdates, initial: boolean): void {
    try {
      m.onUpdate(updates, initial);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      if (this.listenerCount('updateError') > 0) this.emit('updateError', m.id, e);
      else process.emitWarning(`ovsdb monitor ${m.id} update handler threw: ${e.message}`);
    }
  }

  private async cancelMonitor(m: LiveMonitor): Promise<void> {
    if (this.monitors.get(m.id) !== m) return;
    this.monitors.delete(m.id);
    if (this.socket === undefined) return; // the server forgot it with the connection
    try {
      await this.request('monitor_cancel', [m.id]);
    } catch (err) {
      if (!(err instanceof OvsdbConnectionError)) throw err;
    }
  }

  /** Asks for a lock: true when held now; otherwise 'locked' is emitted once the server grants it. */
  async lock(id: string): Promise<boolean> {
    this.locks.set(id, 'waiting');
    const result = await this.request('lock', [id]);
    const held = isObject(result) && result.locked === true;
    if (held && this.locks.has(id)) this.locks.set(id, 'held');
    return held;
  }

  /** Takes the lock from whoever holds it (they get 'stolen'). */
  async steal(id: string): Promise<void> {
    if (this.locks.get(id) === 'held') return;
    // The server refuses a steal while this session still waits for the same lock.
    if (this.locks.has(id)) await this.request('unlock', [id]);
    this.locks.set(id, 'waiting');
    await this.request('steal', [id]);
    if (this.locks.has(id)) this.locks.set(id, 'held');
  }

  /** Releases the lock, or withdraws the request for it. */
  async unlock(id: string): Promise<void> {
    this.locks.delete(id);
    await this.request('unlock', [id]);
  }

  /** True while this client holds the lock (as far as the server last told it). */
  holdsLock(id: string): boolean {
    return this.locks.get(id) === 'held';
  }

  /** A round trip to the server. */
  async echo(): Promise<void> {
    await this.request('echo', ['contiv-ts']);
  }

  /** Stops reconnecting, rejects what is outstanding, closes the connection. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.monitors.clear();
    this.locks.clear();
    const closedError = (method: string) =>
      new OvsdbConnectionError(`${method}: client for ${this.target} closed`, this.target);
    for (const r of this.queue) this.settle(r, closedError(r.method));
    this.queue = [];
    const socket = this.socket;
    if (socket === undefined) return;
    this.dropReason = new Error('closed by the client');
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  // ---- requests ----

  private request(method: string, params: Json[], timeoutMs: number | undefined = this.requestTimeoutMs) {
    return new Promise<Json>((resolve, reject) => {
      const r: Request = { method, params, resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        r.timer = setTimeout(() => this.timeOut(r, timeoutMs), timeoutMs);
        r.timer.unref?.();
      }
      if (this.closed) {
        this.settle(r, new OvsdbConnectionError(`${method}: client for ${this.target} closed`, this.target));
      } else if (this.socket !== undefined) {
        this.send(r);
      } else if (this.reconnect) {
        this.queue.push(r);
      } else {
        this.settle(r, new OvsdbConnectionError(`${method}: not connected to ${this.target}`, this.target));
      }
    });
  }

  private send(r: Request): void {
    const id = this.nextId++;
    r.id = id;
    this.pending.set(id, r);
    this.write({ method: r.method, params: r.params, id });
  }

  private write(msg: Json): void {
    this.socket?.write(JSON.stringify(msg));
  }

  private timeOut(r: Request, ms: number): void {
    if (r.id !== undefined) this.pending.delete(r.id);
    this.queue = this.queue.filter((q) => q !== r);
    const where = r.id === undefined ? `while reconnecting to ${this.target}` : `from ${this.target}`;
    r.reject(new OvsdbConnectionError(`${r.method}: no reply ${where} within ${ms} ms`, this.target));
  }

  private settle(r: Request, err: Error | undefined, result?: Json): void {
    if (r.timer) clearTimeout(r.timer);
    if (err) r.reject(err);
    else r.resolve(result);
  }

  // ---- the connection ----

  private attach(socket: Socket): void {
    const gen = ++this.generation;
    const framer = new JsonFramer(this.maxMessageBytes);
    this.socket = socket;
    this.dropReason = undefined;
    this.lastRx = Date.now();
    this.echoOutstanding = false;
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      if (gen !== this.generation) return;
      this.lastRx = Date.now();
      const { values, error } = framer.push(chunk);
      for (const v of values) {
        if (gen !== this.generation || this.socket !== socket) return;
        this.dispatch(v);
      }
      if (error) this.drop(error);
    });
    socket.on('error', (err) => {
      this.dropReason ??= err;
    });
    socket.on('close', () => this.onClose(gen));
    this.startKeepalive(gen);
  }

  private drop(reason: Error): void {
    this.dropReason ??= reason;
    this.socket?.destroy();
  }

  private startKeepalive(gen: number): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
    if (this.echoIntervalMs <= 0) return;
    const tick = Math.max(10, Math.min(this.echoIntervalMs, this.deadPeerMs) / 4);
    this.keepalive = setInterval(() => {
      if (gen !== this.generation || this.socket === undefined) return;
      const idle = Date.now() - this.lastRx;
      if (idle >= this.deadPeerMs) {
        this.drop(new Error(`ovsdb-server silent for ${idle} ms (dead peer after ${this.deadPeerMs} ms)`));
      } else if (idle >= this.echoIntervalMs && !this.echoOutstanding) {
        this.echoOutstanding = true;
        // No timeout of its own: the dead-peer check covers an echo that is never answered.
        this.request('echo', ['keepalive'], undefined).then(
          () => {
            this.echoOutstanding = false;
          },
          () => undefined,
        );
      }
    }, tick);
    this.keepalive.unref();
  }

  private onClose(gen: number): void {
    if (gen !== this.generation) return;
    const reason = this.dropReason ?? new Error('connection closed by ovsdb-server');
    this.socket = undefined;
    this.generation++;
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const r of pending) {
      this.settle(
        r,
        new OvsdbConnectionError(
          `${r.method}: connection to ${this.target} lost before the reply (${reason.message})`,
          this.target,
          { cause: reason },
        ),
      );
    }
    this.schemas.clear();
    for (const [id, state] of this.locks) if (state === 'held') this.locks.set(id, 'waiting');
    for (const m of this.monitors.values()) if (!m.established) this.monitors.delete(m.id);
    this.emit('disconnected', reason);
    if (this.closed) return;
    if (this.reconnect) {
      this.scheduleReconnect();
      return;
    }
    for (const r of this.queue) {
      this.settle(r, new OvsdbConnectionError(`${r.method}: not connected to ${this.target}`, this.target));
    }
    this.queue = [];
  }

  private scheduleReconnect(): number {
    const delay = Math.min(this.maxRetryMs, this.minRetryMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    this.retryTimer = setTimeout(() => void this.tryReconnect(), delay);
    return delay;
  }

  private async tryReconnect(): Promise<void> {
    this.retryTimer = undefined;
    if (this.closed) return;
    let socket: Socket;
    try {
      socket = await openSocket(this.parsed);
    } catch (err) {
      if (this.closed) return;
      this.emit('retry', err instanceof Error ? err : new Error(String(err)), this.scheduleReconnect());
      return;
    }
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.attach(socket);
    const gen = this.generation;
    // Monitors and locks go out first, so queued requests are answered after the state they build on.
    const resubscribed = [...this.monitors.values()].map((m) =>
      this.issueMonitor(m, false).catch((err: unknown) => {
        if (gen !== this.generation || err instanceof OvsdbConnectionError) return;
        this.monitors.delete(m.id);
        this.emit('resubscribeFailed', m.id, err instanceof Error ? err : new Error(String(err)));
      }),
    );
    for (const id of this.locks.keys()) {
      this.request('lock', [id]).then(
        (result) => {
          if (isObject(result) && result.locked === true && this.locks.has(id)) {
            this.locks.set(id, 'held');
            this.emit('locked', id);
          }
        },
        () => undefined,
      );
    }
    const queued = this.queue;
    this.queue = [];
    for (const r of queued) this.send(r);
    await Promise.all(resubscribed);
    if (gen === this.generation && this.socket !== undefined) this.emit('connected');
  }

  // ---- incoming messages ----

  private dispatch(msg: Json): void {
    if (!isObject(msg)) {
      this.drop(new Error(`protocol error: ${JSON.stringify(msg).slice(0, 80)} is not a JSON-RPC message`));
      return;
    }
    // A message from the server proves the connection works: the backoff starts over.
    this.attempt = 0;
    if (typeof msg.method === 'string') {
      this.onServerMessage(msg.method, Array.isArray(msg.params) ? msg.params : [], msg.id);
      return;
    }
    if (typeof msg.id !== 'number') return; // a reply to nothing we sent
    const r = this.pending.get(msg.id);
    if (r === undefined) return; // timed out already
    this.pending.delete(msg.id);
    if (msg.error !== null && msg.error !== undefined) this.settle(r, rpcError(msg.error, r.method));
    else this.settle(r, undefined, msg.result);
  }

  private onServerMessage(method: string, params: Json[], id: Json): void {
    switch (method) {
      case 'echo':
        this.write({ result: params, error: null, id: id ?? null });
        return;
      case 'update':
      case 'update2': {
        const m = this.monitors.get(String(params[0]));
        if (m === undefined || !m.established || !isObject(params[1])) return;
        const raw = params[1];
        const updates = m.replica ? m.replica.apply(raw as TableUpdates2) : (raw as TableUpdates);
        this.deliver(m, updates, false);
        return;
      }
      case 'locked':
      case 'stolen': {
        const lock = String(params[0]);
        const state = method === 'locked' ? 'held' : 'waiting';
        // ovsdb-server re-sends "locked" to a holder when a waiter behind it withdraws: no news.
        if (!this.locks.has(lock) || this.locks.get(lock) === state) return;
        this.locks.set(lock, state);
        this.emit(method, lock);
        return;
      }
      default:
        if (id !== null && id !== undefined) {
          this.write({ result: null, error: { error: 'unknown method', details: method }, id });
        }
    }
  }
}
