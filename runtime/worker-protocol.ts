// Messages between the supervisor (main thread) and its worker threads.
import type { BusyWith } from './busy-board.ts';
import type { ExecutorConfig, ExecutorEvent } from './executor.ts';

export interface WorkerConfig {
  readonly index: number;
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly prefix: string;
  readonly actorModules: readonly string[];
  readonly executor: ExecutorConfig;
  readonly logLevel: string;
  /** the worker's BusyBoard, which the supervisor reads when the worker stops */
  readonly busy: SharedArrayBuffer;
}

export interface HistogramData { counts: number[]; sum: number; count: number }

/** Counters since the previous report, and what each hosted partition holds now. */
export interface WorkerReport {
  partitions: Array<{ partition: number; epoch: number; actors: number; inboxLag: number }>;
  ticks: number;
  commits: number;
  /** mailbox reads (Redis calls), to show how often partitions poll */
  reads: number;
  inputs: number;
  deadLetters: number;
  restarts: number;
  lateness: HistogramData;
  commitMs: HistogramData;
  checkpointMs: HistogramData;
}

export type ToWorker =
  /** `stoppedIn`: the partition's last worker stopped in this actor's code (its BusyBoard said so) */
  | { kind: 'assign'; partition: number; epoch: number; lastSeq: number; stoppedIn?: BusyWith }
  | { kind: 'hand-off'; partition: number }
  | { kind: 'drop'; partition: number }
  | { kind: 'ping'; n: number };

export type FromWorker =
  /** the worker loaded the actor modules: the names of their types */
  | { kind: 'ready'; types: string[] }
  | { kind: 'pong'; n: number; report: WorkerReport }
  | { kind: 'handed-off'; partition: number }
  | { kind: 'event'; event: ExecutorEvent }
  | { kind: 'fatal'; message: string }
  /** a line of the worker's log (JSON), for the node's logger */
  | { kind: 'log'; line: string };
