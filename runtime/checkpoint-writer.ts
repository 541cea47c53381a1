// Writes an executor's checkpoints to Postgres in batches, in the background. While Postgres is away the newest
// checkpoint of each actor waits (older ones are superseded) and is retried with backoff; games keep ticking.
import type { Logger } from 'pino';
import type { Checkpoint, CheckpointStore } from './checkpoints.ts';
import { LatencyHistogram } from './histogram.ts';

const BATCH_ROWS = 500;

export type Confirmed = Pick<Checkpoint, 'actorId' | 'seq' | 'outboxId' | 'finished'>;

export class CheckpointWriter {
  readonly latency = new LatencyHistogram();
  private pending = new Map<string, Checkpoint>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private failures = 0;
  private stopped = false;
  refused = 0;

  constructor(
    readonly store: CheckpointStore,
    private readonly onConfirmed: (rows: Confirmed[]) => void,
    private readonly log: Logger,
  ) {}

  get backlog(): number { return this.pending.size; }

  enqueue(checkpoint: Checkpoint): void {
    this.pending.set(checkpoint.actorId, checkpoint);
    this.later(10);
  }

  private later(ms: number): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushing ??= this.flush().finally(() => { this.flushing = null; });
    }, ms);
  }

  private async flush(): Promise<void> {
    while (this.pending.size > 0 && !this.stopped) {
      const batch = [...this.pending.values()].slice(0, BATCH_ROWS);
      for (const row of batch) this.pending.delete(row.actorId);
      const started = Date.now();
      try {
        const written = await this.store.save(batch);
        this.latency.observe(Date.now() - started);
        this.failures = 0;
        const refused = batch.filter((row) => !written.has(row.actorId));
        if (refused.length > 0) {
          this.refused += refused.length;
          this.log.warn({ actors: refused.length, epoch: refused[0].epoch }, 'checkpoints refused: a newer owner wrote them');
        }
        this.onConfirmed(batch.filter((row) => written.has(row.actorId)));
      } catch (err) {
        for (const row of batch) if (!this.pending.has(row.actorId)) this.pending.set(row.actorId, row);
        this.failures++;
        if (this.failures % 10 === 1) {
          this.log.warn({ err: err instanceof Error ? err.message : String(err), waiting: this.pending.size }, 'checkpoint write failed; retrying');
        }
        this.later(Math.min(100 * 2 ** Math.min(this.failures, 5), 2000));
        return;
      }
    }
  }

  /** Waits until every queued checkpoint is written, or the time is up. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.pending.size === 0 && !this.flushing) return true;
      if (!this.flushing && !this.timer) this.later(0);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return false;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
