// The client's copy of a game: built from a `snapshot`, stepped by each `tick` with the turns the node says took
// effect, and checked against the tick's hash. The node is the authority; this copy only exists to draw the game
// between messages and to notice when it has drifted (a gap in `t` or a hash mismatch), so the app can ask for a
// fresh snapshot. Pure: no DOM, no clock (callers pass the time), so it runs in Node specs as it runs in the page.
import { Game, type Cell, type Dir, type GameSnapshot } from '../protocol/engine.ts';
import type { SnapshotMessage, SnapshotState, TickMessage } from '../protocol/messages.ts';
import type { Settings } from '../protocol/settings.ts';

/** What applying one `tick` did. `gap` and `mismatch` mean the copy is no longer trusted until the next snapshot. */
export type TickOutcome =
  | 'applied'
  /** for another game, or no game yet */
  | 'ignored'
  /** waiting for the snapshot asked for after a gap or mismatch */
  | 'resyncing'
  /** a tick the copy already has (ticks that overlap a fresh snapshot) */
  | 'stale'
  | 'gap'
  | 'mismatch';

/**
 * The engine's snapshot shape from the protocol's: the node's state has no queues, no death ticks and may leave
 * out the winner; those only matter to the node (results come in `over`).
 */
export function engineSnapshot(state: SnapshotState): GameSnapshot {
  const extra = state as SnapshotState & Partial<Pick<GameSnapshot, 'winner' | 'winningTeam'>>;
  return {
    tick: state.tick,
    status: state.status,
    seed: state.seed,
    rng: state.rng,
    winner: extra.winner ?? null,
    winningTeam: extra.winningTeam ?? null,
    settings: { ...state.settings },
    food: state.food.map(([x, y]) => [x, y] as Cell),
    snakes: state.snakes.map((s) => ({
      id: s.id,
      team: s.team,
      alive: s.alive,
      dir: s.dir,
      grow: s.grow,
      score: s.score,
      body: s.body.map(([x, y]) => [x, y] as Cell),
      diedAt: null,
    })),
  };
}

/** One snake as the view draws it. */
export interface SnakeFrame {
  id: number;
  name: string;
  team: number;
  alive: boolean;
  dir: Dir;
  score: number;
  /** head first, after the latest step */
  body: Cell[];
  /** head first, before the latest step (null right after a snapshot: nothing to interpolate from) */
  prevBody: Cell[] | null;
}

/** Everything a renderer needs for one moment of a game. */
export interface Frame {
  width: number;
  height: number;
  tick: number;
  food: Cell[];
  snakes: SnakeFrame[];
  /** when the latest step was taken (the caller's clock, ms) */
  steppedAt: number;
}

/** Builds a frame from the engine's state after a step and the bodies before it. */
export function frameOf(game: Game, names: readonly string[], prev: GameSnapshot | null, steppedAt: number): Frame {
  const now = game.snapshot();
  return {
    width: now.settings.width,
    height: now.settings.height,
    tick: now.tick,
    food: now.food,
    snakes: now.snakes.map((s) => ({
      id: s.id,
      name: names[s.id] ?? `snake ${s.id}`,
      team: s.team,
      alive: s.alive,
      dir: s.dir,
      score: s.score,
      body: s.body,
      prevBody: prev?.snakes[s.id]?.body ?? null,
    })),
    steppedAt,
  };
}

export class GameSync {
  readonly gameId: string;
  readonly role: SnapshotMessage['role'];
  readonly snakeId: number | null;
  readonly tickMs: number;
  readonly settings: Settings;
  /** server ms of step 1 from the latest snapshot, or null once running */
  startAt: number | null;
  /** hash mismatches seen over the life of this object (kept across resyncs of the same game) */
  hashMismatches = 0;
  /** gaps in `t` seen */
  gaps = 0;
  private game: Game;
  private names: string[];
  private prev: GameSnapshot | null = null;
  private _frame: Frame;
  private _resyncing = false;

  constructor(snapshot: SnapshotMessage, now: number) {
    this.gameId = snapshot.gameId;
    this.role = snapshot.role;
    this.snakeId = snapshot.snakeId;
    this.tickMs = snapshot.tickMs;
    this.settings = { ...snapshot.state.settings };
    this.startAt = snapshot.startAt;
    this.game = Game.fromSnapshot(engineSnapshot(snapshot.state));
    this.names = snapshot.state.snakes.map((s) => s.name);
    this._frame = frameOf(this.game, this.names, null, now);
  }

  get tick(): number { return this.game.tick; }
  get status(): Game['status'] { return this.game.status; }
  get frame(): Frame { return this._frame; }
  /** true between a gap or mismatch and the snapshot that replaces the copy */
  get resyncing(): boolean { return this._resyncing; }

  /** Whether the player's own snake is alive (false for a spectator). */
  get alive(): boolean {
    return this.snakeId !== null && this.snakeId < this.game.snakeCount && this.game.isAlive(this.snakeId);
  }

  /** The player's snake's direction now, or null. */
  get myDir(): Dir | null {
    if (this.snakeId === null) return null;
    return this._frame.snakes[this.snakeId]?.dir ?? null;
  }

  hash(): number { return this.game.hash(); }

  /** Replaces the copy with a fresh snapshot of the same game (after a resync, a rejoin or a slow-client reset). */
  resync(snapshot: SnapshotMessage, now: number): void {
    if (snapshot.gameId !== this.gameId) throw new Error(`snapshot of ${snapshot.gameId} given to the copy of ${this.gameId}`);
    this.game = Game.fromSnapshot(engineSnapshot(snapshot.state));
    this.names = snapshot.state.snakes.map((s) => s.name);
    this.startAt = snapshot.startAt;
    this.prev = null;
    this._frame = frameOf(this.game, this.names, null, now);
    this._resyncing = false;
  }

  /** Marks the copy untrusted until the next snapshot (e.g. after a reconnect, ticks may have been missed). */
  suspend(): void { this._resyncing = true; }

  /** Applies one tick: its turns at `t`, one step, then the hash check. */
  applyTick(tick: TickMessage, now: number): TickOutcome {
    if (tick.gameId !== this.gameId) return 'ignored';
    if (this._resyncing) return 'resyncing';
    if (tick.t <= this.game.tick) return 'stale';
    if (tick.t !== this.game.tick + 1) {
      this.gaps++;
      this._resyncing = true;
      return 'gap';
    }
    for (const [snakeId, dir] of tick.turns) {
      if (snakeId < this.game.snakeCount) this.game.queueTurn(snakeId, dir, tick.t);
    }
    this.prev = this.game.snapshot();
    this.game.step();
    this.startAt = null;
    this._frame = frameOf(this.game, this.names, this.prev, now);
    if (this.game.hash() !== tick.hash) {
      this.hashMismatches++;
      this._resyncing = true;
      return 'mismatch';
    }
    return 'applied';
  }
}

/**
 * The turns this client has sent that have not yet shown up in a tick, to skip key presses that could have no
 * effect (GAME.md "Turns": a turn to the current direction or its opposite is dropped) and to show the player
 * where the snake is about to go before the node confirms it.
 */
export class TurnIntent {
  private pending: Dir[] = [];

  constructor(private readonly maxPending = 8) {}

  /** The turn the snake takes next, or null. */
  get next(): Dir | null { return this.pending[0] ?? null; }

  /** The direction the snake will have once every pending turn took effect. */
  intended(current: Dir): Dir {
    return this.pending.length > 0 ? this.pending[this.pending.length - 1] : current;
  }

  /** Whether a turn to `dir` can take effect after the pending ones; if so it is recorded as pending. */
  offer(current: Dir, dir: Dir): boolean {
    const after = this.intended(current);
    if (dir === after || dir === ((after + 2) % 4)) return false;
    if (this.pending.length >= this.maxPending) return false;
    this.pending.push(dir);
    return true;
  }

  /**
   * A step of the game, with the turn it applied to this snake (from the tick's `turns`) or null. Every pending
   * turn is effective in its turn, so a step consumes the oldest one exactly when it applied a turn.
   */
  stepped(applied: Dir | null): void {
    if (applied !== null) this.pending.shift();
  }

  clear(): void { this.pending = []; }

  get size(): number { return this.pending.length; }
}
