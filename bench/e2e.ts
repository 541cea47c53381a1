// End-to-end capacity over WebSockets: one node (with Redis and Postgres on this machine), and a load driver
// process of bot players in duels (bench/e2e-driver.ts). Steps the number of players up and reports the most the
// node holds with tick delivery p99 (after commit) under 20 ms, the criterion and the one the Colyseus
// baseline is held to; turn→ack p99 (a durable Redis write) and delivery measured from the step are reported beside
// it. Also its CPU and memory per game, and the CPU the node uses with no players (a fixed part of every step).
// Run alone: `npx tsx bench/e2e.ts [--quick]`.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Redis } from 'ioredis';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SpecCluster } from '../spec/support/cluster.ts';
import { REDIS_URL } from '../spec/support/env.ts';
import { runQueueWaitSeconds, waitedShare } from './schedstat.ts';
import type { Bench, BenchResult } from './types.ts';
import { defaultSettings } from '../protocol/settings.ts';

const DRIVER = fileURLToPath(new URL('./e2e-driver.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../node_modules/tsx/dist/loader.mjs', import.meta.url));
/** the cluster default; `E2E_PARTITIONS` measures another count (an operator's choice at a cluster's first start) */
const PARTITIONS = Number(process.env.E2E_PARTITIONS ?? 32);
const LIMIT_MS = 20;
/** A step where fewer of its bots were in stepping games than this share is failed, as the baseline fails one. */
const MIN_PLAYING = 0.8;
const DUEL_TICK_MS = defaultSettings('duel').tickMs;

/** How many bots were in stepping games in the window, on average: each gets every tick of its game. */
function playing(s: Pick<Step, 'ticksPerSecond'>): number {
  return Math.round((s.ticksPerSecond * DUEL_TICK_MS) / 1000);
}

export interface Step {
  bots: number;
  games: number;
  mismatches: number;
  ticksPerSecond: number;
  ackP50: number | null;
  ackP99: number | null;
  deliveryP50: number | null;
  deliveryP99: number | null;
  stepDeliveryP50: number | null;
  stepDeliveryP99: number | null;
  driverCpuPct: number;
  /** the drivers' own event loop delay p99 (ms): what a tick may wait in a driver before it is read */
  driverLoopDelayP99: number;
  /** in the measured window, % of one core */
  nodeCpuPct: number;
  /** the node's main thread alone (WebSockets, sessions, fan-out), the one thread all of its clients share */
  nodeMainCpuPct: number;
  /**
   * the part of it spent in the kernel: mostly writing frames to client sockets (on loopback a write also runs the
   * receiving side's TCP input), the cost per message that any WebSocket server pays, Colyseus included
   */
  nodeMainKernelPct: number;
  /**
   * % of the window the main thread spent ready to run but waiting for a core (the machine's two cores are shared
   * with Redis, Postgres and the load drivers): time every message it handles waits on top of its own work
   */
  nodeMainWaitPct: number | null;
  redisCpuPct: number;
  postgresCpuPct: number;
  nodeRssMiB: number;
  /** the node's own part of delivery, from its tick delivery histogram over the window: commit → sockets (bucket bound, ms) */
  nodeDeliveryP50: number | null;
  nodeDeliveryP99: number | null;
}

type DriverResult = Omit<Step, 'nodeCpuPct' | 'nodeMainCpuPct' | 'nodeMainKernelPct' | 'nodeMainWaitPct' | 'redisCpuPct' | 'postgresCpuPct' | 'nodeRssMiB' | 'nodeDeliveryP50' | 'nodeDeliveryP99'>;

const DRIVER_WARMUP_S = 5;
/**
 * How long a driver waits for nine in ten of its bots to be in stepping games before its window opens anyway: its
 * time limit counts this wait (it did not, and a step on a loaded machine was killed instead of measured and failed).
 */
const DRIVER_START_S = 60;

/**
 * A load driver process. `onPhase` hears when its measured window starts and ends (after its bots' warm-up), so
 * the server's CPU is sampled over the same window as the latencies.
 */
function driver(url: string, bots: number, seconds: number, prefix: string, onPhase: (phase: string) => void): Promise<DriverResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', pathToFileURL(TSX).href, DRIVER, '--url', url, '--bots', String(bots),
      '--seconds', String(seconds), '--warmup', String(DRIVER_WARMUP_S),
      '--start', String(DRIVER_START_S), '--redis', REDIS_URL, '--prefix', prefix, '--partitions', String(PARTITIONS)],
    { stdio: ['ignore', 'pipe', 'pipe'], timeout: (DRIVER_START_S + DRIVER_WARMUP_S + seconds + 60) * 1000 });
    let out = '';
    let err = '';
    let result: DriverResult | null = null;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = JSON.parse(out.slice(0, nl)) as DriverResult | { phase: string };
        out = out.slice(nl + 1);
        if ('phase' in line) onPhase(line.phase);
        else result = line;
      }
    });
    child.stderr.on('data', (chunk: Buffer) => { err = (err + chunk.toString()).slice(-2000); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`e2e driver exited ${code}: ${err}`))));
  });
}

/**
 * CPU seconds of each of these processes, from /proc (one that is gone is left out); `thread` reads each one's
 * main thread alone instead, `kernel` only the time spent in the kernel on their behalf.
 */
function cpuOf(pids: number[], thread = false, kernel = false): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(thread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      out.set(pid, ((kernel ? 0 : Number(stat[11])) + Number(stat[12])) / 100);
    } catch { /* exited */ }
  }
  return out;
}

/** CPU seconds the processes used between two samples (a process started meanwhile counts from 0). */
function spent(from: Map<number, number>, to: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of to) total += cpu - (from.get(pid) ?? 0);
  return total;
}

/** Every Postgres process on this machine (the server and its backends). */
function postgresPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres'; } catch { return false; }
  });
}

/** The Redis server's process (it runs on this machine). */
async function redisPid(): Promise<number | null> {
  const redis = new Redis(REDIS_URL);
  try {
    const pid = /process_id:(\d+)/.exec(await redis.info('server'))?.[1];
    return pid ? Number(pid) : null;
  } finally {
    redis.disconnect();
  }
}

/** Two drivers' results as one: sums, and the worse of the two percentiles (a bound on the combined one). */
function combine(parts: DriverResult[]): DriverResult {
  const worst = (pick: (r: DriverResult) => number | null) => Math.max(...parts.map((r) => pick(r) ?? 0));
  return {
    bots: parts.reduce((n, r) => n + r.bots, 0), games: parts.reduce((n, r) => n + r.games, 0),
    mismatches: parts.reduce((n, r) => n + r.mismatches, 0), ticksPerSecond: parts.reduce((n, r) => n + r.ticksPerSecond, 0),
    ackP50: worst((r) => r.ackP50), ackP99: worst((r) => r.ackP99), deliveryP50: worst((r) => r.deliveryP50),
    deliveryP99: worst((r) => r.deliveryP99), stepDeliveryP50: worst((r) => r.stepDeliveryP50),
    stepDeliveryP99: worst((r) => r.stepDeliveryP99), driverCpuPct: parts.reduce((n, r) => n + r.driverCpuPct, 0),
    driverLoopDelayP99: worst((r) => r.driverLoopDelayP99),
  };
}

/** The cumulative buckets (le in seconds → count) of a histogram in a Prometheus text page. */
function buckets(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const le = /le="([^"]+)"/.exec(m[1]);
    if (le) out.set(le[1], Number(m[2]));
  }
  return out;
}

/** The bound (ms) of the bucket holding quantile `q` of the observations made between two readings of a histogram. */
function windowQuantile(from: Map<string, number>, to: Map<string, number>, q: number): number | null {
  const les = [...to.keys()];
  const total = (to.get('+Inf') ?? 0) - (from.get('+Inf') ?? 0);
  if (total <= 0) return null;
  const le = les.find((l) => (to.get(l)! - (from.get(l) ?? 0)) >= q * total)!;
  return le === '+Inf' ? Infinity : Number(le) * 1000;
}

/** Resident memory of a process, from /proc. */
function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** What the node and Redis use with no player on the node (% of one core): the part of each step's CPU that games do not add. */
export interface Idle {
  nodeCpuPct: number;
  redisCpuPct: number;
  /** the node's resident memory then (MiB): what each step's memory per game is counted above, as the baseline counts its own */
  nodeRssMiB: number;
}

/** How long the node is watched with no players before the first step, after it settled (its first seconds after
 * readiness still load and compile code: 29% of a core against 10-15% after). */
const IDLE_SETTLE_SECONDS = 5;
const IDLE_SECONDS = 5;

export async function measureSnakeTron(steps: number[], seconds: number): Promise<{ steps: Step[]; idle: Idle }> {
  const cluster = await SpecCluster.create('e2e', { partitions: PARTITIONS, workers: 1 });
  const out: Step[] = [];
  try {
    const node = await cluster.start();
    const pid = node.child.pid!;
    const redis = await redisPid();
    const redisPids = redis === null ? [] : [redis];
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_SECONDS * 1000));
    const [node0, redis0] = [cpuOf([pid]), cpuOf(redisPids)];
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idle: Idle = {
      nodeCpuPct: (spent(node0, cpuOf([pid])) / IDLE_SECONDS) * 100, redisCpuPct: (spent(redis0, cpuOf(redisPids)) / IDLE_SECONDS) * 100,
      nodeRssMiB: rssMiB(pid),
    };
    const measure = async (bots: number): Promise<Step> => {
      // the server side (the node, Redis, Postgres), sampled when the first driver starts its window and when the
      // first one ends it (the two start within a second of each other)
      const sample = () => ({ at: Date.now(), node: cpuOf([pid]), nodeMain: cpuOf([pid], true), nodeMainKernel: cpuOf([pid], true, true), nodeMainWait: runQueueWaitSeconds(pid), redis: cpuOf(redis === null ? [] : [redis]), postgres: cpuOf(postgresPids()) });
      let from: ReturnType<typeof sample> | null = null;
      let to: ReturnType<typeof sample> | null = null;
      const delivery = () => node.get('/metrics').then((r) => buckets(r.body, 'snaketron_tick_delivery_seconds'));
      let deliveryFrom: Promise<Map<string, number>> | null = null;
      let deliveryTo: Promise<Map<string, number>> | null = null;
      const onPhase = (phase: string) => {
        if (phase === 'measuring') { from ??= sample(); deliveryFrom ??= delivery(); }
        if (phase === 'measured') { to ??= sample(); deliveryTo ??= delivery(); }
      };
      // two driver processes (as the baseline has), so the drivers are not what saturates first
      const parts = await Promise.all([0, 1].map((i) => driver(node.ws, Math.floor(bots / 2) + (i === 0 ? bots % 2 : 0), seconds, cluster.prefix, onPhase)));
      const a = from ?? sample();
      const b = to ?? sample();
      const pct = (key: 'node' | 'nodeMain' | 'nodeMainKernel' | 'redis' | 'postgres') => (spent(a[key], b[key]) / Math.max(0.001, (b.at - a.at) / 1000)) * 100;
      const [d0, d1] = await Promise.all([deliveryFrom ?? delivery(), deliveryTo ?? delivery()]);
      const waited = waitedShare(a.nodeMainWait, b.nodeMainWait, (b.at - a.at) / 1000);
      return {
        ...combine(parts), nodeCpuPct: pct('node'), nodeMainCpuPct: pct('nodeMain'), nodeMainKernelPct: pct('nodeMainKernel'),
        nodeMainWaitPct: waited === null ? null : waited * 100, redisCpuPct: pct('redis'), postgresCpuPct: pct('postgres'), nodeRssMiB: rssMiB(pid),
        nodeDeliveryP50: windowQuantile(d0, d1, 0.5), nodeDeliveryP99: windowQuantile(d0, d1, 0.99),
      };
    };
    for (const bots of steps) {
      let result = await measure(bots);
      // the machine is shared: like the baseline, a step over the limit is measured once more and judged by that
      if (!withinLimits(result)) {
        await new Promise((r) => setTimeout(r, 3000));
        result = await measure(bots);
      }
      out.push(result);
      process.stderr.write(`e2e ${bots} players: ack p99 ${result.ackP99?.toFixed(1)} ms, delivery p99 ${result.deliveryP99?.toFixed(1)} ms (in the node ≤ ${result.nodeDeliveryP99} ms), drivers' loop delay p99 ${result.driverLoopDelayP99.toFixed(1)} ms, ${playing(result)} playing, cpu: node ${result.nodeCpuPct.toFixed(0)}% (main thread ${result.nodeMainCpuPct.toFixed(0)}%, ${result.nodeMainKernelPct.toFixed(0)} of it in the kernel, and ${result.nodeMainWaitPct?.toFixed(0) ?? '?'}% waiting for a core) redis ${result.redisCpuPct.toFixed(0)}% postgres ${result.postgresCpuPct.toFixed(0)}%, rss ${result.nodeRssMiB.toFixed(0)} MiB\n`);
      if (!withinLimits(result)) break;
      await new Promise((r) => setTimeout(r, 3000));
    }
    return { steps: out, idle };
  } finally {
    await cluster.stop();
  }
}

export function withinLimits(s: Step): boolean {
  return (s.deliveryP99 ?? Infinity) < LIMIT_MS && s.mismatches === 0 && playing(s) >= MIN_PLAYING * s.bots;
}

export const run: Bench = async () => {
  const quick = process.argv.includes('--quick');
  const steps = quick ? [100, 400] : (process.env.E2E_STEPS?.split(',').map(Number) ?? [250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2250, 2500, 3000, 4000, 5000, 6000]);
  const { steps: results, idle } = await measureSnakeTron(steps, quick ? 8 : 15);
  const best = [...results].reverse().find(withinLimits);
  const rows: BenchResult[] = results.map((s) => ({
    group: 'e2e', name: `${s.bots} duel players: tick delivery p99`, value: s.deliveryP99 ?? 0, unit: 'ms', target: `< ${LIMIT_MS}`,
    notes: `delivery after commit p50 ${s.deliveryP50?.toFixed(1)} p99 ${s.deliveryP99?.toFixed(1)}, of which in the node (commit → sockets, bucket bounds) p50 ≤ ${s.nodeDeliveryP50} p99 ≤ ${s.nodeDeliveryP99}; after the step p50 ${s.stepDeliveryP50?.toFixed(1)} p99 ${s.stepDeliveryP99?.toFixed(1)}; turn→ack p50 ${s.ackP50?.toFixed(1)} p99 ${s.ackP99?.toFixed(1)}; cpu (of one core, in the measured window): node ${s.nodeCpuPct.toFixed(0)}% (its main thread ${s.nodeMainCpuPct.toFixed(0)}%, ${s.nodeMainKernelPct.toFixed(0)} of it in the kernel, mostly sending frames; it also waited for a core ${s.nodeMainWaitPct?.toFixed(0) ?? '?'}% of the window), Redis ${s.redisCpuPct.toFixed(0)}%, Postgres ${s.postgresCpuPct.toFixed(0)}%, drivers ${s.driverCpuPct.toFixed(0)}%; drivers' event loop delay p99 ${s.driverLoopDelayP99.toFixed(1)} ms; node rss ${s.nodeRssMiB.toFixed(0)} MiB; ${playing(s)} players in stepping games on average; ${s.games} games ended; ${s.mismatches} hash mismatches`,
  }));
  rows.push({ group: 'e2e', name: 'node CPU with no players', value: Math.round(idle.nodeCpuPct * 10) / 10, unit: '% of a core',
    notes: `the node alone, ${PARTITIONS} partitions owned, over ${IDLE_SECONDS} s before the first step (${IDLE_SETTLE_SECONDS} s after it was ready); Redis meanwhile ${idle.redisCpuPct.toFixed(1)}%; node rss ${idle.nodeRssMiB.toFixed(0)} MiB. Each step's CPU includes this fixed part` });
  rows.push({ group: 'e2e', name: `most concurrent duel players with tick delivery p99 < ${LIMIT_MS} ms`, value: best?.bots ?? 0, unit: 'players',
    notes: best ? `per game: node cpu ${(best.nodeCpuPct / (best.bots / 2)).toFixed(3)}% of a core` : 'no step met the limits' });
  if (best) {
    // comparable with the baseline's "server CPU per game": CPU time per second of wall clock over the games
    // running, here the node and what it persists to (Redis, Postgres), which Colyseus does not have
    const perGame = (pct: number) => Math.round((pct / 100) * 1e6 / (best.bots / 2));
    rows.push({ group: 'e2e', name: 'server CPU per game (node + Redis + Postgres)', unit: 'µs/s per game',
      value: perGame(best.nodeCpuPct + best.redisCpuPct + best.postgresCpuPct),
      notes: `at ${best.bots} players: node ${perGame(best.nodeCpuPct)}, Redis ${perGame(best.redisCpuPct)}, Postgres ${perGame(best.postgresCpuPct)} µs/s per game; `
        + `above what the node and Redis use with no players: ${perGame(best.nodeCpuPct - idle.nodeCpuPct + best.redisCpuPct - idle.redisCpuPct + best.postgresCpuPct)}` });
    // as the baseline counts its own: the growth over the idle process, over the games running (Redis's memory is
    // measured in the runtime benchmark, where it stays flat)
    rows.push({ group: 'e2e', name: 'node RSS per game', unit: 'KiB', value: Math.round(((best.nodeRssMiB - idle.nodeRssMiB) * 1024) / (best.bots / 2)),
      notes: `(node rss at ${best.bots} players ${best.nodeRssMiB.toFixed(0)} MiB − with no players ${idle.nodeRssMiB.toFixed(0)} MiB) / ${best.bots / 2} games` });
    // the bots share the machine's cores with the servers: what they take bounds what any server here can hold
    rows.push({ group: 'e2e', name: 'load drivers\' CPU per 1,000 players', unit: '% of a core', value: Math.round((best.driverCpuPct / best.bots) * 1000 * 10) / 10,
      notes: `at ${best.bots} players: the bots, each stepping its own copy of its game, and the thread that reads commit times` });
  }
  const over = results.find((s) => !withinLimits(s));
  if (over) {
    rows.push({ group: 'e2e', name: 'machine CPU in use at the first step over the limit', unit: '% of a core',
      value: Math.round(over.nodeCpuPct + over.redisCpuPct + over.postgresCpuPct + over.driverCpuPct),
      notes: `${over.bots} players: node ${over.nodeCpuPct.toFixed(0)}% (its main thread ${over.nodeMainCpuPct.toFixed(0)}%, and waiting for a core ${over.nodeMainWaitPct?.toFixed(0) ?? '?'}% of the window), Redis ${over.redisCpuPct.toFixed(0)}%, Postgres ${over.postgresCpuPct.toFixed(0)}%, drivers ${over.driverCpuPct.toFixed(0)}%, of the machine's ${availableParallelism() * 100}%` });
  }
  return rows;
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await run());
  process.exit(0);
}
