// Replays of finished games: `GET /api/games/:id/replay?format=json`, read by a small adapter (the one place
// that knows the JSON shape, so it can follow the node if the shape moves), then stepped by the engine exactly as
// the game was: the turns that took effect at each tick, queued for that tick, one step per tick.
// Pure (no DOM): the page drives a ReplayPlayer with a ReplayClock; specs drive them directly.
import { Game, dirFromName, isDir, type Dir, type GameSnapshot } from '../protocol/engine.ts';
import { validateSettings, type Settings } from '../protocol/settings.ts';
import { frameOf, type Frame } from './game-sync.ts';

export interface ReplayPlayerInfo { userId: string; name: string; snakeId: number }

/** A replay as the client uses it, whatever the JSON looked like. */
export interface Replay {
  gameId: string;
  settings: Settings;
  seed: number;
  players: ReplayPlayerInfo[];
  /** the effective turns `[snakeId, dir]` of each tick, by tick */
  turns: Map<number, Array<[number, Dir]>>;
  /** known state hashes by tick */
  hashes: Map<number, number>;
  finalHash: number | null;
  /** the last tick of the game, when the replay says it */
  lastTick: number | null;
}

export class ReplayFormatError extends Error {
  constructor(readonly path: string, message: string) {
    super(`replay ${path}: ${message}`);
    this.name = 'ReplayFormatError';
  }
}

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function dirOf(value: unknown, path: string): Dir {
  if (isDir(value)) return value;
  if (typeof value === 'string') {
    const dir = dirFromName(value);
    if (dir !== null) return dir;
  }
  throw new ReplayFormatError(path, 'must be a direction (0..3 or up/right/down/left)');
}

function addTurn(turns: Replay['turns'], t: unknown, snakeId: unknown, dir: unknown, path: string): void {
  if (!isUint(t) || t < 1) throw new ReplayFormatError(path, 'tick must be an integer from 1');
  if (!isUint(snakeId)) throw new ReplayFormatError(path, 'snake id must be a non-negative integer');
  const list = turns.get(t) ?? [];
  list.push([snakeId, dirOf(dir, path)]);
  turns.set(t, list);
}

/**
 * Reads the replay JSON. The assumed shape is `{v, gameId, settings, seed, players: [{userId, name, snakeId}],
 * turns: [[t, snakeId, dir], ...], hashes: [[t, hash], ...], finalHash, ticks}` where `ticks` is the number of
 * ticks played. Also read: `ticks` as the turns per tick (`[[snakeId, dir], ...]` for tick i+1, or
 * `{t, turns}` entries), and `hashes` as a plain list (the hash after creation, then after every step).
 */
export function parseReplay(json: unknown): Replay {
  if (!isMap(json)) throw new ReplayFormatError('', 'must be a JSON object');
  const checked = validateSettings(json.settings, 'settings');
  if (!checked.ok) throw new ReplayFormatError('settings', checked.error.message);
  if (!isUint(json.seed) || json.seed > 0xffffffff) throw new ReplayFormatError('seed', 'must be an unsigned 32-bit integer');

  const players: ReplayPlayerInfo[] = [];
  if (json.players !== undefined) {
    if (!Array.isArray(json.players)) throw new ReplayFormatError('players', 'must be an array');
    json.players.forEach((p: unknown, i) => {
      if (!isMap(p)) throw new ReplayFormatError(`players[${i}]`, 'must be an object');
      const snakeId = isUint(p.snakeId) ? p.snakeId : i;
      players.push({ userId: String(p.userId ?? ''), name: String(p.name ?? `snake ${snakeId}`), snakeId });
    });
  }
  players.sort((a, b) => a.snakeId - b.snakeId);
  const settings = { ...checked.settings, players: players.length > 0 ? players.length : checked.settings.players };

  const turns: Replay['turns'] = new Map();
  if (Array.isArray(json.turns)) {
    json.turns.forEach((turn: unknown, i) => {
      if (!Array.isArray(turn) || turn.length !== 3) throw new ReplayFormatError(`turns[${i}]`, 'must be [t, snakeId, dir]');
      addTurn(turns, turn[0], turn[1], turn[2], `turns[${i}]`);
    });
  }
  let lastTick: number | null = null;
  if (isUint(json.ticks)) {
    lastTick = json.ticks;
  } else if (Array.isArray(json.ticks)) {
    lastTick = json.ticks.length;
    json.ticks.forEach((entry: unknown, i) => {
      const path = `ticks[${i}]`;
      const t = isMap(entry) ? entry.t : i + 1;
      const list = isMap(entry) ? entry.turns : entry;
      if (!Array.isArray(list)) throw new ReplayFormatError(path, 'must hold the turns [[snakeId, dir], ...] of a tick');
      if (isUint(t)) lastTick = Math.max(lastTick ?? 0, t);
      list.forEach((turn: unknown, k) => {
        if (!Array.isArray(turn) || turn.length !== 2) throw new ReplayFormatError(`${path}[${k}]`, 'must be [snakeId, dir]');
        addTurn(turns, t, turn[0], turn[1], `${path}[${k}]`);
      });
    });
  }

  const hashes = new Map<number, number>();
  if (Array.isArray(json.hashes)) {
    json.hashes.forEach((entry: unknown, i) => {
      if (Array.isArray(entry) && entry.length === 2 && isUint(entry[0]) && isUint(entry[1])) hashes.set(entry[0], entry[1]);
      else if (isUint(entry)) hashes.set(i, entry);
      else throw new ReplayFormatError(`hashes[${i}]`, 'must be [t, hash] or a hash');
    });
  }
  const finalHash = isUint(json.finalHash) ? json.finalHash : null;
  return {
    gameId: typeof json.gameId === 'string' ? json.gameId : '',
    settings,
    seed: json.seed,
    players,
    turns,
    hashes,
    finalHash,
    lastTick,
  };
}

/** Where a game's record is: its `status` says whether it is over, and so whether its replay can be there. */
export function gameUrl(gameId: string): string {
  return `/api/games/${encodeURIComponent(gameId)}`;
}

/** Where a replay's URL is. */
export function replayUrl(gameId: string): string {
  return `${gameUrl(gameId)}/replay?format=json`;
}

const KEYFRAME_EVERY = 100;

/** Steps a replay forward and back (back by rebuilding from the nearest keyframe) and checks the known hashes. */
export class ReplayPlayer {
  readonly replay: Replay;
  /** the first tick whose hash differed from the replay's, or null */
  firstMismatch: number | null = null;
  private game: Game;
  private readonly keyframes = new Map<number, Game>();
  private readonly names: string[];
  private prev: GameSnapshot | null = null;
  private _frame: Frame;

  constructor(replay: Replay, now = 0) {
    this.replay = replay;
    this.game = Game.create(replay.settings, replay.seed, replay.settings.players);
    this.keyframes.set(0, this.game.clone());
    this.names = Array.from({ length: replay.settings.players }, (_, i) => replay.players.find((p) => p.snakeId === i)?.name ?? `snake ${i}`);
    this.check();
    this._frame = frameOf(this.game, this.names, null, now);
  }

  get tick(): number { return this.game.tick; }
  get frame(): Frame { return this._frame; }
  get hash(): number { return this.game.hash(); }

  /** The last tick: the replay's own count, else where the game completes (known once reached). */
  get end(): number | null { return this.replay.lastTick; }

  get atEnd(): boolean {
    return this.game.status === 'complete' || (this.replay.lastTick !== null && this.game.tick >= this.replay.lastTick);
  }

  /** Whether the replayed game reached the replay's final hash (null until the end). */
  get verified(): boolean | null {
    if (!this.atEnd) return null;
    if (this.firstMismatch !== null) return false;
    return this.replay.finalHash === null ? true : this.game.hash() === this.replay.finalHash;
  }

  /** One tick forward; false at the end. */
  step(now = 0): boolean {
    if (this.atEnd) return false;
    this.advance();
    this._frame = frameOf(this.game, this.names, this.prev, now);
    return true;
  }

  /** Jumps to tick `t` (clamped to the game), without interpolation. */
  seek(t: number, now = 0): void {
    const target = Math.max(0, Math.floor(t));
    if (target < this.game.tick) {
      let from = 0;
      for (const k of this.keyframes.keys()) if (k <= target && k > from) from = k;
      this.game = this.keyframes.get(from)!.clone();
    }
    this.prev = null;
    while (this.game.tick < target && !this.atEnd) this.advance();
    this._frame = frameOf(this.game, this.names, null, now);
  }

  private advance(): void {
    const t = this.game.tick + 1;
    for (const [snakeId, dir] of this.replay.turns.get(t) ?? []) {
      if (snakeId < this.game.snakeCount) this.game.queueTurn(snakeId, dir, t);
    }
    this.prev = this.game.snapshot();
    this.game.step();
    if (this.game.tick % KEYFRAME_EVERY === 0 && !this.keyframes.has(this.game.tick)) {
      this.keyframes.set(this.game.tick, this.game.clone());
    }
    this.check();
  }

  private check(): void {
    const expected = this.replay.hashes.get(this.game.tick);
    if (expected !== undefined && expected !== this.game.hash() && this.firstMismatch === null) {
      this.firstMismatch = this.game.tick;
    }
  }
}

/**
 * Playback time: at `speed`× a replay takes one step every `tickMs / speed`. `advance` says how many steps are due
 * at `now`, and the step time it keeps is the frame's `steppedAt`, so interpolation runs at the playback speed.
 */
export class ReplayClock {
  playing = false;
  speed = 1;
  private lastStepAt = 0;

  constructor(readonly tickMs: number) {}

  get stepMs(): number { return this.tickMs / this.speed; }

  play(now: number): void {
    this.playing = true;
    this.lastStepAt = now;
  }

  pause(): void { this.playing = false; }

  setSpeed(speed: number, now: number): void {
    // Keep the progress into the current step when the speed changes.
    const progress = this.playing ? Math.min(1, (now - this.lastStepAt) / this.stepMs) : 0;
    this.speed = speed;
    if (this.playing) this.lastStepAt = now - progress * this.stepMs;
  }

  /** The steps due at `now` (at most `max`, so a hidden tab does not run a long catch-up at once). */
  due(now: number, max = 10): number {
    if (!this.playing) return 0;
    const steps = Math.floor((now - this.lastStepAt) / this.stepMs);
    if (steps <= 0) return 0;
    this.lastStepAt = steps > max ? now : this.lastStepAt + steps * this.stepMs;
    return Math.min(steps, max);
  }

  /** When the latest due step happened, for interpolation. */
  get steppedAt(): number { return this.lastStepAt; }
}
