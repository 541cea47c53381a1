// Following actors live from anywhere in the cluster: a Follower keeps an exact replica of each actor it is asked
// about (its last checkpoint plus the journal after it, stepped with the actor's own code) and then applies every
// record the actor's partition commits, telling its handler after each one. An observer that starts following an
// actor mid-game thus gets a state consistent with the records that follow; this is how a node serves an actor's
// outputs to its clients (actors/snaketron/fanout.ts) wherever the actor runs.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ActorContext, ActorType } from './actor.ts';
import type { ClusterSource } from './cluster-reader.ts';
import { applyRecord, fieldValue, JournalGapError, rebuildActor, tickGrid } from './journal.ts';
import type { Logger } from './log.ts';
import { compareStreamIds, decodeBatch, type JournalRecord } from './records.ts';
import { readStreams, type RedisClient, type StreamsReply } from './redis.ts';

/** One followed actor: its state as of its record `seq`. */
export class Replica<S> {
  /** undefined until the actor exists (its create is on its way) */
  state: S | undefined = undefined;
  /** the number of the last journal record applied */
  seq = 0;
  /** the mailbox id of the last input applied ('' before one) */
  lastInput = '';
  /** when the last record arrived (a running actor whose records stop has lost its owner) */
  lastRecordAt = Date.now();
  /** false while (re)built from storage: records that arrive meanwhile wait in `buffered` */
  loaded = false;
  loading: Promise<void> | null = null;
  buffered: JournalRecord[] = [];

  constructor(readonly actorId: string, readonly partition: number, readonly align: ActorContext['align']) {}

  /** Whether the replica has applied the input stored at this mailbox id (an actor applies its inputs in order). */
  applied(inputId: string): boolean {
    return this.lastInput !== '' && compareStreamIds(inputId, this.lastInput) <= 0;
  }
}

/** What a follower tells its user. */
export interface FollowerHandler<S> {
  /** The replica applied `record` (its outputs are the actor's, `record.o`). */
  applied(replica: Replica<S>, record: JournalRecord): void;
  /** After the records of one outbox entry (one commit of a partition) were applied; its id tells when it was committed. */
  afterEntry?(entryId: string): void;
  /**
   * The replica holds the actor (as of its checkpoint and journal): after its first load, or after a rebuild from
   * storage (`rebuilt`), which follows a gap in its records (a reader that fell behind a trim) or a record it could
   * not apply. Records in the gap are not told one by one: an observer that shows the state sends it whole. The
   * records that arrived during the load follow through `applied`.
   */
  loaded?(replica: Replica<S>, rebuilt: boolean): void;
  /** The replica is being rebuilt: nothing is told of it until `loaded`. */
  rebuilding?(replica: Replica<S>): void;
}

export interface FollowerOptions {
  /** names the follower's Redis connection and its place among the outboxes' readers (default 'follower') */
  name?: string;
}

/** How long one blocking read of the outboxes waits: partitions followed anew join the read after this. */
const BLOCK_MS = 50;
/** The most outbox entries one read takes per partition. */
const READ_COUNT = 1000;
/** How often the follower tells the partitions' owners how far it has read (they trim no further meanwhile). */
const REGISTER_MS = 5000;
/** How often a replica whose rebuild failed (storage away) is tried again. */
const RETRY_MS = 250;

/**
 * Follows the outboxes of the partitions holding the actors it is asked about. Start it, then `follow` an actor
 * (resolves once its replica is loaded) and hear of each record it commits through the handler; `forget` it when
 * done. Records of actors not followed are skipped. One blocking Redis connection of its own.
 */
export class Follower<S> {
  private readonly replicas = new Map<string, Replica<S>>();
  /** outbox position per followed partition */
  private readonly positions = new Map<number, string>();
  private readonly reader: RedisClient;
  private readonly readerId: string;
  private running = false;
  private loop: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;

  /**
   * `cluster`: the node's Runtime, or, in a process that hosts no actors, a ClusterReader (runtime/cluster-reader.ts).
   */
  constructor(
    private readonly cluster: ClusterSource,
    private readonly actor: ActorType<S>,
    private readonly handler: FollowerHandler<S>,
    private readonly log: Logger,
    options: FollowerOptions = {},
  ) {
    const name = options.name ?? 'follower';
    this.reader = cluster.connectReader(name);
    this.readerId = `${cluster.nodeId}/${name}`;
  }

  start(): void {
    this.running = true;
    this.loop = this.read();
    this.retryTimer = setInterval(() => this.retryRebuilds(), RETRY_MS);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearInterval(this.retryTimer);
    await this.loop?.catch(() => undefined);
    this.reader.disconnect();
  }

  get size(): number {
    return this.replicas.size;
  }

  /** The replica of an actor followed already (loaded or not), without loading it. */
  get(actorId: string): Replica<S> | undefined {
    return this.replicas.get(actorId);
  }

  /** The replica of an actor, followed from now on: a new one is not loaded yet (see follow). */
  track(actorId: string): Replica<S> {
    let replica = this.replicas.get(actorId);
    if (!replica) {
      const partition = this.cluster.partitionOf(actorId);
      replica = new Replica<S>(actorId, partition, tickGrid(partition, this.cluster.partitions));
      this.replicas.set(actorId, replica);
    }
    return replica;
  }

  /**
   * The replica of an actor, followed from now on; resolves once it is loaded (its state is undefined when the actor
   * does not exist). `createdId`, when known, is the mailbox id of the actor's create input: with no checkpoint yet,
   * its journal is read from that time instead of from the start of the outbox.
   */
  async follow(actorId: string, createdId?: string): Promise<Replica<S>> {
    const replica = this.track(actorId);
    if (!replica.loaded) {
      replica.loading ??= this.load(replica, createdId, false).finally(() => { replica.loading = null; });
      await replica.loading;
    }
    return replica;
  }

  /** Stops following an actor (its partition too, once no followed actor is left in it). */
  forget(actorId: string): void {
    const replica = this.replicas.get(actorId);
    if (!replica) return;
    this.replicas.delete(actorId);
    for (const other of this.replicas.values()) if (other.partition === replica.partition) return;
    this.positions.delete(replica.partition);
  }

  /** Replica = last checkpoint + the journal after it; records the reader delivers meanwhile are buffered. */
  private async load(replica: Replica<S>, createdId: string | undefined, rebuilt: boolean): Promise<void> {
    if (!this.positions.has(replica.partition)) {
      // followed from the newest entry on: what came before is the checkpoint's and the journal read's to bring
      const last = await this.cluster.redis.xrevrange(this.cluster.keys.outbox(replica.partition), '+', '-', 'COUNT', 1);
      if (!this.positions.has(replica.partition)) this.positions.set(replica.partition, last[0]?.[0] ?? '0-0');
    }
    // a checkpoint read just before its owner confirmed a newer one and trimmed the journal up to that shows a
    // jump in the journal after it: the newer checkpoint is read then
    for (let attempt = 1; ; attempt++) {
      if (await this.rebuild(replica, createdId)) break;
      if (attempt === 3) throw new Error(`journal of ${replica.actorId} has a gap after its checkpoint`);
    }
    replica.loaded = true;
    const buffered = replica.buffered;
    replica.buffered = [];
    this.handler.loaded?.(replica, rebuilt);
    // then what arrived meanwhile (a gap among it starts another rebuild, which takes the rest)
    for (const record of buffered) {
      if (replica.loaded) this.apply(replica, record);
      else replica.buffered.push(record);
    }
  }

  /** Sets a replica to its checkpoint and the journal after it; false when the journal jumps past the checkpoint. */
  private async rebuild(replica: Replica<S>, createdId?: string): Promise<boolean> {
    const checkpoint = await this.cluster.checkpoints.load(replica.actorId);
    // without a checkpoint the journal is read from the actor's creation when known (a new actor), else whole
    const fromMs = !checkpoint && createdId ? Number(createdId.split('-')[0]) : undefined;
    try {
      const rebuilt = await rebuildActor(this.cluster.redis, this.cluster.keys, replica.partition, this.actor, replica.actorId, {
        state: checkpoint ? this.actor.decode(checkpoint.state) : undefined, seq: checkpoint?.seq ?? 0, outboxId: checkpoint?.outboxId ?? '-',
      }, replica.align, fromMs);
      replica.state = rebuilt.state;
      replica.seq = rebuilt.seq;
      if (rebuilt.lastInput !== '') replica.lastInput = rebuilt.lastInput;
      return true;
    } catch (err) {
      if (err instanceof JournalGapError) return false;
      throw err;
    }
  }

  private async read(): Promise<void> {
    let lastRegister = 0;
    while (this.running) {
      if (this.positions.size === 0) {
        await sleep(20);
        continue;
      }
      const partitions = [...this.positions.keys()];
      const streams = partitions.map((p) => this.cluster.keys.outbox(p));
      let reply: StreamsReply | null;
      try {
        reply = await readStreams(this.reader, ['COUNT', READ_COUNT], BLOCK_MS, streams, partitions.map((p) => this.positions.get(p)!));
      } catch (err) {
        if (!this.running) return;
        this.log.warn({ err: String(err) }, 'outbox read failed; retrying');
        await sleep(200);
        continue;
      }
      for (const [streamBuf, entries] of reply ?? []) {
        const partition = partitions[streams.indexOf(streamBuf.toString())];
        for (const [idBuf, fields] of entries) {
          const id = idBuf.toString();
          // a partition forgotten meanwhile is not followed again by its last entries
          if (this.positions.has(partition)) this.positions.set(partition, id);
          let records: JournalRecord[];
          try {
            records = decodeBatch(fieldValue(fields, 'd')).records;
          } catch (err) {
            this.log.error({ err: String(err), partition }, 'undecodable outbox entry');
            continue;
          }
          this.dispatch(records);
          this.handler.afterEntry?.(id);
        }
      }
      if (Date.now() - lastRegister > REGISTER_MS) {
        lastRegister = Date.now();
        await this.register().catch(() => undefined);
      }
    }
  }

  private dispatch(records: readonly JournalRecord[]): void {
    for (const record of records) {
      const replica = this.replicas.get(record.a);
      if (!replica) continue;
      if (!replica.loaded) {
        replica.buffered.push(record);
        continue;
      }
      this.apply(replica, record);
    }
  }

  /** Tells the partition owners how far this follower has read, so trimming waits for it. */
  private async register(): Promise<void> {
    const now = Date.now();
    await Promise.all([...this.positions].map(([p, id]) => this.cluster.redis.hset(this.cluster.keys.readers(p), this.readerId, `${id} ${now}`)));
  }

  /** Steps a replica by a record and tells the handler; a gap or a record that does not apply rebuilds it. */
  private apply(replica: Replica<S>, record: JournalRecord): void {
    if (record.n <= replica.seq) return;
    if (record.n !== replica.seq + 1) {
      this.log.warn({ actor: replica.actorId, have: replica.seq, got: record.n }, 'replica gap; rebuilding');
      this.startRebuild(replica, record);
      return;
    }
    try {
      replica.state = applyRecord(this.actor, replica.state, record, replica.align);
    } catch (err) {
      // a replica that cannot follow its actor is rebuilt from storage; the other actors go on
      this.log.error({ err: String(err), actor: replica.actorId, record: record.n }, 'replica could not apply a record; rebuilding');
      this.startRebuild(replica, record);
      return;
    }
    replica.seq = record.n;
    replica.lastRecordAt = Date.now();
    if (record.i?.length) replica.lastInput = record.i[record.i.length - 1].s;
    this.handler.applied(replica, record);
  }

  /** Rebuilds a replica from storage, keeping `record` and those that follow for after it. */
  private startRebuild(replica: Replica<S>, record: JournalRecord): void {
    replica.loaded = false;
    replica.buffered = [record];
    this.handler.rebuilding?.(replica);
    this.resume(replica);
  }

  private resume(replica: Replica<S>): void {
    if (replica.loading) return;
    replica.loading = this.load(replica, undefined, true)
      .catch((err: unknown) => this.log.error({ err: String(err), actor: replica.actorId }, 'replica rebuild failed; trying again'))
      .finally(() => { replica.loading = null; });
  }

  /** A rebuild that failed (storage away) is tried again while the actor is followed. */
  private retryRebuilds(): void {
    for (const replica of this.replicas.values()) {
      if (!replica.loaded && !replica.loading && replica.buffered.length > 0) this.resume(replica);
    }
  }
}
