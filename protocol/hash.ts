// FNV-1a 32-bit over little-endian unsigned 32-bit words: the building block of GAME.md "State hash".

export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Folds the four little-endian bytes of `word` into the running hash `h`; finish with `>>> 0`. */
export function fnv1aWord(h: number, word: number): number {
  h = Math.imul(h ^ (word & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((word >>> 8) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((word >>> 16) & 0xff), FNV_PRIME);
  return Math.imul(h ^ ((word >>> 24) & 0xff), FNV_PRIME);
}
