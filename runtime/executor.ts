// A partition executor: the owner of one partition's actors. Runs in a worker thread. Each cycle reads the
// mailbox (fenced), hands inputs to actors, ticks the actors that are due, and commits the batch of journal
// records with one Lua script that also acknowledges the inputs it consumed. Checkpoints follow the commits.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ActorContext, ActorType, TickSchedule } from './actor.ts';
import { BusyBoard, type BusyWith } from './busy-board.ts';
import { CheckpointWriter } from './checkpoint-writer.ts';
import type { CheckpointStore } from './checkpoints.ts';
import {
  applyRecord, fieldValue, JournalGapError, nextTickDue, readOutbox, rebuildActor, ReplayError, tickGrid,
} from './journal.ts';
import { OWNER_GROUP, type Keys } from './keys.ts';
import { LatencyHistogram } from './histogram.ts';
import {
  compareStreamIds, decodeInput, encodeOutputs, encodeRecord, RECORD_VERSION, unstorable, type InputEnvelope, type JournalInput, type JournalRecord,
} from './records.ts';
import { runCommand, runCommandBuffer, type RedisClient } from './redis.ts';

export interface ExecutorConfig {
  readonly nodeId: string;
  readonly leaseMs: number;
  readonly checkpointTicks: number;
  /** how often an idle partition looks at its mailbox */
  readonly pollMs: number;
  /** how many times an input may make an actor throw before it is dead-lettered */
  readonly maxFailures: number;
  readonly readCount: number;
  /** the cluster's partition count: each partition ticks at its own phase of the tick period */
  readonly partitions: number;
  /** consumer groups created on the outbox at recovery (see RuntimeOptions.outboxGroups) */
  readonly outboxGroups: readonly string[];
  /** verify every Nth checkpoint of each actor against a replay (see RuntimeOptions.verifyReplays); 0: never */
  readonly verifyReplays: number;
}

export type ExecutorEvent =
  | { kind: 'lost'; partition: number; epoch: number; reason: string }
  | { kind: 'recovered'; partition: number; epoch: number; actors: number; ms: number }
  | { kind: 'actor-restarted'; partition: number; actorId: string; ms: number; reason: string }
  | { kind: 'dead-letter'; partition: number; actorId: string; inputId: string; error: string }
  | { kind: 'actor-failed'; partition: number; actorId: string; reason: string }
  | { kind: 'actor-parked'; partition: number; actorId: string; reason: string }
  | { kind: 'replay-mismatch'; partition: number; actorId: string; reason: string };

interface InboxEntry {
  id: string;
  env: InputEnvelope;
}

/** The last checkpoint taken of an actor (it may still be on its way to Postgres). */
interface Base {
  bytes: Uint8Array;
  seq: number;
  tick: number;
  outboxId: string;
  /** when it was taken (or loaded) */
  at: number;
}

/** An actor whose journal moved on without ticking (a lobby taking joins) is checkpointed after this long. */
const IDLE_CHECKPOINT_MS = 5000;
/**
 * How often a partition whose every actor has a tick scheduled reads its mailbox between ticks. Inputs for such
 * actors wait for their next tick anyway (every cycle reads before it ticks), so polling faster only costs Redis
 * calls; only a create or an input for an actor in another partition state waits up to this long.
 */
const TICKING_POLL_MS = 250;
/**
 * How often a partition that waits for inputs (no tick scheduled) reads its mailbox when a doorbell listens for
 * it: the doorbell wakes it when an input arrives, and this poll only covers a ring that was missed.
 */
const RUNG_POLL_MS = 250;
/** How long a hand-off waits for its final checkpoints to reach Postgres before it releases the partition anyway. */
const HAND_OFF_CHECKPOINT_WAIT_MS = 100;
/**
 * A partition whose streams did not move (nothing committed, dead-lettered or newly covered by a checkpoint) since
 * its last trim looks again only this often: an idle partition's trim is four Redis calls that find nothing to do.
 */
const QUIET_TRIM_MS = 10_000;
/** A reader of the outbox (a node's fan-out) that said where it is within this long holds trimming back. */
const READER_TTL_MS = 30_000;
/** A reader silent for this long is forgotten. */
const READER_FORGET_MS = 3_600_000;

class HostedActor {
  state: unknown = undefined;
  /** number of the actor's last committed journal record */
  seq = 0;
  nextDue: number | null = null;
  base: Base | null = null;
  /**
   * Trimming never passes this: the outbox id of the first record not covered by a confirmed checkpoint, or one
   * before it (null when the confirmed checkpoint covers every record: the actor needs nothing of the journal)
   */
  firstUncoveredId: string | null = null;
  /** the outbox id of the actor's last committed record */
  lastRecordId: string | null = null;
  /** inputs waiting to be handled, oldest first (new ones, or ones to retry after a restart) */
  queue: InboxEntry[] = [];
  restarting: string | null = null;
  /** throws of its tick that no input accounts for: at maxFailures the actor is ended as failed */
  tickFailures = 0;
  /** its tick, with no input before it, stopped its worker (see BusyBoard) this many times; at maxFailures it is ended as failed too */
  tickStops = 0;
  /**
   * A tick threw after inputs handled in the same cycle: those inputs are suspects. The next tick runs without
   * them ('alone'): if it throws too, the tick is at fault and counts in tickFailures. If it does not, the suspects
   * are handled one per tick ('one'), so a tick that throws names its input, which is dead-lettered after
   * maxFailures throws like an input whose own handling throws.
   */
  probe: 'alone' | 'one' | null = null;
  /** how many inputs at the front of the queue are still suspects */
  suspects = 0;
  finished = false;
  /** a number from the id that spreads the actors' periodic checkpoints evenly over the ticks */
  readonly spread: number;
  /** the id as the worker's BusyBoard takes it */
  readonly busyId: Uint8Array;
  /**
   * with verifyReplays: the records committed since `base` with their outputs as committed (null for an actor's
   * last record, whose unstorable outputs are dropped), and how many checkpoints were taken
   */
  sinceBase: Array<{ record: JournalRecord; outputs: Buffer | null }> | null = null;
  checkpoints = 0;

  constructor(readonly id: string, readonly type: ActorType<unknown, unknown>) {
    let h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    this.spread = Math.imul(h, 0x9e3779b1) >>> 8;
    this.busyId = BusyBoard.idOf(id);
  }
}

/**
 * One per worker thread, shared by its executors, for the inputs counted as in flight at a stop (see
 * PartitionExecutor.counted): those taken in flight once are handled together, in any number of executors (a
 * batch); one in flight at an earlier stop too is handled alone (a probe) while nothing else counted is in hand
 * anywhere on the worker. Should the worker stop during a probe, its count names that input.
 */
export class ProbeGate {
  /** executors holding counted inputs that are not struck */
  readonly batches = new Set<PartitionExecutor>();
  /** the executor handling a struck input alone */
  prober: PartitionExecutor | null = null;
}

/** One actor's record in the batch being built, and the inbox entries it consumes. */
interface Draft {
  actor: HostedActor;
  record: JournalRecord;
  consumed: InboxEntry[];
  /** what made each of `record.o`: the input handled, or null for the tick (or the actor's end) */
  sources: Array<InboxEntry | null>;
  /**
   * What the actor's tick changed in its bookkeeping, as it was before: put back should the tick's record not
   * encode after all (the tick then failed, and what it settled did not happen)
   */
  beforeTick?: Pick<HostedActor, 'tickFailures' | 'probe' | 'suspects' | 'finished'>;
}

export interface ExecutorStats {
  partition: number;
  epoch: number;
  /** the actors it hosts now */
  readonly actors: number;
  ticks: number;
  commits: number;
  reads: number;
  inputs: number;
  deadLetters: number;
  restarts: number;
  lateness: LatencyHistogram;
  commitMs: LatencyHistogram;
  checkpointMs: LatencyHistogram;
  inboxLag: number;
}

export class PartitionExecutor {
  private readonly actors = new Map<string, HostedActor>();
  /** actors that finished here; a late input for one is acknowledged and dropped */
  private readonly finished = new Set<string>();
  private readonly failures = new Map<string, number>();
  /** actors that threw and wait to be rebuilt after the commit */
  private readonly restarting = new Set<HostedActor>();
  /** the earliest tick due among the actors, as the last full cycle left them */
  private earliestDue = 0;
  /** an actor may need looking at before earliestDue (just recovered or restarted) */
  private unsettled = true;
  /** every live actor has a tick scheduled: the mailbox is read at ticks (and every TICKING_POLL_MS) */
  private ticking = false;
  /** a doorbell wakes this executor when an input arrives (see runtime/doorbell.ts): it polls seldom */
  private rung = false;
  /** woken while a cycle ran: the next cycle starts at once */
  private woken = false;
  private readonly writer: CheckpointWriter;
  private commitSeq: number;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private halted = false;
  /** a hand-off stopped a commit that kept failing: the actors' states hold what was never committed */
  private uncommitted = false;
  /** a cycle has changed states it has not committed yet */
  private dirty = false;
  private cycling: Promise<void> | null = null;
  private lastTrim = 0;
  private lastStreamTrim = 0;
  /** something was appended, acknowledged or newly covered by a checkpoint since the last trim */
  private streamsMoved = true;
  /** the newest inbox entry this executor has taken in; delivered entries after it were lost on the way */
  private lastSeenId = '0-0';
  /**
   * Inputs claimed at recovery whose stops are counted in Redis (the strikes hash), until each is committed or
   * dead-lettered: an input in flight when a worker crashes or hangs never throws where this executor sees it.
   */
  private readonly counted = new Set<string>();
  /**
   * Counted inputs that were in flight at an earlier stop too: each is handled alone under the worker's ProbeGate,
   * the actor's later inputs waiting behind it. At maxFailures stops an input is dead-lettered at recovery.
   */
  private readonly struck = new Set<string>();
  /** the struck input handled alone now (this executor is the gate's prober) */
  private probing: string | null = null;
  /** every counted input was settled since the counts were last forgotten */
  private strikesSettled = false;
  /**
   * Actors whose state could not be rebuilt here (a checkpoint that does not decode, a journal record whose replay
   * throws, a type this node does not load), with why, and the oldest outbox entry each still needs. A parked actor
   * is not hosted and its inputs are dead-lettered, but its checkpoint and journal are kept: the next owner (a node
   * with the fixed or missing actor code) tries again. The rest of the partition goes on.
   */
  private readonly parked = new Map<string, { reason: string; floor: string | null }>();
  /** actors a tick of which stopped a worker, counted in Redis until one of their ticks goes through */
  private readonly tickStopped = new Set<HostedActor>();
  readonly stats: ExecutorStats;
  /** this partition's tick grid (see tickGrid) */
  private readonly align: ActorContext['align'];

  constructor(
    readonly partition: number,
    readonly epoch: number,
    lastSeq: number,
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    store: CheckpointStore,
    private readonly types: ReadonlyMap<string, ActorType<unknown, unknown>>,
    private readonly config: ExecutorConfig,
    private readonly emit: (event: ExecutorEvent) => void,
    private readonly log: Logger,
    private readonly gate: ProbeGate,
    private readonly busy: BusyBoard,
    /** the partition's last worker stopped in this actor's code, as its BusyBoard said (unknown when undefined) */
    private readonly stoppedIn?: BusyWith,
  ) {
    this.commitSeq = lastSeq;
    this.align = tickGrid(partition, config.partitions);
    this.writer = new CheckpointWriter(store, (ids) => this.onCheckpointsConfirmed(ids), log);
    const actors = this.actors;
    this.stats = {
      // read when reported: an actor that ended goes once its last checkpoint is stored, often in a cycle that
      // finds nothing else to do (counted at full cycles only, an ended game stayed counted until the next one)
      partition, epoch, get actors() { return actors.size; }, ticks: 0, commits: 0, reads: 0, inputs: 0, deadLetters: 0, restarts: 0, inboxLag: 0,
      lateness: new LatencyHistogram(), commitMs: new LatencyHistogram(), checkpointMs: this.writer.latency,
    };
  }

  private get fenceKeys(): [string, string] {
    return [this.keys.lease(this.partition), this.keys.epoch(this.partition)];
  }

  private get fenceArgs(): [string, number, number] {
    return [this.config.nodeId, this.epoch, this.config.leaseMs];
  }

  private async strike(mode: 'count' | 'clear', ids: readonly string[] = []): Promise<void> {
    const ok = await runCommand<number>(this.redis, 'strike', [...this.fenceKeys, this.keys.strikes(this.partition)],
      [...this.fenceArgs, mode, ...ids]);
    if (ok === 0) throw new FencedError('counting the inputs in flight at a stop');
  }

  /** Recovery: checkpoints, then the journal after them, then the inputs earlier owners left pending. */
  private starting: Promise<void> | null = null;

  start(): Promise<void> {
    this.starting ??= this.recover();
    return this.starting;
  }

  private async recover(): Promise<void> {
    const started = Date.now();
    const inbox = this.keys.inbox(this.partition);
    const createGroup = (stream: string, group: string) => this.redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM')
      .catch((err: Error) => { if (!err.message.includes('BUSYGROUP')) throw err; });
    await createGroup(inbox, OWNER_GROUP);
    for (const group of this.config.outboxGroups) await createGroup(this.keys.outbox(this.partition), group);
    // actors whose own code stopped a worker (see BusyBoard): one whose replay did so maxFailures times is parked
    // before it is replayed again, one whose tick with no input before it did is ended as failed at its next tick;
    // counts of the rest are cleared once their replay or tick goes through
    const stops = new Map(Object.entries(await this.redis.hgetall(this.keys.actorStops(this.partition))).map(([k, n]) => [k, Number(n)]));
    const replayStopped = (actorId: string) => {
      const n = stops.get(`replay:${actorId}`) ?? 0;
      return n >= this.config.maxFailures ? `its replay stopped its worker (crashed or hung) ${n} times` : null;
    };
    for (const checkpoint of await this.writer.store.unfinished(this.partition)) {
      const stopped = replayStopped(checkpoint.actorId);
      if (stopped) {
        this.park(checkpoint.actorId, stopped, checkpoint.outboxId);
        continue;
      }
      const type = this.types.get(checkpoint.actorType);
      if (!type) {
        this.park(checkpoint.actorId, `its checkpoint is of actor type ${checkpoint.actorType}, which this node does not load`, checkpoint.outboxId);
        continue;
      }
      const actor = new HostedActor(checkpoint.actorId, type);
      this.busy.enter('replay', this.partition, actor.busyId);
      try {
        actor.state = type.decode(checkpoint.state);
      } catch (err) {
        this.park(actor.id, `its checkpoint at record ${checkpoint.seq} does not decode: ${errorText(err)}`, checkpoint.outboxId);
        continue;
      } finally {
        this.busy.leave();
      }
      actor.seq = checkpoint.seq;
      actor.base = { bytes: checkpoint.state, seq: checkpoint.seq, tick: checkpoint.tick, outboxId: checkpoint.outboxId, at: started };
      this.actors.set(actor.id, actor);
    }
    for await (const entry of readOutbox(this.redis, this.keys, this.partition)) {
      for (const record of entry.batch.records) {
        let actor = this.actors.get(record.a);
        if (!actor) {
          // an actor whose final checkpoint is stored (it finished), or one parked
          if (!record.c || this.parked.has(record.a)) continue;
          const type = this.types.get(record.c.ty);
          const stopped = replayStopped(record.a);
          if (!type || stopped) {
            this.park(record.a, stopped ?? `the journal creates it of actor type ${record.c.ty}, which this node does not load`, entry.id);
            continue;
          }
          actor = new HostedActor(record.a, type);
          this.actors.set(actor.id, actor);
        }
        if (record.n <= actor.seq) continue;
        const floor = actor.firstUncoveredId ?? actor.base?.outboxId ?? entry.id;
        if (record.n !== actor.seq + 1) {
          this.park(actor.id, `its journal jumps from record ${actor.seq} to ${record.n}`, floor);
          continue;
        }
        this.busy.enter('replay', this.partition, actor.busyId);
        try {
          actor.state = applyRecord(actor.type, actor.state, record, this.align);
        } catch (err) {
          this.park(actor.id, `the replay of its journal record ${record.n} threw: ${errorText(err)}`, floor);
          continue;
        } finally {
          this.busy.leave();
        }
        actor.seq = record.n;
        actor.firstUncoveredId ??= entry.id;
        actor.lastRecordId = entry.id;
        if (record.f !== undefined || actor.type.isFinished(actor.state)) actor.finished = true;
      }
    }
    // An actor the journal finished gets its final checkpoint now. One the journal only moved on takes its next on
    // its usual tick (within K ticks of its last), so after a crash the games tick again without first encoding
    // and writing every state (at 10,000 games, a third of a second of the worker's time). Until then an earlier
    // owner may still store a row, but only a committed state (checkpoints follow commits) at its older epoch,
    // which the first row at this epoch overrides; and trimming stays behind what this owner's checkpoints cover.
    const replayed: string[] = [];
    for (const [key, n] of stops) {
      const colon = key.indexOf(':');
      const phase = key.slice(0, colon);
      const actor = this.actors.get(key.slice(colon + 1));
      if (!actor) continue;
      if (phase === 'replay') replayed.push(key);
      else this.tickStopped.add(actor);
      if (phase === 'tick') actor.tickStops = n;
    }
    if (replayed.length > 0) await this.redis.hdel(this.keys.actorStops(this.partition), ...replayed);
    for (const actor of this.actors.values()) {
      if (!actor.finished) continue;
      if (actor.lastRecordId !== null && actor.base?.seq !== actor.seq) this.takeCheckpoint(actor);
      this.finished.add(actor.id);
    }
    await this.claimPending();
    // a tick that stopped a worker may have been the inputs' before it: the next one runs without them (see
    // HostedActor.probe), so a stop then is the tick's own; the inputs, counted, follow as usual (a struck one alone,
    // in a cycle where its actor ticks)
    for (const actor of this.actors.values()) {
      if (!this.tickStopped.has(actor) || actor.probe !== null || actor.tickStops >= this.config.maxFailures) continue;
      actor.probe = 'alone';
      actor.suspects = 0;
    }
    await this.forgetOldConsumers();
    if (this.halted) return;
    this.running = true;
    this.emit({ kind: 'recovered', partition: this.partition, epoch: this.epoch, actors: this.actors.size, ms: Date.now() - started });
    this.schedule(0);
  }

  private async claimPending(): Promise<void> {
    let cursor = '0-0';
    const claimed: InboxEntry[] = [];
    do {
      const reply = await runCommandBuffer<[number, [Buffer, Array<[Buffer, Buffer[]] | null>, unknown]]>(
        this.redis, 'claim', [...this.fenceKeys, this.keys.inbox(this.partition)],
        [...this.fenceArgs, OWNER_GROUP, this.config.nodeId, cursor, this.config.readCount]);
      if (reply[0] === 0) throw new FencedError('claiming pending inputs');
      const [next, entries] = reply[1];
      cursor = next.toString();
      for (const entry of entries) if (entry) claimed.push(this.toInboxEntry(entry));
    } while (cursor !== '0-0');
    claimed.sort((a, b) => compareStreamIds(a.id, b.id));
    await this.route(await this.countStops(claimed));
  }

  /**
   * The claimed inputs were in flight when their owner stopped. Their stops are that one and one for each counted
   * attempt before it (see strike-3.lua; a counted attempt that did not end in a stop ended in a commit or a dead
   * letter). An input at maxFailures stops is dead-lettered. One in flight at an earlier stop too is struck: it is
   * handled alone, counted again. The others are counted and handled together, except an actor's inputs behind a
   * struck one: those wait for it uncounted, like inputs read afresh (counted should they be in flight at a stop).
   * Inputs that could not have caused the stop (see mayHaveStopped) go uncounted too.
   */
  private async countStops(claimed: InboxEntry[]): Promise<InboxEntry[]> {
    const suspects = claimed.filter((entry) => this.mayHaveStopped(entry));
    if (suspects.length === 0) return claimed;
    const index = new Map(suspects.map((entry, i) => [entry, i]));
    const strikes = await this.redis.hmget(this.keys.strikes(this.partition), ...suspects.map((e) => e.id));
    const kept: InboxEntry[] = [];
    const batch: string[] = [];
    const behindStruck = new Set<string>();
    for (const entry of claimed) {
      const i = index.get(entry);
      if (i === undefined) {
        kept.push(entry);
        continue;
      }
      const stops = Number(strikes[i] ?? 0) + 1;
      if (stops >= this.config.maxFailures) {
        await this.deadLetter(entry, `its worker stopped (crashed, hung or was killed) each of the ${stops} times it was being handled`, stops);
        continue;
      }
      kept.push(entry);
      if (behindStruck.has(entry.env.a)) continue;
      this.counted.add(entry.id);
      if (stops === 1) {
        batch.push(entry.id);
        continue;
      }
      this.struck.add(entry.id);
      behindStruck.add(entry.env.a);
      this.log.warn({ partition: this.partition, input: entry.id, actor: entry.env.a, stops }, 'an input was in flight at an earlier stop too; it is handled alone');
    }
    if (batch.length > 0) {
      await this.strike('count', batch);
      this.gate.batches.add(this);
    }
    return kept;
  }

  /**
   * Whether a claimed input may have stopped the last worker. Unless its BusyBoard named whose code it stopped in
   * (a stop in an input's handling, or outside any actor's code, names none), any may have. If it did, only the
   * inputs of that actor, and only when its tick ran after inputs of its own in that cycle: a tick with none before
   * it, or a replay, is the actor's own fault, and another actor's inputs cannot reach into it.
   */
  private mayHaveStopped(entry: InboxEntry): boolean {
    const stop = this.stoppedIn;
    if (!stop) return true;
    return stop.phase === 'tick-after-inputs' && stop.partition === this.partition && stop.actorId === entry.env.a;
  }

  /** The first struck input, when nothing else counted is in hand on the worker, is counted and handled alone now. */
  private async startProbe(): Promise<void> {
    if (this.gate.prober !== null || this.gate.batches.size > 0) return;
    const [id] = [...this.struck].sort(compareStreamIds);
    this.gate.prober = this;
    try {
      await this.strike('count', [id]);
    } catch (err) {
      this.gate.prober = null;
      throw err;
    }
    this.probing = id;
  }

  /** A counted input was committed or dead-lettered: it is under suspicion no more. */
  private settle(id: string): void {
    if (!this.counted.delete(id)) return;
    this.struck.delete(id);
    if (this.probing === id) this.endProbe();
    if (this.counted.size === this.struck.size) this.gate.batches.delete(this);
    if (this.counted.size === 0) this.strikesSettled = true;
  }

  private endProbe(): void {
    this.probing = null;
    if (this.gate.prober === this) this.gate.prober = null;
  }

  /** This executor stops: it holds nothing of the gate any more. */
  private leaveGate(): void {
    this.endProbe();
    this.gate.batches.delete(this);
  }

  /**
   * Forgets the mailbox consumers of earlier owners (each node reads as a consumer named by its id, and a restarted
   * node has a new one): their pending inputs were just claimed, and the fence keeps them from reading again. Left
   * alone, every restart added one consumer to every partition's group for good.
   */
  private async forgetOldConsumers(): Promise<void> {
    try {
      const forgotten = await runCommand<number>(this.redis, 'forget', [...this.fenceKeys, this.keys.inbox(this.partition)], [...this.fenceArgs, OWNER_GROUP]);
      if (forgotten === -1) throw new FencedError('forgetting earlier owners\' mailbox consumers');
    } catch (err) {
      if (err instanceof FencedError) throw err;
      this.log.warn({ err: errorText(err), partition: this.partition }, 'could not forget the mailbox consumers of earlier owners; they are tried again at the next recovery');
    }
  }

  private toInboxEntry([id, fields]: [Buffer | string, Buffer[]]): InboxEntry {
    const streamId = id.toString();
    try {
      return { id: streamId, env: decodeInput(fieldValue(fields, 'd')) };
    } catch (err) {
      return { id: streamId, env: { v: RECORD_VERSION, id: streamId, a: '', b: null, bad: errorText(err) } as InputEnvelope & { bad: string } };
    }
  }

  /** A doorbell listens for this executor's inputs from now on, so it polls its mailbox seldom. */
  listenedTo(): void {
    this.rung = true;
  }

  /** True while the mailbox is read only by polls: no actor has a tick that brings a read round. */
  waitsForInputs(): boolean {
    return this.running && !this.ticking;
  }

  /** An input arrived: read the mailbox now (or as soon as the cycle under way ends). */
  wake(): void {
    if (!this.running) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.schedule(0);
    } else {
      this.woken = true;
    }
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.woken) delayMs = 0;
    this.woken = false;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.cycling = this.cycle().catch((err: unknown) => this.onCycleError(err)).finally(() => { this.cycling = null; });
    }, Math.max(0, delayMs));
  }

  private onCycleError(err: unknown): void {
    if (err instanceof FencedError) {
      this.halt();
      this.emit({ kind: 'lost', partition: this.partition, epoch: this.epoch, reason: err.message });
      return;
    }
    if (this.dirty) {
      // states ran ahead of the journal and the inputs they took are no longer queued here: nothing of this
      // executor may be checkpointed, and the partition is recovered afresh from its checkpoints and journal
      this.uncommitted = true;
      this.halt();
      this.emit({ kind: 'lost', partition: this.partition, epoch: this.epoch, reason: `a cycle failed before its commit: ${errorText(err)}` });
      return;
    }
    this.log.error({ err, partition: this.partition }, 'partition cycle failed; retrying');
    this.schedule(Math.min(1000, this.config.pollMs * 5));
  }

  /** One cycle: read, handle, tick, commit, checkpoint; then sleep until the next tick is due or the next poll. */
  private async cycle(): Promise<void> {
    if (!this.running) return;
    const entries = await this.read();
    await this.route(entries);
    if (this.struck.size > 0 && this.probing === null) await this.startProbe();
    const now = Date.now();
    // Most cycles are polls between ticks that find nothing: then no actor needs looking at.
    if (entries.length === 0 && !this.unsettled && this.restarting.size === 0 && this.counted.size === 0 && now + 1 < this.earliestDue) {
      await this.maybeTrim();
      this.schedule(Math.min(this.earliestDue, now + this.pollInterval()) - Date.now());
      return;
    }
    this.unsettled = false;
    const drafts = new Map<string, Draft>();
    let earliest = Infinity;
    let unscheduled = false;
    // from here until the commit, states run ahead of the journal (see onCycleError)
    this.dirty = true;
    for (const actor of this.actors.values()) {
      if (actor.restarting !== null || actor.finished) continue;
      try {
        // an actor that threw outside handle and tick too often is ended (tickIfDue) before any more inputs: they
        // would meet the state that throws, and go to the dead letters with its error as theirs
        const ending = actor.tickFailures >= this.config.maxFailures || actor.tickStops >= this.config.maxFailures;
        if (actor.queue.length > 0 && !ending) {
          if (actor.probe === null || actor.state === undefined) this.handleQueue(actor, drafts, now);
          else if (actor.probe === 'one' && this.dueSchedule(actor, now)) this.handleQueue(actor, drafts, now, 1);
        }
        if (actor.restarting !== null || actor.finished) continue;
        if (actor.nextDue === null || actor.nextDue <= now + 1 || ending) {
          this.busy.enter(drafts.get(actor.id)?.consumed.length ? 'tick-after-inputs' : 'tick', this.partition, actor.busyId);
          this.tickIfDue(actor, drafts, now);
          this.busy.leave();
        }
      } catch (err) {
        this.busy.leave();
        // one of the actor's other methods threw (schedule, isFinished, tickOf…): a bug in it, counted as its tick's
        // (what a tick that went through had settled meanwhile did not happen)
        const before = drafts.get(actor.id)?.beforeTick;
        if (before) Object.assign(actor, before);
        actor.tickFailures++;
        this.failed(actor, drafts, `it threw outside handle and tick: ${errorText(err)}`);
        continue;
      }
      // an actor without a time to tick (a lobby) changes only with an input, which makes the next cycle a full one
      if (actor.nextDue === null) unscheduled = true;
      else if (actor.nextDue < earliest) earliest = actor.nextDue;
    }
    this.earliestDue = earliest;
    this.ticking = earliest !== Infinity && !unscheduled;
    let wake = Math.min(earliest, now + this.pollInterval());
    await this.commit(drafts);
    this.dirty = false;
    if (this.strikesSettled) {
      this.strikesSettled = false;
      await this.strike('clear');
    }
    // counted inputs wait for the gate: looked at again soon
    if (this.counted.size > 0) wake = Math.min(wake, now + this.config.pollMs);
    // the actors that threw, also one whose restart failed in an earlier cycle (Redis away)
    for (const actor of [...this.restarting]) {
      await this.restart(actor);
      this.unsettled = true;
      if (actor.queue.length > 0) wake = Date.now();
    }
    await this.maybeTrim();
    this.schedule(wake - Date.now());
  }

  private pollInterval(): number {
    if (this.ticking) return Math.max(TICKING_POLL_MS, this.config.pollMs);
    return this.rung ? Math.max(RUNG_POLL_MS, this.config.pollMs) : this.config.pollMs;
  }

  private async read(): Promise<InboxEntry[]> {
    const reply = await runCommandBuffer<[number, Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null]>(
      this.redis, 'read', [...this.fenceKeys, this.keys.inbox(this.partition)],
      [...this.fenceArgs, OWNER_GROUP, this.config.nodeId, this.config.readCount, this.lastSeenId]);
    this.stats.reads++;
    if (reply[0] === 0) throw new FencedError('reading the mailbox');
    const streams = reply[1];
    if (!streams || streams.length === 0) return [];
    const entries = streams[0][1].map((e) => this.toInboxEntry(e));
    this.stats.inputs += entries.length;
    return entries;
  }

  /** Gives each input to its actor's queue; creates actors; answers inputs that have no actor. */
  private async route(entries: InboxEntry[]): Promise<void> {
    for (const entry of entries) {
      await this.routeOne(entry);
      // taken in: if routing stops half-way, the rest is still pending after lastSeenId and is read again
      if (compareStreamIds(entry.id, this.lastSeenId) > 0) this.lastSeenId = entry.id;
    }
  }

  private async routeOne(entry: InboxEntry): Promise<void> {
    const bad = (entry.env as { bad?: string }).bad;
    if (bad !== undefined) return this.deadLetter(entry, bad, 1);
    const { a: actorId, ty } = entry.env;
    const parked = this.parked.get(actorId);
    if (parked) return this.deadLetter(entry, `actor ${actorId} is parked, its state not rebuilt: ${parked.reason}`, 1);
    let actor = this.actors.get(actorId);
    if (ty !== undefined && !actor) {
      if (this.finished.has(actorId)) return this.deadLetter(entry, `actor ${actorId} already existed and finished`, 1);
      const type = this.types.get(ty);
      if (!type) return this.deadLetter(entry, `unknown actor type ${ty}`, 1);
      actor = new HostedActor(actorId, type);
      this.actors.set(actorId, actor);
    } else if (ty !== undefined && actor) {
      return this.deadLetter(entry, `actor ${actorId} exists already`, 1);
    }
    if (actor?.finished || !actor) {
      // e.g. a turn racing its game's end: kept with the reason, like every input that cannot be applied
      const reason = actor || this.finished.has(actorId) ? `actor ${actorId} has finished` : `no actor ${actorId} in partition ${this.partition}`;
      return this.deadLetter(entry, reason, 0);
    }
    actor.queue.push(entry);
  }

  private draftFor(actor: HostedActor, drafts: Map<string, Draft>, now: number): Draft {
    let draft = drafts.get(actor.id);
    if (!draft) {
      draft = { actor, record: { a: actor.id, n: actor.seq + 1, at: now }, consumed: [], sources: [] };
      drafts.set(actor.id, draft);
    }
    return draft;
  }

  /** Handles the actor's queued inputs in order (at most `limit` of them). */
  private handleQueue(actor: HostedActor, drafts: Map<string, Draft>, now: number, limit = Infinity): void {
    if (actor.queue.length === 0) return;
    // a state whose schedule or isFinished throws already (a tick left it so) is no input's doing: thrown from here,
    // it fails as the actor's own (see cycle), not as the first input's behind it
    if (actor.state !== undefined) {
      validSchedule(actor.type.schedule(actor.state));
      actor.type.isFinished(actor.state);
    }
    const ctx: ActorContext = { actorId: actor.id, now, align: this.align };
    for (let handled = 0; actor.queue.length > 0 && handled < limit; handled++) {
      const entry = actor.queue[0];
      // a counted input waits for the gate (see ProbeGate), and the actor's later inputs behind it; a struck one goes
      // in a cycle where its actor ticks, so a tick it makes hang names it too
      const probe = this.counted.size > 0 && this.struck.has(entry.id);
      if (probe ? entry.id !== this.probing || (actor.nextDue !== null && actor.nextDue > now + 1) : this.gate.prober !== null && this.counted.has(entry.id)) return;
      const draft = this.draftFor(actor, drafts, now);
      try {
        let output: unknown;
        if (entry.env.ty !== undefined) {
          if (actor.state !== undefined) throw new Error(`actor ${actor.id} exists already`);
          actor.state = actor.type.create(entry.env.b, ctx);
          draft.record.c = { ty: entry.env.ty, b: entry.env.b, s: entry.id };
        } else {
          if (actor.state === undefined) throw new Error(`input for ${actor.id} before its create`);
          output = actor.type.handle(actor.state, entry.env.b, ctx);
          const input: JournalInput = { s: entry.id, b: entry.env.b };
          (draft.record.i ??= []).push(input);
          if (output !== undefined) {
            // which output answers which input (see outputOf in journal.ts)
            input.o = (draft.record.o ??= []).push(output) - 1;
            draft.sources.push(entry);
          }
        }
        // what the input left must be a state the actor can go on from: one whose schedule or isFinished throws is
        // the input's doing, and it is retried and dead-lettered as one that throws (not the game's next tick)
        validSchedule(actor.type.schedule(actor.state));
        const finished = actor.type.isFinished(actor.state);
        draft.consumed.push(entry);
        actor.queue.shift();
        if (finished) {
          // an input ended it (a resignation, a lobby everyone left): its end is committed with this input, and the
          // inputs queued behind it are dead-lettered as those that come after its end are
          actor.finished = true;
          return;
        }
        if (probe) return;
      } catch (err) {
        this.failed(actor, drafts, `input ${entry.id} threw: ${errorText(err)}`, entry);
        return;
      }
    }
  }

  private tickIfDue(actor: HostedActor, drafts: Map<string, Draft>, now: number): void {
    if (actor.state === undefined) return;
    if (actor.tickFailures >= this.config.maxFailures || actor.tickStops >= this.config.maxFailures) {
      const draft = this.draftFor(actor, drafts, now);
      const failed = actor.tickStops >= this.config.maxFailures ? `stopped its worker (crashed or hung) ${actor.tickStops} times` : `threw ${actor.tickFailures} times`;
      let reason: string;
      try {
        reason = `tick ${actor.type.tickOf(actor.state) + 1} ${failed}`;
      } catch {
        reason = `it ${failed}`;
      }
      // the actor ends whatever its own fail does: one that throws there too ends without its last word
      let output: unknown;
      try {
        output = actor.type.fail(actor.state, reason, { actorId: actor.id, now, align: this.align });
      } catch (err) {
        this.log.error({ partition: this.partition, actor: actor.id, err: errorText(err) }, 'an actor\'s fail threw; it is ended without its output');
      }
      draft.record.f = reason;
      if (output !== undefined) {
        (draft.record.o ??= []).push(output);
        draft.sources.push(null);
      }
      actor.finished = true;
      this.emit({ kind: 'actor-failed', partition: this.partition, actorId: actor.id, reason });
      return;
    }
    const schedule = this.dueSchedule(actor, now);
    if (schedule === null) return;
    const due = actor.nextDue!;
    const draft = this.draftFor(actor, drafts, now);
    try {
      const before = actor.type.tickOf(actor.state);
      const output = actor.type.tick(actor.state, { actorId: actor.id, now, align: this.align });
      draft.record.t = actor.type.tickOf(actor.state);
      // tick records are numbered 1..N with no gap (RUNTIME.md): a tick that does not count one up is a bug in it
      if (draft.record.t !== before + 1) throw new Error(`tick went from ${before} to ${draft.record.t} (tickOf must count each tick once)`);
      (draft.record.o ??= []).push(output);
      draft.sources.push(null);
      draft.beforeTick = { tickFailures: actor.tickFailures, probe: actor.probe, suspects: actor.suspects, finished: actor.finished };
      actor.tickFailures = 0;
    } catch (err) {
      this.tickThrew(actor, drafts, draft.consumed, `tick threw: ${errorText(err)}`);
      return;
    }
    if (actor.probe === 'alone') {
      actor.probe = 'one';
    } else if (actor.probe === 'one') {
      actor.suspects -= draft.consumed.length;
      if (actor.suspects <= 0) this.probed(actor);
    }
    this.stats.ticks++;
    this.stats.lateness.observe(now - due);
    actor.nextDue = nextTickDue(due, now, schedule.tickMs, this.align);
    if (actor.type.isFinished(actor.state)) actor.finished = true;
  }

  /** The actor's schedule when its next tick is due now, else null (fixing when it is due, if not known yet). */
  private dueSchedule(actor: HostedActor, now: number): TickSchedule | null {
    const schedule = actor.type.schedule(actor.state);
    if (schedule === null) {
      actor.nextDue = null;
      return null;
    }
    validSchedule(schedule);
    if (actor.nextDue === null) {
      // A fresh schedule starts at its startAt (on the tick grid when the actor aligned it with ctx.align); after
      // a recovery the clock resumes at the grid's next instant (time stopped meanwhile).
      actor.nextDue = actor.type.tickOf(actor.state) === 0 ? schedule.startAt : this.align(now, schedule.tickMs);
    }
    return actor.nextDue <= now + 1 ? schedule : null;
  }

  /** A tick threw: on the input handled just before it when that one is the suspect under test (see probe). */
  private tickThrew(actor: HostedActor, drafts: Map<string, Draft>, handled: readonly InboxEntry[], reason: string): void {
    if (actor.probe === 'one' && handled.length === 1) return this.failed(actor, drafts, reason, handled[0]);
    if (actor.probe === null && handled.length > 0) {
      actor.probe = 'alone';
      actor.suspects = handled.length;
    } else {
      actor.tickFailures++;
    }
    this.failed(actor, drafts, reason);
  }

  /** Every suspect was handled before a tick that went through, or dead-lettered: inputs are handled as before. */
  private probed(actor: HostedActor): void {
    actor.probe = null;
    actor.suspects = 0;
  }

  /**
   * An actor threw: its part of this batch is dropped (its state is no longer trusted), the inputs it had consumed
   * go back to the front of its queue, and it is rebuilt from its checkpoint and the journal after the commit.
   */
  private failed(actor: HostedActor, drafts: Map<string, Draft>, reason: string, poison?: InboxEntry): void {
    const draft = drafts.get(actor.id);
    drafts.delete(actor.id);
    if (draft) actor.queue.unshift(...draft.consumed);
    actor.restarting = reason;
    this.restarting.add(actor);
    if (poison) this.failures.set(poison.id, (this.failures.get(poison.id) ?? 0) + 1);
    this.log.warn({ partition: this.partition, actor: actor.id, reason }, 'actor threw; restarting it');
  }

  private async restart(actor: HostedActor): Promise<void> {
    const started = Date.now();
    const reason = actor.restarting ?? 'restart';
    for (;;) {
      const poison = actor.queue.find((e) => (this.failures.get(e.id) ?? 0) >= this.config.maxFailures);
      if (!poison) break;
      const at = actor.queue.indexOf(poison);
      actor.queue.splice(at, 1);
      if (at < actor.suspects && --actor.suspects === 0) this.probed(actor);
      this.failures.delete(poison.id);
      await this.deadLetter(poison, reason, this.config.maxFailures);
    }
    const base = actor.base;
    let rebuilt: Awaited<ReturnType<typeof rebuildActor>>;
    try {
      let state: unknown;
      try {
        state = base ? actor.type.decode(base.bytes) : undefined;
      } catch (err) {
        throw new ReplayError(`its checkpoint at record ${base!.seq} does not decode: ${errorText(err)}`);
      }
      rebuilt = await rebuildActor(this.redis, this.keys, this.partition, actor.type, actor.id, {
        state,
        seq: base ? base.seq : 0,
        outboxId: base ? base.outboxId : '-',
      }, this.align, undefined, this.busy);
      if (rebuilt.seq !== actor.seq) throw new ReplayError(`rebuilt ${actor.id} at record ${rebuilt.seq}, committed ${actor.seq}`);
    } catch (err) {
      if (!(err instanceof ReplayError || err instanceof JournalGapError)) throw err; // Redis away: tried again next cycle
      this.restarting.delete(actor);
      this.park(actor.id, `its rebuild after a throw failed: ${errorText(err)}`, actor.firstUncoveredId ?? base?.outboxId ?? null);
      for (const entry of actor.queue.splice(0)) {
        this.failures.delete(entry.id);
        await this.deadLetter(entry, `actor ${actor.id} is parked, its state not rebuilt: ${this.parked.get(actor.id)!.reason}`, 1);
      }
      return;
    }
    actor.state = rebuilt.state;
    actor.nextDue = null;
    actor.restarting = null;
    this.restarting.delete(actor);
    this.stats.restarts++;
    if (actor.state === undefined && actor.queue.every((e) => e.env.ty === undefined)) {
      // its create was dead-lettered: nothing to host; the inputs that followed it have no actor
      this.actors.delete(actor.id);
      for (const entry of actor.queue) await this.deadLetter(entry, `no actor ${actor.id}: its create failed`, 1);
    }
    this.emit({ kind: 'actor-restarted', partition: this.partition, actorId: actor.id, ms: Date.now() - started, reason });
  }

  /** Parks an actor (see `parked`). */
  private park(actorId: string, reason: string, floor: string | null): void {
    const actor = this.actors.get(actorId);
    if (actor) this.tickStopped.delete(actor);
    this.actors.delete(actorId);
    this.parked.set(actorId, { reason, floor });
    this.emit({ kind: 'actor-parked', partition: this.partition, actorId, reason });
  }

  private async deadLetter(entry: InboxEntry, error: string, attempts: number): Promise<void> {
    const payload = encodeRecord({ v: RECORD_VERSION, input: entry.id, actor: entry.env.a, error, attempts, body: entry.env.b });
    const ok = await runCommand<number>(this.redis, 'deadletter',
      [...this.fenceKeys, this.keys.deadLetters(this.partition), this.keys.inbox(this.partition)],
      [...this.fenceArgs, OWNER_GROUP, entry.id, payload]);
    if (ok === 0) throw new FencedError('dead-lettering an input');
    this.settle(entry.id);
    this.streamsMoved = true;
    this.stats.deadLetters++;
    this.emit({ kind: 'dead-letter', partition: this.partition, actorId: entry.env.a, inputId: entry.id, error });
  }

  /**
   * The batch of the drafts, encoded. An actor whose output cannot be encoded (a BigInt beyond 64 bits, a cycle)
   * fails as though it had thrown where the output came from, so its input is dead-lettered after maxFailures and
   * a tick's counts toward ending it; the outputs of an actor's end that cannot be stored are left out. The others'
   * records go as usual (a batch that would not encode stopped the whole partition).
   */
  private encodeBatch(drafts: Map<string, Draft>, seq: number): { list: Draft[]; payload: Buffer } {
    const encode = (list: Draft[]) => ({ list, payload: encodeRecord({ v: RECORD_VERSION, epoch: this.epoch, seq, records: list.map((d) => d.record) }) });
    try {
      return encode([...drafts.values()]);
    } catch {
      this.dropUnstorable(drafts);
      return encode([...drafts.values()]);
    }
  }

  private dropUnstorable(drafts: Map<string, Draft>): void {
    for (const draft of [...drafts.values()]) {
      const outputs = draft.record.o ?? [];
      const problems = outputs.map(unstorable);
      const bad = problems.findIndex((problem) => problem !== null);
      if (bad < 0) continue;
      const reason = `its output could not be stored: ${problems[bad]}`;
      const source = draft.sources[bad];
      if (draft.record.f !== undefined) {
        this.log.error({ partition: this.partition, actor: draft.actor.id, reason }, 'an actor\'s end is stored without its output');
        draft.record.o = outputs.filter((_, i) => problems[i] === null);
        // the inputs' links to their outputs follow the outputs kept (one whose output was left out has none)
        for (const input of draft.record.i ?? []) {
          if (input.o === undefined) continue;
          if (problems[input.o] !== null) delete input.o;
          else input.o = problems.slice(0, input.o).filter((problem) => problem === null).length;
        }
        continue;
      }
      if (draft.beforeTick) Object.assign(draft.actor, draft.beforeTick);
      if (source) this.failed(draft.actor, drafts, `input ${source.id}: ${reason}`, source);
      else this.tickThrew(draft.actor, drafts, draft.consumed, `tick ${reason}`);
    }
  }

  private async commit(batch: Map<string, Draft>): Promise<void> {
    if (batch.size === 0) return;
    const seq = this.commitSeq + 1;
    const { list: drafts, payload } = this.encodeBatch(batch, seq);
    if (drafts.length === 0) return;
    const acks = drafts.flatMap((d) => d.consumed.map((e) => e.id));
    const finished = drafts.filter((d) => d.actor.finished).map((d) => d.actor.id);
    const started = Date.now();
    let outboxId: string;
    for (let attempt = 0; ; attempt++) {
      try {
        const reply = await runCommand<[number, string?]>(this.redis, 'commit',
          [...this.fenceKeys, this.keys.commitSeq(this.partition), this.keys.outbox(this.partition), this.keys.inbox(this.partition),
            this.keys.ended(this.partition)],
          [...this.fenceArgs, seq, OWNER_GROUP, payload, finished.length, ...finished, ...acks]);
        if (reply[0] === -1) throw new FencedError(`committing batch ${seq}`);
        outboxId = String(reply[1]);
        break;
      } catch (err) {
        if (err instanceof FencedError || !this.running) {
          this.uncommitted = true;
          throw err;
        }
        // Redis is away: time stops for this partition; the same batch is retried and applied once.
        if (attempt % 20 === 0) this.log.warn({ err: errorText(err), partition: this.partition, attempt }, 'commit failed; retrying');
        await sleep(Math.min(50 * (attempt + 1), 500));
      }
    }
    this.commitSeq = seq;
    this.streamsMoved = true;
    this.stats.commits++;
    this.stats.commitMs.observe(Date.now() - started);
    // every committed record counted before any checkpoint (one whose actor throws must not leave the rest behind)
    for (const { actor, record, consumed } of drafts) {
      actor.seq = record.n;
      actor.firstUncoveredId ??= outboxId;
      actor.lastRecordId = outboxId;
      if (actor.finished) {
        this.finished.add(actor.id);
        this.tickStopped.delete(actor);
      }
      if (this.failures.size > 0) for (const entry of consumed) this.failures.delete(entry.id);
      if (this.counted.size > 0) for (const entry of consumed) this.settle(entry.id);
      if (this.config.verifyReplays > 0) {
        (actor.sinceBase ??= []).push({ record, outputs: record.f === undefined ? encodeOutputs(record.o ?? []) : null });
      }
    }
    if (this.tickStopped.size > 0) await this.clearTickStops(drafts);
    for (const { actor, record } of drafts) {
      if (actor.finished || record.c !== undefined || !actor.base || this.checkpointDue(actor, record.t ?? actor.type.tickOf(actor.state))) {
        this.takeCheckpoint(actor);
      }
      if (actor.finished) await this.dropQueue(actor);
    }
  }

  /** Actors a tick of which stopped a worker and that ticked now: their counts in Redis are cleared. */
  private async clearTickStops(drafts: readonly Draft[]): Promise<void> {
    const fields: string[] = [];
    for (const { actor, record } of drafts) {
      if (record.t === undefined || !this.tickStopped.delete(actor)) continue;
      actor.tickStops = 0;
      fields.push(`tick:${actor.id}`, `tick-after-inputs:${actor.id}`);
    }
    if (fields.length === 0) return;
    await this.redis.hdel(this.keys.actorStops(this.partition), ...fields)
      .catch((err: unknown) => this.log.warn({ err: errorText(err), partition: this.partition }, 'could not clear the worker stops of actors that ticked again'));
  }

  /**
   * The inputs still queued for an actor that finished (suspects of a tick that kept throwing, say) are
   * dead-lettered: left pending, they would hold the mailbox's trimming back for as long as this owner lives.
   */
  private async dropQueue(actor: HostedActor): Promise<void> {
    const queued = actor.queue.splice(0);
    for (const entry of queued) this.failures.delete(entry.id);
    // at once, in one pipeline: a long queue (inputs held back by a probe) would take a round trip each
    await Promise.all(queued.map((entry) => this.deadLetter(entry, `actor ${actor.id} has finished`, 0)));
  }

  /**
   * Periodic checkpoints fall on the ticks where (tick + spread) is a multiple of K, so actors that started or were
   * recovered together do not all encode and write theirs in the same cycle; never more than K ticks apart.
   */
  private checkpointDue(actor: HostedActor, tick: number): boolean {
    const k = this.config.checkpointTicks;
    const since = tick - actor.base!.tick;
    return since >= k || (since > 0 && (tick + actor.spread) % k === 0);
  }

  private takeCheckpoint(actor: HostedActor): void {
    const outboxId = actor.lastRecordId ?? '0-0';
    let bytes: Uint8Array;
    let tick: number;
    try {
      bytes = actor.type.encode(actor.state);
      tick = actor.type.tickOf(actor.state);
    } catch (err) {
      // its records are committed: it goes on, replayed from its last checkpoint should it restart
      this.log.error({ partition: this.partition, actor: actor.id, err: errorText(err) }, 'an actor\'s state could not be encoded; no checkpoint taken');
      return;
    }
    if (this.config.verifyReplays > 0) this.verifyReplay(actor, bytes);
    actor.base = { bytes, seq: actor.seq, tick, outboxId, at: Date.now() };
    this.writer.enqueue({
      actorId: actor.id, actorType: actor.type.type, partition: this.partition, seq: actor.seq, tick,
      state: bytes, outboxId, epoch: this.epoch, finished: actor.finished,
    });
  }

  /**
   * At every Nth checkpoint (config.verifyReplays), what a restart would find out the hard way: that the new state
   * does not survive encode and decode, or that the records since the last checkpoint, replayed on it, do not give
   * the live state (create, handle or tick used something besides their arguments: the clock, Math.random, a
   * module's variable). Said as a replay-mismatch event; the actor goes on.
   */
  private verifyReplay(actor: HostedActor, bytes: Uint8Array): void {
    const records = actor.sinceBase ?? [];
    actor.sinceBase = [];
    const base = actor.base;
    if (++actor.checkpoints % this.config.verifyReplays !== 0) return;
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
    let reason: string | null = null;
    try {
      if (!same(actor.type.encode(actor.type.decode(bytes)), bytes)) {
        reason = `its state at record ${actor.seq} does not survive encode and decode (encoded again it differs)`;
      } else if (base && records.length === actor.seq - base.seq && records.length > 0) {
        let state = actor.type.decode(base.bytes);
        for (const { record, outputs } of records) {
          const replayed: unknown[] = [];
          state = applyRecord(actor.type, state, record, this.align, replayed);
          // outputs too: what an encode leaves out is not checked by the state's bytes, yet may change what the actor says
          if (outputs !== null && !same(encodeOutputs(replayed), outputs)) {
            reason = `record ${record.n} replayed on its checkpoint puts out other outputs than it did live: create, handle and tick must use their arguments alone, and encode must keep all they depend on`;
            break;
          }
        }
        if (reason === null && !same(actor.type.encode(state), bytes)) {
          reason = `records ${base.seq + 1}–${actor.seq} replayed on its checkpoint give another state than the live one: create, handle and tick must use their arguments alone`;
        }
      }
    } catch (err) {
      reason = `its replay threw: ${errorText(err)}`;
    }
    if (reason !== null) this.emit({ kind: 'replay-mismatch', partition: this.partition, actorId: actor.id, reason });
  }

  private onCheckpointsConfirmed(confirmed: ReadonlyArray<{ actorId: string; seq: number; outboxId: string; finished: boolean }>): void {
    this.streamsMoved = true;
    for (const c of confirmed) {
      const actor = this.actors.get(c.actorId);
      if (!actor) continue;
      // covered up to c.seq: what it still needs follows the entry holding that record (a confirmation that comes
      // after the actor's next record must not leave the floor at an older record for good)
      actor.firstUncoveredId = actor.seq === c.seq ? null : c.outboxId;
      if (c.finished && actor.finished && actor.seq === c.seq) {
        this.actors.delete(actor.id);
        this.finished.add(actor.id);
      }
    }
  }

  /** Trims the streams every few seconds, never past what a checkpoint, a consumer group or a reader needs. */
  private async maybeTrim(): Promise<void> {
    const now = Date.now();
    if (now - this.lastTrim < 1000) return;
    this.lastTrim = now;
    // Periodic checkpoints follow ticks; an actor whose records carry only inputs (a lobby) would otherwise hold
    // the trimming back for as long as it waits. (Called between cycles: every state here is a committed one.)
    for (const actor of this.actors.values()) {
      const base = actor.base;
      if (base && base.seq !== actor.seq && now - base.at >= IDLE_CHECKPOINT_MS && actor.restarting === null && actor.state !== undefined) {
        this.takeCheckpoint(actor);
      }
    }
    if (!this.streamsMoved && now - this.lastStreamTrim < QUIET_TRIM_MS) return;
    this.streamsMoved = false;
    this.lastStreamTrim = now;
    const outbox = this.keys.outbox(this.partition);
    const inbox = this.keys.inbox(this.partition);
    try {
      let floor: string | null = null;
      const lower = (id: string | null) => { if (id && (floor === null || compareStreamIds(id, floor) < 0)) floor = id; };
      // an actor its confirmed checkpoint covers holds nothing back (a lobby nobody starts must not keep its
      // partition's journal for good)
      for (const actor of this.actors.values()) lower(actor.firstUncoveredId);
      for (const { floor } of this.parked.values()) lower(floor);
      for (const id of await groupFloors(this.redis, outbox)) lower(id);
      const readers = await this.redis.hgetall(this.keys.readers(this.partition));
      const gone: string[] = [];
      for (const [reader, value] of Object.entries(readers)) {
        const [id, seen] = value.split(' ');
        if (now - Number(seen) < READER_TTL_MS) lower(id);
        else if (now - Number(seen) > READER_FORGET_MS) gone.push(reader);
      }
      // a node that stopped reading long ago (gone for good, its id never used again) is forgotten
      if (gone.length > 0) await this.redis.hdel(this.keys.readers(this.partition), ...gone);
      if (floor === null) {
        const last = await this.redis.xrevrange(outbox, '+', '-', 'COUNT', 1);
        floor = last[0]?.[0] ?? null;
      }
      const [inboxFloor] = await groupFloors(this.redis, inbox, OWNER_GROUP);
      // fenced: an owner that lost the partition meanwhile must not cut off records its successor still needs
      const trimmed = await runCommand<number>(this.redis, 'trim', [...this.fenceKeys, outbox, inbox],
        [...this.fenceArgs, floor ?? '', inboxFloor ?? '']);
      if (trimmed === 0) throw new FencedError('trimming the streams');
    } catch (err) {
      if (err instanceof FencedError) throw err; // the partition is lost: the cycle stops
      this.streamsMoved = true;
      this.log.warn({ err: errorText(err), partition: this.partition }, 'trimming failed; will try again');
    }
  }

  /**
   * Graceful hand-off: stop cycling, checkpoint every actor, wait for Postgres, release the lease. The wait is
   * short: the games stand still until the next owner takes over, and a checkpoint that misses it costs that owner
   * only a longer replay (the journal is kept back to the last confirmed checkpoint; a late write is fenced).
   */
  async handOff(timeoutMs = HAND_OFF_CHECKPOINT_WAIT_MS): Promise<void> {
    await this.starting?.catch(() => undefined);
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.cycling?.catch(() => undefined);
    this.leaveGate();
    // after a commit that never went through, the states are ahead of the journal: the next owner rebuilds them
    // from the last checkpoints and the journal instead
    const actors = this.uncommitted || this.dirty ? [] : [...this.actors.values()];
    for (const actor of actors) {
      if (actor.state !== undefined && actor.restarting === null && actor.base?.seq !== actor.seq) this.takeCheckpoint(actor);
    }
    await this.writer.drain(timeoutMs);
    this.writer.stop();
    await runCommand<number>(this.redis, 'release', this.fenceKeys, [this.config.nodeId, this.epoch]).catch(() => 0);
  }

  /** Stops at once, writing nothing more (the partition was lost, or the worker is going away). */
  halt(): void {
    this.halted = true;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.writer.stop();
    this.leaveGate();
  }

  /** Actor ids hosted here, for tests and the cluster page. */
  actorIds(): string[] {
    return [...this.actors.keys()];
  }
}

/** The oldest entry each consumer group (or the named one) still needs: its oldest pending, else its position. */
async function groupFloors(redis: RedisClient, stream: string, only?: string): Promise<string[]> {
  // a stream not made yet has no groups; any other failure must stop the trim, or it would pass a group's floor
  const groups = (await redis.xinfo('GROUPS', stream).catch((err: unknown) => {
    if (/no such key/i.test(errorText(err))) return [];
    throw err;
  })) as unknown[][];
  const floors: string[] = [];
  for (const info of groups) {
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < info.length; i += 2) fields.set(String(info[i]), info[i + 1]);
    const name = String(fields.get('name'));
    if (only && name !== only) continue;
    const pending = (await redis.xpending(stream, name)) as [number, string | null, string | null, unknown];
    floors.push(pending[0] > 0 && pending[1] ? pending[1] : String(fields.get('last-delivered-id')));
  }
  return floors;
}

export class FencedError extends Error {
  constructor(during: string) {
    super(`partition lost to a newer owner while ${during}`);
    this.name = 'FencedError';
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Throws for a schedule no tick could follow: a NaN or zero tick length would never come due again (a bug in the
 * actor, failed as the tick or the input that made it).
 */
function validSchedule(schedule: TickSchedule | null): void {
  if (schedule === null) return;
  if (!(schedule.tickMs > 0 && Number.isFinite(schedule.tickMs)) || !Number.isFinite(schedule.startAt)) {
    throw new Error(`schedule gave tickMs ${schedule.tickMs} and startAt ${schedule.startAt}: a tick length must be a positive number of ms, a start a time`);
  }
}
