// The end-to-end load driver (a child process of bench/e2e.ts): N bot players over WebSockets play duels on a
// node, re-queueing when a game ends. Each bot keeps its game with the engine and steers like the Colyseus
// baseline's bots. Measured: turn→ack latency, and tick delivery = the time a client
// receives a tick − the time the tick was committed (the Redis stream id of the outbox entry that holds it, read
// by a thread of this process from the outboxes), and also − the time the executor stepped it (the record's `at`, so the
// commit round trip counts too). Prints one JSON line with the results.
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { Game, type GameSnapshot } from '../protocol/engine.ts';
import { chooseTurn, nextTurnTick } from './load-steering.ts';
import { decodeServerMessage, encodeClientMessage, directionName, type ServerMessage } from '../protocol/messages.ts';
import { startThread } from '../runtime/thread.ts';
import { loopDelayP99, watchEventLoop } from './colyseus/control.ts';
import type { Commit, CommitsConfig } from './e2e-commits.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' }, bots: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' },
    start: { type: 'string' }, redis: { type: 'string' }, prefix: { type: 'string' }, partitions: { type: 'string' },
  },
});
const URL_ = values.url!;
const BOTS = Number(values.bots);
const SECONDS = Number(values.seconds ?? 15);
const WARMUP = Number(values.warmup ?? 5);
/** the longest the window waits for its bots to be playing (seconds) */
const START = Number(values.start ?? 60);
const PARTITIONS = Number(values.partitions);

const ackLatency: number[] = [];
const tickDelivery: number[] = [];
/** the same ticks measured from when the executor ran the tick (the record's `at`), so the commit is included */
const tickDeliveryFromStep: number[] = [];
let measuring = false;
let ticksReceived = 0;
let games = 0;
let mismatches = 0;
/** receive time of (game, tick) for the ticks whose commit time is not known yet, and the reverse */
const received = new Map<string, number>();
const committed = new Map<string, { at: number; stepped: number }>();

function joinTimes(key: string): void {
  const r = received.get(key);
  const c = committed.get(key);
  if (r === undefined || c === undefined) return;
  if (measuring) {
    tickDelivery.push(r - c.at);
    tickDeliveryFromStep.push(r - c.stepped);
  }
  received.delete(key);
  committed.delete(key);
}

class Bot {
  private ws!: WebSocket;
  private game: Game | null = null;
  /** in a game that steps: it has had a tick of the game it plays now */
  playing = false;
  private gameId = '';
  private snakeId = 0;
  private seq = 0;
  private sent = new Map<number, number>();
  private nextTurnAt = 0;

  constructor(private readonly index: number) {}

  start(): void {
    this.ws = new WebSocket(URL_);
    this.ws.on('open', () => this.send({ type: 'hello', v: 1, name: `bot${this.index}` }));
    this.ws.on('message', (data: Buffer) => this.onMessage(data));
    this.ws.on('error', () => undefined);
  }

  private send(m: Parameters<typeof encodeClientMessage>[0]): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeClientMessage(m));
  }

  private onMessage(data: Buffer): void {
    const now = performance.timeOrigin + performance.now();
    const decoded = decodeServerMessage(new Uint8Array(data));
    if (!decoded.ok) return;
    const m: ServerMessage = decoded.message;
    switch (m.type) {
      case 'welcome':
        this.send({ type: 'queue', mode: 'duel' });
        break;
      case 'snapshot':
        this.nextTurnAt = 0;
        this.game = Game.fromSnapshot(m.state as unknown as GameSnapshot);
        this.gameId = m.gameId;
        this.snakeId = m.snakeId ?? 0;
        break;
      case 'tick': {
        if (!this.game || m.gameId !== this.gameId) break;
        this.playing = true;
        for (const [id, dir] of m.turns) this.game.queueTurn(id, dir, m.t);
        this.game.step();
        if (this.game.hash() !== m.hash) mismatches++;
        ticksReceived++;
        // only one of the two players records delivery for a game, so each tick counts once
        if (this.snakeId === 0) {
          const key = `${m.gameId}:${m.t}`;
          received.set(key, now);
          joinTimes(key);
        }
        if (m.t >= this.nextTurnAt && this.game.status === 'running' && this.game.isAlive(this.snakeId)) {
          this.nextTurnAt = nextTurnTick(m.t);
          this.steer();
        }
        break;
      }
      case 'ack': {
        const at = this.sent.get(m.seq);
        if (at !== undefined && measuring) ackLatency.push(now - at);
        this.sent.delete(m.seq);
        break;
      }
      case 'over':
        if (m.gameId === this.gameId) {
          this.playing = false;
          games++;
          this.game = null;
          this.send({ type: 'queue', mode: 'duel' });
        }
        break;
      default:
        break;
    }
  }

  /** Turns the way every load bot does (bench/load-steering.ts), as the Colyseus baseline's bots do. */
  private steer(): void {
    const game = this.game!;
    const dir = chooseTurn(game, this.snakeId);
    if (dir === null) return;
    const seq = ++this.seq;
    this.sent.set(seq, performance.timeOrigin + performance.now());
    this.send({ type: 'turn', dir: directionName(dir), seq, t: game.tick + 1 });
  }

  stop(): void {
    this.ws.close();
  }
}

/** Notes when each tick of each game was committed, as the commits thread (bench/e2e-commits.ts) reads them. */
function followCommits(): { stop(): Promise<void> } {
  const thread = startThread(new URL('./e2e-commits.ts', import.meta.url),
    { redis: values.redis!, prefix: values.prefix!, partitions: PARTITIONS } satisfies CommitsConfig, 'commits');
  thread.on('message', (batch: Commit[]) => {
    for (const [key, at, stepped] of batch) {
      committed.set(key, { at, stepped });
      joinTimes(key);
    }
    if (committed.size > 200_000) committed.clear();
    if (received.size > 200_000) received.clear();
  });
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  return { stop: async () => { thread.postMessage('stop'); await exited; } };
}

const bots = Array.from({ length: BOTS }, (_, i) => new Bot(i));
const follower = followCommits();
for (let i = 0; i < bots.length; i++) {
  bots[i].start();
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
}
// as the baseline's drivers do: the window opens once nine in ten bots are in a stepping game (so the first rush of
// joins and game starts is not in it), after the warm-up
const deadline = Date.now() + START * 1000;
while (bots.filter((b) => b.playing).length < 0.9 * BOTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
await new Promise((r) => setTimeout(r, WARMUP * 1000));
measuring = true;
// the parent samples the server's CPU between these two lines
process.stdout.write('{"phase":"measuring"}\n');
const cpuStart = process.cpuUsage();
// this process's own event loop delay in the window, measured as the baseline's drivers measure theirs
const loopDelay = watchEventLoop();
const ticksStart = ticksReceived;
await new Promise((r) => setTimeout(r, SECONDS * 1000));
measuring = false;
process.stdout.write('{"phase":"measured"}\n');
const cpu = process.cpuUsage(cpuStart);
loopDelay.disable();
for (const b of bots) b.stop();
await follower.stop();
const pct = (xs: number[], q: number) => {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
process.stdout.write(`${JSON.stringify({
  bots: BOTS, seconds: SECONDS, games, mismatches, ticksPerSecond: (ticksReceived - ticksStart) / SECONDS,
  ackP50: pct(ackLatency, 0.5), ackP99: pct(ackLatency, 0.99), acks: ackLatency.length,
  deliveryP50: pct(tickDelivery, 0.5), deliveryP99: pct(tickDelivery, 0.99), deliveries: tickDelivery.length,
  stepDeliveryP50: pct(tickDeliveryFromStep, 0.5), stepDeliveryP99: pct(tickDeliveryFromStep, 0.99),
  driverCpuPct: ((cpu.user + cpu.system) / 1000 / (SECONDS * 1000)) * 100,
  driverLoopDelayP99: loopDelayP99(loopDelay),
})}\n`);
process.exit(0);
