// Owns how the auth modules write secrets to disk: whole files or nothing (tmp + fsync + rename), in
// directories only the daemon's user can enter, so a crash never leaves half a key behind.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Makes dir (and parents) 0700; an existing dir is tightened too (mkdir leaves modes alone). */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Writes `data` to a fresh tmp file next to `path`, fsynced; returns the tmp path for commitFile. */
export async function stageFile(path: string, data: string, mode: number): Promise<string> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed or the caller widened it
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  return tmp;
}

/** Puts a staged file in place, and fsyncs the directory so the rename survives a crash. */
export async function commitFile(tmp: string, path: string): Promise<void> {
  await rename(tmp, path);
  const dh = await open(dirname(path), 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  await commitFile(await stageFile(path, data, mode), path);
}
