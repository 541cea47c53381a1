// Engine throughput: steps per second on one core, games played back to back with random turns.
// Run alone with `npx tsx bench/engine.ts`, or through bench/run.ts with the other benchmarks.

import { pathToFileURL } from 'node:url';
import { Game, type Dir } from '../protocol/engine.ts';
import { defaultSettings, type Settings } from '../protocol/settings.ts';
import type { Bench, BenchResult } from './types.ts';

const SECONDS_PER_CASE = 2;
/** One snake in TURN_ODDS asks for a turn each step: often enough to steer, rarely enough for games to last. */
const TURN_ODDS = 8;

interface Case { name: string; settings: Settings; target?: string; hashEachStep?: boolean }

const CASES: Case[] = [
  { name: 'duel 40x40 steps/s', settings: { ...defaultSettings('duel') }, target: '>= 1000000' },
  { name: 'ffa-8 60x50 steps/s', settings: { ...defaultSettings('ffa'), width: 60, height: 50, players: 8, foodTarget: 12 }, target: '>= 200000' },
  // The node hashes every tick it sends, so this is the server's real per-tick engine cost.
  { name: 'duel 40x40 step+hash/s', settings: { ...defaultSettings('duel') }, hashEachStep: true },
];

/** xorshift32: the benchmark's own turn source, cheaper than anything that would show in the measurement. */
function xorshift(state: number): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
}

function measure(c: Case): BenchResult {
  let random = 0x9e3779b9;
  let seed = 1;
  let game = Game.create(c.settings, seed, c.settings.players);
  let steps = 0;
  let games = 1;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < SECONDS_PER_CASE * 1000) {
    for (let batch = 0; batch < 4096; batch++) {
      if (game.status === 'complete') {
        game = Game.create(c.settings, ++seed, c.settings.players);
        games++;
      }
      for (let id = 0; id < c.settings.players; id++) {
        random = xorshift(random);
        if (random % TURN_ODDS === 0 && game.isAlive(id)) game.queueTurn(id, ((random >>> 8) & 3) as Dir, game.tick + 1);
      }
      game.step();
      if (c.hashEachStep === true) game.hash();
      steps++;
    }
    elapsed = performance.now() - start;
  }
  return {
    group: 'engine',
    name: c.name,
    value: Math.round(steps / (elapsed / 1000)),
    unit: 'steps/s',
    ...(c.target === undefined ? {} : { target: c.target }),
    notes: `${games} games, ${Math.round(steps / games)} steps each on average, random turns`,
  };
}

export const run: Bench = async () => CASES.map(measure);

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await run()) {
    console.log(`${row.group}  ${row.name.padEnd(22)} ${String(row.value).padStart(10)} ${row.unit}  (target ${row.target ?? 'none'})  ${row.notes}`);
  }
}
