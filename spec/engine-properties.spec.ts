// Properties of the engine over thousands of random games (random modes, sizes, players and turns, from a seeded
// generator of this spec's own): it agrees step by step with a plain, slow reading of GAME.md, keeps the rule
// invariants, and is deterministic — also across checkpoint bytes and snapshots taken at a random tick.

import { expect } from 'chai';
import {
  Game,
  decodeGame,
  encodeGame,
  mulberry32Next,
  type Cell,
  type Dir,
  type GameSnapshot,
  type GameStatus,
  type QueuedTurn,
  type StepEvents,
} from '../protocol/engine.ts';
import { MODES, type Mode, type Settings } from '../protocol/settings.ts';

const MODEL_GAMES = 1500;
const DETERMINISM_GAMES = 1500;
const MAX_TICKS = 400;

/** splitmix32: this spec's generator, unrelated to the engine's mulberry32 so they cannot hide each other's bugs. */
class TestRandom {
  constructor(private state: number) {}
  next(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + (this.next() % (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.next() % items.length];
  }
}

const PLAYER_RANGE: Record<Mode, [number, number]> = { solo: [1, 1], duel: [2, 2], ffa: [2, 8], teams: [4, 4], custom: [1, 8] };

interface RandomGame { settings: Settings; seed: number; turnOdds: number }

function randomGame(random: TestRandom): RandomGame {
  const mode = random.pick(MODES);
  const players = random.int(...PLAYER_RANGE[mode]);
  // Mostly small boards, where snakes meet and food runs short; sometimes a big one.
  const width = random.chance(0.1) ? random.int(10, 200) : random.int(10, 30);
  const height = random.chance(0.1) ? random.int(10, 200) : random.int(10, 30);
  // Start bodies of two columns must not overlap: 2L + 1 < width (one snake only needs L < width).
  const longest = Math.min(20, players === 1 ? width - 1 : Math.floor((width - 2) / 2));
  const startLength = random.int(2, Math.min(longest, random.chance(0.8) ? 6 : 20));
  const settings: Settings = {
    mode, width, height, players, startLength,
    tickMs: random.int(50, 1000),
    foodTarget: random.chance(0.3) ? random.int(1, 50) : random.int(1, 8),
  };
  return { settings, seed: random.next(), turnOdds: random.pick([0.02, 0.1, 0.3, 0.7]) };
}

/** Queues random turns before a step: some for past or future ticks, some for dead snakes. */
function randomTurns(random: TestRandom, odds: number, game: Game, queue: (id: number, dir: Dir, t: number) => void): void {
  for (let id = 0; id < game.snakeCount; id++) {
    while (random.chance(odds)) {
      const roll = random.next() % 10;
      const t = roll === 0 ? game.tick - random.int(0, 3) : roll === 1 ? game.tick + random.int(2, 5) : game.tick + 1;
      queue(id, random.int(0, 3) as Dir, t);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// GAME.md read as plainly as possible: arrays of cells, scans everywhere. Slow, and easy to check against the text.

interface ModelSnake { alive: boolean; dir: Dir; grow: number; score: number; body: Cell[]; diedAt: number | null; queue: QueuedTurn[] }

class Model {
  tick = 0;
  status: GameStatus = 'running';
  winner: number | null = null;
  winningTeam: number | null = null;
  food: Cell[] = [];
  snakes: ModelSnake[] = [];
  rng: number;

  constructor(readonly settings: Settings, readonly seed: number) {
    this.rng = seed;
    const { width, height, startLength: L, players: n } = settings;
    const mid = Math.floor(height / 2);
    for (let id = 0; id < n; id++) {
      let head: Cell;
      let dir: Dir;
      if (n === 1) {
        head = [width - L - 1, mid];
        dir = 3;
      } else {
        const c = id % 2 === 0 ? Math.ceil(n / 2) : Math.floor(n / 2);
        const k = Math.floor(id / 2);
        const y = c === 1 ? mid : 2 + Math.floor((k * (height - 4)) / (c - 1));
        head = id % 2 === 0 ? [L, y] : [width - L - 1, y];
        dir = id % 2 === 0 ? 1 : 3;
      }
      const back = ((dir + 2) % 4) as Dir;
      const body: Cell[] = [head];
      for (let i = 1; i < L; i++) body.push(move(body[i - 1], back));
      this.snakes.push({ alive: true, dir, grow: 0, score: 0, body, diedAt: null, queue: [] });
    }
    for (let i = 0; i < settings.foodTarget; i++) this.spawn();
  }

  queueTurn(id: number, dir: Dir, t: number): void {
    if (this.status === 'running' && this.snakes[id].alive) this.snakes[id].queue.push({ t: Math.max(t, this.tick + 1), dir });
  }

  step(): void {
    if (this.status === 'complete') return;
    const T = this.tick + 1;
    const movers = this.snakes.filter((s) => s.alive);
    for (const s of movers) {
      const kept: QueuedTurn[] = [];
      let turned = false;
      for (const turn of s.queue) {
        if (turned || turn.t > T) kept.push(turn);
        else if (turn.dir !== s.dir && turn.dir !== (s.dir + 2) % 4) {
          s.dir = turn.dir;
          turned = true;
        }
      }
      s.queue = kept;
    }
    const before = new Map(movers.map((s) => [s, { body: s.body, grow: s.grow }]));
    for (const s of movers) {
      s.body = [move(s.body[0], s.dir), ...s.body];
      if (s.grow > 0) s.grow--;
      else s.body.pop();
    }
    const dying = movers.filter((s) => {
      const [x, y] = s.body[0];
      if (x < 0 || y < 0 || x >= this.settings.width || y >= this.settings.height) return true;
      return movers.some((o) => o.body.some((c, i) => !(o === s && i === 0) && same(c, s.body[0])));
    });
    for (const s of dying) {
      s.body = (before.get(s) as { body: Cell[] }).body;
      s.queue = [];
      s.alive = false;
      s.diedAt = T;
    }
    for (const s of this.snakes) {
      const eaten = s.alive ? this.food.findIndex((f) => same(f, s.body[0])) : -1;
      if (eaten >= 0) {
        this.food.splice(eaten, 1);
        s.grow++;
        s.score++;
      }
    }
    if (this.food.length < this.settings.foodTarget) this.spawn();
    const alive = this.snakes.map((s, id) => ({ s, id })).filter(({ s }) => s.alive);
    if (this.snakes.length === 1) {
      if (alive.length === 0) this.status = 'complete';
    } else if (this.settings.mode === 'teams') {
      const teams = new Set(alive.map(({ id }) => id % 2));
      if (teams.size < 2) {
        this.status = 'complete';
        this.winningTeam = teams.size === 1 ? [...teams][0] : null;
      }
    } else if (alive.length <= 1) {
      this.status = 'complete';
      this.winner = alive.length === 1 ? alive[0].id : null;
    }
    this.tick = T;
  }

  private spawn(): void {
    for (let attempt = 0; attempt < 16; attempt++) {
      const x = this.draw() % this.settings.width;
      const y = this.draw() % this.settings.height;
      const taken = this.food.some((f) => same(f, [x, y])) || this.snakes.some((s) => s.alive && s.body.some((c) => same(c, [x, y])));
      if (!taken) {
        this.food.push([x, y]);
        return;
      }
    }
  }

  private draw(): number {
    const [value, next] = mulberry32Next(this.rng);
    this.rng = next;
    return value;
  }

  snapshot(): GameSnapshot {
    return {
      tick: this.tick, status: this.status, seed: this.seed, rng: this.rng, winner: this.winner, winningTeam: this.winningTeam,
      settings: { ...this.settings },
      food: this.food.map(([x, y]) => [x, y]),
      snakes: this.snakes.map((s, id) => ({
        id, team: id % 2, alive: s.alive, dir: s.dir, grow: s.grow, score: s.score,
        body: s.body.map(([x, y]) => [x, y]), diedAt: s.diedAt, queue: s.queue.map((q) => ({ ...q })),
      })),
    };
  }
}

const DELTA: Cell[] = [[0, -1], [1, 0], [0, 1], [-1, 0]];
const move = ([x, y]: Cell, dir: Dir): Cell => [x + DELTA[dir][0], y + DELTA[dir][1]];
const same = (a: Cell, b: Cell): boolean => a[0] === b[0] && a[1] === b[1];
const key = ([x, y]: Cell): string => `${x},${y}`;

// ---------------------------------------------------------------------------------------------------------------

/** The invariants of one step, from the snapshots before and after it and the events it reported. */
function checkStep(settings: Settings, before: GameSnapshot, after: GameSnapshot, events: StepEvents): void {
  expect(after.tick).to.equal(before.tick + 1);
  expect(events.t).to.equal(after.tick);
  const turnIds = events.turns.map(([id]) => id);
  expect(turnIds, 'one effective turn per snake, in id order').to.deep.equal([...new Set(turnIds)].sort((a, b) => a - b));
  const diedNow: number[] = [];
  const aliveCells = new Set<string>();
  for (const snake of after.snakes) {
    const was = before.snakes[snake.id];
    const turn = events.turns.find(([id]) => id === snake.id);
    if (was.alive) {
      expect(snake.dir, 'never reverses').to.not.equal((was.dir + 2) % 4);
      expect(snake.dir).to.equal(turn === undefined ? was.dir : turn[1]);
    } else {
      expect(turn).to.equal(undefined);
      expect(snake).to.deep.equal(was);
    }
    for (let i = 1; i < snake.body.length; i++) {
      const [a, b] = [snake.body[i - 1], snake.body[i]];
      expect(Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]), '4-connected body').to.equal(1);
    }
    if (was.alive && !snake.alive) {
      diedNow.push(snake.id);
      expect(snake.body, 'a dead snake keeps its body from before the step').to.deep.equal(was.body);
      expect(snake.diedAt).to.equal(after.tick);
    }
    if (snake.alive) {
      expect(snake.body.length + snake.grow).to.equal(settings.startLength + snake.score);
      expect(snake.body[0]).to.deep.equal(move(was.body[0], snake.dir));
      expect(snake.body.slice(1)).to.deep.equal(was.body.slice(0, snake.body.length - 1));
      for (const cell of snake.body) {
        expect(cell[0]).to.be.within(0, settings.width - 1);
        expect(cell[1]).to.be.within(0, settings.height - 1);
        expect(aliveCells.has(key(cell)), 'alive bodies never overlap').to.equal(false);
        aliveCells.add(key(cell));
      }
    }
  }
  expect(events.died).to.deep.equal(diedNow);
  const foodKeys = after.food.map(key);
  expect(new Set(foodKeys).size, 'no duplicated food').to.equal(foodKeys.length);
  expect(foodKeys.some((k) => aliveCells.has(k)), 'no food under an alive snake').to.equal(false);
  expect(after.food.length).to.be.at.most(settings.foodTarget);
  if (events.food !== null) expect(after.food.at(-1)).to.deep.equal(events.food);

  const alive = after.snakes.filter((s) => s.alive);
  let complete: boolean;
  if (after.snakes.length === 1) complete = alive.length === 0;
  else if (settings.mode === 'teams') complete = new Set(alive.map((s) => s.team)).size < 2;
  else complete = alive.length <= 1;
  expect(after.status, 'completion only by the GAME.md rules').to.equal(complete ? 'complete' : 'running');
  if (complete && settings.mode !== 'teams' && after.snakes.length > 1) expect(after.winner).to.equal(alive[0]?.id ?? null);
  if (complete && settings.mode === 'teams') expect(after.winningTeam).to.equal(alive[0]?.team ?? null);
}

describe('engine properties (random games)', function () {
  this.timeout(180_000); // CPU-bound: 32 s alone beside other work on a slow machine, more beside the rest of the suite

  it(`agrees with a plain reading of GAME.md and keeps the invariants, step by step (${MODEL_GAMES} games)`, () => {
    const random = new TestRandom(0x5eed);
    const outcomes = new Set<string>();
    for (let n = 0; n < MODEL_GAMES; n++) {
      const { settings, seed, turnOdds } = randomGame(random);
      const game = Game.create(settings, seed, settings.players);
      const model = new Model(settings, seed);
      let before = game.snapshot(true);
      expect(before, `creation of ${JSON.stringify(settings)} seed ${seed}`).to.deep.equal(model.snapshot());
      while (game.tick < MAX_TICKS && game.status === 'running') {
        randomTurns(random, turnOdds, game, (id, dir, t) => {
          game.queueTurn(id, dir, t);
          model.queueTurn(id, dir, t);
        });
        const events = game.step();
        model.step();
        const after = game.snapshot(true);
        if (JSON.stringify(after) !== JSON.stringify(model.snapshot())) {
          expect(after, `game ${n} (${JSON.stringify(settings)} seed ${seed}) at tick ${after.tick}`).to.deep.equal(model.snapshot());
        }
        checkStep(settings, before, after, events);
        before = after;
      }
      if (game.status === 'complete') {
        const hash = game.hash();
        expect(game.step()).to.deep.equal({ t: game.tick, turns: [], died: [], food: null });
        expect(game.hash()).to.equal(hash);
      }
      outcomes.add(`${settings.mode}:${game.status}:${game.winner === null && game.winningTeam === null ? 'none' : 'won'}`);
    }
    // The random games reach every ending the rules have, so the checks above were not vacuous.
    for (const ending of ['solo:complete:none', 'duel:complete:won', 'duel:complete:none', 'ffa:complete:won', 'teams:complete:won', 'custom:complete:won']) {
      expect(outcomes).to.include(ending);
    }
  });

  it(`is deterministic, also through encodeGame/decodeGame, fromSnapshot and clone at a random tick (${DETERMINISM_GAMES} games)`, () => {
    const random = new TestRandom(0xd1ce);
    for (let n = 0; n < DETERMINISM_GAMES; n++) {
      const { settings, seed, turnOdds } = randomGame(random);
      // The inputs: turns asked before each step, recorded so every run gets exactly the same ones.
      const script: Array<Array<[number, Dir, number]>> = [];
      const reference = Game.create(settings, seed, settings.players);
      const hashes = [reference.hash()];
      while (reference.tick < MAX_TICKS && reference.status === 'running') {
        const asked: Array<[number, Dir, number]> = [];
        randomTurns(random, turnOdds, reference, (id, dir, t) => asked.push([id, dir, t]));
        script.push(asked);
        for (const [id, dir, t] of asked) reference.queueTurn(id, dir, t);
        reference.step();
        hashes.push(reference.hash());
      }

      const replay = (game: Game, from: number): number[] => {
        const seen = [game.hash()];
        for (let tick = from; tick < script.length; tick++) {
          for (const [id, dir, t] of script[tick]) game.queueTurn(id, dir, t);
          game.step();
          seen.push(game.hash());
        }
        return seen;
      };
      const label = `game ${n}: ${JSON.stringify(settings)} seed ${seed}`;
      expect(replay(Game.create(settings, seed, settings.players), 0), label).to.deep.equal(hashes);

      // Stop a fresh run at a random tick, with turns still queued for later ticks, and carry it over.
      const cut = random.int(0, script.length);
      const original = Game.create(settings, seed, settings.players);
      for (let tick = 0; tick < cut; tick++) {
        for (const [id, dir, t] of script[tick]) original.queueTurn(id, dir, t);
        original.step();
      }
      const carried = [decodeGame(encodeGame(original)), Game.fromSnapshot(original.snapshot(true)), original.clone()];
      for (const copy of carried) expect(replay(copy, cut), `${label}, carried at tick ${cut}`).to.deep.equal(hashes.slice(cut));
      expect(replay(original, cut), label).to.deep.equal(hashes.slice(cut));
      // A JSON round trip is what a snapshot goes through on the wire.
      const wire = Game.fromSnapshot(JSON.parse(JSON.stringify(Game.fromSnapshot(original.snapshot(true)).snapshot(true))) as GameSnapshot);
      expect(wire.hash()).to.equal(hashes.at(-1));
    }
  });
});
