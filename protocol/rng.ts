// The game's random number generator: GAME.md "Random numbers" (mulberry32 over one unsigned 32-bit word).
// The whole generator is its state, so a game's `rng` field is enough to continue it anywhere.

const INCREMENT = 0x6d2b79f5;

/** The state after one draw. Kept apart from the output so the engine can draw without allocating a tuple. */
export function mulberry32Advance(state: number): number {
  return (state + INCREMENT) >>> 0;
}

/** The value drawn when the generator reaches `advanced` (a state returned by mulberry32Advance). */
export function mulberry32Output(advanced: number): number {
  let t = advanced;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/** One `next()`: the value drawn from `state` and the state after it. */
export function mulberry32Next(state: number): [value: number, next: number] {
  const next = mulberry32Advance(state);
  return [mulberry32Output(next), next];
}
