// The arena on a canvas: border, food, and every snake drawn as a thick path through its interpolated cells, so
// motion stays smooth between ticks at any frame rate. The player's own snake gets an outline; dead snakes fade.
import type { Dir } from '../protocol/engine.ts';
import type { Frame, SnakeFrame } from './game-sync.ts';
import { interpolateBody, tickProgress, type Point } from './interpolate.ts';

/** One colour per snake, far apart in hue; the food's red is kept out of it. */
export const SNAKE_COLORS = ['#4ade80', '#38bdf8', '#fbbf24', '#a78bfa', '#f472b6', '#fb923c', '#2dd4bf', '#bef264'] as const;
/** In team games the teams are told apart first: cool colours for team 0, warm for team 1. */
const TEAM_COLORS = [['#38bdf8', '#2dd4bf', '#818cf8', '#22d3ee'], ['#fb923c', '#f472b6', '#fbbf24', '#f87171']] as const;
const FOOD = '#ff5a5f';
const BACKGROUND = '#0b1020';
const GRID_DOT = 'rgba(148, 163, 184, 0.10)';
const BORDER = '#64748b';

export function snakeColor(snake: Pick<SnakeFrame, 'id' | 'team'>, teams: boolean): string {
  if (teams) {
    const palette = TEAM_COLORS[snake.team === 1 ? 1 : 0];
    return palette[Math.floor(snake.id / 2) % palette.length];
  }
  return SNAKE_COLORS[snake.id % SNAKE_COLORS.length];
}

export interface RenderOptions {
  /** the player's snake, highlighted */
  mySnakeId: number | null;
  /** where the player's snake is about to turn (shown on its head before the node confirms it) */
  hint: Dir | null;
  teams: boolean;
  tickMs: number;
}

const DX = [0, 1, 0, -1] as const;
const DY = [-1, 0, 1, 0] as const;

export class GameView {
  private readonly ctx: CanvasRenderingContext2D;
  private cssWidth = 0;
  private cssHeight = 0;
  private gridKey = '';
  private grid: HTMLCanvasElement | null = null;

  constructor(readonly canvas: HTMLCanvasElement, private readonly fit: HTMLElement) {
    const ctx = canvas.getContext('2d');
    if (ctx === null) throw new Error('this browser has no 2D canvas');
    this.ctx = ctx;
  }

  /** Sizes the canvas to the largest `width`×`height` board that fits the container, sharp on high-DPI screens. */
  private layout(width: number, height: number): number {
    const availW = Math.max(100, this.fit.clientWidth);
    const availH = Math.max(100, this.fit.clientHeight || availW);
    const cell = Math.max(2, Math.min(availW / width, availH / height));
    const cssW = Math.floor(cell * width);
    const cssH = Math.floor(cell * height);
    const dpr = Math.min(3, window.devicePixelRatio || 1);
    if (cssW !== this.cssWidth || cssH !== this.cssHeight || this.canvas.width !== Math.round(cssW * dpr)) {
      this.cssWidth = cssW;
      this.cssHeight = cssH;
      this.canvas.style.width = `${cssW}px`;
      this.canvas.style.height = `${cssH}px`;
      this.canvas.width = Math.round(cssW * dpr);
      this.canvas.height = Math.round(cssH * dpr);
      this.grid = null;
    }
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return cssW / width;
  }

  render(frame: Frame, now: number, options: RenderOptions): void {
    const cell = this.layout(frame.width, frame.height);
    const ctx = this.ctx;
    const alpha = tickProgress(frame.steppedAt, now, options.tickMs);
    this.drawBoard(frame, cell);

    for (const [x, y] of frame.food) {
      ctx.fillStyle = FOOD;
      ctx.beginPath();
      ctx.arc((x + 0.5) * cell, (y + 0.5) * cell, Math.max(1.5, cell * 0.33), 0, Math.PI * 2);
      ctx.fill();
    }
    // Dead snakes under the living, the player's own snake on top.
    const order = [...frame.snakes].sort((a, b) => rank(a, options.mySnakeId) - rank(b, options.mySnakeId));
    for (const snake of order) this.drawSnake(snake, alpha, cell, options);
  }

  private drawBoard(frame: Frame, cell: number): void {
    const ctx = this.ctx;
    const key = `${this.canvas.width}x${this.canvas.height}:${frame.width}x${frame.height}`;
    if (this.grid === null || this.gridKey !== key) {
      // The background and its dots only change with the size: drawn once, then copied each frame.
      const grid = document.createElement('canvas');
      grid.width = this.canvas.width;
      grid.height = this.canvas.height;
      const g = grid.getContext('2d')!;
      const scale = this.canvas.width / this.cssWidth;
      g.setTransform(scale, 0, 0, scale, 0, 0);
      g.fillStyle = BACKGROUND;
      g.fillRect(0, 0, this.cssWidth, this.cssHeight);
      if (cell >= 6) {
        g.fillStyle = GRID_DOT;
        const r = Math.max(0.6, cell * 0.06);
        for (let y = 0; y < frame.height; y++) {
          for (let x = 0; x < frame.width; x++) g.fillRect((x + 0.5) * cell - r, (y + 0.5) * cell - r, r * 2, r * 2);
        }
      }
      g.strokeStyle = BORDER;
      g.lineWidth = 2;
      g.strokeRect(1, 1, this.cssWidth - 2, this.cssHeight - 2);
      this.grid = grid;
      this.gridKey = key;
    }
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.grid, 0, 0);
    ctx.restore();
  }

  private drawSnake(snake: SnakeFrame, alpha: number, cell: number, options: RenderOptions): void {
    const ctx = this.ctx;
    const mine = snake.id === options.mySnakeId;
    const points = interpolateBody(snake.alive ? snake.prevBody : null, snake.body, alpha);
    const color = snakeColor(snake, options.teams);
    const px = (p: Point): [number, number] => [(p[0] + 0.5) * cell, (p[1] + 0.5) * cell];
    const path = (): void => {
      ctx.beginPath();
      points.forEach((p, i) => {
        const [x, y] = px(p);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      if (points.length === 1) ctx.lineTo(...px(points[0]));
    };
    ctx.save();
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.globalAlpha = snake.alive ? 1 : 0.28;
    if (mine && snake.alive) {
      ctx.strokeStyle = '#f8fafc';
      ctx.lineWidth = cell * 0.95;
      path();
      ctx.stroke();
    }
    ctx.strokeStyle = snake.alive ? color : '#94a3b8';
    ctx.lineWidth = cell * (mine ? 0.7 : 0.74);
    path();
    ctx.stroke();

    // The head, with eyes looking where the snake goes (or, for the player, where it is about to turn).
    const [hx, hy] = px(points[0]);
    ctx.fillStyle = snake.alive ? color : '#94a3b8';
    ctx.beginPath();
    ctx.arc(hx, hy, cell * 0.45, 0, Math.PI * 2);
    ctx.fill();
    if (snake.alive) {
      const look = mine && options.hint !== null ? options.hint : snake.dir;
      const fx = DX[look];
      const fy = DY[look];
      for (const side of [-1, 1]) {
        const ex = hx + fx * cell * 0.16 + -fy * side * cell * 0.18;
        const ey = hy + fy * cell * 0.16 + fx * side * cell * 0.18;
        ctx.fillStyle = '#0b1020';
        ctx.beginPath();
        ctx.arc(ex, ey, Math.max(1, cell * 0.09), 0, Math.PI * 2);
        ctx.fill();
      }
    }
    ctx.restore();
  }
}

function rank(snake: SnakeFrame, mine: number | null): number {
  if (!snake.alive) return 0;
  return snake.id === mine ? 2 : 1;
}
