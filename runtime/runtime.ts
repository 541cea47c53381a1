// The runtime's programmatic API: start a node's runtime (supervisor, workers, membership), create actors,
// submit inputs (acknowledged once stored in the mailbox), and read what actors record.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { CheckpointStore } from './checkpoints.ts';
import { adoptCheckpoints, connectDatabase, migrate, RUNTIME_MIGRATIONS, type RuntimeTables } from './db.ts';
import { ConfigurationError } from './errors.ts';
import { Keys } from './keys.ts';
import { createLogger, redactUrl, type Logger } from './log.ts';
import { Membership } from './membership.ts';
import { partitionOf } from './partition.ts';
import { Producer } from './producer.ts';
import { connectRedis, isClusterSpec, type RedisClient } from './redis.ts';
import { Supervisor } from './supervisor.ts';

export interface RuntimeOptions {
  redisUrl: string;
  databaseUrl: string;
  /** absolute URLs of modules exporting `actorTypes` (see ActorModule), `new URL('./x.ts', import.meta.url).href`: workers import them */
  actorModules: readonly string[];
  nodeId?: string;
  /** of every Redis key: nodes with one prefix form one cluster (and must load the same actor modules) */
  prefix: string;
  partitions?: number;
  /** worker threads running partition executors (default 1; snaketron-node's default is cores − 1) */
  workers?: number;
  leaseMs?: number;
  checkpointTicks?: number;
  pollMs?: number;
  /**
   * Consumer groups that follow every outbox (a replay writer, say). Each partition's owner creates them, from the
   * start of the outbox, before it runs, so trimming waits for them even before their reader first comes.
   */
  outboxGroups?: readonly string[];
  /** how this node is reached by clients (shown in the cluster listing) */
  url?: string;
  heartbeatMs?: number;
  stuckMs?: number;
  logger?: Logger;
  /**
   * For developing actors: at every Nth checkpoint of each actor (0, the default: never), checks that its state
   * survives encode and decode and that a replay of its journal since the last checkpoint gives the outputs it gave
   * live and the live state, as a restart will need; a failure is logged and counted (replay mismatches). Costs a
   * replay of those ticks.
   */
  verifyReplays?: number;
  /**
   * Submits (and creates) made within this long of the first one go to Redis together, one script call per
   * partition (default 0: those of one event-loop turn). Each is still acknowledged only once stored; a wait trades
   * up to this much acknowledgement latency for fewer Redis calls (see Producer).
   */
  submitCoalesceMs?: number;
}

export const RUNTIME_DEFAULTS = {
  partitions: 32,
  leaseMs: 1500,
  checkpointTicks: 20,
  pollMs: 20,
} as const;

export { ConfigurationError };

export function defaultNodeId(port?: number): string {
  return `${hostname()}-${port ?? process.pid}-${randomBytes(3).toString('hex')}`;
}

export class Runtime {
  readonly producer: Producer;

  private constructor(
    readonly nodeId: string,
    readonly keys: Keys,
    readonly partitions: number,
    /** commands and submits; never blocked by stream reads */
    readonly redis: RedisClient,
    readonly db: Kysely<RuntimeTables>,
    readonly checkpoints: CheckpointStore,
    readonly membership: Membership,
    readonly supervisor: Supervisor,
    readonly log: Logger,
    private readonly redisUrl: string,
    submitCoalesceMs: number,
  ) {
    this.producer = new Producer(redis, keys, partitions, submitCoalesceMs);
  }

  static async start(options: RuntimeOptions): Promise<Runtime> {
    const { prefix } = options;
    if (typeof prefix !== 'string' || !/^[\w.-]{1,64}$/.test(prefix)) {
      throw new ConfigurationError(`prefix must be 1-64 letters, digits, '.', '_' or '-' naming the cluster, got ${JSON.stringify(prefix)}`);
    }
    for (const url of options.actorModules) {
      if (!URL.canParse(url)) {
        throw new ConfigurationError(`actorModules takes absolute URLs, as new URL('${url}', import.meta.url).href gives; got "${url}" (worker threads resolve it from elsewhere)`);
      }
    }
    const partitions = options.partitions ?? RUNTIME_DEFAULTS.partitions;
    const leaseMs = options.leaseMs ?? RUNTIME_DEFAULTS.leaseMs;
    const nodeId = options.nodeId ?? defaultNodeId();
    const log = options.logger ?? createLogger({ node: nodeId });
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 4096) {
      throw new ConfigurationError(`partitions must be an integer between 1 and 4096, got ${partitions}`);
    }
    // a node without workers would take its share of the partitions and run none of them
    const workers = options.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
      throw new ConfigurationError(`workers must be an integer between 1 and 256, got ${workers} (a node hosts its partitions' actors on them; a process that only submits uses Producer.forCluster)`);
    }
    const submitCoalesceMs = options.submitCoalesceMs ?? 0;
    if (!Number.isFinite(submitCoalesceMs) || submitCoalesceMs < 0 || submitCoalesceMs > 1000) {
      throw new ConfigurationError(`submitCoalesceMs must be between 0 and 1000 (ms), got ${submitCoalesceMs}`);
    }
    const keys = new Keys(prefix);
    const redis = connectRedis(options.redisUrl, { name: `${nodeId}:main` });
    const storedPartitions = async () => {
      const stored = await redis.hget(keys.cluster, 'partitions');
      if (stored !== null && Number(stored) !== partitions) {
        throw new ConfigurationError(`this cluster (prefix ${prefix}) was started with ${stored} partitions and this node is configured with ${partitions}: `
          + `give it partitions = ${stored} (snaketron-node: --partitions ${stored}), or another prefix to start a new cluster`);
      }
      return stored;
    };
    try {
      await withTimeout(redis.ping(), 5000, `Redis at ${redactUrl(options.redisUrl)} does not answer: is it running, and is the Redis URL right?`);
      const db = redisDatabase(options.redisUrl);
      // ioredis goes on in database 0 when its SELECT fails
      if (db > 0) await redis.select(db);
      await storedPartitions();
    } catch (err) {
      redis.disconnect();
      throw explainRedisError(err, options.redisUrl);
    }
    const db = connectDatabase<RuntimeTables>(options.databaseUrl, 4);
    try {
      await withTimeout(migrate(db, 'runtime_migrations', RUNTIME_MIGRATIONS), 15000, `Postgres at ${redactUrl(options.databaseUrl)} does not answer`);
      await adoptCheckpoints(db, prefix);
      // fixed once the node could start: one that fails before here leaves a new cluster's partition count open
      await redis.hsetnx(keys.cluster, 'partitions', String(partitions));
      await storedPartitions();
    } catch (err) {
      redis.disconnect();
      await db.destroy();
      throw err;
    }
    const membership = new Membership(redis, db, keys, nodeId, options.url ?? '', options.heartbeatMs ?? Math.max(100, Math.floor(leaseMs / 3)), leaseMs, log);
    const supervisor = new Supervisor({
      nodeId,
      partitions,
      workers,
      leaseMs,
      stuckMs: options.stuckMs ?? Math.max(1000, leaseMs),
      worker: {
        redisUrl: options.redisUrl,
        databaseUrl: options.databaseUrl,
        prefix,
        actorModules: options.actorModules,
        logLevel: log.level,
        executor: {
          nodeId,
          leaseMs,
          checkpointTicks: options.checkpointTicks ?? RUNTIME_DEFAULTS.checkpointTicks,
          pollMs: options.pollMs ?? RUNTIME_DEFAULTS.pollMs,
          maxFailures: 3,
          readCount: 1000,
          partitions,
          outboxGroups: options.outboxGroups ?? [],
          verifyReplays: options.verifyReplays ?? 0,
        },
      },
    }, redis, keys, membership, log);
    const runtime = new Runtime(nodeId, keys, partitions, redis, db, new CheckpointStore(db, prefix), membership, supervisor, log, options.redisUrl, submitCoalesceMs);
    runtime.settings.set('partitions', String(partitions));
    runtime.reportOutages();
    membership.info = () => ({
      partitions: [...supervisor.owned.keys()].sort((a, b) => a - b),
      partitionActors: Object.fromEntries([...supervisor.owned.values()].map((o) => [o.partition, o.actors])),
      actors: [...supervisor.owned.values()].reduce((n, o) => n + o.actors, 0),
      clients: runtime.clientCount(),
      actorTypes: supervisor.actorTypes,
    });
    try {
      await supervisor.startWorkers();
      await membership.start();
      await supervisor.start();
    } catch (err) {
      // a worker that cannot start (an actor module that does not load) would otherwise be retried for ever
      await runtime.stop(false).catch(() => undefined);
      throw err;
    }
    return runtime;
  }

  private redisLost = false;
  private pinger: NodeJS.Timeout | null = null;
  /** when the ping to Redis that has not been answered yet was sent (null: none waits) */
  private pingedAt: number | null = null;

  /** false from the moment the node's connection to Redis drops (or Redis stops answering) until it answers again */
  get redisAvailable(): boolean {
    return !this.redisLost;
  }

  /** How long Redis has left this node's latest ping unanswered (0 when it answered): a readiness probe's measure. */
  redisSilentMs(): number {
    return this.pingedAt === null ? 0 : Date.now() - this.pingedAt;
  }

  /** The cluster's settings as this node read them from Redis: stored again should Redis come back without them. */
  private readonly settings = new Map<string, string>();

  /**
   * A setting every node of the cluster shares (a token secret, say): the one stored in Redis, or `initial()` when
   * this node is the first to ask. Should Redis lose it (a restart without persistence), this node stores it again.
   */
  async clusterSetting(field: string, initial: () => string): Promise<string> {
    await this.redis.hsetnx(this.keys.cluster, field, initial());
    const value = (await this.redis.hget(this.keys.cluster, field))!;
    this.settings.set(field, value);
    return value;
  }

  /**
   * Logs when the node loses Redis and when it has it back, and mends the cluster's settings if Redis lost them.
   * Redis is lost when the connection drops, and also when it stays open but a ping goes unanswered for
   * REDIS_SILENT_MS (a server that hangs, a network that drops everything, a paused machine): the client would
   * wait on such a connection without ever reconnecting, and nothing would say why the games stopped.
   */
  private reportOutages(): void {
    let lastError = '';
    this.redis.on('error', (err: unknown) => { lastError = String((err as Error)?.message ?? err); });
    this.redis.on('reconnecting', () => {
      if (this.redisLost) return;
      this.redisLost = true;
      this.log.warn({ err: lastError || 'the connection was closed' }, 'lost the connection to Redis; reconnecting (games wait for it)');
    });
    this.redis.on('ready', () => {
      if (!this.redisLost) return;
      this.redisLost = false;
      this.log.info('Redis answers again');
      void this.restoreSettings().catch((err: unknown) => this.log.warn({ err: String(err) }, 'could not check the cluster\'s settings in Redis'));
    });
    let silent = false;
    this.pinger = setInterval(() => {
      if (this.pingedAt === null) {
        const at = this.pingedAt = Date.now();
        const answered = () => {
          if (this.pingedAt === at) this.pingedAt = null;
          if (!silent) return;
          silent = false;
          // after a reconnect, 'ready' has said so already
          if (this.redisLost && this.redis.status === 'ready') {
            this.redisLost = false;
            this.log.info({ silentMs: Date.now() - at }, 'Redis answers again');
          }
        };
        this.redis.ping().then(answered, answered);
      } else if (!silent && this.redisSilentMs() > REDIS_SILENT_MS) {
        silent = true;
        if (this.redisLost) return;
        this.redisLost = true;
        this.log.warn({ silentMs: this.redisSilentMs() }, 'Redis does not answer, though the connection is open; games wait for it');
      }
    }, REDIS_PING_MS);
    this.pinger.unref();
  }

  private async restoreSettings(): Promise<void> {
    if (await this.redis.hexists(this.keys.cluster, 'partitions')) return;
    this.log.error({ prefix: this.keys.prefix },
      'Redis came back without this cluster\'s state (restarted without persistence?): games go on from their checkpoints in Postgres, '
      + 'and inputs acknowledged after those may be lost; storing the cluster\'s settings again');
    for (const [field, value] of this.settings) await this.redis.hsetnx(this.keys.cluster, field, value);
  }

  /** Set by the application so heartbeats can report it. */
  clientCount: () => number = () => 0;

  partitionOf(actorId: string): number {
    return partitionOf(actorId, this.partitions);
  }

  /**
   * Stores an input in the actor's mailbox; resolves with its id in the mailbox of the actor's partition (the ack:
   * unique together with the actor, as each partition's mailbox numbers its own). See Producer.
   */
  submit(actorId: string, input: unknown, submissionId?: string): Promise<string> {
    return this.producer.submit(actorId, input, submissionId);
  }

  /** Creates an actor through its partition's mailbox. See Producer. */
  create(actorType: string, actorId: string, init: unknown, submissionId?: string): Promise<string> {
    return this.producer.create(actorType, actorId, init, submissionId);
  }

  /** A new connection for blocking stream reads (never shared with writes). */
  connectReader(name: string): RedisClient {
    return connectRedis(this.redisUrl, { blocking: true, name: `${this.nodeId}:${name}` });
  }

  /** Whether this node holds every partition it should and has recovered them (readiness). */
  isSettled(): boolean {
    const mine = Array.from({ length: this.partitions }, (_, p) => p).filter((p) => this.membership.ownerOf(p) === this.nodeId);
    return mine.every((p) => this.supervisor.owned.get(p)?.state === 'running');
  }

  /**
   * Leaves the membership and hands every partition over; false when Redis was lost for HAND_OFF_WAIT_MS meanwhile
   * (the hand-off would wait for it for ever; nobody can take the partitions over before it is back either, and then
   * their leases have expired).
   */
  private async handOff(): Promise<boolean> {
    const handedOff = (async () => {
      await this.membership.stop();
      await this.supervisor.stop(true);
    })();
    let watch: NodeJS.Timeout | undefined;
    const outage = new Promise<false>((resolve) => {
      let lostSince: number | null = null;
      watch = setInterval(() => {
        if (!this.redisLost) { lostSince = null; return; }
        if (lostSince === null) {
          lostSince = Date.now();
          this.log.warn({ waitMs: HAND_OFF_WAIT_MS }, 'stopping: Redis does not answer, and the hand-off waits for it');
        } else if (Date.now() - lostSince >= HAND_OFF_WAIT_MS) {
          this.log.warn('stopping without a hand-off: Redis did not come back; the partitions move to other nodes when their leases expire');
          resolve(false);
        }
      }, 250);
    });
    const done = handedOff.then(() => true);
    done.catch(() => undefined); // once given up on, it may still end either way
    try {
      return await Promise.race([done, outage]);
    } finally {
      clearInterval(watch);
    }
  }

  /**
   * Stops the node. With `handOff` (SIGTERM), every partition is checkpointed and released so other nodes
   * recover it at once; without, the leases simply expire.
   */
  async stop(handOff = true): Promise<void> {
    // a node that leaves takes no partition meanwhile (with Redis away, leaving waits, and the balance loop went on)
    this.supervisor.quiesce();
    if (!handOff || !(await this.handOff())) {
      // without a hand-off the heartbeat stops too (it went on beating, through a closed connection, for ever)
      this.membership.halt();
      await this.supervisor.stop(false);
    }
    if (this.pinger) clearInterval(this.pinger);
    this.redis.disconnect();
    await this.db.destroy();
  }
}

/**
 * How often a node pings Redis, and how long a ping may go unanswered before Redis counts as lost (see
 * reportOutages; a readiness probe reads redisSilentMs): longer than a busy node holds up its own event loop.
 */
const REDIS_PING_MS = 500;
const REDIS_SILENT_MS = 5000;

/** How long a stopping node's hand-off waits for a Redis that does not answer before it stops without one. */
const HAND_OFF_WAIT_MS = 15_000;

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new ConfigurationError(message)), ms); }),
  ]);
}

/** The database index a Redis URL names (`redis://host:6379/3` → 3); 0 for none, and for a Redis Cluster. */
function redisDatabase(spec: string): number {
  if (isClusterSpec(spec)) return 0;
  const path = new URL(spec).pathname.slice(1);
  return /^\d+$/.test(path) ? Number(path) : 0;
}

/** What went wrong reaching Redis, in words that say what to change. */
function explainRedisError(err: unknown, spec: string): unknown {
  if (err instanceof ConfigurationError) return err;
  const text = String((err as Error)?.message ?? err);
  const at = `Redis at ${redactUrl(spec)}`;
  if (/NOAUTH/.test(text)) return new ConfigurationError(`${at} asks for a password: put it in the Redis URL (redis://:PASSWORD@host:port or redis://USER:PASSWORD@host:port)`);
  if (/WRONGPASS/.test(text)) return new ConfigurationError(`${at} refused the user name or password in the Redis URL`);
  if (/DB index is out of range/.test(text)) return new ConfigurationError(`${at} has no database ${redisDatabase(spec)}: pick one below its 'databases' setting (16 by default)`);
  if (/ENOTFOUND|EAI_AGAIN/.test(text)) return new ConfigurationError(`${at}: its host name is not known; check the Redis URL`);
  if (/None of startup nodes is available/.test(text)) return new ConfigurationError(`no Redis Cluster node of ${spec} answers: are they running, and is the list of host:port seeds right?`);
  return err;
}
