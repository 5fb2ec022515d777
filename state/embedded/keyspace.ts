// Owns the embedded store's key entries and their versions: what an entry holds, its KV view, and
// etcd's compare semantics over it. The map itself and its changes belong to the store.
import type { Compare, KV } from '../store.js';

export interface Entry {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string | undefined;
}

export function toKV(key: string, e: Entry | undefined): KV | undefined {
  if (!e) return undefined;
  const kv: KV = {
    key,
    value: e.value,
    createRevision: e.createRevision,
    modRevision: e.modRevision,
    version: e.version,
  };
  if (e.lease) kv.lease = e.lease;
  return kv;
}

/** Whether a txn compare holds for the entry of its key (undefined: absent), as etcd judges it. */
export function holds(c: Compare, e: Entry | undefined): boolean {
  let have: string | number;
  switch (c.target) {
    case 'value':
      // etcd: a value compare against an absent key is false whatever the op.
      if (!e) return false;
      have = e.value;
      break;
    case 'version':
      have = e?.version ?? 0;
      break;
    case 'mod':
      have = e?.modRevision ?? 0;
      break;
    case 'create':
      have = e?.createRevision ?? 0;
      break;
  }
  const want = c.target === 'value' ? String(c.value) : Number(c.value);
  if (c.target === 'value') {
    const cmp = Buffer.compare(Buffer.from(have as string), Buffer.from(want as string));
    return c.op === '==' ? cmp === 0 : c.op === '!=' ? cmp !== 0 : c.op === '<' ? cmp < 0 : cmp > 0;
  }
  const h = have as number;
  const w = want as number;
  return c.op === '==' ? h === w : c.op === '!=' ? h !== w : c.op === '<' ? h < w : h > w;
}
