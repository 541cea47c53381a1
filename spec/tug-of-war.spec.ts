// Another game on the runtime: tug of war (actors/tug-of-war), hosted without anything of SnakeTron, its worker
// thread terminated mid-game. Judged by the journal: records and ticks numbered 1..N once each, every acked pull
// applied once (or, racing its game's end, dead-lettered; a pull sent once the end is committed is refused, not
// acked), and a replay of the journal with the actor's own code reaching the state of the game's final checkpoint.
// An observer follows half the games from mid-game on (runtime/follower.ts), as a node serving their players
// would, but through a ClusterReader (runtime/cluster-reader.ts), as a process that hosts no actors does: it is told
// every record from there to the end, through the crash, and its replicas end where the games do.
import { expect } from 'chai';
import { TUG_OF_WAR, tugOfWar, type TugOutput, type TugPull, type TugState } from '../actors/tug-of-war/tug-of-war.ts';
import { ClusterReader } from '../runtime/cluster-reader.ts';
import { Follower, type Replica } from '../runtime/follower.ts';
import { inputOutcome } from '../runtime/outcomes.ts';
import { applyRecord, outputOf, tickGrid } from '../runtime/journal.ts';
import { Keys } from '../runtime/keys.ts';
import { createLogger } from '../runtime/log.ts';
import { partitionOf } from '../runtime/partition.ts';
import { ActorFinishedError } from '../runtime/producer.ts';
import type { JournalRecord } from '../runtime/records.ts';
import { Runtime } from '../runtime/runtime.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, sleep, waitFor } from './support/env.ts';
import { JournalCollector, readDeadLetters } from './support/journal.ts';

const MODULE = new URL('../actors/tug-of-war/tug-of-war.ts', import.meta.url).href;
const PARTITIONS = 4;
const GAMES = 12;

describe('another game on the runtime: tug of war', function () {
  this.timeout(90_000);

  it('plays through a worker thread crash: every acked pull counted once, each journal replays to its final checkpoint', async () => {
    const db = await freshDatabase('tug');
    const prefix = freshPrefix('tug');
    const keys = new Keys(prefix);
    const collector = new JournalCollector(REDIS_URL, keys, PARTITIONS);
    await collector.start();
    // a reader of a cluster no node has started yet does not know its partitions
    const early = await ClusterReader.connect({ redisUrl: REDIS_URL, databaseUrl: db.url, prefix }).then(() => null, (err: Error) => err);
    expect(early?.name).to.equal('ConfigurationError');
    expect(early?.message).to.contain(`no cluster with prefix ${prefix} has started yet`);
    const runtime = await Runtime.start({
      redisUrl: REDIS_URL, databaseUrl: db.url, prefix, partitions: PARTITIONS, workers: 1, actorModules: [MODULE],
      logger: createLogger({ spec: 'tug' }, 'silent'),
    });
    // what the observer is told: per game, the state its replica was loaded at, then each record applied
    const told = new Map<string, { loadedAt: { seq: number; tick: number }; records: JournalRecord[] }>();
    const reader = await ClusterReader.connect({ redisUrl: REDIS_URL, databaseUrl: db.url, prefix, name: 'observer-process' });
    expect(reader.partitions).to.equal(PARTITIONS);
    const follower = new Follower<TugState>(reader, tugOfWar, {
      loaded: (replica: Replica<TugState>) => told.set(replica.actorId, { loadedAt: { seq: replica.seq, tick: replica.state!.tick }, records: [] }),
      applied: (replica, record) => told.get(replica.actorId)!.records.push(record),
    }, createLogger({ spec: 'tug-observer' }, 'silent'), { name: 'observer' });
    follower.start();
    const outputs = (game: string) => (collector.records.get(game) ?? []).flatMap((r) => (r.o ?? []) as TugOutput[]);
    const over = (game: string) => outputs(game).some((o) => o.e === 'tick' && o.winner !== null);
    let pulling = true;
    try {
      await waitFor('the node to own its partitions', () => runtime.isSettled());
      const games = Array.from({ length: GAMES }, (_, i) => `tug-${i}`);
      const created = new Map<string, string>();
      for (const game of games) created.set(game, await runtime.create(TUG_OF_WAR, game, { tickMs: 50, length: 40 }));
      const refusedCreate = await runtime.create(TUG_OF_WAR, 'tug-bad', { length: 0 });
      // what became of an input, from its id alone (runtime/outcomes.ts): a create applied, a create refused
      const made = await inputOutcome(reader, games[1], created.get(games[1])!);
      expect(made?.kind === 'applied' && made.record.n, `${games[1]}'s create`).to.equal(1);
      expect(made?.kind === 'applied' && made.record.c, `${games[1]}'s create record`).to.deep.equal({ ty: TUG_OF_WAR, b: { tickMs: 50, length: 40 }, s: created.get(games[1]) });
      const refusal = await inputOutcome(reader, 'tug-bad', refusedCreate);
      expect(refusal?.kind === 'dead-lettered' && refusal.letter.error).to.contain('length must be an integer between 1 and 1000');
      expect(await inputOutcome(reader, games[1], `${Date.now() + 60_000}-0`, 100), 'an id nothing holds').to.equal(null);
      expect(await inputOutcome(reader, games[1], 'nonsense').then(() => null, (err: Error) => err.message)).to.contain('is not a mailbox id');
      // two players a game, one side a little stronger: even games drift right, odd ones left
      const acked = new Map<string, string[]>(games.map((g) => [g, []]));
      const refused = new Set<string>();
      const pulls = (async () => {
        for (let round = 0; pulling; round++) {
          await Promise.all(games.filter((g) => !over(g)).map(async (game) => {
            const strong: TugPull['pull'] = games.indexOf(game) % 2 === 0 ? 'right' : 'left';
            const pull: TugPull = { pull: round % 3 === 2 ? (strong === 'right' ? 'left' : 'right') : strong, by: `${game}-${round % 2}` };
            try {
              acked.get(game)!.push(await runtime.submit(game, pull));
            } catch (err) {
              // the game's end is committed: the pull is refused, not acked
              if (!(err instanceof ActorFinishedError)) throw err;
              refused.add(game);
            }
          }));
          await sleep(20);
        }
      })();
      await waitFor('the games to be under way', () => games.every((g) => collector.lastTick(g) >= 5));
      const followed = games.filter((_, i) => i % 2 === 1);
      const replicas = await Promise.all(followed.map((game) => follower.follow(game)));
      const badPull = await runtime.submit(games[0], { pull: 'up', by: 'someone' });
      const answer = await inputOutcome(reader, games[0], badPull);
      expect(answer?.kind === 'applied' && answer.output, 'the output of a pull the game refused').to.deep.equal({ e: 'refused', reason: 'pull must be left or right' });
      expect(games.filter(over), 'games won before the crash').to.deep.equal([]);
      await runtime.supervisor.crashWorker(0);
      await waitFor('the worker to be replaced', () => runtime.supervisor.counters.workerRestarts === 1 && runtime.isSettled());
      await waitFor('every game to be won', () => games.every(over), 60_000);
      pulling = false;
      await pulls;
      // once a game's end is committed, a pull for it is refused and nothing is stored for it
      const inbox = partitionOf(games[0], PARTITIONS);
      const stored = await runtime.redis.xlen(keys.inbox(inbox));
      const late = await runtime.submit(games[0], { pull: 'left', by: 'late' }).then(() => null, (err: unknown) => err);
      expect(late).to.be.instanceOf(ActorFinishedError);
      expect(await runtime.redis.xlen(keys.inbox(inbox)), 'inbox entries').to.equal(stored);
      for (const game of refused) expect(over(game), `${game} refused a pull`).to.equal(true);

      // a pull acked as its game was won reaches the game after its end, and is dead-lettered when it does
      const appliedIds = (game: string) => new Set(collector.records.get(game)!.flatMap((r) => (r.i ?? []).map((i) => i.s)));
      const dead = await waitFor('every acked pull to be applied or dead-lettered', async () => {
        const letters = await readDeadLetters(REDIS_URL, keys, PARTITIONS);
        const settled = games.every((g) => {
          const applied = appliedIds(g);
          return acked.get(g)!.every((id) => applied.has(id) || letters.get(g, id) !== undefined);
        });
        return settled && letters.get('tug-bad', refusedCreate) !== undefined ? letters : null;
      });
      expect(dead.get('tug-bad', refusedCreate)?.error).to.contain('length must be an integer between 1 and 1000');
      expect(outputs(games[0]).filter((o) => o.e === 'refused')).to.deep.equal([{ e: 'refused', reason: 'pull must be left or right' }]);
      expect(dead.get(games[0], badPull), 'a refused pull is not dead-lettered').to.equal(undefined);
      for (const game of games) {
        const records = collector.records.get(game)!;
        records.forEach((r, i) => expect(r.n, `record ${i + 1} of ${game}`).to.equal(i + 1));
        const ticks = records.filter((r) => r.t !== undefined).map((r) => r.t);
        expect(ticks, `${game}'s ticks`).to.deep.equal(ticks.map((_, i) => i + 1));
        const applied = new Map<string, number>();
        for (const input of records.flatMap((r) => r.i ?? [])) applied.set(input.s, (applied.get(input.s) ?? 0) + 1);
        // each input's own output is found by its id (what submit resolved with), whatever else its record holds
        for (const record of records) {
          for (const input of record.i ?? []) {
            const pull = input.b as TugPull;
            const expected = pull.pull === 'left' || pull.pull === 'right' ? { e: 'pulled', by: pull.by, pull: pull.pull } : { e: 'refused', reason: 'pull must be left or right' };
            expect(outputOf(record, input.s), `the output of ${input.s}`).to.deep.equal(expected);
          }
          expect(outputOf(record, '1-1'), 'an input the record does not hold').to.equal(undefined);
        }
        for (const id of acked.get(game)!) {
          const times = applied.get(id) ?? 0;
          if (times === 0) expect(dead.get(game, id)?.error, `pull ${id} of ${game}, not applied`).to.contain('finished');
          else expect(times, `pull ${id} of ${game}`).to.equal(1);
        }
        // the actor's own code over the journal, as a recovery runs it, reaches the last checkpoint's state
        const partition = partitionOf(game, PARTITIONS);
        let state: TugState | undefined;
        for (const record of records) state = applyRecord(tugOfWar, state, record, tickGrid(partition, PARTITIONS));
        const checkpoint = await waitFor(`${game}'s final checkpoint`, async () => {
          const c = await runtime.checkpoints.load(game);
          return c?.finished ? c : null;
        });
        expect(tugOfWar.decode(checkpoint.state), `${game} replayed`).to.deep.equal(state);
        expect(state!.winner, `${game}'s winner`).to.equal(games.indexOf(game) % 2 === 0 ? 'right' : 'left');
        expect(Math.abs(state!.rope)).to.equal(40);
      }

      // the observer joined mid-game and was told every record from there on, through the crash, in order
      for (const [i, game] of followed.entries()) {
        const { loadedAt, records } = told.get(game)!;
        expect(loadedAt.tick, `${game} when followed`).to.be.greaterThan(0);
        const all = collector.records.get(game)!;
        await waitFor(`the observer to reach the end of ${game}`, () => replicas[i].seq === all.length);
        expect(records.map((r) => r.n), `records of ${game} told`).to.deep.equal(all.slice(loadedAt.seq).map((r) => r.n));
        expect(records.flatMap((r) => (r.o ?? []) as TugOutput[]), `outputs of ${game} told`).to.deep.equal(all.slice(loadedAt.seq).flatMap((r) => r.o ?? []));
        expect(replicas[i].state, `${game}'s replica`).to.deep.equal(tugOfWar.decode((await runtime.checkpoints.load(game))!.state));
      }
    } finally {
      pulling = false;
      await follower.stop();
      await reader.close();
      await runtime.stop(false);
      await collector.stop();
      await dropKeys(prefix);
      await db.drop();
    }
  });
});
