// The supervisor (main thread): holds this node's partition leases, places each owned partition on a worker
// thread, watches the workers (exit, error, a stuck event loop found by missed pongs) and replaces a failed one
// with backoff, recovering its partitions under a new epoch. It moves partitions to and from other nodes as
// the membership changes, with a graceful hand-off.
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import type { ExecutorEvent } from './executor.ts';
import { tickPhase } from './journal.ts';
import { LatencyHistogram } from './histogram.ts';
import type { Keys } from './keys.ts';
import { relayLogLine, type Logger } from './log.ts';
import type { Membership } from './membership.ts';
import { runCommand, type RedisClient } from './redis.ts';
import type { FromWorker, ToWorker, WorkerConfig, WorkerReport } from './worker-protocol.ts';
import { siblingModule, startThread } from './thread.ts';
import { BusyBoard, type BusyWith } from './busy-board.ts';

export interface SupervisorConfig {
  readonly nodeId: string;
  readonly partitions: number;
  readonly workers: number;
  readonly leaseMs: number;
  /** a worker that has not answered a ping for this long is stuck and replaced */
  readonly stuckMs: number;
  readonly worker: Omit<WorkerConfig, 'index' | 'busy'>;
}

type PartitionState = 'recovering' | 'running' | 'handing-off';

interface OwnedPartition {
  partition: number;
  epoch: number;
  worker: WorkerSlot;
  state: PartitionState;
  actors: number;
  since: number;
  /** the hand-off under way, which a stop waits for too */
  handingOff?: Promise<void>;
  from: string | null;
  /** worked out beside the recovery */
  reason: Promise<TakeoverReason>;
}

class WorkerSlot {
  worker: Worker | null = null;
  /** what the worker is doing (see BusyBoard) */
  busy: BusyBoard | null = null;
  ready = false;
  lastPong = Date.now();
  restarts = 0;
  readonly waiting = new Map<number, () => void>();
  constructor(readonly index: number) {}
}

/** Totals the workers reported, for /metrics and the benchmarks. */
export class RuntimeCounters {
  ticks = 0;
  commits = 0;
  reads = 0;
  inputs = 0;
  deadLetters = 0;
  actorRestarts = 0;
  /** actors whose state could not be rebuilt (see PartitionExecutor.parked) */
  actorsParked = 0;
  /** checkpoints whose replay gave another state (see RuntimeOptions.verifyReplays) */
  replayMismatches = 0;
  workerRestarts = 0;
  recoveries = 0;
  /** the recoveries by why this node took the partition up */
  readonly recoveriesBy = new Map<TakeoverReason, number>();
  takeovers = 0;
  readonly lateness = new LatencyHistogram();
  readonly commitMs = new LatencyHistogram();
  readonly checkpointMs = new LatencyHistogram();
  readonly recoveryMs = new LatencyHistogram();
  readonly actorRestartMs = new LatencyHistogram();
}

/** Why a node took a partition up. */
export type TakeoverReason =
  /** nobody held it before (a new cluster) */
  | 'new'
  /** its holder handed it over: it left the cluster (SIGTERM) or the partitions were rebalanced */
  | 'handed over'
  /** its holder stopped heartbeating (it died) and its lease ran out */
  | 'holder died'
  /** this node held it: its worker was replaced, or it lost the lease for a moment */
  | 'restarted'
  /** Redis did not say whether the holder was alive */
  | 'unknown';

export interface Takeover {
  partition: number;
  epoch: number;
  /** the node that took it */
  node: string;
  /** the node that held it before, or null */
  from: string | null;
  reason: TakeoverReason;
  at: number;
  /** from the acquisition to the end of the recovery */
  ms: number;
  actors: number;
}

/** How many takeovers the cluster remembers (Keys.takeovers). */
const TAKEOVERS_KEPT = 100;

const WORKER_ENTRY = siblingModule(import.meta.url, 'worker');
/** Counts of worker stops in an actor's code are forgotten a day after the last. */
const ACTOR_STOPS_KEPT_MS = 86_400_000;

export class Supervisor extends EventEmitter {
  private readonly slots: WorkerSlot[] = [];
  readonly owned = new Map<number, OwnedPartition>();
  /** the actor types the workers loaded, by name (known once a worker is ready) */
  actorTypes: string[] = [];
  /** partitions whose acquisition is on its way to Redis */
  private readonly acquiring = new Set<number>();
  /**
   * Partitions of a worker that stopped in an actor's own code, until they are recovered: their recovery is told
   * whose (see PartitionExecutor.countStops), so the inputs in flight that could not have stopped it go uncounted.
   */
  private readonly stoppedIn = new Map<number, BusyWith>();
  readonly counters = new RuntimeCounters();
  private timers: NodeJS.Timeout[] = [];
  private pingSeq = 0;
  private lastCheck = 0;
  private stopping = false;
  private balancing = false;

  constructor(
    private readonly config: SupervisorConfig,
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly membership: Membership,
    private readonly log: Logger,
  ) {
    super();
  }

  /**
   * Starts the worker threads, owning nothing yet. Called before the node joins the membership: the moment it
   * joins, other nodes hand it partitions, and a worker still loading its modules would leave those games standing.
   */
  async startWorkers(): Promise<void> {
    if (this.slots.length > 0) return;
    for (let i = 0; i < this.config.workers; i++) this.slots.push(new WorkerSlot(i));
    await Promise.all(this.slots.map((slot) => this.spawn(slot)));
  }

  /** Starts leasing: lease renewals, worker health checks, and taking the partitions the membership assigns. */
  async start(): Promise<void> {
    await this.startWorkers();
    const every = (ms: number, task: string, fn: () => Promise<void> | void) => {
      this.timers.push(setInterval(() => {
        void Promise.resolve(fn()).catch((err: unknown) => this.log.warn({ err: String(err), task }, `supervisor task ${task} failed; it runs again shortly`));
      }, ms));
    };
    every(Math.max(100, Math.floor(this.config.leaseMs / 3)), 'renewing leases', () => this.renew());
    every(200, 'checking workers', () => this.checkWorkers());
    // often, so a partition released by a node handing off (or leaving) is taken up within a tenth of a second
    every(100, 'balancing partitions', () => this.balance());
    await this.balance();
  }

  private spawn(slot: WorkerSlot): Promise<void> {
    return new Promise((resolve, reject) => {
      slot.busy = new BusyBoard();
      const worker = startThread(WORKER_ENTRY, { ...this.config.worker, index: slot.index, busy: slot.busy.buffer } satisfies WorkerConfig, `executor-${slot.index}`);
      slot.worker = worker;
      slot.ready = false;
      slot.lastPong = Date.now();
      worker.on('message', (message: FromWorker) => {
        // what a worker logged is told even when it comes after the worker was replaced (its last words)
        if (message.kind === 'log') return relayLogLine(this.log, message.line);
        if (slot.worker !== worker) return;
        if (message.kind === 'ready') {
          slot.ready = true;
          slot.lastPong = Date.now();
          this.actorTypes = message.types;
          resolve();
        }
        this.onMessage(slot, message);
      });
      worker.on('error', (err) => {
        this.log.error({ err, worker: slot.index }, 'worker thread failed');
        if (!slot.ready) reject(err);
      });
      worker.on('exit', (code) => {
        if (slot.worker !== worker || this.stopping) return;
        this.log.error({ worker: slot.index, code }, 'worker thread exited');
        void this.replace(slot, `exited with code ${code}`);
      });
    });
  }

  private onMessage(slot: WorkerSlot, message: FromWorker): void {
    switch (message.kind) {
      case 'pong':
        slot.lastPong = Date.now();
        this.absorb(message.report);
        break;
      case 'handed-off':
        slot.waiting.get(message.partition)?.();
        slot.waiting.delete(message.partition);
        break;
      case 'event':
        this.onExecutorEvent(message.event);
        break;
      case 'fatal':
        this.log.error({ worker: slot.index, message: message.message }, 'worker reported a fatal error');
        break;
      case 'ready':
      case 'log':
        break;
    }
  }

  private absorb(report: WorkerReport): void {
    const c = this.counters;
    c.ticks += report.ticks;
    c.commits += report.commits;
    c.reads += report.reads;
    c.inputs += report.inputs;
    c.deadLetters += report.deadLetters;
    c.actorRestarts += report.restarts;
    if (report.lateness.counts.length) c.lateness.merge(report.lateness);
    if (report.commitMs.counts.length) c.commitMs.merge(report.commitMs);
    if (report.checkpointMs.counts.length) c.checkpointMs.merge(report.checkpointMs);
    for (const p of report.partitions) {
      const owned = this.owned.get(p.partition);
      if (owned && owned.epoch === p.epoch) owned.actors = p.actors;
    }
  }

  private onExecutorEvent(event: ExecutorEvent): void {
    this.emit('executor', event);
    const owned = this.owned.get(event.partition);
    switch (event.kind) {
      case 'recovered':
        if (owned && owned.epoch === event.epoch) {
          owned.state = 'running';
          owned.actors = event.actors;
          this.counters.recoveries++;
          this.counters.recoveryMs.observe(event.ms);
          const at = Date.now();
          const { from, since } = owned;
          void owned.reason.then((reason) => {
            this.counters.recoveriesBy.set(reason, (this.counters.recoveriesBy.get(reason) ?? 0) + 1);
            const takeover: Takeover = {
              partition: event.partition, epoch: event.epoch, node: this.config.nodeId, from, reason, at, ms: at - since, actors: event.actors,
            };
            // the log line names its node already (a second `node` key would make its JSON ambiguous)
            const { node: _, ...logged } = takeover;
            this.log.info(logged, 'partition recovered');
            this.emit('recovered', takeover);
            return this.redis.multi().lpush(this.keys.takeovers, JSON.stringify(takeover)).ltrim(this.keys.takeovers, 0, TAKEOVERS_KEPT - 1).exec();
          }).catch((err: unknown) => this.log.warn({ err: String(err) }, 'could not note a takeover in the cluster\'s list'));
        }
        break;
      case 'lost':
        if (owned && owned.epoch === event.epoch) {
          this.owned.delete(event.partition);
          this.log.warn({ partition: event.partition, reason: event.reason }, 'partition lost');
          this.emit('lost', event.partition);
        }
        break;
      case 'actor-restarted':
        this.counters.actorRestartMs.observe(event.ms);
        break;
      case 'dead-letter':
        this.log.warn(event, 'input dead-lettered');
        break;
      case 'actor-failed':
        this.log.error(event, 'actor failed and was ended');
        break;
      case 'replay-mismatch':
        this.counters.replayMismatches++;
        this.log.error(event, 'an actor\'s replay does not give its live state: a restart would not rebuild it as it is');
        break;
      case 'actor-parked':
        this.counters.actorsParked++;
        this.log.error(event, 'actor parked: its state could not be rebuilt here; its inputs are dead-lettered, its checkpoint and journal kept for the next owner');
        break;
    }
  }

  private post(slot: WorkerSlot, message: ToWorker): void {
    slot.worker?.postMessage(message);
  }

  private async renew(): Promise<void> {
    const owned = [...this.owned.values()];
    const results = await Promise.all(owned.map((o) => runCommand<number>(this.redis, 'renew',
      [this.keys.lease(o.partition), this.keys.epoch(o.partition)], [this.config.nodeId, o.epoch, this.config.leaseMs])
      .catch(() => -1)));
    owned.forEach((o, i) => {
      if (results[i] === 0 && this.owned.get(o.partition) === o) {
        this.log.warn({ partition: o.partition, epoch: o.epoch }, 'lease lost to another owner');
        this.owned.delete(o.partition);
        this.post(o.worker, { kind: 'drop', partition: o.partition });
        this.emit('lost', o.partition);
      }
    });
  }

  private checkWorkers(): void {
    const now = Date.now();
    // This thread itself was held up (the process paused by SIGSTOP, a long GC): the workers' pongs wait unread
    // behind this timer, so their silence says nothing about them yet. Give them a fresh grace period.
    const heldUp = this.lastCheck !== 0 && now - this.lastCheck > this.config.stuckMs / 2;
    this.lastCheck = now;
    for (const slot of this.slots) {
      if (heldUp) slot.lastPong = now;
      if (!slot.worker || !slot.ready) continue;
      if (now - slot.lastPong > this.config.stuckMs) {
        this.log.error({ worker: slot.index, silentMs: now - slot.lastPong }, 'worker stopped answering; replacing it');
        void this.replace(slot, 'stuck');
        continue;
      }
      this.post(slot, { kind: 'ping', n: ++this.pingSeq });
    }
  }

  /** Replaces a failed worker: terminate, back off, start a new one, recover its partitions under new epochs. */
  private async replace(slot: WorkerSlot, reason: string): Promise<void> {
    const old = slot.worker;
    slot.worker = null;
    slot.ready = false;
    this.counters.workerRestarts++;
    const partitions = [...this.owned.values()].filter((o) => o.worker === slot);
    for (const o of partitions) this.owned.delete(o.partition);
    await old?.terminate().catch(() => undefined);
    const culprit = slot.busy?.read();
    if (culprit) {
      for (const o of partitions) this.stoppedIn.set(o.partition, culprit);
      await this.noteActorStop(slot, culprit, reason);
    }
    const backoff = Math.min(50 * 2 ** slot.restarts, 2000);
    slot.restarts++;
    this.emit('worker-replaced', { worker: slot.index, reason, partitions: partitions.map((o) => o.partition) });
    await new Promise((resolve) => setTimeout(resolve, backoff));
    if (this.stopping) return;
    try {
      await this.spawn(slot);
    } catch (err) {
      this.log.error({ err, worker: slot.index }, 'replacement worker failed to start; trying again');
      void this.replace(slot, 'failed to start');
      return;
    }
    setTimeout(() => { if (slot.worker && slot.ready) slot.restarts = 0; }, 10_000).unref();
    for (const o of partitions) await this.acquire(o.partition);
  }

  /** A worker stopped in an actor's own code: counted for the actor (see PartitionExecutor.recover). */
  private async noteActorStop(slot: WorkerSlot, culprit: BusyWith, reason: string): Promise<void> {
    this.log.error({ worker: slot.index, ...culprit, reason }, `worker stopped (${reason}) in the ${culprit.phase} of actor ${culprit.actorId}`);
    const key = this.keys.actorStops(culprit.partition);
    try {
      // not for longer than a second: in a Redis outage the command would wait, and the replacement with it
      const counted = this.redis.multi().hincrby(key, `${culprit.phase}:${culprit.actorId}`, 1).pexpire(key, ACTOR_STOPS_KEPT_MS).exec();
      await Promise.race([counted, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    } catch (err) {
      this.log.warn({ err: String(err), ...culprit }, 'could not count a worker stop for its actor');
    }
  }

  /**
   * The worker for a partition: the one with the fewest partitions of its tick phase, then the fewest in all.
   * Partitions of one phase come due at the same instant, and a worker works off its partitions one after another:
   * on one worker, the last of them waits for the ticks of all the others, while the other worker idles.
   */
  private placeFor(partition: number): WorkerSlot | null {
    const phase = tickPhase(partition, this.config.partitions);
    let best: WorkerSlot | null = null;
    let bestLoad: [number, number] = [Infinity, Infinity];
    for (const slot of this.slots) {
      if (!slot.worker || !slot.ready) continue;
      const load: [number, number] = [0, 0];
      for (const o of this.owned.values()) {
        if (o.worker !== slot) continue;
        if (tickPhase(o.partition, this.config.partitions) === phase) load[0]++;
        load[1]++;
      }
      if (load[0] < bestLoad[0] || (load[0] === bestLoad[0] && load[1] < bestLoad[1])) { best = slot; bestLoad = load; }
    }
    return best;
  }

  /** Takes a partition if its lease is free or ours, under a new epoch, and starts its recovery on a worker. */
  private async acquire(partition: number): Promise<boolean> {
    // one acquisition at a time per partition (a worker's replacement and the balance loop may both try): two
    // would start two executors of it under two epochs
    if (this.owned.has(partition) || this.acquiring.has(partition) || this.stopping) return false;
    const slot = this.placeFor(partition);
    if (!slot) return false;
    this.acquiring.add(partition);
    let epoch: number;
    let lastSeq: number | string;
    let previous: string | undefined;
    try {
      [epoch, lastSeq, previous] = await runCommand<[number, number | string, string?]>(this.redis, 'acquire',
        [this.keys.lease(partition), this.keys.epoch(partition), this.keys.commitSeq(partition), this.keys.holder(partition)],
        [this.config.nodeId, this.config.leaseMs]);
    } finally {
      this.acquiring.delete(partition);
    }
    if (epoch === 0) return false;
    if (this.stopping) {
      // the stop began while the lease was on its way: nothing ran under it, so it is given straight back
      await runCommand<number>(this.redis, 'release', [this.keys.lease(partition), this.keys.epoch(partition)], [this.config.nodeId, epoch]).catch(() => 0);
      return false;
    }
    const from = previous || null;
    // why, worked out beside the recovery: a round trip here would hold up every partition acquired after this one
    const reason = this.reasonFor(from);
    this.owned.set(partition, { partition, epoch, worker: slot, state: 'recovering', actors: 0, since: Date.now(), from, reason });
    this.counters.takeovers++;
    const stoppedIn = this.stoppedIn.get(partition);
    this.stoppedIn.delete(partition);
    this.post(slot, { kind: 'assign', partition, epoch, lastSeq: Number(lastSeq), ...(stoppedIn ? { stoppedIn } : {}) });
    // debug: 'partition recovered' says the same and more once the partition runs
    this.log.debug({ partition, epoch, worker: slot.index, from }, 'partition acquired');
    return true;
  }

  /**
   * Why this node took up a partition `from` held: a node gone from the membership left it (SIGTERM) or handed it on
   * in a rebalance; one still listed whose heartbeat is older than a lease died.
   */
  private async reasonFor(from: string | null): Promise<TakeoverReason> {
    if (from === null) return 'new';
    if (from === this.config.nodeId) return 'restarted';
    try {
      return (await this.membership.standing(from)).standing === 'dead' ? 'holder died' : 'handed over';
    } catch {
      return 'unknown';
    }
  }

  /** The cluster's latest takeovers, newest first. */
  async recentTakeovers(count: number): Promise<Takeover[]> {
    return (await this.redis.lrange(this.keys.takeovers, 0, count - 1)).map((t) => JSON.parse(t) as Takeover);
  }

  /** Owns the partitions the membership assigns to this node, and hands the others over. */
  private async balance(): Promise<void> {
    if (this.balancing || this.stopping) return;
    this.balancing = true;
    try {
      await this.membership.refresh();
      const handOffs: Promise<void>[] = [];
      for (let p = 0; p < this.config.partitions; p++) {
        const mine = this.membership.ownerOf(p) === this.config.nodeId;
        const owned = this.owned.get(p);
        if (mine && !owned) await this.acquire(p);
        else if (!mine && owned && owned.state === 'running') handOffs.push(this.handOff(p));
      }
      await Promise.all(handOffs);
    } finally {
      this.balancing = false;
    }
  }

  /** Graceful hand-off: the executor checkpoints everything and releases the lease; the next owner recovers. */
  handOff(partition: number): Promise<void> {
    const owned = this.owned.get(partition);
    if (!owned) return Promise.resolve();
    if (owned.state !== 'handing-off') {
      owned.state = 'handing-off';
      owned.handingOff = this.handOver(owned);
    }
    return owned.handingOff ?? Promise.resolve();
  }

  private async handOver(owned: OwnedPartition): Promise<void> {
    const { partition } = owned;
    const slot = owned.worker;
    await new Promise<void>((resolve) => {
      const timeout = setTimeout(resolve, this.config.leaseMs * 4);
      slot.waiting.set(partition, () => { clearTimeout(timeout); resolve(); });
      this.post(slot, { kind: 'hand-off', partition });
    });
    if (this.owned.get(partition) === owned) this.owned.delete(partition);
    this.log.info({ partition }, 'partition handed off');
    this.emit('handed-off', partition);
  }

  /** Takes no partition from now on (the first step of a stop, before the node leaves the membership). */
  quiesce(): void {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Stops: hands every partition over (when `handOff`), then ends the workers. */
  async stop(handOff = true): Promise<void> {
    this.quiesce();
    // also the hand-offs the balance loop began (the node left the membership just before): the workers end after
    if (handOff) await Promise.all([...this.owned.keys()].map((p) => this.handOff(p)));
    await Promise.all(this.slots.map((slot) => slot.worker?.terminate()));
    for (const slot of this.slots) slot.worker = null;
  }

  /** Test and operator hook: the worker threads' ids, to terminate one as a crash would. */
  workerThreads(): Array<{ index: number; threadId: number | null; partitions: number[] }> {
    return this.slots.map((slot) => ({
      index: slot.index,
      threadId: slot.worker?.threadId ?? null,
      partitions: [...this.owned.values()].filter((o) => o.worker === slot).map((o) => o.partition),
    }));
  }

  /** Terminates a worker thread without warning, as a crash would; the supervisor notices and replaces it. */
  async crashWorker(index: number): Promise<void> {
    await this.slots[index]?.worker?.terminate();
  }

  allRunning(): boolean {
    return [...this.owned.values()].every((o) => o.state === 'running');
  }
}
