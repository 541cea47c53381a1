// The runtime as real node processes (spec/fixtures/runtime-node.ts) against the real Redis and Postgres, hurt the
// way machines get hurt: a node SIGKILLed mid-game and started again, and a node paused (SIGSTOP) long enough for
// another to take its partitions, then resumed with its old epoch. Judged by the journal (every tick once, every
// acked input once, hashes equal an engine run), by who wrote each outbox batch, and by the checkpoint rows.
import { expect } from 'chai';
import pg from 'pg';
import { Keys } from '../runtime/keys.ts';
import { partitionOf } from '../runtime/partition.ts';
import { Producer } from '../runtime/producer.ts';
import { connectRedis, type RedisClient } from '../runtime/redis.ts';
import { defaultSettings, type Settings } from '../protocol/settings.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, sleep, waitFor, type SpecDatabase } from './support/env.ts';
import { JournalCollector, readDeadLetters, verifyGame } from './support/journal.ts';
import { GameDriver } from './support/driver.ts';
import { NodeProcess, type NodeOptions } from './support/processes.ts';

const PARTITIONS = 4;
/** the game beside a second actor type (spec.faulty-game) */
const FAULTY_MODULE = new URL('./fixtures/faulty-game.ts', import.meta.url).href;
/** Games of ~100 ticks (the snakes meet half-way across), so they outlive a crash and a restart or two. */
const LONG_DUEL: Settings = { ...defaultSettings('duel'), width: 200, height: 200, tickMs: 50 };

interface Cluster {
  db: SpecDatabase;
  prefix: string;
  keys: Keys;
  redis: RedisClient;
  collector: JournalCollector;
  driver: GameDriver;
  nodes: NodeProcess[];
  start(nodeId: string, options?: Partial<NodeOptions>): NodeProcess;
}

async function startCluster(label: string): Promise<Cluster> {
  const db = await freshDatabase(label);
  const prefix = freshPrefix(label);
  const keys = new Keys(prefix);
  const redis = connectRedis(REDIS_URL);
  const collector = new JournalCollector(REDIS_URL, keys, PARTITIONS);
  await collector.start();
  const nodes: NodeProcess[] = [];
  return {
    db, prefix, keys, redis, collector, nodes,
    driver: new GameDriver(new Producer(redis, keys, PARTITIONS), collector),
    start(nodeId, options = {}) {
      const node = NodeProcess.start({
        redisUrl: REDIS_URL, databaseUrl: db.url, prefix, partitions: PARTITIONS, nodeId, workers: 2, leaseMs: 1500, ...options,
      });
      nodes.push(node);
      return node;
    },
  };
}

async function stopCluster(c: Cluster): Promise<void> {
  await c.driver.stopTurning();
  for (const node of c.nodes) {
    if (node.running) node.signal('SIGCONT');
    await node.kill();
  }
  await c.collector.stop();
  c.redis.disconnect();
  await dropKeys(c.prefix);
  await c.db.drop();
}

async function verifyAll(c: Cluster): Promise<void> {
  await c.driver.stopTurning();
  await waitFor('every game to finish', () => c.driver.allOver(), 60000);
  const dead = await readDeadLetters(REDIS_URL, c.keys, PARTITIONS);
  for (const gameId of c.driver.games) verifyGame(c.collector.records.get(gameId) ?? [], c.driver.acked.get(gameId)!, dead.of(gameId));
  expect(c.driver.acked.size).to.equal(c.driver.games.length);
}

/** Outbox batches of each partition are numbered 1, 2, 3… and their writers' epochs never go back. */
function expectOrderlyOutboxes(c: Cluster): void {
  for (let p = 0; p < PARTITIONS; p++) {
    const log = c.collector.batchLog.get(p) ?? [];
    log.forEach((b, i) => {
      expect(b.seq, `batch ${i + 1} of partition ${p}`).to.equal(i + 1);
      if (i > 0) expect(b.epoch, `epoch of batch ${b.seq} of partition ${p}`).to.be.at.least(log[i - 1].epoch);
    });
  }
}

async function checkpointCount(c: Cluster, where: string): Promise<number> {
  const client = new pg.Client({ connectionString: c.db.url });
  await client.connect();
  try {
    return (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM checkpoints WHERE ${where}`)).rows[0].n;
  } finally {
    await client.end();
  }
}

function ticksNow(c: Cluster): Map<string, number> {
  return new Map(c.driver.games.map((g) => [g, c.collector.lastTick(g)]));
}

async function waitForEveryGameToTickAgain(c: Cluster, since: Map<string, number>, what: string): Promise<void> {
  await waitFor(what, () => c.driver.games.every((g) => c.collector.isOver(g) || c.collector.lastTick(g) > since.get(g)!), 30000);
}

describe('runtime nodes as processes', function () {
  this.timeout(120000);

  it('resumes every game after the node is SIGKILLed mid-game and started again: nothing lost or doubled', async () => {
    const c = await startCluster('proc-kill');
    try {
      const first = c.start(`${c.prefix}-n1`);
      await first.ready();
      await c.driver.createDuels(100, { settings: LONG_DUEL });
      c.driver.startTurning(100);
      await waitFor('games to be running', () => c.driver.games.every((g) => c.collector.lastTick(g) >= 8));
      // every game has a checkpoint past its start, so each recovers from a checkpoint plus a replay of the journal
      await waitFor('every game to have a checkpoint past its start', async () => (await checkpointCount(c, 'tick > 0')) === 100);

      // killed with turns in flight; started again under the same node id: it takes its leases back at once
      await first.kill();
      const atFirstKill = ticksNow(c);
      const again = c.start(`${c.prefix}-n1`);
      await again.ready();
      await waitForEveryGameToTickAgain(c, atFirstKill, 'every game to tick again after the restart');

      // killed again; a node with a new id takes over once the dead node's leases and heartbeat expire
      await waitFor('games to move on', () => c.driver.games.every((g) => c.collector.isOver(g) || c.collector.lastTick(g) >= atFirstKill.get(g)! + 5));
      await again.kill();
      const atSecondKill = ticksNow(c);
      const other = c.start(`${c.prefix}-n2`);
      await other.ready();
      await waitForEveryGameToTickAgain(c, atSecondKill, 'every game to tick again on the new node');
      // the new owner checkpoints each running game on its usual tick (within K ticks), not all at its recovery:
      // soon every row of a running game is at the new owner's epoch
      const epochs = await Promise.all(Array.from({ length: PARTITIONS }, async (_, p) => Number(await c.redis.get(c.keys.epoch(p)))));
      const notAtNewEpoch = `NOT finished AND epoch <> CASE partition ${epochs.map((e, p) => `WHEN ${p} THEN ${e}`).join(' ')} END`;
      await waitFor('every running game to have its checkpoint at the new owner\'s epoch', async () => (await checkpointCount(c, notAtNewEpoch)) === 0, 20000);

      await verifyAll(c);
      expectOrderlyOutboxes(c);
      expect(c.driver.failures, 'submits refused').to.equal(0);
      await waitFor('every game to have its final checkpoint', async () => (await checkpointCount(c, 'finished')) === 100);
    } finally {
      await stopCluster(c);
    }
  });

  it('refuses a paused owner once another node has its partition: no duplicate or conflicting records', async () => {
    const c = await startCluster('proc-stale');
    try {
      // ids sort a < b: with both live, a owns the even partitions and b the odd ones
      const a = c.start(`${c.prefix}-a`);
      await a.ready();
      const b = c.start(`${c.prefix}-b`);
      await b.ready();
      const owner = async (p: number) => c.redis.get(c.keys.lease(p));
      await waitFor('the partitions to be shared out', async () => {
        for (let p = 0; p < PARTITIONS; p++) if ((await owner(p)) !== (p % 2 === 0 ? a.nodeId : b.nodeId)) return false;
        return true;
      });
      await c.driver.createDuels(24, { settings: LONG_DUEL });
      c.driver.startTurning(100);
      await waitFor('games to be running', () => c.driver.games.every((g) => c.collector.lastTick(g) >= 5));
      const ofA = [0, 2];
      const gamesOfA = c.driver.games.filter((g) => ofA.includes(partitionOf(g, PARTITIONS)));
      expect(gamesOfA.length, 'games in the partitions of a').to.be.greaterThan(0);
      const epochsOfA = new Map<number, number>();
      for (const p of ofA) epochsOfA.set(p, Number(await c.redis.get(c.keys.epoch(p))));

      a.signal('SIGSTOP');
      const atPause = ticksNow(c);
      await waitFor('b to take the partitions of the paused a', async () => {
        for (const p of ofA) if ((await owner(p)) !== b.nodeId) return false;
        return true;
      }, 20000);
      await waitForEveryGameToTickAgain(c, atPause, 'the games of a to tick again on b');
      const epochsOfB = new Map<number, number>();
      for (const p of ofA) {
        epochsOfB.set(p, Number(await c.redis.get(c.keys.epoch(p))));
        expect(epochsOfB.get(p)).to.be.greaterThan(epochsOfA.get(p)!);
      }
      const atTakeover = ticksNow(c);
      await sleep(300);

      // a wakes up believing it still owns them: every write it tries is refused, and it lets them go
      const linesBefore = a.lines.length;
      a.signal('SIGCONT');
      for (const p of ofA) await a.waitForLine(new RegExp(`^(lost|handed-off) ${p}$`), 20000, linesBefore);

      // with both alive again, the partitions go back to a by a graceful hand-off, under newer epochs
      await waitFor('a to own its share again', async () => {
        for (const p of ofA) if ((await owner(p)) !== a.nodeId) return false;
        return true;
      }, 20000);
      await verifyAll(c);
      expectOrderlyOutboxes(c);
      let checked = 0;
      for (const p of ofA) {
        // a partition whose games all ended before b took it gives b nothing to commit there
        const tickedOnB = c.driver.games.some((g) => partitionOf(g, PARTITIONS) === p && c.collector.lastTick(g) > atPause.get(g)!);
        if (!tickedOnB) continue;
        checked++;
        const stale = (c.collector.batchLog.get(p) ?? []).filter((x) => x.epoch === epochsOfA.get(p));
        // the first entry of a later owner: b's first commit (b may have taken the partition more than once while a
        // was paused, a busy machine letting its own lease lapse, so its epoch then is not always the one read above)
        const afterB = (c.collector.batchLog.get(p) ?? []).findIndex((x) => x.epoch > epochsOfA.get(p)!);
        expect(afterB, `b committed in partition ${p}`).to.be.greaterThan(-1);
        expect(stale.every((x) => x.seq < c.collector.batchLog.get(p)![afterB].seq), `a wrote nothing in partition ${p} after b took it`).to.equal(true);
      }
      expect(checked, 'partitions of a whose games b ticked').to.be.greaterThan(0);
      const client = new pg.Client({ connectionString: c.db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ actor_id: string; partition: number; epoch: string; tick: number }>(
          'SELECT actor_id, partition, epoch, tick FROM checkpoints');
        for (const row of rows) {
          const p = row.partition;
          if (!ofA.includes(p)) continue;
          // every game of a's partitions that ticked under b has its row from b or a later owner, not from a's old epoch
          if (c.collector.lastTick(row.actor_id) > atTakeover.get(row.actor_id)!) {
            expect(Number(row.epoch), `epoch of the checkpoint of ${row.actor_id}`).to.be.at.least(epochsOfB.get(p)!);
          }
        }
      } finally {
        await client.end();
      }
      expect(a.running && b.running).to.equal(true);
    } finally {
      await stopCluster(c);
    }
  });
});

describe('runtime nodes loading different actor modules', function () {
  this.timeout(120000);

  it('warn of each other, and a node lacking a game\'s type parks that game when it takes the partition, its other games going on', async () => {
    const c = await startCluster('proc-types');
    try {
      const full = c.start(`${c.prefix}-full`, { actorModules: [FAULTY_MODULE] });
      await full.ready();
      // slow, so it is still running when its partition moves (at 50 ms its snakes met head-on in under 5 s, before a
      // second node started on a slow machine, and an ended game is not parked)
      const [faulty] = await c.driver.createDuels(1, { settings: { ...LONG_DUEL, tickMs: 500 }, actorType: 'spec.faulty-game' });
      const duels = await c.driver.createDuels(4, { settings: LONG_DUEL });
      await waitFor('the games to tick', () => [faulty, ...duels].every((g) => c.collector.lastTick(g) >= 3));
      // the default module: the game alone
      const plain = c.start(`${c.prefix}-plain`);
      await plain.ready();
      const warning = (node: NodeProcess) => node.log.split('\n').find((l) => l.includes('loads other actor types than this node'));
      const [toFull, toPlain] = await Promise.all([
        waitFor('the full node to warn', () => warning(full)),
        waitFor('the plain node to warn', () => warning(plain)),
      ]);
      expect(JSON.parse(toFull).missingThere).to.deep.equal(['spec.faulty-game']);
      expect(JSON.parse(toPlain).missingHere).to.deep.equal(['spec.faulty-game']);
      // the full node leaves: the plain one takes every partition, and parks the game it cannot run
      full.signal('SIGTERM');
      await full.exited;
      const parked = await waitFor('the plain node to park the faulty game', () =>
        plain.log.split('\n').find((l) => l.includes('actor parked') && l.includes(faulty)));
      expect(JSON.parse(parked).reason).to.match(/actor type spec\.faulty-game, which this node does not load/);
      const at = ticksNow(c);
      await waitFor('the other games to tick on', () => duels.every((g) => c.collector.isOver(g) || c.collector.lastTick(g) > at.get(g)! + 5));
      expect(c.collector.lastTick(faulty), 'the parked game').to.equal(at.get(faulty));
    } finally {
      await stopCluster(c);
    }
  });
});
