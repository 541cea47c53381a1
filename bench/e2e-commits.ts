// A thread of the e2e load driver (bench/e2e-driver.ts): follows every outbox and posts, for each tick committed,
// its game and tick with the commit time (the outbox entry's id) and the step time (the record's `at`). Reading
// and decoding every partition's entries on the driver's own event loop held its bots' messages up behind it, and
// that wait counted as delivery time; here it runs beside them.
import { Redis } from 'ioredis';
import { parentPort, workerData } from 'node:worker_threads';
import { fieldValue } from '../runtime/journal.ts';
import { Keys } from '../runtime/keys.ts';
import { decodeBatch } from '../runtime/records.ts';

/** [game:tick, commit ms, step ms] */
export type Commit = [string, number, number];
export interface CommitsConfig { redis: string; prefix: string; partitions: number }

const config = workerData as CommitsConfig;
const port = parentPort!;
const keys = new Keys(config.prefix);
const redis = new Redis(config.redis);
const streams = Array.from({ length: config.partitions }, (_, p) => keys.outbox(p));
const ids = await Promise.all(streams.map(async (stream) => (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'));
let running = true;
port.on('message', () => { running = false; });
while (running) {
  // the commit time is the entry's id, not when it is read: reading ten times a second keeps this thread's share
  // of the machine (and of Redis) small without changing what is measured
  await new Promise((r) => setTimeout(r, 100));
  const reply = (await redis.xreadBuffer('COUNT', 10_000, 'STREAMS', ...streams, ...ids)) as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
  const batch: Commit[] = [];
  for (const [stream, entries] of reply ?? []) {
    const p = streams.indexOf(stream.toString());
    for (const [id, fields] of entries) {
      ids[p] = id.toString();
      const at = Number(ids[p].split('-')[0]);
      for (const record of decodeBatch(fieldValue(fields, 'd')).records) {
        if (record.t !== undefined) batch.push([`${record.a}:${record.t}`, at, record.at]);
      }
    }
  }
  if (batch.length > 0) port.postMessage(batch);
}
redis.disconnect();
port.close();
