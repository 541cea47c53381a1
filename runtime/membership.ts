// Discovery without Raft: every node registers in Redis with a heartbeat; the live nodes, sorted by id, share
// the partitions round-robin, so every node computes the same assignment from the same list.
import type { Kysely } from 'kysely';
import type { RuntimeTables } from './db.ts';
import type { Keys } from './keys.ts';
import type { Logger } from './log.ts';
import type { RedisClient } from './redis.ts';

export interface NodeInfo {
  nodeId: string;
  url: string;
  startedAt: number;
  lastHeartbeat: number;
  partitions: number[];
  /** actors hosted per owned partition */
  partitionActors: Record<number, number>;
  actors: number;
  /** the application's clients on this node (WebSocket connections, say) */
  clients: number;
}

export class Membership {
  private live: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private beats = 0;
  /** what this node says of itself at each heartbeat */
  info: () => Pick<NodeInfo, 'partitions' | 'partitionActors' | 'actors' | 'clients'> = () => ({ partitions: [], partitionActors: {}, actors: 0, clients: 0 });

  constructor(
    private readonly redis: RedisClient,
    private readonly db: Kysely<RuntimeTables>,
    private readonly keys: Keys,
    readonly nodeId: string,
    private readonly url: string,
    private readonly heartbeatMs: number,
    /** a node whose heartbeat is older than this is dead */
    private readonly deadAfterMs: number,
    private readonly log: Logger,
  ) {}

  readonly startedAt = Date.now();

  async start(): Promise<void> {
    await this.db.insertInto('nodes')
      .values({ node_id: this.nodeId, url: this.url, started_at: new Date(this.startedAt), last_seen: new Date(), stopped_at: null })
      .onConflict((oc) => oc.column('node_id').doUpdateSet({ url: this.url, started_at: new Date(this.startedAt), last_seen: new Date(), stopped_at: null }))
      .execute();
    await this.beat();
    this.timer = setInterval(() => { void this.beat().catch((err: unknown) => this.log.warn({ err }, 'heartbeat failed')); }, this.heartbeatMs);
  }

  private async beat(): Promise<void> {
    const now = Date.now();
    const info: NodeInfo = { nodeId: this.nodeId, url: this.url, startedAt: this.startedAt, lastHeartbeat: now, ...this.info() };
    await Promise.all([
      this.redis.zadd(this.keys.nodes, now, this.nodeId),
      this.redis.set(this.keys.node(this.nodeId), JSON.stringify(info), 'PX', this.deadAfterMs * 20),
    ]);
    await this.refresh(now);
    if (++this.beats % 20 === 0) {
      await this.db.updateTable('nodes').set({ last_seen: new Date(now) }).where('node_id', '=', this.nodeId).execute()
        .catch(() => undefined);
    }
  }

  async refresh(now = Date.now()): Promise<string[]> {
    const ids = await this.redis.zrangebyscore(this.keys.nodes, now - this.deadAfterMs, '+inf');
    const next = ids.sort();
    if (next.join() !== this.live.join()) await this.logChange(this.live, next);
    this.live = next;
    // forget nodes long dead so the set stays small
    await this.redis.zremrangebyscore(this.keys.nodes, '-inf', now - this.deadAfterMs * 100);
    return next;
  }

  /** Says who joined and who left, and how: a node that stopped (SIGTERM) took its registration with it. */
  private async logChange(before: readonly string[], after: readonly string[]): Promise<void> {
    for (const nodeId of after) if (!before.includes(nodeId) && nodeId !== this.nodeId) this.log.info({ joined: nodeId, nodes: after }, `node ${nodeId} joined the cluster`);
    for (const nodeId of before) {
      if (after.includes(nodeId)) continue;
      const { standing, lastHeartbeat } = await this.standing(nodeId);
      if (standing === 'dead') {
        this.log.warn({ dead: nodeId, lastHeartbeat, nodes: after },
          `node ${nodeId} missed its heartbeats for ${Date.now() - lastHeartbeat!} ms and counts as dead; its partitions are taken over`);
      } else {
        this.log.info({ left: nodeId, nodes: after }, `node ${nodeId} left the cluster; its partitions move to the others`);
      }
    }
  }

  /**
   * A node as Redis has it now (the list above is as of this node's last beat): alive (a fresh heartbeat), dead
   * (registered, but its heartbeat is older than deadAfterMs) or left (it unregistered as it stopped, or is unknown).
   */
  async standing(nodeId: string, now = Date.now()): Promise<{ standing: 'alive' | 'dead' | 'left'; lastHeartbeat: number | null }> {
    const beat = await this.redis.zscore(this.keys.nodes, nodeId);
    if (beat === null) return { standing: 'left', lastHeartbeat: null };
    return { standing: Number(beat) >= now - this.deadAfterMs ? 'alive' : 'dead', lastHeartbeat: Number(beat) };
  }

  /** Whether a node's heartbeat is fresh now, read from Redis. */
  async isAlive(nodeId: string, now = Date.now()): Promise<boolean> {
    return (await this.standing(nodeId, now)).standing === 'alive';
  }

  liveNodes(): readonly string[] {
    return this.live;
  }

  /** The node that should own `partition` with the current live list (this node if the list is empty). */
  ownerOf(partition: number): string {
    if (this.live.length === 0) return this.nodeId;
    return this.live[partition % this.live.length];
  }

  async nodes(): Promise<NodeInfo[]> {
    const ids = await this.redis.zrangebyscore(this.keys.nodes, Date.now() - this.deadAfterMs, '+inf');
    if (ids.length === 0) return [];
    const values = await Promise.all(ids.map((id) => this.redis.get(this.keys.node(id))));
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as NodeInfo);
  }

  /** Stops the heartbeat and nothing else: the registration ages out as a dead node's would. */
  halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Leaves the cluster at once (SIGTERM): the others take over without waiting for the heartbeat to age. */
  async stop(): Promise<void> {
    this.halt();
    await this.redis.zrem(this.keys.nodes, this.nodeId).catch(() => 0);
    await this.redis.del(this.keys.node(this.nodeId)).catch(() => 0);
    await this.db.updateTable('nodes').set({ stopped_at: new Date() }).where('node_id', '=', this.nodeId).execute()
      .catch(() => undefined);
  }
}
