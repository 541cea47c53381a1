// The Follower (runtime/follower.ts) when records go missing under it: outbox entries a follower had not read yet
// are gone (as when it fell behind a trim). It must notice the gap, rebuild the replica from a checkpoint that
// covers it, say so, and follow on: judged by the records it tells and by the replica's final state against the
// game's final checkpoint.
import { expect } from 'chai';
import { TUG_OF_WAR, tugOfWar, type TugState } from '../actors/tug-of-war/tug-of-war.ts';
import { Follower } from '../runtime/follower.ts';
import { readOutbox } from '../runtime/journal.ts';
import { createLogger } from '../runtime/log.ts';
import { Runtime } from '../runtime/runtime.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, sleep, waitFor } from './support/env.ts';

const MODULE = new URL('../actors/tug-of-war/tug-of-war.ts', import.meta.url).href;
const GAME = 'tug-gap';

describe('a follower that misses records', function () {
  this.timeout(60_000);

  it('rebuilds the replica from a checkpoint past the gap, says so, and follows the game to its end', async () => {
    const db = await freshDatabase('follower');
    const prefix = freshPrefix('follower');
    const runtime = await Runtime.start({
      redisUrl: REDIS_URL, databaseUrl: db.url, prefix, partitions: 2, workers: 1, actorModules: [MODULE], checkpointTicks: 5,
      logger: createLogger({ spec: 'follower' }, 'silent'),
    });
    const loads: Array<{ rebuilt: boolean; seq: number }> = [];
    const told: number[] = [];
    const follower = new Follower<TugState>(runtime, tugOfWar, {
      loaded: (replica, rebuilt) => loads.push({ rebuilt, seq: replica.seq }),
      applied: (_, record) => told.push(record.n),
    }, runtime.log, { name: 'spec' });
    let pulling = true;
    try {
      await waitFor('the node to own its partitions', () => runtime.isSettled());
      await runtime.create(TUG_OF_WAR, GAME, { tickMs: 50, length: 60 });
      const pulls = (async () => {
        while (pulling) {
          await runtime.submit(GAME, { pull: 'right', by: 'p' }).catch(() => undefined);
          await sleep(50);
        }
      })();
      await waitFor('the game to be checkpointed under way', async () => ((await runtime.checkpoints.load(GAME))?.seq ?? 0) >= 5);
      // loaded, but not reading yet: the records committed meanwhile wait in the outbox
      const replica = await follower.follow(GAME);
      const loadedAt = replica.seq;
      await waitFor('three more records', async () => {
        for await (const entry of readOutbox(runtime.redis, runtime.keys, replica.partition, '-')) {
          if (entry.batch.records.some((r) => r.a === GAME && r.n === loadedAt + 3)) return true;
        }
        return false;
      });
      const missing: string[] = [];
      for await (const entry of readOutbox(runtime.redis, runtime.keys, replica.partition, '-')) {
        if (entry.batch.records.some((r) => r.a === GAME && r.n > loadedAt && r.n <= loadedAt + 3)) missing.push(entry.id);
      }
      await runtime.redis.xdel(runtime.keys.outbox(replica.partition), ...missing);
      follower.start();

      await waitFor('the game to be won', async () => (await runtime.checkpoints.load(GAME))?.finished === true, 30_000);
      pulling = false;
      await pulls;
      const final = (await runtime.checkpoints.load(GAME))!;
      await waitFor('the follower to reach the end', () => replica.seq === final.seq);

      expect(loads[0], 'first load').to.deep.equal({ rebuilt: false, seq: loadedAt });
      expect(loads, 'loads').to.have.length(2);
      const rebuiltAt = loads[1].seq;
      expect(loads[1].rebuilt, 'second load').to.equal(true);
      expect(rebuiltAt, 'rebuilt past the gap').to.be.greaterThan(loadedAt + 3);
      // nothing of the gap is told; from the rebuilt state on, every record once, in order
      expect(told, 'records told').to.deep.equal(Array.from({ length: final.seq - rebuiltAt }, (_, i) => rebuiltAt + 1 + i));
      expect(replica.state, 'the replica at the end').to.deep.equal(tugOfWar.decode(final.state));
      expect(replica.state!.winner).to.equal('right');
    } finally {
      pulling = false;
      await follower.stop();
      await runtime.stop(false);
      await dropKeys(prefix);
      await db.drop();
    }
  });
});
