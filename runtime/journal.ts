// Reading and replaying the journal (the outbox): how an actor is rebuilt from a checkpoint, and how a reader
// keeps an exact replica of an actor.
import type { ActorContext, ActorType } from './actor.ts';
import { BusyBoard } from './busy-board.ts';
import type { Keys } from './keys.ts';
import { decodeBatch, type JournalBatch, type JournalRecord } from './records.ts';
import type { RedisClient } from './redis.ts';

/**
 * How many phases a tick period has. Partitions in the same phase come due together, so one worker's commits go to
 * Redis in one write and a fan-out reads them back in one reply; different phases spread a node's work over the
 * period, so no client waits for the work of all the games. The fan-out applies and sends a reply's games one after
 * another, so the last game of a phase waits for all the others: the more phases, the fewer games each reply holds.
 * Measured with 2,000 duel players on one node with 32 partitions and one worker (2 cores, 2026-11-28, probe runs
 * of bench/e2e.ts's kind, two drivers each): tick delivery p99 21.0–25.0 ms with 8 phases, 16.6–17.4 with 16 and
 * 12.5–14.9 with 32; turn→ack p99 29–32, 28–29 and 17–18 ms; the node's main thread 41–42% of a core with each,
 * its worker 14.0% with 8 and 16.1% with 32 (a commit per partition instead of one per four). (On 2026-11-26, at
 * 1,000 players and another design of the fan-out, 32 phases had cost 10–15 points of node CPU more than 8.) Every
 * node must use the same grid: a replica aligns a game's start with it.
 */
export const TICK_PHASES = 32;

/** The phase (0 to TICK_PHASES − 1) at which a partition ticks: partitions of one phase come due together. */
export function tickPhase(partition: number, partitions: number): number {
  return partition % Math.min(partitions, TICK_PHASES);
}

/**
 * A partition's tick grid: partition p ticks at phase (p mod the phases) of each period and, on a finer grid of
 * `slots` instants a period, at the phase plus floor(j · period / slots) for j < slots.
 */
export function tickGrid(partition: number, partitions: number): ActorContext['align'] {
  const phases = Math.min(partitions, TICK_PHASES);
  return (t, periodMs, precisionMs = periodMs) => {
    const phase = Math.floor((tickPhase(partition, partitions) * periodMs) / phases);
    const slots = Math.max(1, Math.ceil(periodMs / Math.max(1, precisionMs)));
    const offset = (((t - phase) % periodMs) + periodMs) % periodMs; // t's distance past the last phase instant
    const slotStart = (j: number) => Math.floor((j * periodMs) / slots); // slot `slots` is the next period's first
    // the first slot whose start is at or after `offset` (one further when a fractional `t` falls inside a slot's ms)
    let j = Math.ceil((offset * slots) / periodMs);
    if (slotStart(j) < offset) j++;
    return t - offset + slotStart(j);
  };
}

/**
 * When an actor's next tick is due, after its tick due at `due` ran at `now`: a tick later, or, when that has passed
 * too (the owner fell a whole tick or more behind), the grid's next instant, with no burst of ticks to catch up.
 */
export function nextTickDue(due: number, now: number, tickMs: number, align: ActorContext['align']): number {
  const next = due + tickMs;
  return next > now ? next : align(now + 1, tickMs);
}

/** Applies one journal record to an actor's state, exactly as the owner did when it produced the record. */
export function applyRecord<S>(type: ActorType<S>, state: S | undefined, record: JournalRecord, align: ActorContext['align'],
  outputs?: unknown[]): S {
  const ctx: ActorContext = { actorId: record.a, now: record.at, align };
  let next = state;
  if (record.c) next = type.create(record.c.b, ctx);
  if (next === undefined) throw new Error(`journal record ${record.n} of ${record.a} comes before its create`);
  for (const input of record.i ?? []) {
    const output = type.handle(next, input.b, ctx);
    if (output !== undefined) outputs?.push(output);
  }
  if (record.t !== undefined) {
    const output = type.tick(next, ctx); // not inside outputs?.push(…), which skips the call when there are none
    outputs?.push(output);
    const reached = type.tickOf(next);
    if (reached !== record.t) throw new Error(`replay of ${record.a} reached tick ${reached}, the journal says ${record.t}`);
  }
  if (record.f !== undefined) {
    const output = type.fail(next, record.f, ctx);
    if (output !== undefined) outputs?.push(output);
  }
  return next;
}

/**
 * The output that handling an input put out, found by the input's id in its actor's mailbox (what submit resolved
 * with); undefined when the record does not hold that input or the input put out nothing.
 */
export function outputOf(record: JournalRecord, inputId: string): unknown {
  const input = record.i?.find((i) => i.s === inputId);
  return input?.o === undefined ? undefined : record.o?.[input.o];
}

export interface OutboxEntry {
  id: string;
  batch: JournalBatch;
}

/**
 * Outbox entries with ids after `afterId` (exclusive; `-` for all), oldest first, in pages. `fromMs` reads from a
 * time instead (inclusive): an entry committed after an input was stored has an id of that time or later.
 */
export async function* readOutbox(redis: RedisClient, keys: Keys, partition: number, afterId = '-', page = 200, fromMs?: number): AsyncGenerator<OutboxEntry> {
  let start = fromMs !== undefined ? `${fromMs}-0` : afterId === '-' ? '-' : `(${afterId}`;
  for (;;) {
    const entries = await redis.xrangeBuffer(keys.outbox(partition), start, '+', 'COUNT', page);
    for (const [idBuf, fields] of entries) {
      const id = idBuf.toString();
      yield { id, batch: decodeBatch(fieldValue(fields, 'd')) };
    }
    if (entries.length < page) return;
    start = `(${entries[entries.length - 1][0].toString()}`;
  }
}

export function fieldValue(fields: Buffer[], name: string): Buffer {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i].toString() === name) return fields[i + 1];
  }
  throw new Error(`stream entry has no field ${name}`);
}

/** The journal skips records of an actor after the base it is rebuilt from (they were trimmed). */
export class JournalGapError extends Error {
  constructor(readonly actorId: string, readonly have: number, readonly got: number) {
    super(`journal of ${actorId} jumps from record ${have} to ${got}`);
    this.name = 'JournalGapError';
  }
}

/** The actor code could not rebuild a state: its checkpoint did not decode, or a record's replay threw or disagreed. */
export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayError';
  }
}

/**
 * Rebuilds one actor from a base (checkpoint) and the journal after it, read from `base.outboxId` on, or from the
 * time `fromMs` when given. Also says the mailbox id of the last input applied ('' when none was). Throws
 * JournalGapError when the journal skips a record, ReplayError when the actor's code throws on one.
 */
export async function rebuildActor<S>(
  redis: RedisClient, keys: Keys, partition: number, type: ActorType<S>, actorId: string,
  base: { state: S | undefined; seq: number; outboxId: string }, align: ActorContext['align'], fromMs?: number, busy?: BusyBoard,
): Promise<{ state: S | undefined; seq: number; lastInput: string }> {
  let state = base.state;
  let seq = base.seq;
  let lastInput = '';
  const busyId = busy ? BusyBoard.idOf(actorId) : null;
  for await (const entry of readOutbox(redis, keys, partition, base.outboxId, 200, fromMs)) {
    for (const record of entry.batch.records) {
      if (record.a !== actorId || record.n <= seq) continue;
      if (record.n !== seq + 1) throw new JournalGapError(actorId, seq, record.n);
      if (busyId) busy!.enter('replay', partition, busyId);
      try {
        state = applyRecord(type, state, record, align);
      } catch (err) {
        throw new ReplayError(`the replay of journal record ${record.n} of ${actorId} threw: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        busy?.leave();
      }
      seq = record.n;
      if (record.i?.length) lastInput = record.i[record.i.length - 1].s;
    }
  }
  return { state, seq, lastInput };
}
