// Games created straight in storage (GameService): the row and its players in Postgres, and the create input on
// the game's partition mailbox. Creating the same game again, as a sweeper finishing a half-made match does, or
// two nodes at once, stores it once and agrees on its seed.
import { expect } from 'chai';
import { GameService } from '../actors/snaketron/games.ts';
import { SNAKETRON_MIGRATIONS, type SnaketronDb } from '../actors/snaketron/schema.ts';
import { defaultSettings } from '../protocol/settings.ts';
import { connectDatabase, migrate } from '../runtime/db.ts';
import { Keys } from '../runtime/keys.ts';
import { partitionOf } from '../runtime/partition.ts';
import { Producer } from '../runtime/producer.ts';
import { connectRedis, type RedisClient } from '../runtime/redis.ts';
import { decodeInput } from '../runtime/records.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, type SpecDatabase } from './support/env.ts';

const PARTITIONS = 4;

describe('games created in storage', function () {
  this.timeout(30_000);
  let database: SpecDatabase;
  let db: SnaketronDb;
  let redis: RedisClient;
  let prefix: string;
  let keys: Keys;
  let games: GameService;

  before(async () => {
    database = await freshDatabase('games');
    db = connectDatabase(database.url);
    await migrate(db, 'snaketron_migrations', SNAKETRON_MIGRATIONS);
    prefix = freshPrefix('games');
    keys = new Keys(prefix);
    redis = connectRedis(REDIS_URL);
    games = new GameService(db, new Producer(redis, keys, PARTITIONS));
  });
  after(async () => {
    redis?.disconnect();
    await db?.destroy();
    await dropKeys(prefix);
    await database?.drop();
  });

  /** The create inputs on a game's partition mailbox, decoded. */
  async function createInputs(gameId: string): Promise<Array<{ seed: number; players: unknown }>> {
    const entries = await redis.xrangeBuffer(keys.inbox(partitionOf(gameId, PARTITIONS)), '-', '+');
    return entries.map(([, fields]) => decodeInput(fields[1]))
      .filter((input) => input.a === gameId && input.ty !== undefined)
      .map((input) => input.b as { seed: number; players: unknown });
  }

  it('stores a matched game\'s row (running, with its partition) and its players in seat order, and one create input', async () => {
    const players = [{ userId: 'u-ann', name: 'ann' }, { userId: 'u-bob', name: 'bob' }, { userId: 'u-cy', name: 'cy' }];
    const before = Date.now();
    await games.create({ gameId: 'g-three', settings: { ...defaultSettings('ffa'), players: 3 }, players, countdownMs: 1500 });
    const after = Date.now();

    const row = await db.selectFrom('games').selectAll().where('id', '=', 'g-three').executeTakeFirstOrThrow();
    expect(row).to.include({ mode: 'ffa', status: 'running', partition: partitionOf('g-three', PARTITIONS), code: null, host: null });
    // its first step: the end of its countdown, not the moment it was stored
    expect(row.started_at!.getTime()).to.be.within(before + 1500, after + 1500);
    expect(row.settings).to.deep.include({ players: 3 });
    const seated = await db.selectFrom('game_players').select(['snake_id', 'user_id', 'name', 'team']).where('game_id', '=', 'g-three').orderBy('snake_id').execute();
    expect(seated).to.deep.equal([
      { snake_id: 0, user_id: 'u-ann', name: 'ann', team: 0 },
      { snake_id: 1, user_id: 'u-bob', name: 'bob', team: 1 },
      { snake_id: 2, user_id: 'u-cy', name: 'cy', team: 0 },
    ]);
    const inputs = await createInputs('g-three');
    expect(inputs).to.have.length(1);
    expect(inputs[0].seed).to.equal(Number(row.seed));
    expect(inputs[0].players).to.deep.equal(players);
  });

  it('stores a private lobby waiting for its host with its code, no start time and no players yet', async () => {
    await games.create({ gameId: 'g-lobby', settings: { ...defaultSettings('duel') }, players: [], host: 'u-ann', code: 'ABCDEFGH' });
    const row = await db.selectFrom('games').selectAll().where('id', '=', 'g-lobby').executeTakeFirstOrThrow();
    expect(row).to.include({ status: 'lobby', code: 'ABCDEFGH', host: 'u-ann', started_at: null });
    expect(await db.selectFrom('game_players').select('snake_id').where('game_id', '=', 'g-lobby').execute()).to.have.length(0);
  });

  it('stores a game created again, or by two nodes at once, once: one row, its players once, one input, one seed', async () => {
    const players = [{ userId: 'u-dee', name: 'dee' }, { userId: 'u-eve', name: 'eve' }];
    const game = { gameId: 'g-twice', settings: defaultSettings('duel'), players, countdownMs: 1500 };
    await Promise.all([games.create(game), games.create(game)]);
    await games.create(game);

    const rows = await db.selectFrom('games').select('seed').where('id', '=', 'g-twice').execute();
    expect(rows).to.have.length(1);
    expect(await db.selectFrom('game_players').select('snake_id').where('game_id', '=', 'g-twice').execute()).to.have.length(2);
    const inputs = await createInputs('g-twice');
    expect(inputs, 'the create input, stored once').to.have.length(1);
    expect(inputs[0].seed).to.equal(Number(rows[0].seed));
  });

  it('refuses settings the engine refuses before anything is stored', async () => {
    const settings = { ...defaultSettings('duel'), width: 5 };
    let error: unknown;
    try {
      await games.create({ gameId: 'g-bad', settings, players: [{ userId: 'u-f', name: 'f' }, { userId: 'u-g', name: 'g' }], countdownMs: 1500 });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/width/);
    expect(await db.selectFrom('games').select('id').where('id', '=', 'g-bad').execute()).to.have.length(0);
    expect(await createInputs('g-bad')).to.have.length(0);
  });
});
