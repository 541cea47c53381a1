// Messages from a client to a node (PROTOCOL.md "Messages from the client"), and their strict decoder: a node
// reads every frame a client sends through `decodeClientMessage` and acts only on what it returns.
import {
  FieldProblem, Fields, MAX_FRAME_BYTES, MAX_FRAME_DEPTH, decodeMessage, fieldName, isPlainMap, packFrame,
  type DecodeResult, type MessageSet, type Rid,
} from './codec.ts';
import { validateSettings, type Settings } from './settings.ts';

// ---- directions -----------------------------------------------------------------------------------------------

/** Direction names in code order: `up`=0, `right`=1, `down`=2, `left`=3 (GAME.md "Grid and directions"). */
export const TURN_DIRECTIONS = ['up', 'right', 'down', 'left'] as const;
export type TurnDirection = (typeof TURN_DIRECTIONS)[number];
/** A direction as the engine and `tick.turns` carry it. */
export type DirectionCode = 0 | 1 | 2 | 3;

export function directionCode(dir: TurnDirection): DirectionCode {
  return TURN_DIRECTIONS.indexOf(dir) as DirectionCode;
}

export function directionName(code: DirectionCode): TurnDirection {
  return TURN_DIRECTIONS[code];
}

// ---- what a client may ask for --------------------------------------------------------------------------------

export const PROTOCOL_VERSION = 1;

/** Matchmade modes, and the players a match of each has (`queue.size`). */
export const QUEUE_MODES = ['duel', 'ffa', 'teams'] as const;
export type QueueMode = (typeof QUEUE_MODES)[number];
export const QUEUE_SIZES: Readonly<Record<QueueMode, { min: number; max: number; default: number }>> = {
  duel: { min: 2, max: 2, default: 2 },
  ffa: { min: 2, max: 8, default: 4 },
  teams: { min: 4, max: 4, default: 4 },
};

/** Settings a `solo` request may carry; the rest are the solo defaults. */
export const SOLO_SETTING_FIELDS = ['width', 'height', 'tickMs', 'foodTarget', 'startLength'] as const;
export type SoloSettings = Partial<Pick<Settings, (typeof SOLO_SETTING_FIELDS)[number]>>;

/** Settings a `create` request may carry: all but `mode` (a private game is `custom`); `players` is the seat count. */
export const LOBBY_SETTING_FIELDS = [...SOLO_SETTING_FIELDS, 'players'] as const;
export type LobbySettings = Partial<Pick<Settings, (typeof LOBBY_SETTING_FIELDS)[number]>>;

export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,20}$/;
export const JOIN_CODE_PATTERN = /^[A-Z0-9]{8}$/;
export const MAX_TOKEN_CHARS = 512;
export const MAX_GAME_ID_CHARS = 64;

// ---- the messages ---------------------------------------------------------------------------------------------

/** Any request may carry a numeric `rid`; the reply or error to it carries the same `rid`. */
interface Request {
  rid?: Rid;
}

export interface HelloMessage extends Request {
  type: 'hello';
  v: typeof PROTOCOL_VERSION;
  /** from an earlier `welcome`: restores that user */
  token?: string;
  /** a guest's name when there is no token */
  name?: string;
}
export interface PingMessage extends Request {
  type: 'ping';
  /** client clock, ms */
  c: number;
}
export interface QueueMessage extends Request {
  type: 'queue';
  mode: QueueMode;
  /** players in the match; a decoded `queue` always has it (the mode's default when the client left it out) */
  size: number;
}
export interface UnqueueMessage extends Request {
  type: 'unqueue';
}
export interface SoloMessage extends Request {
  type: 'solo';
  settings?: SoloSettings;
}
export interface CreateMessage extends Request {
  type: 'create';
  settings?: LobbySettings;
}
export interface JoinMessage extends Request {
  type: 'join';
  /** 8 characters A–Z, 0–9 */
  code: string;
}
export interface StartMessage extends Request {
  type: 'start';
}
export interface WatchMessage extends Request {
  type: 'watch';
  gameId: string;
}
export interface RejoinMessage extends Request {
  type: 'rejoin';
  gameId: string;
}
export interface TurnMessage extends Request {
  type: 'turn';
  dir: TurnDirection;
  /** the client's counter, echoed in the `ack` */
  seq: number;
  /** the tick the turn is for; absent means the next tick */
  t?: number;
}
export interface LeaveMessage extends Request {
  type: 'leave';
}

export type ClientMessage =
  | HelloMessage | PingMessage | QueueMessage | UnqueueMessage | SoloMessage | CreateMessage | JoinMessage
  | StartMessage | WatchMessage | RejoinMessage | TurnMessage | LeaveMessage;
export type ClientMessageType = ClientMessage['type'];

/** What a client may send: a decoded message, except that `queue.size` may be left to the mode's default. */
export type OutgoingClientMessage =
  | Exclude<ClientMessage, QueueMessage>
  | (Omit<QueueMessage, 'size'> & { size?: number });

// ---- decoding -------------------------------------------------------------------------------------------------

type Decoders = { [K in ClientMessageType]: (fields: Fields) => Extract<ClientMessage, { type: K }> };

const decoders: Decoders = {
  hello(f) {
    f.integer('v', PROTOCOL_VERSION, PROTOCOL_VERSION, `${PROTOCOL_VERSION} (the protocol version this node speaks)`);
    const message: HelloMessage = { type: 'hello', v: PROTOCOL_VERSION };
    const token = f.optional('token', (k) => f.string(k, `a string of 1 to ${MAX_TOKEN_CHARS} characters (the token from an earlier welcome)`,
      (s) => s.length >= 1 && s.length <= MAX_TOKEN_CHARS));
    if (token !== undefined) message.token = token;
    const name = f.optional('name', (k) => f.string(k, '1 to 20 letters, digits, _ or -', (s) => NAME_PATTERN.test(s)));
    if (name !== undefined) message.name = name;
    return message;
  },
  ping: (f) => ({ type: 'ping', c: f.number('c', 'a finite number (the client clock in ms)') }),
  queue(f) {
    const mode = f.oneOf('mode', QUEUE_MODES);
    const sizes = QUEUE_SIZES[mode];
    const expected = sizes.min === sizes.max
      ? `${sizes.min} for ${mode} (or left out)`
      : `an integer between ${sizes.min} and ${sizes.max} for ${mode} (or left out for ${sizes.default})`;
    const size = f.optional('size', (k) => f.integer(k, sizes.min, sizes.max, expected)) ?? sizes.default;
    return { type: 'queue', mode, size };
  },
  unqueue: () => ({ type: 'unqueue' }),
  solo(f) {
    const message: SoloMessage = { type: 'solo' };
    const settings = readSettings(f, 'solo', SOLO_SETTING_FIELDS, 'a solo game');
    if (settings !== undefined) message.settings = settings;
    return message;
  },
  create(f) {
    const message: CreateMessage = { type: 'create' };
    const settings = readSettings(f, 'custom', LOBBY_SETTING_FIELDS, 'a private game (it is always custom)');
    if (settings !== undefined) message.settings = settings;
    return message;
  },
  join: (f) => ({
    type: 'join',
    code: f.string('code', '8 characters A-Z or 0-9 (the code of a lobby)', (s) => JOIN_CODE_PATTERN.test(s)),
  }),
  start: () => ({ type: 'start' }),
  watch: (f) => ({ type: 'watch', gameId: readGameId(f) }),
  rejoin: (f) => ({ type: 'rejoin', gameId: readGameId(f) }),
  turn(f) {
    const message: TurnMessage = {
      type: 'turn',
      dir: f.oneOf('dir', TURN_DIRECTIONS),
      seq: f.integer('seq', 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer'),
    };
    const t = f.optional('t', (k) => f.integer(k, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer (a tick), or left out for the next tick'));
    if (t !== undefined) message.t = t;
    return message;
  },
  leave: () => ({ type: 'leave' }),
};

function readGameId(f: Fields): string {
  return f.string('gameId', `a string of 1 to ${MAX_GAME_ID_CHARS} characters`, (s) => s.length >= 1 && s.length <= MAX_GAME_ID_CHARS);
}

/**
 * Reads `settings` when present: only the `allowed` fields, each checked by `validateSettings` for `mode`.
 * Errors are named `settings.<field>` (PROTOCOL.md's example); the result holds the fields given, no defaults.
 */
function readSettings<F extends string>(f: Fields, mode: 'solo' | 'custom', allowed: readonly F[], forWhat: string):
  Partial<Record<F, number>> | undefined {
  const raw = f.get('settings');
  if (raw === undefined) return undefined;
  if (!isPlainMap(raw)) throw new FieldProblem('settings', 'settings must be a map of setting names to integers');
  const given: Partial<Record<F, unknown>> = {};
  for (const key of Object.keys(raw)) {
    if (raw[key] === null || raw[key] === undefined) continue; // nil is absent, as it is for the message's own fields
    if (!(allowed as readonly string[]).includes(key)) {
      const path = `settings.${fieldName(key)}`;
      throw new FieldProblem(path, `${path} can not be set for ${forWhat}; the settings are ${allowed.join(', ')}`);
    }
    given[key as F] = raw[key];
  }
  const checked = validateSettings({ ...given, mode }, 'settings');
  if (!checked.ok) throw new FieldProblem(checked.error.path, checked.error.message);
  const settings: Partial<Record<F, number>> = {};
  for (const key of Object.keys(given) as F[]) settings[key] = checked.settings[key as keyof Settings] as number;
  return settings;
}

const clientMessages: MessageSet<ClientMessage> = {
  what: 'client message',
  decoders: new Map(Object.entries(decoders)) as ReadonlyMap<string, (fields: Fields) => ClientMessage>,
  limits: { maxBytes: MAX_FRAME_BYTES, maxDepth: MAX_FRAME_DEPTH },
};

export const CLIENT_MESSAGE_TYPES = Object.keys(decoders) as readonly ClientMessageType[];

/**
 * Reads one frame from a client. Never throws: any input gets either the message, holding only the fields this
 * version knows (checked for type and range), or a `bad_message` error naming the field and what it must be,
 * with the request's `rid` when it could be read.
 */
export function decodeClientMessage(bytes: Uint8Array | ArrayBuffer): DecodeResult<ClientMessage> {
  return decodeMessage(bytes, clientMessages);
}

/** Encodes a message for a node (bots, specs, the browser). Not validated: the type is the contract. */
export function encodeClientMessage(message: OutgoingClientMessage): Uint8Array {
  return packFrame(message);
}

/**
 * The complete settings a `solo` or `create` asks for: the given fields over the mode's defaults
 * (`solo` or `custom`). Throws the `SettingsError` for a message that did not come from `decodeClientMessage`.
 */
export function requestedSettings(message: SoloMessage | CreateMessage): Settings {
  const checked = validateSettings({ ...message.settings, mode: message.type === 'solo' ? 'solo' : 'custom' });
  if (!checked.ok) throw checked.error;
  return checked.settings;
}
