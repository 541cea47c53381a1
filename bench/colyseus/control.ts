// What bench/colyseus.ts says to the processes it starts (the server, the load drivers, the failover players),
// and what they answer, over Node's IPC channel. No Colyseus imports: the orchestrator runs in the project root,
// where Colyseus is not installed.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { HistogramData } from './histogram.ts';

const LOOP_SAMPLING_MS = 10;

type IntervalHistogram = ReturnType<typeof monitorEventLoopDelay>;

/** An event loop delay monitor, as the server and the drivers report theirs. */
export function watchEventLoop(): IntervalHistogram {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_SAMPLING_MS });
  histogram.enable();
  return histogram;
}

/** p99 of the delay beyond the sampling timer's own period, which Node's histogram counts in, in ms. */
export function loopDelayP99(histogram: IntervalHistogram): number {
  return Math.max(0, histogram.percentile(99) / 1e6 - LOOP_SAMPLING_MS);
}

export interface CpuTime { user: number; system: number }

/** Server → orchestrator, once it accepts connections. */
export interface ServerListening { kind: 'listening'; port: number }
/** Orchestrator → server. */
export interface SampleRequest { kind: 'sample' }
/** Server → orchestrator: its process now, and its event loop since the previous sample. */
export interface ServerSample {
  kind: 'sample';
  /** `process.cpuUsage()`, µs since the process started */
  cpu: CpuTime;
  rss: number;
  heapUsed: number;
  rooms: number;
  /** rooms whose game is stepping */
  games: number;
  clients: number;
  /** event loop delay p99 (ms) since the previous sample */
  loopDelayP99: number;
}
export type ServerReport = ServerListening | ServerSample;

/** Orchestrator → load driver. */
export type DriverCommand =
  | { kind: 'grow'; players: number }
  | { kind: 'measure'; ms: number }
  | { kind: 'stop' };

/** What one driver saw during one measuring window. */
export interface DriverWindow {
  kind: 'window';
  ms: number;
  bots: number;
  /** bots in a game that has started stepping when the window closed */
  playing: number;
  ticks: number;
  /** ticks that did not follow the previous one of their game (t skipped or repeated) */
  gaps: number;
  /** ticks whose hash differs from the bot's own copy of the game stepped with the tick's turns */
  hashMismatches: number;
  tickLatency: HistogramData;
  tickInterval: HistogramData;
  ackLatency: HistogramData;
  turns: number;
  acks: number;
  errors: number;
  gamesStarted: number;
  gamesOver: number;
  joinFailures: number;
  cpu: CpuTime;
  loopDelayP99: number;
}

/** Load driver → orchestrator. */
export type DriverReport =
  | { kind: 'grown'; bots: number; playing: number }
  | DriverWindow
  | { kind: 'stopped' };

/** Failover players → orchestrator, and back. */
export interface FailoverPlaying { kind: 'playing'; games: Array<{ roomId: string; t: number }> }
export interface FailoverRestarted { kind: 'restarted' }
export interface FailoverOutcome {
  kind: 'outcome';
  games: number;
  /** games that sent any of their players a tick after the server came back */
  resumed: number;
  /** what the SDK's own reconnection did, per player: `reconnected` or the close code and reason it gave up with */
  autoReconnect: string[];
  /** `client.reconnect(reconnectionToken)` per player: `ok` or the error */
  reconnect: string[];
  /** `client.joinById(roomId)` per player: `ok` or the error */
  joinById: string[];
}
export type FailoverReport = FailoverPlaying | FailoverOutcome;
