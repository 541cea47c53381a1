// One bot player of the Colyseus duel room, through the Colyseus SDK as a game client would use it: joins with
// joinOrCreate, keeps its own copy of the game from the snapshot and the ticks (checking every hash), steers every
// few ticks toward open space, and records what load.ts reports (tick delivery, tick interval, turn → ack).

import type { Client, Room } from '@colyseus/sdk';
import { DIR_NAMES, Game, type Dir } from '../../protocol/engine.ts';
import { LatencyHistogram } from './histogram.ts';
import {
  ROOM_NAME, wallClockMs,
  type AckMessage, type SnapshotMessage, type TickMessage, type TurnMessage,
} from './messages.ts';

/** Ticks between two turns of one bot: a turn about every 3.5 ticks, a bit over 500 ms. */
const TURN_EVERY_MIN = 2;
const TURN_EVERY_MAX = 5;
/** How far a bot looks down each way it could turn. */
const LOOKAHEAD = 8;
const DX = [0, 1, 0, -1] as const;
const DY = [-1, 0, 1, 0] as const;

/** What the bots of one process saw since the last reset. */
export class Stats {
  readonly tickLatency = new LatencyHistogram();
  readonly tickInterval = new LatencyHistogram();
  readonly ackLatency = new LatencyHistogram();
  ticks = 0;
  gaps = 0;
  hashMismatches = 0;
  turns = 0;
  acks = 0;
  errors = 0;
  gamesStarted = 0;
  gamesOver = 0;
  joinFailures = 0;

  reset(): void {
    this.tickLatency.reset();
    this.tickInterval.reset();
    this.ackLatency.reset();
    this.ticks = this.gaps = this.hashMismatches = this.turns = this.acks = this.errors = 0;
    this.gamesStarted = this.gamesOver = this.joinFailures = 0;
  }
}

/** Admits at most `limit` callers at once, first come first served. */
export class Gate {
  private inside = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async through<T>(work: () => Promise<T>): Promise<T> {
    if (this.inside >= this.limit) await new Promise<void>((admit) => this.queue.push(admit));
    this.inside++;
    try {
      return await work();
    } finally {
      this.inside--;
      this.queue.shift()?.();
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function randomBetween(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

export class DuelBot {
  /** the room of the game being played, once joined */
  room: Room | undefined;
  /** the last tick received */
  lastT = 0;
  /** in a game that has started stepping */
  playing = false;
  private game: Game | undefined;
  private snakeId = 0;
  private lastTickAt = 0;
  private nextTurnAt = 0;
  private seq = 0;
  private readonly sentAt = new Map<number, number>();
  private stopped = false;

  constructor(private readonly sdk: Client, private readonly stats: Stats, private readonly joins = new Gate(1)) {}

  /**
   * Joins a duel; the promise it returns settles once the room is left. `reconnect` keeps the SDK's automatic
   * reconnection: a load bot turns it off, since a dropped connection has nothing to come back to there.
   */
  async join(reconnect = false): Promise<{ left: Promise<number> }> {
    const room = await this.joins.through(() => this.sdk.joinOrCreate(ROOM_NAME));
    this.room = room;
    room.reconnection.enabled = reconnect;
    room.onMessage('snapshot', (m: SnapshotMessage) => this.onSnapshot(m));
    room.onMessage('tick', (m: TickMessage) => this.onTick(m));
    room.onMessage('ack', (m: AckMessage) => this.onAck(m));
    room.onMessage('over', () => { this.stats.gamesOver++; });
    room.onMessage('error', () => { this.stats.errors++; });
    const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
    return { left };
  }

  /** Plays games back to back until `stop()`. */
  async playUntilStopped(): Promise<void> {
    while (!this.stopped) {
      try {
        const { left } = await this.join();
        await left;
      } catch {
        this.stats.joinFailures++;
        await sleep(500);
      }
      this.playing = false;
      this.room = undefined;
      this.game = undefined;
      this.sentAt.clear();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.room?.leave(true);
  }

  private onSnapshot(m: SnapshotMessage): void {
    this.game = Game.fromSnapshot(m.state);
    this.snakeId = m.snakeId;
    this.lastT = m.state.tick;
    this.lastTickAt = 0;
    this.nextTurnAt = m.state.tick + randomBetween(TURN_EVERY_MIN, TURN_EVERY_MAX);
  }

  private onTick(m: TickMessage): void {
    const now = wallClockMs();
    const stats = this.stats;
    stats.ticks++;
    stats.tickLatency.record(now - m.ts);
    if (m.t !== this.lastT + 1) stats.gaps++;
    else if (this.lastTickAt > 0) stats.tickInterval.record(now - this.lastTickAt);
    this.lastT = m.t;
    this.lastTickAt = now;
    if (!this.playing) {
      this.playing = true;
      stats.gamesStarted++;
    }
    const game = this.game;
    if (game === undefined) return;
    for (const [snakeId, dir] of m.turns) game.queueTurn(snakeId, dir, m.t);
    game.step();
    if (game.hash() !== m.hash) stats.hashMismatches++;
    if (m.t >= this.nextTurnAt && game.status === 'running' && game.isAlive(this.snakeId)) {
      this.nextTurnAt = m.t + randomBetween(TURN_EVERY_MIN, TURN_EVERY_MAX);
      this.steer(game);
    }
  }

  /** Turns to whichever side has the longer free run ahead (either, on a tie); turns nowhere when both are blocked. */
  private steer(game: Game): void {
    const state = game.snapshot();
    const { width, height } = state.settings;
    const taken = new Set<number>();
    for (const snake of state.snakes) if (snake.alive) for (const [x, y] of snake.body) taken.add(y * width + x);
    const me = state.snakes[this.snakeId];
    const [hx, hy] = me.body[0];
    const run = (dir: Dir): number => {
      let n = 0;
      for (let x = hx + DX[dir], y = hy + DY[dir]; n < LOOKAHEAD; x += DX[dir], y += DY[dir], n++) {
        if (x < 0 || y < 0 || x >= width || y >= height || taken.has(y * width + x)) break;
      }
      return n;
    };
    const left = ((me.dir + 3) % 4) as Dir;
    const right = ((me.dir + 1) % 4) as Dir;
    const [l, r] = [run(left), run(right)];
    if (l === 0 && r === 0) return;
    const dir = l > r ? left : r > l ? right : Math.random() < 0.5 ? left : right;
    const seq = ++this.seq;
    const turn: TurnMessage = { dir: DIR_NAMES[dir], seq, t: game.tick + 1 };
    this.sentAt.set(seq, performance.now());
    this.room?.send('turn', turn);
    this.stats.turns++;
  }

  private onAck(m: AckMessage): void {
    const sentAt = this.sentAt.get(m.seq);
    if (sentAt === undefined) return;
    this.sentAt.delete(m.seq);
    this.stats.acks++;
    this.stats.ackLatency.record(performance.now() - sentAt);
  }
}
