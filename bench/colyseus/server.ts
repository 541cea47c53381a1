// The Colyseus baseline server: SnakeTron's duel as a Colyseus 0.18 room on the uWebSockets transport. The room
// steps the project's own engine every 150 ms and broadcasts each step as one `tick` message, as a SnakeTron node
// does; turns are acked. Unlike SnakeTron, the game lives only in this process's memory: that is the comparison.
//
// Run alone: `npx --prefix bench/colyseus tsx bench/colyseus/server.ts [--port 2567]`. Started by bench/colyseus.ts
// with an IPC channel, it reports `listening` and answers `sample` requests (control.ts).

import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { uWebSocketsTransport } from '@colyseus/uwebsockets-transport';
import { defineRoom, defineServer, Room, type Client } from 'colyseus';
import { DIR_NAMES, dirFromName, Game } from '../../protocol/engine.ts';
import { defaultSettings } from '../../protocol/settings.ts';
import { loopDelayP99, watchEventLoop, type SampleRequest, type ServerReport } from './control.ts';
import {
  COUNTDOWN_MS, MAX_QUEUED_TURNS, MAX_TURN_AHEAD, ROOM_NAME, wallClockMs,
  type AckMessage, type ErrorMessage, type OverMessage, type SnapshotMessage, type TickMessage,
} from './messages.ts';

/** How long a dropped player's seat is kept for `client.reconnect(token)`: what a Colyseus game that wants rejoins does. */
const RECONNECT_SECONDS = 30;

/** What the orchestrator samples. */
const live = { rooms: 0, games: 0, clients: 0 };

interface Seat { snakeId: number; waitingTurns: number[] }

class TurnRejected extends Error {
  constructor(readonly code: ErrorMessage['code'], message: string) {
    super(message);
  }
}

export class DuelRoom extends Room {
  override maxClients = 2;
  // Events, not state sync: every step is one broadcast message, as in SnakeTron, so no patches are sent.
  override patchRate: number | null = null;

  private game!: Game;
  private readonly seats = new Map<string, Seat>();
  private stepping = false;

  override messages = {
    turn: (client: Client, message: unknown) => this.onTurn(client, message),
  };

  override onCreate(): void {
    this.game = Game.create(defaultSettings('duel'), randomInt(0x1_0000_0000), 2);
    live.rooms++;
  }

  override onJoin(client: Client): void {
    live.clients++;
    this.seats.set(client.sessionId, { snakeId: this.seats.size, waitingTurns: [] });
    if (this.seats.size === 2) this.countDown();
  }

  /** Both seats taken (the room locks itself at maxClients): the snapshot, then step 1 after the countdown. */
  private countDown(): void {
    const startAt = Date.now() + COUNTDOWN_MS;
    const state = this.game.snapshot();
    for (const client of this.clients) {
      const seat = this.seats.get(client.sessionId)!;
      const snapshot: SnapshotMessage = {
        gameId: this.roomId, role: 'player', snakeId: seat.snakeId, tickMs: this.game.settings.tickMs, startAt, state,
      };
      client.send('snapshot', snapshot);
    }
    // The clock ticks at 60 Hz while no timestep runs, which is what serves this timeout.
    this.clock.setTimeout(() => this.start(), COUNTDOWN_MS);
  }

  private start(): void {
    this.stepping = true;
    live.games++;
    this.setTimestep(() => this.step(), this.game.settings.tickMs);
    // Assigned again now that the timestep ticks the clock: this drops the 60 Hz clock timer the room had so far.
    this.patchRate = null;
  }

  private step(): void {
    if (!this.stepping) return;
    const { t, turns, died, food } = this.game.step();
    const tick: TickMessage = { gameId: this.roomId, t, turns, died, food, hash: this.game.hash(), ts: wallClockMs() };
    this.broadcast('tick', tick);
    if (this.game.status === 'complete') this.finish();
  }

  private finish(): void {
    const over: OverMessage = { gameId: this.roomId, t: this.game.tick, winner: this.game.winner, results: this.game.results() };
    this.broadcast('over', over);
    this.stepping = false;
    live.games--;
    void this.disconnect();
  }

  private onTurn(client: Client, message: unknown): void {
    try {
      const ack: AckMessage = this.turn(client, message);
      client.send('ack', ack);
    } catch (err) {
      if (!(err instanceof TurnRejected)) throw err;
      const error: ErrorMessage = { code: err.code, message: err.message };
      client.send('error', error);
    }
  }

  /** PROTOCOL.md `turn`: the sender's own snake, `t` defaulting to the next tick. */
  private turn(client: Client, message: unknown): AckMessage {
    const { dir, seq, t } = (message ?? {}) as { dir?: unknown; seq?: unknown; t?: unknown };
    const code = typeof dir === 'string' ? dirFromName(dir) : null;
    if (code === null) throw new TurnRejected('bad_message', `turn.dir must be one of ${DIR_NAMES.join(', ')}`);
    if (typeof seq !== 'number' || !Number.isInteger(seq)) throw new TurnRejected('bad_message', 'turn.seq must be an integer');
    if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t))) throw new TurnRejected('bad_message', 'turn.t must be an integer');
    const seat = this.seats.get(client.sessionId);
    if (seat === undefined || this.seats.size < 2) throw new TurnRejected('bad_state', 'the game has not started');
    if (this.game.status === 'complete') throw new TurnRejected('bad_state', 'the game is over');
    if (!this.game.isAlive(seat.snakeId)) throw new TurnRejected('bad_state', 'your snake is dead');
    const now = this.game.tick;
    const wanted = t === undefined || t <= now ? now + 1 : t;
    if (wanted - now > MAX_TURN_AHEAD) throw new TurnRejected('too_far', `turn.t ${wanted} is more than ${MAX_TURN_AHEAD} ticks ahead of tick ${now}`);
    seat.waitingTurns = seat.waitingTurns.filter((w) => w > now);
    if (seat.waitingTurns.length >= MAX_QUEUED_TURNS) throw new TurnRejected('queue_full', `${MAX_QUEUED_TURNS} turns already wait for your snake`);
    this.game.queueTurn(seat.snakeId, code, wanted);
    seat.waitingTurns.push(wanted);
    return { seq, t: wanted };
  }

  // A player who drops may come back with its reconnection token; the game goes on meanwhile (GAME.md "Turns").
  override onDrop(client: Client): void {
    this.allowReconnection(client, RECONNECT_SECONDS);
  }

  override onLeave(): void {
    live.clients--;
  }

  override onDispose(): void {
    live.rooms--;
    if (this.stepping) live.games--;
  }
}

function report(message: ServerReport): void {
  process.send?.(message);
}

const { values } = parseArgs({ options: { port: { type: 'string', default: '2567' } } });
const port = Number(values.port);
const server = defineServer({
  rooms: { [ROOM_NAME]: defineRoom(DuelRoom) },
  transport: new uWebSocketsTransport(),
  greet: false,
});
await server.listen(port, '127.0.0.1');
console.log(`colyseus baseline: ${ROOM_NAME} rooms on ws://127.0.0.1:${port}`);

const loopDelay = watchEventLoop();
process.on('message', (request: SampleRequest) => {
  if (request.kind !== 'sample') return;
  const { rss, heapUsed } = process.memoryUsage();
  report({ kind: 'sample', cpu: process.cpuUsage(), rss, heapUsed, ...live, loopDelayP99: loopDelayP99(loopDelay) });
  loopDelay.reset();
});
report({ kind: 'listening', port });
