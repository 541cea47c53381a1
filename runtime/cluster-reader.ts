// Reading a cluster from a process that hosts no actors (a spectator service, an analytics job, a bot fleet): what a
// Follower needs (the outboxes in Redis, the checkpoints in Postgres, the partition count), without starting a
// Runtime, which would take a share of the partitions and run them.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { CheckpointStore } from './checkpoints.ts';
import { connectDatabase, type RuntimeTables } from './db.ts';
import { Keys } from './keys.ts';
import { partitionOf } from './partition.ts';
import { Producer } from './producer.ts';
import { connectRedis, type RedisClient } from './redis.ts';

/** What a Follower reads a cluster through: a Runtime is one, and so is a ClusterReader. */
export interface ClusterSource {
  /** names this process's readers among an outbox's readers (its owner trims no further than they have read) */
  readonly nodeId: string;
  readonly keys: Keys;
  readonly partitions: number;
  /** commands (never blocked by stream reads) */
  readonly redis: RedisClient;
  readonly checkpoints: CheckpointStore;
  partitionOf(actorId: string): number;
  /** a new connection for blocking stream reads */
  connectReader(name: string): RedisClient;
}

export interface ClusterReaderOptions {
  redisUrl: string;
  databaseUrl: string;
  /** the cluster's prefix, as its nodes were started with */
  prefix: string;
  /** names this process among the outboxes' readers (default: reader- and a random suffix) */
  name?: string;
}

export class ClusterReader implements ClusterSource {
  readonly checkpoints: CheckpointStore;
  private readonly readers: RedisClient[] = [];

  private constructor(
    readonly nodeId: string,
    readonly keys: Keys,
    readonly partitions: number,
    readonly redis: RedisClient,
    private readonly db: Kysely<RuntimeTables>,
    private readonly redisUrl: string,
  ) {
    this.checkpoints = new CheckpointStore(db, keys.prefix);
  }

  /**
   * Connects to a cluster that has started (its first node fixed the partition count); refuses with
   * ConfigurationError when no node of that prefix ever started, since the outboxes it would follow are not known
   * (the partition count is read as Producer.forCluster reads it).
   */
  static async connect(options: ClusterReaderOptions): Promise<ClusterReader> {
    const keys = new Keys(options.prefix);
    const nodeId = options.name ?? `reader-${randomBytes(3).toString('hex')}`;
    const redis = connectRedis(options.redisUrl, { name: `${nodeId}:main` });
    let partitions: number;
    try {
      partitions = (await Producer.forCluster(redis, keys)).partitions;
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return new ClusterReader(nodeId, keys, partitions, redis, connectDatabase<RuntimeTables>(options.databaseUrl, 2), options.redisUrl);
  }

  partitionOf(actorId: string): number {
    return partitionOf(actorId, this.partitions);
  }

  connectReader(name: string): RedisClient {
    const reader = connectRedis(this.redisUrl, { blocking: true, name: `${this.nodeId}:${name}` });
    this.readers.push(reader);
    return reader;
  }

  /** Closes its connections (stop the followers reading through it first). */
  async close(): Promise<void> {
    for (const reader of this.readers) reader.disconnect();
    this.redis.disconnect();
    await this.db.destroy();
  }
}
