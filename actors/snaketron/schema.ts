// SnakeTron's own Postgres tables (beside the runtime's checkpoints and nodes) and their migrations.
import { sql, type Generated, type Kysely, type Migration } from 'kysely';
import type { RuntimeTables } from '../../runtime/db.ts';

/** `closed`: a private lobby everyone left, ended without being played */
export type GameRowStatus = 'lobby' | 'running' | 'complete' | 'failed' | 'closed';

export interface UserTable {
  id: string;
  name: string;
  created_at: Generated<Date>;
}

export interface GameTable {
  id: string;
  mode: string;
  settings: unknown;
  seed: number;
  status: GameRowStatus;
  partition: number;
  code: string | null;
  host: string | null;
  created_at: Generated<Date>;
  started_at: Date | null;
  ended_at: Date | null;
  ticks: number | null;
  winner: number | null;
  winning_team: number | null;
}

export interface GamePlayerTable {
  game_id: string;
  snake_id: number;
  user_id: string;
  name: string;
  team: number;
  score: number | null;
  length: number | null;
  alive: boolean | null;
  place: number | null;
}

export interface ReplayTable {
  game_id: string;
  version: number;
  data: Buffer;
  ticks: number;
  bytes: number;
  created_at: Generated<Date>;
}

export interface SnaketronTables extends RuntimeTables {
  users: UserTable;
  games: GameTable;
  game_players: GamePlayerTable;
  replays: ReplayTable;
}

export type SnaketronDb = Kysely<SnaketronTables>;

export const SNAKETRON_MIGRATIONS: Record<string, Migration> = {
  '001_users_games_replays': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createTable('games')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('mode', 'text', (c) => c.notNull())
        .addColumn('settings', 'jsonb', (c) => c.notNull())
        .addColumn('seed', 'bigint', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('partition', 'integer', (c) => c.notNull())
        .addColumn('code', 'text')
        .addColumn('host', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('started_at', 'timestamptz')
        .addColumn('ended_at', 'timestamptz')
        .addColumn('ticks', 'integer')
        .addColumn('winner', 'integer')
        .addColumn('winning_team', 'integer')
        .execute();
      await db.schema.createIndex('games_code').on('games').column('code').where(sql.ref('code'), 'is not', null).execute();
      await db.schema.createIndex('games_created').on('games').column('created_at').execute();
      await db.schema.createTable('game_players')
        .addColumn('game_id', 'text', (c) => c.notNull().references('games.id').onDelete('cascade'))
        .addColumn('snake_id', 'integer', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('team', 'integer', (c) => c.notNull())
        .addColumn('score', 'integer')
        .addColumn('length', 'integer')
        .addColumn('alive', 'boolean')
        .addColumn('place', 'integer')
        .addPrimaryKeyConstraint('game_players_pk', ['game_id', 'snake_id'])
        .execute();
      await db.schema.createIndex('game_players_user').on('game_players').column('user_id').execute();
      await db.schema.createTable('replays')
        .addColumn('game_id', 'text', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('data', 'bytea', (c) => c.notNull())
        .addColumn('ticks', 'integer', (c) => c.notNull())
        .addColumn('bytes', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
};
