// Event distribution to WebSocket clients: a node follows the outboxes of the partitions its clients care about
// and keeps an exact replica of each watched game (checkpoint + journal, stepped with the same actor code), so a
// client that joins or rejoins gets a snapshot consistent with the ticks that follow. Each client gets only its
// games' messages.
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeServerMessage, type ServerMessage, type SnapshotMessage, type SnapshotState } from '../../protocol/messages.ts';
import type { ActorContext, ActorType } from '../../runtime/actor.ts';
import { applyRecord, fieldValue, readOutbox, tickGrid } from '../../runtime/journal.ts';
import { LatencyHistogram } from '../../runtime/histogram.ts';
import type { Logger } from '../../runtime/log.ts';
import { compareStreamIds, decodeBatch, type JournalRecord } from '../../runtime/records.ts';
import { readStreams, type RedisClient, type StreamsReply } from '../../runtime/redis.ts';
import type { Runtime } from '../../runtime/runtime.ts';
import { gameActor, type GameOutput, type GameState } from './game-actor.ts';

export type Role = 'player' | 'spectator';

/**
 * A client connection as the fan-out sees it. `send` returns false when the client is too far behind; `encoded`,
 * when given, is the message already encoded (a broadcast encodes once for all its watchers).
 */
export interface Subscriber {
  readonly id: number;
  send(message: ServerMessage, encoded?: Uint8Array): boolean;
  /** The game applied this client's join without seating it (full, or started meanwhile): it no longer follows the game. */
  refused(gameId: string, code: 'full' | 'bad_state', message: string, rid: number | undefined): void;
}

interface Watch {
  sub: Subscriber;
  role: Role;
  /** a player's user id: its snake is the seat it holds */
  userId: string | null;
  /** false after a send was refused: the client is sent a fresh snapshot instead of the backlog once it drains */
  synced: boolean;
  /** a request this client is owed an answer to: the first message that answers it carries its `rid` */
  pending: PendingReply | null;
  /** the mailbox id of this player's join while the game has not applied it: the lobby it is in comes then */
  joining: string | null;
}

/** How a client starts following a game (see Fanout.watch). */
export interface WatchOptions {
  /** the mailbox id of the game's create input, when this client just created it */
  createdId?: string;
  /** the request the first lobby or snapshot answers, whose `rid` it carries */
  reply?: PendingReply | null;
  /** the mailbox id of the client's join: it is answered by the lobby that seats it, or refused */
  joining?: string;
}

/**
 * A request answered by what the game sends (PROTOCOL.md: solo, create, join, start, watch, rejoin). `snapshot`
 * answers any of them; a `lobby` answers all but start, and a player's only once the lobby seats it.
 */
export interface PendingReply {
  rid: number;
  lobbyAnswers: boolean;
}

class WatchedGame {
  state: GameState | undefined = undefined;
  seq = 0;
  /** the mailbox id of the last input the replica applied ('' before it saw one) */
  lastInput = '';
  loaded = false;
  loading: Promise<void> | null = null;
  buffered: JournalRecord[] = [];
  readonly watchers = new Map<number, Watch>();
  lastRecordAt = Date.now();
  recovering = false;
  idleSince = Date.now();
  /** requests waiting for the replica to catch up with their client's last create or join (see Fanout.caughtUp) */
  waiters: Array<{ inputId: string | null; done: () => void }> = [];
  constructor(readonly gameId: string, readonly partition: number, readonly align: ActorContext['align']) {}
}

/** How long a game nobody watches stays replicated (rejoins after a drop find it warm). */
const KEEP_UNWATCHED_MS = 30_000;
/**
 * How long a running game may go without a record before its watchers are told its owner is being replaced
 * (`status recovering`): two ticks and a margin, well inside the 1.5 s lease a dead owner holds on to its games.
 */
const stalledAfterMs = (tickMs: number) => tickMs * 2 + 250;
const HOUSEKEEPING_MS = 250;

/**
 * Whether a game's ticks have stopped coming: a running game quiet for longer than stalledAfterMs since its last
 * record, or one whose first tick is that much overdue. (Counted from its start record, the first tick always
 * looked a countdown late, so a round falling between startAt and the first tick said 'recovering'.)
 */
export function isStalled(state: Pick<GameState, 'phase' | 'startAt' | 'settings'>, lastRecordAt: number, now: number): boolean {
  if (state.phase === 'running') return now - lastRecordAt > stalledAfterMs(state.settings.tickMs);
  if (state.phase !== 'countdown' || state.startAt === null) return false;
  return now - Math.max(lastRecordAt, state.startAt) > stalledAfterMs(state.settings.tickMs);
}

export interface FanoutCounters {
  resyncs: number;
  /** from a tick's commit (its outbox entry's id) to when its message was handed to its watchers' sockets */
  deliveryMs: LatencyHistogram;
}

export class Fanout {
  private readonly games = new Map<string, WatchedGame>();
  /** outbox position per followed partition */
  private readonly positions = new Map<number, string>();
  private readonly reader: RedisClient;
  private running = true;
  private loop: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  readonly counters: FanoutCounters = { resyncs: 0, deliveryMs: new LatencyHistogram() };

  /**
   * `actor`: the game its replicas step, SnakeTron's own or a variant that records the same outputs (specs inject
   * faults through one).
   */
  constructor(
    private readonly runtime: Runtime,
    private readonly log: Logger,
    private readonly actor: ActorType<GameState, GameOutput> = gameActor,
  ) {
    this.reader = runtime.connectReader('fanout');
  }

  start(): void {
    this.loop = this.follow();
    this.timer = setInterval(() => { void this.housekeeping().catch(() => undefined); }, HOUSEKEEPING_MS);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    await this.loop?.catch(() => undefined);
    this.reader.disconnect();
  }

  get watchedGames(): number {
    return this.games.size;
  }

  /** The replica of a game this node follows (loaded on first use); undefined when the game does not exist. */
  async replica(gameId: string): Promise<GameState | undefined> {
    const game = await this.ensure(gameId);
    return game.state;
  }

  /**
   * Whether the replica has applied the input stored at this mailbox id: an input it has not is still on its way
   * to the game (a game's inputs reach it in mailbox order).
   */
  applied(gameId: string, inputId: string): boolean {
    const last = this.games.get(gameId)?.lastInput;
    return last !== undefined && last !== '' && compareStreamIds(inputId, last) <= 0;
  }

  /** Starts sending a game's messages to a client; sends it what it needs to join in (lobby or snapshot). */
  async watch(gameId: string, sub: Subscriber, role: Role, userId: string | null, options: WatchOptions = {}): Promise<GameState | undefined> {
    const game = await this.ensure(gameId, options.createdId);
    const watch: Watch = {
      sub, role, userId: role === 'player' ? userId : null, synced: true, pending: options.reply ?? null, joining: options.joining ?? null,
    };
    game.watchers.set(sub.id, watch);
    if (watch.joining !== null && this.applied(gameId, watch.joining)) this.settleJoin(game, watch, false);
    else if (game.state && watch.joining === null) this.greet(game, watch);
    return game.state;
  }

  /**
   * Resolves once the replica holds the game (the create a client just sent made it) and has applied `inputId`
   * (the client's join) when given, or after `timeoutMs`: a client's next request (start, leave) is judged on a
   * game that has seen the one before it.
   */
  caughtUp(gameId: string, inputId: string | null, timeoutMs: number): Promise<void> {
    const game = this.games.get(gameId);
    if (!game || this.hasCaughtUp(game, inputId)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = { inputId, done: () => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        game.waiters = game.waiters.filter((w) => w !== waiter);
        resolve();
      }, timeoutMs);
      game.waiters.push(waiter);
    });
  }

  private hasCaughtUp(game: WatchedGame, inputId: string | null): boolean {
    return game.state !== undefined && (inputId === null || this.applied(game.gameId, inputId));
  }

  private wake(game: WatchedGame): void {
    if (game.waiters.length === 0) return;
    const ready = game.waiters.filter((w) => this.hasCaughtUp(game, w.inputId));
    game.waiters = game.waiters.filter((w) => !ready.includes(w));
    for (const waiter of ready) waiter.done();
  }

  /** The next message of the game that answers `reply` (a request the client already watching sent) carries its rid. */
  expectReply(gameId: string, sub: Subscriber, reply: PendingReply | null): void {
    const watch = this.games.get(gameId)?.watchers.get(sub.id);
    if (watch) watch.pending = reply;
  }

  /** Whether a client watching the game is still owed the answer to an earlier request. */
  owesReply(gameId: string, sub: Subscriber): boolean {
    return (this.games.get(gameId)?.watchers.get(sub.id)?.pending ?? null) !== null;
  }

  unwatch(gameId: string, sub: Subscriber): void {
    const game = this.games.get(gameId);
    if (!game) return;
    game.watchers.delete(sub.id);
    if (game.watchers.size === 0) game.idleSince = Date.now();
  }

  /** The client drained its socket: it gets a fresh snapshot and then the ticks again. */
  resync(gameId: string, sub: Subscriber): void {
    const game = this.games.get(gameId);
    const watch = game?.watchers.get(sub.id);
    // a replica being reloaded greets every watcher once it is back
    if (!game?.state || !game.loaded || !watch || watch.synced) return;
    this.counters.resyncs++;
    watch.synced = true;
    this.greet(game, watch);
  }

  /** `createdId`, when known, is the mailbox id of the game's create input: its journal starts after it. */
  private async ensure(gameId: string, createdId?: string): Promise<WatchedGame> {
    let game = this.games.get(gameId);
    if (!game) {
      const partition = this.runtime.partitionOf(gameId);
      game = new WatchedGame(gameId, partition, tickGrid(partition, this.runtime.partitions));
      this.games.set(gameId, game);
    }
    if (!game.loaded) {
      game.loading ??= this.load(game, createdId).finally(() => { game!.loading = null; });
      await game.loading;
    }
    return game;
  }

  /** Replica = last checkpoint + the journal after it; records the follower delivers meanwhile are buffered. */
  private async load(game: WatchedGame, createdId?: string): Promise<void> {
    if (!this.positions.has(game.partition)) {
      const last = await this.runtime.redis.xrevrange(this.runtime.keys.outbox(game.partition), '+', '-', 'COUNT', 1);
      if (!this.positions.has(game.partition)) this.positions.set(game.partition, last[0]?.[0] ?? '0-0');
    }
    // a checkpoint read just before its owner confirmed a newer one and trimmed the journal up to that shows a
    // jump in the journal after it: the newer checkpoint is read then
    for (let attempt = 1; ; attempt++) {
      const rebuilt = await this.rebuild(game, createdId);
      if (rebuilt) {
        game.state = rebuilt.state;
        game.seq = rebuilt.seq;
        break;
      }
      if (attempt === 3) throw new Error(`journal of ${game.gameId} has a gap after its checkpoint`);
    }
    game.loaded = true;
    const buffered = game.buffered;
    game.buffered = [];
    for (const record of buffered) this.apply(game, record);
    this.wake(game);
  }

  /** A game's state from its checkpoint and the journal after it; null when the journal jumps past it. */
  private async rebuild(game: WatchedGame, createdId?: string): Promise<{ state: GameState | undefined; seq: number } | null> {
    const checkpoint = await this.runtime.checkpoints.load(game.gameId);
    let state = checkpoint ? this.actor.decode(checkpoint.state) : undefined;
    let seq = checkpoint?.seq ?? 0;
    // without a checkpoint the journal is read from the game's creation when known (a new game), else whole
    const fromMs = !checkpoint && createdId ? Number(createdId.split('-')[0]) : undefined;
    for await (const entry of readOutbox(this.runtime.redis, this.runtime.keys, game.partition, checkpoint?.outboxId ?? '-', 200, fromMs)) {
      for (const record of entry.batch.records) {
        if (record.a !== game.gameId || record.n <= seq) continue;
        if (record.n !== seq + 1) return null;
        state = applyRecord(this.actor, state, record, game.align);
        seq = record.n;
        if (record.i?.length) game.lastInput = record.i[record.i.length - 1].s;
      }
    }
    return { state, seq };
  }

  private async follow(): Promise<void> {
    let lastRegister = 0;
    while (this.running) {
      if (this.positions.size === 0) {
        await sleep(20);
        continue;
      }
      const partitions = [...this.positions.keys()];
      const streams = partitions.map((p) => this.runtime.keys.outbox(p));
      let reply: StreamsReply | null;
      try {
        reply = await readStreams(this.reader, ['COUNT', 1000], 50, streams, partitions.map((p) => this.positions.get(p)!));
      } catch (err) {
        this.log.warn({ err: String(err) }, 'outbox read failed; retrying');
        await sleep(200);
        continue;
      }
      for (const [streamBuf, entries] of reply ?? []) {
        const partition = partitions[streams.indexOf(streamBuf.toString())];
        for (const [idBuf, fields] of entries) {
          const id = idBuf.toString();
          this.positions.set(partition, id);
          let records: JournalRecord[];
          try {
            records = decodeBatch(fieldValue(fields, 'd')).records;
          } catch (err) {
            this.log.error({ err: String(err), partition }, 'undecodable outbox entry');
            continue;
          }
          let sentTicks = false;
          for (const record of records) {
            const game = this.games.get(record.a);
            if (!game) continue;
            if (!game.loaded) {
              game.buffered.push(record);
              continue;
            }
            try {
              if (this.apply(game, record)) sentTicks = true;
            } catch (err) {
              // a replica that cannot follow its game is rebuilt from storage; the other games go on
              this.log.error({ err: String(err), game: game.gameId, record: record.n }, 'replica could not apply a record; reloading');
              this.reload(game, record);
            }
          }
          if (sentTicks) this.counters.deliveryMs.observe(Date.now() - Number(id.slice(0, id.indexOf('-'))));
        }
      }
      if (Date.now() - lastRegister > 5000) {
        lastRegister = Date.now();
        await this.register().catch(() => undefined);
      }
    }
  }

  /** Tells the partition owners how far this node has read, so trimming waits for it. */
  private async register(): Promise<void> {
    const now = Date.now();
    await Promise.all([...this.positions].map(([p, id]) =>
      this.runtime.redis.hset(this.runtime.keys.readers(p), this.runtime.nodeId, `${id} ${now}`)));
  }

  /** Steps the replica by a record and sends its outputs; true when it sent a tick. */
  private apply(game: WatchedGame, record: JournalRecord): boolean {
    if (record.n <= game.seq) return false;
    if (record.n !== game.seq + 1) {
      // a gap (the reader fell behind a trim)
      this.log.warn({ game: game.gameId, have: game.seq, got: record.n }, 'replica gap; reloading');
      this.reload(game, record);
      return false;
    }
    const before = game.state?.phase;
    game.state = applyRecord(this.actor, game.state, record, game.align);
    game.seq = record.n;
    game.lastRecordAt = Date.now();
    if (record.i?.length) {
      game.lastInput = record.i[record.i.length - 1].s;
      const lobbyFollows = (record.o as GameOutput[] | undefined)?.some((o) => o.e === 'lobby') ?? false;
      for (const watch of game.watchers.values()) {
        if (watch.joining !== null && compareStreamIds(watch.joining, game.lastInput) <= 0) this.settleJoin(game, watch, lobbyFollows);
      }
    }
    const state = game.state;
    let sentTick = false;
    if (game.recovering && record.t !== undefined) {
      game.recovering = false;
      this.broadcast(game, { type: 'status', gameId: game.gameId, status: 'running' });
    }
    if (record.c) {
      for (const watch of game.watchers.values()) this.greet(game, watch);
    }
    for (const output of (record.o ?? []) as GameOutput[]) {
      switch (output.e) {
        case 'lobby':
          this.broadcast(game, this.lobbyMessage(state));
          break;
        case 'status':
          if (output.status === 'failed') {
            this.broadcast(game, { type: 'error', code: 'internal', message: `game ${game.gameId} failed and was ended: ${output.reason ?? 'unknown'}` });
            // and it is over: its players are back in the lobby state, free to play again
            this.broadcast(game, this.endMessage(state));
          } else if (before === 'lobby') {
            for (const watch of game.watchers.values()) this.greet(game, watch);
          }
          break;
        case 'tick':
          this.broadcast(game, { type: 'tick', gameId: game.gameId, t: output.t, turns: output.turns, died: output.died, food: output.food, hash: output.hash });
          sentTick = true;
          if (output.over) this.broadcast(game, this.overMessage(state, output.t, output.over));
          break;
      }
    }
    this.wake(game);
    return sentTick;
  }

  /**
   * Rebuilds a replica from storage (checkpoint and journal), keeping `record` and those that follow for after it.
   * Its watchers get nothing meanwhile and a snapshot once it is back, so no tick lands on a state it does not
   * follow; a reload that fails is tried again by the housekeeping.
   */
  private reload(game: WatchedGame, record: JournalRecord): void {
    game.loaded = false;
    game.buffered = [record];
    for (const watch of game.watchers.values()) watch.synced = false;
    this.resume(game);
  }

  private resume(game: WatchedGame): void {
    if (game.loading) return;
    void this.ensure(game.gameId).then(() => {
      for (const watch of game.watchers.values()) {
        watch.synced = true;
        this.greet(game, watch);
      }
    }).catch((err: unknown) => this.log.error({ err: String(err), game: game.gameId }, 'replica reload failed; trying again'));
  }

  /**
   * The game has applied a watcher's join: seated, it gets the lobby the record that seated it sends (or, when
   * none follows, what it needs now); else it is refused and no longer follows the game.
   */
  private settleJoin(game: WatchedGame, watch: Watch, lobbyFollows: boolean): void {
    watch.joining = null;
    const state = game.state;
    if (state?.seats.some((s) => s.userId === watch.userId)) {
      if (!lobbyFollows) this.greet(game, watch);
      return;
    }
    game.watchers.delete(watch.sub.id);
    if (game.watchers.size === 0) game.idleSince = Date.now();
    const full = state?.phase === 'lobby';
    watch.sub.refused(game.gameId, full ? 'full' : 'bad_state',
      full ? `the game is full (${state.settings.players} players)` : 'the game started before your join reached it', watch.pending?.rid);
  }

  private broadcast(game: WatchedGame, message: ServerMessage): void {
    let encoded: Uint8Array | undefined;
    for (const watch of game.watchers.values()) {
      if (!watch.synced || watch.joining !== null) continue;
      if (message.type === 'lobby' && watch.role === 'spectator') continue; // see greet
      // a watcher owed an answer (rare, and briefly) gets its own copy, which may carry a rid
      const sent = watch.pending !== null ? this.deliver(watch, message) : watch.sub.send(message, encoded ??= encodeServerMessage(message));
      if (!sent) watch.synced = false;
    }
  }

  /** Whether a message answers the request a watcher is owed an answer to. */
  private answers(watch: Watch, message: ServerMessage): boolean {
    if (message.type === 'snapshot') return true;
    if (message.type !== 'lobby' || !watch.pending?.lobbyAnswers) return false;
    return watch.userId === null || message.players.some((p) => p.userId === watch.userId);
  }

  /** Sends one watcher a message, with the rid of its pending request when the message answers it. */
  private deliver(watch: Watch, message: ServerMessage): boolean {
    if (watch.pending !== null && this.answers(watch, message)) {
      // kept when refused: the snapshot a client that fell behind gets later answers it instead
      const sent = watch.sub.send({ ...message, rid: watch.pending.rid });
      if (sent) watch.pending = null;
      return sent;
    }
    return watch.sub.send(message);
  }

  /** What a client gets when it joins a game's stream: the lobby, or a snapshot (and the result if it is over). */
  private greet(game: WatchedGame, watch: Watch): void {
    if (watch.joining !== null) return; // answered by the lobby that seats it, or refused (settleJoin)
    const state = game.state!;
    if (state.phase === 'lobby') {
      // never to a spectator (a watch of a lobby is refused): a lobby tells the join code, which is the players'
      if (watch.role !== 'spectator') this.deliver(watch, this.lobbyMessage(state));
      return;
    }
    if (!state.game) return;
    const snakeId = state.seats.find((s) => s.userId === watch.userId)?.snakeId ?? null;
    if (!this.deliver(watch, this.snapshot(state, watch.role, snakeId))) { watch.synced = false; return; }
    if (state.phase === 'complete' || state.phase === 'failed') watch.sub.send(this.endMessage(state));
  }

  snapshot(state: GameState, role: Role, snakeId: number | null): SnapshotMessage {
    const game = state.game!;
    const snap = game.snapshot(false);
    const wire: SnapshotState = {
      tick: snap.tick,
      status: snap.status,
      seed: snap.seed,
      rng: snap.rng,
      settings: snap.settings,
      food: snap.food,
      snakes: snap.snakes.map((s) => ({
        id: s.id, userId: state.seats[s.id]?.userId ?? '', name: state.seats[s.id]?.name ?? '', team: s.team,
        alive: s.alive, dir: s.dir, grow: s.grow, score: s.score, body: s.body,
      })),
    };
    return {
      type: 'snapshot', gameId: state.gameId, role, snakeId: role === 'player' ? snakeId : null,
      tickMs: state.settings.tickMs, startAt: game.tick === 0 ? state.startAt : null, state: wire,
    };
  }

  lobbyMessage(state: GameState): ServerMessage {
    return {
      type: 'lobby', gameId: state.gameId, code: state.code ?? '', host: state.host ?? '',
      players: state.seats.map((s) => ({ userId: s.userId, name: s.name })),
      settings: state.settings,
    };
  }

  /**
   * The `over` of a game that completed, or of one that failed (no winner; the snakes still alive share the best
   * place): with it a client knows the game will send nothing more.
   */
  private endMessage(state: GameState): ServerMessage {
    const game = state.game;
    if (!game) return { type: 'over', gameId: state.gameId, t: 0, winner: null, winningTeam: null, results: [] };
    const done = state.phase === 'complete';
    return this.overMessage(state, game.tick, {
      winner: done ? game.winner : null, winningTeam: done ? game.winningTeam : null, results: game.results(),
    });
  }

  private overMessage(state: GameState, t: number, over: NonNullable<Extract<GameOutput, { e: 'tick' }>['over']>): ServerMessage {
    return {
      type: 'over', gameId: state.gameId, t, winner: over.winner, winningTeam: over.winningTeam as 0 | 1 | null,
      results: over.results.map((r) => ({ userId: state.seats[r.snakeId]?.userId ?? '', ...r })),
    };
  }

  /** Tells watchers of a game whose ticks stopped that its owner is being replaced; forgets idle replicas. */
  private async housekeeping(): Promise<void> {
    const now = Date.now();
    const usedPartitions = new Set<number>();
    for (const game of this.games.values()) {
      const state = game.state;
      if (game.watchers.size === 0 && now - game.idleSince > KEEP_UNWATCHED_MS && !game.loading) {
        this.games.delete(game.gameId);
        continue;
      }
      usedPartitions.add(game.partition);
      if (!game.loaded && !game.loading && game.buffered.length > 0) this.resume(game);
      if (state && !game.recovering && isStalled(state, game.lastRecordAt, now)) {
        game.recovering = true;
        this.broadcast(game, { type: 'status', gameId: game.gameId, status: 'recovering' });
      }
    }
    for (const p of this.positions.keys()) if (!usedPartitions.has(p)) this.positions.delete(p);
  }
}
