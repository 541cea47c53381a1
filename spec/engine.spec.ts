// The engine against GAME.md: its generator vectors, its start-position example, every conformance vector, and
// the ways a game is carried between processes (checkpoint bytes, snapshots).

import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DIR_NAMES,
  Game,
  ScenarioError,
  decodeGame,
  dirFromName,
  encodeGame,
  mulberry32Next,
  runScenario,
  type Cell,
  type Dir,
  type Expected,
  type GameSnapshot,
} from '../protocol/engine.ts';
import { defaultSettings, type Mode, type Settings } from '../protocol/settings.ts';

interface Scenario { settings: Partial<Settings> & { mode: Mode }; seed: number; players: number; turns: Array<[number, number, string]>; maxTicks: number }
interface Vector { name: string; scenario: Scenario; expected: Expected }

const vectorDir = join(dirname(fileURLToPath(import.meta.url)), 'vectors');
const vectors: Vector[] = readdirSync(vectorDir)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => ({ name: file, ...(JSON.parse(readFileSync(join(vectorDir, file), 'utf8')) as Omit<Vector, 'name'>) }));

/** GAME.md "State hash" written out from its words: FNV-1a over the little-endian bytes of unsigned 32-bit words. */
function referenceHash(state: GameSnapshot): number {
  const words = [state.tick, state.rng, state.status === 'complete' ? 1 : 0, state.food.length, ...state.food.flat(), state.snakes.length];
  for (const snake of state.snakes) {
    words.push(snake.alive ? 1 : 0, snake.dir, snake.grow, snake.score, snake.body.length, ...snake.body.flat());
  }
  const bytes = new DataView(new ArrayBuffer(words.length * 4));
  words.forEach((word, k) => bytes.setUint32(k * 4, word, true));
  let h = 0x811c9dc5;
  for (let k = 0; k < bytes.byteLength; k++) h = Math.imul(h ^ bytes.getUint8(k), 0x01000193) >>> 0;
  return h;
}

function draws(seed: number, count: number): number[] {
  const values: number[] = [];
  let state = seed;
  for (let i = 0; i < count; i++) {
    const [value, next] = mulberry32Next(state);
    values.push(value);
    state = next;
  }
  return values;
}

/** Steps a vector's game by hand, as GAME.md "Conformance" says, calling `each` after creation and every step. */
function playVector(v: Vector, each: (game: Game) => void, until = Number.POSITIVE_INFINITY): Game {
  const { settings, seed, players, turns, maxTicks } = v.scenario;
  const game = Game.create({ ...defaultSettings(settings.mode), ...settings, players }, seed, players);
  each(game);
  while (game.status === 'running' && game.tick < maxTicks && game.tick < until) {
    const t = game.tick + 1;
    for (const [turnTick, snakeId, dir] of turns) {
      if (turnTick === t) game.queueTurn(snakeId, dirFromName(dir) as Dir, t);
    }
    game.step();
    each(game);
  }
  return game;
}

/** Continues `game` with the rest of the vector's turns and returns the hashes after each further step. */
function continueVector(v: Vector, game: Game): number[] {
  const hashes: number[] = [];
  while (game.status === 'running' && game.tick < v.scenario.maxTicks) {
    const t = game.tick + 1;
    for (const [turnTick, snakeId, dir] of v.scenario.turns) {
      if (turnTick === t) game.queueTurn(snakeId, dirFromName(dir) as Dir, t);
    }
    game.step();
    hashes.push(game.hash());
  }
  return hashes;
}

describe('engine', () => {
  describe('mulberry32 (GAME.md "Random numbers")', () => {
    it('draws the listed values from state 1', () => {
      expect(draws(1, 4)).to.deep.equal([2693262067, 11749833, 2265367787, 4213581821]);
    });
    it('draws the listed values from state 12345', () => {
      expect(draws(12345, 4)).to.deep.equal([4207900869, 1317490944, 2079646450, 3513001552]);
    });
    it('keeps its state an unsigned 32-bit word across the wrap', () => {
      const [, next] = mulberry32Next(0xffffffff);
      expect(next).to.equal((0xffffffff + 0x6d2b79f5) % 2 ** 32);
    });
  });

  describe('start positions (GAME.md example)', () => {
    it('puts a 40x40 duel with length 4 where the example says', () => {
      const s = Game.create(defaultSettings('duel'), 1, 2).snapshot();
      expect(s.snakes[0].body).to.deep.equal([[4, 20], [3, 20], [2, 20], [1, 20]]);
      expect(s.snakes[0].dir).to.equal(DIR_NAMES.indexOf('right'));
      expect(s.snakes[1].body).to.deep.equal([[35, 20], [36, 20], [37, 20], [38, 20]]);
      expect(s.snakes[1].dir).to.equal(DIR_NAMES.indexOf('left'));
      expect(s.snakes.map((snake) => snake.team)).to.deep.equal([0, 1]);
    });
    it('puts a lone snake at (width-L-1, mid) facing left', () => {
      const s = Game.create({ ...defaultSettings('solo'), width: 30, height: 21, startLength: 3 }, 1, 1).snapshot();
      expect(s.snakes[0].body).to.deep.equal([[26, 10], [27, 10], [28, 10]]);
      expect(s.snakes[0].dir).to.equal(3);
    });
    it('spreads columns of several snakes from y=2 down', () => {
      const s = Game.create({ ...defaultSettings('ffa'), players: 5, height: 40 }, 1, 5).snapshot();
      const heads = s.snakes.map((snake) => snake.body[0]);
      expect(heads).to.deep.equal([[4, 2], [35, 2], [4, 20], [35, 38], [4, 38]]);
    });
    it('spawns foodTarget food at creation, off the snakes', () => {
      const s = Game.create(defaultSettings('duel'), 99, 2).snapshot();
      expect(s.food).to.have.length(5);
      const onSnake = new Set(s.snakes.flatMap((snake) => snake.body.map(([x, y]) => `${x},${y}`)));
      for (const [x, y] of s.food) expect(onSnake.has(`${x},${y}`)).to.equal(false);
    });
  });

  describe('creation limits', () => {
    it('throws RangeError for players outside the mode range', () => {
      expect(() => Game.create(defaultSettings('duel'), 1, 3)).to.throw(RangeError, /players must be between 2 and 2/);
      expect(() => Game.create(defaultSettings('teams'), 1, 2)).to.throw(RangeError, /players/);
      expect(() => Game.create(defaultSettings('ffa'), 1, 9)).to.throw(RangeError, /players/);
    });
    it('refuses a turn for a tick past 2^32 − 1 (a saved game keeps ticks in 32 bits; it was read back as tick 0)', () => {
      const game = Game.create(defaultSettings('solo'), 1, 1);
      expect(() => game.queueTurn(0, 0, 2 ** 32)).to.throw(RangeError, /turn tick 4294967296 is past the last tick/);
      game.queueTurn(0, 0, 2 ** 32 - 1);
      const copy = decodeGame(encodeGame(game));
      expect(copy.snapshot(true)).to.deep.equal(game.snapshot(true));
      expect(copy.step().turns).to.deep.equal(game.step().turns);
      expect(copy.hash()).to.equal(game.hash());
    });
    it('throws RangeError for settings out of range', () => {
      expect(() => Game.create({ ...defaultSettings('duel'), width: 5 }, 1, 2)).to.throw(RangeError, /settings\.width/);
    });
    it('places a snake at least as long as the grid is wide partly outside it, hashed as unsigned words; it dies in step 1', () => {
      // solo, 10 wide, L = 12: head (10 - 12 - 1, 5) = (-3, 5) facing left, the body up to x = 8
      const game = Game.create({ ...defaultSettings('solo'), width: 10, height: 10, startLength: 12 }, 5, 1);
      const start = game.snapshot();
      expect(start.snakes[0].body).to.deep.equal(Array.from({ length: 12 }, (_, k) => [-3 + k, 5]));
      expect(game.hash()).to.equal(referenceHash(start));
      for (const [x, y] of start.food) expect(y !== 5 || x > 8, `food at ${x},${y} on the snake`).to.equal(true);
      for (const copy of [decodeGame(encodeGame(game)), Game.fromSnapshot(game.snapshot(true)), game.clone()]) {
        expect(copy.snapshot()).to.deep.equal(start);
      }
      expect(game.step().died).to.deep.equal([0]);
      const after = game.snapshot();
      expect(after.status).to.equal('complete');
      expect(after.snakes[0].body).to.deep.equal(start.snakes[0].body);
      expect(game.hash()).to.equal(referenceHash(after));
      expect(game.results()[0]).to.include({ length: 12, alive: false });
      expect(decodeGame(encodeGame(game)).hash()).to.equal(game.hash());
      // two columns, 10 wide, L = 14: heads at x = 14 and x = -5, both outside; both die in step 1, a draw
      const duel = Game.create({ ...defaultSettings('duel'), width: 10, startLength: 14 }, 5, 2);
      expect(duel.snapshot().snakes.map((s) => s.body[0])).to.deep.equal([[14, 20], [-5, 20]]);
      expect(duel.step().died).to.deep.equal([0, 1]);
      expect(duel.snapshot()).to.include({ status: 'complete', winner: null });
      expect(duel.hash()).to.equal(referenceHash(duel.snapshot()));
    });
    it('places start bodies that overlap on a narrow grid as GAME.md says, each an obstacle to the other', () => {
      // 10 wide, L = 5: snake 0 from x = 5 leftwards, snake 1 from x = 4 rightwards, on row 5
      const game = Game.create({ ...defaultSettings('custom'), width: 10, height: 10, startLength: 5, players: 2 }, 1, 2);
      expect(game.snapshot().snakes.map((s) => s.body)).to.deep.equal([
        [[5, 5], [4, 5], [3, 5], [2, 5], [1, 5]],
        [[4, 5], [5, 5], [6, 5], [7, 5], [8, 5]],
      ]);
      for (const [x, y] of game.snapshot().food) expect(y !== 5 || x < 1 || x > 8, `food at ${x},${y} on a snake`).to.equal(true);
      expect(game.hash()).to.equal(referenceHash(game.snapshot()));
      // step 1: each head moves onto the other's body; both die with their bodies as they were, a draw
      expect(game.step().died).to.deep.equal([0, 1]);
      const after = game.snapshot();
      expect(after.status).to.equal('complete');
      expect(after.winner).to.equal(null);
      expect(after.snakes.map((s) => s.body[0])).to.deep.equal([[5, 5], [4, 5]]);
    });
    it('lets overlapping start bodies part when each head moves onto a cell the other\'s tail left', () => {
      // 13 wide, L = 10: snake 0 covers x 1..10 heading right, snake 1 x 2..11 heading left; each new head is
      // the cell the other's tail leaves in the same step, so both live on, still overlapping
      const game = Game.create({ ...defaultSettings('custom'), width: 13, height: 10, startLength: 10, players: 2, foodTarget: 1 }, 1, 2);
      expect(game.step().died).to.deep.equal([]);
      const snakes = game.snapshot().snakes;
      expect(snakes.map((s) => [s.alive, s.body[0], s.body.at(-1)])).to.deep.equal([[true, [11, 5], [2, 5]], [true, [1, 5], [10, 5]]]);
      // they stay obstacles to each other: the next heads (12,5) and (0,5) are free, and after that the walls
      expect(game.step().died).to.deep.equal([]);
      expect(game.step().died).to.deep.equal([0, 1]);
    });
  });

  describe('readings of GAME.md where its words allow two (spec/readings: each file\'s note says which one the engine takes)', () => {
    const readingDir = join(dirname(fileURLToPath(import.meta.url)), 'readings');
    const readings = readdirSync(readingDir).filter((file) => file.endsWith('.json')).sort();
    it('has the readings', () => {
      expect(readings).to.have.length.at.least(5);
    });
    for (const file of readings) {
      const reading = JSON.parse(readFileSync(join(readingDir, file), 'utf8')) as { note: string; scenario: Scenario; expected: Expected };
      it(`${file}: ${reading.note}`, () => {
        expect(runScenario(reading.scenario)).to.deep.equal(reading.expected);
      });
    }
  });

  describe('conformance vectors (GAME.md "Conformance")', () => {
    it('has the vectors', () => {
      expect(vectors.length).to.be.at.least(11);
    });
    for (const v of vectors) {
      describe(v.name, () => {
        it('gives the expected hash after creation and after every step', () => {
          const hashes: number[] = [];
          const game = playVector(v, (g) => hashes.push(g.hash()));
          expect(hashes).to.deep.equal(v.expected.hashes);
          expect(game.tick).to.equal(v.expected.tick);
          expect(game.rng).to.equal(v.expected.rng);
          expect(game.winner).to.equal(v.expected.winner);
          expect(game.winningTeam).to.equal(v.expected.winningTeam);
        });
        it('runScenario returns the expected object', () => {
          expect(runScenario(v.scenario)).to.deep.equal(v.expected);
        });
        it('keeps its hashes through encodeGame/decodeGame and fromSnapshot halfway', () => {
          const half = Math.floor(v.expected.tick / 2);
          const game = playVector(v, () => {}, half);
          const decoded = decodeGame(encodeGame(game));
          const rebuilt = Game.fromSnapshot(game.snapshot(true));
          for (const copy of [decoded, rebuilt, game.clone()]) {
            expect(copy.hash()).to.equal(v.expected.hashes[half]);
            expect(copy.snapshot(true)).to.deep.equal(game.snapshot(true));
          }
          const rest = v.expected.hashes.slice(half + 1);
          expect(continueVector(v, decoded)).to.deep.equal(rest);
          expect(continueVector(v, rebuilt)).to.deep.equal(rest);
          expect(continueVector(v, game)).to.deep.equal(rest);
        });
      });
    }
  });

  describe('turns (GAME.md "Turns")', () => {
    const duel = (): Game => Game.create(defaultSettings('duel'), 7, 2);
    const dirOf = (g: Game, id: number): Dir => g.snapshot().snakes[id].dir;

    it('takes at most one effective turn per step and keeps the rest queued', () => {
      const g = duel();
      g.queueTurn(0, 0, 1);
      g.queueTurn(0, 1, 1);
      g.queueTurn(0, 3, 1);
      const events = g.step();
      expect(events.turns).to.deep.equal([[0, 0]]);
      expect(dirOf(g, 0)).to.equal(0);
      expect(g.queuedTurns(0)).to.equal(2);
      // Next step: `right` (1) is effective from `up`, and `left` (3) waits.
      expect(g.step().turns).to.deep.equal([[0, 1]]);
      expect(g.queuedTurns(0)).to.equal(1);
    });
    it('drops a reversal and a turn to the current direction without effect', () => {
      const g = duel();
      g.queueTurn(0, 3, 1);
      g.queueTurn(0, 1, 1);
      const events = g.step();
      expect(events.turns).to.deep.equal([]);
      expect(dirOf(g, 0)).to.equal(1);
      expect(g.queuedTurns(0)).to.equal(0);
    });
    it('holds a turn for a later tick and applies a past tick at the next step', () => {
      const g = duel();
      g.queueTurn(1, 0, 3);
      g.queueTurn(0, 2, 1);
      expect(g.step().turns).to.deep.equal([[0, 2]]);
      expect(g.step().turns).to.deep.equal([]);
      g.queueTurn(0, 1, 0);
      expect(g.step().turns).to.deep.equal([[0, 1], [1, 0]]);
    });
  });

  describe('step outcomes', () => {
    it('reports deaths and the draw of a head-on collision', () => {
      const v = vectors.find((vector) => vector.name === 'duel-head-on.json') as Vector;
      const game = Game.create(defaultSettings('duel'), v.scenario.seed, 2);
      let died: number[] = [];
      while (game.status === 'running') died = game.step().died;
      expect(died).to.deep.equal([0, 1]);
      expect(game.winner).to.equal(null);
      expect(game.results().map((r) => r.place)).to.deep.equal([1, 1]);
      expect(game.step()).to.deep.equal({ t: game.tick, turns: [], died: [], food: null });
    });
    it('reports the food it spawns, which then lies last on the board', () => {
      const v = vectors.find((vector) => vector.name === 'solo-greedy-long.json') as Vector;
      const spawned: Cell[] = [];
      const game = Game.create({ ...defaultSettings('solo'), ...v.scenario.settings }, v.scenario.seed, 1);
      while (game.status === 'running') {
        const t = game.tick + 1;
        for (const [turnTick, , dir] of v.scenario.turns) if (turnTick === t) game.queueTurn(0, dirFromName(dir) as Dir, t);
        const { food } = game.step();
        if (food !== null) {
          expect(game.snapshot().food.at(-1)).to.deep.equal(food);
          spawned.push(food);
        }
      }
      // Every food eaten was replaced at once on this roomy board.
      expect(spawned).to.have.length(v.expected.snakes[0].score);
    });
    it('places by death order, the winner first, ties shared (1, 2, 2, 4)', () => {
      const v = vectors.find((vector) => vector.name === 'ffa6-greedy.json') as Vector;
      const game = playVector(v, () => {});
      const state = game.snapshot();
      const results = game.results();
      expect(results.map((r) => r.snakeId)).to.deep.equal([0, 1, 2, 3, 4, 5]);
      expect(results[3].place).to.equal(1);
      for (const r of results) {
        const later = state.snakes.filter((s) => s.id !== r.snakeId && (s.alive || (s.diedAt as number) > (state.snakes[r.snakeId].diedAt ?? Infinity))).length;
        expect(r.place).to.equal(1 + later);
        expect(r.length).to.equal(state.snakes[r.snakeId].body.length);
        expect(r.score).to.equal(state.snakes[r.snakeId].score);
      }
    });
    it('places the whole winning team first', () => {
      const v = vectors.find((vector) => vector.name === 'teams-2v2.json') as Vector;
      const results = playVector(v, () => {}).results();
      expect(results.filter((r) => r.team === 0).map((r) => r.place)).to.deep.equal([1, 1]);
      expect(results.filter((r) => r.team === 1).every((r) => r.place > 1)).to.equal(true);
    });
  });

  describe('encodeGame/decodeGame', () => {
    it('starts with a version byte and rejects unknown versions', () => {
      const bytes = encodeGame(Game.create(defaultSettings('duel'), 5, 2));
      expect(bytes[0]).to.equal(1);
      const future = bytes.slice();
      future[0] = 9;
      expect(() => decodeGame(future)).to.throw(Error, /unknown encoding version 9/);
    });
    it('rejects empty, truncated and overlong input', () => {
      const bytes = encodeGame(Game.create(defaultSettings('duel'), 5, 2));
      expect(() => decodeGame(new Uint8Array(0))).to.throw(Error, /empty/);
      expect(() => decodeGame(bytes.slice(0, bytes.length - 3))).to.throw(Error, /decodeGame/);
      const longer = new Uint8Array(bytes.length + 2);
      longer.set(bytes);
      expect(() => decodeGame(longer)).to.throw(Error, /left over/);
    });
    it('keeps queued turns', () => {
      const g = Game.create(defaultSettings('ffa'), 5, 4);
      g.queueTurn(2, 0, 3);
      g.queueTurn(2, 2, 5);
      const copy = decodeGame(encodeGame(g));
      expect(copy.queuedTurns(2)).to.equal(2);
      expect(copy.snapshot(true)).to.deep.equal(g.snapshot(true));
    });
  });

  describe('runScenario validation', () => {
    const base = { settings: { mode: 'duel' }, seed: 1, players: 2, turns: [], maxTicks: 10 };
    const cases: Array<[string, unknown, string]> = [
      ['a non-map', 42, 'scenario'],
      ['an unknown mode', { ...base, settings: { mode: 'battle' } }, 'settings.mode'],
      ['a width out of range', { ...base, settings: { mode: 'duel', width: 201 } }, 'settings.width'],
      ['a negative seed', { ...base, seed: -1 }, 'seed'],
      ['a seed above 32 bits', { ...base, seed: 2 ** 32 }, 'seed'],
      ['players out of the mode range', { ...base, players: 3 }, 'players'],
      ['turns not a list', { ...base, turns: {} }, 'turns'],
      ['a turn of the wrong shape', { ...base, turns: [[1, 0]] }, 'turns[0]'],
      ['a turn tick that is not an integer', { ...base, turns: [[1.5, 0, 'up']] }, 'turns[0][0]'],
      ['a turn for a missing snake', { ...base, turns: [[1, 2, 'up']] }, 'turns[0][1]'],
      ['an unknown direction', { ...base, turns: [[1, 0, 'north']] }, 'turns[0][2]'],
      ['a missing maxTicks', { ...base, maxTicks: undefined }, 'maxTicks'],
      ['an ffa without its number of players', { ...base, settings: { mode: 'ffa' }, players: undefined }, 'players'],
      ['a custom game without its number of players', { ...base, settings: { mode: 'custom' }, players: undefined }, 'players'],
    ];
    for (const [what, scenario, path] of cases) {
      it(`rejects ${what}, naming ${path}`, () => {
        const run = (): Expected => runScenario(scenario);
        expect(run).to.throw(ScenarioError);
        try {
          run();
        } catch (error) {
          expect((error as ScenarioError).path).to.equal(path);
          expect((error as ScenarioError).message.startsWith(path)).to.equal(true);
        }
      });
    }
    it('never queues a turn whose tick is below 1, and leaves fields it does not know alone', () => {
      const plain = runScenario({ ...base, maxTicks: 5 });
      expect(runScenario({ ...base, maxTicks: 5, name: 'early turns', turns: [[0, 0, 'up'], [-3, 1, 'down']] })).to.deep.equal(plain);
    });
    it('runs until the game ends whatever maxTicks allows beyond that, and runs no step when it is below 1', () => {
      const ended = runScenario({ ...base, maxTicks: 1e12 });
      expect(ended.status).to.equal('complete');
      // beyond 2^53 too, a tool's "no limit"
      expect(runScenario({ ...base, maxTicks: 1e18 })).to.deep.equal(ended);
      expect(ended.hashes).to.have.length(ended.tick + 1);
      const none = runScenario({ ...base, maxTicks: -5 });
      expect(none.tick).to.equal(0);
      expect(none.hashes).to.have.length(1);
      expect(() => runScenario({ ...base, maxTicks: 2.5 })).to.throw(ScenarioError, /^maxTicks/);
    });
    it('takes the number of players from the mode where GAME.md fixes it, or from settings.players', () => {
      expect(runScenario({ ...base, players: undefined }).snakes).to.have.length(2);
      expect(runScenario({ ...base, settings: { mode: 'teams' }, players: undefined }).snakes).to.have.length(4);
      expect(runScenario({ ...base, settings: { mode: 'ffa', players: 6 }, players: undefined }).snakes).to.have.length(6);
    });
    it('stops at maxTicks while running', () => {
      const expected = runScenario({ ...base, maxTicks: 3 });
      expect(expected.tick).to.equal(3);
      expect(expected.status).to.equal('running');
      expect(expected.hashes).to.have.length(4);
    });
  });
});
