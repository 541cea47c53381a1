// How load bots steer, shared by SnakeTron's end-to-end driver and the Colyseus baseline's bots, so both servers
// carry the same load: every 2 to 5 ticks, turn to whichever side has the longer free run ahead.
import type { Dir, Game } from '../protocol/engine.ts';

/** Ticks between two turns of one bot: a turn about every 3.5 ticks. */
export const TURN_EVERY_MIN = 2;
export const TURN_EVERY_MAX = 5;
/** How far a bot looks down each way it could turn. */
const LOOKAHEAD = 8;
const DX = [0, 1, 0, -1] as const;
const DY = [-1, 0, 1, 0] as const;

/** The tick of a bot's next turn after tick `t`. */
export function nextTurnTick(t: number): number {
  return t + TURN_EVERY_MIN + Math.floor(Math.random() * (TURN_EVERY_MAX - TURN_EVERY_MIN + 1));
}

/** The side with the longer free run ahead (either, on a tie), or null when both are blocked. */
export function chooseTurn(game: Game, snakeId: number): Dir | null {
  const state = game.snapshot();
  const { width, height } = state.settings;
  const taken = new Set<number>();
  for (const snake of state.snakes) if (snake.alive) for (const [x, y] of snake.body) taken.add(y * width + x);
  const me = state.snakes[snakeId];
  const [hx, hy] = me.body[0];
  const run = (dir: Dir): number => {
    let n = 0;
    for (let x = hx + DX[dir], y = hy + DY[dir]; n < LOOKAHEAD; x += DX[dir], y += DY[dir], n++) {
      if (x < 0 || y < 0 || x >= width || y >= height || taken.has(y * width + x)) break;
    }
    return n;
  };
  const left = ((me.dir + 3) % 4) as Dir;
  const right = ((me.dir + 1) % 4) as Dir;
  const [l, r] = [run(left), run(right)];
  if (l === 0 && r === 0) return null;
  return l > r ? left : r > l ? right : Math.random() < 0.5 ? left : right;
}
