// A client's session on a node: the PROTOCOL.md state machine (hello, lobby, queued, in a game as player or
// spectator), its limits (rate, bad messages), and what each request does to storage and the fan-out.
import {
  BAD_MESSAGES_PER_10S, COUNTDOWN_MS, decodeClientMessage, directionCode, MAX_QUEUED_TURNS, MAX_TURN_AHEAD,
  encodeServerMessage, PROTOCOL_VERSION, RATE_LIMIT_PER_S, requestedSettings, type ClientMessage, type ErrorCode, type QueueMode,
  type Rid, type ServerMessage,
} from '../../protocol/messages.ts';
import { defaultSettings, SettingsError, type Settings } from '../../protocol/settings.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Fanout, PendingReply, Role, Subscriber } from './fanout.ts';
import type { GameState } from './game-actor.ts';
import type { GameService } from './games.ts';
import type { LobbyAbsences } from './lobby-absences.ts';
import { newGameId, newLobbyCode, newTicketId, type Matchmaker, type Ticket } from './matchmaking.ts';
import { ActorFinishedError, type Producer } from '../../runtime/producer.ts';
import { guestName, newUserId, type TokenSigner } from './tokens.ts';
import type { SnaketronDb } from './schema.ts';

/** What a session needs from its node. */
export interface SessionContext {
  readonly nodeId: string;
  readonly db: SnaketronDb;
  readonly producer: Producer;
  readonly games: GameService;
  readonly fanout: Fanout;
  readonly matchmaker: Matchmaker;
  readonly absences: LobbyAbsences;
  /** the turns this node's connections sent for each snake that its game has not applied yet */
  readonly turnsOnTheirWay: TurnsOnTheirWay;
  readonly tokens: TokenSigner;
  readonly log: Logger;
  /** claims and starts every full match of a queue (players on other nodes are told through Redis) */
  matchQueue(mode: QueueMode, size: number): Promise<void>;
  register(session: Session): void;
  unregister(session: Session): void;
  /** the user's registered sessions on this node */
  sessionsOf(userId: string): Iterable<Session>;
  /** false while the node has lost its connection to Redis (a request would wait for it to come back) */
  redisAvailable(): boolean;
}

/** The socket side of a session, so the state machine does not depend on the server library. */
export interface Transport {
  /**
   * false when the client is too far behind (its buffer is full): it gets a fresh snapshot later. `always`: a
   * reply to the client's own request, sent however far behind it is (it is not part of a game's backlog).
   */
  send(bytes: Uint8Array, always?: boolean): boolean;
  close(code: number, reason: string): void;
}

export class ProtocolError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

type SessionState =
  | { kind: 'new' }
  | { kind: 'lobby' }
  /** `claimed`: an unqueue found the ticket already taken by a match, whose match message is on its way */
  | { kind: 'queued'; mode: QueueMode; size: number; ticket: Ticket; claimed?: boolean }
  | { kind: 'game'; gameId: string; role: Role };

const RATE_WINDOW_MS = 1000;
const BAD_WINDOW_MS = 10_000;
/** how long a request waits for the game to see this client's create or join before it is judged anyway */
const CATCH_UP_MS = 5000;

let nextSessionId = 1;

export class Session implements Subscriber {
  readonly id = nextSessionId++;
  state: SessionState = { kind: 'new' };
  /** when this connection entered the game it is in (ms): a close seen late does not undo a newer return */
  private enteredAt = 0;
  user: { userId: string; name: string } | null = null;
  private closed = false;
  /** a hello arrived (it may still be being handled) */
  private helloSent = false;
  /** disconnected() ran: the connection is gone (it runs once, however the close came) */
  private gone = false;
  private tokens = RATE_LIMIT_PER_S * 2;
  private lastRefill = Date.now();
  private badTimes: number[] = [];
  /** the game this client just created (inputId null), joined or started: its next request waits until the replica has seen it */
  private behind: { gameId: string; inputId: string | null } | null = null;
  private busy: Promise<void> = Promise.resolve();
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;

  constructor(private readonly ctx: SessionContext, private readonly transport: Transport) {}

  /** A message of the game this client follows (refused while the client is too far behind). */
  send(message: ServerMessage, encoded?: Uint8Array): boolean {
    return this.transmit(message, encoded, false);
  }

  private transmit(message: ServerMessage, encoded: Uint8Array | undefined, always: boolean): boolean {
    if (this.closed) return false;
    const bytes = encoded ?? encodeServerMessage(message);
    if (!this.transport.send(bytes, always)) return false;
    this.messagesOut++;
    this.bytesOut += bytes.length;
    if (message.type === 'over' && this.state.kind === 'game' && this.state.gameId === message.gameId) {
      // the game is over: back to the lobby state, free to play again (an over refused to a client that fell
      // behind comes again after the snapshot it gets when it catches up)
      this.ctx.fanout.unwatch(message.gameId, this);
      this.state = { kind: 'lobby' };
    }
    return true;
  }

  private reply(message: ServerMessage, rid: Rid | undefined): void {
    this.transmit(rid === undefined ? message : { ...message, rid }, undefined, true);
  }

  private error(code: ErrorCode, message: string, rid?: Rid): void {
    this.reply({ type: 'error', code, message }, rid);
  }

  /** A frame arrived. Requests are handled one at a time, in order. */
  receive(bytes: Uint8Array, isBinary: boolean): void {
    if (this.closed) return;
    this.messagesIn++;
    this.bytesIn += bytes.length;
    // bad frames count against their own limit (more than 100 in 10 s), not against the message rate
    if (!isBinary) { this.bad('frames must be binary msgpack, not text'); return; }
    const decoded = decodeClientMessage(bytes);
    if (!decoded.ok) { this.bad(decoded.error.message, decoded.error.rid); return; }
    const message = decoded.message;
    if (!this.withinRate()) {
      this.error('rate_limited', `more than ${RATE_LIMIT_PER_S} messages per second; closing`, message.rid);
      this.close(1008, 'rate limited');
      return;
    }
    if (message.type === 'hello') this.helloSent = true;
    if (message.type === 'ping') {
      const pong = () => {
        if (this.state.kind === 'new') this.error('unauthenticated', 'send hello first', message.rid);
        else this.reply({ type: 'pong', c: message.c, s: Date.now() }, message.rid);
      };
      // answered at once, even while another request is pending, so latency reads true; but a ping right behind
      // a hello still being handled waits for its welcome
      if (this.state.kind === 'new' && this.helloSent) this.busy = this.busy.then(pong);
      else pong();
      return;
    }
    this.busy = this.busy.then(() => this.handle(message)).catch((err: unknown) => {
      if (err instanceof ProtocolError) this.error(err.code, err.message, message.rid);
      // the game's end was committed before this reached its mailbox (the replica here had not seen it yet)
      else if (err instanceof ActorFinishedError) this.error('bad_state', `game ${err.actorId} is over`, message.rid);
      else if (err instanceof SettingsError) this.error('bad_message', err.message, message.rid);
      else {
        this.ctx.log.error({ err, type: message.type }, 'request failed');
        this.error(isUnavailable(err) ? 'unavailable' : 'internal',
          isUnavailable(err) ? 'storage is not answering; try again shortly' : `could not handle ${message.type}`, message.rid);
      }
    });
  }

  private withinRate(): boolean {
    const now = Date.now();
    this.tokens = Math.min(RATE_LIMIT_PER_S * 2, this.tokens + ((now - this.lastRefill) / RATE_WINDOW_MS) * RATE_LIMIT_PER_S);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private bad(message: string, rid?: Rid): void {
    const now = Date.now();
    this.badTimes.push(now);
    while (this.badTimes.length > 0 && now - this.badTimes[0] > BAD_WINDOW_MS) this.badTimes.shift();
    if (this.badTimes.length > BAD_MESSAGES_PER_10S) {
      this.error('rate_limited', `more than ${BAD_MESSAGES_PER_10S} bad messages in 10 s; closing`, rid);
      this.close(1008, 'too many bad messages');
      return;
    }
    this.error('bad_message', message, rid);
  }

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.transport.close(code, reason);
    this.closed = true;
    void this.disconnected();
  }

  private async handle(m: ClientMessage): Promise<void> {
    if (this.closed) return;
    if (this.state.kind === 'new') {
      if (m.type !== 'hello') throw new ProtocolError('unauthenticated', `send hello first (got ${m.type})`);
      return this.hello(m.token, m.name, m.v, m.rid);
    }
    // a request sent right behind a create, join or start (a start, a leave, a turn) is judged once the game has
    // seen that one: judged on the replica before, a start was refused (no lobby yet), a leave never reached the
    // game and a turn was refused (not started)
    const behind = this.behind;
    if (behind) {
      this.behind = null;
      await this.ctx.fanout.caughtUp(behind.gameId, behind.inputId, CATCH_UP_MS);
      if (this.closed) return;
    }
    if (m.type !== 'hello' && !this.ctx.redisAvailable()) {
      throw new ProtocolError('unavailable', `this node has lost its connection to Redis, so ${m.type} was not done; try again in a few seconds`);
    }
    switch (m.type) {
      case 'hello': throw new ProtocolError('bad_state', 'hello was already received');
      case 'queue': return this.queue(m.mode, m.size, m.rid);
      case 'unqueue': return this.unqueue(m.rid);
      case 'solo': return this.solo(requestedSettings(m), m.rid);
      case 'create': return this.createLobby(requestedSettings(m), m.rid);
      case 'join': return this.join(m.code, m.rid);
      case 'start': return this.start(m.rid);
      case 'watch': return this.enter(m.gameId, 'spectator', m.rid);
      case 'rejoin': return this.enter(m.gameId, 'player', m.rid);
      case 'turn': return this.turn(m.dir, m.seq, m.t, m.rid);
      case 'leave': return this.leave(m.rid);
      case 'ping': return;
    }
  }

  private async hello(token: string | undefined, name: string | undefined, v: number, rid?: Rid): Promise<void> {
    if (v !== PROTOCOL_VERSION) throw new ProtocolError('bad_message', `hello.v must be ${PROTOCOL_VERSION}`);
    let user: { userId: string; name: string };
    if (token !== undefined) {
      const verified = this.ctx.tokens.verify(token);
      if ('error' in verified) throw new ProtocolError('unauthenticated', verified.error);
      user = verified;
    } else {
      user = { userId: newUserId(), name: name ?? guestName() };
      await this.ctx.db.insertInto('users').values({ id: user.userId, name: user.name }).execute();
    }
    const game = await this.unfinishedGame(user.userId);
    // the session becomes the user's only now: one that closed meanwhile is never registered, and a ping that
    // arrived while storage answered still waits for this welcome
    if (this.closed) return;
    this.user = user;
    this.state = { kind: 'lobby' };
    this.ctx.register(this);
    this.reply({
      type: 'welcome', userId: user.userId, name: user.name, token: this.ctx.tokens.sign(user),
      node: this.ctx.nodeId, serverTime: Date.now(), game,
    }, rid);
  }

  /**
   * For welcome.game: the newest game the user plays in that has not ended. Storage learns of endings and seats a
   * moment after the game (the recorder writes them), so each candidate is checked against the game itself.
   */
  private async unfinishedGame(userId: string): Promise<string | null> {
    for (const gameId of await this.ctx.games.unfinishedGamesOf(userId)) {
      const state = await this.ctx.fanout.replica(gameId).catch(() => null); // unreadable now: storage's word stands
      if (state === null) return gameId;
      if (state && state.phase !== 'complete' && state.phase !== 'failed' && state.seats.some((s) => s.userId === userId)) return gameId;
    }
    return null;
  }

  private requireLobby(what: string): void {
    if (this.state.kind !== 'lobby') {
      throw new ProtocolError('bad_state', `${what} is allowed only in the lobby state (you are ${describe(this.state)}); send leave first`);
    }
  }

  private async queue(mode: QueueMode, size: number, rid?: Rid): Promise<void> {
    this.requireLobby('queue');
    const user = this.user!;
    const ticket: Ticket = { id: newTicketId(), userId: user.userId, name: user.name, node: this.ctx.nodeId, mode, size };
    const held = await this.ctx.matchmaker.enqueue(ticket);
    if (held) throw new ProtocolError('bad_state', `you are already queued for ${held.mode} on another connection; unqueue there first`);
    this.state = { kind: 'queued', mode, size, ticket };
    this.reply({ type: 'queued', mode, size }, rid);
    // the queue is answered; a match that cannot be made now is made by the next round of matchmaking
    await this.ctx.matchQueue(mode, size).catch((err: unknown) => this.ctx.log.warn({ err: String(err), mode }, 'matchmaking after a queue failed'));
  }

  private async unqueue(rid?: Rid): Promise<void> {
    if (this.state.kind !== 'queued') throw new ProtocolError('bad_state', `unqueue needs a queued session (you are ${describe(this.state)})`);
    await this.leaveQueue();
    this.reply({ type: 'unqueued' }, rid);
  }

  /**
   * Takes this session's ticket out of its queue and goes back to the lobby state. When a match has just taken
   * the ticket, the session stays queued for the match message on its way, and the request gets bad_state; asked
   * again, it gives up on that match (a match that never came must not hold the session).
   */
  private async leaveQueue(): Promise<void> {
    if (this.state.kind !== 'queued') return;
    const state = this.state;
    const removed = await this.ctx.matchmaker.dequeue(state.ticket);
    if (this.state !== state) throw new ProtocolError('bad_state', `a ${state.mode} match took you from the queue first`);
    if (!removed && !state.claimed) {
      state.claimed = true;
      throw new ProtocolError('bad_state', `a ${state.mode} match already took you from the queue; its match and snapshot follow`);
    }
    if (!removed) await this.ctx.matchmaker.giveUp(this.user!.userId); // undoing that match leaves this player out
    this.state = { kind: 'lobby' };
  }

  /** The ticket this session waits in a queue with, if it does. */
  queuedTicket(): Ticket | null {
    return this.state.kind === 'queued' && !this.closed ? this.state.ticket : null;
  }

  /**
   * Told by matchmaking (on this node or through Redis) that a match took this ticket: false when this session
   * does not hold it (any more), so a match made of an earlier connection's ticket never takes a later one.
   */
  matched(ticketId: string, gameId: string, mode: QueueMode, players: Array<{ userId: string; name: string; snakeId: number }>, createdId?: string): boolean {
    if (this.closed || this.state.kind !== 'queued' || this.state.ticket.id !== ticketId) return false;
    const { ticket } = this.state;
    this.state = { kind: 'game', gameId, role: 'player' };
    void this.ctx.matchmaker.told(ticket).catch(() => undefined); // else its claim is dropped by age
    this.transmit({ type: 'match', gameId, mode, players }, undefined, true);
    // in line with the requests, so a disconnect that follows finds the watch there to take back
    this.busy = this.busy.then(() => this.ctx.fanout.watch(gameId, this, 'player', this.user!.userId, { createdId })).then(() => undefined, (err: unknown) => {
      this.ctx.log.error({ err, gameId }, 'could not follow a matched game');
    });
    return true;
  }

  // solo, create, join, start, watch and rejoin are answered by what the game sends (snapshot or lobby), which
  // then carries the request's rid
  private async solo(settings: Settings, rid?: Rid): Promise<void> {
    this.requireLobby('solo');
    const gameId = newGameId();
    const user = this.user!;
    const createdId = await this.ctx.games.create({ gameId, settings, players: [user], countdownMs: COUNTDOWN_MS.solo });
    await this.follow(gameId, createdId, rid);
  }

  private async createLobby(settings: Settings, rid?: Rid): Promise<void> {
    this.requireLobby('create');
    const gameId = newGameId();
    const user = this.user!;
    const createdId = await this.ctx.games.create({ gameId, settings, players: [user], host: user.userId, code: newLobbyCode() });
    await this.follow(gameId, createdId, rid);
    await this.ctx.absences.entered(gameId, user.userId, this.ctx.nodeId, this.enteredAt);
  }

  private async join(code: string, rid?: Rid): Promise<void> {
    this.requireLobby('join');
    const gameId = await this.ctx.games.byCode(code);
    const state = gameId ? await this.ctx.fanout.replica(gameId) : undefined;
    // a closed lobby's code joins nothing: storage says so once the recorder has written its end
    if (!gameId || !state || state.phase === 'closed') throw new ProtocolError('not_found', `no open private game has the code ${code}`);
    if (state.phase !== 'lobby') throw new ProtocolError('bad_state', `the game with code ${code} has already started`);
    const user = this.user!;
    let joining: string | undefined;
    if (!state.seats.some((s) => s.userId === user.userId)) {
      if (state.seats.length >= state.settings.players) throw new ProtocolError('full', `the game with code ${code} is full (${state.settings.players} players)`);
      joining = await this.ctx.producer.submit(gameId, { k: 'join', userId: user.userId, name: user.name }).catch((err: unknown) => {
        // it closed (everyone left) after this node's copy was read
        if (err instanceof ActorFinishedError) throw new ProtocolError('not_found', `no open private game has the code ${code}`);
        throw err;
      });
      await this.ctx.games.storeJoiner(gameId, state.seats.length, user);
    }
    this.state = { kind: 'game', gameId, role: 'player' };
    this.enteredAt = Date.now();
    if (joining !== undefined) this.behind = { gameId, inputId: joining };
    await this.ctx.absences.entered(gameId, user.userId, this.ctx.nodeId, this.enteredAt);
    // answered by the lobby that seats this player, or refused if another join took the last seat first
    await this.ctx.fanout.watch(gameId, this, 'player', user.userId, { reply: pending(rid, true), joining });
  }

  /** The game did not seat this client's join (see Subscriber.refused): back to the lobby state. */
  refused(gameId: string, code: 'full' | 'bad_state' | 'not_found', message: string, rid: Rid | undefined): void {
    if (this.state.kind !== 'game' || this.state.gameId !== gameId) return;
    this.state = { kind: 'lobby' };
    this.error(code, message, rid);
    void this.ctx.games.forgetJoiner(gameId, this.user!.userId).catch((err: unknown) => this.ctx.log.warn({ err, gameId }, 'could not take back a refused join\'s seat'));
  }

  unseated(gameId: string): void {
    if (this.state.kind !== 'game' || this.state.gameId !== gameId) return;
    this.state = { kind: 'lobby' };
    this.reply({ type: 'left', gameId }, undefined);
  }

  private async start(rid?: Rid): Promise<void> {
    const state = await this.currentGame();
    if (!state || this.state.kind !== 'game' || state.phase !== 'lobby') {
      throw new ProtocolError('bad_state', 'start needs a private game that has not started');
    }
    if (state.host !== this.user!.userId) throw new ProtocolError('forbidden', 'only the host of the game can start it');
    if (this.ctx.fanout.owesReply(state.gameId, this)) throw new ProtocolError('bad_state', 'the game is already starting; its snapshot follows');
    this.ctx.fanout.expectReply(state.gameId, this, pending(rid, false));
    let started: string;
    try {
      started = await this.ctx.producer.submit(state.gameId, { k: 'start', userId: this.user!.userId, countdownMs: COUNTDOWN_MS.multiplayer });
    } catch (err) {
      this.ctx.fanout.expectReply(state.gameId, this, null); // answered by the error instead
      throw err;
    }
    // a turn sent right behind the start is judged on a game that has started
    this.behind = { gameId: state.gameId, inputId: started };
  }

  /** Plays a game this session just created. */
  private async follow(gameId: string, createdId: string, rid?: Rid): Promise<void> {
    this.state = { kind: 'game', gameId, role: 'player' };
    this.enteredAt = Date.now();
    this.behind = { gameId, inputId: null };
    await this.ctx.fanout.watch(gameId, this, 'player', this.user!.userId, { createdId, reply: pending(rid, true) });
  }

  /** watch (spectator) or rejoin (player) a game that exists. */
  private async enter(gameId: string, role: Role, rid?: Rid): Promise<void> {
    this.requireLobby(role === 'player' ? 'rejoin' : 'watch');
    // Postgres text holds no NUL, so an id with one names no game (asked of storage, it was an internal error)
    const state = gameId.includes('\0') ? undefined : await this.ctx.fanout.replica(gameId);
    if (!state) throw new ProtocolError('not_found', `no game ${gameId}`);
    if (state.phase === 'closed') throw new ProtocolError('bad_state', `game ${gameId} closed without being played: everyone left its lobby`);
    if (role === 'player' && !state.seats.some((s) => s.userId === this.user!.userId)) {
      throw new ProtocolError('forbidden', `you are not a player of game ${gameId}; watch it instead`);
    }
    // a lobby has no game to show yet, and its lobby message carries the join code, which is the players' to share
    if (role === 'spectator' && state.phase === 'lobby') {
      throw new ProtocolError('bad_state', `game ${gameId} is still in its lobby; watch it once it has started`);
    }
    this.state = { kind: 'game', gameId, role };
    this.enteredAt = Date.now();
    if (role === 'player' && state.phase === 'lobby') await this.ctx.absences.entered(gameId, this.user!.userId, this.ctx.nodeId, this.enteredAt);
    await this.ctx.fanout.watch(gameId, this, role, this.user!.userId, { reply: pending(rid, role === 'player') });
  }

  private snakeIdIn(state: GameState | undefined): number | null {
    return state?.seats.find((s) => s.userId === this.user?.userId)?.snakeId ?? null;
  }

  private async currentGame(): Promise<GameState | undefined> {
    if (this.state.kind !== 'game') return undefined;
    return this.ctx.fanout.replica(this.state.gameId);
  }

  private async turn(dir: Parameters<typeof directionCode>[0], seq: number, t: number | undefined, rid?: Rid): Promise<void> {
    if (this.state.kind !== 'game' || this.state.role !== 'player') {
      throw new ProtocolError('bad_state', `turn needs a game you play in (you are ${describe(this.state)})`);
    }
    const state = await this.ctx.fanout.replica(this.state.gameId);
    const game = state?.game;
    if (!state || !game || state.phase === 'lobby') throw new ProtocolError('bad_state', 'the game has not started');
    if (state.phase === 'complete' || state.phase === 'failed') throw new ProtocolError('bad_state', 'the game is over');
    const snakeId = this.snakeIdIn(state);
    if (snakeId === null) throw new ProtocolError('bad_state', 'you have no snake in this game');
    if (!game.isAlive(snakeId)) throw new ProtocolError('bad_state', 'your snake is dead');
    const now = game.tick;
    const wanted = t === undefined || t <= now ? now + 1 : t;
    if (wanted - now > MAX_TURN_AHEAD) throw new ProtocolError('too_far', `turn.t ${wanted} is more than ${MAX_TURN_AHEAD} ticks ahead of tick ${now}`);
    // waiting: the turns queued in the game (those past their tick too, until one takes effect) and the turns on
    // their way to it from this node, whichever of the user's connections sent them
    const onTheirWay = this.ctx.turnsOnTheirWay.reserve(state.gameId, snakeId, game.queuedTurns(snakeId));
    if (onTheirWay === null) throw new ProtocolError('queue_full', `${MAX_QUEUED_TURNS} turns already wait for your snake`);
    let id: string | null = null;
    try {
      id = await this.ctx.producer.submit(state.gameId, { k: 'turn', snakeId, dir: directionCode(dir), t: wanted });
    } finally {
      onTheirWay.settled(id);
    }
    // the t given, even one already past (PROTOCOL.md: it then applies at the first step after it)
    this.reply({ type: 'ack', seq, t: t ?? wanted }, rid);
  }

  private async leave(rid?: Rid): Promise<void> {
    const state = this.state;
    switch (state.kind) {
      case 'queued':
        await this.leaveQueue();
        this.reply({ type: 'left' }, rid);
        return;
      case 'game': {
        const replica = await this.ctx.fanout.replica(state.gameId);
        // a lobby that closed meanwhile (its other players left, or this user did on another connection) holds no
        // seat to give up: the leave is done all the same
        const leaving = replica?.phase === 'lobby' && state.role === 'player'
          ? await this.ctx.producer.submit(state.gameId, { k: 'leave', userId: this.user!.userId })
            .catch((err: unknown) => { if (err instanceof ActorFinishedError) return null; throw err; })
          : null;
        this.ctx.fanout.unwatch(state.gameId, this);
        this.state = { kind: 'lobby' };
        // left once the game has given up the seat: a welcome or rejoin right after it found the player still seated
        if (leaving !== null) await this.ctx.fanout.caughtUp(state.gameId, leaving, CATCH_UP_MS);
        this.reply({ type: 'left', gameId: state.gameId }, rid);
        return;
      }
      default:
        // PROTOCOL.md allows leave in the lobby state too: the client is where leave takes it already
        this.reply({ type: 'left' }, rid);
    }
  }

  /** Leaves the queue as the connection closes; a match that had already claimed the player is given up on. */
  private async unqueueQuietly(): Promise<void> {
    if (this.state.kind === 'queued') {
      const removed = await this.ctx.matchmaker.dequeue(this.state.ticket);
      if (!removed) await this.ctx.matchmaker.giveUp(this.user!.userId);
    }
  }

  /** The socket drained: a client that fell behind gets a fresh snapshot. */
  drained(): void {
    if (this.state.kind === 'game') this.ctx.fanout.resync(this.state.gameId, this);
  }

  /** The connection closed: leave the queue (a running game goes on without this client). */
  async disconnected(): Promise<void> {
    if (this.gone) return;
    this.gone = true;
    this.closed = true;
    this.ctx.unregister(this);
    await this.busy.catch(() => undefined);
    if (this.state.kind === 'queued') await this.unqueueQuietly().catch(() => undefined);
    if (this.state.kind === 'game') {
      this.ctx.fanout.unwatch(this.state.gameId, this);
      if (this.state.role === 'player') await this.noteDeparture(this.state.gameId).catch(() => undefined);
    }
  }

  /**
   * A player whose connection closed in a private lobby keeps its seat for the grace period (a reload, a lost
   * network), then leaves it (LobbyAbsences); not while another of its connections here is in the game still.
   */
  private async noteDeparture(gameId: string): Promise<void> {
    const userId = this.user!.userId;
    for (const other of this.ctx.sessionsOf(userId)) {
      if (other.state.kind === 'game' && other.state.gameId === gameId && other.state.role === 'player') return;
    }
    const state = await this.ctx.fanout.replica(gameId);
    const inLobby = state?.phase === 'lobby' && state.seats.some((s) => s.userId === userId);
    await this.ctx.absences.away(gameId, userId, this.ctx.nodeId, this.enteredAt, inLobby);
  }

  /** The node is stopping: tell the client, then close. */
  shutdown(reason: string): void {
    if (this.closed) return;
    this.transmit({ type: 'error', code: 'unavailable', message: reason }, undefined, true);
    this.close(1001, 'node stopping');
  }
}

/** The answer a request with this rid is owed (none without a rid); `lobbyAnswers`: a lobby message answers it. */
function pending(rid: Rid | undefined, lobbyAnswers: boolean): PendingReply | null {
  return rid === undefined ? null : { rid, lobbyAnswers };
}

function describe(state: SessionState): string {
  switch (state.kind) {
    case 'new': return 'not introduced';
    case 'lobby': return 'in the lobby';
    case 'queued': return `queued for ${state.mode}`;
    case 'game': return state.role === 'player' ? `playing game ${state.gameId}` : `watching game ${state.gameId}`;
  }
}

function isUnavailable(err: unknown): boolean {
  const text = String((err as { message?: unknown })?.message ?? err);
  return /ECONNREFUSED|Connection is closed|connect ETIMEDOUT|terminating connection|Connection terminated/.test(text);
}

export function queueSettings(mode: QueueMode, size: number): Settings {
  return { ...defaultSettings(mode), players: size };
}

/** A turn counted among those on their way to its snake while its submit is out: `settled` with its mailbox id, or null if it was not stored. */
export interface TurnOnItsWay {
  settled(inputId: string | null): void;
}

/** How often the snakes' counts are looked at, to forget those of snakes nobody has turned for FORGET_TURNS_MS. */
const SWEEP_TURNS_MS = 10_000;
/**
 * A snake nobody has turned for this long has no turn on its way any more: each was applied within a tick or two,
 * or, its game over, dead-lettered (and then never applied, so never taken off the count).
 */
const FORGET_TURNS_MS = 60_000;

/**
 * The turns this node's connections submitted for each snake that the snake's game (its replica here) has not
 * applied yet, shared by all of them: a user playing on two connections gets queue_full at the same count as on
 * one (PROTOCOL.md: more than MAX_QUEUED_TURNS waiting for one snake). Two nodes each count their own.
 */
export class TurnsOnTheirWay {
  /** per game and snake (`game/snake`): the mailbox ids of stored turns, how many submits are still out, and the last turn's time */
  private readonly bySnake = new Map<string, { ids: string[]; out: number; at: number }>();
  private lastSweep = Date.now();

  constructor(private readonly applied: (gameId: string, inputId: string) => boolean) {}

  /**
   * Counts a turn for the snake unless `queued` (the turns waiting in its game) and those on their way already
   * reach MAX_QUEUED_TURNS: then null. Counted at once, so two connections' turns sent together are both counted.
   */
  reserve(gameId: string, snakeId: number, queued: number): TurnOnItsWay | null {
    const now = Date.now();
    if (now - this.lastSweep >= SWEEP_TURNS_MS) this.sweep(now);
    const key = `${gameId}/${snakeId}`;
    let entry = this.bySnake.get(key);
    if (!entry) {
      entry = { ids: [], out: 0, at: now };
      this.bySnake.set(key, entry);
    }
    entry.at = now;
    // the applied ones are taken off only when the count would refuse the turn (a turn is at most one of 8 to look at)
    if (queued + entry.ids.length + entry.out >= MAX_QUEUED_TURNS) {
      entry.ids = entry.ids.filter((id) => !this.applied(gameId, id));
      if (queued + entry.ids.length + entry.out >= MAX_QUEUED_TURNS) return null;
    }
    entry.out++;
    const counted = entry;
    return {
      settled: (inputId) => {
        counted.out--;
        if (inputId !== null) counted.ids.push(inputId);
      },
    };
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, entry] of this.bySnake) {
      if (entry.out === 0 && now - entry.at > FORGET_TURNS_MS) this.bySnake.delete(key);
    }
  }
}
