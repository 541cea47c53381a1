// Failover under churn: three nodes, bot fleets of every multiplayer mode spread over them, and every few seconds
// one node stopped (SIGKILL, every third time SIGTERM) and a replacement started on its port, where its clients come
// back. Afterwards every game's journal is checked as the crash specs check one game (records 1..M, ticks 1..N once
// each, every tick's hash equal to an engine rerun of the recorded inputs, every input once), every turn a node
// acked is looked for among the inputs its game recorded, and a game still running must still be ticking.
// Run alone: `npx tsx bench/churn.ts [--quick]`.
import pg from 'pg';
import { pathToFileURL } from 'node:url';
import { runBots, type AckedTurn, type BotMode, type BotSummary } from '../actors/snaketron/bots.ts';
import { Keys } from '../runtime/keys.ts';
import { defaultSettings } from '../protocol/settings.ts';
import { SpecCluster } from '../spec/support/cluster.ts';
import { REDIS_URL, sleep } from '../spec/support/env.ts';
import { JournalCollector, lostAckedTurns, readDeadLetters, verifyGame } from '../spec/support/journal.ts';
import type { Bench, BenchResult } from './types.ts';

const QUICK = process.argv.includes('--quick');
const SECONDS = QUICK ? 60 : 180;
const STOP_EVERY_S = 15;
const PARTITIONS = 16;
const NODES = 3;
/** bots stop steering at this tick, so games end within the run (a duel of good bots can last minutes) */
const GIVE_UP_AT = 300;
const FLEETS: Array<{ mode: BotMode; bots: number }> = [{ mode: 'duel', bots: 60 }, { mode: 'ffa', bots: 24 }, { mode: 'teams', bots: 16 }];

export const run: Bench = async () => {
  const cluster = await SpecCluster.create('churn', { partitions: PARTITIONS, workers: 1 });
  const keys = new Keys(cluster.prefix);
  const collector = new JournalCollector(REDIS_URL, keys, PARTITIONS);
  await collector.start();
  try {
    for (let i = 0; i < NODES; i++) await cluster.start();
    const urls = cluster.live().map((n) => n.ws);
    const acked: AckedTurn[] = [];
    const stop = new AbortController();
    const fleets: Array<Promise<BotSummary>> = FLEETS.map(({ mode, bots }) => runBots({
      urls, bots, mode, giveUpAfter: GIVE_UP_AT, name: mode[0], signal: stop.signal, onTurnAcked: (t) => acked.push(t),
    }));
    const stops: string[] = [];
    const began = Date.now();
    for (let round = 0; round < SECONDS / STOP_EVERY_S; round++) {
      await sleep(STOP_EVERY_S * 1000);
      const live = cluster.live();
      const victim = live[stops.length % live.length];
      const signal = stops.length % 3 === 2 ? 'SIGTERM' : 'SIGKILL';
      process.stderr.write(`churn: ${signal} to ${victim.nodeId} at ${Math.round((Date.now() - began) / 1000)} s\n`);
      victim.kill(signal);
      stops.push(signal);
      await victim.exited;
      await cluster.start(victim.port);
    }
    const churnSeconds = Math.round((Date.now() - began) / 1000);
    stop.abort();
    const summaries = await Promise.all(fleets);
    // games that outlived the fleets end by themselves (the bots stopped steering); give their last ticks a moment
    await sleep(3000);

    const dead = await readDeadLetters(REDIS_URL, keys, PARTITIONS);
    const bad: string[] = [];
    let verified = 0;
    const pauses: number[] = [];
    for (const [gameId, records] of collector.records) {
      try {
        verifyGame(records, [], dead.of(gameId));
        verified++;
      } catch (err) {
        bad.push(`${gameId}: ${(err as Error).message}`);
      }
      // the longest wait between two of its ticks: a game stops while its partition has no owner
      const ticks = records.filter((r) => r.t !== undefined).map((r) => r.at);
      let longest = 0;
      for (let i = 1; i < ticks.length; i++) longest = Math.max(longest, ticks[i] - ticks[i - 1]);
      if (ticks.length > 1) pauses.push(longest);
    }
    const lost = lostAckedTurns(acked, collector.records, dead);

    const db = new pg.Client({ connectionString: cluster.db.url });
    await db.connect();
    const running = (await db.query<{ id: string }>("SELECT id FROM games WHERE status = 'running'")).rows.map((r) => r.id);
    await db.end();
    const before = new Map(running.map((id) => [id, collector.lastTick(id)]));
    await sleep(2000);
    const stalled = running.filter((id) => !collector.isOver(id) && collector.lastTick(id) === before.get(id));

    const sum = (pick: (s: BotSummary) => number) => summaries.reduce((n, s) => n + pick(s), 0);
    const errors: Record<string, number> = {};
    for (const s of summaries) for (const [code, n] of Object.entries(s.errors)) errors[code] = (errors[code] ?? 0) + n;
    pauses.sort((a, b) => a - b);
    const kills = stops.filter((s) => s === 'SIGKILL').length;
    const bots = FLEETS.map((f) => `${f.bots} ${f.mode}`).join(', ');
    if (bad.length > 0) process.stderr.write(`churn: games that failed the check:\n  ${bad.slice(0, 10).join('\n  ')}\n`);
    const rows: BenchResult[] = [
      { group: 'churn', name: 'games checked exactly after node churn', value: verified, unit: 'games', target: 'all',
        notes: `${collector.records.size} games on ${NODES} nodes (${PARTITIONS} partitions), bots ${bots}; ${stops.length} nodes stopped (${kills} SIGKILL, ${stops.length - kills} SIGTERM) over ${churnSeconds} s, each ${STOP_EVERY_S} s after the last one's replacement was ready, and replaced on its port; ${bad.length} failed the journal check (records, ticks, hashes, inputs once)` },
      { group: 'churn', name: 'acked turns lost over node churn', value: lost, unit: 'turns', target: '0',
        notes: `of ${acked.length} turns acked to the bots; ${[...collector.records.keys()].reduce((n, id) => n + dead.of(id).size, 0)} inputs dead-lettered with a reason (turns racing their game's end)` },
      { group: 'churn', name: 'running games not ticking after node churn', value: stalled.length, unit: 'games', target: '0',
        notes: `${running.length} games still running when the bots stopped, each watched for 2 s more` },
      { group: 'churn', name: 'bot hash mismatches over node churn', value: sum((s) => s.hashMismatches), unit: 'ticks', target: '0',
        notes: `${sum((s) => s.games)} games completed, ${sum((s) => s.ticks)} ticks checked by the bots, ${sum((s) => s.gaps)} gaps; ${sum((s) => s.reconnects)} reconnects; errors received: ${JSON.stringify(errors)}${errors.unavailable ? ' (unavailable: told its node is stopping)' : ''}; turn→ack p99 ${Math.max(...summaries.map((s) => s.ackLatencyMs.p99))} ms` },
      { group: 'churn', name: 'longest pause between two ticks of a game, median over games', value: pauses[Math.floor(pauses.length / 2)] ?? 0, unit: 'ms',
        notes: `max ${pauses.at(-1) ?? 0} ms; a game whose owner dies waits for its lease to lapse (1500 ms) and its recovery; a tick is ${defaultSettings('duel').tickMs} ms` },
    ];
    return rows;
  } finally {
    await collector.stop();
    await cluster.stop();
  }
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await run());
  process.exit(0);
}
