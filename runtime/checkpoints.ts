// Checkpoints: actor states in Postgres, written in batches and fenced by the partition epoch.
import { sql, type Kysely } from 'kysely';
import type { Selectable } from 'kysely';
import type { RuntimeTables } from './db.ts';

export interface Checkpoint {
  actorId: string;
  actorType: string;
  partition: number;
  seq: number;
  tick: number;
  state: Uint8Array;
  outboxId: string;
  epoch: number;
  finished: boolean;
}

/** Saves waiting to go to Postgres together, and who waits for each. */
interface Gathering {
  rows: Map<string, Checkpoint>;
  waiters: Array<{ batch: readonly Checkpoint[]; resolve: (written: Set<string>) => void; reject: (err: unknown) => void }>;
}

export class CheckpointStore {
  private gathering: Gathering | null = null;

  /**
   * `coalesceMs`: saves made within this long of the first one go to Postgres as one statement. A worker's
   * partitions each have a checkpoint writer, and they save at their own phases of the tick period: gathered,
   * their rows cost Postgres one statement instead of one each.
   */
  constructor(private readonly db: Kysely<RuntimeTables>, readonly cluster: string, private readonly coalesceMs = 0) {}

  /**
   * Writes a batch; a row whose stored epoch is newer than the writer's (a stale owner), or whose stored journal
   * position is ahead, is left as it is. Returns the ids of the actors whose rows were written.
   */
  save(batch: readonly Checkpoint[]): Promise<Set<string>> {
    if (batch.length === 0) return Promise.resolve(new Set());
    if (this.coalesceMs <= 0) return this.write(batch);
    return new Promise((resolve, reject) => {
      if (!this.gathering) {
        this.gathering = { rows: new Map(), waiters: [] };
        setTimeout(() => this.writeGathered(), this.coalesceMs);
      }
      const { rows, waiters } = this.gathering;
      for (const row of batch) {
        // one statement may write an actor's row once: of two saves of it (an old owner's writer still saving as
        // the new one starts), the newer wins here as it would in the table
        const other = rows.get(row.actorId);
        if (!other || other.epoch < row.epoch || (other.epoch === row.epoch && other.seq <= row.seq)) rows.set(row.actorId, row);
      }
      waiters.push({ batch, resolve, reject });
    });
  }

  private async writeGathered(): Promise<void> {
    const { rows, waiters } = this.gathering!;
    this.gathering = null;
    try {
      const written = await this.write([...rows.values()]);
      for (const { batch, resolve } of waiters) {
        resolve(new Set(batch.filter((row) => written.has(row.actorId) && rows.get(row.actorId) === row).map((row) => row.actorId)));
      }
    } catch (err) {
      for (const { reject } of waiters) reject(err);
    }
  }

  /**
   * The rows travel as one array per column (unnest), so the statement has ten parameters whatever the batch size:
   * building and sending a VALUES list of hundreds of rows cost the node more than the rest of a tick.
   */
  private async write(batch: readonly Checkpoint[]): Promise<Set<string>> {
    const { rows } = await sql<{ actor_id: string }>`
      INSERT INTO checkpoints (cluster, actor_id, actor_type, partition, seq, tick, state, outbox_id, epoch, finished, updated_at)
      SELECT ${this.cluster}::text, actor_id, actor_type, partition, seq, tick, state, outbox_id, epoch, finished, now()
      FROM unnest(${batch.map((c) => c.actorId)}::text[], ${batch.map((c) => c.actorType)}::text[],
        ${batch.map((c) => c.partition)}::integer[], ${batch.map((c) => c.seq)}::integer[], ${batch.map((c) => c.tick)}::integer[],
        ${batch.map((c) => Buffer.from(c.state.buffer, c.state.byteOffset, c.state.byteLength))}::bytea[],
        ${batch.map((c) => c.outboxId)}::text[], ${batch.map((c) => c.epoch)}::bigint[], ${batch.map((c) => c.finished)}::boolean[])
        AS given (actor_id, actor_type, partition, seq, tick, state, outbox_id, epoch, finished)
      ON CONFLICT (cluster, actor_id) DO UPDATE SET
        seq = excluded.seq, tick = excluded.tick, state = excluded.state, outbox_id = excluded.outbox_id,
        epoch = excluded.epoch, finished = excluded.finished, updated_at = excluded.updated_at
      WHERE checkpoints.epoch <= excluded.epoch AND checkpoints.seq <= excluded.seq
      RETURNING actor_id`.execute(this.db);
    return new Set(rows.map((r) => r.actor_id));
  }

  async unfinished(partition: number): Promise<Checkpoint[]> {
    const rows = await this.db.selectFrom('checkpoints').selectAll()
      .where('cluster', '=', this.cluster).where('partition', '=', partition).where('finished', '=', false).execute();
    return rows.map(toCheckpoint);
  }

  async load(actorId: string): Promise<Checkpoint | undefined> {
    const row = await this.db.selectFrom('checkpoints').selectAll()
      .where('cluster', '=', this.cluster).where('actor_id', '=', actorId).executeTakeFirst();
    return row && toCheckpoint(row);
  }
}

function toCheckpoint(row: Selectable<RuntimeTables['checkpoints']>): Checkpoint {
  return {
    actorId: row.actor_id,
    actorType: row.actor_type,
    partition: row.partition,
    seq: row.seq,
    tick: row.tick,
    state: new Uint8Array(row.state),
    outboxId: row.outbox_id,
    epoch: Number(row.epoch),
    finished: row.finished,
  };
}
