// Stores inputs in actors' mailboxes: what a WebSocket node (or any client of the runtime) uses to create actors
// and send them inputs. A stored input is acknowledged: the runtime applies it exactly once.
import { randomBytes } from 'node:crypto';
import { ConfigurationError, InputError } from './errors.ts';
import type { Keys } from './keys.ts';
import { partitionOf } from './partition.ts';
import { encodeRecord, RECORD_VERSION, type InputEnvelope } from './records.ts';
import { Script, type RedisClient } from './redis.ts';

/** Stores a partition's inputs in order, each once; its keys are the inbox, the ended set and the markers (see send). */
const SUBMIT = Script.load(new URL('./commands/submit.lua', import.meta.url));
/** How long a submission id is remembered, so that a retried submit is stored once. */
const SUBMISSION_TTL_MS = 10 * 60_000;
/** The most inputs one script call stores, so that a burst does not hold Redis in one long script. */
const MAX_PER_CALL = 256;

/** A submit for an actor that has finished: it was not stored (nothing could ever apply it). */
export class ActorFinishedError extends Error {
  constructor(readonly actorId: string) {
    super(`actor ${actorId} has finished`);
    this.name = 'ActorFinishedError';
  }
}

interface Pending {
  actorId: string;
  /** a create: stored whatever the set of finished actors says (the executor refuses a second create) */
  create: boolean;
  submissionId: string;
  /** the submitter gave the submission id (to retry with): the input gets a marker of its own */
  named: boolean;
  bytes: Buffer;
  resolve: (id: string) => void;
  reject: (err: unknown) => void;
}

export class Producer {
  private counter = 0;
  private readonly idPrefix = randomBytes(6).toString('base64url');
  private pending: Pending[] = [];
  private flushing: NodeJS.Immediate | NodeJS.Timeout | null = null;

  /**
   * `coalesceMs`: submits made within this long of each other go to Redis together, in one write (each is still
   * its own idempotent command with its own reply). 0 gathers those of one event-loop turn: a WebSocket node gets
   * many clients' inputs per turn, and each write to Redis is a system call that costs more than the command.
   */
  constructor(readonly redis: RedisClient, readonly keys: Keys, readonly partitions: number, readonly coalesceMs = 0) {}

  /**
   * A producer for a process that hosts no actors (a matchmaker, a tool): it takes the partition count the cluster
   * was started with, so what it stores is where the cluster's nodes read. (Given another count, a producer stores
   * inputs in mailboxes no node reads, and acknowledges them all the same.)
   */
  static async forCluster(redis: RedisClient, keys: Keys, coalesceMs = 0): Promise<Producer> {
    const stored = await redis.hget(keys.cluster, 'partitions');
    if (stored === null) {
      throw new ConfigurationError(`no cluster with prefix ${keys.prefix} has started yet: start a node first (its first start fixes the partition count)`);
    }
    return new Producer(redis, keys, Number(stored), coalesceMs);
  }

  partitionOf(actorId: string): number {
    return partitionOf(actorId, this.partitions);
  }

  /** A fresh submission id; pass the same id again when retrying a submit so it is stored once. */
  newSubmissionId(): string {
    return `${this.idPrefix}.${(++this.counter).toString(36)}`;
  }

  /**
   * Stores an input in the actor's mailbox. Resolves with its stream id once Redis holds it: the ack. Rejects with
   * ActorFinishedError, storing nothing, when the actor's end is committed already. `submissionId`: to retry a
   * submit whose outcome is unknown, pass the id of the first attempt (see newSubmissionId); it is stored once.
   * (What was in flight when the connection to Redis dropped is sent again by this producer and stored once
   * without one.)
   */
  submit(actorId: string, input: unknown, submissionId?: string): Promise<string> {
    return this.store({ v: RECORD_VERSION, id: submissionId ?? this.newSubmissionId(), a: actorId, b: input }, submissionId !== undefined);
  }

  /** Creates an actor: its create input goes to its partition's mailbox (an application's record of the actor's creation: SnakeTron's GameCreated). */
  create(actorType: string, actorId: string, init: unknown, submissionId?: string): Promise<string> {
    return this.store({ v: RECORD_VERSION, id: submissionId ?? this.newSubmissionId(), a: actorId, ty: actorType, b: init }, submissionId !== undefined);
  }

  private store(envelope: InputEnvelope, named: boolean): Promise<string> {
    let bytes: ReturnType<typeof encodeRecord>;
    try {
      bytes = encodeRecord(envelope);
    } catch (err) {
      const what = envelope.ty !== undefined ? `the create of ${envelope.a}` : `an input for ${envelope.a}`;
      return Promise.reject(new InputError(`${what} cannot be stored (${err instanceof Error ? err.message : String(err)}): inputs are msgpack values, with no integer beyond 64 bits and no cycles`));
    }
    return new Promise<string>((resolve, reject) => {
      this.pending.push({
        actorId: envelope.a, create: envelope.ty !== undefined, submissionId: envelope.id, named, bytes, resolve, reject,
      });
      this.flushing ??= this.coalesceMs > 0 ? setTimeout(() => this.flush(), this.coalesceMs) : setImmediate(() => this.flush());
    });
  }

  /**
   * Sends every pending submit at once: one script call per partition stores that partition's inputs in order, and
   * the client pipelines the calls into one write.
   */
  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.flushing = null;
    const byPartition = new Map<number, Pending[]>();
    for (const pending of batch) {
      const partition = this.partitionOf(pending.actorId);
      const group = byPartition.get(partition);
      if (group) group.push(pending);
      else byPartition.set(partition, [pending]);
    }
    for (const [partition, group] of byPartition) {
      for (let from = 0; from < group.length; from += MAX_PER_CALL) this.send(partition, group.slice(from, from + MAX_PER_CALL));
    }
  }

  /**
   * One script call: the call has a marker of its own (a resend of it gets the first one's ids), and so has each
   * input whose submitter named it. A marker per input would cost Redis a key for each input for as long as
   * markers are kept (285 bytes each: 800 MB for 2,500 players turning twice a second).
   */
  private send(partition: number, group: Pending[]): void {
    const keys = [this.keys.inbox(partition), this.keys.ended(partition), this.keys.submission(partition, this.newSubmissionId())];
    const args: Array<Buffer | number | string> = [SUBMISSION_TTL_MS];
    for (const { actorId, create, submissionId, named, bytes } of group) {
      if (named) keys.push(this.keys.submission(partition, submissionId));
      args.push(create ? '' : actorId, bytes, named ? keys.length : 0);
    }
    SUBMIT.run<string>(this.redis, keys, args).then(
      (reply) => {
        const ids = reply.split(' ');
        group.forEach(({ actorId, resolve, reject }, i) => (ids[i] === '0' ? reject(new ActorFinishedError(actorId)) : resolve(ids[i])));
      },
      (err: unknown) => group.forEach(({ reject }) => reject(err)));
  }
}
