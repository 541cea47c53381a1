// Codec throughput: encodes and decodes per second of realistic `tick` frames (what a node sends every step to
// every player and spectator), and decodes of `turn` frames (what a node reads most), on one core.
// Run alone with `npx tsx bench/codec.ts`, or through bench/run.ts with the other benchmarks.

import { pathToFileURL } from 'node:url';
import {
  decodeClientMessage, decodeServerMessage, encodeClientMessage, encodeServerMessage, TURN_DIRECTIONS,
  type DirectionCode, type TickMessage, type TurnMessage,
} from '../protocol/messages.ts';
import type { Bench, BenchResult } from './types.ts';

const MS_PER_CASE = 1000;
/** Distinct frames cycled through, so no single frame's shape or strings stay hot in a cache. */
const VARIANTS = 64;

/** xorshift32: the benchmark's own randomness. */
function xorshift(state: number): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
}

/**
 * Ticks as a game of `players` snakes sends them: a uuid game id, a few turns (each snake turns about one tick in
 * four), now and then a death, food spawned after about one tick in ten, a 32-bit hash.
 */
function ticks(players: number): TickMessage[] {
  let random = 0x9e3779b9 + players;
  const next = (): number => (random = xorshift(random));
  const gameId = '6f1c2a9e-4b7d-4e21-9c3f-0a8d5e7b1c42';
  return Array.from({ length: VARIANTS }, (_, i) => {
    const turns: [number, DirectionCode][] = [];
    for (let id = 0; id < players; id++) if (next() % 4 === 0) turns.push([id, (next() & 3) as DirectionCode]);
    const died = next() % 50 === 0 ? [next() % players] : [];
    const food: [number, number] | null = next() % 10 === 0 ? [next() % 40, next() % 40] : null;
    return { type: 'tick', gameId, t: 1000 + i, turns, died, food, hash: next() };
  });
}

function turns(): TurnMessage[] {
  return Array.from({ length: VARIANTS }, (_, i) => ({ type: 'turn', dir: TURN_DIRECTIONS[i & 3], seq: 5000 + i, t: 1200 + i }));
}

/** Runs `op` on the variants in turn for about MS_PER_CASE ms; returns ops/s. */
function perSecond<T>(inputs: T[], op: (input: T) => number): { rate: number; sink: number } {
  let sink = 0;
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < MS_PER_CASE) {
    for (let i = 0; i < 4096; i++) sink += op(inputs[i & (VARIANTS - 1)]);
    ops += 4096;
    elapsed = performance.now() - start;
  }
  return { rate: Math.round(ops / (elapsed / 1000)), sink };
}

function row(name: string, unit: string, inputs: unknown[], op: (input: never) => number, notes: string): BenchResult {
  const warm = inputs.slice(0, VARIANTS);
  for (let i = 0; i < 20000; i++) op(warm[i & (VARIANTS - 1)] as never);
  const { rate, sink } = perSecond(inputs, op as (input: unknown) => number);
  if (sink === 0) throw new Error(`${name}: the operation produced nothing; the benchmark is broken`);
  return { group: 'codec', name, value: rate, unit, notes };
}

const frameSize = (frames: Uint8Array[]): string =>
  `${Math.round(frames.reduce((sum, f) => sum + f.length, 0) / frames.length)} bytes/frame on average`;

export const run: Bench = async () => {
  const results: BenchResult[] = [];
  for (const [label, players] of [['duel', 2], ['ffa-8', 8]] as const) {
    const messages = ticks(players);
    const frames = messages.map(encodeServerMessage);
    results.push(row(`encode tick ${label}`, 'msgs/s', messages, (m: TickMessage) => encodeServerMessage(m).length,
      `encodeServerMessage, ${frameSize(frames)}`));
    results.push(row(`decode tick ${label}`, 'msgs/s', frames, (f: Uint8Array) => {
      const result = decodeServerMessage(f);
      if (!result.ok) throw new Error(result.error.message);
      return result.message.type.length;
    }, 'decodeServerMessage (structure check, msgpackr, field checks)'));
  }
  const turnFrames = turns().map(encodeClientMessage);
  results.push(row('decode turn', 'msgs/s', turnFrames, (f: Uint8Array) => {
    const result = decodeClientMessage(f);
    if (!result.ok) throw new Error(result.error.message);
    return result.message.type.length;
  }, `decodeClientMessage, the node's hot path, ${frameSize(turnFrames)}`));
  return results;
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await run()) {
    console.log(`${r.group}  ${r.name.padEnd(20)} ${String(r.value).padStart(10)} ${r.unit}  ${r.notes ?? ''}`);
  }
}
