// Event distribution to WebSocket clients: a node follows the games its clients care about (runtime/follower.ts
// keeps an exact replica of each, checkpoint + journal stepped with the game's own code, wherever the game runs),
// so a client that joins or rejoins gets a snapshot consistent with the ticks that follow. Each client gets only
// its games' messages.
import { encodeServerMessage, type Rid, type ServerMessage, type SnapshotMessage, type SnapshotState } from '../../protocol/messages.ts';
import type { ActorType } from '../../runtime/actor.ts';
import { Follower, type Replica } from '../../runtime/follower.ts';
import { LatencyHistogram } from '../../runtime/histogram.ts';
import type { Logger } from '../../runtime/log.ts';
import { compareStreamIds, type JournalRecord } from '../../runtime/records.ts';
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
  /** The game applied this client's join without seating it (full, started or closed meanwhile): it no longer follows the game. */
  refused(gameId: string, code: 'full' | 'bad_state' | 'not_found', message: string, rid: Rid | undefined): void;
  /** The player's seat in the game's lobby is gone (its user left on another connection): it no longer follows the game. */
  unseated(gameId: string): void;
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
  rid: Rid;
  lobbyAnswers: boolean;
}

/** A game this node's clients follow: its replica and who watches it. */
class WatchedGame {
  readonly watchers = new Map<number, Watch>();
  /** the phase as of the last record its watchers were told of */
  phase: GameState['phase'] | undefined = undefined;
  recovering = false;
  idleSince = Date.now();
  /** requests waiting for the replica to catch up with their client's last create or join (see Fanout.caughtUp) */
  waiters: Array<{ inputId: string | null; done: () => void }> = [];
  constructor(readonly replica: Replica<GameState>) {}

  get gameId(): string { return this.replica.actorId; }
  get state(): GameState | undefined { return this.replica.state; }
}

/** The phases of a game that is over: a lobby closed, a game complete or failed. */
export const ENDED_PHASES: ReadonlySet<string> = new Set<GameState['phase']>(['complete', 'failed', 'closed']);

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
  private readonly follower: Follower<GameState>;
  private timer: NodeJS.Timeout | null = null;
  /** a tick was sent for a record of the outbox entry being read (its delivery is timed once it is all sent) */
  private sentTicks = false;
  readonly counters: FanoutCounters = { resyncs: 0, deliveryMs: new LatencyHistogram() };

  /**
   * `actor`: the game its replicas step, SnakeTron's own or a variant that records the same outputs (specs inject
   * faults through one).
   */
  constructor(runtime: Runtime, private readonly log: Logger, actor: ActorType<GameState, GameOutput> = gameActor) {
    this.follower = new Follower(runtime, actor, {
      applied: (replica, record) => this.apply(replica, record),
      afterEntry: (entryId) => {
        if (this.sentTicks) this.counters.deliveryMs.observe(Date.now() - Number(entryId.slice(0, entryId.indexOf('-'))));
        this.sentTicks = false;
      },
      rebuilding: (replica) => {
        // its watchers get nothing meanwhile and a snapshot once it is back, so no tick lands on a state they do not follow
        for (const watch of this.games.get(replica.actorId)?.watchers.values() ?? []) watch.synced = false;
      },
      loaded: (replica, rebuilt) => this.loaded(replica, rebuilt),
    }, log, { name: 'fanout' });
  }

  start(): void {
    this.follower.start();
    this.timer = setInterval(() => this.housekeeping(), HOUSEKEEPING_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.follower.stop();
  }

  get watchedGames(): number {
    return this.games.size;
  }

  /** The replica of a game this node follows (loaded on first use); undefined when the game does not exist. */
  async replica(gameId: string): Promise<GameState | undefined> {
    const game = await this.ensure(gameId);
    return game.state;
  }

  /** Whether this node's replica of the game has seen it end (false for a game it does not follow, or not loaded yet). */
  seenEnded(gameId: string): boolean {
    return ENDED_PHASES.has(this.games.get(gameId)?.state?.phase ?? '');
  }

  /**
   * Whether the replica has applied the input stored at this mailbox id: an input it has not is still on its way
   * to the game (a game's inputs reach it in mailbox order).
   */
  applied(gameId: string, inputId: string): boolean {
    return this.games.get(gameId)?.replica.applied(inputId) ?? false;
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

  /** A game that has ended applies no more inputs: one still on its way never will be (it is dead-lettered). */
  private hasCaughtUp(game: WatchedGame, inputId: string | null): boolean {
    const state = game.state;
    return state !== undefined && (inputId === null || this.applied(game.gameId, inputId) || ENDED_PHASES.has(state.phase));
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
    // a replica being rebuilt greets every watcher once it is back
    if (!game?.state || !game.replica.loaded || !watch || watch.synced) return;
    this.counters.resyncs++;
    watch.synced = true;
    this.greet(game, watch);
  }

  /** `createdId`, when known, is the mailbox id of the game's create input: its journal starts after it. */
  private async ensure(gameId: string, createdId?: string): Promise<WatchedGame> {
    let game = this.games.get(gameId);
    if (!game) {
      game = new WatchedGame(this.follower.track(gameId));
      this.games.set(gameId, game);
    }
    await this.follower.follow(gameId, createdId);
    return game;
  }

  /** The replica holds the game (again): waiting requests go on; after a rebuild, every watcher gets a snapshot. */
  private loaded(replica: Replica<GameState>, rebuilt: boolean): void {
    const game = this.games.get(replica.actorId);
    if (!game) return;
    game.phase = replica.state?.phase;
    if (rebuilt) {
      for (const watch of game.watchers.values()) {
        watch.synced = true;
        this.greet(game, watch);
      }
    }
    this.wake(game);
  }

  /** The replica applied a record: its outputs go to the game's watchers. */
  private apply(replica: Replica<GameState>, record: JournalRecord): void {
    const game = this.games.get(replica.actorId);
    const state = replica.state; // a record always leaves a state (its actor's creation makes one)
    if (!game || !state) return;
    const before = game.phase;
    game.phase = state.phase;
    if (record.i?.length) {
      const lobbyFollows = (record.o as GameOutput[] | undefined)?.some((o) => o.e === 'lobby') ?? false;
      for (const watch of game.watchers.values()) {
        if (watch.joining !== null && compareStreamIds(watch.joining, replica.lastInput) <= 0) this.settleJoin(game, watch, lobbyFollows);
      }
    }
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
          for (const watch of game.watchers.values()) {
            if (this.lostSeat(state, watch)) this.unseat(game, watch);
          }
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
          this.sentTicks = true;
          if (output.over) this.broadcast(game, this.overMessage(state, output.t, output.over));
          break;
      }
    }
    this.wake(game);
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
    if (state?.phase === 'closed') {
      // as a join that comes later is answered: the code names no open game any more
      watch.sub.refused(game.gameId, 'not_found', 'the private game closed before your join reached it: everyone had left its lobby', watch.pending?.rid);
      return;
    }
    const full = state?.phase === 'lobby';
    watch.sub.refused(game.gameId, full ? 'full' : 'bad_state',
      full ? `the game is full (${state.settings.players} players)` : 'the game started before your join reached it', watch.pending?.rid);
  }

  /** A player following a lobby its user holds no seat in any more (it left on another connection, here or on another node). */
  private lostSeat(state: GameState, watch: Watch): boolean {
    return (state.phase === 'lobby' || state.phase === 'closed') && watch.role === 'player' && watch.joining === null && !state.seats.some((s) => s.userId === watch.userId);
  }

  private unseat(game: WatchedGame, watch: Watch): void {
    game.watchers.delete(watch.sub.id);
    if (game.watchers.size === 0) game.idleSince = Date.now();
    watch.sub.unseated(game.gameId);
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
    if (this.lostSeat(state, watch)) { this.unseat(game, watch); return; }
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
  private housekeeping(): void {
    const now = Date.now();
    for (const game of this.games.values()) {
      const { state, replica } = game;
      if (game.watchers.size === 0 && now - game.idleSince > KEEP_UNWATCHED_MS && !replica.loading) {
        this.games.delete(game.gameId);
        this.follower.forget(game.gameId);
        continue;
      }
      if (state && !game.recovering && isStalled(state, replica.lastRecordAt, now)) {
        game.recovering = true;
        this.broadcast(game, { type: 'status', gameId: game.gameId, status: 'recovering' });
      }
    }
  }
}
