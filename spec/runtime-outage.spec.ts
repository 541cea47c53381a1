// The runtime while its stores go away: a Postgres server of the spec's own stopped for several seconds (games keep
// ticking, checkpoints wait and catch up, the journal is not trimmed past what the stored checkpoints need), and a
// Redis server of the spec's own (append-only, fsync always) shut down and started again (the runtime reconnects
// and loses no acknowledged input).
import { expect } from 'chai';
import pg from 'pg';
import { sql } from 'kysely';
import { connectDatabase } from '../runtime/db.ts';
import { Keys } from '../runtime/keys.ts';
import { createLogger } from '../runtime/log.ts';
import { partitionOf } from '../runtime/partition.ts';
import { compareStreamIds as compareIds, decodeBatch, type JournalRecord } from '../runtime/records.ts';
import { fieldValue } from '../runtime/journal.ts';
import { connectRedis, type RedisClient } from '../runtime/redis.ts';
import { Producer } from '../runtime/producer.ts';
import { Runtime, type RuntimeOptions } from '../runtime/runtime.ts';
import { defaultSettings, type Settings } from '../protocol/settings.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, sleep, waitFor } from './support/env.ts';
import { JournalCollector, readDeadLetters, verifyGame } from './support/journal.ts';
import { GameDriver } from './support/driver.ts';
import { CuttingProxy, freePort, SpecPostgres, SpecRedis } from './support/processes.ts';

const GAMES = new URL('../actors/snaketron/game-actor.ts', import.meta.url).href;
const PARTITIONS = 4;
/** Games of ~100 ticks, so they outlive the outage. */
const LONG_DUEL: Settings = { ...defaultSettings('duel'), width: 200, height: 200, tickMs: 50 };

interface CheckpointRow {
  actor_id: string;
  partition: number;
  seq: number;
  tick: number;
  outbox_id: string;
  epoch: string;
  finished: boolean;
}

async function readCheckpoints(url: string): Promise<CheckpointRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<CheckpointRow>('SELECT actor_id, partition, seq, tick, outbox_id, epoch, finished FROM checkpoints')).rows;
  } finally {
    await client.end();
  }
}

/** Every record of every actor still in a partition's outbox, with the id of the entry holding it. */
async function outboxRecords(redis: RedisClient, keys: Keys, partition: number): Promise<Array<{ id: string; record: JournalRecord }>> {
  const out: Array<{ id: string; record: JournalRecord }> = [];
  for (const [id, fields] of await redis.xrangeBuffer(keys.outbox(partition), '-', '+')) {
    for (const record of decodeBatch(fieldValue(fields, 'd')).records) out.push({ id: id.toString(), record });
  }
  return out;
}

function startRuntime(options: Pick<RuntimeOptions, 'redisUrl' | 'databaseUrl' | 'prefix'>, label: string): Promise<Runtime> {
  return Runtime.start({
    ...options, actorModules: [GAMES], partitions: PARTITIONS, workers: 2, leaseMs: 1500,
    logger: createLogger({ spec: label }, process.env.SNAKETRON_LOG_LEVEL ?? 'silent'),
  });
}

interface OwnRedisRun {
  server: SpecRedis;
  options: Pick<RuntimeOptions, 'redisUrl' | 'databaseUrl' | 'prefix'>;
  collector: JournalCollector;
  /** the node running the games; a spec that replaces it sets the new one here, to be stopped at the end */
  runtime: Runtime;
  driver: GameDriver;
  games: string[];
  /** every game's journal against its acked inputs and dead letters */
  verify(): Promise<void>;
}

/**
 * Runs `body` against a node on a Redis server of the spec's own, with `count` long duels running and turning
 * (10 ticks in); stops and removes everything after it.
 */
async function onOwnRedis(label: string, count: number, body: (run: OwnRedisRun) => Promise<void>): Promise<void> {
  const server = await SpecRedis.start();
  const db = await freshDatabase(label);
  const options = { redisUrl: server.url, databaseUrl: db.url, prefix: freshPrefix(label) };
  const keys = new Keys(options.prefix);
  const collector = new JournalCollector(server.url, keys, PARTITIONS);
  await collector.start();
  let run: OwnRedisRun | null = null;
  let runtime: Runtime | null = null;
  try {
    runtime = await startRuntime(options, label);
    await waitFor('the node to own its partitions', () => runtime!.isSettled());
    const driver = new GameDriver(runtime.producer, collector);
    const games = await driver.createDuels(count, { settings: LONG_DUEL });
    driver.startTurning(60);
    await waitFor('games to be running', () => games.every((g) => collector.lastTick(g) >= 10));
    run = {
      server, options, collector, runtime, driver, games,
      async verify() {
        const dead = await readDeadLetters(server.url, keys, PARTITIONS);
        for (const g of games) verifyGame(collector.records.get(g) ?? [], driver.acked.get(g)!, dead.of(g));
      },
    };
    await body(run);
  } finally {
    await run?.driver.stopTurning();
    await (run?.runtime ?? runtime)?.stop(false);
    await collector.stop();
    await server.destroy();
    await db.drop();
  }
}

describe('runtime through store outages', function () {
  this.timeout(120000);

  it('keeps games ticking while Postgres is down; checkpoints catch up after; the journal waits for them', async () => {
    const postgres = await SpecPostgres.start();
    const prefix = freshPrefix('pg-outage');
    const keys = new Keys(prefix);
    const redis = connectRedis(REDIS_URL);
    const collector = new JournalCollector(REDIS_URL, keys, PARTITIONS);
    await collector.start();
    let runtime: Runtime | null = null;
    let driver: GameDriver | null = null;
    try {
      runtime = await startRuntime({ redisUrl: REDIS_URL, databaseUrl: postgres.url(), prefix }, 'pg-outage');
      await waitFor('the node to own its partitions', () => runtime!.isSettled());
      driver = new GameDriver(runtime.producer, collector);
      const games = await driver.createDuels(24, { settings: LONG_DUEL });
      driver.startTurning(100);
      await waitFor('games to be checkpointed', async () => {
        const rows = await readCheckpoints(postgres.url());
        return games.every((g) => rows.some((r) => r.actor_id === g && r.tick >= 20));
      });

      // Postgres goes away. It comes back at once on another port, which the runtime does not know, so the spec
      // (and only the spec) can read the checkpoints exactly as the outage left them.
      await postgres.stop();
      const asidePort = await freePort();
      await postgres.startOn(asidePort);
      const stored = new Map((await readCheckpoints(postgres.url(asidePort))).map((r) => [r.actor_id, r]));
      const atOutage = new Map(games.map((g) => [g, collector.lastTick(g)]));
      const created = await driver.createDuels(4, { settings: LONG_DUEL });
      await waitFor('games to tick while Postgres is down', () => {
        const behind = [
          ...games.filter((g) => !collector.isOver(g) && collector.lastTick(g) < atOutage.get(g)! + 30)
            .map((g) => `${g} at ${collector.lastTick(g)} (was ${atOutage.get(g)} at the outage)`),
          ...created.filter((g) => collector.lastTick(g) < 30).map((g) => `${g}, created in the outage, at ${collector.lastTick(g)}`),
        ];
        if (behind.length > 0) {
          // a partition taken up again while Postgres is away (a worker replaced, a lease lost) cannot recover its
          // games before Postgres is back: say which happened (seen once in a loaded CI run, not reproduced alone)
          const c = runtime!.supervisor.counters;
          const partitions = [...runtime!.supervisor.owned.values()].map((o) => `${o.partition}:${o.state}`).join(' ');
          throw new Error(`${behind.length} games behind: ${behind.slice(0, 6).join('; ')}; worker restarts ${c.workerRestarts}, `
            + `recoveries ${c.recoveries} (${[...c.recoveriesBy].map(([why, n]) => `${why} ${n}`).join(', ')}), partitions ${partitions}`);
        }
        return true;
      }, 20000);
      await sleep(Math.max(0, 6000 - 30 * LONG_DUEL.tickMs)); // past the executors' 5 s trimming round

      // whatever was trimmed meanwhile, every game can still be rebuilt from its stored checkpoint and the journal
      const records = new Map<number, Array<{ id: string; record: JournalRecord }>>();
      for (let p = 0; p < PARTITIONS; p++) records.set(p, await outboxRecords(redis, keys, p));
      for (const g of [...games, ...created]) {
        const row = stored.get(g);
        if (row?.finished) continue;
        const after = records.get(partitionOf(g, PARTITIONS))!
          .filter(({ id, record }) => record.a === g && (!row || compareIds(id, row.outbox_id) > 0));
        const expected = (row?.seq ?? 0) + 1;
        expect(after.length, `records of ${g} after its checkpoint`).to.be.greaterThan(0);
        expect(after[0].record.n, `first record of ${g} after its stored checkpoint (seq ${row?.seq ?? 0})`).to.equal(expected);
        after.forEach(({ record }, i) => expect(record.n).to.equal(expected + i));
      }
      await postgres.stop();
      await postgres.startOn(postgres.port);

      // back: the newest state of every game reaches Postgres
      const atReturn = new Map([...games, ...created].map((g) => [g, collector.lastTick(g)]));
      await waitFor('checkpoints to catch up', async () => {
        const rows = new Map((await readCheckpoints(postgres.url())).map((r) => [r.actor_id, r]));
        return [...atReturn].every(([g, tick]) => rows.get(g)?.finished || (rows.get(g)?.tick ?? 0) >= tick);
      }, 20000);
      // and trimming goes on past where the outage held it
      const holds = [...stored.values()].filter((r) => !r.finished);
      await waitFor('the journal to be trimmed again', async () => {
        for (let p = 0; p < PARTITIONS; p++) {
          const floor = holds.filter((r) => r.partition === p).map((r) => r.outbox_id).sort(compareIds)[0];
          const [first] = await redis.xrange(keys.outbox(p), '-', '+', 'COUNT', 1);
          if (floor && first && compareIds(first[0], floor) <= 0) return false;
        }
        return true;
      }, 20000);

      await driver.stopTurning();
      await waitFor('every game to finish', () => driver!.allOver(), 60000);
      const dead = await readDeadLetters(REDIS_URL, keys, PARTITIONS);
      for (const g of driver.games) verifyGame(collector.records.get(g) ?? [], driver.acked.get(g)!, dead.of(g));
      await waitFor('every game to have its final checkpoint', async () =>
        (await readCheckpoints(postgres.url())).filter((r) => r.finished).length === driver!.games.length);
    } finally {
      await driver?.stopTurning();
      await runtime?.stop(false);
      await collector.stop();
      redis.disconnect();
      postgres.destroy();
      await dropKeys(prefix);
    }
  });

  it('reconnects after Redis is shut down and started again, and loses no acknowledged input', async () => {
    await onOwnRedis('redis-restart', 40, async (run) => {
      const { server, collector, driver, games } = run;
      for (let round = 0; round < 2; round++) {
        const before = new Map(games.map((g) => [g, collector.lastTick(g)]));
        await server.shutdown();
        await sleep(1000 + round * 1500); // the second time longer than a lease
        await server.startAgain();
        await waitFor('every game to tick again', () =>
          games.every((g) => collector.isOver(g) || collector.lastTick(g) > before.get(g)! + 3), 30000);
      }

      await driver.stopTurning();
      await waitFor('every game to finish', () => driver.allOver(), 60000);
      await run.verify();
      const acked = [...driver.acked.values()].reduce((n, ids) => n + ids.length, 0);
      expect(acked, 'inputs acknowledged').to.be.greaterThan(games.length * 10);
    });
  });

  it('counts Redis lost while it stops answering on an open connection, has it back when it answers, and loses no acknowledged input', async () => {
    await onOwnRedis('redis-silent', 20, async (run) => {
      const { server, collector, driver, games } = run;
      expect(run.runtime.redisAvailable).to.equal(true);
      server.signal('SIGSTOP');
      try {
        await waitFor('the node to count Redis lost', () => !run.runtime.redisAvailable, 20000);
      } finally {
        server.signal('SIGCONT');
      }
      const before = new Map(games.map((g) => [g, collector.lastTick(g)]));
      await waitFor('the node to have Redis back', () => run.runtime.redisAvailable, 20000);
      await waitFor('every game to tick again', () =>
        games.every((g) => collector.isOver(g) || collector.lastTick(g) > before.get(g)! + 3), 30000);
      await driver.stopTurning();
      await waitFor('every game to finish', () => driver.allOver(), 60000);
      await run.verify();
    });
  });

  it('hands partitions off while Redis refuses every commit without checkpointing what was never committed', async () => {
    await onOwnRedis('refused-hand-off', 20, async (run) => {
      const { server, collector, driver, games } = run;
      const admin = connectRedis(server.url);
      try {
        await driver.stopTurning();
        // Redis answers every script that writes with an OOM error: commits fail and are retried while the games
        // stand still, with inputs handled and ticks stepped in memory only; then the node hands everything off
        await admin.config('SET', 'maxmemory', '1');
        await sleep(500);
        const stopping = run.runtime.stop(true);
        await sleep(1000);
        await admin.config('SET', 'maxmemory', '0');
        await stopping;
        run.runtime = await startRuntime(run.options, 'refused-hand-off-2');
        await waitFor('every game to finish on the next owner', () => games.every((g) => collector.isOver(g)), 90000);
        await run.verify();
      } finally {
        admin.disconnect();
      }
    });
  });

  it('stops without a hand-off when Redis stays away, and the next node takes the games on without losing an acknowledged input', async () => {
    await onOwnRedis('stop-without-redis', 10, async (run) => {
      const { server, collector, driver, games } = run;
      await driver.stopTurning();
      await server.shutdown();
      // the hand-off waits for Redis, a while; then the node stops all the same (it waited for ever before)
      await run.runtime.stop(true);
      await server.startAgain();
      run.runtime = await startRuntime(run.options, 'stop-without-redis-2');
      await waitFor('every game to finish on the next owner', () => games.every((g) => collector.isOver(g)), 90000);
      await run.verify();
    });
  });

  it('applies every acknowledged input once when its connection to Redis is cut with replies in flight', async () => {
    const proxy = await CuttingProxy.start(new URL(REDIS_URL).port ? Number(new URL(REDIS_URL).port) : 6379);
    const db = await freshDatabase('redis-cut');
    const prefix = freshPrefix('redis-cut');
    const keys = new Keys(prefix);
    // the spec's own view goes around the proxy
    const collector = new JournalCollector(REDIS_URL, keys, PARTITIONS);
    await collector.start();
    let runtime: Runtime | null = null;
    let driver: GameDriver | null = null;
    try {
      runtime = await startRuntime({ redisUrl: proxy.url, databaseUrl: db.url, prefix }, 'redis-cut');
      await waitFor('the node to own its partitions', () => runtime!.isSettled());
      const producer = new Producer(connectRedis(REDIS_URL), keys, PARTITIONS);
      driver = new GameDriver(producer, collector);
      const games = await driver.createDuels(40, { settings: LONG_DUEL });
      driver.startTurning(40);
      await waitFor('games to be running', () => games.every((g) => collector.lastTick(g) >= 5));
      for (let round = 0; round < 4; round++) {
        const before = new Map(games.map((g) => [g, collector.lastTick(g)]));
        await proxy.cut(150);
        await waitFor('every game to tick again', () =>
          games.every((g) => collector.isOver(g) || collector.lastTick(g) > before.get(g)! + 3), 30000);
      }
      await driver.stopTurning();
      await waitFor('every game to finish', () => driver!.allOver(), 60000);
      const dead = await readDeadLetters(REDIS_URL, keys, PARTITIONS);
      for (const g of driver.games) verifyGame(collector.records.get(g) ?? [], driver.acked.get(g)!, dead.of(g));
      producer.redis.disconnect();
    } finally {
      await driver?.stopTurning();
      await runtime?.stop(false);
      await collector.stop();
      await proxy.close();
      await db.drop();
      await dropKeys(prefix);
    }
  });
});

describe('database connections', function () {
  this.timeout(30000);

  it('survives Postgres ending a connection that is checked out between queries: the work on it fails, the next query runs', async () => {
    // a thread's pooled client, ended by the server while it held no query (between a transaction's statements, or
    // as Postgres stops), emitted an error nobody listened for: the thread crashed, and a worker's partitions could
    // not recover while Postgres was away
    const spec = await freshDatabase('conn-ended');
    const db = connectDatabase<Record<string, never>>(spec.url, 2);
    const killer = new pg.Client({ connectionString: spec.url });
    await killer.connect();
    try {
      const failed = await db.transaction().execute(async (trx) => {
        const { pid } = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0];
        await killer.query('select pg_terminate_backend($1)', [pid]);
        await sleep(500); // the server's goodbye arrives while the connection is checked out with no query on it
        await sql`select 1`.execute(trx);
      }).then(() => null, (err: unknown) => err);
      expect(failed, 'the transaction on the ended connection').to.be.instanceOf(Error);
      expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows[0].one, 'a query after it').to.equal(1);
    } finally {
      await killer.end();
      await db.destroy();
      await spec.drop();
    }
  });
});
