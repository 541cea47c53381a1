// A latency histogram that merges across processes: logarithmic buckets 1% wide from 1 µs to 100 s, so a
// quantile is within 1% of the sample it stands for, and two load driver processes add their counts together.
// No Colyseus imports: the orchestrator in the project root merges these too.

const MIN_MS = 0.001;
const GROWTH = 1.01;
const BUCKETS = Math.ceil(Math.log(100_000 / MIN_MS) / Math.log(GROWTH)) + 1;
const LOG_GROWTH = Math.log(GROWTH);

/** What crosses a process boundary: counts per bucket, trimmed of the empty tail. */
export interface HistogramData { counts: number[]; max: number }

export class LatencyHistogram {
  private counts = new Float64Array(BUCKETS);
  private total = 0;
  private largest = 0;

  get count(): number { return this.total; }
  get max(): number { return this.largest; }

  record(ms: number): void {
    const value = ms < MIN_MS ? MIN_MS : ms;
    const bucket = Math.min(BUCKETS - 1, Math.floor(Math.log(value / MIN_MS) / LOG_GROWTH));
    this.counts[bucket]++;
    this.total++;
    if (ms > this.largest) this.largest = ms;
  }

  /** The value at quantile `q` (0..1): the upper edge of the bucket that holds it; 0 when empty. */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket];
      if (seen >= rank) return Math.min(this.largest, MIN_MS * GROWTH ** (bucket + 1));
    }
    return this.largest;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.largest = 0;
  }

  toData(): HistogramData {
    let end = BUCKETS;
    while (end > 0 && this.counts[end - 1] === 0) end--;
    return { counts: Array.from(this.counts.subarray(0, end)), max: this.largest };
  }

  static fromData(...parts: HistogramData[]): LatencyHistogram {
    const merged = new LatencyHistogram();
    for (const part of parts) {
      part.counts.forEach((n, bucket) => { merged.counts[bucket] += n; merged.total += n; });
      merged.largest = Math.max(merged.largest, part.max);
    }
    return merged;
  }
}
