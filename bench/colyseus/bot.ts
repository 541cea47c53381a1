// One bot player of the Colyseus duel room, through the Colyseus SDK as a game client would use it: joins with
// joinOrCreate, keeps its own copy of the game from the snapshot and the ticks (checking every hash), steers every
// few ticks toward open space, and records what load.ts reports (tick delivery, tick interval, turn → ack).

import type { Client, Room } from '@colyseus/sdk';
import { DIR_NAMES, Game } from '../../protocol/engine.ts';
import { chooseTurn, nextTurnTick } from '../load-steering.ts';
import { LatencyHistogram } from './histogram.ts';
import {
  ROOM_NAME, wallClockMs,
  type AckMessage, type SnapshotMessage, type TickMessage, type TurnMessage,
} from './messages.ts';

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
    this.nextTurnAt = nextTurnTick(m.state.tick);
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
      this.nextTurnAt = nextTurnTick(m.t);
      this.steer(game);
    }
  }

  /** Turns the way every load bot does (bench/load-steering.ts). */
  private steer(game: Game): void {
    const dir = chooseTurn(game, this.snakeId);
    if (dir === null) return;
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
