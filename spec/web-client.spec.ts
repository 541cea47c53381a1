// The web client's pure parts, in Node: the copy of a game it keeps from snapshots and ticks (and how it notices
// drift), turn filtering, interpolation, the replay adapter and player, the server clock, the session rules; and
// that the page bundles for the browser with every element the code looks up.
import { expect } from 'chai';
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Game, type Cell, type Dir } from '../protocol/engine.ts';
import {
  decodeServerMessage, encodeServerMessage, type OverMessage, type ServerMessage, type SnapshotMessage, type TickMessage,
} from '../protocol/messages.ts';
import { defaultSettings, type Mode, type Settings } from '../protocol/settings.ts';
import { buildReplay } from '../actors/snaketron/replay.ts';
import { ServerClock } from '../web/clock.ts';
import { backoffDelay, Connection, socketUrl } from '../web/connection.ts';
import { createServer, type AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { waitFor } from './support/env.ts';
import { GameSync, TurnIntent, engineSnapshot } from '../web/game-sync.ts';
import { keyDirection, swipeDirection } from '../web/input.ts';
import { interpolateBody, tickProgress } from '../web/interpolate.ts';
import { ReplayClock, ReplayFormatError, ReplayPlayer, parseReplay, replayUrl } from '../web/replay.ts';
import {
  describeQueue, joinCodeOf, leftGame, loadProfile, loadResume, matchCaption, overSummary, parseHash, playModeOf, playRequest, queueName,
  readLobbyForm, rememberLeftGame, saveProfile, saveResume, settingProblem,
} from '../web/session.ts';
import { boardView, MIN_CELL_PX, MIN_WHOLE_CELL_PX, minimapCorner } from '../web/game-view.ts';

// ---- a node in miniature: the authoritative game and the messages it sends ------------------------------------

/** Through the real codecs, so the client reads exactly what a node would send. */
function wire<T extends ServerMessage>(message: T): T {
  const decoded = decodeServerMessage(encodeServerMessage(message));
  if (!decoded.ok) throw new Error(`the codec rejected a ${message.type}: ${decoded.error.message}`);
  return decoded.message as T;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

class FakeNode {
  readonly game: Game;
  readonly turnLog: Array<[number, number, Dir]> = [];
  private readonly random: () => number;

  constructor(readonly gameId: string, settings: Settings, seed: number, players: number) {
    this.game = Game.create(settings, seed, players);
    this.random = rng(seed ^ 0x5eed);
  }

  /** The snapshot as the protocol carries it: no queues, no death ticks, no winner fields. */
  snapshot(snakeId: number | null, startAt: number | null = null): SnapshotMessage {
    const s = this.game.snapshot();
    return wire({
      type: 'snapshot',
      gameId: this.gameId,
      role: snakeId === null ? 'spectator' : 'player',
      snakeId,
      tickMs: s.settings.tickMs,
      startAt,
      state: {
        tick: s.tick, status: s.status, seed: s.seed, rng: s.rng, settings: s.settings, food: s.food,
        snakes: s.snakes.map((snake) => ({
          id: snake.id, userId: `u${snake.id}`, name: `player${snake.id}`, team: snake.team, alive: snake.alive,
          dir: snake.dir, grow: snake.grow, score: snake.score, body: snake.body,
        })),
      },
    });
  }

  /** One step with random turns (some for later ticks, some ineffective), as the `tick` the node sends. */
  step(): TickMessage {
    for (let i = 0; i < this.game.snakeCount; i++) {
      if (this.random() % 3 === 0) {
        const dir = (this.random() % 4) as Dir;
        const t = this.game.tick + 1 + (this.random() % 3);
        this.game.queueTurn(i, dir, t);
      }
    }
    const events = this.game.step();
    for (const [snakeId, dir] of events.turns) this.turnLog.push([events.t, snakeId, dir]);
    return wire({
      type: 'tick', gameId: this.gameId, t: events.t, turns: events.turns, died: events.died, food: events.food,
      hash: this.game.hash(),
    });
  }
}

const FFA: Settings = { ...defaultSettings('ffa'), width: 30, height: 30, players: 4 };

// ---- the client's copy of a game ------------------------------------------------------------------------------

describe('web client: the copy of a game (GameSync)', () => {
  it('follows the node tick by tick with equal hashes, from the first snapshot to the end', () => {
    const node = new FakeNode('g1', FFA, 4242, 4);
    const sync = new GameSync(node.snapshot(2, 1_000), 0);
    expect(sync.snakeId).to.equal(2);
    expect(sync.startAt).to.equal(1_000);
    expect(sync.hash()).to.equal(node.game.hash());
    let ticks = 0;
    while (node.game.status === 'running' && ticks < 2000) {
      const tick = node.step();
      expect(sync.applyTick(tick, ticks * 10)).to.equal('applied');
      expect(sync.hash()).to.equal(tick.hash);
      ticks++;
    }
    expect(node.game.status).to.equal('complete');
    expect(sync.status).to.equal('complete');
    expect(sync.tick).to.equal(node.game.tick);
    expect(sync.hashMismatches).to.equal(0);
    expect(sync.startAt).to.equal(null);
    expect(sync.alive).to.equal(node.game.isAlive(2));
    const server = node.game.snapshot();
    expect(sync.frame.snakes.map((s) => s.body)).to.deep.equal(server.snakes.map((s) => s.body));
    expect(sync.frame.food).to.deep.equal(server.food);
    expect(sync.frame.snakes.map((s) => s.name)).to.deep.equal(['player0', 'player1', 'player2', 'player3']);
  });

  it('joins mid-game from a snapshot taken while turns were still queued on the node', () => {
    const node = new FakeNode('g2', FFA, 99, 4);
    for (let i = 0; i < 15; i++) node.step();
    // Turns queued on the node for later ticks are not in the snapshot; the ticks carry them when they apply.
    node.game.queueTurn(0, 0, node.game.tick + 2);
    node.game.queueTurn(0, 3, node.game.tick + 3);
    const sync = new GameSync(node.snapshot(null), 0);
    expect(sync.role).to.equal('spectator');
    expect(sync.alive).to.equal(false);
    for (let i = 0; i < 40 && node.game.status === 'running'; i++) expect(sync.applyTick(node.step(), i)).to.equal('applied');
  });

  it('counts a hash mismatch, ignores ticks until the next snapshot, then follows again', () => {
    const node = new FakeNode('g3', FFA, 7, 4);
    const sync = new GameSync(node.snapshot(0), 0);
    expect(sync.applyTick(node.step(), 1)).to.equal('applied');
    const bad = node.step();
    expect(sync.applyTick({ ...bad, hash: (bad.hash + 1) >>> 0 }, 2)).to.equal('mismatch');
    expect(sync.hashMismatches).to.equal(1);
    expect(sync.resyncing).to.equal(true);
    expect(sync.applyTick(node.step(), 3)).to.equal('resyncing');
    sync.resync(node.snapshot(0), 4);
    expect(sync.resyncing).to.equal(false);
    expect(sync.tick).to.equal(node.game.tick);
    expect(sync.frame.snakes[0].prevBody).to.equal(null);
    expect(sync.applyTick(node.step(), 5)).to.equal('applied');
    expect(sync.hashMismatches).to.equal(1);
  });

  it('treats a gap in t as drift, and a tick it already has as stale', () => {
    const node = new FakeNode('g4', FFA, 11, 4);
    const sync = new GameSync(node.snapshot(1), 0);
    const first = node.step();
    expect(sync.applyTick(first, 1)).to.equal('applied');
    expect(sync.applyTick(first, 1)).to.equal('stale');
    node.step();
    expect(sync.applyTick(node.step(), 2)).to.equal('gap');
    expect(sync.gaps).to.equal(1);
    expect(sync.resyncing).to.equal(true);
    // A snapshot may be older than ticks already in flight, or newer: both line up again.
    sync.resync(node.snapshot(1), 3);
    expect(sync.applyTick(node.step(), 4)).to.equal('applied');
  });

  it('ignores ticks of another game', () => {
    const node = new FakeNode('g5', FFA, 5, 4);
    const other = new FakeNode('g6', FFA, 5, 4);
    const sync = new GameSync(node.snapshot(0), 0);
    expect(sync.applyTick(other.step(), 1)).to.equal('ignored');
    expect(sync.tick).to.equal(0);
    expect(() => sync.resync(other.snapshot(0), 2)).to.throw(/g6/);
  });

  it('keeps the bodies before the latest step for interpolation, and the time it was applied', () => {
    const node = new FakeNode('g7', { ...defaultSettings('solo'), width: 20, height: 20 }, 3, 1);
    const sync = new GameSync(node.snapshot(0), 0);
    const before = sync.frame.snakes[0].body;
    sync.applyTick(node.step(), 150);
    const after = sync.frame.snakes[0];
    expect(after.prevBody).to.deep.equal(before);
    expect(sync.frame.steppedAt).to.equal(150);
    expect(interpolateBody(after.prevBody, after.body, 0).slice(0, 1)).to.deep.equal([before[0]]);
  });

  it('reads the engine shape from the protocol state without the fields only the node keeps', () => {
    const node = new FakeNode('g8', FFA, 1, 4);
    const snapshot = node.snapshot(0);
    const engine = engineSnapshot(snapshot.state);
    expect(engine.winner).to.equal(null);
    expect(engine.snakes.every((s) => s.diedAt === null && s.queue === undefined)).to.equal(true);
    expect(Game.fromSnapshot(engine).hash()).to.equal(node.game.hash());
  });
});

describe('web client: turn filtering (TurnIntent)', () => {
  it('sends only turns that can take effect after the pending ones', () => {
    const intent = new TurnIntent();
    const right: Dir = 1;
    expect(intent.offer(right, 1)).to.equal(false); // same direction
    expect(intent.offer(right, 3)).to.equal(false); // reversal
    expect(intent.offer(right, 0)).to.equal(true); // up
    expect(intent.offer(right, 2)).to.equal(false); // down after up is a reversal
    expect(intent.offer(right, 3)).to.equal(true); // left after up
    expect(intent.next).to.equal(0);
    expect(intent.intended(right)).to.equal(3);
    intent.stepped(null); // a step that applied no turn to this snake consumed nothing
    expect(intent.size).to.equal(2);
    intent.stepped(0);
    expect(intent.next).to.equal(3);
    intent.clear();
    expect(intent.intended(2)).to.equal(2);
  });

  it('holds at most the node queue limit', () => {
    const intent = new TurnIntent(8);
    const current: Dir = 1;
    let sent = 0;
    for (let i = 0; i < 20; i++) {
      const dir = ((intent.intended(current) + 1) % 4) as Dir;
      if (intent.offer(current, dir)) sent++;
    }
    expect(sent).to.equal(8);
    expect(intent.size).to.equal(8);
  });
});

// ---- interpolation --------------------------------------------------------------------------------------------

describe('web client: interpolation', () => {
  const prev: Cell[] = [[5, 5], [4, 5], [3, 5], [2, 5]];
  const moved: Cell[] = [[5, 4], [5, 5], [4, 5], [3, 5]];
  const grown: Cell[] = [[5, 4], [5, 5], [4, 5], [3, 5], [2, 5]];

  it('slides the head and the tail by alpha and keeps the middle', () => {
    expect(interpolateBody(prev, moved, 0)).to.deep.equal([[5, 5], [5, 5], [4, 5], [3, 5], [2, 5]]);
    expect(interpolateBody(prev, moved, 0.5)).to.deep.equal([[5, 4.5], [5, 5], [4, 5], [3, 5], [2.5, 5]]);
    expect(interpolateBody(prev, moved, 1)).to.deep.equal([[5, 4], [5, 5], [4, 5], [3, 5], [3, 5]]);
  });

  it('keeps the tail still while the snake grows', () => {
    expect(interpolateBody(prev, grown, 0.25)).to.deep.equal([[5, 4.75], [5, 5], [4, 5], [3, 5], [2, 5]]);
  });

  it('draws the body as it is when there is nothing to slide from', () => {
    expect(interpolateBody(null, moved, 0.5)).to.deep.equal(moved);
    expect(interpolateBody(prev, prev, 0.5)).to.deep.equal(prev); // died: the body before the step
    expect(interpolateBody([[9, 9], [9, 8]], moved, 0.5)).to.deep.equal(moved); // a snapshot jump
  });

  it('runs 0..1 over one tick', () => {
    expect(tickProgress(1000, 900, 150)).to.equal(0);
    expect(tickProgress(1000, 1075, 150)).to.equal(0.5);
    expect(tickProgress(1000, 5000, 150)).to.equal(1);
    expect(tickProgress(1000, 1000, 0)).to.equal(1);
  });
});

// ---- replays --------------------------------------------------------------------------------------------------

/** A replay in the shape assumed of `GET /api/games/:id/replay?format=json`, from a game the fake node played. */
function playedReplay(seed = 2024): { json: Record<string, unknown>; node: FakeNode } {
  const node = new FakeNode('r1', FFA, seed, 4);
  const hashes: Array<[number, number]> = [[0, node.game.hash()]];
  while (node.game.status === 'running' && node.game.tick < 3000) {
    const tick = node.step();
    if (tick.t % 100 === 0) hashes.push([tick.t, tick.hash]);
  }
  hashes.push([node.game.tick, node.game.hash()]);
  const json = {
    v: 1,
    gameId: 'r1',
    settings: node.game.settings,
    seed,
    players: [0, 1, 2, 3].map((i) => ({ userId: `u${i}`, name: `player${i}`, snakeId: i })),
    turns: node.turnLog,
    hashes,
    finalHash: node.game.hash(),
    ticks: node.game.tick,
  };
  return { json: JSON.parse(JSON.stringify(json)) as Record<string, unknown>, node };
}

describe('web client: replays', () => {
  it('reads the assumed JSON shape and replays the game to its final hash', () => {
    const { json, node } = playedReplay();
    const replay = parseReplay(json);
    expect(replay.players.map((p) => p.name)).to.deep.equal(['player0', 'player1', 'player2', 'player3']);
    expect(replay.lastTick).to.equal(node.game.tick);
    const player = new ReplayPlayer(replay);
    let steps = 0;
    while (player.step(steps)) steps++;
    expect(steps).to.equal(node.game.tick);
    expect(player.hash).to.equal(node.game.hash());
    expect(player.firstMismatch).to.equal(null);
    expect(player.verified).to.equal(true);
    expect(player.frame.snakes.map((s) => s.body)).to.deep.equal(node.game.snapshot().snakes.map((s) => s.body));
  });

  it('reads the replays the node writes (buildReplay, as JSON)', () => {
    const node = new FakeNode('r2', FFA, 606, 4);
    const ticks: Array<{ t: number; turns: Array<[number, Dir]>; hash: number }> = [];
    while (node.game.status === 'running' && node.game.tick < 3000) {
      const tick = node.step();
      ticks.push({ t: tick.t, turns: tick.turns as Array<[number, Dir]>, hash: tick.hash });
    }
    const players = [0, 1, 2, 3].map((i) => ({ userId: `u${i}`, name: `p${i}`, snakeId: i }));
    const written = buildReplay({
      gameId: 'r2', settings: node.game.settings, seed: 606, players, ticks, winner: node.game.winner, winningTeam: node.game.winningTeam,
    });
    const player = new ReplayPlayer(parseReplay(JSON.parse(JSON.stringify(written))));
    while (player.step()) { /* to the end */ }
    expect(player.tick).to.equal(node.game.tick);
    expect(player.verified).to.equal(true);
    expect(player.hash).to.equal(written.finalHash);
  });

  it('seeks back and forward to the same states', () => {
    const { json } = playedReplay(77);
    const player = new ReplayPlayer(parseReplay(json));
    const hashes: number[] = [player.hash];
    while (player.step()) hashes.push(player.hash);
    for (const t of [0, 1, 57, 100, 101, 250, hashes.length - 1, 3]) {
      if (t >= hashes.length) continue;
      player.seek(t);
      expect(player.tick).to.equal(t);
      expect(player.hash, `tick ${t}`).to.equal(hashes[t]);
    }
    player.seek(1e9);
    expect(player.tick).to.equal(hashes.length - 1);
  });

  it('reports the first tick whose hash differs from the replay', () => {
    const { json } = playedReplay(5);
    const hashes = json.hashes as Array<[number, number]>;
    const [t, hash] = hashes[1];
    expect(t).to.be.greaterThan(0);
    hashes[1] = [t, (hash + 1) >>> 0];
    const player = new ReplayPlayer(parseReplay(json));
    while (player.step()) { /* to the end */ }
    expect(player.firstMismatch).to.equal(t);
    expect(player.verified).to.equal(false);
  });

  it('also reads turns grouped per tick, direction names and a plain list of hashes', () => {
    const { json, node } = playedReplay(31);
    const ticks: Array<Array<[number, string]>> = Array.from({ length: node.game.tick }, () => []);
    for (const [t, snakeId, dir] of node.turnLog) ticks[t - 1].push([snakeId, ['up', 'right', 'down', 'left'][dir]]);
    const grouped = { ...json, turns: undefined, ticks, hashes: [(json.hashes as Array<[number, number]>)[0][1]] };
    const player = new ReplayPlayer(parseReplay(grouped));
    while (player.step()) { /* to the end */ }
    expect(player.hash).to.equal(node.game.hash());
    expect(player.verified).to.equal(true);
  });

  it('says which field of a broken replay is wrong', () => {
    const { json } = playedReplay(3);
    expect(() => parseReplay(null)).to.throw(ReplayFormatError);
    expect(() => parseReplay({ ...json, seed: -1 })).to.throw(/seed/);
    expect(() => parseReplay({ ...json, settings: { ...(json.settings as object), width: 5 } })).to.throw(/width/);
    expect(() => parseReplay({ ...json, turns: [[1, 0, 'sideways']] })).to.throw(/turns\[0\]/);
    expect(() => parseReplay({ ...json, turns: [[0, 0, 1]] })).to.throw(/turns\[0\]/);
    expect(replayUrl('a/b')).to.equal('/api/games/a%2Fb/replay?format=json');
  });

  it('plays back one step per tickMs / speed, capped after a long pause', () => {
    const clock = new ReplayClock(100);
    expect(clock.due(1000)).to.equal(0);
    clock.play(1000);
    expect(clock.due(1050)).to.equal(0);
    expect(clock.due(1100)).to.equal(1);
    expect(clock.steppedAt).to.equal(1100);
    clock.setSpeed(4, 1100);
    expect(clock.stepMs).to.equal(25);
    expect(clock.due(1200)).to.equal(4);
    expect(clock.due(100_000, 10)).to.equal(10);
    expect(clock.steppedAt).to.equal(100_000);
    clock.pause();
    expect(clock.due(200_000)).to.equal(0);
  });
});

// ---- connection, clock, input, session ------------------------------------------------------------------------

describe('web client: connection and clock', () => {
  it('gives up on a node that takes the connection but never answers, and tries again', async () => {
    // a node frozen (SIGSTOP) still has its port: the kernel accepts, nothing answers the WebSocket upgrade
    const silent = createServer(() => { /* holds the socket, says nothing */ });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const global = globalThis as { WebSocket?: unknown };
    const before = global.WebSocket;
    // the ws client as a browser's WebSocket: closing one still connecting is no error event
    global.WebSocket = class extends WebSocket {
      constructor(url: string) {
        super(url);
        this.on('error', () => undefined);
      }
    };
    const statuses: string[] = [];
    const connection = new Connection(`ws://127.0.0.1:${port}/ws`, {
      open: () => statuses.push('open'), message: () => undefined, status: (status) => statuses.push(status),
    }, { silenceMs: 200, backoffMs: { first: 100, max: 100 } });
    try {
      connection.start();
      await waitFor('a second attempt', () => statuses.filter((s) => s === 'reconnecting').length >= 2, 5000);
      expect(statuses.slice(0, 2)).to.deep.equal(['connecting', 'reconnecting']);
      expect(statuses).to.not.include('open');
    } finally {
      connection.stop();
      global.WebSocket = before;
      silent.close();
    }
  });

  it('estimates the server clock from the pong with the shortest round trip', () => {
    const clock = new ServerClock();
    clock.welcome(50_000, 1_000);
    expect(clock.offset).to.equal(49_000);
    expect(clock.rtt).to.equal(null);
    clock.pong(2_000, 51_100, 2_200); // rtt 200, offset 49_000
    clock.pong(3_000, 52_020, 3_040); // rtt 40, offset 49_000
    clock.pong(4_000, 53_500, 4_400); // rtt 400, skewed
    expect(clock.rtt).to.equal(400);
    expect(clock.offset).to.equal(49_000);
    expect(clock.serverNow(5_000)).to.equal(54_000);
    expect(clock.toLocal(54_000)).to.equal(5_000);
  });

  it('backs off exponentially with jitter, up to a cap', () => {
    expect(backoffDelay(0, 250, 8000, 1)).to.equal(250);
    expect(backoffDelay(0, 250, 8000, 0)).to.equal(125);
    expect(backoffDelay(3, 250, 8000, 1)).to.equal(2000);
    expect(backoffDelay(30, 250, 8000, 1)).to.equal(8000);
  });

  it('connects to /ws on the page host', () => {
    expect(socketUrl({ protocol: 'http:', host: 'localhost:8080' })).to.equal('ws://localhost:8080/ws');
    expect(socketUrl({ protocol: 'https:', host: 'snake.example' })).to.equal('wss://snake.example/ws');
  });
});

describe('web client: input', () => {
  it('maps arrow keys and WASD to directions', () => {
    expect(['ArrowUp', 'ArrowRight', 'ArrowDown', 'ArrowLeft'].map(keyDirection)).to.deep.equal([0, 1, 2, 3]);
    expect(['KeyW', 'KeyD', 'KeyS', 'KeyA'].map(keyDirection)).to.deep.equal([0, 1, 2, 3]);
    expect(keyDirection('Space')).to.equal(null);
    expect(keyDirection('toString')).to.equal(null);
  });

  it('reads a swipe by its dominant axis and ignores taps', () => {
    expect(swipeDirection(40, 10)).to.equal(1);
    expect(swipeDirection(-40, 10)).to.equal(3);
    expect(swipeDirection(5, -60)).to.equal(0);
    expect(swipeDirection(5, 60)).to.equal(2);
    expect(swipeDirection(10, 10)).to.equal(null);
  });
});

describe('web client: the board view', () => {
  it('draws a board that fits with cells of at least MIN_WHOLE_CELL_PX whole, square cells, as large as the box allows', () => {
    const view = boardView(40, 40, 972, 730, 1, [20, 20], null);
    expect(view.whole).to.equal(true);
    expect(view.cell).to.equal(730 / 40);
    expect([view.cssWidth, view.cssHeight]).to.deep.equal([730, 730]);
    const wide = boardView(100, 20, 1200, 730, 1, [50, 10], null);
    expect(wide.whole).to.equal(true);
    expect(wide.cssWidth / wide.cssHeight).to.be.closeTo(5, 0.05);
    // the default board on phones 390 and 360 px wide (the arena is the width less the page's margins)
    for (const arena of [358, 340]) {
      const phone = boardView(40, 40, arena, arena, 3, [35, 38], null);
      expect(phone.whole, `40×40 in ${arena} px`).to.equal(true);
      expect(phone.cell).to.be.at.least(MIN_WHOLE_CELL_PX);
      expect(phone.cssWidth).to.be.at.most(arena);
      // a snake a spectator picks there is followed: they asked to see it closer
      const picked = boardView(40, 40, arena, arena, 3, [35, 38], null, MIN_CELL_PX);
      expect(picked.whole).to.equal(false);
      expect(picked.cell).to.be.at.least(MIN_CELL_PX);
    }
  });

  it('shows a player the part of a large board around their head, with cells of MIN_CELL_PX', () => {
    for (const [size, dpr] of [[100, 1], [200, 1], [200, 1.25], [200, 2]] as const) {
      const view = boardView(size, size, 972, 730, dpr, [150 % size, 60], null);
      expect(view.whole).to.equal(false);
      expect(view.cell).to.be.at.least(MIN_CELL_PX);
      expect(view.cell * dpr % 1, 'whole device pixels per cell').to.equal(0);
      expect(view.cssWidth).to.be.at.most(972);
      expect(view.cssHeight).to.be.at.most(730);
      expect(view.x).to.be.within(0, size - view.cols);
      expect(150 % size + 0.5).to.be.within(view.x, view.x + view.cols);
      expect(60.5).to.be.within(view.y, view.y + view.rows);
    }
  });

  it('moves the view only as the head nears its edge, and never past the board', () => {
    const first = boardView(200, 200, 500, 500, 1, [100, 100], null);
    expect([first.x, first.y]).to.deep.equal([100.5 - 25, 100.5 - 25]);
    // a few cells from the middle: the view stays
    const near = boardView(200, 200, 500, 500, 1, [105, 97], first);
    expect([near.x, near.y]).to.deep.equal([first.x, first.y]);
    // past 65 % of the view: it follows
    const far = boardView(200, 200, 500, 500, 1, [112, 100], near);
    expect(far.x).to.be.closeTo(112.5 - 50 * 0.65, 1e-9);
    // at the board's edge the view stops at it
    const edge = boardView(200, 200, 500, 500, 1, [199, 0], far);
    expect([edge.x, edge.y]).to.deep.equal([150, 0]);
    // nothing to follow (a spectator, a dead snake): the whole board
    expect(boardView(200, 200, 500, 500, 1, null, edge).whole).to.equal(true);
  });

  it('keeps the minimap in its corner while the followed snake is clear of it, else moves it to the clear corner farthest from the head', () => {
    const bottomRight = { right: true, bottom: true };
    // a 400×300 view, a 100×100 minimap: bottom-right spans x 290..390, y 190..290
    const clearOf = minimapCorner(400, 300, 100, 100, [[100, 100], [90, 100], [80, 100]], 20, bottomRight);
    expect(clearOf).to.deep.equal({ corner: bottomRight, clear: true });
    // the head comes near it, going right along the bottom: the minimap goes to the top-left
    const near = minimapCorner(400, 300, 100, 100, [[280, 250], [270, 250], [260, 250]], 20, bottomRight);
    expect(near).to.deep.equal({ corner: { right: false, bottom: false }, clear: true });
    // the head nearing the top-left one, the body lying along the top and down the right side: of the corners it
    // leaves clear, the bottom-left is the farthest from the head
    const body: Array<[number, number]> = [
      [120, 60],
      ...Array.from({ length: 23 }, (_, i): [number, number] => [130 + i * 10, 60]),
      ...Array.from({ length: 23 }, (_, i): [number, number] => [350, 70 + i * 10]),
    ];
    const moved = minimapCorner(400, 300, 100, 100, body, 20, { right: false, bottom: false });
    expect(moved).to.deep.equal({ corner: { right: false, bottom: true }, clear: true });
    // a snake across all four corners: no corner is clear
    const everywhere: Array<[number, number]> = [[50, 50], [350, 50], [350, 250], [50, 250]];
    expect(minimapCorner(400, 300, 100, 100, everywhere, 20, bottomRight).clear).to.equal(false);
    // nothing followed: the corner stays
    expect(minimapCorner(400, 300, 100, 100, [], 20, bottomRight).corner).to.equal(bottomRight);
  });
});

describe('web client: session rules', () => {
  it('plays again in the mode of the last game', () => {
    expect(playRequest(playModeOf(defaultSettings('solo'), 1))).to.deep.equal({ type: 'solo' });
    expect(playRequest(playModeOf(defaultSettings('duel'), 2))).to.deep.equal({ type: 'queue', mode: 'duel' });
    expect(playRequest(playModeOf({ ...defaultSettings('ffa'), players: 6 }, 6))).to.deep.equal({ type: 'queue', mode: 'ffa', size: 6 });
    expect(playRequest(playModeOf(defaultSettings('teams'), 4))).to.deep.equal({ type: 'queue', mode: 'teams' });
    const custom = { ...defaultSettings('custom'), players: 3, width: 50, tickMs: 100 };
    expect(playRequest(playModeOf(custom, 3))).to.deep.equal({
      type: 'create', settings: { players: 3, width: 50, height: 40, tickMs: 100, startLength: 4, foodTarget: 5 },
    });
    expect(describeQueue('ffa', 4)).to.match(/3 more players/);
  });

  it('tells the player their place, or a spectator the winner', () => {
    const over: OverMessage = {
      type: 'over', gameId: 'g', t: 90, winner: 1, winningTeam: null,
      results: [
        { userId: 'a', snakeId: 0, team: 0, score: 2, length: 6, alive: false, place: 2 },
        { userId: 'b', snakeId: 1, team: 1, score: 5, length: 9, alive: true, place: 1 },
        { userId: 'c', snakeId: 2, team: 0, score: 1, length: 5, alive: false, place: 3 },
      ],
    };
    const names = ['ann', 'bob', 'cy'];
    const loser = overSummary(over, names, 0, 'ffa');
    expect(loser.myPlace).to.equal(2);
    expect(loser.place).to.equal('2nd place of 3');
    expect(loser.rows.map((r) => r.name)).to.deep.equal(['bob', 'ann', 'cy']);
    expect(loser.rows[1].mine).to.equal(true);
    expect(overSummary(over, names, 1, 'ffa').title).to.equal('You win!');
    const watcher = overSummary(over, names, null, 'ffa');
    expect(watcher.myPlace).to.equal(null);
    expect(watcher.place).to.equal('bob wins');
    const solo = overSummary({ ...over, winner: null, results: [over.results[0]] }, names, 0, 'solo');
    expect(solo.place).to.equal('Score 2 · length 6');
    // a private game its one player started alone reads the same: no draw against nobody (place 1 of 1)
    const alone = overSummary({ ...over, winner: null, results: [{ ...over.results[0], place: 1 }] }, names, 0, 'custom');
    expect([alone.title, alone.place]).to.deep.equal(['Game over', 'Score 2 · length 6']);
    const teams = overSummary({ ...over, winner: null, winningTeam: 1, results: over.results.map((r) => ({ ...r, place: r.team === 1 ? 1 : 2 })) }, names, 0, 'teams');
    expect([teams.title, teams.place]).to.deep.equal(['Game over', 'Team 2 wins · 2nd place of 3']);
    // in teams each row says its team (as the score board does); in the other modes none does
    expect(teams.rows.map((r) => [r.name, r.team])).to.deep.equal([['bob', 1], ['ann', 0], ['cy', 0]]);
    expect(loser.rows.map((r) => r.team)).to.deep.equal([null, null, null]);
  });

  it('calls a game of several snakes that ends with no winner a draw, for those who share 1st place', () => {
    const result = (snakeId: number, place: number, alive = false) => ({ userId: `u${snakeId}`, snakeId, team: snakeId % 2, score: snakeId, length: 4, alive, place });
    const ended = (winner: number | null, winningTeam: OverMessage['winningTeam'], ...results: OverMessage['results']): OverMessage =>
      ({ type: 'over', gameId: 'g', t: 40, winner, winningTeam, results });
    const names = ['ann', 'bob', 'cy', 'di'];
    const says = (over: OverMessage, me: number | null, mode: Mode): [string, string] => {
      const summary = overSummary(over, names, me, mode);
      return [summary.title, summary.place];
    };

    // solo: nobody to draw against
    expect(says(ended(null, null, result(0, 1)), 0, 'solo')).to.deep.equal(['Game over', 'Score 0 · length 4']);

    // a duel whose two snakes meet head-on
    const duel = ended(null, null, result(0, 1), result(1, 1));
    expect(says(duel, 0, 'duel')).to.deep.equal(['Draw', '1st place of 2']);
    expect(says(duel, 1, 'duel')).to.deep.equal(['Draw', '1st place of 2']);
    // named as the panel lists them, higher score first
    expect(says(duel, null, 'duel')).to.deep.equal(['Draw', 'bob and ann share 1st place']);

    // a free-for-all of 3: ann out early, bob and cy out on the same last tick
    const ffa = ended(null, null, result(0, 3), result(1, 1), result(2, 1));
    expect(says(ffa, 1, 'ffa')).to.deep.equal(['Draw', '1st place of 3']);
    expect(says(ffa, 2, 'ffa')).to.deep.equal(['Draw', '1st place of 3']);
    expect(says(ffa, 0, 'ffa')).to.deep.equal(['Game over', '3rd place of 3']);
    expect(says(ffa, null, 'ffa')).to.deep.equal(['Draw', 'cy and bob share 1st place']);
    // the same game with a survivor is won, not drawn
    const won = ended(2, null, result(0, 3), result(1, 2), result(2, 1, true));
    expect(says(won, 2, 'ffa')).to.deep.equal(['You win!', '1st place of 3']);
    expect(says(won, 1, 'ffa')).to.deep.equal(['Game over', '2nd place of 3']);
    expect(says(won, null, 'ffa')).to.deep.equal(['Game over', 'cy wins']);

    // teams: both sides out on the same tick is a draw for all four, however early each snake went out
    const teamsDrawn = ended(null, null, result(0, 1), result(1, 1), result(2, 3), result(3, 3));
    for (const me of [0, 1, 2, 3]) expect(says(teamsDrawn, me, 'teams')[0], `snake ${me}`).to.equal('Draw');
    expect(says(teamsDrawn, null, 'teams')).to.deep.equal(['Draw', 'Neither team wins']);
    // and a team that wins wins for the member out first
    const teamWon = ended(null, 0, result(0, 1), result(1, 3), result(2, 1, true), result(3, 4));
    expect(says(teamWon, 0, 'teams')).to.deep.equal(['You win!', 'Team 1 wins · 1st place of 4']);
    expect(says(teamWon, 1, 'teams')).to.deep.equal(['Game over', 'Team 1 wins · 3rd place of 4']);
  });

  it('checks the private-game form as the node will, each complaint for its field in the page\'s words', () => {
    const form = { players: '3', width: '60', height: '40', tickMs: '100' };
    expect(readLobbyForm(form)).to.deep.equal({ ok: true, settings: { players: 3, width: 60, height: 40, tickMs: 100 } });
    expect(readLobbyForm({ ...form, height: '5', players: '' })).to.deep.equal({
      ok: false,
      problems: { players: 'Enter a whole number between 1 and 8', height: 'Height must be between 10 and 200' },
    });
    expect(readLobbyForm({ ...form, width: '20.5', players: '9' })).to.deep.equal({
      ok: false,
      problems: { players: 'Players must be between 1 and 8', width: 'Width must be a whole number between 10 and 200' },
    });
    // what the node says about a setting, as the form says it; anything else is not about a setting
    expect(settingProblem('settings.height must be between 10 and 200')).to.deep.equal({ field: 'height', text: 'Height must be between 10 and 200' });
    expect(settingProblem('settings.tickMs must be an integer')).to.deep.equal({ field: 'tickMs', text: 'Speed must be an integer' });
    expect(settingProblem('code must be 8 letters or digits')).to.equal(null);
  });

  it('says who a match is against', () => {
    const players = [{ userId: 'u1', name: 'ann', snakeId: 0 }, { userId: 'u2', name: 'bo', snakeId: 1 }, { userId: 'u3', name: 'cy', snakeId: 2 }, { userId: 'u4', name: 'di', snakeId: 3 }];
    expect(matchCaption(players.slice(0, 2), 'u1')).to.equal('Match found — vs bo');
    expect(matchCaption(players, 'u2')).to.equal('Match found — vs ann, cy and di');
    const teams = (snakeId: number): number => snakeId % 2;
    expect(matchCaption(players, 'u1', teams)).to.equal('Match found — with cy vs bo and di');
    expect(queueName('duel')).to.equal('a duel');
    expect(queueName('ffa', 6)).to.equal('a free-for-all of 6');
    expect(queueName('teams')).to.equal('teams 2 v 2');
  });

  it('keeps what the page watched or queued for, so a reload goes back to it', () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => { store.set(k, v); }, removeItem: (k: string) => { store.delete(k); },
    };
    expect(loadResume(storage)).to.equal(null);
    saveResume(storage, { kind: 'watch', gameId: 'g-1' });
    expect(loadResume(storage)).to.deep.equal({ kind: 'watch', gameId: 'g-1' });
    saveResume(storage, { kind: 'queue', mode: 'ffa', size: 3 });
    expect(loadResume(storage)).to.deep.equal({ kind: 'queue', mode: 'ffa', size: 3 });
    saveResume(storage, { kind: 'queue', mode: 'duel' });
    expect(loadResume(storage)).to.deep.equal({ kind: 'queue', mode: 'duel' });
    saveResume(storage, null);
    expect(loadResume(storage)).to.equal(null);
    // what the page cannot ask for again is not kept
    store.set('snaketron.resume', JSON.stringify({ kind: 'queue', mode: 'ffa', size: 12 }));
    expect(loadResume(storage)).to.deep.equal({ kind: 'queue', mode: 'ffa' });
    store.set('snaketron.resume', JSON.stringify({ kind: 'queue', mode: 'chess' }));
    expect(loadResume(storage)).to.equal(null);
    store.set('snaketron.resume', '{not json');
    expect(loadResume(storage)).to.equal(null);
    expect(loadResume(null)).to.equal(null);
    expect(() => saveResume({ setItem: () => { throw new Error('quota'); }, removeItem: () => undefined }, { kind: 'watch', gameId: 'g' })).to.not.throw();
  });

  it('remembers the running game the player left, so a reload does not put them back in it', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => { store.set(k, v); } };
    expect(leftGame(storage)).to.equal(null);
    rememberLeftGame(storage, 'g-left');
    expect(leftGame(storage)).to.equal('g-left');
    const broken = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('denied'); } };
    rememberLeftGame(broken, 'g-left');
    expect(leftGame(broken)).to.equal(null);
    expect(leftGame(null)).to.equal(null);
  });

  it('finds the game code in what is typed or pasted into the join box: the code, or a link to the game', () => {
    expect(joinCodeOf(' ab12cd34 ')).to.equal('AB12CD34');
    expect(joinCodeOf('http://localhost:8080/#join=AB12CD34')).to.equal('AB12CD34');
    expect(joinCodeOf('#join=ab12cd34')).to.equal('AB12CD34');
    expect(joinCodeOf('http://localhost:8080/#watch=g-1')).to.equal(null);
    expect(joinCodeOf('AB12')).to.equal(null);
    expect(joinCodeOf('')).to.equal(null);
  });

  it('reads #join=CODE, #watch= and #replay= links, and knows a #join= whose code cannot be one', () => {
    expect(parseHash('#join=ab12cd34')).to.deep.equal({ kind: 'join', code: 'AB12CD34' });
    expect(parseHash('#join=short')).to.deep.equal({ kind: 'bad-join', code: 'short' });
    expect(parseHash('#watch=g-123')).to.deep.equal({ kind: 'watch', gameId: 'g-123' });
    expect(parseHash('#replay=g-9')).to.deep.equal({ kind: 'replay', gameId: 'g-9' });
    expect(parseHash('')).to.equal(null);
  });

  it('remembers the name and token, and survives broken or missing storage', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => { store.set(k, v); } };
    expect(loadProfile(storage)).to.deep.equal({ name: null, token: null, userId: null });
    saveProfile(storage, { name: 'ann', token: 't0k', userId: 'u1' });
    expect(loadProfile(storage)).to.deep.equal({ name: 'ann', token: 't0k', userId: 'u1' });
    store.set('snaketron.profile', '{not json');
    expect(loadProfile(storage).name).to.equal(null);
    expect(loadProfile(null).token).to.equal(null);
    expect(() => saveProfile({ setItem: () => { throw new Error('quota'); } }, { name: 'x', token: null, userId: null })).to.not.throw();
  });
});

// ---- the page -------------------------------------------------------------------------------------------------

describe('web client: the page', () => {
  const web = (file: string): string => fileURLToPath(new URL(`../web/${file}`, import.meta.url));

  it('bundles for the browser with no errors, warnings or Node modules', async () => {
    const result = await build({
      entryPoints: [web('app.ts')], bundle: true, format: 'esm', target: 'es2022', platform: 'browser',
      write: false, logLevel: 'silent', metafile: true,
    });
    expect(result.errors).to.deep.equal([]);
    expect(result.warnings).to.deep.equal([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((path) => path.startsWith('node:') || /(^|\/)(ioredis|pg|uWebSockets)/.test(path))).to.deep.equal([]);
    expect(inputs.some((path) => path.endsWith('protocol/engine.ts'))).to.equal(true);
  });

  it('has every element the code looks up, and the test ids the browser specs drive', () => {
    const html = readFileSync(web('index.html'), 'utf8');
    const code = readFileSync(web('screens.ts'), 'utf8');
    const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
    const used = [...code.matchAll(/byId(?:<[^>]+>)?\('([^']+)'\)/g)].map((m) => m[1]);
    expect(used.length).to.be.greaterThan(30);
    expect(used.filter((id) => !ids.has(id))).to.deep.equal([]);
    const testIds = new Set([...html.matchAll(/data-testid="([^"]+)"/g)].map((m) => m[1]));
    for (const id of [
      'name-input', 'name-submit', 'solo-button', 'duel-button', 'ffa-button', 'ffa-size', 'teams-button',
      'create-button', 'join-code-input', 'join-button', 'lobby-code', 'copy-code', 'watch-input', 'watch-button',
      'replay-button', 'game-canvas', 'scoreboard', 'score', 'countdown', 'latency', 'connection-status',
      'game-over', 'place', 'play-again', 'replay-play', 'replay-step', 'replay-speed',
    ]) expect(testIds.has(id), id).to.equal(true);
  });
});
