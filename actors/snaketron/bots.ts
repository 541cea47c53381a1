// Bot players over WebSockets, as a player's program would be: each bot says hello, queues (or starts a solo
// game), keeps its own copy of the game from the snapshot and the ticks (checking every hash), steers with
// BotBrain, and when its connection drops comes back (to the next node given) with its token and rejoins. A fleet of
// them plays until it has completed enough games or run long enough, and reports what it measured. Used by
// bin/snaketron-bots, the load benchmarks and the specs.
import WebSocket from 'ws';
import { Game, type Dir, type GameSnapshot } from '../../protocol/engine.ts';
import {
  decodeServerMessage, encodeClientMessage, TURN_DIRECTIONS, type OutgoingClientMessage, type ServerMessage,
} from '../../protocol/messages.ts';
import { BotBrain } from './bot-brain.ts';
import { isUrl } from './config.ts';

export const BOT_MODES = ['duel', 'ffa', 'teams', 'solo'] as const;
/** the longest a Node timer waits (a longer one fires at once) */
const MAX_TIMER_MS = 2 ** 31 - 1;
export type BotMode = (typeof BOT_MODES)[number];

export interface BotOptions {
  /** WebSocket URLs of nodes (`ws://host:port/ws`); bot i starts on urls[i % n] and moves to the next on a drop */
  urls: string[];
  bots: number;
  mode: BotMode;
  /** ffa: players per game (2..8, default 4) */
  size?: number;
  /** stop once this many games (in total, counted once however many bots played them) have completed */
  games?: number;
  /** stop after this long */
  durationMs?: number;
  /**
   * From this tick of a game on, a bot stops steering and runs straight on into whatever is ahead, so games end in
   * bounded time (good bots can otherwise keep a duel going for minutes). Unset: play every game out.
   */
  giveUpAfter?: number;
  /** names are `${name}-${i}` (default `bot`) */
  name?: string;
  /** aborting stops the fleet as if its goal was reached */
  signal?: AbortSignal;
  /** called every time a game completes and once a second */
  onProgress?: (progress: BotProgress) => void;
  /** called for every turn a node acknowledged (stored durably): what a check of "no acked input lost" counts */
  onTurnAcked?: (turn: AckedTurn) => void;
}

/** A turn a bot sent and its node acknowledged. */
export interface AckedTurn {
  gameId: string;
  snakeId: number;
  /** the direction code (GAME.md) */
  dir: Dir;
  /** the tick the ack names */
  t: number;
}

export interface BotProgress {
  completed: number;
  active: number;
  connected: number;
  reconnects: number;
  hashMismatches: number;
  elapsedMs: number;
}

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface BotSummary {
  /** completed games */
  games: number;
  gameIds: string[];
  durationMs: number;
  results: { played: number; wins: number; losses: number; draws: number; solo: number; avgScore: number; avgLength: number };
  /** from sending a `turn` to its `ack`, ms */
  ackLatencyMs: Percentiles;
  /** |interval between consecutive ticks − tickMs|, ms */
  tickJitterMs: Percentiles & { meanIntervalMs: number };
  ticks: number;
  turns: number;
  hashMismatches: number;
  /** ticks that skipped ahead of a bot's copy (the protocol says none do), each resynchronised by a rejoin */
  gaps: number;
  reconnects: number;
  /** `error` messages received, by code */
  errors: Record<string, number>;
}

/**
 * How long a fleet that reached its goal waits for the results of the other players of its last games (a second
 * was too short on a loaded machine for one whose node had died, and its result went uncounted).
 */
const DRAIN_MS = 10_000;

/** Bad options, or no node answers at a URL given. */
export class BotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BotError';
  }
}

/** Keeps at most `limit` samples (reservoir sampling) and the exact count and maximum. */
class Samples {
  private readonly values: number[] = [];
  count = 0;
  max = 0;
  sum = 0;
  constructor(private readonly limit = 200_000) {}

  add(v: number): void {
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
    if (this.values.length < this.limit) this.values.push(v);
    else {
      const k = Math.floor(Math.random() * this.count);
      if (k < this.limit) this.values[k] = v;
    }
  }

  percentiles(): Percentiles {
    const sorted = [...this.values].sort((a, b) => a - b);
    const at = (q: number) => (sorted.length === 0 ? 0 : round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]));
    return { count: this.count, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(this.max) };
  }
}

const round = (v: number) => Math.round(v * 100) / 100;

type Phase = 'connecting' | 'lobby' | 'queued' | 'playing' | 'rejoining' | 'leaving' | 'stopped';
type Outcome = 'win' | 'loss' | 'draw' | 'solo';

interface BotGame {
  id: string;
  snakeId: number;
  replica: Game;
  tickMs: number;
  lastTickAt: number;
  done: boolean;
}

class Bot {
  private ws: WebSocket | null = null;
  private token: string | null = null;
  userId = '';
  private phase_: Phase = 'connecting';
  private game: BotGame | null = null;
  private pending: { seq: number; sentAt: number; dir: Dir; t: number | null } | null = null;
  private seq = 0;
  private attempt = 0;
  private resync = false;
  private readonly brain = new BotBrain();
  /** games this bot has counted, so a late `welcome.game` or rejoin of one is not counted again */
  private readonly finished = new Set<string>();

  constructor(private readonly fleet: Fleet, readonly name: string, private urlIndex: number) {}

  get phase(): Phase {
    return this.phase_;
  }

  set phase(next: Phase) {
    if (this.phase_ === 'queued') this.fleet.queued--;
    if (next === 'queued') this.fleet.queued++;
    this.phase_ = next;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  get gameId(): string | null {
    return this.game && !this.game.done ? this.game.id : null;
  }

  connect(): void {
    if (this.fleet.stopping) return;
    this.phase = 'connecting';
    const ws = new WebSocket(this.fleet.urls[this.urlIndex % this.fleet.urls.length]);
    ws.binaryType = 'nodebuffer';
    this.ws = ws;
    ws.on('open', () => {
      this.attempt = 0;
      this.send(this.token ? { type: 'hello', v: 1, token: this.token } : { type: 'hello', v: 1, name: this.name });
    });
    ws.on('message', (data: Buffer) => {
      const decoded = decodeServerMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (!decoded.ok) {
        this.fleet.error('undecodable');
        return;
      }
      this.receive(decoded.message);
    });
    ws.on('error', () => { /* the close event follows */ });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.pending = null;
      if (this.fleet.stopping) { this.phase = 'stopped'; return; }
      // the node went away (or dropped us): come back through the next one, and rejoin the game if there is one
      this.fleet.reconnects++;
      this.phase = 'connecting';
      this.urlIndex++;
      const delay = Math.min(2000, 100 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
      setTimeout(() => this.connect(), delay);
    });
  }

  close(): void {
    this.phase = 'stopped';
    const ws = this.ws;
    this.ws = null;
    ws?.close();
  }

  private send(message: OutgoingClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeClientMessage(message));
  }

  /** Queues for a game (or starts a solo one) if the fleet wants more games; else idles in the lobby. */
  maybePlay(): void {
    if (this.phase !== 'lobby' || !this.connected || !this.fleet.wantsPlayer()) return;
    this.phase = 'queued';
    const mode = this.fleet.mode;
    if (mode === 'solo') this.send({ type: 'solo' });
    else this.send(mode === 'ffa' ? { type: 'queue', mode, size: this.fleet.perGame } : { type: 'queue', mode });
  }

  private toLobby(): void {
    this.phase = 'lobby';
    this.maybePlay();
  }

  private receive(m: ServerMessage): void {
    switch (m.type) {
      case 'welcome': {
        this.token = m.token;
        this.userId = m.userId;
        const unfinished = m.game ?? this.gameId;
        if (unfinished) {
          this.phase = 'rejoining';
          this.send({ type: 'rejoin', gameId: unfinished });
        } else this.toLobby();
        return;
      }
      case 'snapshot': return this.onSnapshot(m);
      case 'tick': return this.onTick(m);
      case 'ack': return this.onAck(m);
      case 'over': {
        if (!this.game || this.game.id !== m.gameId || this.game.done) return;
        this.resync = false;
        const mine = m.results.find((r) => r.userId === this.userId);
        this.finish(m.winner, m.winningTeam, mine ? { score: mine.score, length: mine.length, snakeId: mine.snakeId, team: mine.team } : null);
        // the node puts a player back in its lobby when its game is over
        this.toLobby();
        return;
      }
      case 'left': {
        if (this.resync && this.game) {
          this.resync = false;
          this.phase = 'rejoining';
          this.send({ type: 'rejoin', gameId: this.game.id });
          return;
        }
        this.toLobby();
        return;
      }
      case 'error': {
        this.fleet.error(m.code);
        if (this.pending && m.rid === this.pending.seq) this.pending = null;
        if (this.phase === 'leaving') {
          this.receive({ type: 'left' });
        } else if (this.phase === 'queued' && m.code === 'bad_state') {
          // the node still has this bot in a game (e.g. one it gave up resynchronising): leave it first
          this.phase = 'leaving';
          this.send({ type: 'leave' });
        } else if (this.phase === 'rejoining' && (m.code === 'unavailable' || m.code === 'internal') && this.game && !this.game.done) {
          // the node could not reach the game just now (a store outage): ask again shortly
          const gameId = this.game.id;
          setTimeout(() => { if (this.phase === 'rejoining') this.send({ type: 'rejoin', gameId }); }, 500);
        } else if (this.phase === 'rejoining') {
          // the game is gone, or over and forgotten: nothing to rejoin
          if (this.game && !this.game.done) this.fleet.lost(this.game.id, this);
          this.game = null;
          this.toLobby();
        } else if (this.phase === 'queued' && m.rid === undefined) {
          // could not queue (e.g. the node is stopping): try again shortly
          this.phase = 'lobby';
          setTimeout(() => this.maybePlay(), 500);
        }
        return;
      }
      default:
    }
  }

  private onSnapshot(m: Extract<ServerMessage, { type: 'snapshot' }>): void {
    if (m.role !== 'player' || m.snakeId === null) return;
    const state = m.state as unknown as GameSnapshot;
    if (this.finished.has(m.gameId)) {
      // a game this bot has counted already (rejoined through a late welcome.game): just leave it
      this.phase = 'leaving';
      this.send({ type: 'leave' });
      return;
    }
    this.game = { id: m.gameId, snakeId: m.snakeId, replica: Game.fromSnapshot(state), tickMs: m.tickMs, lastTickAt: 0, done: false };
    this.pending = null;
    this.phase = 'playing';
    this.fleet.started(m.gameId, this);
    if (state.status === 'complete') {
      // rejoined a game that ended while this bot was away
      const g = this.game.replica;
      const snake = state.snakes[m.snakeId];
      this.finish(g.winner, g.winningTeam, { score: snake.score, length: snake.body.length, snakeId: m.snakeId, team: snake.team });
      this.phase = 'leaving';
      this.send({ type: 'leave' });
      return;
    }
    this.think();
  }

  private onTick(m: Extract<ServerMessage, { type: 'tick' }>): void {
    const game = this.game;
    if (!game || game.id !== m.gameId || game.done) return;
    const replica = game.replica;
    if (m.t <= replica.tick) return;
    const now = performance.now();
    if (m.t > replica.tick + 1) {
      this.fleet.gaps++;
      this.resynchronise();
      return;
    }
    if (game.lastTickAt > 0) this.fleet.tickInterval(now - game.lastTickAt, game.tickMs);
    game.lastTickAt = now;
    for (const [snakeId, dir] of m.turns) replica.queueTurn(snakeId, dir, m.t);
    replica.step();
    this.fleet.ticks++;
    if (replica.hash() !== m.hash) {
      this.fleet.hashMismatches++;
      this.resynchronise();
      return;
    }
    if (this.pending?.t != null && replica.tick >= this.pending.t) this.pending = null;
    this.think();
  }

  private onAck(m: Extract<ServerMessage, { type: 'ack' }>): void {
    if (!this.pending || this.pending.seq !== m.seq) return;
    this.fleet.ackLatency(performance.now() - this.pending.sentAt);
    if (this.game) this.fleet.turnAcked({ gameId: this.game.id, snakeId: this.game.snakeId, dir: this.pending.dir, t: m.t });
    this.pending.t = m.t;
    if (this.game && this.game.replica.tick >= m.t) this.pending = null;
  }

  /** Leaves and rejoins for a fresh, exact snapshot. */
  private resynchronise(): void {
    this.resync = true;
    this.pending = null;
    this.phase = 'leaving';
    this.send({ type: 'leave' });
  }

  /** Steers for the next tick, one turn at a time: the next is chosen once the last has taken effect. */
  private think(): void {
    const game = this.game;
    if (!game || game.done || this.pending || this.phase !== 'playing') return;
    const replica = game.replica;
    if (replica.status !== 'running' || !replica.isAlive(game.snakeId)) return;
    const giveUp = this.fleet.giveUpAfter;
    if (giveUp !== undefined && replica.tick >= giveUp) return;
    const state = replica.snapshot();
    const choice = this.brain.choose(replica, game.snakeId, state);
    if (choice.dir === state.snakes[game.snakeId].dir) return;
    const seq = ++this.seq;
    this.pending = { seq, sentAt: performance.now(), dir: choice.dir as Dir, t: null };
    this.fleet.turns++;
    this.send({ type: 'turn', dir: TURN_DIRECTIONS[choice.dir as Dir], seq, t: replica.tick + 1, rid: seq });
  }

  private finish(winner: number | null, winningTeam: number | null, mine: { score: number; length: number; snakeId: number; team: number } | null): void {
    const game = this.game!;
    game.done = true;
    this.finished.add(game.id);
    this.pending = null;
    let outcome: Outcome;
    if (this.fleet.mode === 'solo') outcome = 'solo';
    else if (this.fleet.mode === 'teams') outcome = winningTeam === null ? 'draw' : winningTeam === mine?.team ? 'win' : 'loss';
    else outcome = winner === null ? 'draw' : winner === game.snakeId ? 'win' : 'loss';
    this.fleet.completed(game.id, this, { outcome, score: mine?.score ?? 0, length: mine?.length ?? 0 });
  }
}

class Fleet {
  readonly bots: Bot[] = [];
  readonly perGame: number;
  readonly urls: string[];
  readonly mode: BotMode;
  readonly giveUpAfter: number | undefined;
  stopping = false;
  private draining = false;
  /** bots waiting in a queue (or for their solo game) */
  queued = 0;
  private readonly done = new Set<string>();
  private readonly active = new Map<string, Set<Bot>>();
  private readonly outcomes: Array<{ outcome: Outcome; score: number; length: number }> = [];
  private readonly latency = new Samples();
  private readonly jitter = new Samples();
  private intervalSum = 0;
  private readonly errors: Record<string, number> = {};
  private readonly started_ = performance.now();
  private finished!: () => void;
  readonly whenFinished = new Promise<void>((resolve) => { this.finished = resolve; });
  reconnects = 0;
  hashMismatches = 0;
  gaps = 0;
  ticks = 0;
  turns = 0;

  constructor(private readonly options: BotOptions) {
    this.urls = options.urls;
    this.mode = options.mode;
    this.giveUpAfter = options.giveUpAfter;
    this.perGame = options.mode === 'duel' ? 2 : options.mode === 'teams' ? 4 : options.mode === 'solo' ? 1 : options.size ?? 4;
  }

  /** Whether one more bot should queue: enough bots wait or play already for the games still wanted. */
  wantsPlayer(): boolean {
    if (this.stopping || this.draining) return false;
    const target = this.options.games;
    if (target === undefined) return true;
    const wanted = target - this.done.size - this.active.size;
    return wanted > 0 && this.queued < wanted * this.perGame;
  }

  started(gameId: string, bot: Bot): void {
    if (this.done.has(gameId)) return;
    const players = this.active.get(gameId) ?? new Set<Bot>();
    players.add(bot);
    this.active.set(gameId, players);
  }

  completed(gameId: string, bot: Bot, result: { outcome: Outcome; score: number; length: number }): void {
    this.outcomes.push(result);
    this.lost(gameId, bot);
    if (!this.done.has(gameId)) {
      this.done.add(gameId);
      this.active.delete(gameId);
      this.progress();
      if (this.options.games !== undefined && this.done.size >= this.options.games) this.drain();
    }
  }

  /** The bot is no longer in the game (it ended, or is gone). */
  lost(gameId: string, bot: Bot): void {
    const players = this.active.get(gameId);
    if (!players) return;
    players.delete(bot);
    if (players.size === 0) this.active.delete(gameId);
    // a slot may have opened for idle bots
    if (this.options.games !== undefined) for (const b of this.bots) if (b !== bot && b.phase === 'lobby') b.maybePlay();
  }

  error(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  turnAcked(turn: AckedTurn): void {
    this.options.onTurnAcked?.(turn);
  }

  ackLatency(ms: number): void {
    this.latency.add(ms);
  }

  tickInterval(ms: number, tickMs: number): void {
    this.intervalSum += ms;
    this.jitter.add(Math.abs(ms - tickMs));
  }

  progress(): void {
    this.options.onProgress?.({
      completed: this.done.size, active: this.active.size, connected: this.bots.filter((b) => b.connected).length,
      reconnects: this.reconnects, hashMismatches: this.hashMismatches, elapsedMs: performance.now() - this.started_,
    });
  }

  /**
   * The goal is reached: no more queueing; the other players of the games just completed get their `over` (for
   * the results) before the fleet stops, for up to DRAIN_MS: also one reconnecting meanwhile (its node died), which
   * gets it when it rejoins.
   */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    const deadline = performance.now() + DRAIN_MS;
    const check = () => {
      const waiting = this.bots.some((b) => b.gameId !== null && this.done.has(b.gameId));
      if (!waiting || performance.now() > deadline) this.stop();
      else setTimeout(check, 10);
    };
    check();
  }

  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const bot of this.bots) bot.close();
    this.finished();
  }

  summary(): BotSummary {
    const n = this.outcomes.length;
    const count = (o: Outcome) => this.outcomes.filter((r) => r.outcome === o).length;
    const jitter = this.jitter.percentiles();
    return {
      games: this.done.size,
      gameIds: [...this.done],
      durationMs: Math.round(performance.now() - this.started_),
      results: {
        played: n, wins: count('win'), losses: count('loss'), draws: count('draw'), solo: count('solo'),
        avgScore: n ? round(this.outcomes.reduce((s, r) => s + r.score, 0) / n) : 0,
        avgLength: n ? round(this.outcomes.reduce((s, r) => s + r.length, 0) / n) : 0,
      },
      ackLatencyMs: this.latency.percentiles(),
      tickJitterMs: { ...jitter, meanIntervalMs: jitter.count ? round(this.intervalSum / jitter.count) : 0 },
      ticks: this.ticks, turns: this.turns, hashMismatches: this.hashMismatches, gaps: this.gaps,
      reconnects: this.reconnects, errors: { ...this.errors },
    };
  }
}

/** Checks options the way the CLI needs them checked: each problem named, with what is expected. */
export function checkBotOptions(options: BotOptions): void {
  if (options.urls.length === 0) throw new BotError('give at least one node URL (--url ws://HOST:PORT/ws)');
  for (const url of options.urls) {
    if (!isUrl(url, ['ws', 'wss'])) throw new BotError(`--url must be a ws:// or wss:// URL such as ws://127.0.0.1:8080/ws, got "${url}"`);
  }
  if (!Number.isInteger(options.bots) || options.bots < 1 || options.bots > 100_000) throw new BotError(`--bots must be a whole number from 1 to 100000, got ${options.bots}`);
  if (!(BOT_MODES as readonly string[]).includes(options.mode)) throw new BotError(`--mode must be one of ${BOT_MODES.join(', ')}, got "${options.mode}"`);
  if (options.size !== undefined && options.mode !== 'ffa') {
    throw new BotError(`--size is for --mode ffa only (${options.mode} games have ${options.mode === 'duel' ? 2 : 4} players); leave it out`);
  }
  if (options.size !== undefined && (!Number.isInteger(options.size) || options.size < 2 || options.size > 8)) {
    throw new BotError(`--size must be a whole number from 2 to 8, got ${options.size}`);
  }
  if (options.games !== undefined && (!Number.isInteger(options.games) || options.games < 1)) throw new BotError(`--games must be a whole number above 0, got ${options.games}`);
  if (options.durationMs !== undefined && !(options.durationMs > 0 && options.durationMs <= MAX_TIMER_MS)) {
    throw new BotError(`--duration must be a number of seconds above 0 and at most ${Math.floor(MAX_TIMER_MS / 1000)} (24.8 days)`);
  }
  if (options.giveUpAfter !== undefined && (!Number.isInteger(options.giveUpAfter) || options.giveUpAfter < 0)) {
    throw new BotError(`--give-up must be a tick (a whole number), got ${options.giveUpAfter}`);
  }
  const perGame = options.mode === 'duel' ? 2 : options.mode === 'teams' ? 4 : options.mode === 'ffa' ? options.size ?? 4 : 1;
  if (options.bots < perGame) throw new BotError(`--mode ${options.mode} needs at least ${perGame} bots, got ${options.bots}`);
}

/** Opens and closes one connection, so a wrong URL fails at once with a clear message. */
function probe(url: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => { ws.terminate(); reject(new BotError(`no answer from ${url} within ${timeoutMs} ms`)); }, timeoutMs);
    ws.once('open', () => { clearTimeout(timer); ws.close(); resolve(); });
    ws.once('error', (err) => {
      clearTimeout(timer);
      // an HTTP answer to the upgrade: the URL reaches a node, but not its WebSocket endpoint
      const hint = /Unexpected server response/.test(err.message) ? ' (a node serves its WebSocket at /ws: ws://HOST:PORT/ws)' : '';
      reject(new BotError(`cannot connect to ${url}: ${err.message}${hint}`));
    });
  });
}

/** Runs a fleet of bots until `games` completed, `durationMs` passed or `signal` aborted; then reports. */
export async function runBots(options: BotOptions): Promise<BotSummary> {
  checkBotOptions(options);
  for (const url of new Set(options.urls)) await probe(url);
  const fleet = new Fleet(options);
  const name = options.name ?? 'bot';
  for (let i = 0; i < options.bots; i++) fleet.bots.push(new Bot(fleet, `${name}-${i}`.slice(0, 20), i));
  const timers: NodeJS.Timeout[] = [];
  if (options.durationMs !== undefined) timers.push(setTimeout(() => fleet.stop(), options.durationMs));
  const onAbort = () => fleet.stop();
  if (options.signal?.aborted) fleet.stop();
  options.signal?.addEventListener('abort', onAbort);
  timers.push(setInterval(() => fleet.progress(), 1000));
  // connect in small batches, so a thousand bots do not arrive in one burst
  for (let i = 0; i < fleet.bots.length && !fleet.stopping; i++) {
    fleet.bots[i].connect();
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
  }
  await fleet.whenFinished;
  for (const t of timers) clearTimeout(t);
  options.signal?.removeEventListener('abort', onAbort);
  fleet.progress();
  return fleet.summary();
}

/** The summary as the CLI prints it. */
export function formatSummary(s: BotSummary): string {
  const r = s.results;
  const p = (x: Percentiles) => `p50 ${x.p50} ms  p95 ${x.p95} ms  p99 ${x.p99} ms  max ${x.max} ms  (n=${x.count})`;
  const errors = Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return [
    `games completed   ${s.games} in ${(s.durationMs / 1000).toFixed(1)} s`,
    `results           ${r.played} player results: ${r.wins} wins, ${r.losses} losses, ${r.draws} draws${r.solo ? `, ${r.solo} solo` : ''}; `
      + `avg score ${r.avgScore}, avg length ${r.avgLength}`,
    `turn -> ack       ${p(s.ackLatencyMs)}`,
    `tick jitter       ${p(s.tickJitterMs)}; mean interval ${s.tickJitterMs.meanIntervalMs} ms`,
    `ticks checked     ${s.ticks}, turns sent ${s.turns}`,
    `hash mismatches   ${s.hashMismatches}${s.gaps ? ` (and ${s.gaps} tick gaps)` : ''}`,
    `reconnects        ${s.reconnects}`,
    `errors            ${errors}`,
  ].join('\n');
}
