// Bot fleets against real nodes: every game they play completes in Postgres with a replay that verifies, every
// tick they see matches their own copy of the game, and bots whose node dies come back through another one.
import { expect } from 'chai';
import { BotError, checkBotOptions, runBots, type AckedTurn, type BotMode, type BotSummary } from '../actors/snaketron/bots.ts';
import { decodeReplay, verifyReplay } from '../actors/snaketron/replay.ts';
import { Keys } from '../runtime/keys.ts';
import { SpecCluster, type SnakeNode } from './support/cluster.ts';
import { REDIS_URL, waitFor } from './support/env.ts';
import { JournalCollector, lostAckedTurns, readDeadLetters, verifyGame } from './support/journal.ts';

/** Every game is complete in Postgres, with a replay as long as the game that re-simulates to its hashes. */
async function checkGames(node: SnakeNode, summary: BotSummary): Promise<number> {
  let ticks = 0;
  for (const gameId of summary.gameIds) {
    const info = await waitFor(`game ${gameId} complete in Postgres`, async () => {
      const body = (await node.get(`/api/games/${gameId}`)).json<{ status: string; ticks: number; replay: string | null }>();
      if (body.status === 'complete' && body.replay) return body;
      throw new Error(`it is ${body.status}, ${body.replay ? 'with' : 'without'} a replay`); // the reason, should this time out
    }, 30_000, 100);
    const res = await fetch(`${node.http}${info.replay}`);
    expect(res.status).to.equal(200);
    const replay = decodeReplay(new Uint8Array(await res.arrayBuffer()));
    expect(replay.ticks, `ticks of ${gameId}`).to.equal(info.ticks);
    expect(verifyReplay(replay), `replay of ${gameId}`).to.deep.include({ ok: true });
    ticks += info.ticks;
  }
  return ticks;
}

describe('bots', function () {
  this.timeout(120_000);
  let cluster: SpecCluster | null = null;

  afterEach(async () => {
    await cluster?.stop();
    cluster = null;
  });

  it('refuses a URL that does not parse and a duration no timer can wait, each with a one-line reason', () => {
    const base = { urls: ['ws://127.0.0.1:8080/ws'], bots: 2, mode: 'duel' as const };
    for (const url of ['ws://[::1', 'ws://127.0.0.1:99999/ws', 'http://127.0.0.1:8080/ws']) {
      expect(() => checkBotOptions({ ...base, urls: [url] }), url).to.throw(BotError, `--url must be a ws:// or wss:// URL such as ws://127.0.0.1:8080/ws, got "${url}"`);
    }
    expect(() => checkBotOptions({ ...base, durationMs: 3_000_000_000 })).to.throw(BotError, '--duration must be a number of seconds above 0 and at most 2147483');
    expect(() => checkBotOptions({ ...base, durationMs: 2_000_000_000 })).to.not.throw();
  });

  it('20 bots finish 10 duels against a node: every game complete with a verified replay, no hash mismatch', async () => {
    cluster = await SpecCluster.create('bots');
    const node = await cluster.start();
    const progress: number[] = [];
    const summary = await runBots({
      urls: [node.ws], bots: 20, mode: 'duel', games: 10, giveUpAfter: 100, durationMs: 100_000,
      onProgress: (p) => progress.push(p.completed),
    });
    expect(summary.games).to.equal(10);
    expect(new Set(summary.gameIds).size).to.equal(10);
    expect(summary.hashMismatches).to.equal(0);
    expect(summary.gaps).to.equal(0);
    expect(summary.reconnects).to.equal(0);
    expect(summary.results.played).to.equal(20);
    expect(summary.results.wins + summary.results.losses + summary.results.draws).to.equal(20);
    expect(summary.results.wins).to.equal(summary.results.losses);
    expect(summary.results.avgLength).to.be.at.least(4);
    // the bots steered (turns acknowledged)
    expect(summary.turns).to.be.greaterThan(0);
    expect(summary.ackLatencyMs.count).to.be.greaterThan(0);
    expect(summary.tickJitterMs.count).to.be.greaterThan(0);
    expect(progress.at(-1)).to.equal(10);
    const ticks = await checkGames(node, summary);
    // and both players of every game checked every one of its ticks
    expect(summary.ticks).to.equal(2 * ticks);
  });

  it('bots spread over two nodes come back through the other when one is SIGKILLed, and their games complete', async () => {
    cluster = await SpecCluster.create('bots-failover', { partitions: 4 });
    const nodes = [await cluster.start(), await cluster.start()];
    await cluster.settled();
    let killed = false;
    const summary = await runBots({
      urls: nodes.map((n) => n.ws), bots: 8, mode: 'duel', games: 4, giveUpAfter: 120, durationMs: 100_000,
      onProgress: (p) => {
        // once the games run, the second node dies under the bots connected to it (and the games it owns)
        if (!killed && p.active >= 2 && p.elapsedMs > 5000) {
          killed = true;
          nodes[1].kill('SIGKILL');
        }
      },
    });
    expect(killed, 'the node was killed mid-game').to.equal(true);
    expect(summary.games).to.equal(4);
    expect(summary.reconnects, 'the bots of the killed node reconnected').to.be.at.least(4);
    expect(summary.hashMismatches).to.equal(0);
    expect(summary.gaps).to.equal(0);
    expect(summary.results.played).to.equal(8);
    await checkGames(nodes[0], summary);
  });

  it('bots of every multiplayer mode play through node churn (the owner of a game SIGKILLed, another\'s SIGTERMed, each replaced on its port): every game checks out exactly, no acked turn lost', async () => {
    const partitions = 8;
    cluster = await SpecCluster.create('bots-churn', { partitions });
    const keys = new Keys(cluster.prefix);
    const collector = new JournalCollector(REDIS_URL, keys, partitions);
    await collector.start();
    try {
      const nodes = [await cluster.start(), await cluster.start(), await cluster.start()];
      await cluster.settled();
      const acked: AckedTurn[] = [];
      const stop = new AbortController();
      const fleets = (['duel', 'ffa', 'teams'] satisfies BotMode[]).map((mode) => runBots({
        urls: nodes.map((n) => n.ws), bots: 8, mode, giveUpAfter: 150, name: mode[0], signal: stop.signal, onTurnAcked: (t) => acked.push(t),
      }));
      // a game that runs, and the node that owns it, stopped with `signal` and started again where it listened
      const running = () => [...collector.records.keys()].filter((id) => collector.lastTick(id) >= 5 && !collector.isOver(id));
      const stopOwner = async (signal: NodeJS.Signals, spared: ReadonlySet<string>) => {
        const gameId = await waitFor(`a running game (${signal})`, () => running().find((id) => !spared.has(id)), 30_000, 100);
        const owner = (await cluster!.ownerOf(gameId))!;
        const tickThen = collector.lastTick(gameId);
        owner.kill(signal);
        await owner.exited;
        await cluster!.start(owner.port);
        return { gameId, tickThen };
      };
      const killed = await stopOwner('SIGKILL', new Set());
      const terminated = await stopOwner('SIGTERM', new Set([killed.gameId]));
      // both games go on past the tick they had reached when their owner went away
      for (const { gameId, tickThen } of [killed, terminated]) {
        await waitFor(`${gameId} ticking again after its owner stopped`, () => collector.lastTick(gameId) > tickThen + 3 || collector.isOver(gameId), 30_000, 100);
      }
      // enough turns for the check below to mean something (on a fast machine the stops are over sooner)
      await waitFor('a hundred turns acked', () => acked.length > 100, 30_000, 100);
      stop.abort();
      const summaries = await Promise.all(fleets);
      for (const summary of summaries) {
        expect(summary.hashMismatches, 'ticks that did not match a bot\'s copy').to.equal(0);
        expect(summary.gaps, 'ticks skipped').to.equal(0);
      }
      expect(summaries.reduce((n, s) => n + s.reconnects, 0), 'bots of the stopped nodes came back').to.be.at.least(1);
      // every game the fleets left runs to its end (the bots stopped steering at tick 150)
      const games = [...collector.records.keys()];
      await waitFor('every game over', () => games.every((id) => collector.isOver(id)), 60_000, 200);
      const dead = await readDeadLetters(REDIS_URL, keys, partitions);
      for (const gameId of games) verifyGame(collector.records.get(gameId)!, [], dead.of(gameId));
      expect(games.length, 'games played').to.be.at.least(6);
      expect(acked.length, 'turns acked').to.be.greaterThan(100);
      expect(lostAckedTurns(acked, collector.records, dead), `acked turns missing from their games (of ${acked.length})`).to.equal(0);
    } finally {
      await collector.stop();
    }
  });
});
