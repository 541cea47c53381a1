// Tug of war: a second game on the runtime, small enough to read in one sitting, and the model for writing one.
// Two sides pull a rope; each tick moves it by the pulls since the tick before; the side that drags it `length`
// steps its way wins. The runtime knows neither this game nor SnakeTron: it hosts any ActorType.
import { Packr } from 'msgpackr';
import type { ActorContext, ActorType, TickSchedule } from '../../runtime/actor.ts';

export const TUG_OF_WAR = 'tug-of-war';

export type Side = 'left' | 'right';

/** The create input (`runtime.create(TUG_OF_WAR, id, init)`). */
export interface TugCreate {
  /** ms between ticks, 20..1000 (default 100) */
  tickMs?: number;
  /** how far from the middle the rope must go to win, 1..1000 (default 10) */
  length?: number;
  /** ms from creation to the first tick, 0..60,000 (default 0) */
  startInMs?: number;
}

/** An input (`runtime.submit(id, input)`): a pull by a player. */
export interface TugPull {
  pull: Side;
  by: string;
}

/** What observers read in the journal records' `o`. */
export type TugOutput =
  | { e: 'pulled'; by: string; pull: Side }
  | { e: 'refused'; reason: string }
  | { e: 'tick'; t: number; rope: number; winner: Side | null }
  | { e: 'failed'; reason: string };

export interface TugState {
  tickMs: number;
  length: number;
  startAt: number;
  tick: number;
  /** where the rope is: negative toward the left side */
  rope: number;
  /** the pulls since the last tick, summed (right +1, left −1) */
  pending: number;
  winner: Side | null;
  failed: string | null;
}

function setting(init: TugCreate, field: keyof TugCreate, fallback: number, min: number, max: number): number {
  const value = init[field] ?? fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${field} must be an integer between ${min} and ${max}`);
  return value;
}

// records as plain maps, so a state reads the same to any msgpack decoder
const packr = new Packr({ useRecords: false });

export const tugOfWar: ActorType<TugState, TugOutput> = {
  type: TUG_OF_WAR,

  // a throw here refuses the create: it is dead-lettered with the message
  create(init: unknown, ctx: ActorContext): TugState {
    const given = (init ?? {}) as TugCreate;
    const tickMs = setting(given, 'tickMs', 100, 20, 1000);
    return {
      tickMs,
      length: setting(given, 'length', 10, 1, 1000),
      startAt: ctx.align(ctx.now + setting(given, 'startInMs', 0, 0, 60_000), tickMs),
      tick: 0, rope: 0, pending: 0, winner: null, failed: null,
    };
  },

  // a bad input is refused with an output, not thrown: a throw is for bugs (the actor is rebuilt each time)
  handle(state: TugState, input: unknown): TugOutput {
    const pull = input as Partial<TugPull> | null;
    if (pull?.pull !== 'left' && pull?.pull !== 'right') return { e: 'refused', reason: 'pull must be left or right' };
    if (typeof pull.by !== 'string') return { e: 'refused', reason: 'by must name the player' };
    state.pending += pull.pull === 'right' ? 1 : -1;
    return { e: 'pulled', by: pull.by, pull: pull.pull };
  },

  tick(state: TugState): TugOutput {
    state.tick++;
    state.rope = Math.max(-state.length, Math.min(state.length, state.rope + state.pending));
    state.pending = 0;
    if (Math.abs(state.rope) === state.length) state.winner = state.rope > 0 ? 'right' : 'left';
    return { e: 'tick', t: state.tick, rope: state.rope, winner: state.winner };
  },

  schedule(state: TugState): TickSchedule | null {
    return tugOfWar.isFinished(state) ? null : { tickMs: state.tickMs, startAt: state.startAt };
  },

  tickOf: (state) => state.tick,

  // once finished, the actor is checkpointed one last time and unloaded; later inputs are dead-lettered
  isFinished: (state) => state.winner !== null || state.failed !== null,

  fail(state: TugState, reason: string): TugOutput {
    state.failed = reason;
    return { e: 'failed', reason };
  },

  encode: (state) => packr.pack(state),
  decode: (bytes) => packr.unpack(bytes) as TugState,
};

export const actorTypes = [tugOfWar];
