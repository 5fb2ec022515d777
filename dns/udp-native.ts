// Owns loading the native UDP hot path (dns/native/udp-fastpath.cc, built by `make build` into
// dist/dns/native/) and its typed face. The server falls back to node:dgram when it is absent.
import { createRequire } from 'node:module';

export interface FastPathStats {
  /** Answered by the native threads from their table. */
  hits: number;
  /** Handed to JavaScript (first-time questions, errors, forwarding). */
  misses: number;
  /** Not answerable (responses, runts, source port 0, oversized) or the miss queue was full. */
  dropped: number;
  /** Answers in the table. */
  cached: number;
}

/** One bound UDP socket read by native threads. */
export interface FastPath {
  port(): number;
  /** Whether the kernel took the datagram. */
  send(buf: Buffer, address: string, port: number): boolean;
  /** Teaches the table a question's answers (id zeroed, served in turn from next); key as the Answerer's. */
  put(
    bits: number,
    limit: number,
    question: Buffer,
    name: string,
    orders: readonly Buffer[],
    next: number,
  ): void;
  /** Drops the answers of these lookup keys. */
  forget(names: readonly string[]): void;
  clear(): void;
  stats(): FastPathStats;
  /** Stops the threads and closes the socket. */
  close(): void;
}

export type OnMiss = (msg: Buffer, address: string, port: number) => void;

/** Binds host:port (0: a free one) and starts the threads; onMiss gets what the table cannot answer. */
export type FastPathClass = new (host: string, port: number, threads: number, onMiss: OnMiss) => FastPath;

interface Addon {
  FastPath: FastPathClass;
}

const ADDON = new URL('./native/udp-fastpath.node', import.meta.url);
let loaded: Addon | Error | undefined;

/** The addon, or why it cannot be loaded (not built, or built for another platform). */
export function fastPathAddon(): Addon | Error {
  if (!loaded) {
    try {
      loaded = createRequire(import.meta.url)(ADDON.pathname) as Addon;
    } catch (err) {
      loaded = err instanceof Error ? err : new Error(String(err));
    }
  }
  return loaded;
}
