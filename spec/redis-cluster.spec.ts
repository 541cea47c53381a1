// A node on a Redis Cluster of the spec's own (three masters; --redis takes their host:port seeds, as RUNTIME.md
// says): each partition's keys share a hash slot, and partitions spread over the masters. Bots play duels through
// it; every tick they see matches their copy of the game, and every game ends complete in Postgres with a replay
// that verifies, so the fan-out and the recorder, which follow many partitions at once, work across slots.
import { expect } from 'chai';
import { runBots } from '../actors/snaketron/bots.ts';
import { decodeReplay, verifyReplay } from '../actors/snaketron/replay.ts';
import { SpecCluster } from './support/cluster.ts';
import { waitFor } from './support/env.ts';
import { SpecRedisCluster } from './support/processes.ts';

describe('a node on a Redis Cluster', function () {
  this.timeout(120_000);
  let redis: SpecRedisCluster;
  let cluster: SpecCluster;

  before(async () => {
    redis = await SpecRedisCluster.start();
    cluster = await SpecCluster.create('redis-cluster', { redis: redis.seeds, partitions: 8 });
  });
  after(async () => {
    await cluster.stop();
    await redis.stop();
  });

  it('plays duels on games spread over the masters: ticks match, every game is stored complete with a replay that verifies', async () => {
    const node = await cluster.start();
    const summary = await runBots({ urls: [node.ws], bots: 8, mode: 'duel', games: 6, giveUpAfter: 30 });
    expect(summary.games).to.be.at.least(6);
    expect(summary.hashMismatches).to.equal(0);
    expect(summary.gaps).to.equal(0);
    expect(summary.errors).to.deep.equal({});

    const partitions = new Set<number>();
    for (const gameId of summary.gameIds) {
      const info = await waitFor(`game ${gameId} complete with a replay`, async () => {
        const body = (await node.get(`/api/games/${gameId}`)).json<{ status: string; ticks: number; partition: number; replay: string | null }>();
        if (body.status === 'complete' && body.replay) return body;
        throw new Error(`it is ${body.status}, ${body.replay ? 'with' : 'without'} a replay`);
      }, 30_000, 100);
      partitions.add(info.partition);
      const replay = decodeReplay(new Uint8Array(await (await fetch(`${node.http}${info.replay}`)).arrayBuffer()));
      expect(replay.ticks, `ticks of ${gameId}`).to.equal(info.ticks);
      expect(verifyReplay(replay), `replay of ${gameId}`).to.deep.include({ ok: true });
    }
    // the games lie in several partitions, so the fan-out and the recorder read streams of several slots
    expect(partitions.size, 'partitions the games lie in').to.be.at.least(2);
    // and no read was refused for naming keys of several slots
    expect(node.output).to.not.match(/CROSSSLOT|same slots allocation group/);
  });
});
