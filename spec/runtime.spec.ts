// The runtime on one node, in this process, against the real Redis and Postgres, with real worker threads:
// games run to completion, actors that throw are restarted alone, poison inputs are dead-lettered, crashed or
// stuck workers are replaced, and every recovery is exact (judged by hashes and by counting inputs).
import { expect } from 'chai';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { Keys, OWNER_GROUP } from '../runtime/keys.ts';
import { Runtime, type RuntimeOptions } from '../runtime/runtime.ts';
import { createLogger } from '../runtime/log.ts';
import { runCommand, connectRedis } from '../runtime/redis.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, sleep, waitFor, type SpecDatabase } from './support/env.ts';
import { JournalCollector, readDeadLetters, verifyGame } from './support/journal.ts';
import { CuttingProxy } from './support/processes.ts';
import { GameDriver, SPEC_DUEL } from './support/driver.ts';
import { GAME_ACTOR, type CreateGame } from '../actors/snaketron/game-actor.ts';
import { fieldValue, nextTickDue, TICK_PHASES, tickGrid, tickPhase } from '../runtime/journal.ts';
import { compareStreamIds, decodeBatch, decodeInput } from '../runtime/records.ts';
import { ActorFinishedError, Producer } from '../runtime/producer.ts';
import { InputError } from '../runtime/errors.ts';
import { CheckpointStore, type Checkpoint } from '../runtime/checkpoints.ts';
import { adoptCheckpoints, connectDatabase, migrate, RUNTIME_MIGRATIONS, type RuntimeTables } from '../runtime/db.ts';
import { sql } from 'kysely';
import { partitionOf } from '../runtime/partition.ts';
import type { ExecutorEvent } from '../runtime/executor.ts';

const FIXTURES = new URL('./fixtures/faulty-game.ts', import.meta.url).href;
const PARTITIONS = 4;

interface Harness {
  runtime: Runtime;
  collector: JournalCollector;
  driver: GameDriver;
  db: SpecDatabase;
  prefix: string;
  keys: Keys;
}

async function startHarness(label: string, overrides: Partial<RuntimeOptions> = {}): Promise<Harness> {
  const db = await freshDatabase(label);
  const prefix = freshPrefix(label);
  const keys = new Keys(prefix);
  const collector = new JournalCollector(REDIS_URL, keys, PARTITIONS);
  await collector.start();
  const runtime = await Runtime.start({
    redisUrl: REDIS_URL, databaseUrl: db.url, actorModules: [FIXTURES], prefix, partitions: PARTITIONS,
    workers: 2, leaseMs: 1500, logger: createLogger({ spec: label }, process.env.SNAKETRON_LOG_LEVEL ?? 'silent'), ...overrides,
  });
  await waitFor('the node to own its partitions', () => runtime.isSettled());
  return { runtime, collector, driver: new GameDriver(runtime.producer, collector), db, prefix, keys };
}

async function stopHarness(h: Harness): Promise<void> {
  await h.driver.stopTurning();
  await h.runtime.stop(false);
  await dropHarness(h);
}

/** The rest of stopHarness, for a spec that stopped the runtime itself. */
async function dropHarness(h: Harness): Promise<void> {
  await h.collector.stop();
  await h.db.drop();
  await dropKeys(h.prefix);
}

/** A game's stored checkpoint, read through a connection of its own (the runtime may be stopped). */
async function storedCheckpoint(h: Harness, gameId: string): Promise<Checkpoint> {
  const db = connectDatabase<RuntimeTables>(h.db.url);
  try {
    return (await new CheckpointStore(db, h.prefix).load(gameId))!;
  } finally {
    await db.destroy();
  }
}

/**
 * Waits for the games of `driver` to end and checks each against its journal, its acked inputs and its dead letters;
 * gives the ticks checked.
 */
async function verifyAll(h: Harness, driver = h.driver): Promise<number> {
  await driver.stopTurning();
  await waitFor('every game to finish', () => driver.allOver(), 60000);
  // a finished game's queued inputs are dead-lettered just after its last record is committed
  const redis = connectRedis(REDIS_URL);
  try {
    await waitFor('every input to be applied or dead-lettered', async () => {
      const pending = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) =>
        redis.xpending(h.keys.inbox(p), OWNER_GROUP).catch(() => [0]) as Promise<unknown[]>));
      return pending.every((summary) => Number(summary[0]) === 0);
    });
  } finally {
    redis.disconnect();
  }
  const dead = await readDeadLetters(REDIS_URL, h.keys, PARTITIONS);
  let ticks = 0;
  for (const gameId of driver.games) {
    ticks += verifyGame(h.collector.records.get(gameId) ?? [], driver.acked.get(gameId)!, dead.of(gameId)).ticks;
  }
  return ticks;
}

/** One duel on the harness, ticking: its id and its partition. */
async function tickingDuel(h: Harness): Promise<{ gameId: string; p: number }> {
  const [gameId] = await h.driver.createDuels(1);
  await waitFor('the game to tick', () => h.collector.lastTick(gameId) > 3);
  return { gameId, p: h.runtime.partitionOf(gameId) };
}

/**
 * Eight faulty-game duels ticking on the harness's four partitions, with turns coming: `gameId` is one that shares
 * its partition with another (`sharing` counts a game's partition's games), for specs whose fault must spare them.
 */
async function crowdedFaultyGames(h: Harness): Promise<{ games: string[]; gameId: string; sharing: (gameId: string) => number }> {
  const games = await h.driver.createDuels(8, { actorType: 'spec.faulty-game' });
  const sharing = (g: string) => games.filter((other) => h.runtime.partitionOf(other) === h.runtime.partitionOf(g)).length;
  const gameId = [...games].sort((a, b) => sharing(b) - sharing(a))[0];
  await waitFor('the games to tick', () => games.every((g) => h.collector.lastTick(g) > 2));
  h.driver.startTurning(20);
  return { games, gameId, sharing };
}

/** Waits until each of these games (an ended one aside) has made `ticks` more ticks than it had when called. */
async function ticksOn(h: Harness, games: readonly string[], ticks: number, what = 'every game to tick on'): Promise<void> {
  const at = new Map(games.map((g) => [g, h.collector.lastTick(g)]));
  await waitFor(what, () => games.every((g) => h.collector.isOver(g) || h.collector.lastTick(g) > at.get(g)! + ticks));
}

/**
 * After `gameId` was parked: the node holds its partitions, the other games tick on, and a turn for the parked game
 * is dead-lettered. Gives the game's last tick and that dead letter's error.
 */
async function expectParkedAlone(h: Harness, games: readonly string[], gameId: string): Promise<{ stopped: number; error: string }> {
  await waitFor('the node to hold its partitions', () => h.runtime.isSettled());
  const stopped = h.collector.lastTick(gameId);
  await ticksOn(h, games.filter((g) => g !== gameId), 5, 'the other games to tick on');
  const late = await h.runtime.submit(gameId, { k: 'turn', snakeId: 0, dir: 0, t: stopped + 2 });
  const dead = await waitFor('an input for the parked game to be dead-lettered', async () =>
    (await readDeadLetters(REDIS_URL, h.keys, PARTITIONS)).get(gameId, late));
  expect(h.collector.lastTick(gameId), 'the parked game').to.equal(stopped);
  return { stopped, error: dead.error };
}

/** Takes a partition's lease for a node as an owner does (the acquire script): [epoch, last commit seq]. */
function acquireLease(redis: ReturnType<typeof connectRedis>, keys: Keys, p: number, nodeId: string, leaseMs: number): Promise<[number, number]> {
  return runCommand<[number, number]>(redis, 'acquire', [keys.lease(p), keys.epoch(p), keys.commitSeq(p), keys.holder(p)], [nodeId, leaseMs]);
}

describe('runtime on one node', function () {
  this.timeout(120000);

  it('runs games to the end: every tick once, every acked turn once, hashes equal an engine run', async () => {
    const h = await startHarness('basic');
    try {
      await h.driver.createDuels(20);
      h.driver.startTurning();
      const ticks = await verifyAll(h);
      expect(ticks).to.be.greaterThan(20 * 10);
      // each game's last checkpoint follows its last commit (the worker gathers checkpoints for up to 50 ms)
      const finished = await waitFor('every game\'s final checkpoint', async () => {
        const rows = await h.runtime.db.selectFrom('checkpoints').select(['actor_id', 'finished']).where('finished', '=', true).execute();
        return rows.length >= 20 ? rows : null;
      });
      expect(finished.map((r) => r.actor_id).sort()).to.deep.equal([...h.driver.games].sort());
    } finally {
      await stopHarness(h);
    }
  });

  it('gives a process that hosts no actors a producer with the cluster\'s partition count; before a node started, none', async () => {
    const redis = connectRedis(REDIS_URL);
    const h = await startHarness('for-cluster');
    try {
      const early = await Producer.forCluster(redis, new Keys(freshPrefix('no-cluster'))).then(() => null, (err: Error) => err);
      expect(early?.message).to.match(/^no cluster with prefix \S+ has started yet: start a node first/);
      const producer = await Producer.forCluster(redis, h.keys);
      expect(producer.partitions).to.equal(PARTITIONS);
      // what it stores, the cluster's node reads: the games it creates run, with its turns
      const driver = new GameDriver(producer, h.collector);
      const games = await driver.createDuels(2);
      driver.startTurning(20);
      await waitFor('its games to tick', () => games.every((g) => h.collector.lastTick(g) > 5));
      expect(await verifyAll(h, driver)).to.be.above(10);
    } finally {
      redis.disconnect();
      await stopHarness(h);
    }
  });

  it('reads a mailbox once per tick while every actor of its partition ticks, not at every poll', async () => {
    const h = await startHarness('polls');
    try {
      // 40 duels: every one of the 4 partitions holds ticking games (50 ms ticks; polls would come every 20 ms)
      await h.driver.createDuels(40);
      h.driver.startTurning();
      const c = h.runtime.supervisor.counters;
      await waitFor('the games to tick', () => c.ticks > 40 * 5);
      const before = { reads: c.reads, commits: c.commits, inputs: c.inputs };
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const reads = c.reads - before.reads;
      const commits = c.commits - before.commits;
      expect(commits).to.be.greaterThan(4 * 20); // 4 partitions × 40 ticks in 2 s, give or take the reports' edges
      expect(c.inputs - before.inputs).to.be.greaterThan(0); // turns kept arriving between ticks
      expect(reads).to.be.at.most(Math.ceil(commits * 1.2));
      await verifyAll(h);
    } finally {
      await stopHarness(h);
    }
  });

  it('waits for inputs to idle mailboxes on a blocking read instead of polling them every 20 ms; lobby inputs are all applied', async () => {
    const h = await startHarness('doorbell');
    const redis = connectRedis(REDIS_URL);
    try {
      // each worker (2 here) has a connection named for its doorbell, blocked in XREAD on the idle mailboxes
      await waitFor('both doorbells to block', async () => {
        const clients = String(await redis.client('LIST')).split('\n')
          .filter((line) => line.includes(`name=${h.runtime.nodeId}:w`) && line.includes(':doorbell'));
        return clients.length === 2 && clients.every((line) => / cmd=xread /.test(line) && / flags=b /.test(line));
      });
      // no actor anywhere: the executors read their mailboxes only when polled, which a 20 ms poll made 400 reads
      const c = h.runtime.supervisor.counters;
      const idleFrom = c.reads;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(c.reads - idleFrom, 'mailbox reads in 2 s of 4 idle partitions').to.be.at.most(PARTITIONS * (2000 / 250 + 3));

      // lobbies (no tick scheduled) take joins and leaves, each one applied once, in order
      const ids = Array.from({ length: PARTITIONS * 2 }, (_, i) => `lobby-${randomBytes(4).toString('hex')}-${i}`);
      for (const id of ids) {
        const init: CreateGame = { settings: SPEC_DUEL, seed: 7, players: [{ userId: 'host', name: 'host' }], host: 'host' };
        await h.runtime.producer.create(GAME_ACTOR, id, init);
      }
      for (let round = 0; round < 5; round++) {
        const input = round % 2 === 0 ? { k: 'join', userId: 'guest', name: 'guest' } : { k: 'leave', userId: 'guest' };
        for (const id of ids) await h.runtime.producer.submit(id, input);
      }
      const lobbyOutputs = (id: string) => (h.collector.records.get(id) ?? [])
        .flatMap((r) => (r.o ?? []) as Array<{ e: string; players?: unknown[] }>)
        .filter((o) => o.e === 'lobby').map((o) => o.players!.length);
      await waitFor('every join and leave to be applied', () => ids.every((id) => lobbyOutputs(id).length === 5));
      for (const id of ids) expect(lobbyOutputs(id), id).to.deep.equal([2, 1, 2, 1, 2]);
    } finally {
      redis.disconnect();
      await stopHarness(h);
    }
  });

  it('restarts only the actor whose tick throws; the other games on its worker keep their cadence', async () => {
    const h = await startHarness('throw-tick');
    try {
      const ids = await h.driver.createDuels(6, { actorType: 'spec.faulty-game' });
      const victim = ids[0];
      await h.driver.send(victim, { k: 'throw-at-tick', t: 15 });
      h.driver.startTurning();
      await waitFor('the victim to pass tick 15', () => h.collector.lastTick(victim) > 16);
      await verifyAll(h);
      expect(h.runtime.supervisor.counters.actorRestarts).to.be.greaterThanOrEqual(1);
      expect(h.runtime.supervisor.counters.workerRestarts).to.equal(0);
    } finally {
      await stopHarness(h);
    }
  });

  it('dead-letters an input that throws three times, with its error, and the game goes on; the worker\'s logs reach the runtime\'s logger', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ spec: 'poison' }, 'warn', { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const h = await startHarness('poison', { logger });
    try {
      const [gameId] = await h.driver.createDuels(1, { actorType: 'spec.faulty-game' });
      await waitFor('the game to tick', () => h.collector.lastTick(gameId) > 2);
      const poisonId = await h.runtime.submit(gameId, { k: 'poison' });
      const dead = await waitFor('the poison input to be dead-lettered', async () =>
        (await readDeadLetters(REDIS_URL, h.keys, PARTITIONS)).get(gameId, poisonId));
      expect(dead.error).to.match(/poison input/);
      expect(dead.attempts).to.equal(3);
      expect(dead.actor).to.equal(gameId);
      h.driver.startTurning();
      await verifyAll(h);
      const records = h.collector.records.get(gameId)!;
      expect(records.flatMap((r) => r.i ?? []).some((i) => i.s === poisonId)).to.equal(false);
      // the worker that handled it said so, through the logger the runtime was given (its lines went to stdout)
      const threw = lines.filter((l) => l.msg === 'actor threw; restarting it' && l.actor === gameId);
      expect(threw, 'the worker\'s warnings').to.have.length(3);
      expect(threw[0]).to.include({ level: 'warn', spec: 'poison' });
      expect(threw[0].worker).to.be.a('number');
      expect(threw[0].reason).to.match(/poison input/);
    } finally {
      await stopHarness(h);
    }
  });

  for (const [fault, how, workers] of [
    ['hang', 'hangs its worker thread', 1], ['exit', 'ends its worker thread', 2], ['hang-tick', 'makes the tick after it hang its worker thread', 1],
  ] as const) {
    it(`dead-letters an input that ${how} every time it is handled; the games in flight with it lose no tick and no input (${workers} worker${workers > 1 ? 's' : ''})`, async () => {
      // a thread that exits is replaced on its exit; only a hang needs the watchdog, which is made quick for those (the
      // exit case kept it quick too, and a worker starved of CPU for a second on a loaded machine was replaced a 4th time)
      const h = await startHarness(`stops-${fault}`, { workers, stuckMs: fault === 'exit' ? 10_000 : 1000 });
      try {
        // turns come every 20 ms for each of eight games: many innocent inputs are in flight at every stop
        const { games, gameId } = await crowdedFaultyGames(h);
        const faultId = await h.runtime.submit(gameId, { k: fault });
        const dead = await waitFor('the input to be dead-lettered', async () =>
          (await readDeadLetters(REDIS_URL, h.keys, PARTITIONS)).get(gameId, faultId), 60000);
        expect(dead.error).to.match(/its worker stopped \(crashed, hung or was killed\) each of the 3 times/);
        expect(dead.attempts).to.equal(3);
        expect(h.runtime.supervisor.counters.workerRestarts, 'workers replaced').to.equal(3);
        await ticksOn(h, games, 5);
        await verifyAll(h);
        const letters = await readDeadLetters(REDIS_URL, h.keys, PARTITIONS);
        expect(games.flatMap((g) => [...letters.of(g)]), 'the dead letters').to.deep.equal([faultId]);
        expect(h.collector.records.get(gameId)!.flatMap((r) => r.i ?? []).some((i) => i.s === faultId)).to.equal(false);
        const redis = connectRedis(REDIS_URL);
        try {
          expect(await redis.exists(h.keys.strikes(h.runtime.partitionOf(gameId))), 'the counts, forgotten once settled').to.equal(0);
        } finally {
          redis.disconnect();
        }
      } finally {
        await stopHarness(h);
      }
    });
  }

  for (const [how, rebuild] of [['a worker crash', 'recovery'], ['a throw', 'restart']] as const) {
    it(`parks an actor whose journal cannot be replayed at its ${rebuild} after ${how}, beside games that go on; its data kept, the next owner able to replay it brings it back`, async () => {
      const h = await startHarness(`unreplayable-${rebuild}`, { workers: 1 });
      const marker = join(tmpdir(), `unreplayable-${randomBytes(4).toString('hex')}`);
      try {
        const { games, gameId } = await crowdedFaultyGames(h);
        const faultId = await h.runtime.submit(gameId, { k: 'unreplayable', marker });
        await waitFor('the input to be recorded', () => h.collector.records.get(gameId)!.some((r) => r.i?.some((i) => i.s === faultId)));
        if (rebuild === 'recovery') await h.runtime.supervisor.crashWorker(0);
        else await h.runtime.submit(gameId, { k: 'throw-at-tick', t: h.collector.lastTick(gameId) + 3 });
        await waitFor('the actor to be parked', () => h.runtime.supervisor.counters.actorsParked === 1);
        const { stopped, error } = await expectParkedAlone(h, games, gameId);
        expect(error).to.match(/is parked, its state not rebuilt: .*replay of (its )?journal record \d+ .*threw: this input cannot be replayed/);
        // the fault goes (as a fixed actor module would be deployed): the next owner rebuilds the game
        writeFileSync(marker, 'fixed');
        await h.runtime.supervisor.crashWorker(0);
        await waitFor('the game to tick again', () => h.collector.lastTick(gameId) > stopped);
        await verifyAll(h);
      } finally {
        rmSync(marker, { force: true });
        await stopHarness(h);
      }
    });
  }

  it('says, with --verify-replays, which game\'s replay would not give its live state or outputs (non-determinism, lossy encodings); the games go on', async () => {
    const h = await startHarness('verify-replays', { verifyReplays: 1, checkpointTicks: 5 });
    const mismatches: Array<Extract<ExecutorEvent, { kind: 'replay-mismatch' }>> = [];
    h.runtime.supervisor.on('executor', (event: ExecutorEvent) => { if (event.kind === 'replay-mismatch') mismatches.push(event); });
    try {
      const { games } = await crowdedFaultyGames(h);
      const [random, lossy, forgetful] = games;
      await h.runtime.submit(random, { k: 'nondeterministic' });
      await h.runtime.submit(lossy, { k: 'lossy' });
      // its encoding never holds the count, so only its outputs tell
      await h.runtime.submit(forgetful, { k: 'forgetful' });
      await waitFor('all three to be found', () => [random, lossy, forgetful].every((g) => mismatches.some((m) => m.actorId === g)));
      expect(mismatches.find((m) => m.actorId === random)!.reason).to.match(/replayed on its checkpoint give another state than the live one/);
      expect(mismatches.find((m) => m.actorId === lossy)!.reason).to.match(/does not survive encode and decode/);
      expect(mismatches.find((m) => m.actorId === forgetful)!.reason).to.match(/replayed on its checkpoint puts out other outputs than it did live/);
      await ticksOn(h, games, 10);
      expect(new Set(mismatches.map((m) => m.actorId)), 'the games found').to.deep.equal(new Set([random, lossy, forgetful]));
      expect(h.runtime.supervisor.counters.replayMismatches).to.equal(mismatches.length);
    } finally {
      await stopHarness(h);
    }
  });

  it('dead-letters an input whose handling goes through but makes the tick throw three times; the game goes on, other inputs kept', async () => {
    const h = await startHarness('poison-tick');
    try {
      const [gameId] = await h.driver.createDuels(1, { actorType: 'spec.faulty-game' });
      await waitFor('the game to tick', () => h.collector.lastTick(gameId) > 2);
      // turns keep coming meanwhile: those handled in the cycles where the tick threw must not be taken for the culprit
      h.driver.startTurning(20);
      const poisonId = await h.runtime.submit(gameId, { k: 'poison-tick' });
      const dead = await waitFor('the input to be dead-lettered', async () =>
        (await readDeadLetters(REDIS_URL, h.keys, PARTITIONS)).get(gameId, poisonId));
      expect(dead.error).to.match(/tick threw: poisoned at tick/);
      expect(dead.attempts).to.equal(3);
      const at = h.collector.lastTick(gameId);
      await waitFor('the game to tick on', () => h.collector.lastTick(gameId) > at + 5);
      await verifyAll(h);
      expect([...(await readDeadLetters(REDIS_URL, h.keys, PARTITIONS)).of(gameId)], 'the dead letters of the game').to.deep.equal([poisonId]);
      const records = h.collector.records.get(gameId)!;
      expect(records.flatMap((r) => r.i ?? []).some((i) => i.s === poisonId)).to.equal(false);
      expect(records.some((r) => r.f !== undefined), 'the game failed').to.equal(false);
      expect(h.runtime.supervisor.counters.actorRestarts).to.be.greaterThanOrEqual(3);
    } finally {
      await stopHarness(h);
    }
  });

  for (const [fault, what] of [['unstorable', 'its own output'], ['unstorable-ticks', 'the output of every tick after it']] as const) {
    it(`dead-letters an input when ${what} cannot be stored, and the games of its partition lose no tick and no input`, async () => {
      const h = await startHarness(fault);
      try {
        const { games, gameId, sharing } = await crowdedFaultyGames(h);
        const faultId = await h.runtime.submit(gameId, { k: fault });
        const dead = await waitFor('the input to be dead-lettered', async () =>
          (await readDeadLetters(REDIS_URL, h.keys, PARTITIONS)).get(gameId, faultId));
        expect(dead.error).to.match(/output could not be stored/);
        expect(dead.attempts).to.equal(3);
        await ticksOn(h, games, 3);
        // every game's journal checks out (ticks 1..N once each, every acked input once), its neighbours' too
        await verifyAll(h);
        expect(sharing(gameId), 'games in the faulty one\'s partition').to.be.greaterThan(1);
        expect([...(await readDeadLetters(REDIS_URL, h.keys, PARTITIONS)).of(gameId)]).to.deep.equal([faultId]);
      } finally {
        await stopHarness(h);
      }
    });
  }

  it('ends failed, beside games that go on, an actor whose schedule gives a tick length of NaN after a tick (it would never tick again)', async () => {
    const h = await startHarness('bad-schedule');
    try {
      const { games, gameId } = await crowdedFaultyGames(h);
      await h.runtime.submit(gameId, { k: 'broken-schedule', t: h.collector.lastTick(gameId) + 3 });
      const failed = await waitFor('the game to be ended failed', () => (h.collector.records.get(gameId) ?? []).find((r) => r.f !== undefined));
      expect(failed.f).to.match(/threw 3 times/);
      await ticksOn(h, games.filter((g) => g !== gameId), 3, 'the others to tick on');
      await verifyAll(h);
    } finally {
      await stopHarness(h);
    }
  });

  it('ends an actor that an input finishes with that input: no tick or input after it, its final checkpoint stored, later inputs refused', async () => {
    const h = await startHarness('input-ends');
    try {
      const { games, gameId } = await crowdedFaultyGames(h);
      const endId = await h.runtime.submit(gameId, { k: 'end' });
      const records = () => h.collector.records.get(gameId) ?? [];
      const ending = await waitFor('the input that ends it in its journal', () => records().find((r) => r.i?.some((i) => i.s === endId)));
      // its end is committed with the input: a submit after it is refused, as for any actor that has finished
      let refused: unknown = null;
      await waitFor('a submit to be refused', async () => {
        refused = await h.runtime.submit(gameId, { k: 'turn', snakeId: 0, dir: 1, t: 1000 }).then(() => null, (err: unknown) => err);
        return refused !== null;
      });
      expect(refused).to.be.instanceOf(ActorFinishedError);
      const checkpoint = await waitFor('its final checkpoint', async () => {
        const c = await storedCheckpoint(h, gameId);
        return c?.finished ? c : null;
      });
      expect(checkpoint.seq).to.equal(ending.n);
      await ticksOn(h, games.filter((g) => g !== gameId), 3, 'the other games to tick on');
      expect(records().filter((r) => r.n > ending.n), 'records after its end').to.deep.equal([]);
      // the turns that were on their way to it when it ended (every 20 ms) were not applied to the ended game
      const letters = await readDeadLetters(REDIS_URL, h.keys, PARTITIONS);
      for (const inputId of letters.of(gameId)) expect(letters.get(gameId, inputId)!.error).to.match(/has finished/);
    } finally {
      await stopHarness(h);
    }
  });

  it('dead-letters an input after which the actor\'s schedule or isFinished throws, and the game goes on without it', async () => {
    const h = await startHarness('broken-by-input');
    try {
      const { games, gameId } = await crowdedFaultyGames(h);
      const other = games.find((g) => g !== gameId)!;
      const faults = [
        { gameId, id: await h.runtime.submit(gameId, { k: 'broken-schedule' }) },
        { gameId: other, id: await h.runtime.submit(other, { k: 'broken-is-finished' }) },
      ];
      for (const fault of faults) {
        const dead = await waitFor('the input to be dead-lettered', async () => (await readDeadLetters(REDIS_URL, h.keys, PARTITIONS)).get(fault.gameId, fault.id));
        expect(dead.attempts).to.equal(3);
        expect(dead.error).to.match(fault.gameId === gameId ? /schedule gave tickMs NaN/ : /isFinished is broken/);
      }
      await ticksOn(h, games, 3);
      await verifyAll(h);
      for (const { gameId: g, id } of faults) {
        const records = h.collector.records.get(g)!;
        expect(records.some((r) => r.f !== undefined), `${g} not ended failed`).to.equal(false);
        expect(records.flatMap((r) => r.i ?? []).some((i) => i.s === id), `${g}'s journal without the input`).to.equal(false);
      }
    } finally {
      await stopHarness(h);
    }
  });

  it('restarts only the actor whose other methods throw (isFinished here), and ends it failed; its partition goes on, and checkpoints never run ahead of the journal', async () => {
    const h = await startHarness('broken-method');
    let stopped = false;
    try {
      const { games, gameId, sharing } = await crowdedFaultyGames(h);
      await h.runtime.submit(gameId, { k: 'broken-is-finished', t: h.collector.lastTick(gameId) + 3 });
      await waitFor('the game to be ended failed', () => (h.collector.records.get(gameId) ?? []).some((r) => r.f !== undefined));
      await ticksOn(h, games.filter((g) => g !== gameId), 3, 'the others to tick on');
      await verifyAll(h);
      expect(sharing(gameId), 'games in the faulty one\'s partition').to.be.greaterThan(1);
      // a graceful stop checkpoints every game, each at a state its journal has: the tick of the record it covers
      await h.runtime.stop(true);
      stopped = true;
      for (const g of games) {
        const checkpoint = await storedCheckpoint(h, g);
        const records = await waitFor(`the journal of ${g} read to record ${checkpoint.seq}`, () => {
          const read = h.collector.records.get(g) ?? [];
          return read.some((r) => r.n === checkpoint.seq) ? read : null;
        });
        const journalTick = Math.max(0, ...records.filter((r) => r.n <= checkpoint.seq && r.t !== undefined).map((r) => r.t!));
        expect(checkpoint.tick, `the checkpoint of ${g} (record ${checkpoint.seq})`).to.equal(journalTick);
      }
    } finally {
      if (stopped) await dropHarness(h);
      else await stopHarness(h);
    }
  });

  it('ends failed a game whose tick hangs its worker every time (no input to blame), its worker\'s other games going on', async () => {
    const h = await startHarness('hang-at-tick', { workers: 1, stuckMs: 1000 });
    try {
      const { games, gameId } = await crowdedFaultyGames(h);
      const t = h.collector.lastTick(gameId) + 5;
      await h.runtime.submit(gameId, { k: 'hang-at-tick', t });
      const failed = await waitFor('the game to fail', () => h.collector.records.get(gameId)!.find((r) => r.f !== undefined), 60000);
      expect(failed.f).to.equal(`tick ${t} stopped its worker (crashed or hung) 3 times`);
      expect(failed.o![0]).to.include({ e: 'status', status: 'failed' });
      expect(h.collector.lastTick(gameId)).to.equal(t - 1);
      // three stops in its tick alone, and maybe one before them in a tick after inputs of the same cycle (turns come
      // every 20 ms): those might have been the cause, so its next ticks ran without them
      expect(h.runtime.supervisor.counters.workerRestarts, 'workers replaced').to.be.within(3, 4);
      await verifyAll(h);
      const letters = await readDeadLetters(REDIS_URL, h.keys, PARTITIONS);
      expect(games.filter((g) => g !== gameId).flatMap((g) => [...letters.of(g)]), 'the other games\' dead letters').to.deep.equal([]);
    } finally {
      await stopHarness(h);
    }
  });

  it('counts the inputs in flight at a stop only against the actor whose tick the worker stopped in: one in flight at two earlier stops is applied, not dead-lettered', async () => {
    const h = await startHarness('stopped-elsewhere', { workers: 1, stuckMs: 1000 });
    const redis = connectRedis(REDIS_URL);
    try {
      const [hanging, other] = await h.driver.createDuels(2, { actorType: 'spec.faulty-game' });
      await waitFor('the games to tick', () => h.collector.lastTick(hanging) > 2 && h.collector.lastTick(other) > 2);
      const t = h.collector.lastTick(hanging) + 3;
      await h.runtime.submit(hanging, { k: 'hang-at-tick', t });
      await waitFor('the tick before the hanging one', () => h.collector.lastTick(hanging) >= t - 1);
      // the worker is stuck (neither game moves), and is replaced once it has been silent for a second
      let stuckAt = h.collector.lastTick(other);
      await waitFor('the other game to stop with the worker', async () => {
        await sleep(150);
        const still = h.collector.lastTick(other) === stuckAt;
        stuckAt = h.collector.lastTick(other);
        return still;
      });
      // meanwhile an input of the other game is delivered and not yet applied, as if it had been in flight at two
      // earlier stops as well: the stop in the hanging game's tick is not its doing, so it is not counted a third time
      const inFlight = await h.runtime.submit(other, { k: 'turn', snakeId: 0, dir: 1, t: stuckAt + 2 });
      const partition = h.runtime.partitionOf(other);
      await redis.xreadgroup('GROUP', OWNER_GROUP, 'spec-reader', 'COUNT', 100, 'STREAMS', h.keys.inbox(partition), '>');
      await redis.hset(h.keys.strikes(partition), inFlight, 2);
      const failed = await waitFor('the hanging game to fail', () => h.collector.records.get(hanging)!.find((r) => r.f !== undefined), 60000);
      expect(failed.f).to.equal(`tick ${t} stopped its worker (crashed or hung) 3 times`);
      await waitFor('the input to be applied', () => h.collector.records.get(other)!.some((r) => r.i?.some((i) => i.s === inFlight)));
      expect(h.collector.records.get(other)!.flatMap((r) => r.i ?? []).filter((i) => i.s === inFlight)).to.have.length(1);
      expect([...(await readDeadLetters(REDIS_URL, h.keys, PARTITIONS)).of(other)], 'the other game\'s dead letters').to.deep.equal([]);
      await verifyAll(h);
    } finally {
      redis.disconnect();
      await stopHarness(h);
    }
  });

  it('parks a game whose replay hangs its worker every time, its worker\'s other games going on', async () => {
    const h = await startHarness('hang-on-replay', { workers: 1, stuckMs: 1000 });
    const marker = join(tmpdir(), `hang-on-replay-${randomBytes(4).toString('hex')}`);
    try {
      const { games, gameId } = await crowdedFaultyGames(h);
      const faultId = await h.runtime.submit(gameId, { k: 'hang-on-replay', marker });
      await waitFor('the input to be recorded', () => h.collector.records.get(gameId)!.some((r) => r.i?.some((i) => i.s === faultId)));
      await h.runtime.supervisor.crashWorker(0);
      await waitFor('the game to be parked', () => h.runtime.supervisor.counters.actorsParked === 1, 60000);
      expect(h.runtime.supervisor.counters.workerRestarts, 'workers replaced').to.equal(4);
      const { error } = await expectParkedAlone(h, games, gameId);
      expect(error).to.match(/is parked, its state not rebuilt: its replay stopped its worker \(crashed or hung\) 3 times/);
    } finally {
      rmSync(marker, { force: true });
      await stopHarness(h);
    }
  });

  it('ends a game whose tick keeps throwing with a failed status', async () => {
    const h = await startHarness('fail');
    try {
      const [gameId] = await h.driver.createDuels(1, { actorType: 'spec.faulty-game' });
      await h.driver.send(gameId, { k: 'throw-at-tick', t: 5, always: true });
      await waitFor('the game to fail', () => h.collector.records.get(gameId)?.some((r) => r.f !== undefined));
      const records = h.collector.records.get(gameId)!;
      const failed = records.find((r) => r.f !== undefined)!;
      expect(failed.f).to.match(/tick 5 threw 3 times/);
      expect(failed.o).to.have.length(1);
      expect(failed.o![0]).to.include({ e: 'status', status: 'failed', reason: failed.f });
      expect(h.collector.lastTick(gameId)).to.equal(4);
      const row = await waitFor('the final checkpoint', async () =>
        h.runtime.db.selectFrom('checkpoints').selectAll().where('actor_id', '=', gameId).where('finished', '=', true).executeTakeFirst());
      expect(row.tick).to.equal(4);
    } finally {
      await stopHarness(h);
    }
  });

  it('recovers all 200 games of a worker thread terminated mid-game: nothing lost or doubled', async () => {
    const h = await startHarness('terminate', { workers: 1 });
    try {
      await h.driver.createDuels(200);
      h.driver.startTurning(100);
      await waitFor('games to be running', () => h.driver.games.every((g) => h.collector.lastTick(g) >= 5));
      const [worker] = h.runtime.supervisor.workerThreads();
      expect(worker.partitions).to.have.length(PARTITIONS);
      await h.runtime.supervisor.crashWorker(0);
      await waitFor('the worker to be replaced', () => h.runtime.supervisor.counters.workerRestarts === 1 && h.runtime.isSettled());
      const after = new Map(h.driver.games.map((g) => [g, h.collector.lastTick(g)]));
      await waitFor('every game to tick again', () => h.driver.games.every((g) => h.collector.isOver(g) || h.collector.lastTick(g) > after.get(g)!));
      await verifyAll(h);
    } finally {
      await stopHarness(h);
    }
  });

  it('replaces a worker whose event loop is stuck, and applies the inputs acked while it was down', async () => {
    const h = await startHarness('stuck', { workers: 1, stuckMs: 1000 });
    const marker = join(tmpdir(), `spin-${randomBytes(4).toString('hex')}`);
    try {
      const ids = await h.driver.createDuels(10, { actorType: 'spec.faulty-game' });
      await waitFor('games to be running', () => ids.every((g) => h.collector.lastTick(g) >= 3));
      await h.driver.send(ids[0], { k: 'spin', marker });
      await waitFor('the worker to be stuck', () => ids.every((g) => h.collector.isOver(g) || h.collector.lastTick(g) > 0) && existsSync(marker));
      // inputs acked while no worker runs: they must all be applied after recovery, at their ticks
      const during: Array<[string, string, number]> = [];
      for (const g of ids) {
        const t = h.collector.lastTick(g) + 2;
        during.push([g, await h.driver.send(g, { k: 'turn', snakeId: 0, dir: 0, t }), t]);
      }
      await waitFor('the stuck worker to be replaced', () => h.runtime.supervisor.counters.workerRestarts >= 1 && h.runtime.isSettled());
      h.driver.startTurning();
      await verifyAll(h);
      for (const [g, id] of during) {
        const applied = h.collector.records.get(g)!.filter((r) => r.i?.some((i) => i.s === id));
        expect(applied, `input ${id} recorded once`).to.have.length(1);
      }
    } finally {
      await stopHarness(h);
    }
  });

  it('keeps trimming the journal while a lobby waits: records of inputs alone are checkpointed too, and a covered lobby holds nothing back', async () => {
    const h = await startHarness('lobby');
    const redis = connectRedis(REDIS_URL);
    try {
      await h.driver.createDuels(4);
      const lobby = `lobby-${randomBytes(4).toString('hex')}`;
      const init: CreateGame = { settings: SPEC_DUEL, seed: 7, players: [{ userId: 'host', name: 'host' }, { userId: 'guest', name: 'guest' }], host: 'host' };
      await h.runtime.create(GAME_ACTOR, lobby, init);
      h.driver.games.push(lobby);
      h.driver.acked.set(lobby, []);
      const p = h.runtime.partitionOf(lobby);
      await waitFor('the lobby to be created', () => (h.collector.records.get(lobby) ?? []).length >= 1);
      // the lobby is full: these joins change nothing, but each is recorded (a record of inputs alone, no tick)
      await h.driver.send(lobby, { k: 'join', userId: 'late1', name: 'late' });
      await waitFor('the first join to be recorded', () => (h.collector.records.get(lobby) ?? []).length >= 2);
      const firstJoin = await waitFor('the entry holding the first join', async () => {
        for (const [id, fields] of await redis.xrangeBuffer(h.keys.outbox(p), '-', '+')) {
          if (decodeBatch(fieldValue(fields, 'd')).records.some((r) => r.a === lobby && r.n === 2)) return id.toString();
        }
        return null;
      });
      await h.driver.send(lobby, { k: 'join', userId: 'late2', name: 'late' });
      await waitFor('the second join to be recorded', () => (h.collector.records.get(lobby) ?? []).length >= 3);
      await waitFor('the journal to be trimmed past the waiting lobby\'s first join', async () => {
        const [first] = await redis.xrange(h.keys.outbox(p), '-', '+', 'COUNT', 1);
        return first !== undefined && compareStreamIds(first[0], firstJoin) > 0;
      }, 30000);
      const row = await h.runtime.checkpoints.load(lobby);
      expect(row?.seq, 'the lobby\'s checkpoint covers its joins').to.equal(3);
      // a duel in the lobby's partition goes on: the journal is trimmed past the lobby's last record as well, which
      // its checkpoint covers (a lobby nobody starts must not keep its partition's journal)
      const lastJoin = row!.outboxId;
      let duel: string;
      do duel = `duel-${randomBytes(4).toString('hex')}`; while (h.runtime.partitionOf(duel) !== p);
      await h.runtime.create(GAME_ACTOR, duel, { ...init, seed: 9, host: undefined, countdownMs: 100 });
      h.driver.games.push(duel);
      h.driver.acked.set(duel, []);
      await waitFor('the journal to be trimmed past the waiting lobby\'s last record', async () => {
        const [first] = await redis.xrange(h.keys.outbox(p), '-', '+', 'COUNT', 1);
        return first !== undefined && compareStreamIds(first[0], lastJoin) > 0;
      }, 30000);
      await h.driver.send(lobby, { k: 'start', userId: 'host', countdownMs: 100 });
      await verifyAll(h);
    } finally {
      redis.disconnect();
      await stopHarness(h);
    }
  });

  it('forgets outbox readers silent for an hour; one silent for a minute holds trimming back no more but is kept', async () => {
    const h = await startHarness('readers', { workers: 1 });
    const redis = connectRedis(REDIS_URL);
    try {
      const [gameId] = await h.driver.createDuels(1);
      const p = h.runtime.partitionOf(gameId);
      await redis.hset(h.keys.readers(p), 'long-gone', `0-1 ${Date.now() - 2 * 3_600_000}`, 'quiet', `0-1 ${Date.now() - 60_000}`);
      await waitFor('the long-gone reader to be forgotten', async () => (await redis.hexists(h.keys.readers(p), 'long-gone')) === 0, 10_000);
      expect(await redis.hexists(h.keys.readers(p), 'quiet')).to.equal(1);
      await waitFor('the game to finish', () => h.collector.isOver(gameId), 30_000);
      const checkpoint = await h.runtime.checkpoints.load(gameId);
      await waitFor('the journal to be trimmed past the quiet reader\'s position', async () => {
        const [first] = await redis.xrange(h.keys.outbox(p), '-', '+', 'COUNT', 1);
        return first === undefined || compareStreamIds(first[0], checkpoint!.outboxId) >= 0;
      }, 10_000);
    } finally {
      redis.disconnect();
      await stopHarness(h);
    }
  });

  it('keeps a worker\'s newer executor of a partition when an older one, replaced during its recovery, reports the loss', async () => {
    const h = await startHarness('stale-loss', { workers: 1 });
    const redis = connectRedis(REDIS_URL);
    try {
      const { gameId, p } = await tickingDuel(h);
      const supervisor = h.runtime.supervisor;
      const owned = supervisor.owned.get(p)!;
      // two acquisitions of the partition by this node, and their assignments to the worker back to back (as a
      // worker's replacement and the balance loop once could): the first executor is fenced in its recovery
      const acquire = () => acquireLease(redis, h.keys, p, h.runtime.nodeId, 1500);
      const [older, lastSeq] = await acquire();
      const [newer] = await acquire();
      owned.epoch = newer;
      const lostEvents: Array<Extract<ExecutorEvent, { kind: 'lost' }>> = [];
      supervisor.on('executor', (e: ExecutorEvent) => { if (e.kind === 'lost') lostEvents.push(e); });
      const post = (supervisor as unknown as { post(slot: unknown, message: unknown): void }).post.bind(supervisor);
      post(owned.worker, { kind: 'assign', partition: p, epoch: older, lastSeq: Number(lastSeq) });
      post(owned.worker, { kind: 'assign', partition: p, epoch: newer, lastSeq: Number(lastSeq) });
      const lost = await waitFor('the older executor to report its loss', () => lostEvents.find((e) => e.partition === p && e.epoch === older));
      expect(lost.reason).to.match(/fenced|claiming/i);
      const before = h.collector.lastTick(gameId);
      await waitFor('the game to tick on under the newer executor', () => h.collector.lastTick(gameId) > before + 3);
      // a graceful stop hands the partition over: the newer executor is still the worker's, so it checkpoints at
      // its epoch and releases the lease (before, it ran on unseen and the stop found nothing to hand over)
      await h.runtime.stop(true);
      expect(await redis.get(h.keys.lease(p))).to.equal(null);
      expect(Number((await storedCheckpoint(h, gameId)).epoch)).to.equal(newer);
    } finally {
      redis.disconnect();
      await dropHarness(h);
    }
  });

  it('waits in a graceful stop for the hand-offs already under way: every lease released, every game checkpointed at its end', async () => {
    const h = await startHarness('stop-handing-off', { workers: 1 });
    const redis = connectRedis(REDIS_URL);
    try {
      const { gameId } = await tickingDuel(h);
      // the balance loop began handing every partition over (the node had just left the membership) as the stop came
      for (let p = 0; p < PARTITIONS; p++) void h.runtime.supervisor.handOff(p);
      await h.runtime.stop(true);
      for (let p = 0; p < PARTITIONS; p++) expect(await redis.get(h.keys.lease(p)), `the lease of partition ${p}`).to.equal(null);
      const checkpoint = await storedCheckpoint(h, gameId);
      const lastRecord = () => h.collector.records.get(gameId)!.at(-1)!.n;
      await waitFor('the journal to be read to its end', () => lastRecord() >= checkpoint.seq);
      expect(checkpoint.seq, 'the checkpoint covers the last record').to.equal(lastRecord());
    } finally {
      redis.disconnect();
      await dropHarness(h);
    }
  });

  it('lets no renewal still on its way take back a lease its owner released: the next node acquires it at once', async () => {
    const prefix = freshPrefix('release');
    const keys = new Keys(prefix);
    const redis = connectRedis(REDIS_URL);
    try {
      const lease = [keys.lease(0), keys.epoch(0)];
      const [epoch] = await acquireLease(redis, keys, 0, 'node-a', 1500);
      expect(await runCommand<number>(redis, 'release', lease, ['node-a', epoch])).to.equal(1);
      // node-a's renewal, sent before it handed the partition off, arrives after the release
      expect(await runCommand<number>(redis, 'renew', lease, ['node-a', epoch, 1500])).to.equal(0);
      expect(await redis.get(keys.lease(0))).to.equal(null);
      const [next] = await acquireLease(redis, keys, 0, 'node-b', 1500);
      expect(next).to.be.greaterThan(epoch);
      expect(await redis.get(keys.lease(0))).to.equal('node-b');
    } finally {
      redis.disconnect();
      await dropKeys(prefix);
    }
  });

  it('refuses commits, trims and checkpoints from a stale owner holding an old epoch', async () => {
    const h = await startHarness('stale', { workers: 1 });
    const redis = connectRedis(REDIS_URL);
    try {
      const { gameId, p } = await tickingDuel(h);
      const oldEpoch = h.runtime.supervisor.owned.get(p)!.epoch;
      // a second owner takes the partition over (as after a lost lease); the first keeps its old epoch
      await redis.del(h.keys.lease(p));
      const [newEpoch] = await acquireLease(redis, h.keys, p, 'usurper', 5000);
      expect(newEpoch).to.equal(oldEpoch + 1);
      const commit = await runCommand<[number]>(redis, 'commit',
        [h.keys.lease(p), h.keys.epoch(p), h.keys.commitSeq(p), h.keys.outbox(p), h.keys.inbox(p), h.keys.ended(p)],
        [h.runtime.nodeId, oldEpoch, 1500, 999999, 'owner', Buffer.from('x'), 0]);
      expect(commit[0]).to.equal(-1);
      // nor may it trim the streams: a floor of its own could cut off records the new owner needs
      const kept = await redis.xlen(h.keys.outbox(p));
      expect(kept).to.be.greaterThan(0);
      const trim = await runCommand<number>(redis, 'trim', [h.keys.lease(p), h.keys.epoch(p), h.keys.outbox(p), h.keys.inbox(p)],
        [h.runtime.nodeId, oldEpoch, 1500, `${Date.now() + 1e9}-0`, `${Date.now() + 1e9}-0`]);
      expect(trim).to.equal(0);
      expect(await redis.xlen(h.keys.outbox(p))).to.equal(kept);
      // nor forget the new owner's mailbox consumer (with it would go the inputs it read and has not committed)
      await redis.xgroup('CREATECONSUMER', h.keys.inbox(p), 'owner', 'usurper');
      const forget = await runCommand<number>(redis, 'forget', [h.keys.lease(p), h.keys.epoch(p), h.keys.inbox(p)], [h.runtime.nodeId, oldEpoch, 1500, 'owner']);
      expect(forget).to.equal(-1);
      const consumers = (await redis.xinfo('CONSUMERS', h.keys.inbox(p), 'owner')) as unknown[][];
      expect(consumers.map((c) => c[1])).to.include('usurper');
      await waitFor('the old owner to notice it lost the partition', () => !h.runtime.supervisor.owned.has(p) || h.runtime.supervisor.owned.get(p)!.epoch !== oldEpoch);
      const ticksAtLoss = h.collector.lastTick(gameId);
      // the stale owner's checkpoint is refused once the new epoch wrote one (the new epoch's row is ahead of
      // anything the old owner's writer may still have on its way, and the stale save ahead of that row, so only
      // the epoch can refuse it)
      const current = await h.runtime.checkpoints.load(gameId);
      const ahead = current!.seq + 1000;
      await h.runtime.checkpoints.save([{ ...current!, epoch: newEpoch, seq: ahead }]);
      const written = await h.runtime.checkpoints.save([{ ...current!, epoch: oldEpoch, seq: ahead + 5, tick: 999 }]);
      expect(written.size).to.equal(0);
      expect((await h.runtime.checkpoints.load(gameId))!.tick).to.equal(current!.tick);
      await new Promise((r) => setTimeout(r, 500));
      expect(h.collector.lastTick(gameId)).to.equal(ticksAtLoss);
      const records = h.collector.records.get(gameId)!;
      records.forEach((r, i) => expect(r.n).to.equal(i + 1));
    } finally {
      redis.disconnect();
      await stopHarness(h);
    }
  });
});

describe('runtime placement and restarts', function () {
  this.timeout(60_000);

  it('spreads the partitions of each tick phase over the workers, and forgets the mailbox consumers of earlier owners', async () => {
    const db = await freshDatabase('placement');
    const prefix = freshPrefix('placement');
    const keys = new Keys(prefix);
    const partitions = 2 * TICK_PHASES;
    const start = (nodeId: string) => Runtime.start({
      redisUrl: REDIS_URL, databaseUrl: db.url, actorModules: [FIXTURES], prefix, partitions, workers: 2, nodeId,
      logger: createLogger({ spec: 'placement' }, 'silent'),
    });
    const redis = connectRedis(REDIS_URL);
    try {
      const earlier = await start('earlier-node');
      await waitFor('the first node to own its partitions', () => earlier.isSettled());
      await earlier.stop(true);
      const runtime = await start('later-node');
      try {
        await waitFor('the node to own its partitions', () => runtime.isSettled());
        // partitions of one phase come due together: each worker takes one of the two, not both
        const workersOf = new Map<number, number[]>();
        for (const owned of runtime.supervisor.owned.values()) {
          const phase = tickPhase(owned.partition, partitions);
          workersOf.set(phase, [...(workersOf.get(phase) ?? []), owned.worker.index].sort());
        }
        expect([...workersOf.values()]).to.deep.equal(Array.from({ length: TICK_PHASES }, () => [0, 1]));
        for (let p = 0; p < partitions; p++) {
          const consumers = await redis.xinfo('CONSUMERS', keys.inbox(p), 'owner') as Array<Array<string | number>>;
          expect(consumers.map((c) => c[c.indexOf('name') + 1]), `partition ${p}`).to.deep.equal(['later-node']);
        }
      } finally {
        await runtime.stop(false);
      }
    } finally {
      redis.disconnect();
      await db.drop();
      await dropKeys(prefix);
    }
  });
});

describe('runtime configuration', () => {
  it('refuses with InputError, storing nothing, an input or create no journal record can hold', async () => {
    const redis = connectRedis(REDIS_URL);
    const keys = new Keys(freshPrefix('unstorable'));
    try {
      const producer = new Producer(redis, keys, PARTITIONS);
      const cyclic: Record<string, unknown> = { k: 'turn' };
      cyclic.self = cyclic;
      for (const [what, attempt] of [
        ['a BigInt beyond 64 bits', () => producer.submit('g-unstorable', { k: 'turn', big: 2n ** 70n })],
        ['a cycle', () => producer.submit('g-unstorable', cyclic)],
        ['a create with a cycle', () => producer.create(GAME_ACTOR, 'g-unstorable', cyclic)],
      ] as const) {
        const err = await attempt().then(() => null, (e: unknown) => e);
        expect(err, what).to.be.instanceOf(InputError);
        expect((err as Error).message, what).to.match(/cannot be stored .*: inputs are msgpack values, with no integer beyond 64 bits and no cycles/);
      }
      const inbox = await redis.xlen(keys.inbox(partitionOf('g-unstorable', PARTITIONS)));
      expect(inbox, 'inputs stored').to.equal(0);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses to start without a cluster prefix, with an actor module URL the worker threads cannot resolve, without workers or with a negative submit wait', async () => {
    const base: RuntimeOptions = { redisUrl: REDIS_URL, databaseUrl: 'postgres://127.0.0.1:5432/test', prefix: 'st-config', actorModules: [] };
    const refusal = async (options: RuntimeOptions) => {
      try {
        await Runtime.start(options);
      } catch (err) {
        return err as Error;
      }
      throw new Error('the runtime started');
    };
    const noPrefix = await refusal({ ...base, prefix: undefined as unknown as string });
    expect(noPrefix.name).to.equal('ConfigurationError');
    expect(noPrefix.message).to.contain('prefix must be 1-64 letters');
    const relative = await refusal({ ...base, actorModules: ['./my-game.ts'] });
    expect(relative.name).to.equal('ConfigurationError');
    expect(relative.message).to.contain(`actorModules takes absolute URLs, as new URL('./my-game.ts', import.meta.url).href gives`);
    // a node without workers took its share of the partitions and ran none of them
    for (const workers of [0, -1, 1.5]) {
      const none = await refusal({ ...base, workers });
      expect(none.name, `workers ${workers}`).to.equal('ConfigurationError');
      expect(none.message).to.contain(`workers must be an integer between 1 and 256, got ${workers}`);
    }
    for (const submitCoalesceMs of [-1, Number.NaN, 5000]) {
      const wrong = await refusal({ ...base, submitCoalesceMs });
      expect(wrong.name, `submitCoalesceMs ${submitCoalesceMs}`).to.equal('ConfigurationError');
      expect(wrong.message).to.contain(`submitCoalesceMs must be between 0 and 1000 (ms), got ${submitCoalesceMs}`);
    }
  });
});

describe('producer', function () {
  this.timeout(30000);

  for (const coalesceMs of [0, 5]) {
    it(`stores inputs submitted together (coalesced ${coalesceMs} ms) once each, in submission order, each acked with its own id`, async () => {
      const prefix = freshPrefix('producer');
      const keys = new Keys(prefix);
      const redis = connectRedis(REDIS_URL);
      try {
        const producer = new Producer(redis, keys, 4, coalesceMs);
        // two actors, 300 inputs each, all submitted in one turn
        const actors = ['actor-a', 'actor-b'];
        const acks = await Promise.all(Array.from({ length: 600 }, (_, i) => producer.submit(actors[i % 2], { k: 'n', i })));
        for (const actor of actors) {
          const entries = await redis.xrangeBuffer(keys.inbox(partitionOf(actor, 4)), '-', '+');
          const mine = entries.map(([id, fields]) => ({ id: id.toString(), env: decodeInput(fieldValue(fields, 'd')) }))
            .filter((e) => e.env.a === actor);
          expect(mine.map((e) => (e.env.b as { i: number }).i)).to.deep.equal(Array.from({ length: 300 }, (_, j) => 2 * j + actors.indexOf(actor)));
          // each ack is the id its input was stored under (ids are unique within a stream)
          expect(mine.map((e) => e.id)).to.deep.equal(acks.filter((_, i) => i % 2 === actors.indexOf(actor)));
          expect(new Set(mine.map((e) => e.id)).size).to.equal(300);
        }
      } finally {
        redis.disconnect();
        await dropKeys(prefix);
      }
    });
  }
});

describe('submits gathered over time', function () {
  this.timeout(60_000);

  // markers: one per script call (see the producer spec above), so they count Redis calls
  const markersAfter = async (prefix: string, submit: (runtime: Runtime) => Promise<string[]>, submitCoalesceMs?: number) => {
    const db = await freshDatabase('gathered');
    const runtime = await Runtime.start({
      redisUrl: REDIS_URL, databaseUrl: db.url, actorModules: [FIXTURES], prefix, partitions: 1, workers: 1, submitCoalesceMs,
      logger: createLogger({ spec: 'gathered' }, 'silent'),
    });
    const redis = connectRedis(REDIS_URL);
    try {
      const acks = await submit(runtime);
      const entries = await redis.xrangeBuffer(runtime.keys.inbox(0), '-', '+');
      expect(entries.map(([id]) => id.toString()), 'each input stored once, acked with its id, in order').to.deep.equal(acks);
      return (await redis.keys(`${prefix}*sub:*`)).length;
    } finally {
      redis.disconnect();
      await runtime.stop(false);
      await dropKeys(prefix);
      await db.drop();
    }
  };
  // three inputs, each submitted 5 ms after the one before (three turns of the event loop)
  const spaced = async (runtime: Runtime) => {
    const acks: Array<Promise<string>> = [];
    for (let i = 0; i < 3; i++) {
      acks.push(runtime.producer.submit('g-spaced', { k: 'n', i }));
      await new Promise((r) => setTimeout(r, 5));
    }
    return Promise.all(acks);
  };

  it('stores submits made within submitCoalesceMs of each other in one Redis call, and those of separate turns apart without it', async () => {
    expect(await markersAfter(freshPrefix('gathered'), spaced, 200), 'gathered over 200 ms').to.equal(1);
    expect(await markersAfter(freshPrefix('apart'), spaced), 'no wait (the default)').to.equal(3);
  });
});

describe('checkpoint store', function () {
  this.timeout(30000);

  it('writes saves gathered into one statement as each would alone: every caller learns which of its rows were written', async () => {
    const spec = await freshDatabase('checkpoint-store');
    const db = connectDatabase<RuntimeTables>(spec.url, 2);
    try {
      await migrate(db, 'runtime_migrations', RUNTIME_MIGRATIONS);
      const store = new CheckpointStore(db, 'spec', 50);
      const row = (actorId: string, partition: number, epoch: number, seq: number): Checkpoint => ({
        actorId, actorType: 'game', partition, seq, tick: seq, state: new Uint8Array([seq]), outboxId: `${seq}-0`, epoch, finished: false,
      });
      // a row that a newer owner already wrote
      await new CheckpointStore(db, 'spec').save([row('taken', 1, 5, 10)]);
      // three writers save at once: two partitions, and the old owner of partition 1 still saving as the new one does
      const [first, second, stale] = await Promise.all([
        store.save([row('a', 0, 1, 3), row('b', 0, 1, 4)]),
        store.save([row('c', 1, 5, 7), row('d', 1, 5, 2)]),
        store.save([row('c', 1, 4, 9), row('taken', 1, 4, 12)]),
      ]);
      expect([...first].sort()).to.deep.equal(['a', 'b']);
      expect([...second].sort()).to.deep.equal(['c', 'd']);
      expect([...stale]).to.deep.equal([]);
      const stored = await db.selectFrom('checkpoints').select(['actor_id', 'epoch', 'seq']).orderBy('actor_id').execute();
      expect(stored.map((r) => [r.actor_id, Number(r.epoch), r.seq])).to.deep.equal([
        ['a', 1, 3], ['b', 1, 4], ['c', 5, 7], ['d', 5, 2], ['taken', 5, 10],
      ]);
    } finally {
      await db.destroy();
      await spec.drop();
    }
  });

  it('keeps apart the checkpoints of clusters sharing a database, and gives rows from before they carried their cluster to the first to start', async () => {
    const spec = await freshDatabase('checkpoint-clusters');
    const db = connectDatabase<RuntimeTables>(spec.url, 2);
    try {
      // a database as the first migration left it, holding a game in progress
      await migrate(db, 'runtime_migrations', { '001_checkpoints_and_nodes': RUNTIME_MIGRATIONS['001_checkpoints_and_nodes'] });
      await sql`INSERT INTO checkpoints (actor_id, actor_type, partition, seq, tick, state, outbox_id, epoch)
        VALUES ('before', 'game', 0, 3, 3, ${Buffer.from([3])}, '3-0', 1)`.execute(db);
      await migrate(db, 'runtime_migrations', RUNTIME_MIGRATIONS);
      await adoptCheckpoints(db, 'first');
      await adoptCheckpoints(db, 'second');
      const [first, second] = [new CheckpointStore(db, 'first'), new CheckpointStore(db, 'second')];
      const row = (epoch: number, seq: number): Checkpoint => ({
        actorId: 'same-id', actorType: 'game', partition: 0, seq, tick: seq, state: new Uint8Array([seq]), outboxId: `${seq}-0`, epoch, finished: false,
      });
      // the same actor id in both, the second's at a newer epoch: neither fences the other
      expect([...await first.save([row(1, 7)])]).to.deep.equal(['same-id']);
      expect([...await second.save([row(4, 2)])]).to.deep.equal(['same-id']);
      const held = async (store: CheckpointStore) => (await store.unfinished(0)).map((c) => [c.actorId, c.seq]).sort();
      expect(await held(first)).to.deep.equal([['before', 3], ['same-id', 7]]);
      expect(await held(second)).to.deep.equal([['same-id', 2]]);
      expect(await second.load('before')).to.equal(undefined);
      expect((await first.load('same-id'))!.epoch).to.equal(1);
    } finally {
      await db.destroy();
      await spec.drop();
    }
  });
});

describe('producer retries', function () {
  this.timeout(30000);

  it('stores a submit retried under its submission id once and acks every retry with the first id', async () => {
    const prefix = freshPrefix('producer-retry');
    const keys = new Keys(prefix);
    const redis = connectRedis(REDIS_URL);
    try {
      const producer = new Producer(redis, keys, 4);
      const retried = producer.newSubmissionId();
      // the first try and a retry in one flush, beside other inputs to the same actor, then a retry in a later one
      const together = await Promise.all([
        producer.submit('actor-r', { k: 'n', i: 1 }),
        producer.submit('actor-r', { k: 'n', i: 2 }, retried),
        producer.submit('actor-r', { k: 'n', i: 2 }, retried),
        producer.submit('actor-r', { k: 'n', i: 3 }),
      ]);
      const later = await producer.submit('actor-r', { k: 'n', i: 2 }, retried);
      expect(together[2]).to.equal(together[1]);
      expect(later).to.equal(together[1]);
      const entries = await redis.xrangeBuffer(keys.inbox(partitionOf('actor-r', 4)), '-', '+');
      const stored = entries.map(([id, fields]) => ({ id: id.toString(), i: (decodeInput(fieldValue(fields, 'd')).b as { i: number }).i }));
      expect(stored).to.deep.equal([{ id: together[0], i: 1 }, { id: together[1], i: 2 }, { id: together[3], i: 3 }]);
    } finally {
      redis.disconnect();
      await dropKeys(prefix);
    }
  });

  it('stores once what it sends again after its connection dropped with replies in flight, keeping a marker per call, not per input', async () => {
    const prefix = freshPrefix('producer-resend');
    const keys = new Keys(prefix);
    const proxy = await CuttingProxy.start(Number(new URL(REDIS_URL).port || 6379));
    const redis = connectRedis(REDIS_URL);
    const through = connectRedis(proxy.url);
    const ROUNDS = 3;
    const PER_ROUND = 60;
    try {
      const producer = new Producer(through, keys, 4);
      const acked = new Map<number, string>();
      for (let round = 0; round < ROUNDS; round++) {
        // sent in one flush; Redis stores them, their replies are held back and the connection closed: the client
        // sends the calls again once it is back
        const cut = proxy.cut(100);
        const submits = Array.from({ length: PER_ROUND }, (_, k) => {
          const n = round * PER_ROUND + k;
          return producer.submit(`actor-${n % 7}`, { k: 'n', i: n }).then((id) => acked.set(n, id));
        });
        await cut;
        await Promise.all(submits);
      }
      const stored = new Map<number, string[]>();
      for (let p = 0; p < 4; p++) {
        for (const [id, fields] of await redis.xrangeBuffer(keys.inbox(p), '-', '+')) {
          const n = (decodeInput(fieldValue(fields, 'd')).b as { i: number }).i;
          stored.set(n, [...(stored.get(n) ?? []), id.toString()]);
        }
      }
      expect(acked.size).to.equal(ROUNDS * PER_ROUND);
      for (const [n, id] of acked) expect(stored.get(n), `input ${n}`).to.deep.equal([id]);
      expect(stored.size).to.equal(ROUNDS * PER_ROUND);
      // one marker for each call (a flush makes one call per partition), none for each input
      const markers = await redis.keys(`${prefix}*sub:*`);
      expect(markers.length).to.be.greaterThan(0).and.at.most(ROUNDS * 4);
    } finally {
      through.disconnect();
      redis.disconnect();
      await proxy.close();
      await dropKeys(prefix);
    }
  });
});

describe('stream ids', () => {
  it('compare as (ms, seq) pairs of numbers, an id without a seq as seq 0', () => {
    const ids = ['0-0', '0-1', '9-5', '10-0', '10', '10-1', '10-9', '10-10', '99-123456', '1764300000000-0', '1764300000000-7', '1764300000001'];
    const reference = (x: string) => { const [ms, seq] = x.split('-'); return [BigInt(ms), BigInt(seq ?? 0)] as const; };
    for (const a of ids) {
      for (const b of ids) {
        const [am, as] = reference(a);
        const [bm, bs] = reference(b);
        const expected = am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
        expect(compareStreamIds(a, b), `${a} against ${b}`).to.equal(expected);
      }
    }
  });
});

describe('tick grid', () => {
  it('puts partitions of one phase on the same instants and spreads the phases evenly over the period', () => {
    const partitions = 2 * TICK_PHASES;
    const period = 5 * TICK_PHASES;
    const now = 1_000_003;
    const due = Array.from({ length: partitions }, (_, p) => tickGrid(p, partitions)(now, period));
    for (let p = 0; p < partitions; p++) {
      expect(due[p], `partition ${p} after now`).to.be.within(now, now + period - 1);
      expect(due[p] % period, `partition ${p}'s phase`).to.equal(((p % TICK_PHASES) * period) / TICK_PHASES);
      expect(due[p], `partition ${p} shares its instant with ${p % TICK_PHASES}`).to.equal(due[p % TICK_PHASES]);
    }
    expect(new Set(due).size).to.equal(TICK_PHASES);
    // fewer partitions than phases: each has a phase of its own
    const two = [0, 1].map((p) => tickGrid(p, 2)(now, period) % period);
    expect(two).to.deep.equal([0, period / 2]);
    // an instant on the grid stays put
    expect(tickGrid(3, partitions)(due[3], period)).to.equal(due[3]);
  });

  it('has instants at most the precision asked apart, each on the same instant of every period', () => {
    for (const [period, precision] of [[150, 50], [1000, 150], [150, 150], [150, 400], [7, 1]]) {
      const align = tickGrid(5, 32);
      const phase = align(0, period) % period;
      const slots = Math.ceil(period / Math.min(precision, period));
      const offsets = Array.from({ length: slots }, (_, j) => (phase + Math.floor((j * period) / slots)) % period);
      for (let t = 1_000_000; t < 1_000_000 + 2 * period; t++) {
        const at = align(t, period, precision);
        expect(at - t, `${t} on the ${period}/${precision} grid`).to.be.within(0, Math.ceil(period / slots) - 1);
        expect(offsets, `${at} is an instant of the ${period}/${precision} grid`).to.include(at % period);
        expect(align(at, period, precision)).to.equal(at);
      }
    }
  });

  it('has an owner that fell a whole tick or more behind resume at the next instant, not with a tick straight after', () => {
    const period = 150;
    const align = tickGrid(2, 32);
    const due = align(1_000_000, period);
    // on time, or late by less than a tick: a tick later, on the grid
    expect(nextTickDue(due, due, period, align)).to.equal(due + period);
    expect(nextTickDue(due, due + period - 1, period, align)).to.equal(due + period);
    // a tick late or more (an owner was slow, or its worker paused): the next instant after now
    for (const late of [period, period + 1, 1.5 * period, 2.5 * period, 40 * period]) {
      const now = due + late;
      const next = nextTickDue(due, now, period, align);
      expect(next, `${late} ms late`).to.be.above(now).and.to.be.at.most(now + period);
      expect(align(next, period), `${late} ms late: on the grid`).to.equal(next);
    }
  });
});

describe('runtime start-up', function () {
  this.timeout(90_000); // each spec starts runtimes with worker threads, which a loaded machine starts slowly

  it('refuses an actor module without actor types, naming it, and leaves no worker or connection behind', async () => {
    const db = await freshDatabase('bad-module');
    const prefix = freshPrefix('bad-module');
    const nodeId = `bad-module-${randomBytes(4).toString('hex')}`;
    const module = new URL('./fixtures/no-actor-types.ts', import.meta.url).href;
    const redis = connectRedis(REDIS_URL);
    // the runtime's connections are named after its node (main, and one per worker)
    const connections = async () => ((await redis.client('LIST')) as string).split('\n').filter((c) => c.includes(` name=${nodeId}:`)).length;
    try {
      const refusal = await Runtime.start({
        redisUrl: REDIS_URL, databaseUrl: db.url, actorModules: [module], prefix, partitions: 2, workers: 1, nodeId,
        logger: createLogger({ spec: 'bad-module' }, 'silent'),
      }).then(() => null, (err: Error) => err.message);
      expect(refusal).to.equal(`actor module ${module} exports no actorTypes array (see ActorModule in runtime/actor.ts)`);
      await waitFor('its connections to close', async () => (await connections()) === 0);
      // a worker tried again would connect anew within its back-off (50 ms, then 100, 200, …)
      await sleep(1000);
      expect(await connections(), 'connections of a worker still being retried').to.equal(0);
    } finally {
      redis.disconnect();
      await dropKeys(prefix);
      await db.drop();
    }
  });

  it('refuses an actor type without a name, one lacking methods of the contract, and two types of one name', async () => {
    const db = await freshDatabase('broken-types');
    const prefix = freshPrefix('broken-types');
    try {
      const refusal = (modules: string[]) => Runtime.start({
        redisUrl: REDIS_URL, databaseUrl: db.url, actorModules: modules, prefix, partitions: 2, workers: 1,
        logger: createLogger({ spec: 'broken-types' }, 'silent'),
      }).then(async (runtime) => { await runtime.stop(false); return null; }, (err: Error) => err.message.replace(modules.at(-1)!, 'MODULE'));
      const broken = (mistake: string) => [new URL(`./fixtures/broken-actor-types.ts?mistake=${mistake}`, import.meta.url).href];
      expect(await refusal(broken('unnamed'))).to.equal('an actor type of MODULE has no name (its `type` must be a non-empty string)');
      expect(await refusal(broken('incomplete'))).to.equal('actor type spec.incomplete of MODULE lacks schedule, tickOf, isFinished, fail, encode, decode (see ActorType in runtime/actor.ts)');
      expect(await refusal(broken('clash'))).to.equal('two actor types are named snaketron.game (the second in MODULE): each name must be one type');
      // one type exported by two modules (the faulty game's module exports the game's type too) is no clash
      const game = new URL('../actors/snaketron/game-actor.ts', import.meta.url).href;
      expect(await refusal([game, FIXTURES])).to.equal(null);
    } finally {
      await dropKeys(prefix);
      await db.drop();
    }
  });
});
