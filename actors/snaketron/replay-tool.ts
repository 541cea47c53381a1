// What bin/snaketron-replay does, as functions specs and other tools can call: load a replay (from Postgres by
// game id, or from a msgpack or JSON file), list finished games, verify a replay against the engine, export it as
// JSON, and play it back in a terminal.
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { connectDatabase } from '../../runtime/db.ts';
import { redactUrl } from '../../runtime/log.ts';
import { isUrl } from './config.ts';
import { Game, type Dir } from '../../protocol/engine.ts';
import { checkReplayShape, decodeReplay, ReplayFormatError, verifyReplay, type Replay, type VerifyResult } from './replay.ts';
import type { SnaketronTables } from './schema.ts';

export const DEFAULT_DATABASE_URL = 'postgres://127.0.0.1:5432/snaketron';

/** The replay asked for does not exist or cannot be read (bin/snaketron-replay exits 2). */
export class ReplayUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayUnavailable';
  }
}

// ---- loading ----------------------------------------------------------------------------------------------------

export interface LoadedReplay {
  replay: Replay;
  /** where it came from, for messages: `game g-… in Postgres` or the file name */
  source: string;
  /** the size of what was read (the msgpack row, or the file) */
  bytes: number;
}

/** Parses a replay file's contents: a JSON export (starts with `{`) or msgpack as stored in Postgres. */
export function parseReplayBytes(bytes: Uint8Array, what: string): Replay {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (i === bytes.length) throw new ReplayUnavailable(`${what} is empty`);
  try {
    if (bytes[i] === 0x7b /* { */) {
      let value: unknown;
      try {
        value = JSON.parse(Buffer.from(bytes).toString('utf8'));
      } catch (err) {
        throw new ReplayUnavailable(`${what} is not valid JSON: ${(err as Error).message}`);
      }
      return checkReplayShape(value);
    }
    return decodeReplay(bytes);
  } catch (err) {
    if (err instanceof ReplayUnavailable) throw err;
    const reason = err instanceof ReplayFormatError ? err.message : `not a replay (${(err as Error).message})`;
    throw new ReplayUnavailable(`${what} is not a readable replay: ${reason}`);
  }
}

/** Postgres as the replay tool sees it: finished games and their replays. */
export class ReplayStore {
  private constructor(private readonly db: Kysely<SnaketronTables>, readonly url: string) {}

  static open(url: string): ReplayStore {
    if (!isUrl(url, ['postgres', 'postgresql'])) throw new ReplayUnavailable(`--database must be a postgres:// URL, got "${url}"`);
    return new ReplayStore(connectDatabase<SnaketronTables>(url, 2), url);
  }

  /** The stored replay of a game, or null when the game has none (yet). */
  async replay(gameId: string): Promise<{ replay: Replay; bytes: number } | null> {
    const row = await this.query(() => this.db.selectFrom('replays').select('data').where('game_id', '=', gameId).executeTakeFirst());
    if (!row) return null;
    return { replay: parseReplayBytes(row.data, `the replay of game ${gameId}`), bytes: row.data.length };
  }

  /** Why a game has no replay, for the not-found message. */
  async statusOf(gameId: string): Promise<string | null> {
    const row = await this.query(() => this.db.selectFrom('games').select('status').where('id', '=', gameId).executeTakeFirst());
    return row?.status ?? null;
  }

  /** The most recently finished games, newest first. */
  async recent(limit: number): Promise<FinishedGame[]> {
    const games = await this.query(() => this.db.selectFrom('games').leftJoin('replays', 'replays.game_id', 'games.id')
      .select(['games.id', 'games.mode', 'games.ended_at', 'games.ticks', 'games.winner', 'games.winning_team', 'replays.bytes'])
      .where('games.status', '=', 'complete').orderBy('games.ended_at', 'desc').orderBy('games.id').limit(limit).execute());
    if (games.length === 0) return [];
    const players = await this.query(() => this.db.selectFrom('game_players')
      .select(['game_id', 'snake_id', 'name', 'team', 'score', 'length', 'place'])
      .where('game_id', 'in', games.map((g) => g.id)).orderBy('game_id').orderBy('snake_id').execute());
    return games.map((g) => ({
      id: g.id, mode: g.mode, endedAt: g.ended_at, ticks: g.ticks, winner: g.winner, winningTeam: g.winning_team,
      replayBytes: g.bytes,
      players: players.filter((p) => p.game_id === g.id)
        .map((p) => ({ snakeId: p.snake_id, name: p.name, team: p.team, score: p.score, length: p.length, place: p.place })),
    }));
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  private async query<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      if (/relation .* does not exist/.test(message)) {
        throw new ReplayUnavailable(`${redactUrl(this.url)} has no SnakeTron tables (${message}); point --database at a cluster's database`);
      }
      throw new ReplayUnavailable(`cannot query Postgres at ${redactUrl(this.url)}: ${message || (err as { code?: string }).code || 'connection failed'}`);
    }
  }
}

export interface FinishedGame {
  id: string;
  mode: string;
  endedAt: Date | null;
  ticks: number | null;
  winner: number | null;
  winningTeam: number | null;
  replayBytes: number | null;
  players: Array<{ snakeId: number; name: string; team: number; score: number | null; length: number | null; place: number | null }>;
}


/** A file name when such a file exists (or `ref` looks like one), else a game id looked up in Postgres. */
export function isFileRef(ref: string): boolean {
  return existsSync(ref) || /[/\\]/.test(ref) || /\.(json|msgpack|mpk|bin)$/i.test(ref);
}

/** Loads `ref`: a replay file, or the replay of the game with that id (opening `store` only when needed). */
export async function loadReplay(ref: string, store: () => ReplayStore): Promise<LoadedReplay> {
  if (isFileRef(ref)) {
    let bytes: Buffer;
    try {
      if (!statSync(ref).isFile()) throw new Error('it is not a regular file');
      bytes = readFileSync(ref);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new ReplayUnavailable(`cannot read ${ref}: ${reason}`);
    }
    return { replay: parseReplayBytes(bytes, ref), source: ref, bytes: bytes.length };
  }
  const db = store();
  const found = await db.replay(ref);
  if (!found) {
    const status = await db.statusOf(ref);
    throw new ReplayUnavailable(status === null
      ? `no game ${ref} in ${redactUrl(db.url)} (and no file of that name); \`snaketron-replay list\` shows finished games`
      : `game ${ref} has no replay: it is ${status}${status === 'complete' ? ' (its replay is still being written)' : ''}`);
  }
  return { replay: found.replay, source: `game ${ref}`, bytes: found.bytes };
}

// ---- list ---------------------------------------------------------------------------------------------------------

/** The finished games as an aligned text table. */
export function formatGameTable(games: FinishedGame[]): string {
  if (games.length === 0) return 'no finished games yet';
  const rows = games.map((g) => [
    g.id, g.mode, g.endedAt ? formatTime(g.endedAt) : '-', g.ticks === null ? '-' : String(g.ticks), resultOf(g),
    g.players.map((p) => `${p.name} ${p.score ?? 0}`).join(', '), g.replayBytes === null ? '-' : formatBytes(g.replayBytes),
  ]);
  const header = ['GAME', 'MODE', 'ENDED', 'TICKS', 'RESULT', 'PLAYERS (score)', 'REPLAY'];
  const numeric = new Set([3, 6]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
    .join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function resultOf(g: FinishedGame): string {
  if (g.mode === 'solo' || g.players.length === 1) return `score ${g.players[0]?.score ?? 0}`;
  if (g.mode === 'teams') return g.winningTeam === null ? 'draw' : `team ${g.winningTeam} won`;
  if (g.winner === null) return 'draw';
  return `${g.players.find((p) => p.snakeId === g.winner)?.name ?? `snake ${g.winner}`} won`;
}

function formatTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function formatBytes(n: number): string {
  return n < 10_000 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`;
}

// ---- verify -------------------------------------------------------------------------------------------------------

export interface VerifyReport extends VerifyResult {
  ms: number;
}

export function verify(replay: Replay): VerifyReport {
  const start = performance.now();
  const result = verifyReplay(replay);
  return { ...result, ms: performance.now() - start };
}

export const hex = (h: number): string => `0x${(h >>> 0).toString(16).padStart(8, '0')}`;

export function formatVerify(loaded: LoadedReplay, report: VerifyReport): string {
  const { replay } = loaded;
  if (report.ok) {
    return `ok: ${loaded.source} (${replay.settings.mode}, ${replay.players.length} players) re-simulated to tick ${replay.ticks}; `
      + `${report.checked} hashes match, final ${hex(replay.finalHash)} (${report.ms.toFixed(1)} ms)`;
  }
  const m = report.mismatch!;
  const before = report.checked - 1;
  return `MISMATCH: ${loaded.source} differs from the engine at tick ${m.t}: the replay says ${hex(m.expected)}, `
    + `the engine computes ${hex(m.actual)} (${before} earlier stored hash${before === 1 ? '' : 'es'} matched)`;
}

// ---- export -------------------------------------------------------------------------------------------------------

/**
 * The replay as JSON, one field per line and one turn or hash per line: valid JSON that diffs and edits well
 * (the form `verify FILE` reads back).
 */
export function replayToJson(replay: Replay): string {
  const fields = Object.entries(replay).map(([key, value]) => {
    const text = Array.isArray(value) && value.every((v) => Array.isArray(v)) && value.length > 0
      ? `[\n${value.map((v) => `    ${JSON.stringify(v)}`).join(',\n')}\n  ]`
      : JSON.stringify(value);
    return `  ${JSON.stringify(key)}: ${text}`;
  });
  return `{\n${fields.join(',\n')}\n}\n`;
}

// ---- play ---------------------------------------------------------------------------------------------------------

/** Steps a replay's game forward tick by tick (and back to the start), the way verifyReplay does. */
export class ReplayCursor {
  game!: Game;
  private readonly turns: Array<[number, number, Dir]>;
  private next = 0;

  constructor(readonly replay: Replay) {
    this.turns = replay.turns.map((turn, k) => ({ turn, k })).sort((a, b) => a.turn[0] - b.turn[0] || a.k - b.k).map((x) => x.turn);
    this.reset();
  }

  reset(): void {
    this.game = Game.create(this.replay.settings, this.replay.seed, this.replay.players.length);
    this.next = 0;
  }

  get atEnd(): boolean {
    return this.game.tick >= this.replay.ticks || this.game.status === 'complete';
  }

  /** One tick forward; false at the end. */
  step(): boolean {
    if (this.atEnd) return false;
    const t = this.game.tick + 1;
    while (this.next < this.turns.length && this.turns[this.next][0] < t) this.next++;
    while (this.next < this.turns.length && this.turns[this.next][0] === t) {
      const [, snakeId, dir] = this.turns[this.next++];
      if (this.game.isAlive(snakeId)) this.game.queueTurn(snakeId, dir, t);
    }
    this.game.step();
    return true;
  }

  toEnd(): void {
    while (this.step()) { /* on to the last tick */ }
  }
}

/** 256-colour codes per snake id: body, head. */
const SNAKE_COLORS: Array<[number, number]> = [
  [34, 118], [33, 117], [163, 213], [178, 229], [37, 87], [166, 215], [92, 147], [248, 231],
];
const FOOD_COLOR = 196;
const EMPTY_COLOR = 235;
const DEAD_COLOR = 240;
const LETTERS = 'abcdefgh';

export interface FrameStatus {
  speed?: number;
  paused?: boolean;
}

/** One frame: a title, the tick counter, the board and a score line per snake; ANSI colours when `color`. */
export function renderFrame(replay: Replay, game: Game, color: boolean, status: FrameStatus = {}): string[] {
  const state = game.snapshot();
  const { width, height } = replay.settings;
  const ended = game.tick >= replay.ticks || state.status === 'complete';
  const paint = new Int16Array(width * height).fill(-1); // -1 empty, -2 food, 2i body of i, 2i+1 head of i
  for (const [x, y] of state.food) paint[y * width + x] = -2;
  // dead snakes first, so the living are drawn over them
  const order = [...state.snakes].sort((a, b) => Number(a.alive) - Number(b.alive));
  for (const snake of order) {
    snake.body.forEach(([x, y], k) => {
      if (x >= 0 && y >= 0 && x < width && y < height) paint[y * width + x] = snake.id * 2 + (k === 0 ? 1 : 0);
    });
  }
  const alive = new Map(state.snakes.map((s) => [s.id, s.alive]));
  const name = (id: number) => replay.players[id]?.name ?? `snake ${id}`;
  const mode = status.paused ? 'paused' : ended ? 'end' : 'playing';
  const title = `SnakeTron replay ${replay.gameId}  ${replay.settings.mode} ${width}x${height} @${replay.settings.tickMs}ms`;
  const counter = `tick ${game.tick}/${replay.ticks}${status.speed !== undefined ? `  speed ${formatSpeed(status.speed)}` : ''}  ${mode}`;
  const lines: string[] = [];
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
  lines.push(`${bold(title)}   ${counter}`);

  if (color) {
    const colorOf = (cell: number): number => {
      const p = paint[cell];
      if (p === -1) return EMPTY_COLOR;
      if (p === -2) return FOOD_COLOR;
      const id = p >> 1;
      if (!alive.get(id)) return DEAD_COLOR;
      return SNAKE_COLORS[id % SNAKE_COLORS.length][p & 1];
    };
    // two board rows per text row: the upper half block takes the top cell's colour, the background the bottom's
    for (let y = 0; y < height; y += 2) {
      let row = '';
      let fg = -1;
      let bg = -1;
      for (let x = 0; x < width; x++) {
        const top = colorOf(y * width + x);
        const bottom = y + 1 < height ? colorOf((y + 1) * width + x) : -1;
        if (top !== fg) { row += `\x1b[38;5;${top}m`; fg = top; }
        if (bottom !== bg) { row += bottom === -1 ? '\x1b[49m' : `\x1b[48;5;${bottom}m`; bg = bottom; }
        row += '▀';
      }
      lines.push(`${row}\x1b[0m`);
    }
  } else {
    lines.push(`+${'-'.repeat(width)}+`);
    for (let y = 0; y < height; y++) {
      let row = '';
      for (let x = 0; x < width; x++) {
        const p = paint[y * width + x];
        if (p === -1) row += '.';
        else if (p === -2) row += '*';
        else {
          const id = p >> 1;
          const letter = LETTERS[id % LETTERS.length];
          row += !alive.get(id) ? 'x' : (p & 1) === 1 ? letter.toUpperCase() : letter;
        }
      }
      lines.push(`|${row}|`);
    }
    lines.push(`+${'-'.repeat(width)}+`);
  }

  const scores = state.snakes.map((s) => {
    const swatch = color ? `\x1b[38;5;${s.alive ? SNAKE_COLORS[s.id % SNAKE_COLORS.length][0] : DEAD_COLOR}m██\x1b[0m`
      : `${LETTERS[s.id % LETTERS.length].toUpperCase()}:`;
    const team = replay.settings.mode === 'teams' ? ` team ${s.team}` : '';
    return `${swatch} ${name(s.id)}${team} score ${s.score} length ${s.body.length}${s.alive ? '' : ` dead@${s.diedAt}`}`;
  });
  lines.push(`score  ${scores.join('   ')}`);
  if (ended) {
    const winner = replay.settings.mode === 'teams'
      ? (game.winningTeam === null ? 'draw' : `team ${game.winningTeam} wins`)
      : replay.players.length === 1 ? `final score ${state.snakes[0].score}`
        : game.winner === null ? 'draw' : `${name(game.winner)} wins`;
    lines.push(`result ${winner}`);
  }
  if (!color) lines.push('legend . empty  * food  A/a head/body of snake 0 (B/b snake 1, ...)  x dead');
  return lines;
}

function formatSpeed(speed: number): string {
  return `${Number.isInteger(speed) ? speed : speed.toFixed(2).replace(/0+$/, '')}x`;
}

export const MIN_SPEED = 0.125;
export const MAX_SPEED = 64;

export interface PlayOptions {
  speed: number;
  output: NodeJS.WriteStream;
  input: NodeJS.ReadStream;
}

/**
 * Plays a replay in the terminal: space pauses, `.` or → steps while paused, + and - change the speed, r restarts,
 * q (or Ctrl-C) quits. The terminal is restored however it ends. On a stdout that is not a terminal, prints the
 * final frame only.
 */
export async function playReplay(replay: Replay, options: PlayOptions): Promise<void> {
  const cursor = new ReplayCursor(replay);
  const out = options.output;
  if (!out.isTTY) {
    cursor.toEnd();
    out.write(`${renderFrame(replay, cursor.game, false).join('\n')}\n`);
    return;
  }
  let speed = Math.min(MAX_SPEED, Math.max(MIN_SPEED, options.speed));
  let paused = false;
  let timer: NodeJS.Timeout | null = null;
  const input = options.input;
  const draw = () => {
    const lines = renderFrame(replay, cursor.game, true, { speed, paused });
    lines.push('\x1b[2mspace pause  . or -> step  + - speed  r restart  q quit\x1b[0m');
    out.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\x1b[J`);
  };

  await new Promise<void>((resolve) => {
    let done = false;
    const restore = () => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      input.off('data', onKey);
      if (input.isTTY) input.setRawMode(false);
      input.pause();
      out.write('\x1b[0m\x1b[?25h\x1b[?1049l');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', restore);
      resolve();
    };
    const onSignal = () => restore();
    const schedule = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (paused || cursor.atEnd) return;
      timer = setTimeout(() => {
        cursor.step();
        draw();
        schedule();
      }, replay.settings.tickMs / speed);
    };
    const onKey = (chunk: Buffer | string) => {
      const key = chunk.toString();
      if (key === 'q' || key === 'Q' || key === '\x03' || key === '\x1b') return restore();
      if (key === ' ') paused = !paused;
      else if (key === '.' || key === '\x1b[C') { paused = true; cursor.step(); }
      else if (key === '+' || key === '=') speed = Math.min(MAX_SPEED, speed * 2);
      else if (key === '-' || key === '_') speed = Math.max(MIN_SPEED, speed / 2);
      else if (key === 'r' || key === 'R') cursor.reset();
      else return;
      draw();
      schedule();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', restore);
    out.write('\x1b[?1049h\x1b[?25l\x1b[2J');
    if (input.isTTY) input.setRawMode(true);
    input.resume();
    input.on('data', onKey);
    draw();
    schedule();
  });
}
