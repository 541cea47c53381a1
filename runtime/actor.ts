// The actor contract. The runtime hosts actors of any type; it knows nothing of games beyond this interface.
// An actor is deterministic: given the same inputs and `now` values it reaches the same state, so that a
// checkpoint plus a replay of the journal rebuilds it exactly.

/** What the runtime tells an actor about the moment a batch is processed. Recorded, so replays see the same. */
export interface ActorContext {
  readonly actorId: string;
  /** Wall-clock ms of the batch, as recorded in the journal. */
  readonly now: number;
  /**
   * The first instant at or after `t` on the tick grid of the actor's partition for ticks of `periodMs`, a grid
   * with instants at most `precisionMs` apart (default: one a period). Actors whose clocks start on the same
   * instant of the period tick together: one commit of their partition serves them all. A finer grid lets a
   * start come closer to the time an actor wants, and costs its partition up to periodMs / precisionMs commits a
   * period.
   */
  align(t: number, periodMs: number, precisionMs?: number): number;
}

/**
 * When an actor wants its ticks. `startAt` is the wall-clock ms of its first tick (after a countdown), read before
 * that tick only: make it with ctx.align. While the actor has no owner its clock stands still; the next owner, like
 * one that fell more than a tick behind, resumes at the grid's next instant without a burst of ticks to catch up.
 */
export interface TickSchedule {
  readonly tickMs: number;
  readonly startAt: number;
}

/**
 * An actor type. Its inputs and create input arrive as `unknown`: they are whatever a submitter stored in the
 * mailbox (msgpack), so the actor checks them. Its outputs are journaled the same way: plain data (objects, arrays,
 * strings, numbers, booleans, null, Uint8Array), which observers read back from the outbox.
 */
export interface ActorType<State = unknown, Output = unknown> {
  /** The name inputs use to create an actor of this type. */
  readonly type: string;
  /** A new actor from its create input. Throws to reject it (the create is dead-lettered after retries). */
  create(init: unknown, ctx: ActorContext): State;
  /**
   * Applies one input; may mutate `state`. Returns what observers should see of it, if anything. An input that
   * makes the actor throw three times, here or in the tick after it, is dead-lettered and skipped.
   */
  handle(state: State, input: unknown, ctx: ActorContext): Output | undefined;
  /**
   * Advances one tick; may mutate `state`. Returns the tick's output for observers. A throw restarts the actor
   * from its checkpoint and journal; a tick that throws three times with no input to blame ends it (see `fail`).
   */
  tick(state: State, ctx: ActorContext): Output;
  /** The actor's clock: null while it does not tick (waiting to start, or finished). */
  schedule(state: State): TickSchedule | null;
  /** The number of ticks executed so far (tick records are numbered 1..N). */
  tickOf(state: State): number;
  /** A finished actor is checkpointed one last time and unloaded. */
  isFinished(state: State): boolean;
  /** Ends an actor that cannot go on (its tick threw repeatedly) with a clear failed status. */
  fail(state: State, reason: string, ctx: ActorContext): Output | undefined;
  encode(state: State): Uint8Array;
  decode(bytes: Uint8Array): State;
}

/** What an actor type must implement: a worker refuses a module whose types lack any of these. */
export const ACTOR_METHODS = ['create', 'handle', 'tick', 'schedule', 'tickOf', 'isFinished', 'fail', 'encode', 'decode'] as const satisfies
  ReadonlyArray<keyof ActorType<unknown, unknown>>;

/** A module that hosts actors exports its types under this name; workers import it by URL. */
export interface ActorModule {
  readonly actorTypes: readonly ActorType[];
}
