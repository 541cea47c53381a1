// Discovery without Raft: every node registers in Redis with a heartbeat; the live nodes, sorted by id, share
// the partitions round-robin, so every node computes the same assignment from the same list. Heartbeats are timed
// by Redis's clock, not the nodes' own, which may be seconds apart: each node then judges them the same.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { RuntimeTables } from './db.ts';
import { ConfigurationError } from './errors.ts';
import type { Keys } from './keys.ts';
import type { Logger } from './log.ts';
import { runCommand, type RedisClient } from './redis.ts';

export interface NodeInfo {
  nodeId: string;
  url: string;
  startedAt: number;
  /** by Redis's clock (ms) */
  lastHeartbeat: number;
  partitions: number[];
  /** actors hosted per owned partition */
  partitionActors: Record<number, number>;
  actors: number;
  /** the application's clients on this node (WebSocket connections, say) */
  clients: number;
  /** the names of the actor types its workers load */
  actorTypes: string[];
  /** how long it lets a heartbeat age before it counts the node dead (--lease-ms); absent from nodes of before 2026-11-28 */
  leaseMs?: number;
}

export class Membership {
  private live: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private beats = 0;
  /** Redis's clock minus this node's, as of the last heartbeat */
  private clockOffset = 0;
  /** nodes that joined whose actor types and lease this node has not compared with its own yet */
  private readonly uncompared = new Set<string>();
  /** what this node says of itself at each heartbeat */
  info: () => Pick<NodeInfo, 'partitions' | 'partitionActors' | 'actors' | 'clients' | 'actorTypes'> = () => ({ partitions: [], partitionActors: {}, actors: 0, clients: 0, actorTypes: [] });

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
    await this.claimId();
    await this.db.insertInto('nodes')
      .values({ node_id: this.nodeId, url: this.url, started_at: new Date(this.startedAt), last_seen: new Date(), stopped_at: null })
      .onConflict((oc) => oc.column('node_id').doUpdateSet({ url: this.url, started_at: new Date(this.startedAt), last_seen: new Date(), stopped_at: null }))
      .execute();
    await this.beat();
    this.timer = setInterval(() => { void this.beat().catch((err: unknown) => this.log.warn({ err }, 'heartbeat failed')); }, this.heartbeatMs);
  }

  /**
   * Refuses to start beside a live node of the same id: the two would take every partition from each other, several
   * times a second, for as long as both run. A node restarted under its id after a crash finds its old heartbeat
   * still, but no longer moving, and goes on (its partitions come back to it as to their holder).
   */
  private async claimId(): Promise<void> {
    const before = await this.redis.zscore(this.keys.nodes, this.nodeId);
    if (before === null) return;
    await sleep(this.heartbeatMs * 2 + 100);
    const after = await this.redis.zscore(this.keys.nodes, this.nodeId);
    if (after === null || Number(after) <= Number(before)) return;
    const registration = await this.redis.get(this.keys.node(this.nodeId));
    const url = registration === null ? '' : (JSON.parse(registration) as Partial<NodeInfo>).url;
    throw new ConfigurationError(`node id ${this.nodeId} is taken by a live node of this cluster${url ? ` (${url})` : ''}: `
      + 'give each node its own --node-id (SNAKETRON_NODE_ID), or leave it out for a generated one');
  }

  private async beat(): Promise<void> {
    // (nodes() reads lastHeartbeat from the heartbeat's score; this estimate is for readers of the key alone)
    const info: NodeInfo = {
      nodeId: this.nodeId, url: this.url, startedAt: this.startedAt, lastHeartbeat: this.redisNow(), leaseMs: this.deadAfterMs, ...this.info(),
    };
    const sentAt = Date.now();
    const [[redisTime, ...live]] = await Promise.all([
      runCommand<[number, ...string[]]>(this.redis, 'heartbeat', [this.keys.nodes], [this.nodeId, this.deadAfterMs, this.deadAfterMs * 100]),
      this.redis.set(this.keys.node(this.nodeId), JSON.stringify(info), 'PX', this.deadAfterMs * 20),
    ]);
    // Redis read its clock about half-way through the round trip
    this.clockOffset = Number(redisTime) - Math.round((sentAt + Date.now()) / 2);
    await this.adopt(live);
    if (this.uncompared.size > 0) await this.compareWithPeers();
    if (++this.beats % 20 === 0) {
      await this.db.updateTable('nodes').set({ last_seen: new Date() }).where('node_id', '=', this.nodeId).execute()
        .catch(() => undefined);
    }
  }

  /** Redis's clock (ms) as this node reckons it: what every heartbeat is judged by. */
  redisNow(): number {
    return Date.now() + this.clockOffset;
  }

  async refresh(): Promise<string[]> {
    await this.adopt(await this.redis.zrangebyscore(this.keys.nodes, this.redisNow() - this.deadAfterMs, '+inf'));
    return this.live;
  }

  private async adopt(ids: string[]): Promise<void> {
    const next = ids.sort();
    if (next.join() !== this.live.join()) await this.logChange(this.live, next);
    this.live = next;
  }

  /**
   * Says who joined and who left, and how: a node that stopped (SIGTERM) took its registration with it. The first
   * view is one line: the nodes found there were not joining.
   */
  private async logChange(before: readonly string[], after: readonly string[]): Promise<void> {
    const others = after.filter((nodeId) => nodeId !== this.nodeId);
    if (this.beats === 0) {
      this.log.info({ nodes: after }, others.length > 0 ? `joined the cluster, with ${others.join(', ')}` : 'joined the cluster, the first node');
      for (const nodeId of others) this.uncompared.add(nodeId);
      return;
    }
    for (const nodeId of others) {
      if (before.includes(nodeId)) continue;
      this.log.info({ joined: nodeId, nodes: after }, `node ${nodeId} joined the cluster`);
      this.uncompared.add(nodeId);
    }
    for (const nodeId of before) {
      // this node itself missing from the list: Redis lost it (restarted empty), which is logged as such
      if (after.includes(nodeId) || nodeId === this.nodeId) continue;
      const { standing, lastHeartbeat } = await this.standing(nodeId);
      if (standing === 'dead') {
        this.log.warn({ dead: nodeId, lastHeartbeat, nodes: after },
          `node ${nodeId} missed its heartbeats for ${this.redisNow() - lastHeartbeat!} ms and counts as dead; its partitions are taken over`);
      } else {
        this.log.info({ left: nodeId, nodes: after }, `node ${nodeId} left the cluster; its partitions move to the others`);
      }
    }
  }

  /**
   * Warns of a node that loads other actor types than this one: partitions move between nodes, and an actor whose
   * type its owner lacks is parked there (see PartitionExecutor.parked). And of one with another lease: each node
   * judges the others' heartbeats by its own, so one may count another dead (and log it so) while that one still
   * holds its partitions, which move only when its own lease runs out. A joiner's registration may come just after
   * its first heartbeat: one not found yet is looked at again at the next beat.
   */
  private async compareWithPeers(): Promise<void> {
    const mine = this.info().actorTypes;
    for (const nodeId of [...this.uncompared]) {
      if (!this.live.includes(nodeId)) {
        this.uncompared.delete(nodeId);
        continue;
      }
      const registration = await this.redis.get(this.keys.node(nodeId));
      if (registration === null) continue;
      this.uncompared.delete(nodeId);
      const peer = JSON.parse(registration) as Partial<NodeInfo>;
      if (peer.leaseMs !== undefined && peer.leaseMs !== this.deadAfterMs) {
        this.log.warn({ other: nodeId, leaseMs: this.deadAfterMs, theirs: peer.leaseMs },
          `node ${nodeId} has another lease (${peer.leaseMs} ms) than this node (${this.deadAfterMs} ms): each counts the other dead by its own, `
          + 'so a node may be logged dead while it still holds its partitions; give every node the same --lease-ms');
      }
      const theirs = peer.actorTypes ?? [];
      const missingHere = theirs.filter((t) => !mine.includes(t));
      const missingThere = mine.filter((t) => !theirs.includes(t));
      if (missingHere.length === 0 && missingThere.length === 0) continue;
      this.log.warn({ other: nodeId, actorTypes: mine, theirs, missingHere, missingThere },
        `node ${nodeId} loads other actor types than this node (only there: ${missingHere.join(', ') || 'none'}; only here: ${missingThere.join(', ') || 'none'}): `
        + 'an actor whose type its partition\'s owner lacks is parked there; load the same actor modules on every node');
    }
  }

  /**
   * A node as Redis has it now (the list above is as of this node's last beat): alive (a fresh heartbeat), dead
   * (registered, but its heartbeat is older than deadAfterMs) or left (it unregistered as it stopped, or is unknown).
   */
  async standing(nodeId: string): Promise<{ standing: 'alive' | 'dead' | 'left'; lastHeartbeat: number | null }> {
    const beat = await this.redis.zscore(this.keys.nodes, nodeId);
    if (beat === null) return { standing: 'left', lastHeartbeat: null };
    return { standing: Number(beat) >= this.redisNow() - this.deadAfterMs ? 'alive' : 'dead', lastHeartbeat: Number(beat) };
  }

  /** Whether a node's heartbeat is fresh now, read from Redis. */
  async isAlive(nodeId: string): Promise<boolean> {
    return (await this.standing(nodeId)).standing === 'alive';
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
    const scored = await this.redis.zrangebyscore(this.keys.nodes, this.redisNow() - this.deadAfterMs, '+inf', 'WITHSCORES');
    const beats = new Map<string, number>();
    for (let i = 0; i < scored.length; i += 2) beats.set(scored[i], Number(scored[i + 1]));
    const values = await Promise.all([...beats.keys()].map((id) => this.redis.get(this.keys.node(id))));
    // by id, as the partitions are shared out (by heartbeat, the order changed with every beat)
    return values.filter((v): v is string => v !== null).map((v) => {
      const info = JSON.parse(v) as NodeInfo;
      return { ...info, lastHeartbeat: beats.get(info.nodeId) ?? info.lastHeartbeat };
    }).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
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
