// The duel room's messages: SnakeTron's own (/work/shared/spec/PROTOCOL.md), carried as Colyseus room messages.
// Colyseus encodes each one as msgpack after its type name, as SnakeTron encodes its frames, and a broadcast is
// encoded once for both players, as SnakeTron's fan-out does. The one addition is `ts` on `tick`: the server's
// wall clock when it sent the tick, for measuring delivery (see `wallClockMs`).

import type { Cell, Dir, DirName, GameSnapshot, PlayerResult } from '../../protocol/engine.ts';

export const ROOM_NAME = 'duel';

/** PROTOCOL.md "Game flow": the countdown between the match and step 1 of a multiplayer game. */
export const COUNTDOWN_MS = 1500;
/** PROTOCOL.md `turn`: how far ahead a turn may be asked for, and how many may wait for one snake. */
export const MAX_TURN_AHEAD = 64;
export const MAX_QUEUED_TURNS = 8;

export interface SnapshotMessage {
  gameId: string;
  role: 'player';
  snakeId: number;
  tickMs: number;
  /** server wall clock (ms) of step 1 */
  startAt: number;
  state: GameSnapshot;
}

export interface TickMessage {
  gameId: string;
  t: number;
  turns: Array<[number, Dir]>;
  died: number[];
  food: Cell | null;
  hash: number;
  /** `wallClockMs()` on the server just before the broadcast */
  ts: number;
}

export interface TurnMessage { dir: DirName; seq: number; t?: number }
export interface AckMessage { seq: number; t: number }

export interface OverMessage {
  gameId: string;
  t: number;
  winner: number | null;
  results: PlayerResult[];
}

export interface ErrorMessage { code: 'bad_message' | 'bad_state' | 'too_far' | 'queue_full'; message: string }

/** The type names each side sends, as Colyseus sees them. */
export interface ServerMessages { snapshot: SnapshotMessage; tick: TickMessage; ack: AckMessage; over: OverMessage; error: ErrorMessage }
export interface ClientMessages { turn: TurnMessage }

/**
 * Wall-clock milliseconds with a fractional part. Both ends of the measurement run on this machine, so the server's
 * `ts` and the client's receive time read one clock; `Date.now()` alone would round every sample to whole
 * milliseconds, coarser than the latencies measured.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
