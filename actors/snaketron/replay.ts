// Replays: everything needed to watch a finished game again and to check it: settings, seed, players, the
// effective turns of every tick, and the state hash every 100 ticks and at the end.
import { Packr } from 'msgpackr';
import { Game, isDir, type Dir } from '../../protocol/engine.ts';
import { validateSettings, type Settings } from '../../protocol/settings.ts';

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

/** A replay that cannot be read: `path` names the field (`replay.turns[3][2]`), the message says what was expected. */
export class ReplayFormatError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = 'ReplayFormatError';
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isU32 = (v: unknown): v is number => isInt(v) && v >= 0 && v <= 0xffffffff;

/**
 * Checks a replay from an untrusted source (a file, an export edited by hand) field by field, so that verifying
 * or playing it can only disagree with its hashes, never crash; throws a ReplayFormatError naming the field.
 */
export function checkReplayShape(value: unknown): Replay {
  const fail = (path: string, expected: string): never => {
    throw new ReplayFormatError(path, `${path} must be ${expected}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('replay', 'a map');
  const r = value as Record<string, unknown>;
  if (r.v !== REPLAY_VERSION) fail('replay.v', `${REPLAY_VERSION} (this tool reads replays of version ${REPLAY_VERSION})`);
  if (typeof r.gameId !== 'string' || r.gameId.length === 0) fail('replay.gameId', 'a non-empty string');
  if (!isU32(r.seed)) fail('replay.seed', 'an unsigned 32-bit integer');
  if (!Array.isArray(r.players) || r.players.length === 0) fail('replay.players', 'a non-empty list');
  const players = r.players as unknown[];
  players.forEach((p, i) => {
    const player = p as Record<string, unknown> | null;
    if (typeof player !== 'object' || player === null) fail(`replay.players[${i}]`, 'a map {userId, name, snakeId}');
    if (typeof player!.userId !== 'string' || typeof player!.name !== 'string') fail(`replay.players[${i}]`, 'a player with string userId and name');
    if (player!.snakeId !== i) fail(`replay.players[${i}].snakeId`, String(i));
  });
  const checked = validateSettings(r.settings, 'replay.settings');
  if (!checked.ok) throw new ReplayFormatError(checked.error.path, checked.error.message);
  if (checked.settings.players !== players.length) fail('replay.settings.players', `the number of players (${players.length})`);
  if (!isInt(r.ticks) || r.ticks < 0) fail('replay.ticks', 'a tick count (an integer >= 0)');
  const ticks = r.ticks as number;
  if (!Array.isArray(r.turns)) fail('replay.turns', 'a list of [t, snakeId, dir]');
  (r.turns as unknown[]).forEach((turn, k) => {
    if (!Array.isArray(turn) || turn.length !== 3) fail(`replay.turns[${k}]`, '[t, snakeId, dir]');
    const [t, snakeId, dir] = turn as unknown[];
    if (!isInt(t) || t < 1) fail(`replay.turns[${k}][0]`, 'a tick (an integer >= 1)');
    if (!isInt(snakeId) || snakeId < 0 || snakeId >= players.length) fail(`replay.turns[${k}][1]`, `a snake id 0..${players.length - 1}`);
    if (!isDir(dir)) fail(`replay.turns[${k}][2]`, 'a direction code 0..3 (up, right, down, left)');
  });
  if (!Array.isArray(r.hashes) || r.hashes.length === 0) fail('replay.hashes', 'a non-empty list of [t, hash]');
  (r.hashes as unknown[]).forEach((entry, k) => {
    if (!Array.isArray(entry) || entry.length !== 2) fail(`replay.hashes[${k}]`, '[t, hash]');
    const [t, hash] = entry as unknown[];
    if (!isInt(t) || t < 0 || t > ticks) fail(`replay.hashes[${k}][0]`, `a tick 0..${ticks}`);
    if (!isU32(hash)) fail(`replay.hashes[${k}][1]`, 'an unsigned 32-bit hash');
  });
  if (!isU32(r.finalHash)) fail('replay.finalHash', 'an unsigned 32-bit hash');
  if (r.winner !== null && (!isInt(r.winner) || r.winner < 0 || r.winner >= players.length)) fail('replay.winner', 'a snake id or null');
  if (r.winningTeam !== null && r.winningTeam !== 0 && r.winningTeam !== 1) fail('replay.winningTeam', '0, 1 or null');
  try {
    Game.create(checked.settings, r.seed as number, players.length);
  } catch (err) {
    throw new ReplayFormatError('replay.settings', (err as Error).message);
  }
  return { ...(r as unknown as Replay), settings: checked.settings };
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
  // in tick order (stable), so a replay whose turns were reordered still applies each at its tick
  const turns = replay.turns.map((turn, k) => ({ turn, k })).sort((a, b) => a.turn[0] - b.turn[0] || a.k - b.k).map((x) => x.turn);
  let i = 0;
  for (let t = 1; t <= replay.ticks; t++) {
    while (i < turns.length && turns[i][0] < t) i++;
    while (i < turns.length && turns[i][0] === t) {
      const [, snakeId, dir] = turns[i++];
      if (game.isAlive(snakeId)) game.queueTurn(snakeId, dir, t);
    }
    game.step();
    onTick?.(game);
    const bad = check(t);
    if (bad) return bad;
  }
  return { ok: true, checked };
}
