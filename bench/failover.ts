// Failover: three nodes; a duel whose two players sit on nodes that do not own it; SIGKILL the owner while turns
// are in flight, and time from the kill to the next tick at the clients. Repeated 10 times (a fresh node replaces
// each victim). Every acked turn is then looked for in the game's journal: lost ones are counted.
// Graceful hand-off: bots play duels on three nodes while a fourth joins (it is handed a share of the partitions)
// and then leaves with SIGTERM (it hands them back); the longest pause between two ticks of any game is reported
// for each move.
// Run alone: `npx tsx bench/failover.ts [--quick]`.
import { pathToFileURL } from 'node:url';
import { runBots } from '../actors/snaketron/bots.ts';
import type { GameInput } from '../actors/snaketron/game-actor.ts';
import { defaultSettings } from '../protocol/settings.ts';
import { Keys } from '../runtime/keys.ts';
import { SpecCluster } from '../spec/support/cluster.ts';
import { SpecClient } from '../spec/support/client.ts';
import { REDIS_URL, sleep } from '../spec/support/env.ts';
import { JournalCollector } from '../spec/support/journal.ts';
import type { Bench, BenchResult } from './types.ts';

const PARTITIONS = 8;

interface Kill { ms: number; acked: number; lost: number }

async function oneKill(cluster: SpecCluster, collector: JournalCollector): Promise<Kill> {
  const nodes = cluster.live();
  let a = await SpecClient.connect(nodes[0].ws, 'a');
  const welcome = await a.hello('a');
  a.send({ type: 'create', settings: { players: 2, width: 100, height: 100, tickMs: 100 } });
  const lobby = await a.next('lobby');
  const owner = (await cluster.ownerOf(lobby.gameId))!;
  // both players on nodes that survive, so what the clients see is the failover itself, not a reconnect
  const others = nodes.filter((n) => n !== owner);
  if (nodes[0] === owner) {
    a.close();
    a = await SpecClient.connect(others[0].ws, 'a');
    await a.hello(undefined, welcome.token);
    a.send({ type: 'rejoin', gameId: lobby.gameId });
    await a.next('lobby');
  }
  const b = await SpecClient.connect(others[others.length - 1].ws, 'b');
  await b.hello('b');
  b.send({ type: 'join', code: lobby.code });
  await a.next('lobby', (l) => l.players.length === 2);
  a.send({ type: 'start' });
  await Promise.all([a.next('snapshot'), b.next('snapshot')]);
  let seq = 0;
  let tick = 0;
  let lastT = 0;
  const steer = setInterval(() => {
    const t = tick + 2;
    if (t <= lastT) return; // one turn per snake per tick: a staircase that keeps both snakes alive
    lastT = t;
    for (const [client, snakeId, dirs] of [[a, 0, ['up', 'right']], [b, 1, ['down', 'left']]] as const) {
      const s = ++seq;
      client.send({ type: 'turn', dir: dirs[t % 2], seq: s, t });
      void snakeId;
    }
  }, 100);
  const follow = setInterval(() => { tick = a.all('tick').at(-1)?.t ?? tick; }, 20);
  await a.next('tick', (m) => m.t >= 10, 30_000);
  const before = a.all('tick').at(-1)!.t;
  const killedAt = Date.now();
  owner.kill('SIGKILL');
  await a.next('tick', (m) => m.t > before, 30_000);
  const ms = Date.now() - killedAt;
  await a.next('tick', (m) => m.t > before + 10, 30_000);
  clearInterval(steer);
  clearInterval(follow);
  await new Promise((r) => setTimeout(r, 1500));
  const applied = (collector.records.get(lobby.gameId) ?? []).flatMap((r) => (r.i ?? []).map((x) => x.b as GameInput))
    .filter((x): x is Extract<GameInput, { k: 'turn' }> => x.k === 'turn');
  // acks are read from what each client received (waiting for them one by one would race the tick waits)
  const acked = [...a.all('ack').map((x) => ({ snakeId: 0, t: x.t })), ...b.all('ack').map((x) => ({ snakeId: 1, t: x.t }))];
  const lost = acked.filter((turn) => !applied.some((x) => x.snakeId === turn.snakeId && x.t === turn.t)).length;
  a.close();
  b.close();
  await cluster.start();
  await cluster.settled();
  return { ms, acked: acked.length, lost };
}

interface HandOff { joinPauseMs: number; leavePauseMs: number; games: number }

/**
 * Duel bots on the three nodes; a fourth node joins, then leaves with SIGTERM. For each move, the longest time
 * between two consecutive ticks of any game whose ticks straddle it (from the records' step times).
 */
async function handOffs(cluster: SpecCluster, collector: JournalCollector): Promise<HandOff> {
  const abort = new AbortController();
  const fleet = runBots({ urls: cluster.live().map((n) => n.ws), bots: 48, mode: 'duel', name: 'handoff', signal: abort.signal });
  try {
    await sleep(4000);
    const joinFrom = Date.now();
    const fourth = await cluster.start();
    await cluster.settled();
    await sleep(2000);
    const joinTo = Date.now();
    await fourth.stop();
    await cluster.settled();
    await sleep(2000);
    const leaveTo = Date.now();
    let joinPauseMs = 0;
    let leavePauseMs = 0;
    let games = 0;
    for (const records of collector.records.values()) {
      const ticks = records.filter((r) => r.t !== undefined && r.at >= joinFrom - 1000 && r.at <= leaveTo);
      if (ticks.length > 1) games++;
      for (let i = 1; i < ticks.length; i++) {
        const pause = ticks[i].at - ticks[i - 1].at;
        if (ticks[i].at <= joinTo) joinPauseMs = Math.max(joinPauseMs, pause);
        else leavePauseMs = Math.max(leavePauseMs, pause);
      }
    }
    return { joinPauseMs, leavePauseMs, games };
  } finally {
    abort.abort();
    await fleet;
  }
}

export const run: Bench = async () => {
  const kills = process.argv.includes('--quick') ? 3 : 10;
  const cluster = await SpecCluster.create('failover', { partitions: PARTITIONS });
  const collector = new JournalCollector(REDIS_URL, new Keys(cluster.prefix), PARTITIONS);
  await collector.start();
  const results: Kill[] = [];
  let handOff: HandOff;
  try {
    for (let i = 0; i < 3; i++) await cluster.start();
    await cluster.settled();
    for (let i = 0; i < kills; i++) {
      results.push(await oneKill(cluster, collector));
      process.stderr.write(`failover ${i + 1}/${kills}: ${results.at(-1)!.ms} ms to the next tick\n`);
    }
    handOff = await handOffs(cluster, collector);
  } finally {
    await collector.stop();
    await cluster.stop();
  }
  const times = results.map((r) => r.ms).sort((x, y) => x - y);
  const rows: BenchResult[] = [
    { group: 'failover', name: 'SIGKILL of owner → next tick at clients, p50', value: times[Math.floor(times.length / 2)], unit: 'ms', target: '< 2000', notes: `${kills} kills, lease 1500 ms` },
    { group: 'failover', name: 'SIGKILL of owner → next tick at clients, max', value: times.at(-1)!, unit: 'ms', target: '< 2000' },
    { group: 'failover', name: 'SnakeTron kill -9 of the owner: games kept', value: results.length, unit: `of ${results.length}`, notes: 'each game went on from the tick it had reached' },
    { group: 'failover', name: 'acked turns lost', value: results.reduce((n, r) => n + r.lost, 0), unit: 'turns', target: '= 0', notes: `of ${results.reduce((n, r) => n + r.acked, 0)} acked` },
    { group: 'failover', name: 'node joins (hand-off to it): longest pause between ticks', value: handOff.joinPauseMs, unit: 'ms', notes: `${handOff.games} duels of 48 bots on 3 nodes, ticks every ${defaultSettings('duel').tickMs} ms` },
    { group: 'failover', name: 'node leaves with SIGTERM (hand-off back): longest pause between ticks', value: handOff.leavePauseMs, unit: 'ms' },
  ];
  return rows;
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await run());
  process.exit(0);
}

