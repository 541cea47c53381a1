// The SnakeTron game as an actor: a game's life (created, lobby, countdown, running, complete or failed) driven
// by its mailbox inputs and its clock, with the engine of protocol/engine.ts doing every step.
import { Packr } from 'msgpackr';
import { decodeGame, encodeGame, Game, type Cell, type Dir, type PlayerResult } from '../../protocol/engine.ts';
import type { Settings } from '../../protocol/settings.ts';
import type { ActorContext, ActorType, TickSchedule } from '../../runtime/actor.ts';

export const GAME_ACTOR = 'snaketron.game';
const STATE_VERSION = 1;

/** `closed`: a private lobby everyone left, ended without being played (its code joins nothing any more). */
export type GamePhase = 'lobby' | 'countdown' | 'running' | 'complete' | 'failed' | 'closed';

export interface Seat {
  userId: string;
  name: string;
  snakeId: number;
}

/** The create input: the GameCreated record. Matchmade and solo games start at once; lobbies wait for `start`. */
export interface CreateGame {
  settings: Settings;
  seed: number;
  players: Array<{ userId: string; name: string }>;
  /** start right away with this countdown (ms); absent: a lobby that waits for its host's `start` */
  countdownMs?: number;
  host?: string;
  code?: string;
}

export type GameInput =
  | { k: 'join'; userId: string; name: string }
  | { k: 'leave'; userId: string }
  | { k: 'start'; userId: string; countdownMs: number }
  | { k: 'turn'; snakeId: number; dir: Dir; t: number };

/** What a game's journal records show observers (the WebSocket nodes, the replay writer). */
export type GameOutput =
  // host: absent in records journaled before lobby outputs carried it; closed: its last player left, and it ended
  | { e: 'lobby'; players: Seat[]; host?: string | null; closed?: true }
  // players: at a start, the seats the game starts with (a private game's settings said how many it could seat)
  | { e: 'status'; status: GamePhase; startAt: number | null; reason?: string; players?: number }
  | { e: 'tick'; t: number; turns: Array<[number, Dir]>; died: number[]; food: Cell | null; hash: number; over?: GameOver };

export interface GameOver {
  winner: number | null;
  winningTeam: number | null;
  results: PlayerResult[];
}

export interface GameState {
  gameId: string;
  settings: Settings;
  seed: number;
  phase: GamePhase;
  seats: Seat[];
  host: string | null;
  code: string | null;
  startAt: number | null;
  createdAt: number;
  game: Game | null;
  reason: string | null;
}

/**
 * How far a game's first step may fall from the end of its countdown (PROTOCOL.md: 1500 ms multiplayer, 500 ms
 * solo), as a share of the countdown either way. The step lands on the nearest instant of the partition's tick
 * grid, made just fine enough: a duel's (150 ms ticks) has one instant a tick, so one commit serves all of a
 * partition's games; a solo game's has three.
 */
const START_TOLERANCE = 0.05;

function start(state: GameState, countdownMs: number, ctx: ActorContext): GameOutput {
  const settings = { ...state.settings, players: state.seats.length };
  state.game = Game.create(settings, state.seed, state.seats.length);
  state.phase = 'countdown';
  const precision = Math.max(1, Math.floor(2 * START_TOLERANCE * countdownMs));
  state.startAt = ctx.align(ctx.now + countdownMs - Math.floor(precision / 2), settings.tickMs, precision);
  return { e: 'status', status: 'running', startAt: state.startAt, players: state.seats.length };
}

const packr = new Packr({ useRecords: false, variableMapSize: true });

export const gameActor: ActorType<GameState, GameOutput> = {
  type: GAME_ACTOR,

  create(init: unknown, ctx: ActorContext): GameState {
    const c = init as CreateGame;
    if (!c || typeof c.seed !== 'number' || !Array.isArray(c.players) || !c.settings) {
      throw new Error('a game needs settings, a seed and players');
    }
    const state: GameState = {
      gameId: ctx.actorId,
      settings: c.settings,
      seed: c.seed >>> 0,
      phase: 'lobby',
      seats: c.players.map((p, snakeId) => ({ userId: p.userId, name: p.name, snakeId })),
      host: c.host ?? null,
      code: c.code ?? null,
      startAt: null,
      createdAt: ctx.now,
      game: null,
      reason: null,
    };
    if (c.countdownMs !== undefined) start(state, c.countdownMs, ctx);
    return state;
  },

  handle(state: GameState, input: unknown, ctx: ActorContext): GameOutput | undefined {
    const i = input as GameInput;
    switch (i.k) {
      case 'join':
        if (state.phase !== 'lobby' || state.seats.length >= state.settings.players) return undefined;
        if (state.seats.some((s) => s.userId === i.userId)) return undefined;
        state.seats.push({ userId: i.userId, name: i.name, snakeId: state.seats.length });
        // a lobby everyone left before lobbies closed has no host: the first to join it again is
        if (state.host === null) state.host = i.userId;
        return { e: 'lobby', players: state.seats.map((s) => ({ ...s })), host: state.host };
      case 'leave': {
        if (state.phase !== 'lobby') return undefined; // a running game goes on (GAME.md)
        const before = state.seats.length;
        state.seats = state.seats.filter((s) => s.userId !== i.userId).map((s, snakeId) => ({ ...s, snakeId }));
        if (state.seats.length === before) return undefined;
        if (state.host === i.userId) state.host = state.seats[0]?.userId ?? null;
        if (state.seats.length === 0) {
          // nobody is left to start it or to share its code: it ends, rather than wait for ever
          state.phase = 'closed';
          return { e: 'lobby', players: [], host: null, closed: true };
        }
        return { e: 'lobby', players: state.seats.map((s) => ({ ...s })), host: state.host };
      }
      case 'start':
        if (state.phase !== 'lobby' || state.host !== i.userId || state.seats.length === 0) return undefined;
        return start(state, i.countdownMs, ctx);
      case 'turn':
        if (!state.game || state.game.status !== 'running') return undefined;
        if (!Number.isInteger(i.snakeId) || i.snakeId < 0 || i.snakeId >= state.game.snakeCount) return undefined;
        if (!state.game.isAlive(i.snakeId) || !(i.dir >= 0 && i.dir <= 3)) return undefined;
        state.game.queueTurn(i.snakeId, i.dir, Math.max(i.t, state.game.tick + 1));
        return undefined;
      default:
        throw new Error(`unknown game input ${JSON.stringify((input as { k?: unknown })?.k)}`);
    }
  },

  tick(state: GameState): GameOutput {
    const game = state.game;
    if (!game) throw new Error(`game ${state.gameId} ticked before it started`);
    state.phase = 'running';
    const events = game.step();
    const out: GameOutput = { e: 'tick', t: events.t, turns: events.turns, died: events.died, food: events.food, hash: game.hash() };
    if (game.status === 'complete') {
      state.phase = 'complete';
      out.over = { winner: game.winner, winningTeam: game.winningTeam, results: game.results() };
    }
    return out;
  },

  schedule(state: GameState): TickSchedule | null {
    if ((state.phase !== 'countdown' && state.phase !== 'running') || state.startAt === null) return null;
    return { tickMs: state.settings.tickMs, startAt: state.startAt };
  },

  tickOf(state: GameState): number {
    return state.game?.tick ?? 0;
  },

  isFinished(state: GameState): boolean {
    return state.phase === 'complete' || state.phase === 'failed' || state.phase === 'closed';
  },

  fail(state: GameState, reason: string): GameOutput {
    state.phase = 'failed';
    state.reason = reason;
    return { e: 'status', status: 'failed', startAt: state.startAt, reason };
  },

  encode(state: GameState): Uint8Array {
    const { game, ...meta } = state;
    return packr.pack({ v: STATE_VERSION, meta, game: game ? encodeGame(game) : null });
  },

  decode(bytes: Uint8Array): GameState {
    const value = packr.unpack(bytes) as { v: number; meta: Omit<GameState, 'game'>; game: Uint8Array | null };
    if (value?.v !== STATE_VERSION) throw new Error(`game state of unknown version ${String(value?.v)}`);
    return { ...value.meta, game: value.game ? decodeGame(value.game) : null };
  },
};

export const actorTypes = [gameActor];
