// What every benchmark module returns; bench/run.ts prints them as one table and writes them as JSON.
export interface BenchResult {
  /** group, e.g. `engine`, `codec`, `runtime`, `e2e`, `failover`, `baseline` */
  group: string;
  name: string;
  value: number;
  unit: string;
  /** the target, as text (`>= 1000000`), when there is one */
  target?: string;
  notes?: string;
}
export type Bench = () => Promise<BenchResult[]>;
