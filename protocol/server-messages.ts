// Messages from a node to a client (PROTOCOL.md "Messages from the node"). The node encodes them; bots, specs and
// the browser decode them with a lighter check than the client side gets: the required fields and their types.
import {
  Fields, MAX_FRAME_DEPTH, decodeMessage, packFrame, reject, type DecodeResult, type MessageSet, type Rid,
} from './codec.ts';
import {
  QUEUE_MODES, type DirectionCode, type QueueMode,
} from './client-messages.ts';
import { MODES, type Settings } from './settings.ts';

// ---- errors ---------------------------------------------------------------------------------------------------

export const ERROR_CODES = [
  'bad_message', 'unauthenticated', 'bad_state', 'not_found', 'full', 'forbidden', 'too_far', 'queue_full',
  'rate_limited', 'unavailable', 'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

// ---- the messages ---------------------------------------------------------------------------------------------

/** A reply to a request carries the request's `rid`. */
interface Reply {
  rid?: Rid;
}

/** A cell `[x, y]`. */
export type WireCell = [number, number];

export interface WelcomeMessage extends Reply {
  type: 'welcome';
  userId: string;
  name: string;
  /** signed by the cluster; send it in a later `hello` to be this user again (for TOKEN_TTL_MS) */
  token: string;
  /** the id of the node that answered */
  node: string;
  /** server clock, ms */
  serverTime: number;
  /** an unfinished game the user plays in, to `rejoin` */
  game: string | null;
}
export interface PongMessage extends Reply {
  type: 'pong';
  /** the client clock from the ping */
  c: number;
  /** server clock, ms */
  s: number;
}
export interface QueuedMessage extends Reply {
  type: 'queued';
  mode: QueueMode;
  size: number;
}
export interface UnqueuedMessage extends Reply {
  type: 'unqueued';
}
export interface LeftMessage extends Reply {
  type: 'left';
  gameId?: string;
}
export interface MatchPlayer {
  userId: string;
  name: string;
  snakeId: number;
}
export interface MatchMessage extends Reply {
  type: 'match';
  gameId: string;
  mode: QueueMode;
  players: MatchPlayer[];
}
export interface LobbyPlayer {
  userId: string;
  name: string;
}
export interface LobbyMessage extends Reply {
  type: 'lobby';
  gameId: string;
  /** 8 characters A–Z, 0–9, for `join` */
  code: string;
  /** userId of the host, who may `start` */
  host: string;
  players: LobbyPlayer[];
  settings: Settings;
}

export const SNAPSHOT_ROLES = ['player', 'spectator'] as const;
export type SnapshotRole = (typeof SNAPSHOT_ROLES)[number];

export interface SnapshotSnake {
  id: number;
  userId: string;
  name: string;
  team: number;
  alive: boolean;
  dir: DirectionCode;
  grow: number;
  score: number;
  /** head first */
  body: WireCell[];
}
/** The game as a snapshot carries it: everything GAME.md needs to step it (the engine may add fields). */
export interface SnapshotState {
  tick: number;
  status: 'running' | 'complete';
  seed: number;
  rng: number;
  settings: Settings;
  /** in the order they were spawned */
  food: WireCell[];
  snakes: SnapshotSnake[];
}
export interface SnapshotMessage extends Reply {
  type: 'snapshot';
  gameId: string;
  role: SnapshotRole;
  /** the receiver's snake, null for a spectator */
  snakeId: number | null;
  tickMs: number;
  /** server ms of step 1, or null once the game runs */
  startAt: number | null;
  state: SnapshotState;
}
export interface TickMessage extends Reply {
  type: 'tick';
  gameId: string;
  /** the tick this step made */
  t: number;
  /** the turns that took effect, `[snakeId, dirCode]` */
  turns: [number, DirectionCode][];
  died: number[];
  /** the food spawned in this step */
  food: WireCell | null;
  /** GAME.md state hash after the step */
  hash: number;
}
export interface GameResult {
  userId: string;
  snakeId: number;
  team: number;
  score: number;
  length: number;
  alive: boolean;
  place: number;
}
export interface OverMessage extends Reply {
  type: 'over';
  gameId: string;
  t: number;
  winner: number | null;
  winningTeam: 0 | 1 | null;
  results: GameResult[];
}
export const GAME_STATUSES = ['recovering', 'running'] as const;
export interface GameStatusMessage extends Reply {
  type: 'status';
  gameId: string;
  /** `recovering` while the game's owner is being replaced (informational) */
  status: (typeof GAME_STATUSES)[number];
}
export interface AckMessage extends Reply {
  type: 'ack';
  /** the turn's `seq` */
  seq: number;
  /** the tick the turn is stored for */
  t: number;
}
export interface ErrorMessage extends Reply {
  type: 'error';
  code: ErrorCode;
  /** says in words what was wrong, e.g. `settings.width must be between 10 and 200` */
  message: string;
}

export type ServerMessage =
  | WelcomeMessage | PongMessage | QueuedMessage | UnqueuedMessage | LeftMessage | MatchMessage | LobbyMessage
  | SnapshotMessage | TickMessage | OverMessage | GameStatusMessage | AckMessage | ErrorMessage;
export type ServerMessageType = ServerMessage['type'];

/** An `error` message, with the `rid` of the request it answers when there is one. */
export function errorMessage(code: ErrorCode, message: string, rid?: Rid): ErrorMessage {
  const error: ErrorMessage = { type: 'error', code, message };
  if (rid !== undefined) error.rid = rid;
  return error;
}

/** Encodes a message for a client: a plain msgpack map any msgpack library can read. */
export function encodeServerMessage(message: ServerMessage): Uint8Array {
  return packFrame(message);
}

// ---- decoding (bots, specs, the browser) ----------------------------------------------------------------------

/**
 * Node frames are not bounded by the client limit (a snapshot of a large board is bigger); this bound only keeps
 * a broken frame from costing much.
 */
export const MAX_SERVER_FRAME_BYTES = 16 * 1024 * 1024;

const int = (f: Fields, key: string): number => f.integer(key, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'an integer');
const count = (f: Fields, key: string): number => f.integer(key, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer');
const str = (f: Fields, key: string): string => f.string(key);

function each<T>(f: Fields, key: string, expected: string, read: (item: unknown, path: string) => T): T[] {
  const items = f.array(key, `an array of ${expected}`);
  return items.map((item, i) => read(item, `${f.pathOf(key)}[${i}]`));
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function cell(item: unknown, path: string): WireCell {
  if (!Array.isArray(item) || item.length !== 2 || !isInteger(item[0]) || !isInteger(item[1])) {
    return reject(path, 'a cell [x, y] of integers');
  }
  return [item[0], item[1]];
}

function snakeId(item: unknown, path: string): number {
  if (!isInteger(item) || item < 0) return reject(path, 'a snake id');
  return item;
}

function readSettings(f: Fields): Settings {
  return {
    mode: f.oneOf('mode', MODES),
    width: int(f, 'width'),
    height: int(f, 'height'),
    tickMs: int(f, 'tickMs'),
    startLength: int(f, 'startLength'),
    foodTarget: int(f, 'foodTarget'),
    players: int(f, 'players'),
  };
}

/** Checks the documented fields of a snapshot's state and keeps the state whole, fields the engine adds included. */
function readState(f: Fields): SnapshotState {
  count(f, 'tick');
  f.oneOf('status', ['running', 'complete']);
  int(f, 'seed');
  int(f, 'rng');
  readSettings(f.map('settings'));
  each(f, 'food', 'cells [x, y]', cell);
  each(f, 'snakes', 'snakes', (item, path) => {
    const s = Fields.of(item, path);
    count(s, 'id');
    str(s, 'userId');
    str(s, 'name');
    int(s, 'team');
    s.boolean('alive');
    s.integer('dir', 0, 3, 'a direction code 0..3');
    count(s, 'grow');
    count(s, 'score');
    return each(s, 'body', 'cells [x, y]', cell);
  });
  return f.raw as unknown as SnapshotState;
}

type Decoders = { [K in ServerMessageType]: (fields: Fields) => Extract<ServerMessage, { type: K }> };

const decoders: Decoders = {
  welcome: (f) => ({
    type: 'welcome',
    userId: str(f, 'userId'),
    name: str(f, 'name'),
    token: str(f, 'token'),
    node: str(f, 'node'),
    serverTime: f.number('serverTime'),
    game: f.nullable('game', (k) => str(f, k)),
  }),
  pong: (f) => ({ type: 'pong', c: f.number('c'), s: f.number('s') }),
  queued: (f) => ({ type: 'queued', mode: f.oneOf('mode', QUEUE_MODES), size: count(f, 'size') }),
  unqueued: () => ({ type: 'unqueued' }),
  left(f) {
    const message: LeftMessage = { type: 'left' };
    const gameId = f.optional('gameId', (k) => str(f, k));
    if (gameId !== undefined) message.gameId = gameId;
    return message;
  },
  match: (f) => ({
    type: 'match',
    gameId: str(f, 'gameId'),
    mode: f.oneOf('mode', QUEUE_MODES),
    players: each(f, 'players', 'players {userId, name, snakeId}', (item, path) => {
      const p = Fields.of(item, path);
      return { userId: str(p, 'userId'), name: str(p, 'name'), snakeId: count(p, 'snakeId') };
    }),
  }),
  lobby: (f) => ({
    type: 'lobby',
    gameId: str(f, 'gameId'),
    code: str(f, 'code'),
    host: str(f, 'host'),
    players: each(f, 'players', 'players {userId, name}', (item, path) => {
      const p = Fields.of(item, path);
      return { userId: str(p, 'userId'), name: str(p, 'name') };
    }),
    settings: readSettings(f.map('settings')),
  }),
  snapshot: (f) => ({
    type: 'snapshot',
    gameId: str(f, 'gameId'),
    role: f.oneOf('role', SNAPSHOT_ROLES),
    snakeId: f.nullable('snakeId', (k) => count(f, k)),
    tickMs: count(f, 'tickMs'),
    startAt: f.nullable('startAt', (k) => f.number(k)),
    state: readState(f.map('state')),
  }),
  tick: (f) => ({
    type: 'tick',
    gameId: str(f, 'gameId'),
    t: count(f, 't'),
    turns: each(f, 'turns', 'turns [snakeId, dirCode]', (item, path) => {
      if (!Array.isArray(item) || item.length !== 2 || !isInteger(item[0]) || item[0] < 0
        || !(item[1] === 0 || item[1] === 1 || item[1] === 2 || item[1] === 3)) {
        return reject(path, 'a turn [snakeId, dirCode 0..3]');
      }
      return [item[0], item[1]];
    }),
    died: each(f, 'died', 'snake ids', snakeId),
    food: f.nullable('food', (k) => cell(f.get(k), f.pathOf(k))),
    hash: f.integer('hash', 0, 0xffffffff, 'an unsigned 32-bit integer'),
  }),
  over: (f) => ({
    type: 'over',
    gameId: str(f, 'gameId'),
    t: count(f, 't'),
    winner: f.nullable('winner', (k) => count(f, k)),
    winningTeam: f.nullable('winningTeam', (k) => f.integer(k, 0, 1, '0, 1 or nil') as 0 | 1),
    results: each(f, 'results', 'results', (item, path) => {
      const r = Fields.of(item, path);
      return {
        userId: str(r, 'userId'),
        snakeId: count(r, 'snakeId'),
        team: int(r, 'team'),
        score: count(r, 'score'),
        length: count(r, 'length'),
        alive: r.boolean('alive'),
        place: count(r, 'place'),
      };
    }),
  }),
  status: (f) => ({ type: 'status', gameId: str(f, 'gameId'), status: f.oneOf('status', GAME_STATUSES) }),
  ack: (f) => ({ type: 'ack', seq: count(f, 'seq'), t: count(f, 't') }),
  error: (f) => ({ type: 'error', code: f.oneOf('code', ERROR_CODES), message: str(f, 'message') }),
};

const serverMessages: MessageSet<ServerMessage> = {
  what: 'node message',
  decoders: new Map(Object.entries(decoders)) as ReadonlyMap<string, (fields: Fields) => ServerMessage>,
  limits: { maxBytes: MAX_SERVER_FRAME_BYTES, maxDepth: MAX_FRAME_DEPTH },
};

export const SERVER_MESSAGE_TYPES = Object.keys(decoders) as readonly ServerMessageType[];

/**
 * Reads one frame from a node. Never throws. Checks the required fields and their types, builds each message
 * from the fields it knows, except a snapshot's `state`, which is kept whole for the engine.
 */
export function decodeServerMessage(bytes: Uint8Array | ArrayBuffer): DecodeResult<ServerMessage> {
  return decodeMessage(bytes, serverMessages);
}
