// Games in storage: a game is created straight in Postgres (its row and players) and on its partition's
// mailbox (the create input, recorded as GameCreated); lookups for the HTTP API and for `welcome`.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { Game } from '../../protocol/engine.ts';
import type { Settings } from '../../protocol/settings.ts';
import type { Producer } from '../../runtime/producer.ts';
import { GAME_ACTOR, type CreateGame } from './game-actor.ts';
import type { SnaketronDb } from './schema.ts';

export interface NewGame {
  gameId: string;
  settings: Settings;
  players: Array<{ userId: string; name: string }>;
  /** start at once after this countdown; absent: a private lobby waiting for its host */
  countdownMs?: number;
  host?: string;
  code?: string;
}

export class GameService {
  constructor(private readonly db: SnaketronDb, private readonly producer: Producer) {}

  /**
   * Creates a game: the row first, then the create input with a submission id derived from the game id, so that
   * creating the same game again (a sweeper finishing a half-made match) stores the input once. Returns the
   * mailbox id of the create input (the game's journal starts after it).
   */
  async create(game: NewGame): Promise<string> {
    const seed = randomBytes(4).readUInt32LE(0);
    // the engine refuses settings or a player count out of range; find out before anything is stored
    Game.create({ ...game.settings, players: game.settings.players }, seed, game.settings.players);
    const init: CreateGame = {
      settings: game.settings, seed: await this.store(game, seed), players: game.players,
      countdownMs: game.countdownMs, host: game.host, code: game.code,
    };
    return this.producer.create(GAME_ACTOR, game.gameId, init, `create:${game.gameId}`);
  }

  /**
   * Stores the game's row and its players in one statement (one round trip: a node creates a game for every match)
   * and returns the game's seed: the one given, or the one stored already when the game exists.
   */
  private async store(game: NewGame, seed: number): Promise<number> {
    const { rows } = await sql<{ seed: string }>`
      with created as (
        insert into games (id, mode, settings, seed, status, partition, code, host, started_at)
        values (${game.gameId}, ${game.settings.mode}, ${JSON.stringify(game.settings)}::jsonb, ${seed},
          ${game.countdownMs === undefined ? 'lobby' : 'running'}, ${this.producer.partitionOf(game.gameId)},
          ${game.code ?? null}, ${game.host ?? null}, ${startsAt(game)})
        on conflict (id) do nothing
        returning seed
      ), seated as (
        insert into game_players (game_id, snake_id, user_id, name, team)
        select ${game.gameId}, p.n - 1, p.user_id, p.name, (p.n - 1) % 2
        from created, unnest(${game.players.map((p) => p.userId)}::text[], ${game.players.map((p) => p.name)}::text[])
          with ordinality as p(user_id, name, n)
      )
      select seed from created
      union all
      select seed from games where id = ${game.gameId} and not exists (select 1 from created)`.execute(this.db);
    if (rows[0]) return Number(rows[0].seed);
    // created by another node at this very moment: its row was not committed when this statement began
    const row = await this.db.selectFrom('games').select('seed').where('id', '=', game.gameId).executeTakeFirstOrThrow();
    return Number(row.seed);
  }

  /**
   * A joiner's seat as its join will make it (the next free one), stored as the join goes out so that welcome.game
   * finds the lobby at once; the recorder writes the lobby's true seats after each join or leave. A seat stored
   * already (another joiner's) is left alone.
   */
  async storeJoiner(gameId: string, snakeId: number, user: { userId: string; name: string }): Promise<void> {
    await this.db.insertInto('game_players').values({ game_id: gameId, snake_id: snakeId, user_id: user.userId, name: user.name, team: snakeId % 2 })
      .onConflict((oc) => oc.columns(['game_id', 'snake_id']).doNothing()).execute();
  }

  /** Takes back the seat storeJoiner stored for a join the game refused (it started, or another join came first). */
  async forgetJoiner(gameId: string, userId: string): Promise<void> {
    await this.db.deleteFrom('game_players').where('game_id', '=', gameId).where('user_id', '=', userId).execute();
  }

  async exists(gameId: string): Promise<boolean> {
    return (await this.db.selectFrom('games').select('id').where('id', '=', gameId).executeTakeFirst()) !== undefined;
  }

  async byCode(code: string): Promise<string | null> {
    const row = await this.db.selectFrom('games').select('id').where('code', '=', code).where('status', '=', 'lobby')
      .orderBy('created_at', 'desc').executeTakeFirst();
    return row?.id ?? null;
  }

  /** For `welcome.game`: the newest games storage has as unfinished with this user in them, newest first (storage lags the games a little). */
  async unfinishedGamesOf(userId: string, limit = 3): Promise<string[]> {
    const rows = await this.db.selectFrom('game_players').innerJoin('games', 'games.id', 'game_players.game_id')
      .select('games.id').where('game_players.user_id', '=', userId).where('games.status', 'in', ['lobby', 'running'])
      .orderBy('games.created_at', 'desc').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  async info(gameId: string): Promise<Record<string, unknown> | null> {
    const game = await this.db.selectFrom('games').selectAll().where('id', '=', gameId).executeTakeFirst();
    if (!game) return null;
    const players = await this.db.selectFrom('game_players').selectAll().where('game_id', '=', gameId).orderBy('snake_id').execute();
    const hasReplay = await this.db.selectFrom('replays').select('game_id').where('game_id', '=', gameId).executeTakeFirst();
    return {
      id: game.id, mode: game.mode, status: game.status, settings: game.settings, partition: game.partition,
      // a private game's code is its invitation: the API, open to anyone with the game's id, does not show it
      private: game.code !== null, host: game.host, createdAt: game.created_at, startedAt: game.started_at, endedAt: game.ended_at,
      ticks: game.ticks, winner: game.winner, winningTeam: game.winning_team,
      players: players.map((p) => ({ userId: p.user_id, name: p.name, snakeId: p.snake_id, team: p.team })),
      results: game.status === 'complete'
        ? players.map((p) => ({ userId: p.user_id, snakeId: p.snake_id, team: p.team, score: p.score, length: p.length, alive: p.alive, place: p.place }))
        : null,
      replay: hasReplay ? `/api/games/${game.id}/replay` : null,
    };
  }
}

/**
 * When a matched game makes its first step: at the end of its countdown (its actor aligns that to the partition's
 * tick grid, within 5% of the countdown). A private game gets its start time when its host starts it.
 */
function startsAt(game: NewGame): Date | null {
  return game.countdownMs === undefined ? null : new Date(Date.now() + game.countdownMs);
}
