// Replays: everything needed to watch a finished game again and to check it: settings, seed, players, the
// effective turns of every tick, and the state hash every 100 ticks and at the end.
import { Packr } from 'msgpackr';
import { Game, type Dir } from '../../protocol/engine.ts';
import type { Settings } from '../../protocol/settings.ts';

export const REPLAY_VERSION = 1;
const HASH_EVERY = 100;
const packr = new Packr({ useRecords: false, variableMapSize: true });

export interface ReplayTick {
  t: number;
  turns: Array<[number, Dir]>;
  hash: number;
}

export interface Replay {
  v: typeof REPLAY_VERSION;
  gameId: string;
  settings: Settings;
  seed: number;
  players: Array<{ userId: string; name: string; snakeId: number }>;
  /** `[t, snakeId, dir]`: the turns that took effect at tick t */
  turns: Array<[number, number, Dir]>;
  /** `[t, hash]` at tick 0, every 100 ticks, and the last tick */
  hashes: Array<[number, number]>;
  finalHash: number;
  ticks: number;
  winner: number | null;
  winningTeam: number | null;
}

export function buildReplay(game: {
  gameId: string; settings: Settings; seed: number; players: Replay['players']; ticks: ReplayTick[];
  winner: number | null; winningTeam: number | null;
}): Replay {
  const byTick = new Map<number, ReplayTick>();
  for (const tick of game.ticks) byTick.set(tick.t, tick);
  const last = Math.max(0, ...byTick.keys());
  const turns: Replay['turns'] = [];
  const hashes: Replay['hashes'] = [[0, Game.create(game.settings, game.seed, game.players.length).hash()]];
  for (let t = 1; t <= last; t++) {
    const tick = byTick.get(t);
    if (!tick) throw new Error(`replay of ${game.gameId} misses tick ${t}`);
    for (const [snakeId, dir] of tick.turns) turns.push([t, snakeId, dir]);
    if (t % HASH_EVERY === 0 || t === last) hashes.push([t, tick.hash]);
  }
  return {
    v: REPLAY_VERSION, gameId: game.gameId, settings: game.settings, seed: game.seed, players: game.players,
    turns, hashes, finalHash: byTick.get(last)?.hash ?? hashes[0][1], ticks: last, winner: game.winner, winningTeam: game.winningTeam,
  };
}

export function encodeReplay(replay: Replay): Uint8Array {
  return packr.pack(replay);
}

export function decodeReplay(bytes: Uint8Array): Replay {
  const replay = packr.unpack(bytes) as Replay;
  return checkReplayShape(replay);
}

export function checkReplayShape(value: unknown): Replay {
  const r = value as Replay;
  if (!r || typeof r !== 'object' || r.v !== REPLAY_VERSION) throw new Error(`not a replay of version ${REPLAY_VERSION}`);
  if (!Array.isArray(r.turns) || !Array.isArray(r.hashes) || !Array.isArray(r.players) || typeof r.ticks !== 'number') {
    throw new Error('replay is missing turns, hashes, players or ticks');
  }
  return r;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  /** the first tick whose hash differs, with both hashes */
  mismatch?: { t: number; expected: number; actual: number };
}

/** Re-simulates a replay with the engine and compares every stored hash. */
export function verifyReplay(replay: Replay, onTick?: (game: Game) => void): VerifyResult {
  const game = Game.create(replay.settings, replay.seed, replay.players.length);
  const expected = new Map(replay.hashes);
  expected.set(replay.ticks, replay.finalHash);
  let checked = 0;
  const check = (t: number): VerifyResult | null => {
    const want = expected.get(t);
    if (want === undefined) return null;
    checked++;
    const actual = game.hash();
    return actual === want ? null : { ok: false, checked, mismatch: { t, expected: want, actual } };
  };
  const bad0 = check(0);
  if (bad0) return bad0;
  let i = 0;
  for (let t = 1; t <= replay.ticks; t++) {
    while (i < replay.turns.length && replay.turns[i][0] === t) {
      const [, snakeId, dir] = replay.turns[i++];
      if (game.isAlive(snakeId)) game.queueTurn(snakeId, dir, t);
    }
    game.step();
    onTick?.(game);
    const bad = check(t);
    if (bad) return bad;
  }
  return { ok: true, checked };
}
