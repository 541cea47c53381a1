// A worker thread: hosts the partition executors the supervisor assigns to it, answers its health pings, and
// reports what it does. It opens its own Redis and Postgres connections.
import { parentPort, workerData } from 'node:worker_threads';
import type { ActorModule, ActorType } from './actor.ts';
import { CheckpointStore } from './checkpoints.ts';
import { connectDatabase, type RuntimeTables } from './db.ts';
import { PartitionExecutor, type ExecutorEvent } from './executor.ts';
import { Keys } from './keys.ts';
import { createLogger } from './log.ts';
import { connectRedis } from './redis.ts';
import type { FromWorker, ToWorker, WorkerConfig, WorkerReport } from './worker-protocol.ts';

const config = workerData as WorkerConfig;
const port = parentPort;
if (!port) throw new Error('runtime/worker.ts runs only as a worker thread');

const log = createLogger({ worker: config.index, node: config.executor.nodeId }, config.logLevel);
const redis = connectRedis(config.redisUrl, { name: `${config.executor.nodeId}:w${config.index}` });
const db = connectDatabase<RuntimeTables>(config.databaseUrl, 2);
const store = new CheckpointStore(db);
const keys = new Keys(config.prefix);
const types = new Map<string, ActorType<unknown, unknown>>();
for (const url of config.actorModules) {
  const module = (await import(url)) as ActorModule;
  for (const type of module.actorTypes) types.set(type.type, type);
}
const executors = new Map<number, PartitionExecutor>();
const retired = { ticks: 0, commits: 0, reads: 0, inputs: 0, deadLetters: 0, restarts: 0 };

function send(message: FromWorker): void {
  port!.postMessage(message);
}

function emit(event: ExecutorEvent): void {
  if (event.kind === 'lost') executors.delete(event.partition);
  send({ kind: 'event', event });
}

async function assign(partition: number, epoch: number, lastSeq: number): Promise<void> {
  executors.get(partition)?.halt();
  const executor = new PartitionExecutor(partition, epoch, lastSeq, redis, keys, store, types, config.executor, emit, log);
  executors.set(partition, executor);
  try {
    await executor.start();
  } catch (err) {
    executor.halt();
    if (executors.get(partition) === executor) executors.delete(partition);
    emit({ kind: 'lost', partition, epoch, reason: `recovery failed: ${err instanceof Error ? err.message : String(err)}` });
  }
}

function report(): WorkerReport {
  const out: WorkerReport = {
    partitions: [], ticks: retired.ticks, commits: retired.commits, reads: retired.reads, inputs: retired.inputs,
    deadLetters: retired.deadLetters, restarts: retired.restarts,
    lateness: { counts: [], sum: 0, count: 0 }, commitMs: { counts: [], sum: 0, count: 0 }, checkpointMs: { counts: [], sum: 0, count: 0 },
  };
  Object.assign(retired, { ticks: 0, commits: 0, reads: 0, inputs: 0, deadLetters: 0, restarts: 0 });
  const merge = (into: WorkerReport['lateness'], from: WorkerReport['lateness']) => {
    if (into.counts.length === 0) into.counts = new Array(from.counts.length).fill(0);
    for (let i = 0; i < from.counts.length; i++) into.counts[i] += from.counts[i];
    into.sum += from.sum;
    into.count += from.count;
  };
  for (const executor of executors.values()) {
    const s = executor.stats;
    out.partitions.push({ partition: s.partition, epoch: s.epoch, actors: s.actors, inboxLag: s.inboxLag });
    out.ticks += s.ticks; out.commits += s.commits; out.reads += s.reads; out.inputs += s.inputs; out.deadLetters += s.deadLetters; out.restarts += s.restarts;
    s.ticks = 0; s.commits = 0; s.reads = 0; s.inputs = 0; s.deadLetters = 0; s.restarts = 0;
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
      void assign(message.partition, message.epoch, message.lastSeq);
      break;
    case 'hand-off': {
      const executor = executors.get(message.partition);
      executors.delete(message.partition);
      void (executor?.handOff() ?? Promise.resolve())
        .catch((err: unknown) => log.warn({ err, partition: message.partition }, 'hand-off incomplete'))
        .finally(() => send({ kind: 'handed-off', partition: message.partition }));
      break;
    }
    case 'drop':
      executors.get(message.partition)?.halt();
      executors.delete(message.partition);
      break;
  }
});

send({ kind: 'ready' });
