// Owns what every daemon entry point does at its process edge: run main() only when the module is
// the program (also through an npm bin symlink, so tests can import the flag parsing), report a
// crash on stderr with exit 1, and stop cleanly once on SIGTERM or SIGINT.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Runs main when `moduleUrl` (the caller's import.meta.url) is the program being run. */
export function runAsProgram(moduleUrl: string, name: string, main: () => Promise<void>): void {
  const arg = process.argv[1];
  let isMain = false;
  try {
    isMain = arg !== undefined && realpathSync(arg) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    isMain = false;
  }
  if (!isMain) return;
  main().catch((e: unknown) => {
    process.stderr.write(`${name}: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}

/** Calls stop once on the first SIGTERM or SIGINT, then exits 0. */
export function onTermination(stop: (signal: string) => Promise<void>): void {
  let closing = false;
  const handler = (sig: string) => {
    if (closing) return;
    closing = true;
    void stop(sig).finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}
