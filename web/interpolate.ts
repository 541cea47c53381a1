// Smooth motion between ticks: a snake moves one cell per tick, so between two ticks its head slides from the old
// head cell to the new one and its tail from the old tail cell to the new one, while every cell in between stays.
// Pure math on cell centres; the renderer turns the points into a stroked path.
import type { Cell } from '../protocol/engine.ts';

export type Point = [number, number];

/** How far (0..1) the display is between the previous step and the latest, `tickMs` long, at `now`. */
export function tickProgress(steppedAt: number, now: number, tickMs: number): number {
  if (tickMs <= 0) return 1;
  const progress = (now - steppedAt) / tickMs;
  return progress <= 0 ? 0 : progress >= 1 ? 1 : progress;
}

const lerp = (a: Cell, b: Cell, alpha: number): Point => [a[0] + (b[0] - a[0]) * alpha, a[1] + (b[1] - a[1]) * alpha];
const same = (a: Cell, b: Cell): boolean => a[0] === b[0] && a[1] === b[1];

/**
 * The points of a snake's body (head first) at `alpha` between `prev` (before the step) and `cur` (after it).
 * At alpha 0 the path covers `prev`, at 1 it covers `cur`. When the two are not one move apart (a snapshot
 * jumped, the snake died and kept its old body, or there is no previous body), the path is just `cur`.
 */
export function interpolateBody(prev: readonly Cell[] | null, cur: readonly Cell[], alpha: number): Point[] {
  const plain = (): Point[] => cur.map(([x, y]) => [x, y] as Point);
  if (prev === null || prev.length === 0 || cur.length < 2) return plain();
  if (!same(cur[1], prev[0])) return plain();
  const grew = cur.length === prev.length + 1;
  if (!grew && cur.length !== prev.length) return plain();
  const points: Point[] = [lerp(prev[0], cur[0], alpha)];
  for (let i = 1; i < cur.length; i++) points.push([cur[i][0], cur[i][1]]);
  // Without growth the old tail cell is left during the step: the tail end slides from it to the new tail.
  if (!grew) points.push(lerp(prev[prev.length - 1], cur[cur.length - 1], alpha));
  return points;
}
