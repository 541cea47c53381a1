// Replays: how big a minute of a duel is, and how long `verify` takes for a ten-minute game. Games are played by
// two BotBrains on the engine (the bots' own steering, so the turns are realistic) and stored with buildReplay,
// as the recorder does. Run alone with `npx tsx bench/replay.ts`.
import { pathToFileURL } from 'node:url';
import { BotBrain } from '../actors/snaketron/bot-brain.ts';
import { buildReplay, encodeReplay, verifyReplay, type Replay, type ReplayTick } from '../actors/snaketron/replay.ts';
import { Game } from '../protocol/engine.ts';
import { defaultSettings, type Settings } from '../protocol/settings.ts';
import type { Bench, BenchResult } from './types.ts';

/** Plays a bot duel for up to `ticks` ticks (or until it ends) and returns its replay. */
export function botGame(settings: Settings, seed: number, ticks: number): Replay {
  const game = Game.create(settings, seed, settings.players);
  const brains = Array.from({ length: settings.players }, () => new BotBrain());
  const recorded: ReplayTick[] = [];
  while (game.status === 'running' && game.tick < ticks) {
    const state = game.snapshot();
    state.snakes.forEach((snake, id) => {
      if (!snake.alive) return;
      const { dir } = brains[id].choose(game, id, state);
      if (dir !== snake.dir) game.queueTurn(id, dir, game.tick + 1);
    });
    const events = game.step();
    recorded.push({ t: events.t, turns: events.turns, hash: game.hash() });
  }
  return buildReplay({
    gameId: `bench-${seed}`, settings, seed,
    players: Array.from({ length: settings.players }, (_, snakeId) => ({ userId: `u_${seed.toString(16).padStart(16, '0')}${snakeId}`, name: `bot-${snakeId}`, snakeId })),
    ticks: recorded, winner: game.winner, winningTeam: game.winningTeam,
  });
}

/** A minute of a duel at 150 ms is 400 ticks: the encoded size of the first minute of games that last that long. */
function minuteOfDuel(): BenchResult[] {
  const settings = defaultSettings('duel');
  const sizes: number[] = [];
  const turns: number[] = [];
  for (let seed = 1; sizes.length < 20 && seed < 500; seed++) {
    const replay = botGame(settings, seed, 400);
    if (replay.ticks < 400) continue;
    sizes.push(encodeReplay(replay).length);
    turns.push(replay.turns.length);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [{
    group: 'replay', name: 'duel replay size per minute', value: Math.round(mean(sizes)), unit: 'bytes',
    notes: `400 ticks at 150 ms, bot turns (${Math.round(mean(turns))} effective turns/min), msgpack; min ${Math.min(...sizes)}, max ${Math.max(...sizes)} over ${sizes.length} games`,
  }];
}

/** `verify` of a ten-minute game (4000 ticks at 150 ms). */
function verifyTenMinutes(): BenchResult[] {
  // bots rarely keep a 40x40 duel going for 4000 ticks; the longest-lived of a few seeds on a larger board does
  const settings: Settings = { ...defaultSettings('duel'), width: 64, height: 64 };
  let replay: Replay | null = null;
  for (let seed = 1; seed < 200 && !replay; seed++) {
    const candidate = botGame(settings, seed, 4000);
    if (candidate.ticks === 4000) replay = candidate;
  }
  if (!replay) throw new Error('no bot duel lasted 4000 ticks');
  const times: number[] = [];
  let first = 0;
  for (let i = 0; i < 30; i++) {
    const start = performance.now();
    const result = verifyReplay(replay);
    times.push(performance.now() - start);
    if (i === 0) first = times[0];
    if (!result.ok) throw new Error(`the synthesized replay does not verify: ${JSON.stringify(result.mismatch)}`);
  }
  times.sort((a, b) => a - b);
  const bytes = encodeReplay(replay).length;
  return [{
    group: 'replay', name: 'verify 4000-tick duel', value: Math.round(times[Math.floor(times.length / 2)] * 100) / 100, unit: 'ms',
    notes: `median of 30 (first, cold: ${first.toFixed(2)}; min ${times[0].toFixed(2)}); ${settings.width}x${settings.height}, `
      + `${replay.turns.length} turns, ${replay.hashes.length} hashes, ${bytes} bytes`,
  }];
}

export const run: Bench = async () => [...minuteOfDuel(), ...verifyTenMinutes()];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await run()) {
    console.log(`${row.group}  ${row.name.padEnd(30)} ${String(row.value).padStart(8)} ${row.unit}  ${row.notes}`);
  }
  if (process.argv.includes('--write')) {
    const { writeFileSync } = await import('node:fs');
    const settings: Settings = { ...defaultSettings('duel'), width: 64, height: 64 };
    for (let seed = 1; seed < 200; seed++) {
      const replay = botGame(settings, seed, 4000);
      if (replay.ticks === 4000) {
        writeFileSync('replay-4000.msgpack', encodeReplay(replay));
        console.log(`wrote replay-4000.msgpack (seed ${seed})`);
        break;
      }
    }
  }
}
