// The one partition function: which partition an actor (a game) belongs to.

/** FNV-1a over the UTF-16 code units of the id; stable across processes, nodes and the browser. */
export function partitionOf(actorId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < actorId.length; i++) {
    h ^= actorId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}
