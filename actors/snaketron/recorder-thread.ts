// The recorder's worker thread (started by RecorderThread in recorder.ts): its own Redis and Postgres connections,
// and the partitions it reads as the node last told it.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { connectDatabase } from '../../runtime/db.ts';
import { Keys } from '../../runtime/keys.ts';
import { createLogger } from '../../runtime/log.ts';
import { connectRedis } from '../../runtime/redis.ts';
import { Recorder, type RecorderThreadConfig, type ToRecorder } from './recorder.ts';
import type { SnaketronTables } from './schema.ts';

const config = workerData as RecorderThreadConfig;
const port = parentPort;
if (!port) throw new Error('recorder-thread.ts runs only as a worker thread');

// Replays and results are not latency-bound, and the node's threads share the machine with its clients' ticks:
// the recorder thread runs at a lower priority (nice 10), so it takes the CPU the others leave. On Linux a
// thread's id, from /proc/thread-self, sets the priority of that thread alone.
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10);
} catch { /* not Linux: the thread runs at the node's priority */ }

const log = createLogger({ node: config.nodeId, thread: 'recorder' }, config.logLevel);
const redis = connectRedis(config.redisUrl, { name: `${config.nodeId}:recorder` });
const db = connectDatabase<SnaketronTables>(config.databaseUrl, 2);
let owned: readonly number[] = [];
const recorder = new Recorder({
  redis, keys: new Keys(config.prefix), nodeId: config.nodeId, owned: () => owned,
  connectReader: (name) => connectRedis(config.redisUrl, { blocking: true, name: `${config.nodeId}:${name}` }),
}, db, log);
recorder.start();

port.on('message', (message: ToRecorder) => {
  if (message.type === 'owned') {
    owned = message.partitions;
    return;
  }
  void (async () => {
    await recorder.stop();
    redis.disconnect();
    await db.destroy();
    port.close();
  })();
});
