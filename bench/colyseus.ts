// Baseline: the same duel on Colyseus 0.18 (bench/colyseus/, its own package, installed here only for this).
// 1. Load: steps up concurrent duel players, driven by bot processes through the Colyseus SDK, until tick delivery
//    p99 passes 20 ms or a driver saturates; reports the most players under 20 ms and the server's CPU and RSS per
//    game there. Server and drivers share this machine's cores, and the table says how busy each was.
// 2. kill -9: a few duels, the server SIGKILLed mid-game and started again on the same port; reports what the
//    players got back (Colyseus keeps rooms in memory only).
// Run alone: `npx tsx bench/colyseus.ts [--quick]`. Colyseus is never imported here: it lives in
// bench/colyseus/node_modules, so the server and the bots run as child processes.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../spec/support/processes.ts';
import type {
  CpuTime, DriverCommand, DriverReport, DriverWindow, FailoverOutcome, FailoverPlaying, FailoverReport,
  ServerReport, ServerSample,
} from './colyseus/control.ts';
import { LatencyHistogram } from './colyseus/histogram.ts';
import { runQueueWaitSeconds, waitedShare } from './schedstat.ts';
import type { Bench, BenchResult } from './types.ts';

const BASELINE_DIR = fileURLToPath(new URL('./colyseus/', import.meta.url));
const QUICK = process.argv.includes('--quick');
/** Players stepped through, stopping at the first level that fails. */
const LEVELS = QUICK ? [200, 1000] : [200, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 6000, 8000];
const P99_LIMIT_MS = 20;
/**
 * Load driver processes, each with its share of the bots. A bot costs more CPU than its share of the server (the
 * SDK decoding every tick, the bot's own copy of the game), so two keep either far from a full core.
 */
const DRIVERS = Number(process.env.COLYSEUS_BENCH_DRIVERS ?? 2);
const WARMUP_MS = QUICK ? 1000 : 2000;
const MEASURE_MS = QUICK ? 4000 : 8000;
/** A driver using this much of one core measures its own queueing as much as the server's delivery. */
const DRIVER_SATURATED = 0.9;
/** The level failed to keep this share of its players in stepping games: matchmaking could not keep up. */
const MIN_PLAYING = 0.8;
const FAILOVER_GAMES = 4;

/** A child process of the baseline, talking over IPC; its output is kept for error messages. */
class BaselineProcess<Report extends { kind: string }> {
  private output = '';
  private readonly waiting: Array<{ kind: string; resolve: (report: Report) => void }> = [];
  readonly exited: Promise<void>;

  constructor(readonly name: string, readonly child: ChildProcess) {
    const keep = (chunk: Buffer) => { this.output = (this.output + chunk.toString()).slice(-4000); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('message', (report: Report) => {
      const at = this.waiting.findIndex((w) => w.kind === report.kind);
      if (at >= 0) this.waiting.splice(at, 1)[0].resolve(report);
    });
    this.exited = new Promise((resolve) => child.on('exit', () => resolve()));
  }

  static start<R extends { kind: string }>(name: string, script: string, args: string[]): BaselineProcess<R> {
    // The baseline's own tsx, so that its scripts resolve Colyseus from bench/colyseus/node_modules; node itself
    // (not the tsx CLI, which would run the script in a grandchild) so that a SIGKILL reaches the script.
    const tsx = pathToFileURL(createRequire(`${BASELINE_DIR}package.json`).resolve('tsx')).href;
    const child = spawn(process.execPath, ['--import', tsx, script, ...args], {
      cwd: BASELINE_DIR, stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    return new BaselineProcess<R>(name, child);
  }

  /** The next report of that kind; fails with the process's last output if it exits or takes longer than `timeoutMs`. */
  next<K extends Report['kind']>(kind: K, timeoutMs: number): Promise<Extract<Report, { kind: K }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(`sent no ${kind} in ${timeoutMs} ms`), timeoutMs);
      const fail = (what: string) => reject(new Error(`colyseus baseline ${this.name} ${what}; its last output:\n${this.output}`));
      void this.exited.then(() => { clearTimeout(timer); fail(`exited (${this.child.exitCode ?? this.child.signalCode})`); });
      this.waiting.push({ kind, resolve: (report) => { clearTimeout(timer); resolve(report as Extract<Report, { kind: K }>); } });
    });
  }

  send(message: object): void {
    this.child.send(message);
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

type ServerProcess = BaselineProcess<ServerReport>;
type DriverProcess = BaselineProcess<DriverReport>;

async function startServer(port: number): Promise<ServerProcess> {
  const server = BaselineProcess.start<ServerReport>('server', 'server.ts', ['--port', String(port)]);
  await server.next('listening', 30_000);
  return server;
}

async function sample(server: ServerProcess): Promise<ServerSample> {
  server.send({ kind: 'sample' });
  return server.next('sample', 10_000);
}

/** Installs bench/colyseus's packages from its lockfile when they are missing or older than it. */
function ensureInstalled(): void {
  const installed = `${BASELINE_DIR}node_modules/.package-lock.json`;
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(`${BASELINE_DIR}package-lock.json`).mtimeMs) return;
  process.stderr.write('bench: installing bench/colyseus (npm ci)…\n');
  const npm = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: BASELINE_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
  if (npm.status !== 0) throw new Error(`npm ci in bench/colyseus failed (exit ${npm.status}); run it there by hand to see why`);
}

function version(pkg: string): string {
  const json = JSON.parse(readFileSync(`${BASELINE_DIR}node_modules/${pkg}/package.json`, 'utf8')) as { name: string; version: string };
  return `${pkg}@${json.version}${json.name === pkg ? '' : ` (${json.name})`}`;
}

/** Busy and total jiffies of the whole machine, from /proc/stat (zeros where there is none). */
function machineCpu(): { busy: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - fields[3] - (fields[4] ?? 0), total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

const cpuSeconds = (cpu: CpuTime): number => (cpu.user + cpu.system) / 1e6;
const sumOf = (values: number[]): number => values.reduce((a, b) => a + b, 0);
const round = (value: number, places = 2): number => Math.round(value * 10 ** places) / 10 ** places;

interface Level {
  players: number;
  playing: number;
  games: number;
  tick: LatencyHistogram;
  interval: LatencyHistogram;
  ack: LatencyHistogram;
  ticks: number;
  gaps: number;
  hashMismatches: number;
  joinFailures: number;
  /** in cores (1 = one core busy all the time) */
  serverCpu: number;
  /** the part of serverCpu spent in the kernel: mostly writing frames to client sockets */
  serverKernelCpu: number;
  /** the share of the window the server's thread was ready to run but waited for a core (null: not known here) */
  serverWait: number | null;
  driverCpu: number[];
  /** everything else on the machine: other people's work */
  otherCpu: number;
  serverRss: number;
  serverLoopDelayP99: number;
  driverLoopDelayP99: number;
  /** why this level ends the run, if it does */
  failed: { reason: 'latency' | 'driver' | 'matchmaking'; detail: string } | null;
}

/** Each driver's share of the players, in whole duels. */
function shares(players: number, drivers: number): number[] {
  const duels = Math.floor(players / 2);
  return Array.from({ length: drivers }, (_, i) => 2 * (Math.floor(duels / drivers) + (i < duels % drivers ? 1 : 0)));
}

function ask<K extends DriverReport['kind']>(drivers: DriverProcess[], commands: DriverCommand[], kind: K, timeoutMs: number) {
  return Promise.all(drivers.map((driver, i) => {
    driver.send(commands[i]);
    return driver.next(kind, timeoutMs);
  }));
}

/**
 * Grows the load to `players` and measures a window after a warm-up. The machine is shared (other work shows in
 * `otherCpu`), so a window over the p99 limit is measured again, and the level fails only if that one fails too.
 */
async function measureLevel(server: ServerProcess, drivers: DriverProcess[], players: number): Promise<Level> {
  await ask(drivers, shares(players, drivers.length).map((share) => ({ kind: 'grow', players: share })), 'grown', 120_000);
  await ask(drivers, drivers.map(() => ({ kind: 'measure', ms: WARMUP_MS })), 'window', WARMUP_MS + 30_000);
  const first = await measureWindow(server, drivers, players);
  if (first.failed?.reason !== 'latency') return first;
  return measureWindow(server, drivers, players);
}

async function measureWindow(server: ServerProcess, drivers: DriverProcess[], players: number): Promise<Level> {
  const before = await sample(server);
  const waitBefore = runQueueWaitSeconds(server.child.pid!);
  const machineBefore = machineCpu();
  const startedAt = performance.now();
  const windows: DriverWindow[] = await ask(drivers, drivers.map(() => ({ kind: 'measure', ms: MEASURE_MS })), 'window', MEASURE_MS + 30_000);
  const seconds = (performance.now() - startedAt) / 1000;
  const after = await sample(server);
  const waitAfter = runQueueWaitSeconds(server.child.pid!);
  const machineAfter = machineCpu();

  const serverCpu = (cpuSeconds(after.cpu) - cpuSeconds(before.cpu)) / seconds;
  const driverCpu = windows.map((w) => cpuSeconds(w.cpu) / (w.ms / 1000));
  const machineTotal = machineAfter.total - machineBefore.total;
  const machineBusy = machineTotal > 0 ? ((machineAfter.busy - machineBefore.busy) / machineTotal) * availableParallelism() : 0;
  const sum = (pick: (w: DriverWindow) => number) => windows.reduce((n, w) => n + pick(w), 0);
  const level: Level = {
    players,
    playing: sum((w) => w.playing),
    games: after.games,
    tick: LatencyHistogram.fromData(...windows.map((w) => w.tickLatency)),
    interval: LatencyHistogram.fromData(...windows.map((w) => w.tickInterval)),
    ack: LatencyHistogram.fromData(...windows.map((w) => w.ackLatency)),
    ticks: sum((w) => w.ticks),
    gaps: sum((w) => w.gaps),
    hashMismatches: sum((w) => w.hashMismatches),
    joinFailures: sum((w) => w.joinFailures),
    serverCpu,
    serverKernelCpu: (after.cpu.system - before.cpu.system) / 1e6 / seconds,
    serverWait: waitedShare(waitBefore, waitAfter, seconds),
    driverCpu,
    otherCpu: Math.max(0, machineBusy - serverCpu - sumOf(driverCpu)),
    serverRss: after.rss,
    serverLoopDelayP99: after.loopDelayP99,
    driverLoopDelayP99: Math.max(...windows.map((w) => w.loopDelayP99)),
    failed: null,
  };
  const p99 = level.tick.quantile(0.99);
  const busiestDriver = Math.max(...driverCpu);
  if (p99 >= P99_LIMIT_MS) {
    level.failed = { reason: 'latency', detail: `tick p99 ${round(p99, 1)} ms` };
  } else if (busiestDriver >= DRIVER_SATURATED) {
    level.failed = { reason: 'driver', detail: `a load driver saturated (${round(busiestDriver * 100, 0)}% of a core)` };
  } else if (level.playing < MIN_PLAYING * players) {
    level.failed = { reason: 'matchmaking', detail: `only ${level.playing} of ${players} players in running games` };
  }
  return level;
}

function describeLevel(level: Level): string {
  const pct = (cores: number) => `${round(cores * 100, 0)}%`;
  return [
    `p50 ${round(level.tick.quantile(0.5))} ms, max ${round(level.tick.max, 1)} ms`,
    `ack p50 ${round(level.ack.quantile(0.5))} / p99 ${round(level.ack.quantile(0.99))} ms`,
    `tick interval p99 ${round(level.interval.quantile(0.99), 1)} ms`,
    `${level.games} games, ${level.playing} players playing, ${level.ticks} ticks, ${level.gaps} gaps, ` +
      `${level.hashMismatches} hash mismatches, ${level.joinFailures} failed joins`,
    `CPU (of one core): server ${pct(level.serverCpu)} (${pct(level.serverKernelCpu)} in the kernel, and waiting for a core ${level.serverWait === null ? '?' : pct(level.serverWait)} of the window), driver ${level.driverCpu.map(pct).join('+')}, other work on the machine ${pct(level.otherCpu)}`,
    `event loop p99: server ${round(level.serverLoopDelayP99, 1)} ms, driver ${round(level.driverLoopDelayP99, 1)} ms`,
    ...(level.failed === null ? [] : [`stops the run: ${level.failed.detail}`]),
  ].join('; ');
}

async function loadSteps(versions: string): Promise<BenchResult[]> {
  const port = await freePort();
  const server = await startServer(port);
  const drivers: DriverProcess[] = [];
  const levels: Level[] = [];
  try {
    const idle = await sample(server);
    for (let i = 0; i < DRIVERS; i++) {
      drivers.push(BaselineProcess.start<DriverReport>(`load driver ${i + 1}`, 'load.ts', ['--url', `http://127.0.0.1:${port}`]));
    }
    for (const players of LEVELS) {
      process.stderr.write(`bench: colyseus ${players} players…\n`);
      const level = await measureLevel(server, drivers, players);
      levels.push(level);
      if (level.failed !== null) break;
    }
    return loadRows(levels, idle, versions);
  } finally {
    for (const driver of drivers) driver.send({ kind: 'stop' });
    await Promise.race([Promise.all(drivers.map((d) => d.exited)), new Promise((r) => setTimeout(r, 10_000))]);
    await Promise.all(drivers.map((d) => d.kill('SIGKILL')));
    await server.kill('SIGKILL');
  }
}

function loadRows(levels: Level[], idle: ServerSample, versions: string): BenchResult[] {
  const rows: BenchResult[] = levels.map((level) => ({
    group: 'baseline',
    name: `colyseus tick p99 @ ${level.players} players`,
    value: round(level.tick.quantile(0.99)),
    unit: 'ms',
    target: `< ${P99_LIMIT_MS}`,
    notes: describeLevel(level),
  }));
  const best = levels.filter((level) => level.failed === null).at(-1);
  const last = levels.at(-1);
  const ending = last?.failed != null ? `${last.players} players failed: ${last.failed.detail}`
    : `every level up to ${last?.players} passed (the highest tried)`;
  const drivers = `${DRIVERS} load driver process${DRIVERS === 1 ? '' : 'es'} on the same ${availableParallelism()} cores as the server`;
  rows.push({
    group: 'baseline',
    name: `colyseus max duel players, tick p99 < ${P99_LIMIT_MS} ms`,
    value: best?.players ?? 0,
    unit: 'players',
    notes: `${ending}; ${drivers}; ${versions}`,
  });
  if (best !== undefined) {
    const games = Math.max(1, best.games);
    rows.push(
      { group: 'baseline', name: `colyseus server CPU @ ${best.players} players`, value: round(best.serverCpu * 100, 1), unit: '% of a core', notes: `${best.games} games; ${round(best.serverKernelCpu * 100, 1)}% of a core of it in the kernel, mostly sending frames; its thread waited for a core ${best.serverWait === null ? '?' : `${round(best.serverWait * 100, 1)}%`} of the window` },
      { group: 'baseline', name: 'colyseus server CPU per game', value: round((best.serverCpu * 1e6) / games, 1), unit: 'µs/s per game', notes: `at ${best.players} players: server CPU time per second of wall clock, over the games running` },
      { group: 'baseline', name: 'colyseus server RSS per game', value: round((best.serverRss - idle.rss) / games / 1024, 1), unit: 'KiB', notes: `(RSS at ${best.players} players ${round(best.serverRss / 2 ** 20, 0)} MiB − idle ${round(idle.rss / 2 ** 20, 0)} MiB) / ${best.games} games` },
      { group: 'baseline', name: `colyseus turn→ack p99 @ ${best.players} players`, value: round(best.ack.quantile(0.99)), unit: 'ms', notes: `p50 ${round(best.ack.quantile(0.5))} ms; in memory, nothing stored` },
      { group: 'baseline', name: 'colyseus load drivers\' CPU per 1,000 players', value: round((sumOf(best.driverCpu) * 100 * 1000) / best.players, 1), unit: '% of a core', notes: `at ${best.players} players: the bots, each stepping its own copy of its game` },
    );
  }
  if (last?.failed != null) {
    rows.push({
      group: 'baseline', name: 'colyseus machine CPU in use at the first level over the limit', unit: '% of a core',
      value: round((last.serverCpu + sumOf(last.driverCpu) + last.otherCpu) * 100, 0),
      notes: `${last.players} players: server ${round(last.serverCpu * 100, 0)}%, drivers ${round(sumOf(last.driverCpu) * 100, 0)}%, other ${round(last.otherCpu * 100, 0)}%, of the machine's ${availableParallelism() * 100}%`,
    });
  }
  return rows;
}

async function killExperiment(): Promise<BenchResult[]> {
  const port = await freePort();
  let server = await startServer(port);
  const players = BaselineProcess.start<FailoverReport>('failover players', 'failover.ts', [
    '--url', `http://127.0.0.1:${port}`, '--games', String(FAILOVER_GAMES),
  ]);
  try {
    const playing: FailoverPlaying = await players.next('playing', 60_000);
    const killedAt = performance.now();
    await server.kill('SIGKILL');
    server = await startServer(port);
    const restartMs = performance.now() - killedAt;
    players.send({ kind: 'restarted' });
    const outcome: FailoverOutcome = await players.next('outcome', 90_000);
    const tally = (answers: string[]) => [...new Set(answers)].map((a) => `${answers.filter((x) => x === a).length}× ${a}`).join(', ');
    return [
      {
        group: 'baseline',
        name: 'colyseus kill -9: games kept',
        value: outcome.resumed,
        unit: `of ${outcome.games} games`,
        target: 'SnakeTron: all',
        notes: `games at ticks ${playing.games.map((g) => g.t).join(', ')} when the server was SIGKILLed; ` +
          `SDK auto-reconnect: ${tally(outcome.autoReconnect)}; ` +
          `client.reconnect(token): ${tally(outcome.reconnect)}; client.joinById(roomId): ${tally(outcome.joinById)}`,
      },
      {
        group: 'baseline',
        name: 'colyseus kill -9: server back',
        value: Math.round(restartMs),
        unit: 'ms',
        notes: 'from SIGKILL to the new process listening on the same port (rooms and their games are gone with the old one)',
      },
    ];
  } finally {
    await players.kill('SIGKILL');
    await server.kill('SIGKILL');
  }
}

export const run: Bench = async () => {
  ensureInstalled();
  const versions = ['colyseus', '@colyseus/core', '@colyseus/uwebsockets-transport', 'uWebSockets.js', '@colyseus/sdk'].map(version);
  return [...await loadSteps(`${versions.join(', ')}, node ${process.version}`), ...await killExperiment()];
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await run();
  console.table(rows.map((r) => ({ name: r.name, value: r.value, unit: r.unit, target: r.target ?? '', notes: r.notes ?? '' })));
}
