// The arena on a canvas: border, food, and every snake drawn as a thick path through its interpolated cells, so
// motion stays smooth between ticks at any frame rate. The player's own snake gets an outline; dead snakes fade.
// A board too large to draw whole with readable cells shows a player the part around their snake, with the whole
// board small in a corner away from that snake.
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
const MINIMAP_BACKGROUND = 'rgba(11, 16, 32, 0.82)';
const MINIMAP_FRAME = 'rgba(148, 163, 184, 0.55)';
const MINIMAP_VIEW = 'rgba(248, 250, 252, 0.75)';

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
  /** the snake whose head stays in sight when the whole board would have cells too small to read; null: the whole board */
  follow: number | null;
  /**
   * `follow` is the viewer's pick (a spectator's, a replay's, a player's who is out), not the player's own snake:
   * they asked to see it closer, so it is followed whenever that makes cells larger (below MIN_CELL_PX)
   */
  picked: boolean;
}

/**
 * A player's board is drawn whole while its cells are at least this (CSS px): a 40×40 board fits a 360 px wide phone
 * (about 8.5 px cells) whole, which beats following their snake with a corner of the board under the minimap.
 */
export const MIN_WHOLE_CELL_PX = 8;
/** The cells of a view that follows a snake (CSS px): larger, or it would show little more than the whole board. */
export const MIN_CELL_PX = 10;
/** The view moves once the followed head is closer than this share of the view to one of its edges. */
const FOLLOW_MARGIN = 0.35;
/** the minimap's longer side at most, CSS px, and as a share of the view's shorter side */
const MINIMAP_PX = 140;
const MINIMAP_SHARE = 0.25;
/** between the minimap and the view's edges, CSS px */
const MINIMAP_INSET = 10;

/** The part of the board a canvas shows. */
export interface BoardView {
  /** CSS px per cell */
  cell: number;
  /** the board cell at the view's top-left corner (fractional while the view follows a snake) */
  x: number;
  y: number;
  /** how many cells the view spans */
  cols: number;
  rows: number;
  /** all of the board is in view */
  whole: boolean;
  /** the canvas, CSS px */
  cssWidth: number;
  cssHeight: number;
}

/**
 * What of a `width`×`height` board to draw in an `availW`×`availH` box (CSS px): all of it, as large as fits, square
 * cells; unless that makes cells smaller than `wholeDownTo` (MIN_WHOLE_CELL_PX for the player's own snake, MIN_CELL_PX
 * for a snake the viewer picked) and there is a `focus` (the followed head) to keep in sight. Then the cells are
 * MIN_CELL_PX (a whole number of device pixels, so the grid slides without shimmering) and the view is the part of
 * the board around the focus, moved from `previous` only as the focus nears its edge.
 */
export function boardView(
  width: number, height: number, availW: number, availH: number, dpr: number, focus: Point | null, previous: BoardView | null,
  wholeDownTo = MIN_WHOLE_CELL_PX,
): BoardView {
  const fitCell = Math.max(2, Math.min(availW / width, availH / height));
  if (focus === null || fitCell >= wholeDownTo) {
    const cssWidth = Math.floor(fitCell * width);
    const cssHeight = Math.floor(fitCell * height);
    return { cell: cssWidth / width, x: 0, y: 0, cols: width, rows: height, whole: true, cssWidth, cssHeight };
  }
  const cell = Math.ceil(MIN_CELL_PX * dpr) / dpr;
  const cssWidth = Math.floor(Math.min(availW, cell * width));
  const cssHeight = Math.floor(Math.min(availH, cell * height));
  const cols = cssWidth / cell;
  const rows = cssHeight / cell;
  const follow = (from: number | null, head: number, span: number, size: number): number => {
    // a head out of view (a new game, a snapshot, a resize) is centred; else it may roam the middle of the view
    const start = from === null || head < from || head > from + span ? head - span / 2 : from;
    const kept = Math.min(Math.max(start, head - span * (1 - FOLLOW_MARGIN)), head - span * FOLLOW_MARGIN);
    return Math.min(Math.max(kept, 0), size - span);
  };
  const before = previous !== null && !previous.whole && previous.cell === cell ? previous : null;
  return {
    cell, cols, rows, whole: false, cssWidth, cssHeight,
    x: follow(before?.x ?? null, focus[0] + 0.5, cols, width),
    y: follow(before?.y ?? null, focus[1] + 0.5, rows, height),
  };
}

/** Where in the view the minimap sits. */
export interface MinimapCorner {
  right: boolean;
  bottom: boolean;
}

/**
 * The corner for a `w`×`h` minimap in a view of `viewW`×`viewH` (CSS px) that keeps it off `snake` (the followed
 * snake's cells, CSS px, head first): the `current` corner while the snake stays clear of it (so the minimap does
 * not jump about), else the clear corner farthest from the head. `clear` is false when no corner is.
 */
export function minimapCorner(
  viewW: number, viewH: number, w: number, h: number, snake: readonly Point[], margin: number, current: MinimapCorner,
): { corner: MinimapCorner; clear: boolean } {
  const isClear = (corner: MinimapCorner): boolean => {
    const { left, top } = minimapOrigin(viewW, viewH, w, h, corner);
    return snake.every(([x, y]) => x < left - margin || x > left + w + margin || y < top - margin || y > top + h + margin);
  };
  if (snake.length === 0 || isClear(current)) return { corner: current, clear: true };
  const [hx, hy] = snake[0];
  const away = (corner: MinimapCorner): number => {
    const { left, top } = minimapOrigin(viewW, viewH, w, h, corner);
    return Math.hypot(left + w / 2 - hx, top + h / 2 - hy);
  };
  const corners = [false, true].flatMap((right) => [false, true].map((bottom) => ({ right, bottom })))
    .sort((a, b) => away(b) - away(a));
  const clearOne = corners.find(isClear);
  return { corner: clearOne ?? corners[0], clear: clearOne !== undefined };
}

function minimapOrigin(viewW: number, viewH: number, w: number, h: number, corner: MinimapCorner): { left: number; top: number } {
  return {
    left: corner.right ? viewW - w - MINIMAP_INSET : MINIMAP_INSET,
    top: corner.bottom ? viewH - h - MINIMAP_INSET : MINIMAP_INSET,
  };
}

const DX = [0, 1, 0, -1] as const;
const DY = [-1, 0, 1, 0] as const;

export class GameView {
  /** what the canvas shows, as last drawn */
  view: BoardView | null = null;
  private readonly ctx: CanvasRenderingContext2D;
  private dpr = 1;
  private gridKey = '';
  private grid: HTMLCanvasElement | null = null;
  private minimapAt: MinimapCorner = { right: true, bottom: true };

  constructor(readonly canvas: HTMLCanvasElement, private readonly fit: HTMLElement) {
    const ctx = canvas.getContext('2d');
    if (ctx === null) throw new Error('this browser has no 2D canvas');
    this.ctx = ctx;
  }

  /** Sizes the canvas for the part of the board it shows (boardView), sharp on high-DPI screens. */
  private layout(width: number, height: number, focus: Point | null, wholeDownTo: number): BoardView {
    const availW = Math.max(100, this.fit.clientWidth);
    const availH = Math.max(100, this.fit.clientHeight || availW);
    const dpr = Math.min(3, window.devicePixelRatio || 1);
    const view = boardView(width, height, availW, availH, dpr, focus, this.view, wholeDownTo);
    const previous = this.view;
    if (previous === null || previous.cssWidth !== view.cssWidth || previous.cssHeight !== view.cssHeight || this.dpr !== dpr
      || this.canvas.width !== Math.round(view.cssWidth * dpr)) {
      this.canvas.style.width = `${view.cssWidth}px`;
      this.canvas.style.height = `${view.cssHeight}px`;
      this.canvas.width = Math.round(view.cssWidth * dpr);
      this.canvas.height = Math.round(view.cssHeight * dpr);
      this.grid = null;
    }
    this.dpr = dpr;
    this.view = view;
    return view;
  }

  render(frame: Frame, now: number, options: RenderOptions): void {
    const alpha = tickProgress(frame.steppedAt, now, options.tickMs);
    const bodies = new Map(frame.snakes.map((s) => [s.id, interpolateBody(s.alive ? s.prevBody : null, s.body, alpha)]));
    const followed = options.follow === null ? undefined : frame.snakes[options.follow];
    const focus = followed?.alive ? bodies.get(followed.id)?.[0] ?? null : null;
    const view = this.layout(frame.width, frame.height, focus, options.picked ? MIN_CELL_PX : MIN_WHOLE_CELL_PX);
    const cell = view.cell;
    const dpr = this.dpr;
    const ctx = this.ctx;
    this.drawBoard(frame, view);

    // board coordinates from here: the view's top-left cell at the canvas's corner
    ctx.setTransform(dpr, 0, 0, dpr, -view.x * cell * dpr, -view.y * cell * dpr);
    ctx.strokeStyle = BORDER;
    ctx.lineWidth = 2;
    ctx.strokeRect(1, 1, frame.width * cell - 2, frame.height * cell - 2);
    for (const [x, y] of frame.food) {
      ctx.fillStyle = FOOD;
      ctx.beginPath();
      ctx.arc((x + 0.5) * cell, (y + 0.5) * cell, Math.max(1.5, cell * 0.33), 0, Math.PI * 2);
      ctx.fill();
    }
    // Dead snakes under the living, the player's own snake on top.
    const order = [...frame.snakes].sort((a, b) => rank(a, options.mySnakeId) - rank(b, options.mySnakeId));
    for (const snake of order) this.drawSnake(snake, bodies.get(snake.id) ?? snake.body, cell, options);
    if (!view.whole) this.drawMinimap(frame, view, followed?.alive ? bodies.get(followed.id) ?? [] : [], options);
  }

  /** The background and its dots, drawn once per size (a cell larger than the view, to slide as it moves), then copied. */
  private drawBoard(frame: Frame, view: BoardView): void {
    const ctx = this.ctx;
    const cell = view.cell;
    const key = `${this.canvas.width}x${this.canvas.height}:${cell}:${frame.width}x${frame.height}`;
    if (this.grid === null || this.gridKey !== key) {
      const scale = this.canvas.width / view.cssWidth;
      const cssW = view.whole ? view.cssWidth : view.cssWidth + cell;
      const cssH = view.whole ? view.cssHeight : view.cssHeight + cell;
      const grid = document.createElement('canvas');
      grid.width = Math.ceil(cssW * scale);
      grid.height = Math.ceil(cssH * scale);
      const g = grid.getContext('2d')!;
      g.setTransform(scale, 0, 0, scale, 0, 0);
      g.fillStyle = BACKGROUND;
      g.fillRect(0, 0, cssW, cssH);
      if (cell >= 6) {
        g.fillStyle = GRID_DOT;
        // big enough to see slide by when the view follows a snake over small cells
        const r = Math.max(0.9, cell * 0.06);
        for (let y = 0; y < Math.ceil(cssH / cell); y++) {
          for (let x = 0; x < Math.ceil(cssW / cell); x++) g.fillRect((x + 0.5) * cell - r, (y + 0.5) * cell - r, r * 2, r * 2);
        }
      }
      this.grid = grid;
      this.gridKey = key;
    }
    const shift = (at: number): number => -(at - Math.floor(at)) * cell * this.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.grid, shift(view.x), shift(view.y));
  }

  /**
   * The whole board, small, in a corner, with the part in view outlined: for a view that shows only part of it. It
   * keeps to a corner away from the followed snake (minimapCorner), and fades should no corner be clear of it.
   */
  private drawMinimap(frame: Frame, view: BoardView, followed: readonly Point[], options: RenderOptions): void {
    const ctx = this.ctx;
    const size = Math.min(MINIMAP_PX, Math.min(view.cssWidth, view.cssHeight) * MINIMAP_SHARE);
    const scale = size / Math.max(frame.width, frame.height);
    const w = frame.width * scale;
    const h = frame.height * scale;
    const dot = Math.max(2, scale);
    const onView = followed.map(([x, y]): Point => [(x + 0.5 - view.x) * view.cell, (y + 0.5 - view.y) * view.cell]);
    const { corner, clear } = minimapCorner(view.cssWidth, view.cssHeight, w, h, onView, 2 * view.cell, this.minimapAt);
    this.minimapAt = corner;
    const { left, top } = minimapOrigin(view.cssWidth, view.cssHeight, w, h, corner);
    ctx.save();
    if (!clear) ctx.globalAlpha = 0.3;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, left * this.dpr, top * this.dpr);
    ctx.fillStyle = MINIMAP_BACKGROUND;
    ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = FOOD;
    for (const [x, y] of frame.food) ctx.fillRect(x * scale, y * scale, dot, dot);
    const order = frame.snakes.filter((s) => s.alive).sort((a, b) => rank(a, options.mySnakeId) - rank(b, options.mySnakeId));
    for (const snake of order) {
      ctx.fillStyle = snakeColor(snake, options.teams);
      for (const [x, y] of snake.body) ctx.fillRect(x * scale, y * scale, dot, dot);
    }
    const mine = options.mySnakeId === null ? undefined : frame.snakes[options.mySnakeId];
    if (mine?.alive) {
      // where the player is, at a glance
      ctx.strokeStyle = '#f8fafc';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc((mine.body[0][0] + 0.5) * scale, (mine.body[0][1] + 0.5) * scale, 4, 0, Math.PI * 2);
      ctx.stroke();
    }
    ctx.strokeStyle = MINIMAP_FRAME;
    ctx.lineWidth = 1;
    ctx.strokeRect(0.5, 0.5, w - 1, h - 1);
    ctx.strokeStyle = MINIMAP_VIEW;
    ctx.strokeRect(view.x * scale, view.y * scale, view.cols * scale, view.rows * scale);
    ctx.restore();
  }

  private drawSnake(snake: SnakeFrame, points: readonly Point[], cell: number, options: RenderOptions): void {
    const ctx = this.ctx;
    const mine = snake.id === options.mySnakeId;
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
