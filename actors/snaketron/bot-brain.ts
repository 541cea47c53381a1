// A bot's mind: given its copy of the game, the direction its snake should take at the next step. It seeks the
// nearest food by path (a breadth-first search from every food at once) among the moves that do not kill it at
// once, prefers moves that keep at least its own length of room (a flood fill) and stays off cells another head
// could reach in the same step. Pure and synchronous, like the engine it reads.
import type { Dir, Game, GameSnapshot } from '../../protocol/engine.ts';

const DX = [0, 1, 0, -1] as const;
const DY = [-1, 0, 1, 0] as const;

/** The cell one step from `cell` in direction `d` on a width×height board, or -1 off the board. */
function neighbour(cell: number, d: number, width: number, height: number): number {
  const x = (cell % width) + DX[d];
  const y = Math.floor(cell / width) + DY[d];
  return x < 0 || y < 0 || x >= width || y >= height ? -1 : y * width + x;
}

export interface Choice {
  dir: Dir;
  /** false when every move dies: the snake is lost whatever it does */
  safe: boolean;
}

/** Reusable search buffers, so a bot thinks without allocating per tick (beyond the game's snapshot). */
export class BotBrain {
  private blocked = new Uint8Array(0);
  private dist = new Int32Array(0);
  private seen = new Uint32Array(0);
  private queue = new Int32Array(0);
  private mark = 0;

  /** The direction for the next step of snake `snakeId` (its current direction when nothing is better). */
  choose(game: Game, snakeId: number, state: GameSnapshot = game.snapshot()): Choice {
    const { width, height } = state.settings;
    const cells = width * height;
    if (this.blocked.length !== cells) {
      this.blocked = new Uint8Array(cells);
      this.dist = new Int32Array(cells);
      this.seen = new Uint32Array(cells);
      this.queue = new Int32Array(cells);
      this.mark = 0;
    }
    const me = state.snakes[snakeId];
    const blocked = this.blocked;
    blocked.fill(0);
    // cells taken at the next step: every alive body, except a tail that moves on (its snake is not growing)
    const risky = new Set<number>();
    for (const s of state.snakes) {
      if (!s.alive) continue;
      const last = s.body.length - 1;
      s.body.forEach(([x, y], k) => {
        if (k === last && s.grow === 0) return;
        blocked[y * width + x] = 1;
      });
      if (s.id === snakeId) continue;
      // another head may step here too: a head-on collision, or both on one cell
      const [hx, hy] = s.body[0];
      for (let d = 0; d < 4; d++) {
        if (d === (s.dir + 2) % 4) continue;
        const x = hx + DX[d];
        const y = hy + DY[d];
        if (x >= 0 && y >= 0 && x < width && y < height) risky.add(y * width + x);
      }
    }
    this.foodDistances(state, width, height);

    const [hx, hy] = me.body[0];
    const length = me.body.length + me.grow;
    let best: { dir: Dir; key: number[] } | null = null;
    for (let d = 0 as Dir; d < 4; d = (d + 1) as Dir) {
      if (d === (me.dir + 2) % 4) continue;
      const x = hx + DX[d];
      const y = hy + DY[d];
      if (x < 0 || y < 0 || x >= width || y >= height) continue;
      const cell = y * width + x;
      if (blocked[cell]) continue;
      const room = this.room(cell, width, height, length + 1);
      const food = this.dist[cell] < 0 ? cells : this.dist[cell];
      // larger is better, compared in order
      const key = [Math.min(room, length + 1), risky.has(cell) ? 0 : 1, -food, d === me.dir ? 1 : 0];
      if (!best || isBetter(key, best.key)) best = { dir: d, key };
    }
    return best ? { dir: best.dir, safe: true } : { dir: me.dir, safe: false };
  }

  /** Breadth-first distances from the nearest food over free cells (-1: no food reachable). */
  private foodDistances(state: GameSnapshot, width: number, height: number): void {
    const { dist, queue, blocked } = this;
    dist.fill(-1);
    let head = 0;
    let tail = 0;
    for (const [x, y] of state.food) {
      const cell = y * width + x;
      if (dist[cell] === 0) continue;
      dist[cell] = 0;
      queue[tail++] = cell;
    }
    while (head < tail) {
      const cell = queue[head++];
      for (let d = 0; d < 4; d++) {
        const next = neighbour(cell, d, width, height);
        if (next < 0 || dist[next] >= 0 || blocked[next]) continue;
        dist[next] = dist[cell] + 1;
        queue[tail++] = next;
      }
    }
  }

  /** Free cells reachable from `start` (itself included), counted up to `cap`. */
  private room(start: number, width: number, height: number, cap: number): number {
    const { seen, queue, blocked } = this;
    if (++this.mark === 0xffffffff) { seen.fill(0); this.mark = 1; }
    const mark = this.mark;
    let head = 0;
    let tail = 0;
    seen[start] = mark;
    queue[tail++] = start;
    while (head < tail && tail < cap) {
      const cell = queue[head++];
      for (let d = 0; d < 4; d++) {
        const next = neighbour(cell, d, width, height);
        if (next < 0 || seen[next] === mark || blocked[next]) continue;
        seen[next] = mark;
        queue[tail++] = next;
      }
    }
    return tail;
  }
}

function isBetter(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return false;
}
