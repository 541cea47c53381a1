// Every Redis key the runtime uses, in one place. All keys of a partition carry the hash tag `{p<N>}` so that one
// Lua script may touch them together, also on a Redis Cluster.

export class Keys {
  constructor(readonly prefix: string) {}

  private part(partition: number, name: string): string {
    return `${this.prefix}:{p${partition}}:${name}`;
  }

  /** The mailbox: inputs for the partition's actors, read through the owner's consumer group. */
  inbox(partition: number): string { return this.part(partition, 'inbox'); }
  /** Journal batches (tick records, status changes) committed by the owner. */
  outbox(partition: number): string { return this.part(partition, 'outbox'); }
  /** Inputs that made an actor throw three times, with the error. */
  deadLetters(partition: number): string { return this.part(partition, 'dead'); }
  /** Inputs that were being handled when an owner stopped before committing them, and how often (a hash). */
  strikes(partition: number): string { return this.part(partition, 'strikes'); }
  /**
   * Actors whose own code (a tick with no input before it, a replay) was running when their worker hung or died,
   * with how often (a hash by `tick:<actor id>` and `replay:<actor id>`; see runtime/busy-board.ts).
   */
  actorStops(partition: number): string { return this.part(partition, 'actor-stops'); }
  /** The owner's node id, with an expiry: the lease. */
  lease(partition: number): string { return this.part(partition, 'lease'); }
  /** The node that last acquired the partition (no expiry): whom the next owner takes it from. */
  holder(partition: number): string { return this.part(partition, 'holder'); }
  /** The fencing epoch: increased at every acquisition; writes carrying an older one are refused. */
  epoch(partition: number): string { return this.part(partition, 'epoch'); }
  /** The number of the last committed batch, so a commit retried after a lost reply is applied once. */
  commitSeq(partition: number): string { return this.part(partition, 'seq'); }
  /** Stream ids of a recent submit call, or of an input its submitter named, so a retried submit is stored once. */
  submission(partition: number, submissionId: string): string { return this.part(partition, `sub:${submissionId}`); }
  /** Actors that finished in the last ten minutes (a sorted set by end time): inputs for them are refused, not stored. */
  ended(partition: number): string { return this.part(partition, 'ended'); }
  /** Outbox positions of readers outside consumer groups (fan-out), so trimming waits for them. */
  readers(partition: number): string { return this.part(partition, 'readers'); }

  /** Cluster-wide settings fixed at first start (partition count, token secret). */
  get cluster(): string { return `${this.prefix}:cluster`; }
  /** Live nodes: a sorted set of node ids scored by their last heartbeat (ms). */
  get nodes(): string { return `${this.prefix}:nodes`; }
  /** A node's registration (url, start time, counts), refreshed with its heartbeat. */
  node(nodeId: string): string { return `${this.prefix}:node:${nodeId}`; }
  /** The cluster's latest partition takeovers, newest first (a capped list of JSON Takeover). */
  get takeovers(): string { return `${this.prefix}:takeovers`; }
  /** Application keys outside the runtime (matchmaking, sessions) live under this prefix too. */
  app(name: string): string { return `${this.prefix}:app:${name}`; }
  /** An application key beside a partition's streams (same hash tag), e.g. data collected from its journal. */
  partitionApp(partition: number, name: string): string { return this.part(partition, `app:${name}`); }
}

/** The consumer group through which a partition's owner reads its inbox. */
export const OWNER_GROUP = 'owner';
