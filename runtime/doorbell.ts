// A worker's doorbell: one blocking read, on a connection of its own, over the mailboxes of the partitions whose
// executors wait for inputs (no actor of theirs has a tick scheduled: empty partitions, lobbies). An input that
// arrives in one of them wakes its executor at once, so those executors need not poll their mailbox often; the
// executors still read through their fenced command, and poll now and then in case a ring is missed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Keys } from './keys.ts';
import type { Logger } from './log.ts';
import { readStreams, type RedisClient } from './redis.ts';

/** What the doorbell needs of an executor. */
export interface Listener {
  /** true while the executor reads its mailbox only when polled (no tick brings it round) */
  waitsForInputs(): boolean;
  /** read the mailbox now */
  wake(): void;
}

/** How long one blocking read waits: partitions that start or stop waiting join or leave the read after this. */
const BLOCK_MS = 200;

/** Rings for the worker thread's whole life (the thread's end closes its connection). */
export class Doorbell {
  /** the newest mailbox entry seen, per partition listened to */
  private readonly seen = new Map<number, string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly listeners: ReadonlyMap<number, Listener>,
    private readonly log: Logger,
  ) {}

  start(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    for (;;) {
      const waiting = [...this.listeners].filter(([, l]) => l.waitsForInputs()).map(([p]) => p);
      for (const p of [...this.seen.keys()]) if (!waiting.includes(p)) this.seen.delete(p);
      if (waiting.length === 0) {
        await sleep(BLOCK_MS);
        continue;
      }
      try {
        // a partition that starts waiting is read from its newest entry: an older one is the executor's to find
        await Promise.all(waiting.filter((p) => !this.seen.has(p)).map(async (p) => {
          this.seen.set(p, (await this.redis.xrevrange(this.keys.inbox(p), '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0');
        }));
        const streams = waiting.map((p) => this.keys.inbox(p));
        const reply = await readStreams(this.redis, ['COUNT', 100], BLOCK_MS, streams, waiting.map((p) => this.seen.get(p)!));
        for (const [stream, entries] of reply ?? []) {
          const p = waiting[streams.indexOf(stream.toString())];
          if (entries.length > 0) this.seen.set(p, entries[entries.length - 1][0].toString());
          this.listeners.get(p)?.wake();
        }
      } catch (err) {
        this.log.warn({ err: String(err) }, 'doorbell read failed; the executors poll meanwhile');
        await sleep(500);
      }
    }
  }
}
