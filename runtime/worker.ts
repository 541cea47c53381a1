// A worker thread: hosts the partition executors the supervisor assigns to it, answers its health pings, and
// reports what it does. It opens its own Redis and Postgres connections, and a doorbell that wakes an executor
// waiting for inputs when one arrives.
import { parentPort, workerData } from 'node:worker_threads';
import { ACTOR_METHODS, type ActorModule, type ActorType } from './actor.ts';
import { CheckpointStore } from './checkpoints.ts';
import { Doorbell } from './doorbell.ts';
import { connectDatabase, type RuntimeTables } from './db.ts';
import { PartitionExecutor, ProbeGate, type ExecutorEvent } from './executor.ts';
import { BusyBoard, type BusyWith } from './busy-board.ts';
import { Keys } from './keys.ts';
import { createLogger } from './log.ts';
import { connectRedis, isClusterSpec } from './redis.ts';
import type { FromWorker, ToWorker, WorkerConfig, WorkerReport } from './worker-protocol.ts';

/**
 * Checkpoint saves of the worker's partitions made within this long of each other share one statement: each
 * partition saves at its own phase of the tick period, so gathered they cost Postgres a statement per 50 ms at
 * most instead of one per partition and phase.
 */
const CHECKPOINT_COALESCE_MS = 50;

const config = workerData as WorkerConfig;
const port = parentPort;
if (!port) throw new Error('runtime/worker.ts runs only as a worker thread');

// its lines go to the node's logger (RuntimeOptions.logger), through the supervisor
const log = createLogger({ worker: config.index }, config.logLevel, { write: (line) => send({ kind: 'log', line }) });
// Its commands go one at a time (a partition's read, then its commit: each partition ticks at a phase of its own),
// so it writes each at once rather than through a pipeline of one. Measured with 1,500 duel players on one node
// (2026-11-28, three interleaved pairs of 15 s windows): the worker used 33–38 µs of CPU per game tick this way
// against 34–43 with autopipelining, and 0.40–0.43 of the main thread's CPU in the same window against 0.47–0.48.
const redis = connectRedis(config.redisUrl, { name: `${config.executor.nodeId}:w${config.index}`, autoPipelining: false });
const db = connectDatabase<RuntimeTables>(config.databaseUrl, 2);
const store = new CheckpointStore(db, config.prefix, CHECKPOINT_COALESCE_MS);
const keys = new Keys(config.prefix);
const types = new Map<string, ActorType<unknown, unknown>>();
for (const url of config.actorModules) {
  const module = (await import(url)) as Partial<ActorModule>;
  if (!Array.isArray(module.actorTypes)) throw new Error(`actor module ${url} exports no actorTypes array (see ActorModule in runtime/actor.ts)`);
  for (const type of module.actorTypes as Array<Partial<ActorType<unknown, unknown>>>) {
    const name = typeof type?.type === 'string' && type.type !== '' ? type.type : null;
    if (name === null) throw new Error(`an actor type of ${url} has no name (its \`type\` must be a non-empty string)`);
    const missing = ACTOR_METHODS.filter((method) => typeof type[method] !== 'function');
    if (missing.length > 0) throw new Error(`actor type ${name} of ${url} lacks ${missing.join(', ')} (see ActorType in runtime/actor.ts)`);
    // the same type exported by two modules (one re-exporting another's) is one type
    if (types.has(name) && types.get(name) !== type) throw new Error(`two actor types are named ${name} (the second in ${url}): each name must be one type`);
    types.set(name, type as ActorType<unknown, unknown>);
  }
}
const executors = new Map<number, PartitionExecutor>();
const probeGate = new ProbeGate();
const busy = new BusyBoard(config.busy);
// One XREAD over mailboxes of several partitions needs them on one server: on a Redis Cluster (their hash tags
// spread them over slots) the executors poll instead.
const doorbellName = `${config.executor.nodeId}:w${config.index}:doorbell`;
const doorbell = isClusterSpec(config.redisUrl) ? null
  : new Doorbell(connectRedis(config.redisUrl, { blocking: true, name: doorbellName }), keys, executors, log);
doorbell?.start();
/** The counters each executor keeps and each report carries (since the previous report). */
const COUNTERS = ['ticks', 'commits', 'reads', 'inputs', 'deadLetters', 'restarts'] as const;
type Counts = Record<(typeof COUNTERS)[number], number>;
/** what executors no longer hosted here counted since the last report, so a hand-off or a loss drops none of it */
const retired: Counts = { ticks: 0, commits: 0, reads: 0, inputs: 0, deadLetters: 0, restarts: 0 };

/** Moves an executor's counts since the last report into `into`, zeroing them. */
function takeCounts(from: Counts, into: Counts): void {
  for (const name of COUNTERS) {
    into[name] += from[name];
    from[name] = 0;
  }
}

/** An executor leaves this worker: what it counted still goes out with the next report. */
function retire(partition: number): PartitionExecutor | undefined {
  const executor = executors.get(partition);
  if (executor) {
    executors.delete(partition);
    takeCounts(executor.stats, retired);
  }
  return executor;
}

function send(message: FromWorker): void {
  port!.postMessage(message);
}

function emit(event: ExecutorEvent): void {
  // a stale executor's loss (an older epoch) leaves the current owner of the partition alone
  if (event.kind === 'lost' && executors.get(event.partition)?.epoch === event.epoch) retire(event.partition);
  send({ kind: 'event', event });
}

async function assign(partition: number, epoch: number, lastSeq: number, stoppedIn: BusyWith | undefined): Promise<void> {
  retire(partition)?.halt();
  const executor = new PartitionExecutor(partition, epoch, lastSeq, redis, keys, store, types, config.executor, emit, log, probeGate, busy, stoppedIn);
  if (doorbell) executor.listenedTo();
  executors.set(partition, executor);
  try {
    await executor.start();
  } catch (err) {
    executor.halt();
    if (executors.get(partition) === executor) retire(partition);
    emit({ kind: 'lost', partition, epoch, reason: `recovery failed: ${err instanceof Error ? err.message : String(err)}` });
  }
}

function report(): WorkerReport {
  const out: WorkerReport = {
    partitions: [], ticks: 0, commits: 0, reads: 0, inputs: 0, deadLetters: 0, restarts: 0,
    lateness: { counts: [], sum: 0, count: 0 }, commitMs: { counts: [], sum: 0, count: 0 }, checkpointMs: { counts: [], sum: 0, count: 0 },
  };
  takeCounts(retired, out);
  const merge = (into: WorkerReport['lateness'], from: WorkerReport['lateness']) => {
    if (into.counts.length === 0) into.counts = new Array(from.counts.length).fill(0);
    for (let i = 0; i < from.counts.length; i++) into.counts[i] += from.counts[i];
    into.sum += from.sum;
    into.count += from.count;
  };
  for (const executor of executors.values()) {
    const s = executor.stats;
    out.partitions.push({ partition: s.partition, epoch: s.epoch, actors: s.actors, inboxLag: s.inboxLag });
    takeCounts(s, out);
    merge(out.lateness, s.lateness.take());
    merge(out.commitMs, s.commitMs.take());
    merge(out.checkpointMs, s.checkpointMs.take());
  }
  return out;
}

port.on('message', (message: ToWorker) => {
  switch (message.kind) {
    case 'ping':
      send({ kind: 'pong', n: message.n, report: report() });
      break;
    case 'assign':
      void assign(message.partition, message.epoch, message.lastSeq, message.stoppedIn);
      break;
    case 'hand-off': {
      const executor = retire(message.partition);
      void (executor?.handOff() ?? Promise.resolve())
        .catch((err: unknown) => log.warn({ err, partition: message.partition }, 'hand-off incomplete'))
        .finally(() => send({ kind: 'handed-off', partition: message.partition }));
      break;
    }
    case 'drop':
      retire(message.partition)?.halt();
      break;
  }
});

send({ kind: 'ready', types: [...types.keys()].sort() });
