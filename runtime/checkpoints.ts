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

export class CheckpointStore {
  constructor(private readonly db: Kysely<RuntimeTables>) {}

  /**
   * Writes a batch; a row whose stored epoch is newer than the writer's (a stale owner), or whose stored journal
   * position is ahead, is left as it is. Returns the ids of the actors whose rows were written.
   */
  async save(batch: readonly Checkpoint[]): Promise<Set<string>> {
    if (batch.length === 0) return new Set();
    const rows = await this.db.insertInto('checkpoints')
      .values(batch.map((c) => ({
        actor_id: c.actorId,
        actor_type: c.actorType,
        partition: c.partition,
        seq: c.seq,
        tick: c.tick,
        state: Buffer.from(c.state.buffer, c.state.byteOffset, c.state.byteLength),
        outbox_id: c.outboxId,
        epoch: c.epoch,
        finished: c.finished,
        updated_at: sql<Date>`now()`,
      })))
      .onConflict((oc) => oc.column('actor_id').doUpdateSet((eb) => ({
        seq: eb.ref('excluded.seq'),
        tick: eb.ref('excluded.tick'),
        state: eb.ref('excluded.state'),
        outbox_id: eb.ref('excluded.outbox_id'),
        epoch: eb.ref('excluded.epoch'),
        finished: eb.ref('excluded.finished'),
        updated_at: eb.ref('excluded.updated_at'),
      })).where((eb) => eb.and([
        eb('checkpoints.epoch', '<=', eb.ref('excluded.epoch')),
        eb('checkpoints.seq', '<=', eb.ref('excluded.seq')),
      ])))
      .returning('actor_id')
      .execute();
    return new Set(rows.map((r) => r.actor_id));
  }

  async unfinished(partition: number): Promise<Checkpoint[]> {
    const rows = await this.db.selectFrom('checkpoints').selectAll()
      .where('partition', '=', partition).where('finished', '=', false).execute();
    return rows.map(toCheckpoint);
  }

  async load(actorId: string): Promise<Checkpoint | undefined> {
    const row = await this.db.selectFrom('checkpoints').selectAll().where('actor_id', '=', actorId).executeTakeFirst();
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
