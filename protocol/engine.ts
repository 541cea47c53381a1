// The SnakeTron engine: GAME.md to the bit. Pure and synchronous — no clock, no I/O, no randomness but the
// game's own mulberry32 — because the server, the browser, the bots, replays and recovery must all step a game
// to the same state. Bundled for the browser too, so nothing here may import Node modules.
//
// Inside, a game is kept for speed rather than for reading: one byte per grid cell holds how many alive snake cells
// lie there and whether food does, so a collision or a meal is one array read; bodies are ring buffers of cell
// indices. (One byte, not two grids: a 200×200 game keeps 40 KB, which is most of what it costs to hold or restore.)
// `snapshot()` turns this into the plain data the protocol carries.

import { FNV_OFFSET, fnv1aWord } from './hash.ts';
import { mulberry32Advance, mulberry32Next, mulberry32Output } from './rng.ts';
import { MODES, playersOf, validateSettings, type Settings } from './settings.ts';

export { mulberry32Next };

export const DIR_NAMES = ['up', 'right', 'down', 'left'] as const;
export type DirName = (typeof DIR_NAMES)[number];
export type Dir = 0 | 1 | 2 | 3;
export type Cell = [number, number];
export type GameStatus = 'running' | 'complete';

export interface QueuedTurn { t: number; dir: Dir }

export interface SnakeSnapshot {
  id: number;
  team: number;
  alive: boolean;
  dir: Dir;
  grow: number;
  score: number;
  /** head first */
  body: Cell[];
  /** the tick of the step the snake died in */
  diedAt: number | null;
  queue?: QueuedTurn[];
}

export interface GameSnapshot {
  tick: number;
  status: GameStatus;
  seed: number;
  rng: number;
  winner: number | null;
  winningTeam: number | null;
  settings: Settings;
  food: Cell[];
  snakes: SnakeSnapshot[];
}

/** What one step did: the effective turns in snake id order, the snakes that died, the food spawned (at most one). */
export interface StepEvents { t: number; turns: Array<[number, Dir]>; died: number[]; food: Cell | null }

export interface PlayerResult { snakeId: number; team: number; score: number; length: number; alive: boolean; place: number }

const DX = [0, 1, 0, -1] as const;
const DY = [-1, 0, 1, 0] as const;

/** GAME.md "Spawning one food": attempts before giving up for this spawn. */
const SPAWN_ATTEMPTS = 16;

// A grid cell's byte: the count of alive snake cells on it (at most two per snake, a head on its own body, so far
// below SNAKES) and the food flag.
const SNAKES = 0x7f;
const FOOD = 0x80;

// Per-snake marks of the move phase, so a snake that dies can get back the body it had before the step.
const GREW = 1;
const OUTSIDE = 2;

const NO_TICK = -1;

export function isDir(value: unknown): value is Dir {
  return value === 0 || value === 1 || value === 2 || value === 3;
}

/** The direction with that name (`up`, `right`, `down`, `left`), or null. */
export function dirFromName(name: string): Dir | null {
  const code = (DIR_NAMES as readonly string[]).indexOf(name);
  return code < 0 ? null : (code as Dir);
}

function checkedSettings(settings: Settings, players: number): Settings {
  const checked = validateSettings({ ...settings, players });
  if (!checked.ok) throw new RangeError(checked.error.message);
  return checked.settings;
}

export class Game {
  readonly settings: Settings;
  readonly seed: number;

  private readonly width: number;
  private readonly height: number;
  private readonly count: number;

  private _tick = 0;
  private _status: GameStatus = 'running';
  private _rng: number;
  private _winner: number | null = null;
  private _winningTeam: number | null = null;

  /**
   * Per grid cell: how many cells of alive snakes lie on it (SNAKES bits; a head on a count above 1 has collided)
   * and whether food does (FOOD).
   */
  private readonly grid: Uint8Array;
  /** Food cell indices in spawn order (the order is hashed). */
  private food: Int32Array;
  private foodCount = 0;

  private readonly alive: Uint8Array;
  private readonly dir: Uint8Array;
  private readonly grow: Int32Array;
  private readonly score: Int32Array;
  private readonly diedAt: Int32Array;
  private readonly headX: Int32Array;
  private readonly headY: Int32Array;
  /** Bodies as ring buffers of cell indices (power-of-two capacity): tail at `ringStart`, head `ringLen - 1` after it. */
  private readonly rings: Uint16Array[];
  private readonly ringStart: Int32Array;
  private readonly ringLen: Int32Array;
  /**
   * Cells of a start body outside the grid, head first (GAME.md places a snake at least as long as the grid is
   * wide partly outside it): they lie at the head end, before the ring's cells. Such a snake's head is outside too,
   * so it dies in step 1 and its body never moves; for any other snake this is empty.
   */
  private readonly outside: Cell[][];
  private readonly queues: QueuedTurn[][];

  // Scratch of one step, kept to avoid allocating in step().
  private readonly moveMarks: Uint8Array;
  private readonly prevX: Int32Array;
  private readonly prevY: Int32Array;

  private constructor(settings: Settings, seed: number, players: number) {
    this.settings = { ...settings, players };
    this.seed = seed >>> 0;
    this._rng = this.seed;
    this.width = settings.width;
    this.height = settings.height;
    this.count = players;
    const cells = settings.width * settings.height;
    this.grid = new Uint8Array(cells);
    this.food = new Int32Array(settings.foodTarget);
    this.alive = new Uint8Array(players);
    this.dir = new Uint8Array(players);
    this.grow = new Int32Array(players);
    this.score = new Int32Array(players);
    this.diedAt = new Int32Array(players).fill(NO_TICK);
    this.headX = new Int32Array(players);
    this.headY = new Int32Array(players);
    this.rings = [];
    this.ringStart = new Int32Array(players);
    this.ringLen = new Int32Array(players);
    this.outside = [];
    this.queues = [];
    for (let i = 0; i < players; i++) {
      this.rings.push(new Uint16Array(ringCapacity(settings.startLength)));
      this.outside.push(NO_CELLS);
      this.queues.push([]);
    }
    this.moveMarks = new Uint8Array(players);
    this.prevX = new Int32Array(players);
    this.prevY = new Int32Array(players);
  }

  /**
   * A new game at tick 0: GAME.md "Start positions", then `foodTarget` spawns. Throws RangeError when a setting
   * or `players` is outside its range for the mode.
   */
  static create(settings: Settings, seed: number, players: number): Game {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError('seed must be an unsigned 32-bit integer');
    }
    const game = new Game(checkedSettings(settings, players), seed, players);
    const { width, height, startLength: length } = game.settings;
    const mid = Math.floor(height / 2);
    for (let id = 0; id < players; id++) {
      let x: number;
      let y: number;
      let dir: Dir;
      if (players === 1) {
        x = width - length - 1;
        y = mid;
        dir = 3;
      } else {
        const left = id % 2 === 0;
        const column = left ? Math.ceil(players / 2) : Math.floor(players / 2);
        const k = Math.floor(id / 2);
        x = left ? length : width - length - 1;
        y = column === 1 ? mid : 2 + Math.floor((k * (height - 4)) / (column - 1));
        dir = left ? 1 : 3;
      }
      game.dir[id] = dir;
      game.alive[id] = 1;
      // Laid tail first, so the head ends up last in the ring. Start bodies may overlap (a narrow grid): a cell
      // counts every snake on it, so each is an obstacle to the others as GAME.md says. The tail always lies in
      // the grid; cells past its edge (a snake at least as long as the grid is wide) are kept apart, head first.
      for (let back = length - 1; back >= 0; back--) {
        const cx = x - DX[dir] * back;
        const cy = y - DY[dir] * back;
        if (cx < 0 || cx >= width) {
          if (game.outside[id] === NO_CELLS) game.outside[id] = [];
          game.outside[id].unshift([cx, cy]);
          continue;
        }
        game.pushHead(id, cy * width + cx);
        game.grid[cy * width + cx]++;
      }
      game.headX[id] = x;
      game.headY[id] = y;
    }
    for (let i = 0; i < game.settings.foodTarget; i++) game.spawnFood();
    return game;
  }

  /** Rebuilds a game from `snapshot()` data (a missing queue is empty, a missing diedAt/winner is null). */
  static fromSnapshot(s: GameSnapshot): Game {
    const players = s.snakes.length;
    const game = new Game(checkedSettings(s.settings, players), s.seed, players);
    if (!Number.isInteger(s.tick) || s.tick < 0) throw new RangeError(`snapshot tick ${s.tick} is not a tick`);
    if (s.status !== 'running' && s.status !== 'complete') throw new RangeError(`snapshot status ${String(s.status)} is unknown`);
    game._tick = s.tick;
    game._status = s.status;
    game._rng = s.rng >>> 0;
    game._winner = s.winner ?? null;
    game._winningTeam = s.winningTeam ?? null;
    const cellOf = (c: Cell, what: string): number => {
      const [x, y] = c;
      if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= game.width || y >= game.height) {
        throw new RangeError(`snapshot ${what} cell [${x}, ${y}] is outside the ${game.width}x${game.height} grid`);
      }
      return y * game.width + x;
    };
    if (s.food.length > game.food.length) game.food = new Int32Array(s.food.length);
    for (const f of s.food) game.addFood(cellOf(f, 'food'));
    s.snakes.forEach((snake, id) => {
      if (snake.id !== id) throw new RangeError(`snapshot snake ${id} has id ${snake.id}`);
      if (!isDir(snake.dir)) throw new RangeError(`snapshot snake ${id} has direction ${String(snake.dir)}`);
      if (snake.body.length === 0) throw new RangeError(`snapshot snake ${id} has no body`);
      game.alive[id] = snake.alive ? 1 : 0;
      game.dir[id] = snake.dir;
      game.grow[id] = snake.grow;
      game.score[id] = snake.score;
      game.diedAt[id] = snake.diedAt ?? NO_TICK;
      game.rings[id] = new Uint16Array(ringCapacity(snake.body.length));
      // cells outside the grid only as a start body has them: at the head end of a snake that never moved
      let inside = 0;
      while (inside < snake.body.length && !within(snake.body[inside], game.width, game.height)) inside++;
      if (inside > 0) {
        // (alive at tick 0, dead from step 1 on, when such a game is complete)
        if (inside === snake.body.length || (snake.alive ? s.tick > 0 : s.status !== 'complete')) {
          throw new RangeError(`snapshot snake ${id} body cell [${snake.body[0][0]}, ${snake.body[0][1]}] is outside the ${game.width}x${game.height} grid`);
        }
        game.outside[id] = snake.body.slice(0, inside).map(([x, y]) => [x, y]);
        for (const [x, y] of game.outside[id]) {
          if (!Number.isInteger(x) || !Number.isInteger(y)) throw new RangeError(`snapshot snake ${id} body cell [${x}, ${y}] is not a cell`);
        }
      }
      for (let k = snake.body.length - 1; k >= inside; k--) {
        const cell = cellOf(snake.body[k], `snake ${id} body`);
        game.pushHead(id, cell);
        if (snake.alive) game.grid[cell]++;
      }
      game.headX[id] = snake.body[0][0];
      game.headY[id] = snake.body[0][1];
      for (const turn of snake.queue ?? []) {
        if (!isDir(turn.dir)) throw new RangeError(`snapshot snake ${id} has a queued direction ${String(turn.dir)}`);
        if (!Number.isInteger(turn.t) || turn.t < 0 || turn.t > MAX_TICK) throw new RangeError(`snapshot snake ${id} has a turn queued for tick ${turn.t}`);
        game.queues[id].push({ t: turn.t, dir: turn.dir });
      }
    });
    return game;
  }

  get tick(): number { return this._tick; }
  get status(): GameStatus { return this._status; }
  get winner(): number | null { return this._winner; }
  get winningTeam(): number | null { return this._winningTeam; }
  get rng(): number { return this._rng; }
  get snakeCount(): number { return this.count; }

  isAlive(snakeId: number): boolean {
    this.checkSnake(snakeId);
    return this.alive[snakeId] === 1;
  }

  /**
   * GAME.md "Turns": asks snake `snakeId` to turn to `dir` at tick `t`; a tick already past means the next one.
   * Nothing is queued for a dead snake or a complete game: such a turn could never take effect. Ticks are
   * unsigned 32-bit numbers (as encodeGame keeps them): a turn for a later tick is refused, not kept wrongly.
   */
  queueTurn(snakeId: number, dir: Dir, t: number): void {
    this.checkSnake(snakeId);
    if (!isDir(dir)) throw new RangeError(`direction ${String(dir)} is not 0..3`);
    if (!Number.isInteger(t)) throw new RangeError(`turn tick ${t} is not an integer`);
    if (t > MAX_TICK) throw new RangeError(`turn tick ${t} is past the last tick a game can reach (${MAX_TICK})`);
    if (this._status === 'complete' || this.alive[snakeId] === 0) return;
    this.queues[snakeId].push({ t: Math.max(t, this._tick + 1), dir });
  }

  queuedTurns(snakeId: number): number {
    this.checkSnake(snakeId);
    return this.queues[snakeId].length;
  }

  /** GAME.md "One step" (tick T−1 → T). Once complete, a no-op reporting the current tick. */
  step(): StepEvents {
    if (this._status === 'complete') return { t: this._tick, turns: [], died: [], food: null };
    const t = this._tick + 1;
    const n = this.count;
    const { width, height, alive, grid } = this;

    const turns: Array<[number, Dir]> = [];
    for (let i = 0; i < n; i++) {
      if (alive[i] === 1 && this.queues[i].length > 0) {
        const dir = this.takeTurn(i, t);
        if (dir !== null) turns.push([i, dir]);
      }
    }

    // Move: every body changes before any collision is judged, so they are judged at once.
    for (let i = 0; i < n; i++) {
      if (alive[i] === 0) continue;
      if (this.ringLen[i] === this.rings[i].length) this.widenRing(i);
      const x = this.headX[i] + DX[this.dir[i]];
      const y = this.headY[i] + DY[this.dir[i]];
      this.prevX[i] = this.headX[i];
      this.prevY[i] = this.headY[i];
      let marks = 0;
      if (this.grow[i] > 0) {
        this.grow[i]--;
        marks |= GREW;
      } else {
        grid[this.popTail(i)]--;
      }
      if (x < 0 || y < 0 || x >= width || y >= height) {
        marks |= OUTSIDE;
      } else {
        this.pushHead(i, y * width + x);
        grid[y * width + x]++;
      }
      this.headX[i] = x;
      this.headY[i] = y;
      this.moveMarks[i] = marks;
    }

    // Collisions: the head itself counts once, so anything more is another head, a body or the snake's own body.
    const died: number[] = [];
    for (let i = 0; i < n; i++) {
      if (alive[i] === 0) continue;
      if ((this.moveMarks[i] & OUTSIDE) !== 0 || (grid[this.headY[i] * width + this.headX[i]] & SNAKES) > 1) died.push(i);
    }
    for (const i of died) this.kill(i, t);

    for (let i = 0; i < n; i++) {
      if (alive[i] === 0) continue;
      const head = this.headY[i] * width + this.headX[i];
      if ((grid[head] & FOOD) !== 0) {
        this.removeFood(head);
        this.grow[i]++;
        this.score[i]++;
      }
    }

    const food = this.foodCount < this.settings.foodTarget ? this.spawnFood() : null;
    this.judgeEnd();
    this._tick = t;
    return { t, turns, died, food };
  }

  /** GAME.md "State hash", unsigned 32-bit. */
  hash(): number {
    const width = this.width;
    let h = FNV_OFFSET;
    h = fnv1aWord(h, this._tick);
    h = fnv1aWord(h, this._rng);
    h = fnv1aWord(h, this._status === 'complete' ? 1 : 0);
    h = fnv1aWord(h, this.foodCount);
    for (let k = 0; k < this.foodCount; k++) {
      const cell = this.food[k];
      h = fnv1aWord(h, cell % width);
      h = fnv1aWord(h, (cell / width) | 0);
    }
    h = fnv1aWord(h, this.count);
    for (let i = 0; i < this.count; i++) {
      const ring = this.rings[i];
      const mask = ring.length - 1;
      const len = this.ringLen[i];
      h = fnv1aWord(h, this.alive[i]);
      h = fnv1aWord(h, this.dir[i]);
      h = fnv1aWord(h, this.grow[i]);
      h = fnv1aWord(h, this.score[i]);
      h = fnv1aWord(h, len + this.outside[i].length);
      for (const [x, y] of this.outside[i]) {
        h = fnv1aWord(h, x >>> 0);
        h = fnv1aWord(h, y);
      }
      for (let k = this.ringStart[i] + len - 1; k >= this.ringStart[i]; k--) {
        const cell = ring[k & mask];
        h = fnv1aWord(h, cell % width);
        h = fnv1aWord(h, (cell / width) | 0);
      }
    }
    return h >>> 0;
  }

  /** The whole state as plain JSON-able data (a deep copy); queued turns only when asked. */
  snapshot(withQueues = false): GameSnapshot {
    const snakes: SnakeSnapshot[] = [];
    for (let i = 0; i < this.count; i++) {
      const snake: SnakeSnapshot = {
        id: i,
        team: i % 2,
        alive: this.alive[i] === 1,
        dir: this.dir[i] as Dir,
        grow: this.grow[i],
        score: this.score[i],
        body: this.body(i),
        diedAt: this.diedAt[i] === NO_TICK ? null : this.diedAt[i],
      };
      if (withQueues) snake.queue = this.queues[i].map((turn) => ({ t: turn.t, dir: turn.dir }));
      snakes.push(snake);
    }
    const food: Cell[] = [];
    for (let k = 0; k < this.foodCount; k++) food.push(this.cellAt(this.food[k]));
    return {
      tick: this._tick,
      status: this._status,
      seed: this.seed,
      rng: this._rng,
      winner: this._winner,
      winningTeam: this._winningTeam,
      settings: { ...this.settings },
      food,
      snakes,
    };
  }

  /**
   * GAME.md "Results", in snake id order. The winner (or every member of the winning team) places first, then
   * later deaths above earlier ones; equal standings share a place (1, 2, 2, 4). Asked while running, the snakes
   * still alive share the place above the dead.
   */
  results(): PlayerResult[] {
    const standing = (i: number): number => {
      if (this._winner === i || this._winningTeam === i % 2) return Number.POSITIVE_INFINITY;
      return this.alive[i] === 1 ? Number.MAX_SAFE_INTEGER : this.diedAt[i];
    };
    const standings = Array.from({ length: this.count }, (_, i) => standing(i));
    return standings.map((mine, i) => ({
      snakeId: i,
      team: i % 2,
      score: this.score[i],
      length: this.ringLen[i] + this.outside[i].length,
      alive: this.alive[i] === 1,
      place: 1 + standings.filter((other) => other > mine).length,
    }));
  }

  clone(): Game {
    const copy = new Game(this.settings, this.seed, this.count);
    copy.copyFrom(this);
    return copy;
  }

  /** Writes the whole state, queues included, for encodeGame. */
  encodeInto(out: GameWriter): void {
    const s = this.settings;
    out.u32(this.seed);
    out.u32(this._rng);
    out.u32(this._tick);
    out.u8(this._status === 'complete' ? 1 : 0);
    out.u8(this._winner ?? NONE_U8);
    out.u8(this._winningTeam ?? NONE_U8);
    out.u8(MODES.indexOf(s.mode));
    out.u16(s.width);
    out.u16(s.height);
    out.u16(s.tickMs);
    out.u8(s.startLength);
    out.u8(s.foodTarget);
    out.u8(s.players);
    out.u16(this.foodCount);
    for (let k = 0; k < this.foodCount; k++) out.u16(this.food[k]);
    out.u8(this.count);
    const withOutside = this.hasOutsideCells; // encodeGame's version 2
    for (let i = 0; i < this.count; i++) {
      out.u8(this.alive[i]);
      out.u8(this.dir[i]);
      out.u32(this.grow[i]);
      out.u32(this.score[i]);
      out.u32(this.diedAt[i] === NO_TICK ? NONE_U32 : this.diedAt[i]);
      const ring = this.rings[i];
      const mask = ring.length - 1;
      const len = this.ringLen[i];
      out.u32(len);
      for (let k = this.ringStart[i] + len - 1; k >= this.ringStart[i]; k--) out.u16(ring[k & mask]);
      if (withOutside) {
        out.u8(this.outside[i].length);
        for (const [x, y] of this.outside[i]) {
          out.u32(x >>> 0);
          out.u16(y);
        }
      }
      out.u16(this.queues[i].length);
      for (const turn of this.queues[i]) {
        out.u32(turn.t);
        out.u8(turn.dir);
      }
    }
  }

  private copyFrom(from: Game): void {
    this._tick = from._tick;
    this._status = from._status;
    this._rng = from._rng;
    this._winner = from._winner;
    this._winningTeam = from._winningTeam;
    this.grid.set(from.grid);
    this.food = from.food.slice();
    this.foodCount = from.foodCount;
    this.alive.set(from.alive);
    this.dir.set(from.dir);
    this.grow.set(from.grow);
    this.score.set(from.score);
    this.diedAt.set(from.diedAt);
    this.headX.set(from.headX);
    this.headY.set(from.headY);
    for (let i = 0; i < this.count; i++) {
      this.rings[i] = from.rings[i].slice();
      this.outside[i] = from.outside[i] === NO_CELLS ? NO_CELLS : from.outside[i].map(([x, y]) => [x, y]);
      this.queues[i] = from.queues[i].map((turn) => ({ t: turn.t, dir: turn.dir }));
    }
    this.ringStart.set(from.ringStart);
    this.ringLen.set(from.ringLen);
  }

  private checkSnake(snakeId: number): void {
    if (!Number.isInteger(snakeId) || snakeId < 0 || snakeId >= this.count) {
      throw new RangeError(`snake ${snakeId} is not in this game (ids 0..${this.count - 1})`);
    }
  }

  /** Takes queued turns due by tick `t`, in arrival order, until one is effective; later ones stay queued. */
  private takeTurn(i: number, t: number): Dir | null {
    const queue = this.queues[i];
    const current = this.dir[i];
    for (let k = 0; k < queue.length; ) {
      const turn = queue[k];
      if (turn.t > t) {
        k++;
        continue;
      }
      queue.splice(k, 1);
      if (turn.dir !== current && turn.dir !== ((current + 2) & 3)) {
        this.dir[i] = turn.dir;
        return turn.dir;
      }
    }
    return null;
  }

  /** A snake dead in step `t` gets back its body from before the step and stops being an obstacle or an eater. */
  private kill(i: number, t: number): void {
    const ring = this.rings[i];
    const mask = ring.length - 1;
    const start = this.ringStart[i];
    for (let k = 0; k < this.ringLen[i]; k++) this.grid[ring[(start + k) & mask]]--;
    const marks = this.moveMarks[i];
    if ((marks & OUTSIDE) === 0) this.ringLen[i]--;
    if ((marks & GREW) === 0) {
      // The tail's cell is still in the ring: widenRing keeps a free slot, so the new head went elsewhere.
      this.ringStart[i] = (start - 1) & mask;
      this.ringLen[i]++;
    }
    // GAME.md gives back the body only: `grow` keeps the decrement of this step's move.
    this.headX[i] = this.prevX[i];
    this.headY[i] = this.prevY[i];
    this.alive[i] = 0;
    this.diedAt[i] = t;
    this.queues[i].length = 0;
  }

  /** GAME.md "End" for the step just judged. */
  private judgeEnd(): void {
    let aliveCount = 0;
    let last = -1;
    let teams = 0;
    for (let i = 0; i < this.count; i++) {
      if (this.alive[i] === 0) continue;
      aliveCount++;
      last = i;
      teams |= 1 << (i % 2);
    }
    if (this.count === 1) {
      if (aliveCount === 0) this._status = 'complete';
    } else if (this.settings.mode === 'teams') {
      if (teams !== 0b11) {
        this._status = 'complete';
        this._winningTeam = teams === 0b01 ? 0 : teams === 0b10 ? 1 : null;
      }
    } else if (aliveCount <= 1) {
      this._status = 'complete';
      this._winner = aliveCount === 1 ? last : null;
    }
  }

  /** GAME.md "Spawning one food". */
  private spawnFood(): Cell | null {
    const { width, height } = this;
    let rng = this._rng;
    for (let attempt = 0; attempt < SPAWN_ATTEMPTS; attempt++) {
      rng = mulberry32Advance(rng);
      const x = mulberry32Output(rng) % width;
      rng = mulberry32Advance(rng);
      const y = mulberry32Output(rng) % height;
      const cell = y * width + x;
      if (this.grid[cell] === 0) {
        this._rng = rng;
        this.addFood(cell);
        return [x, y];
      }
    }
    this._rng = rng;
    return null;
  }

  private addFood(cell: number): void {
    if ((this.grid[cell] & FOOD) !== 0) throw new RangeError(`food already lies on cell ${cell}`);
    this.grid[cell] |= FOOD;
    this.food[this.foodCount++] = cell;
  }

  private removeFood(cell: number): void {
    this.grid[cell] &= SNAKES;
    const food = this.food;
    let k = food.indexOf(cell);
    for (this.foodCount--; k < this.foodCount; k++) food[k] = food[k + 1];
  }

  private pushHead(i: number, cell: number): void {
    const ring = this.rings[i];
    ring[(this.ringStart[i] + this.ringLen[i]) & (ring.length - 1)] = cell;
    this.ringLen[i]++;
  }

  private popTail(i: number): number {
    const ring = this.rings[i];
    const cell = ring[this.ringStart[i]];
    this.ringStart[i] = (this.ringStart[i] + 1) & (ring.length - 1);
    this.ringLen[i]--;
    return cell;
  }

  /** Doubles a full ring, so a move never writes the new head over the tail slot a death may need back. */
  private widenRing(i: number): void {
    const ring = this.rings[i];
    const wider = new Uint16Array(ring.length * 2);
    const mask = ring.length - 1;
    for (let k = 0; k < this.ringLen[i]; k++) wider[k] = ring[(this.ringStart[i] + k) & mask];
    this.rings[i] = wider;
    this.ringStart[i] = 0;
  }

  /** Whether a start body lies partly outside the grid (encodeGame then writes those cells too). */
  get hasOutsideCells(): boolean {
    return this.outside.some((cells) => cells.length > 0);
  }

  private body(i: number): Cell[] {
    const ring = this.rings[i];
    const mask = ring.length - 1;
    const body: Cell[] = this.outside[i].map(([x, y]) => [x, y]);
    for (let k = this.ringStart[i] + this.ringLen[i] - 1; k >= this.ringStart[i]; k--) body.push(this.cellAt(ring[k & mask]));
    return body;
  }

  private cellAt(cell: number): Cell {
    return [cell % this.width, (cell / this.width) | 0];
  }
}

/** The shared empty list of cells outside the grid (almost every snake's). */
const NO_CELLS: Cell[] = [];

function within([x, y]: Cell, width: number, height: number): boolean {
  return x >= 0 && y >= 0 && x < width && y < height;
}

/** The smallest power of two that holds `length` cells with a slot to spare (see widenRing). */
function ringCapacity(length: number): number {
  let capacity = 16;
  while (capacity <= length) capacity *= 2;
  return capacity;
}

// ---------------------------------------------------------------------------------------------------------------
// Binary checkpoints: a version byte, then little-endian fields. Cells are one u16 index (y·width + x): a grid
// holds at most 200×200 cells. Version 2, written only for a game whose start bodies lie partly outside the grid,
// adds after each snake's cells its cells outside the grid (u8 count, then u32 x as two's complement and u16 y).

const ENCODING_VERSION = 1;
const ENCODING_VERSION_OUTSIDE = 2;
const NONE_U8 = 0xff;
const NONE_U32 = 0xffffffff;
/** the last tick a game can reach and a turn can ask for: ticks are kept as unsigned 32-bit numbers */
const MAX_TICK = 0xffffffff;

/** The byte writer Game.encodeInto writes to; grows as needed. */
export class GameWriter {
  private bytes = new Uint8Array(256);
  private view = new DataView(this.bytes.buffer);
  private length = 0;

  u8(value: number): void { this.room(1); this.view.setUint8(this.length, value); this.length += 1; }
  u16(value: number): void { this.room(2); this.view.setUint16(this.length, value, true); this.length += 2; }
  u32(value: number): void { this.room(4); this.view.setUint32(this.length, value, true); this.length += 4; }
  finish(): Uint8Array { return this.bytes.slice(0, this.length); }

  private room(size: number): void {
    if (this.length + size <= this.bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.length + size));
    bigger.set(this.bytes);
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }
}

class GameReader {
  private readonly view: DataView;
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(): number { this.need(1); return this.view.getUint8(this.offset++); }
  u16(): number { this.need(2); const v = this.view.getUint16(this.offset, true); this.offset += 2; return v; }
  u32(): number { this.need(4); const v = this.view.getUint32(this.offset, true); this.offset += 4; return v; }
  get rest(): number { return this.bytes.byteLength - this.offset; }
  private need(size: number): void {
    if (this.offset + size > this.bytes.byteLength) {
      throw new Error(`decodeGame: input ends at byte ${this.bytes.byteLength}, in the middle of a game`);
    }
  }
}

/** The whole game, queues included, as compact bytes (for checkpoints). */
export function encodeGame(g: Game): Uint8Array {
  const out = new GameWriter();
  out.u8(g.hasOutsideCells ? ENCODING_VERSION_OUTSIDE : ENCODING_VERSION);
  g.encodeInto(out);
  return out.finish();
}

/** The game encodeGame wrote; throws an Error saying what is wrong with bytes that are not such a game. */
export function decodeGame(bytes: Uint8Array): Game {
  if (!(bytes instanceof Uint8Array)) throw new Error('decodeGame: input must be a Uint8Array');
  if (bytes.byteLength === 0) throw new Error('decodeGame: input is empty');
  const input = new GameReader(bytes);
  const version = input.u8();
  if (version !== ENCODING_VERSION && version !== ENCODING_VERSION_OUTSIDE) {
    throw new Error(`decodeGame: unknown encoding version ${version} (this engine reads versions ${ENCODING_VERSION} and ${ENCODING_VERSION_OUTSIDE})`);
  }
  const seed = input.u32();
  const rng = input.u32();
  const tick = input.u32();
  const statusCode = input.u8();
  if (statusCode > 1) throw new Error(`decodeGame: unknown status code ${statusCode}`);
  const winner = input.u8();
  const winningTeam = input.u8();
  const modeIndex = input.u8();
  const mode = MODES[modeIndex];
  if (mode === undefined) throw new Error(`decodeGame: unknown mode code ${modeIndex}`);
  const settings: Settings = {
    mode,
    width: input.u16(),
    height: input.u16(),
    tickMs: input.u16(),
    startLength: input.u8(),
    foodTarget: input.u8(),
    players: input.u8(),
  };
  const cellAt = (cell: number): Cell => [cell % settings.width, Math.floor(cell / settings.width)];
  const food: Cell[] = [];
  for (let k = input.u16(); k > 0; k--) food.push(cellAt(input.u16()));
  const snakes: SnakeSnapshot[] = [];
  const count = input.u8();
  for (let id = 0; id < count; id++) {
    const alive = input.u8() === 1;
    const dir = input.u8();
    if (!isDir(dir)) throw new Error(`decodeGame: snake ${id} has direction code ${dir}`);
    const grow = input.u32();
    const score = input.u32();
    const diedAt = input.u32();
    const length = input.u32();
    if (length > input.rest / 2) throw new Error(`decodeGame: snake ${id} claims ${length} cells, more than the input holds`);
    const body: Cell[] = [];
    for (let k = 0; k < length; k++) body.push(cellAt(input.u16()));
    if (version === ENCODING_VERSION_OUTSIDE) {
      const outside: Cell[] = [];
      for (let k = input.u8(); k > 0; k--) outside.push([input.u32() | 0, input.u16()]);
      body.unshift(...outside);
    }
    const queue: QueuedTurn[] = [];
    for (let k = input.u16(); k > 0; k--) {
      const t = input.u32();
      const turnDir = input.u8();
      if (!isDir(turnDir)) throw new Error(`decodeGame: snake ${id} has a queued direction code ${turnDir}`);
      queue.push({ t, dir: turnDir });
    }
    snakes.push({ id, team: id % 2, alive, dir, grow, score, body, diedAt: diedAt === NONE_U32 ? null : diedAt, queue });
  }
  if (input.rest !== 0) throw new Error(`decodeGame: ${input.rest} bytes left over after the game`);
  try {
    return Game.fromSnapshot({
      tick,
      status: statusCode === 1 ? 'complete' : 'running',
      seed,
      rng,
      winner: winner === NONE_U8 ? null : winner,
      winningTeam: winningTeam === NONE_U8 ? null : winningTeam,
      settings,
      food,
      snakes,
    });
  } catch (error) {
    throw new Error(`decodeGame: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Conformance: GAME.md "Conformance".

export interface Scenario {
  settings: Settings;
  seed: number;
  players: number;
  turns: Array<[number, number, Dir]>;
  maxTicks: number;
}

export interface ExpectedSnake { id: number; alive: boolean; dir: DirName; score: number; length: number; head: Cell }

export interface Expected {
  tick: number;
  status: GameStatus;
  winner: number | null;
  winningTeam: number | null;
  hash: number;
  rng: number;
  food: Cell[];
  snakes: ExpectedSnake[];
  hashes: number[];
}

/** A scenario that cannot be run: `path` names the field (`settings.width`, `turns[3][2]`), the message says why. */
export class ScenarioError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** Checks an untrusted scenario; throws a ScenarioError naming the first field that is wrong. */
export function parseScenario(input: unknown): Scenario {
  const fail = (path: string, message: string): never => {
    throw new ScenarioError(path, `${path} ${message}`);
  };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ScenarioError('scenario', 'scenario must be a map of settings, seed, players, turns and maxTicks');
  }
  // other fields (a name, a description) are another tool's business and are left alone
  const given = input as Record<string, unknown>;
  const checked = validateSettings(given.settings);
  if (!checked.ok) throw new ScenarioError(checked.error.path, checked.error.message);
  const settings = checked.settings;

  const seed = given.seed;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    fail('seed', 'must be an integer between 0 and 4294967295');
  }

  let players = settings.players;
  const declared = (given.settings as Record<string, unknown>).players;
  const range = playersOf(settings.mode);
  // GAME.md fixes how many play solo, duel and teams; an ffa or custom scenario has to say (the queue's ffa
  // default of 4 is PROTOCOL.md's, not the rules')
  if (given.players === undefined && declared === undefined && range.min !== range.max) {
    fail('players', `is required for mode ${settings.mode}: the number of snakes, ${range.min} to ${range.max}`);
  }
  if (given.players !== undefined) {
    if (typeof given.players !== 'number' || !Number.isInteger(given.players)) fail('players', 'must be an integer');
    const forMode = validateSettings({ mode: settings.mode, players: given.players }, 'scenario');
    if (!forMode.ok) fail('players', `${forMode.error.message.replace(/^scenario\.players /, '')} for mode ${settings.mode}`);
    if (declared !== undefined && declared !== given.players) {
      fail('players', `(${String(given.players)}) differs from settings.players (${String(declared)})`);
    }
    players = given.players as number;
  }

  const turns: Array<[number, number, Dir]> = [];
  if (given.turns !== undefined) {
    if (!Array.isArray(given.turns)) fail('turns', 'must be a list of [tick, snakeId, dir]');
    (given.turns as unknown[]).forEach((turn, k) => {
      if (!Array.isArray(turn) || turn.length !== 3) fail(`turns[${k}]`, 'must be [tick, snakeId, dir]');
      const [t, snakeId, dirGiven] = turn as unknown[];
      // a T below 1 is never tick + 1, so GAME.md's run never queues it
      if (typeof t !== 'number' || !Number.isInteger(t)) fail(`turns[${k}][0]`, 'must be a tick (an integer)');
      if (typeof snakeId !== 'number' || !Number.isInteger(snakeId) || snakeId < 0 || snakeId >= players) {
        fail(`turns[${k}][1]`, `must be a snake id between 0 and ${players - 1}`);
      }
      const dir = typeof dirGiven === 'string' ? dirFromName(dirGiven) : isDir(dirGiven) ? dirGiven : null;
      if (dir === null) fail(`turns[${k}][2]`, `must be one of ${DIR_NAMES.join(', ')} (or a code 0..3)`);
      turns.push([t as number, snakeId as number, dir as Dir]);
    });
  }

  // any integer, also one beyond 2^53 (a tool's "no limit"): the run is bounded anyway, since once the turns run
  // out every snake meets a wall within a grid's width or height; one below 1 runs no step ("while tick < maxTicks")
  const maxTicks = given.maxTicks;
  if (typeof maxTicks !== 'number' || !Number.isInteger(maxTicks)) fail('maxTicks', 'must be an integer');
  return { settings: { ...settings, players }, seed: seed as number, players, turns, maxTicks: maxTicks as number };
}

/** Runs a scenario as GAME.md "Conformance" says and returns its `expected` object. */
export function runScenario(scenario: unknown): Expected {
  const { settings, seed, players, turns, maxTicks } = parseScenario(scenario);
  const game = Game.create(settings, seed, players);
  // Stable by tick, so turns of one tick keep their array order.
  const byTick = turns.map((turn, k) => ({ turn, k })).sort((a, b) => a.turn[0] - b.turn[0] || a.k - b.k);
  const hashes = [game.hash()];
  let next = 0;
  while (game.status === 'running' && game.tick < maxTicks) {
    const t = game.tick + 1;
    while (next < byTick.length && byTick[next].turn[0] < t) next++;
    for (; next < byTick.length && byTick[next].turn[0] === t; next++) {
      const [, snakeId, dir] = byTick[next].turn;
      game.queueTurn(snakeId, dir, t);
    }
    game.step();
    hashes.push(game.hash());
  }
  const state = game.snapshot();
  return {
    tick: state.tick,
    status: state.status,
    winner: state.winner,
    winningTeam: state.winningTeam,
    hash: hashes[hashes.length - 1],
    rng: state.rng,
    food: state.food,
    snakes: state.snakes.map((snake) => ({
      id: snake.id,
      alive: snake.alive,
      dir: DIR_NAMES[snake.dir],
      score: snake.score,
      length: snake.body.length,
      head: snake.body[0],
    })),
    hashes,
  };
}
