// Runtime capacity on this machine, against a Redis server of the benchmark's own (no persistence, so nothing
// else on the machine shows in its counters) and the local Postgres:
//   (a) concurrent duels one node sustains at 150 ms ticks with p99 tick lateness under 15 ms (steps of games);
//   (b) Redis commands per second at 1,000 and 10,000 games;
//   (c) time from SIGKILL of a node process to every game ticking again (a replacement started at once);
//   (d) checkpoint bytes per game, and actor restart time (an actor's tick throws once; it is rebuilt from its
//       checkpoint and the journal while every other game goes on).
// Games are 200x200 duels whose snakes turn away from each other at tick 1 and follow the walls (turns queued at
// creation), so each lasts ~475 ticks (~71 s) with no further input. Capacity is measured with one worker thread
// (the default on two cores) and with two; the rest with the first. Run alone with
// `npx tsx bench/runtime.ts [--quick]` (SNAKETRON_BENCH_WORKERS=1,2, SNAKETRON_BENCH_STEPS=1000,10000,
// SNAKETRON_BENCH_FAILOVERS=10000, SNAKETRON_BENCH_PROFILE=dir for --cpu-prof of the failover nodes), or through
// bench/run.ts with the other benchmarks.
//
// What the measurements found (2 cores, shared with Redis, Postgres and whatever else runs on the machine):
// - All partitions ticked at the same instant, so the last one waited for the work of all the others (p99 lateness
//   ~ the whole node's work per tick: 50 ms at 2,000 games). Partitions now tick at their own phase of the period.
// - Checkpoints came every K ticks after an actor's start, so games started (or recovered) together checkpointed
//   together: a storm every 20 ticks. They now fall on ticks fixed by the actor id.
// - Checkpoint rows were sent as a VALUES list built by the query builder: ~2 us of the node's ~10 us per tick.
// - What is left per tick is mostly the engine's step (~3 us; each 200x200 game holds two 40 KB grids), and on
//   recovery the engine's snapshot decode (~60-90 us a game, ~0.9 s for 10,000) plus ~1 s to start a node process.
// - Recovery checkpointed every game the journal had moved on before its partition ticked again: at 10,000 games
//   ~0.4 s of the worker's time encoding, and 10,000 rows for Postgres beside the first ticks. Those games now
//   checkpoint on their usual ticks: SIGKILL to ticking 3.1-3.6 s against 4.0-5.0 s, alternating runs on one day.
// - Tail lateness follows CPU contention: the worker thread waiting for a core (seen in /proc/thread-self/schedstat)
//   and then working off the partitions that fell due meanwhile. Two workers halve that backlog.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { GAME_ACTOR, type CreateGame } from '../actors/snaketron/game-actor.ts';
import { defaultSettings, type Settings } from '../protocol/settings.ts';
import { LatencyHistogram } from '../runtime/histogram.ts';
import { fieldValue } from '../runtime/journal.ts';
import { Keys } from '../runtime/keys.ts';
import { createLogger } from '../runtime/log.ts';
import { Producer } from '../runtime/producer.ts';
import { decodeBatch } from '../runtime/records.ts';
import { connectRedis, type RedisClient } from '../runtime/redis.ts';
import { Runtime } from '../runtime/runtime.ts';
import { freshDatabase, type SpecDatabase } from '../spec/support/env.ts';
import { buildDist, freePort, NodeProcess } from '../spec/support/processes.ts';
import type { Bench, BenchResult } from './types.ts';

const GAMES_MODULE = new URL('../actors/snaketron/game-actor.ts', import.meta.url).href;
/** the game actor with injectable faults (a tick that throws once), for the actor restart measurement */
const FAULTY_MODULE = new URL('../spec/fixtures/faulty-game.ts', import.meta.url).href;
const FAULTY_ACTOR = 'spec.faulty-game';

const TICK_MS = 150;
const BENCH_DUEL: Settings = { ...defaultSettings('duel'), width: 200, height: 200, tickMs: TICK_MS };
const COUNTDOWN_MS = 1000;
const PARTITIONS = 32;
const LATENESS_TARGET_MS = 15;

interface Options {
  quick: boolean;
  /** worker threads of the node; capacity is measured with each, the rest with the first */
  workers: number[];
  log: (line: string) => void;
}

function threads(workers: number): string {
  return `${workers} worker${workers === 1 ? '' : 's'}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`benchmark: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A Redis server of the benchmark's own on a free port, without persistence. */
class BenchRedis {
  private constructor(readonly port: number, private readonly dir: string, private readonly child: ChildProcess) {}

  static async start(): Promise<BenchRedis> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'st-bench-redis-'));
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
      '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
    const server = new BenchRedis(port, dir, child);
    const probe = new Redis(server.url, { lazyConnect: true, retryStrategy: () => 50 });
    probe.on('error', () => undefined);
    await until('the benchmark Redis to answer', async () => (await probe.ping().catch(() => '')) === 'PONG', 10000);
    probe.disconnect();
    return server;
  }

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Redis' own counters: every command (also those a script runs) and the script calls (round trips of the runtime). */
async function redisCounters(redis: RedisClient): Promise<{ commands: number; scripts: number; cpuSeconds: number }> {
  const stats = await redis.info('stats');
  const commandstats = await redis.info('commandstats');
  const cpu = await redis.info('cpu');
  const commands = Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? 0);
  let scripts = 0;
  for (const m of commandstats.matchAll(/cmdstat_(evalsha|eval):calls=(\d+)/g)) scripts += Number(m[2]);
  const cpuSeconds = Number(/used_cpu_sys:([\d.]+)/.exec(cpu)?.[1] ?? 0) + Number(/used_cpu_user:([\d.]+)/.exec(cpu)?.[1] ?? 0);
  return { commands, scripts, cpuSeconds };
}

/** The entries of every partition's mailbox and outbox, and Redis's memory: what trimming keeps flat (RUNTIME.md 5). */
async function journalFootprint(redis: RedisClient, keys: Keys): Promise<{ entries: number; usedMiB: number }> {
  const lengths = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => Promise.all([redis.xlen(keys.inbox(p)), redis.xlen(keys.outbox(p))])));
  const memory = await redis.info('memory');
  return { entries: lengths.flat().reduce((a, b) => a + b, 0), usedMiB: Number(/used_memory:(\d+)/.exec(memory)?.[1] ?? 0) / 2 ** 20 };
}

/**
 * The turns of every benchmark game: the snakes turn away from each other at tick 1 (up, down), follow the walls
 * near them and turn again before the far walls, never crossing; the game ends at tick ~475 (~71 s).
 */
const ROUTE: ReadonlyArray<[snakeId: number, dir: 0 | 1 | 2 | 3, t: number]> = [
  [0, 0, 1], [1, 2, 1], [0, 1, 96], [1, 3, 96], [0, 2, 280], [1, 0, 280],
];

/** Creates duels that run ~475 ticks with no input after their ROUTE. */
class GameFactory {
  private n = 0;
  readonly created: Array<{ id: string; at: number; type: string }> = [];

  constructor(private readonly producer: Producer, private readonly tag: string) {}

  async create(count: number, faultyEvery = 0): Promise<string[]> {
    const ids: string[] = [];
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const k = this.n++;
      const id = `${this.tag}-${k}`;
      const type = faultyEvery > 0 && k % faultyEvery === 0 ? FAULTY_ACTOR : GAME_ACTOR;
      const init: CreateGame = {
        settings: BENCH_DUEL, seed: (k * 7919 + 17) >>> 0, countdownMs: COUNTDOWN_MS,
        players: [{ userId: `u${k}a`, name: 'up' }, { userId: `u${k}b`, name: 'down' }],
      };
      batch.push((async () => {
        await this.producer.create(type, id, init);
        await Promise.all(ROUTE.map(([snakeId, dir, t]) => this.producer.submit(id, { k: 'turn', snakeId, dir, t })));
      })());
      ids.push(id);
      this.created.push({ id, at: Date.now(), type });
      if (batch.length >= 2000) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
    return ids;
  }
}

function delta(after: LatencyHistogram, before: { counts: number[]; sum: number; count: number }): LatencyHistogram {
  const out = new LatencyHistogram();
  out.merge({ counts: after.counts.map((c, i) => c - (before.counts[i] ?? 0)), sum: after.sum - before.sum, count: after.count - before.count });
  return out;
}

function snapshot(h: LatencyHistogram): { counts: number[]; sum: number; count: number } {
  return { counts: [...h.counts], sum: h.sum, count: h.count };
}

function hostedActors(runtime: Runtime): number {
  let n = 0;
  for (const owned of runtime.supervisor.owned.values()) n += owned.actors;
  return n;
}

interface Step {
  games: number;
  p50: number;
  p99: number;
  ticksPerSecond: number;
  commandsPerSecond: number;
  scriptsPerSecond: number;
  /** CPU of this process (the node: supervisor and workers) per tick */
  cpuPerTickUs: number;
  redisCpu: number;
  load: number;
  /** the journal's entries and Redis's memory at the window's start and end */
  footprint: Array<{ entries: number; usedMiB: number }>;
}

/** (a), and with `extras` (b) and (d): one node in this process with `workers` threads, games added step by step. */
async function capacity(options: Options, redisUrl: string, db: SpecDatabase, workers: number, extras: boolean): Promise<BenchResult[]> {
  const steps = process.env.SNAKETRON_BENCH_STEPS?.split(',').map(Number) ?? (options.quick ? [1000, 2000] : [1000, 2000, 5000, 10000]);
  const warmupMs = options.quick ? 2500 : 3000;
  const windowMs = options.quick ? 3000 : 8000;
  const prefix = `bench-${Date.now().toString(36)}`;
  const runtime = await Runtime.start({
    redisUrl, databaseUrl: db.url, actorModules: [GAMES_MODULE, FAULTY_MODULE], prefix, partitions: PARTITIONS,
    workers, logger: createLogger({ bench: 'runtime' }, process.env.SNAKETRON_LOG_LEVEL ?? 'error'),
    // what the replay checks for actor developers cost (see RuntimeOptions.verifyReplays)
    verifyReplays: Number(process.env.SNAKETRON_VERIFY_REPLAYS ?? 0),
  });
  const admin = connectRedis(redisUrl);
  const results: BenchResult[] = [];
  const measured: Step[] = [];
  try {
    await until('the node to own its partitions', () => runtime.isSettled(), 30000);
    const factory = new GameFactory(runtime.producer, 'cap');
    const counters = runtime.supervisor.counters;
    for (const games of steps) {
      const add = games - factory.created.length;
      const started = Date.now();
      await factory.create(add, 100);
      options.log(`  ${games} games (${threads(workers)}): created ${add} in ${Date.now() - started} ms; warming up`);
      await until(`${games} games to be hosted`, () => hostedActors(runtime) >= games, 30000);
      await sleep(COUNTDOWN_MS + warmupMs);
      const lateness = snapshot(counters.lateness);
      const ticks = counters.ticks;
      const footprintBefore = await journalFootprint(admin, runtime.keys);
      const redisBefore = await redisCounters(admin);
      const cpuBefore = process.cpuUsage();
      const windowStart = Date.now();
      await sleep(windowMs);
      const cpu = process.cpuUsage(cpuBefore);
      const redisAfter = await redisCounters(admin);
      const footprintAfter = await journalFootprint(admin, runtime.keys);
      const seconds = (Date.now() - windowStart) / 1000;
      const window = delta(counters.lateness, lateness);
      const step: Step = {
        games,
        p50: window.quantile(0.5),
        p99: window.quantile(0.99),
        ticksPerSecond: Math.round((counters.ticks - ticks) / seconds),
        commandsPerSecond: Math.round((redisAfter.commands - redisBefore.commands) / seconds),
        scriptsPerSecond: Math.round((redisAfter.scripts - redisBefore.scripts) / seconds),
        cpuPerTickUs: Math.round(((cpu.user + cpu.system) / Math.max(1, counters.ticks - ticks)) * 10) / 10,
        redisCpu: Math.round(((redisAfter.cpuSeconds - redisBefore.cpuSeconds) / seconds) * 100),
        load: loadavg()[0],
        footprint: [footprintBefore, footprintAfter],
      };
      measured.push(step);
      options.log(`  ${games} games (${threads(workers)}): lateness p50 ${step.p50} ms p99 ${step.p99} ms, ${step.ticksPerSecond} ticks/s `
        + `(expected ${Math.round(games * 1000 / TICK_MS)}), node CPU ${step.cpuPerTickUs} us/tick, Redis ${step.commandsPerSecond} commands/s `
        + `(${step.scriptsPerSecond} script calls/s, ${step.redisCpu}% CPU), load average ${step.load.toFixed(1)}`);
    }
    // ticks come in the workers' reports (every 200 ms), so a window's count is good to a few percent
    const sustained = measured.filter((s) => s.p99 <= LATENESS_TARGET_MS && s.ticksPerSecond >= 0.95 * s.games * 1000 / TICK_MS);
    results.push({
      group: 'runtime', name: `duels at 150 ms ticks with p99 lateness <= 15 ms, ${threads(workers)}`,
      value: sustained.length ? Math.max(...sustained.map((s) => s.games)) : 0, unit: 'games', target: '>= 10000',
      notes: `one node, ${PARTITIONS} partitions, 200x200 boards; p99 by step: ${measured.map((s) => `${s.games}: ${s.p99} ms`).join(', ')}`,
    });
    for (const s of measured) {
      results.push({
        group: 'runtime', name: `tick lateness p99 at ${s.games} games, ${threads(workers)}`, value: s.p99, unit: 'ms', target: `<= ${LATENESS_TARGET_MS}`,
        notes: `p50 ${s.p50} ms; ${s.ticksPerSecond} ticks/s of ${Math.round(s.games * 1000 / TICK_MS)}; node CPU ${s.cpuPerTickUs} us/tick; machine load ${s.load.toFixed(1)}`,
      });
    }
    if (!extras) return results;
    for (const s of measured.filter((m) => m.games === 1000 || m.games === 10000 || (options.quick && m === measured[measured.length - 1]))) {
      results.push({
        group: 'runtime', name: `Redis commands/s at ${s.games} games`, value: s.commandsPerSecond, unit: 'commands/s',
        notes: `${s.scriptsPerSecond} of them script calls (round trips), the rest run inside the scripts; Redis at ${s.redisCpu}% of a core`,
      });
      const [before, after] = s.footprint;
      results.push({
        group: 'runtime', name: `Redis memory growth over ${windowMs / 1000} s at ${s.games} games`, value: Math.round((after.usedMiB - before.usedMiB) * 10) / 10, unit: 'MiB',
        notes: `constant load (every game running): used_memory ${before.usedMiB.toFixed(1)} → ${after.usedMiB.toFixed(1)} MiB; mailbox and outbox entries ${before.entries} → ${after.entries} (trimmed behind the checkpoints)`,
      });
    }

    // (d) actor restarts under load: one game in a hundred throws once at a tick a little ahead
    const faulty = factory.created.filter((g) => g.type === FAULTY_ACTOR);
    const restartsBefore = snapshot(counters.actorRestartMs);
    const now = Date.now();
    await Promise.all(faulty.map((g, i) => {
      const tick = Math.floor((now - g.at - COUNTDOWN_MS) / TICK_MS) + 10 + (i % 10);
      return runtime.submit(g.id, { k: 'throw-at-tick', t: tick });
    }));
    await until('the faulty actors to restart', () => counters.actorRestartMs.count - restartsBefore.count >= faulty.length, 30000)
      .catch((err: unknown) => options.log(`  ${(err as Error).message}`));
    const restarts = delta(counters.actorRestartMs, restartsBefore);
    results.push({
      group: 'runtime', name: 'actor restart p50', value: restarts.quantile(0.5), unit: 'ms',
      notes: `${restarts.count} restarts (a tick threw) among ${factory.created.length} running games; mean ${(restarts.sum / Math.max(1, restarts.count)).toFixed(1)} ms`,
    });
    results.push({ group: 'runtime', name: 'actor restart p99', value: restarts.quantile(0.99), unit: 'ms' });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ avg: string; n: string }>('SELECT avg(length(state))::float8 AS avg, count(*) AS n FROM checkpoints');
      results.push({
        group: 'runtime', name: 'checkpoint bytes per game', value: Math.round(Number(rows[0].avg)), unit: 'bytes',
        notes: `average of ${rows[0].n} rows (running 200x200 duels)`,
      });
    } finally {
      await client.end();
    }
    results.push({ group: 'runtime', name: 'checkpoint write p99', value: counters.checkpointMs.quantile(0.99), unit: 'ms', notes: `batches of up to 500 rows; p50 ${counters.checkpointMs.quantile(0.5)} ms` });
    results.push({ group: 'runtime', name: 'commit p99', value: counters.commitMs.quantile(0.99), unit: 'ms', notes: `one Lua script per partition per tick; p50 ${counters.commitMs.quantile(0.5)} ms` });
  } finally {
    admin.disconnect();
    await runtime.stop(false);
  }
  return results;
}

/** Follows the outboxes from given positions and notes, per game, whether a batch of a newer epoch ticked it. */
class TickWatcher {
  private readonly redis: Redis;
  readonly ticked = new Set<string>();

  constructor(redisUrl: string, private readonly keys: Keys) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  }

  async positions(): Promise<{ ids: string[]; epochs: number[] }> {
    const ids: string[] = [];
    const epochs: number[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const [last] = await this.redis.xrevrange(this.keys.outbox(p), '+', '-', 'COUNT', 1);
      ids.push(last?.[0] ?? '0-0');
      epochs.push(Number(await this.redis.get(this.keys.epoch(p)) ?? 0));
    }
    return { ids, epochs };
  }

  /** Reads until `done()` or the timeout; ticks in batches of an epoch above `epochs[p]` count. */
  async follow(from: { ids: string[]; epochs: number[] }, done: () => boolean, timeoutMs: number): Promise<void> {
    const streams = Array.from({ length: PARTITIONS }, (_, p) => this.keys.outbox(p));
    const cursors = [...from.ids];
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`benchmark: games did not all tick again within ${timeoutMs} ms (${this.ticked.size} did)`);
      type Reply = Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
      const reply = (await this.redis.xreadBuffer('COUNT', 1000, 'BLOCK', 20, 'STREAMS', ...streams, ...cursors)) as unknown as Reply;
      for (const [streamBuf, entries] of reply ?? []) {
        const p = streams.indexOf(streamBuf.toString());
        for (const [id, fields] of entries) {
          cursors[p] = id.toString();
          const batch = decodeBatch(fieldValue(fields, 'd'));
          if (batch.epoch <= from.epochs[p]) continue;
          for (const record of batch.records) if (record.t !== undefined) this.ticked.add(record.a);
        }
      }
    }
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** (c): a node process SIGKILLed with `games` running; a replacement (same node id) started at once. */
async function failover(options: Options, redisUrl: string, games: number): Promise<BenchResult[]> {
  const db = await freshDatabase('bench_failover');
  const prefix = `bench-fo-${Date.now().toString(36)}`;
  const keys = new Keys(prefix);
  const producerRedis = connectRedis(redisUrl);
  const watcher = new TickWatcher(redisUrl, keys);
  const nodes: NodeProcess[] = [];
  const nodeOptions = {
    redisUrl, databaseUrl: db.url, prefix, partitions: PARTITIONS, nodeId: `${prefix}-node`, workers: options.workers[0], compiled: true,
    execArgv: process.env.SNAKETRON_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SNAKETRON_BENCH_PROFILE}`] : [],
  };
  try {
    const first = NodeProcess.start(nodeOptions);
    nodes.push(first);
    await first.ready(60000);
    const factory = new GameFactory(new Producer(producerRedis, keys, PARTITIONS), 'fo');
    const ids = await factory.create(games);
    // every game ticking, then a few checkpoints' worth of ticks, so recovery replays what it usually does
    const start = await watcher.positions();
    start.epochs.fill(0);
    await watcher.follow(start, () => watcher.ticked.size >= ids.length, 60000);
    watcher.ticked.clear();
    await sleep(options.quick ? 2000 : 4000);

    const at = await watcher.positions();
    const killedAt = Date.now();
    await first.kill();
    const second = NodeProcess.start(nodeOptions);
    nodes.push(second);
    await watcher.follow(at, () => watcher.ticked.size >= ids.length, 60000);
    const ms = Date.now() - killedAt;
    await second.ready(60000);
    const recovered = second.lines.filter((l) => l.startsWith('recovered ')).map((l) => Number(l.split(' ')[4]));
    options.log(`  failover with ${games} games: every game ticked again ${ms} ms after the SIGKILL (slowest partition recovery ${Math.max(...recovered)} ms)`);
    return [{
      group: 'runtime', name: `SIGKILL to every game ticking again, ${games} games`, value: ms, unit: 'ms',
      ...(games === 10000 ? { target: '< 3000' } : {}),
      notes: `${threads(options.workers[0])}; replacement process (compiled, as production runs) started at once with the same node id; slowest partition recovery ${Math.max(...recovered)} ms`,
    }];
  } finally {
    for (const node of nodes) {
      // a graceful stop, so a profiled node writes its profile
      node.signal('SIGTERM');
      await Promise.race([node.exited, sleep(10000)]);
      await node.kill();
    }
    watcher.close();
    producerRedis.disconnect();
    await db.drop();
  }
}

export async function runRuntimeBench(partial: Partial<Options> = {}): Promise<BenchResult[]> {
  const options: Options = {
    quick: partial.quick ?? false,
    workers: partial.workers ?? (process.env.SNAKETRON_BENCH_WORKERS ?? (partial.quick ? '1' : '1,2')).split(',').map(Number),
    log: partial.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
  const redis = await BenchRedis.start();
  const results: BenchResult[] = [];
  try {
    for (const [i, workers] of options.workers.entries()) {
      const db = await freshDatabase('bench_runtime');
      try {
        options.log(`runtime: capacity with ${threads(workers)}${i === 0 ? ', Redis load, checkpoints, actor restarts' : ''}`);
        results.push(...await capacity(options, redis.url, db, workers, i === 0));
      } finally {
        await db.drop();
      }
      await flush(redis.url);
    }
    const failovers = process.env.SNAKETRON_BENCH_FAILOVERS?.split(',').filter(Boolean).map(Number) ?? (options.quick ? [1000] : [1000, 10000]);
    if (failovers.length > 0) buildDist();
    for (const games of failovers) {
      options.log(`runtime: failover with ${games} games`);
      results.push(...await failover(options, redis.url, games));
      await flush(redis.url);
    }
  } finally {
    await redis.stop();
  }
  return results;
}

async function flush(url: string): Promise<void> {
  const redis = new Redis(url);
  await redis.flushall();
  redis.disconnect();
}

export const run: Bench = () => runRuntimeBench({ quick: process.argv.includes('--quick') });

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await run();
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'group'.padEnd(9)} ${'name'.padEnd(width)} ${'value'.padStart(9)} unit        target     notes`);
  for (const r of rows) {
    console.log(`${r.group.padEnd(9)} ${r.name.padEnd(width)} ${String(r.value).padStart(9)} ${r.unit.padEnd(11)} ${(r.target ?? '').padEnd(10)} ${r.notes ?? ''}`);
  }
  process.exit(0);
}
