// A fixed-bucket latency histogram that is cheap to observe on hot paths and to send between threads;
// the node merges them into its Prometheus metrics and the benchmarks read percentiles from them.

/** Upper bounds (ms) of the buckets; the last bucket is everything above. */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2, 3, 4, 5, 7.5, 10, 12.5, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000];

export class LatencyHistogram {
  counts: number[] = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(ms: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]) i++;
    this.counts[i]++;
    this.sum += ms;
    this.count++;
  }

  merge(other: { counts: number[]; sum: number; count: number }): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i] ?? 0;
    this.sum += other.sum;
    this.count += other.count;
  }

  /** The bucket bound under which `q` (0..1) of the observations fall; Infinity if in the overflow bucket. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const target = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= target) return i < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[i] : Infinity;
    }
    return Infinity;
  }

  /** Returns the observations so far and starts afresh (for sending deltas to the main thread). */
  take(): { counts: number[]; sum: number; count: number } {
    const out = { counts: this.counts, sum: this.sum, count: this.count };
    this.counts = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
    this.sum = 0;
    this.count = 0;
    return out;
  }
}
