// Prometheus metrics for operators, read at scrape time from the runtime's counters and the node's sessions.
import client from 'prom-client';
import { LATENCY_BUCKETS_MS, type LatencyHistogram } from '../../runtime/histogram.ts';
import type { Runtime } from '../../runtime/runtime.ts';
import type { Fanout } from './fanout.ts';

export interface NodeStats {
  clients(): number;
  messagesIn(): number;
  messagesOut(): number;
  bytesIn(): number;
  bytesOut(): number;
  /** players waiting in the cluster's matchmaking queues (read from Redis) */
  queued(): Promise<number>;
  /** as /readyz answers */
  ready(): boolean;
  /** WebSocket connections refused because the node served its most (--max-clients) already */
  refusedFull(): number;
}

/**
 * A Prometheus histogram whose observations live in a LatencyHistogram (the worker threads observe, the main
 * thread merges): registered as a custom metric that renders the buckets at scrape time.
 */
class ExposedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(readonly name: string, readonly help: string, private readonly source: () => LatencyHistogram) {}

  async get() {
    const h = this.source();
    const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> = [];
    let cumulative = 0;
    LATENCY_BUCKETS_MS.forEach((ms, i) => {
      cumulative += h.counts[i];
      values.push({ value: cumulative, labels: { le: ms / 1000 }, metricName: `${this.name}_bucket` });
    });
    values.push({ value: h.count, labels: { le: '+Inf' }, metricName: `${this.name}_bucket` });
    values.push({ value: h.sum / 1000, labels: {}, metricName: `${this.name}_sum` });
    values.push({ value: h.count, labels: {}, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void { /* the source owns the observations */ }
}

export function createMetrics(runtime: Runtime, fanout: Fanout, stats: NodeStats): client.Registry {
  const registry = new client.Registry();
  registry.setDefaultLabels({ node: runtime.nodeId });
  // under their usual names (process_cpu_seconds_total, nodejs_heap_size_used_bytes…), which dashboards expect
  client.collectDefaultMetrics({ register: registry });
  const counters = runtime.supervisor.counters;
  const gauge = (name: string, help: string, value: () => number) =>
    new client.Gauge({ name, help, registers: [registry], collect() { this.set(value()); } });
  const counter = (name: string, help: string, value: () => number) =>
    new client.Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(value()); } });

  gauge('snaketron_games_active', 'games hosted by this node\'s partitions', () =>
    [...runtime.supervisor.owned.values()].reduce((n, o) => n + o.actors, 0));
  new client.Gauge({
    name: 'snaketron_queued_players', help: 'players waiting in the cluster\'s matchmaking queues (every node reports the same: take max, not sum)', registers: [registry],
    async collect() {
      const queued = await answered(stats.queued());
      if (queued !== undefined) this.set(queued);
    },
  });
  gauge('snaketron_ready', '1 while Redis and Postgres answer and the node holds its share of partitions (as /readyz), else 0', () => (stats.ready() ? 1 : 0));
  gauge('snaketron_partitions_owned', 'partitions this node owns', () => runtime.supervisor.owned.size);
  counter('snaketron_steps_total', 'game steps executed (rate = steps per second)', () => counters.ticks);
  counter('snaketron_commits_total', 'journal batches committed', () => counters.commits);
  counter('snaketron_inputs_total', 'mailbox inputs read', () => counters.inputs);
  counter('snaketron_mailbox_reads_total', 'mailbox reads (one Redis call each; at ticks, and between them only for partitions with lobbies)', () => counters.reads);
  counter('snaketron_dead_letters_total', 'inputs dead-lettered', () => counters.deadLetters);
  counter('snaketron_recoveries_total', 'partitions this node took up and restored: at its start, on a hand-off, on a takeover from a dead node, on a worker replacement', () => counters.recoveries);
  new client.Counter({
    name: 'snaketron_recoveries_by_reason_total', labelNames: ['reason'], registers: [registry],
    help: 'the recoveries by why this node took the partition up: new (nobody held it), handed over, holder died, restarted (this node held it)',
    collect() {
      this.reset();
      for (const [reason, n] of counters.recoveriesBy) this.inc({ reason }, n);
    },
  });
  counter('snaketron_actor_restarts_total', 'actors restarted after throwing', () => counters.actorRestarts);
  counter('snaketron_actors_parked_total', 'actors whose state could not be rebuilt here (a checkpoint that does not decode, a replay that throws): not hosted, their inputs dead-lettered, their data kept for the next owner', () => counters.actorsParked);
  counter('snaketron_replay_mismatches_total', 'checkpoints whose replay check failed (--verify-replays): a restart would not rebuild the game as it was', () => counters.replayMismatches);
  counter('snaketron_worker_restarts_total', 'worker threads replaced', () => counters.workerRestarts);
  const histogram = (name: string, help: string, source: () => LatencyHistogram) =>
    registry.registerMetric(new ExposedHistogram(name, help, source) as unknown as client.Metric);
  histogram('snaketron_tick_lateness_seconds', 'how late ticks ran after they were due', () => counters.lateness);
  histogram('snaketron_commit_seconds', 'journal commit latency', () => counters.commitMs);
  histogram('snaketron_checkpoint_seconds', 'checkpoint batch write latency', () => counters.checkpointMs);
  histogram('snaketron_recovery_seconds', 'how long restoring a partition took (checkpoints and journal replay); after a node dies its games also wait for its lease to expire (--lease-ms)', () => counters.recoveryMs);
  histogram('snaketron_tick_delivery_seconds', 'from a tick\'s commit to its message handed to the sockets of this node\'s clients (per outbox entry holding ticks)', () => fanout.counters.deliveryMs);
  const lag = new client.Gauge({
    name: 'snaketron_inbox_lag', help: 'mailbox entries not yet read by the owner, per partition', labelNames: ['partition'], registers: [registry],
    async collect() {
      this.reset();
      const owned = [...runtime.supervisor.owned.keys()];
      const infos = await answered(Promise.all(owned.map((p) => runtime.redis.xinfo('GROUPS', runtime.keys.inbox(p)).catch(() => []))));
      owned.forEach((p, i) => {
        const group = ((infos?.[i] ?? []) as unknown[][]).find((g) => g[1] === 'owner');
        const idx = group ? group.indexOf('lag') : -1;
        if (group && idx >= 0) this.set({ partition: String(p) }, Number(group[idx + 1]) || 0);
      });
    },
  });
  void lag;
  gauge('snaketron_clients', 'connected WebSocket clients', () => stats.clients());
  counter('snaketron_connections_refused_total', 'WebSocket connections refused because the node served --max-clients connections already', () => stats.refusedFull());
  gauge('snaketron_watched_games', 'games replicated on this node for its clients', () => fanout.watchedGames);
  counter('snaketron_messages_in_total', 'client messages received', () => stats.messagesIn());
  counter('snaketron_messages_out_total', 'client messages sent', () => stats.messagesOut());
  counter('snaketron_bytes_in_total', 'client bytes received', () => stats.bytesIn());
  counter('snaketron_bytes_out_total', 'client bytes sent', () => stats.bytesOut());
  counter('snaketron_slow_client_resyncs_total', 'snapshots sent to clients that fell behind', () => fanout.counters.resyncs);
  return registry;
}

/** How long a scrape waits for a value read from Redis: during an outage the rest of the page still comes. */
const REDIS_METRIC_MS = 500;

/** The value, or undefined when Redis has not answered within REDIS_METRIC_MS (it is then left out of the scrape). */
function answered<T>(value: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, REDIS_METRIC_MS, undefined); });
  return Promise.race([value.catch(() => undefined), late]).finally(() => clearTimeout(timer));
}
