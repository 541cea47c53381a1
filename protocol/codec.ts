// The frame layer of the client protocol: one msgpack map per binary WebSocket frame (PROTOCOL.md "Transport").
// One place for the encoding: every client and node frame is written by `packFrame` and read by `unpackFrame`.
// Works in the browser too (msgpackr resolves to its browser build there; nothing here needs Node).
import { Packr, Unpackr, type Options } from 'msgpackr';

/** Frames from a client over this size close the connection (code 1009); the codec rejects them as well. */
export const MAX_FRAME_BYTES = 16 * 1024;

/**
 * Deepest nesting of maps and arrays a frame may hold. Client messages need 2 (`create.settings`), node messages
 * 6 (`snapshot.state.snakes[i].body[j]`); the rest is room for fields a later version may add.
 */
export const MAX_FRAME_DEPTH = 16;

/**
 * A request's `rid` as the client sent it: a number, or a 64-bit integer beyond 2^53 (a BigInt), which a number
 * would round (18446744073709551615 came back as 18446744073709552000). Replies carry it back unchanged.
 */
export type Rid = number | bigint;

/** What was wrong with a frame. `path` names the field (`turn.dir`, `settings.width`), or is '' for the whole frame. */
export interface DecodeError {
  code: 'bad_message';
  path: string;
  message: string;
  /** the request's `rid`, when the frame could be read far enough to find a valid one */
  rid?: Rid;
}

export type DecodeResult<T> = { ok: true; message: T } | { ok: false; error: DecodeError };

export interface FrameLimits {
  maxBytes: number;
  maxDepth: number;
}

export type FrameResult = { ok: true; value: unknown } | { ok: false; message: string };

// Plain msgpack maps, so any msgpack library can read the frames: no records, no shared structures, no
// extensions; a property whose value is undefined is left out, as JSON.stringify does.
const packOptions: Options & { skipValues: unknown[] } = {
  useRecords: false,
  variableMapSize: true,
  encodeUndefinedAsNil: true,
  skipValues: [undefined],
};
const packr = new Packr(packOptions);

// Safe for untrusted bytes once `checkFrame` passed them: maps become plain objects (msgpackr renames a
// `__proto__` key), 64-bit integers become numbers, or BigInts beyond 2^53 (kept exact for a `rid`; every other
// field's validator refuses them), no structured clone.
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  // msgpackr 2.1 reads 'auto' (number while safe, else BigInt) but its types do not list it yet
  int64AsType: 'auto' as Options['int64AsType'],
  structuredClone: false,
  sequential: false,
});

/**
 * Encodes one value as a plain msgpack frame. The returned bytes stay valid (the packer never reuses them).
 * Whole numbers beyond 32 bits (clocks in ms: serverTime, startAt, pong's c and s) go out as float 64, as msgpackr
 * and JavaScript clients write them: written as int 64 (2026-11), msgpackr's default reader gave a client a BigInt,
 * whose typeof is not 'number', which is not equal to the `c` the client sent, and which throws in arithmetic with a
 * number (`startAt - Date.now()`). Every msgpack reader gets their value exactly (they are below 2^53).
 */
export function packFrame(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes one frame into a plain value, never throwing: structure first (`checkFrame`), then msgpackr. */
export function unpackFrame(input: unknown, limits: FrameLimits): FrameResult {
  let bytes: Uint8Array;
  if (input instanceof Uint8Array) bytes = input;
  else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  else return { ok: false, message: 'frame must be binary (a Uint8Array or ArrayBuffer of msgpack)' };
  const problem = checkFrame(bytes, limits);
  if (problem !== null) {
    const text = looksLikeText(bytes);
    return { ok: false, message: text ? `frame looks like text, not msgpack (${problem}); send one msgpack map per binary frame` : problem };
  }
  try {
    return { ok: true, value: unpackr.unpack(bytes) };
  } catch (error) {
    return { ok: false, message: `frame is not valid msgpack: ${error instanceof Error ? error.message : String(error)}` };
  }
}

const hex = (byte: number): string => `0x${byte.toString(16).padStart(2, '0')}`;

/**
 * Walks the msgpack structure without building it. Returns null when `bytes` hold exactly one value made of nil,
 * booleans, numbers, strings, binaries, arrays and string-keyed maps, within `limits`; otherwise what is wrong.
 * Every declared length is checked against the bytes that remain before anything is allocated, so a short frame
 * can not declare a huge array; nesting is counted on an explicit stack, so deep frames can not overflow the
 * call stack; extension types (msgpackr's records, structured clone, dates, errors, regexps) are refused, but
 * for fixext 1 of type 0, which msgpackr and notepack write for `undefined` and which reads as nil.
 */
export function checkFrame(bytes: Uint8Array, limits: FrameLimits): string | null {
  const end = bytes.length;
  if (end === 0) return 'frame is empty; send one msgpack map with a string field "type"';
  if (end > limits.maxBytes) return `frame is ${end} bytes, over the limit of ${limits.maxBytes} bytes`;
  // remaining[i]: values still to read in the i-th open container (a map counts keys and values);
  // isMap[i]: whether it is a map, so that the even-numbered remaining values are keys. Entry 0 is the frame.
  const remaining: number[] = [1];
  const isMap: boolean[] = [false];
  let pos = 0;
  for (;;) {
    let top = remaining.length - 1;
    while (top > 0 && remaining[top] === 0) {
      remaining.pop();
      isMap.pop();
      top--;
    }
    if (top === 0 && remaining[0] === 0) break;
    const isKey = isMap[top] && remaining[top] % 2 === 0;
    remaining[top]--;
    if (pos >= end) return `frame is truncated: a value is missing at byte ${pos}`;
    const at = pos;
    const head = bytes[pos++];
    let kind: 'scalar' | 'str' | 'array' | 'map' = 'scalar';
    let size = 0; // payload bytes of a scalar or string, values of an array, entries of a map
    let lengthBytes = 0; // bytes of the length that follows the head, when it is not in the head
    if (head <= 0x7f || head >= 0xe0 || head === 0xc0 || head === 0xc2 || head === 0xc3) {
      // fixint, nil, false, true
    } else if (head >= 0xa0 && head <= 0xbf) {
      kind = 'str';
      size = head - 0xa0;
    } else if (head >= 0x90 && head <= 0x9f) {
      kind = 'array';
      size = head - 0x90;
    } else if (head >= 0x80 && head <= 0x8f) {
      kind = 'map';
      size = head - 0x80;
    } else {
      switch (head) {
        case 0xcc: case 0xd0: size = 1; break;
        case 0xcd: case 0xd1: size = 2; break;
        case 0xca: case 0xce: case 0xd2: size = 4; break;
        case 0xcb: case 0xcf: case 0xd3: size = 8; break;
        case 0xc4: lengthBytes = 1; break;
        case 0xc5: lengthBytes = 2; break;
        case 0xc6: lengthBytes = 4; break;
        case 0xd9: kind = 'str'; lengthBytes = 1; break;
        case 0xda: kind = 'str'; lengthBytes = 2; break;
        case 0xdb: kind = 'str'; lengthBytes = 4; break;
        case 0xdc: kind = 'array'; lengthBytes = 2; break;
        case 0xdd: kind = 'array'; lengthBytes = 4; break;
        case 0xde: kind = 'map'; lengthBytes = 2; break;
        case 0xdf: kind = 'map'; lengthBytes = 4; break;
        case 0xd4:
          // fixext 1 of type 0 is `undefined` to msgpackr and notepack (a JS client's optional field): read as nil
          if (pos < end && bytes[pos] === 0) {
            size = 2;
            break;
          }
          return extensionRefused(head, at);
        case 0xc1:
          return `frame is not msgpack: byte ${hex(head)} at offset ${at} is never used`;
        default: // 0xc7-0xc9, 0xd5-0xd8
          return extensionRefused(head, at);
      }
    }
    if (isKey && kind !== 'str') return `map keys must be strings (byte ${hex(head)} at offset ${at})`;
    if (lengthBytes > 0) {
      if (end - pos < lengthBytes) return truncated(at, lengthBytes - (end - pos));
      size = lengthBytes === 1 ? bytes[pos]
        : lengthBytes === 2 ? (bytes[pos] << 8) | bytes[pos + 1]
          : bytes[pos] * 0x1000000 + ((bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3]);
      pos += lengthBytes;
    }
    if (kind === 'array' || kind === 'map') {
      const values = kind === 'map' ? size * 2 : size;
      // every value takes at least one byte, so a count beyond the bytes left can never be satisfied
      if (values > end - pos) {
        return `${kind} at byte ${at} declares ${size} ${kind === 'map' ? 'entries' : 'elements'} but only ${end - pos} bytes follow`;
      }
      if (remaining.length > limits.maxDepth) return `frame nests maps and arrays deeper than ${limits.maxDepth} levels`;
      remaining.push(values);
      isMap.push(kind === 'map');
    } else {
      if (end - pos < size) return truncated(at, size - (end - pos));
      pos += size;
    }
  }
  if (pos !== end) return `frame has ${end - pos} bytes after its msgpack value; send exactly one map per frame`;
  return null;
}

const extensionRefused = (head: number, at: number): string =>
  `frame uses a msgpack extension type (byte ${hex(head)} at offset ${at}); only plain maps, arrays, strings, numbers, booleans and nil are accepted`;

const truncated = (at: number, missing: number): string =>
  `frame is truncated: the value at byte ${at} needs ${missing} more bytes`;

function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 64);
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b < 0x09 || (b > 0x0d && b < 0x20) || b > 0x7e) return false;
  }
  return n > 0;
}

// ---- reading the fields of a decoded map --------------------------------------------------------------------

/** A field that failed validation: thrown by `Fields` inside a decoder, answered as a `DecodeError` at the edge. */
export class FieldProblem {
  constructor(readonly path: string, readonly message: string) {}
}

/** Throws the `FieldProblem` for `path`: `<path> must be <expected>`. */
export function reject(path: string, expected: string): never {
  throw new FieldProblem(path, `${path} must be ${expected}`);
}

export type PlainMap = Record<string, unknown>;

export function isPlainMap(value: unknown): value is PlainMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A field name as it may appear in an error: short and printable, whatever the client sent. */
export function fieldName(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]{0,39}$/.test(key) ? key : JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

/**
 * Typed reads of one decoded map, each naming the field (`turn.dir`) when it throws a `FieldProblem`.
 * Only own properties are read, so `constructor` or `toString` sent as fields never reach the prototype.
 * An optional field may be absent or nil; both read as undefined.
 */
export class Fields {
  constructor(readonly raw: PlainMap, readonly path: string) {}

  /** A nested map, read with the same rules; `path` is its full name (`lobby.players[0]`). */
  static of(value: unknown, path: string, expected = 'a map'): Fields {
    if (!isPlainMap(value)) reject(path, expected);
    return new Fields(value, path);
  }

  pathOf(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  fail(key: string, expected: string): never {
    return reject(this.pathOf(key), expected);
  }

  /** The field's value, or undefined when it is absent or nil. */
  get(key: string): unknown {
    const value = Object.hasOwn(this.raw, key) ? this.raw[key] : undefined;
    return value === null ? undefined : value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  string(key: string, expected = 'a string', accept?: (value: string) => boolean): string {
    const value = this.get(key);
    if (typeof value !== 'string' || (accept !== undefined && !accept(value))) this.fail(key, expected);
    return value;
  }

  number(key: string, expected = 'a finite number'): number {
    const value = this.get(key);
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(key, expected);
    return value;
  }

  integer(key: string, min: number, max: number, expected = `an integer between ${min} and ${max}`): number {
    const value = this.get(key);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) this.fail(key, expected);
    return value === 0 ? 0 : value; // no -0
  }

  boolean(key: string): boolean {
    const value = this.get(key);
    if (typeof value !== 'boolean') this.fail(key, 'true or false');
    return value;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const value = this.get(key);
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(key, `one of ${allowed.join(', ')}`);
    }
    return value as T;
  }

  array(key: string, expected = 'an array'): unknown[] {
    const value = this.get(key);
    if (!Array.isArray(value)) this.fail(key, expected);
    return value;
  }

  map(key: string, expected = 'a map'): Fields {
    return Fields.of(this.get(key), this.pathOf(key), expected);
  }

  /** Reads `key` with `read` when it is present, else undefined. */
  optional<T>(key: string, read: (key: string) => T): T | undefined {
    return this.has(key) ? read(key) : undefined;
  }

  /** Reads `key` with `read` when it is present (not nil), else null: for fields that are sent as nil. */
  nullable<T>(key: string, read: (key: string) => T): T | null {
    return this.has(key) ? read(key) : null;
  }
}

/** The messages of one direction of the protocol: how to read each type. */
export interface MessageSet<T> {
  /** what the set is called in errors (`client message`) */
  what: string;
  decoders: ReadonlyMap<string, (fields: Fields) => T>;
  limits: FrameLimits;
}

/**
 * Decodes one frame of `set`, never throwing: frame, then map, then `rid` (kept for the error when it is valid),
 * then `type`, then the type's fields. The decoder builds a fresh object from the fields it knows, so fields a
 * later version adds are ignored and never copied.
 */
export function decodeMessage<T extends { rid?: Rid }>(input: unknown, set: MessageSet<T>): DecodeResult<T> {
  const frame = unpackFrame(input, set.limits);
  if (!frame.ok) return failure('', frame.message);
  const raw = frame.value;
  if (!isPlainMap(raw)) return failure('', `${set.what} must be a msgpack map with a string field "type"`);
  const fields = new Fields(raw, '');
  const ridValue = fields.get('rid');
  const rid = (typeof ridValue === 'number' && Number.isFinite(ridValue)) || typeof ridValue === 'bigint' ? ridValue : undefined;
  const type = fields.get('type');
  if (typeof type !== 'string') {
    return failure('type', `type must be a string naming the ${set.what} (one of ${[...set.decoders.keys()].join(', ')})`, rid);
  }
  const decode = set.decoders.get(type);
  if (decode === undefined) return failure('type', `unknown message type ${JSON.stringify(type.length > 40 ? `${type.slice(0, 40)}…` : type)}`, rid);
  if (ridValue !== undefined && rid === undefined) return failure(`${type}.rid`, `${type}.rid must be a finite number`);
  try {
    const message = decode(new Fields(raw, type));
    if (rid !== undefined) message.rid = rid;
    return { ok: true, message };
  } catch (error) {
    if (error instanceof FieldProblem) return failure(error.path, error.message, rid);
    // a decoder bug, or an engine limit hit by a pathological value: still an answer, never a throw
    return failure(type, `${type} could not be decoded: ${error instanceof Error ? error.message : String(error)}`, rid);
  }
}

function failure(path: string, message: string, rid?: Rid): { ok: false; error: DecodeError } {
  const error: DecodeError = { code: 'bad_message', path, message };
  if (rid !== undefined) error.rid = rid;
  return { ok: false, error };
}
