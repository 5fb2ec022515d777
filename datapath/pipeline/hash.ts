// Owns the 32-bit hash that turns an owner key into a cookie's object id (and other ids that must
// be the same on every run and every host): FNV-1a over the key's UTF-16 code units.

export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
