// The client protocol codecs (protocol/messages.ts): every message round-trips as plain msgpack, and no input,
// however broken or hostile, makes the decoders throw: it gets a `bad_message` naming what was wrong.
import { expect } from 'chai';
import { Packr, Unpackr, pack, unpack } from 'msgpackr';
import {
  BAD_MESSAGES_PER_10S, CLIENT_MESSAGE_TYPES, COUNTDOWN_MS, ERROR_CODES, MAX_FRAME_BYTES, MAX_QUEUED_TURNS,
  MAX_TURN_AHEAD, RATE_LIMIT_PER_S, SERVER_MESSAGE_TYPES, TOKEN_TTL_MS, TURN_DIRECTIONS, checkFrame,
  decodeClientMessage, decodeServerMessage, directionCode, directionName, encodeClientMessage, encodeServerMessage,
  errorMessage, requestedSettings,
  type ClientMessage, type DecodeError, type DecodeResult, type ServerMessage,
} from '../protocol/messages.ts';
import { defaultSettings } from '../protocol/settings.ts';

// ---- helpers --------------------------------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Any msgpack writer, as a third-party client would use it: plain maps, undefined as msgpackr writes it. */
const rawPacker = new Packr({ useRecords: false, variableMapSize: true });
const raw = (value: unknown): Uint8Array => rawPacker.pack(value);

/** Never throws, and a failure is always a well-formed `bad_message`. */
function decodeSafely<T>(decode: (bytes: Uint8Array) => DecodeResult<T>, bytes: Uint8Array): DecodeResult<T> {
  const result = decode(bytes);
  expect(result).to.be.an('object');
  if (!result.ok) {
    expect(result.error.code).to.equal('bad_message');
    expect(result.error.path).to.be.a('string');
    expect(result.error.message).to.be.a('string').and.not.equal('');
  }
  return result;
}

function rejected(bytes: Uint8Array): DecodeError {
  const result = decodeSafely(decodeClientMessage, bytes);
  if (result.ok) expect.fail(`expected a bad_message, got ${JSON.stringify(result.message)}`);
  return result.error;
}

function accepted(bytes: Uint8Array): ClientMessage {
  const result = decodeSafely(decodeClientMessage, bytes);
  if (!result.ok) expect.fail(`expected a message, got ${JSON.stringify(result.error)}`);
  return result.message;
}

const settings = { ...defaultSettings('custom'), width: 60, players: 3 };
const cell = (x: number, y: number): [number, number] => [x, y];

const clientMessages: ClientMessage[] = [
  { type: 'hello', v: 1 },
  { type: 'hello', v: 1, token: 'a'.repeat(512), rid: 1 },
  { type: 'hello', v: 1, name: 'Ada_Lovelace-1815' },
  { type: 'ping', c: 1712345678901.25, rid: 2 },
  { type: 'queue', mode: 'duel', size: 2 },
  { type: 'queue', mode: 'ffa', size: 8, rid: 0 },
  { type: 'queue', mode: 'teams', size: 4 },
  { type: 'unqueue' },
  { type: 'solo' },
  { type: 'solo', settings: { width: 20, height: 30, tickMs: 100, foodTarget: 10, startLength: 3 }, rid: 5 },
  { type: 'create' },
  { type: 'create', settings: { width: 200, height: 10, tickMs: 1000, foodTarget: 50, startLength: 20, players: 8 } },
  { type: 'create', settings: { players: 1 } },
  { type: 'join', code: 'AB12CD34' },
  { type: 'start', rid: -3.5 },
  { type: 'watch', gameId: 'g'.repeat(64) },
  { type: 'rejoin', gameId: '0f7c2d1e-game' },
  { type: 'turn', dir: 'up', seq: 0 },
  { type: 'turn', dir: 'right', seq: Number.MAX_SAFE_INTEGER, t: 0 },
  { type: 'turn', dir: 'down', seq: 17, t: 4021, rid: 99 },
  { type: 'turn', dir: 'left', seq: 18 },
  { type: 'leave' },
];

const snake = (id: number, length: number) => ({
  id, userId: `user-${id}`, name: `p${id}`, team: id % 2, alive: id !== 3, dir: (id % 4) as 0 | 1 | 2 | 3,
  grow: id === 1 ? 2 : 0, score: id * 3, body: Array.from({ length }, (_, i) => cell(4 + i, 2 + id * 4)),
});

const serverMessages: ServerMessage[] = [
  { type: 'welcome', userId: 'u1', name: 'guest-4F2A', token: 't.o.k', node: 'node-1', serverTime: 1712345678901, game: null, rid: 1 },
  { type: 'welcome', userId: 'u1', name: 'bob', token: 't', node: 'node-2', serverTime: 1, game: 'g-17' },
  { type: 'pong', c: 1712345678901.25, s: 1712345678950, rid: 2 },
  { type: 'queued', mode: 'ffa', size: 6 },
  { type: 'unqueued' },
  { type: 'left' },
  { type: 'left', gameId: 'g-1', rid: 3 },
  { type: 'match', gameId: 'g-2', mode: 'duel', players: [{ userId: 'a', name: 'A', snakeId: 0 }, { userId: 'b', name: 'B', snakeId: 1 }] },
  { type: 'lobby', gameId: 'g-3', code: 'QWERTY12', host: 'a', players: [{ userId: 'a', name: 'A' }], settings },
  {
    type: 'snapshot', gameId: 'g-4', role: 'player', snakeId: 1, tickMs: 150, startAt: 1712345680000,
    state: {
      tick: 0, status: 'running', seed: 12345, rng: 4207900869, settings: defaultSettings('duel'),
      food: [cell(1, 2), cell(30, 31)], snakes: [snake(0, 4), snake(1, 4)],
    },
  },
  {
    type: 'snapshot', gameId: 'g-5', role: 'spectator', snakeId: null, tickMs: 150, startAt: null,
    state: { tick: 912, status: 'complete', seed: 1, rng: 2, settings: defaultSettings('ffa'), food: [], snakes: [snake(3, 2)] },
  },
  { type: 'tick', gameId: 'g-4', t: 1, turns: [], died: [], food: null, hash: 0 },
  { type: 'tick', gameId: 'g-4', t: 2, turns: [[0, 1], [1, 3]], died: [1], food: cell(7, 8), hash: 0xffffffff },
  {
    type: 'over', gameId: 'g-4', t: 300, winner: 0, winningTeam: null,
    results: [
      { userId: 'a', snakeId: 0, team: 0, score: 7, length: 11, alive: true, place: 1 },
      { userId: 'b', snakeId: 1, team: 1, score: 2, length: 6, alive: false, place: 2 },
    ],
  },
  { type: 'over', gameId: 'g-6', t: 30, winner: null, winningTeam: 1, results: [] },
  { type: 'status', gameId: 'g-4', status: 'recovering' },
  { type: 'status', gameId: 'g-4', status: 'running' },
  { type: 'ack', seq: 17, t: 4021, rid: 99 },
  { type: 'error', code: 'too_far', message: 'turn.t is more than 64 ticks ahead', rid: 7 },
  errorMessage('internal', 'try again'),
];

// ---- specs ----------------------------------------------------------------------------------------------------

describe('protocol messages', () => {
  describe('round trips', () => {
    it('covers every message type', () => {
      expect(new Set(clientMessages.map((m) => m.type))).to.have.keys([...CLIENT_MESSAGE_TYPES]);
      expect(new Set(serverMessages.map((m) => m.type))).to.have.keys([...SERVER_MESSAGE_TYPES]);
      expect(CLIENT_MESSAGE_TYPES).to.have.length(12);
      expect(SERVER_MESSAGE_TYPES).to.have.length(13);
    });

    for (const message of clientMessages) {
      it(`client ${message.type} ${JSON.stringify(message).slice(0, 60)}`, () => {
        expect(accepted(encodeClientMessage(message))).to.deep.equal(message);
      });
    }

    for (const message of serverMessages) {
      it(`server ${message.type} ${JSON.stringify(message).slice(0, 60)}`, () => {
        const result = decodeSafely(decodeServerMessage, encodeServerMessage(message));
        expect(result).to.deep.equal({ ok: true, message });
      });
    }

    it('writes plain msgpack maps that a plain msgpackr unpack reads back the same', () => {
      // msgpackr's defaults, as a JavaScript client reads frames
      const plain = new Unpackr({ useRecords: false });
      for (const message of [...clientMessages, ...serverMessages]) {
        const frame = (CLIENT_MESSAGE_TYPES as readonly string[]).includes(message.type)
          ? encodeClientMessage(message as ClientMessage)
          : encodeServerMessage(message as ServerMessage);
        expect(frame[0] >= 0x80 && frame[0] <= 0x8f).to.equal(true, 'a fixmap');
        expect(checkFrame(frame, { maxBytes: Infinity, maxDepth: 16 })).to.equal(null, 'no extension types');
        expect(plain.unpack(frame)).to.deep.equal(message);
      }
    });

    it('writes clocks in ms so that msgpackr\'s default reader gives numbers, and reads a clock a client wrote as int 64', () => {
      const now = 1795778090745;
      const welcome = encodeServerMessage({ type: 'welcome', userId: 'u', name: 'n', token: 't', node: 'x', serverTime: now, game: null });
      const pong = encodeServerMessage({ type: 'pong', c: now, s: now + 1 });
      // as a JavaScript client reads them: numbers it can compare with its own clock (an int 64 gave it a BigInt)
      expect(unpack(welcome)).to.include({ serverTime: now });
      expect(unpack(pong)).to.deep.equal({ type: 'pong', c: now, s: now + 1 });
      expect(typeof (unpack(pong) as { s: unknown }).s).to.equal('number');
      // a client in another language writes its clock as int 64: the node reads the number, and the pong carries it back
      const ping = decodeClientMessage(pack({ type: 'ping', c: BigInt(now) }));
      expect(ping).to.deep.equal({ ok: true, message: { type: 'ping', c: now } });
      // fractions and small numbers as ever
      expect(unpack(encodeServerMessage({ type: 'pong', c: 12.5, s: 7 }))).to.deep.equal({ type: 'pong', c: 12.5, s: 7 });
    });

    it('leaves undefined fields out of the frame', () => {
      const frame = encodeClientMessage({ type: 'turn', dir: 'up', seq: 1, t: undefined, rid: undefined });
      expect(unpack(frame)).to.deep.equal({ type: 'turn', dir: 'up', seq: 1 });
      expect(checkFrame(frame, { maxBytes: Infinity, maxDepth: 16 })).to.equal(null);
    });

    it('keeps frames valid after later encodes', () => {
      const first = encodeServerMessage(serverMessages[0]);
      const copy = Uint8Array.from(first);
      for (let i = 0; i < 2000; i++) encodeServerMessage(serverMessages[i % serverMessages.length]);
      expect(first).to.deep.equal(copy);
    });
  });

  describe('decoding client messages', () => {
    it('fills queue.size with the mode default', () => {
      expect(accepted(encodeClientMessage({ type: 'queue', mode: 'ffa' }))).to.deep.equal({ type: 'queue', mode: 'ffa', size: 4 });
      expect(accepted(encodeClientMessage({ type: 'queue', mode: 'duel' }))).to.deep.equal({ type: 'queue', mode: 'duel', size: 2 });
      expect(accepted(encodeClientMessage({ type: 'queue', mode: 'teams' }))).to.deep.equal({ type: 'queue', mode: 'teams', size: 4 });
    });

    it('reads nil and msgpackr undefined as absent optional fields', () => {
      expect(accepted(raw({ type: 'hello', v: 1, token: null, name: undefined, rid: null }))).to.deep.equal({ type: 'hello', v: 1 });
      expect(accepted(pack({ type: 'turn', dir: 'left', seq: 4, t: undefined }))).to.deep.equal({ type: 'turn', dir: 'left', seq: 4 });
      // inside settings too
      expect(accepted(raw({ type: 'solo', settings: { width: null, height: 30 } }))).to.deep.equal({ type: 'solo', settings: { height: 30 } });
      expect(accepted(pack({ type: 'create', settings: { players: undefined, tickMs: 100 } }))).to.deep.equal({ type: 'create', settings: { tickMs: 100 } });
    });

    it('ignores unknown fields and does not copy them', () => {
      const message = accepted(raw({
        type: 'turn', dir: 'up', seq: 1, extra: 'x', nested: { deeper: [1, 2, { a: 1 }] }, big: new Array(3000).fill(7),
      }));
      expect(message).to.deep.equal({ type: 'turn', dir: 'up', seq: 1 });
      expect(Object.keys(message)).to.deep.equal(['type', 'dir', 'seq']);
    });

    it('accepts an ArrayBuffer and a view into a larger buffer', () => {
      const frame = encodeClientMessage({ type: 'ping', c: 5 });
      const buffer = new Uint8Array(frame.length + 10);
      buffer.set(frame, 5);
      expect(accepted(buffer.subarray(5, 5 + frame.length))).to.deep.equal({ type: 'ping', c: 5 });
      expect(decodeClientMessage(Uint8Array.from(frame).buffer)).to.deep.equal({ ok: true, message: { type: 'ping', c: 5 } });
    });

    it('turns directions into codes and back', () => {
      expect(TURN_DIRECTIONS.map(directionCode)).to.deep.equal([0, 1, 2, 3]);
      expect(([0, 1, 2, 3] as const).map(directionName)).to.deep.equal(['up', 'right', 'down', 'left']);
    });

    it('completes requested settings with the mode defaults', () => {
      expect(requestedSettings({ type: 'solo', settings: { width: 20 } })).to.deep.equal({ ...defaultSettings('solo'), width: 20 });
      expect(requestedSettings({ type: 'create' })).to.deep.equal(defaultSettings('custom'));
      expect(requestedSettings({ type: 'create', settings: { players: 8 } }).players).to.equal(8);
    });
  });

  describe('bad client messages', () => {
    const exact: [string, unknown, string, string][] = [
      ['settings out of range', { type: 'create', settings: { width: 5 } }, 'settings.width', 'settings.width must be between 10 and 200'],
      ['solo settings out of range', { type: 'solo', settings: { tickMs: 1001 } }, 'settings.tickMs', 'settings.tickMs must be between 50 and 1000'],
      ['a fractional setting', { type: 'create', settings: { height: 40.5 } }, 'settings.height', 'settings.height must be an integer'],
      ['too many seats', { type: 'create', settings: { players: 9 } }, 'settings.players', 'settings.players must be between 1 and 8'],
      ['no seats', { type: 'create', settings: { players: 0 } }, 'settings.players', 'settings.players must be between 1 and 8'],
      ['an unknown direction', { type: 'turn', dir: 'north', seq: 1 }, 'turn.dir', 'turn.dir must be one of up, right, down, left'],
      ['a direction code', { type: 'turn', dir: 1, seq: 1 }, 'turn.dir', 'turn.dir must be one of up, right, down, left'],
      ['an unknown type', { type: 'foo' }, 'type', 'unknown message type "foo"'],
      ['a negative seq', { type: 'turn', dir: 'up', seq: -1 }, 'turn.seq', 'turn.seq must be a non-negative integer'],
      ['an unsafe seq', { type: 'turn', dir: 'up', seq: 2 ** 53 }, 'turn.seq', 'turn.seq must be a non-negative integer'],
      ['a fractional t', { type: 'turn', dir: 'up', seq: 1, t: 1.5 }, 'turn.t', 'turn.t must be a non-negative integer (a tick), or left out for the next tick'],
      ['a version 2 hello', { type: 'hello', v: 2 }, 'hello.v', 'hello.v must be 1 (the protocol version this node speaks)'],
      ['a long name', { type: 'hello', v: 1, name: 'n'.repeat(21) }, 'hello.name', 'hello.name must be 1 to 20 letters, digits, _ or -'],
      ['a name with a space', { type: 'hello', v: 1, name: 'a b' }, 'hello.name', 'hello.name must be 1 to 20 letters, digits, _ or -'],
      ['an empty name', { type: 'hello', v: 1, name: '' }, 'hello.name', 'hello.name must be 1 to 20 letters, digits, _ or -'],
      ['a long token', { type: 'hello', v: 1, token: 't'.repeat(513) }, 'hello.token', 'hello.token must be a string of 1 to 512 characters (the token from an earlier welcome)'],
      ['an ffa of 9', { type: 'queue', mode: 'ffa', size: 9 }, 'queue.size', 'queue.size must be an integer between 2 and 8 for ffa (or left out for 4)'],
      ['an ffa of 1', { type: 'queue', mode: 'ffa', size: 1 }, 'queue.size', 'queue.size must be an integer between 2 and 8 for ffa (or left out for 4)'],
      ['a duel of 3', { type: 'queue', mode: 'duel', size: 3 }, 'queue.size', 'queue.size must be 2 for duel (or left out)'],
      ['teams of 2', { type: 'queue', mode: 'teams', size: 2 }, 'queue.size', 'queue.size must be 4 for teams (or left out)'],
      ['an unknown mode', { type: 'queue', mode: 'solo' }, 'queue.mode', 'queue.mode must be one of duel, ffa, teams'],
      ['a lower-case code', { type: 'join', code: 'ab12cd34' }, 'join.code', 'join.code must be 8 characters A-Z or 0-9 (the code of a lobby)'],
      ['a short code', { type: 'join', code: 'AB12CD3' }, 'join.code', 'join.code must be 8 characters A-Z or 0-9 (the code of a lobby)'],
      ['a long game id', { type: 'watch', gameId: 'g'.repeat(65) }, 'watch.gameId', 'watch.gameId must be a string of 1 to 64 characters'],
      ['an empty game id', { type: 'rejoin', gameId: '' }, 'rejoin.gameId', 'rejoin.gameId must be a string of 1 to 64 characters'],
      ['a NaN clock', { type: 'ping', c: NaN }, 'ping.c', 'ping.c must be a finite number (the client clock in ms)'],
      ['an infinite clock', { type: 'ping', c: -Infinity }, 'ping.c', 'ping.c must be a finite number (the client clock in ms)'],
      ['a mode in create settings', { type: 'create', settings: { mode: 'duel' } }, 'settings.mode',
        'settings.mode can not be set for a private game (it is always custom); the settings are width, height, tickMs, foodTarget, startLength, players'],
      ['players in solo settings', { type: 'solo', settings: { players: 2 } }, 'settings.players',
        'settings.players can not be set for a solo game; the settings are width, height, tickMs, foodTarget, startLength'],
      ['settings that are not a map', { type: 'solo', settings: [40, 40] }, 'settings', 'settings must be a map of setting names to integers'],
      ['a missing type', { dir: 'up' }, 'type', 'type must be a string naming the client message (one of hello, ping, queue, unqueue, solo, create, join, start, watch, rejoin, turn, leave)'],
      ['a string rid', { type: 'leave', rid: '5' }, 'leave.rid', 'leave.rid must be a finite number'],
    ];
    for (const [what, message, path, text] of exact) {
      it(`rejects ${what}: ${text}`, () => {
        expect(rejected(raw(message))).to.include({ code: 'bad_message', path, message: text });
      });
    }

    it('echoes a valid rid in errors, and only a valid one', () => {
      expect(rejected(raw({ type: 'turn', dir: 'north', seq: 1, rid: 41 })).rid).to.equal(41);
      expect(rejected(raw({ type: 'nope', rid: 42 })).rid).to.equal(42);
      expect(rejected(raw({ rid: 43 })).rid).to.equal(43);
      expect(rejected(raw({ type: 'create', settings: { width: 1 }, rid: 44 })).rid).to.equal(44);
      expect(rejected(raw({ type: 'leave', rid: 'x' }))).to.not.have.property('rid');
      expect(rejected(raw({ type: 'leave', rid: NaN }))).to.not.have.property('rid');
      expect(rejected(raw({ type: 'turn', dir: 'up', rid: 45 }))).to.deep.equal({
        code: 'bad_message', path: 'turn.seq', message: 'turn.seq must be a non-negative integer', rid: 45,
      });
    });

    it('rejects a value of the wrong type in every field of every message', () => {
      const valid: Record<string, Record<string, unknown>> = {
        hello: { type: 'hello', v: 1, token: 'tok', name: 'bob' },
        ping: { type: 'ping', c: 1 },
        queue: { type: 'queue', mode: 'ffa', size: 4 },
        solo: { type: 'solo', settings: { width: 20 } },
        create: { type: 'create', settings: { players: 2 } },
        join: { type: 'join', code: 'ABCDEFGH' },
        watch: { type: 'watch', gameId: 'g' },
        rejoin: { type: 'rejoin', gameId: 'g' },
        turn: { type: 'turn', dir: 'up', seq: 1, t: 3 },
      };
      const bin = new Uint8Array([1]);
      const wrongFor = (valid: unknown): unknown[] => {
        if (typeof valid === 'string') return [1, 1.5, -1, true, false, [], ['a'], {}, { a: 'b' }, bin, NaN];
        if (typeof valid === 'number') return ['1', true, false, [], [1], {}, { a: 1 }, bin, NaN, Infinity, -Infinity];
        return ['1', 1, true, [], [20], bin, { width: '20' }, { width: 5 }, { width: 20.5 }, { width: NaN }, { nope: 1 }];
      };
      let checked = 0;
      for (const [type, message] of Object.entries(valid)) {
        accepted(raw(message));
        for (const field of Object.keys(message).filter((k) => k !== 'type')) {
          for (const value of wrongFor(message[field])) {
            const result = decodeSafely(decodeClientMessage, raw({ ...message, [field]: value }));
            if (result.ok) expect.fail(`${type}.${field} = ${String(value)} was accepted`);
            expect(result.error.path).to.match(new RegExp(`^(${type}\\.)?${field}`));
            checked++;
          }
        }
      }
      expect(checked).to.be.greaterThan(150);
    });

    it('rejects required fields that are missing or nil', () => {
      const required: [Record<string, unknown>, string][] = [
        [{ type: 'hello' }, 'hello.v'], [{ type: 'ping', c: null }, 'ping.c'], [{ type: 'queue' }, 'queue.mode'],
        [{ type: 'join' }, 'join.code'], [{ type: 'watch' }, 'watch.gameId'], [{ type: 'rejoin', gameId: null }, 'rejoin.gameId'],
        [{ type: 'turn', seq: 1 }, 'turn.dir'], [{ type: 'turn', dir: 'up' }, 'turn.seq'],
      ];
      for (const [message, path] of required) expect(rejected(raw(message)).path).to.equal(path);
    });

    it('rejects frames that are not one msgpack map', () => {
      const frames: [Uint8Array, RegExp][] = [
        [new Uint8Array(0), /frame is empty/],
        [raw('hello'), /must be a msgpack map/],
        [raw([{ type: 'ping', c: 1 }]), /must be a msgpack map/],
        [raw(null), /must be a msgpack map/],
        [raw(42), /must be a msgpack map/],
        [new Uint8Array([...raw({ type: 'leave' }), ...raw({ type: 'leave' })]), /bytes after its msgpack value/],
        [new Uint8Array([0xc1]), /never used/],
        [raw({ type: 'ping', c: new Date(0) }), /extension type/],
        [pack(new Map([[1, 'a']])), /map keys must be strings/],
      ];
      for (const [frame, message] of frames) expect(rejected(frame).message).to.match(message);
    });

    it('rejects text and JSON', () => {
      const texts = ['{"type":"ping","c":1}', '["hello"]', 'hello', 'type=ping', ' ', '{}', '\u00ff\u0000'];
      for (const text of texts) {
        const error = rejected(new TextEncoder().encode(text));
        expect(error.path).to.equal('');
      }
      expect(rejected(new TextEncoder().encode('{"type":"ping","c":1}')).message).to.match(/looks like text/);
    });

    it('rejects inputs that are not bytes', () => {
      for (const input of [undefined, null, 'text', 42, {}, [1, 2], new Uint16Array(2)]) {
        const result = decodeClientMessage(input as unknown as Uint8Array);
        expect(result.ok).to.equal(false);
      }
    });

    it(`rejects frames over ${MAX_FRAME_BYTES} bytes and accepts one at the limit`, () => {
      const base = raw({ type: 'ping', c: 1, pad: '' }).length;
      const atLimit = raw({ type: 'ping', c: 1, pad: 'x'.repeat(MAX_FRAME_BYTES - base - 2) });
      expect(atLimit.length).to.equal(MAX_FRAME_BYTES);
      expect(accepted(atLimit)).to.deep.equal({ type: 'ping', c: 1 });
      const over = raw({ type: 'ping', c: 1, pad: 'x'.repeat(MAX_FRAME_BYTES) });
      expect(rejected(over)).to.deep.equal({
        code: 'bad_message', path: '', message: `frame is ${over.length} bytes, over the limit of 16384 bytes`,
      });
    });

    it('rejects arrays and maps that declare a million elements', () => {
      const prefix = raw({ type: 'turn', seq: 1 }).subarray(1); // the entries, without the map header
      const withField = (value: number[]) => new Uint8Array([0x83, ...prefix, 0xa3, ...new TextEncoder().encode('dir'), ...value]);
      const array32 = [0xdd, 0x00, 0x0f, 0x42, 0x40, 0xa2, 0x75, 0x70];
      const map32 = [0xdf, 0x00, 0x0f, 0x42, 0x40, 0xa1, 0x61, 0x01];
      const array16 = [0xdc, 0xff, 0xff, 0x01];
      const str32 = [0xdb, 0x00, 0x0f, 0x42, 0x40, 0x61];
      const bin32 = [0xc6, 0x00, 0x0f, 0x42, 0x40, 0x61];
      for (const value of [array32, map32, array16, str32, bin32]) {
        expect(rejected(withField(value)).path).to.equal('');
      }
      expect(rejected(withField(array32)).message).to.equal('array at byte 20 declares 1000000 elements but only 3 bytes follow');
      expect(rejected(new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff])).message).to.match(/declares 4294967295 entries/);
      // a real million-element array is bigger than any frame
      expect(rejected(raw({ type: 'ping', c: 1, big: new Array(1e6).fill(0) })).message).to.match(/over the limit/);
    });

    it('rejects 10 000 levels of nesting, alone or inside a message', () => {
      const arrays = new Uint8Array(10001).fill(0x91);
      arrays[10000] = 0xc0;
      expect(rejected(arrays).message).to.equal('frame nests maps and arrays deeper than 16 levels');
      const maps = new Uint8Array(30001); // too big for a client frame: read as a node frame
      for (let i = 0; i < 10000; i++) maps.set([0x81, 0xa1, 0x61], i * 3);
      maps[30000] = 0xc0;
      const result = decodeSafely(decodeServerMessage, maps);
      expect(result).to.deep.include({ ok: false });
      expect(result.ok === false && result.error.message).to.equal('frame nests maps and arrays deeper than 16 levels');
      const fewerMaps = maps.slice(30000 - 15000);
      expect(rejected(fewerMaps).message).to.equal('frame nests maps and arrays deeper than 16 levels');
      const head = raw({ type: 'ping', c: 1, x: null });
      const nested = new Uint8Array(head.length - 1 + 10001);
      nested.set(head.subarray(0, head.length - 1));
      nested.fill(0x91, head.length - 1);
      nested[nested.length - 1] = 0xc0;
      expect(rejected(nested).message).to.match(/deeper than 16 levels/);
      expect(accepted(raw({ type: 'ping', c: 1, x: [[[[[[[[[[[[[[1]]]]]]]]]]]]]] }))).to.deep.equal({ type: 'ping', c: 1 });
    });

    it('is not fooled by __proto__, constructor and other prototype keys', () => {
      const hostile = [
        '{"__proto__": {"polluted": 1}, "type": "ping", "c": 1}',
        '{"type": "ping", "c": 1, "__proto__": {"type": "hello", "polluted": 1}}',
        '{"type": "create", "settings": {"__proto__": {"width": 5, "polluted": 1}}}',
        '{"type": "create", "settings": {"constructor": {"prototype": {"polluted": 1}}}}',
        '{"type": "create", "settings": {"toString": 12}}',
        '{"type": "solo", "settings": {"hasOwnProperty": 12}}',
        '{"type": "__proto__"}', '{"type": "constructor"}', '{"type": "toString"}', '{"type": "hasOwnProperty"}',
        '{"type": "turn", "dir": "constructor", "seq": 1}', '{"type": "queue", "mode": "__proto__"}',
        '{"type": "turn", "dir": "up", "seq": 1, "constructor": 1, "prototype": 2, "__proto__": null}',
      ];
      for (const json of hostile) {
        const frame = raw(JSON.parse(json));
        const result = decodeSafely(decodeClientMessage, frame);
        if (result.ok) {
          expect(Object.getPrototypeOf(result.message)).to.equal(Object.prototype);
          expect(Object.keys(result.message).every((k) => ['type', 'c', 'dir', 'seq'].includes(k))).to.equal(true, json);
        }
      }
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      expect(Object.prototype).to.not.have.property('polluted');
      expect(rejected(raw(JSON.parse('{"type": "create", "settings": {"toString": 12}}')))).to.include({ path: 'settings.toString' });
      expect(rejected(raw(JSON.parse('{"type": "toString"}')))).to.include({ message: 'unknown message type "toString"' });
      expect(rejected(raw(JSON.parse('{"type": "__proto__"}')))).to.include({ message: 'unknown message type "__proto__"' });
    });

    it('answers thousands of seeded random frames without throwing', () => {
      const next = mulberry32(20240501);
      let ok = 0;
      for (let i = 0; i < 5000; i++) {
        const length = i < 4000 ? next() % 48 : next() % 4096;
        const bytes = new Uint8Array(length);
        for (let j = 0; j < length; j++) bytes[j] = next() & 0xff;
        // half the frames start as a map whose first key is "type", to reach past the first byte
        if (i % 2 === 0 && length > 6) bytes.set([0x80 | (next() % 16), 0xa4, 0x74, 0x79, 0x70, 0x65]);
        const result = decodeSafely(decodeClientMessage, bytes);
        if (result.ok) {
          ok++;
          expect(accepted(encodeClientMessage(result.message))).to.deep.equal(result.message);
        }
        decodeSafely(decodeServerMessage, bytes);
      }
      expect(ok).to.be.lessThan(50);
    });

    it('answers seeded mutations of valid frames without throwing, and accepts only valid messages', () => {
      const next = mulberry32(7);
      const frames = clientMessages.map((m) => encodeClientMessage(m));
      let ok = 0;
      for (let i = 0; i < 20000; i++) {
        const bytes = Uint8Array.from(frames[i % frames.length]);
        const edits = 1 + (next() % 3);
        for (let e = 0; e < edits; e++) bytes[next() % bytes.length] = next() & 0xff;
        const result = decodeSafely(decodeClientMessage, bytes);
        if (result.ok) {
          ok++;
          expect(accepted(encodeClientMessage(result.message))).to.deep.equal(result.message);
        }
      }
      expect(ok).to.be.greaterThan(0);
    });

    it('rejects every truncation of every valid frame', () => {
      let count = 0;
      for (const message of clientMessages) {
        const frame = encodeClientMessage(message);
        for (let n = 0; n < frame.length; n++) {
          expect(rejected(frame.subarray(0, n)).path).to.equal('');
          count++;
        }
      }
      for (const message of serverMessages) {
        const frame = encodeServerMessage(message);
        for (let n = 0; n < frame.length; n++) {
          const result = decodeSafely(decodeServerMessage, frame.subarray(0, n));
          expect(result.ok).to.equal(false);
          count++;
        }
      }
      expect(count).to.be.greaterThan(1000);
    });
  });

  describe('bad node messages', () => {
    it('names the field that is missing or of the wrong type', () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ type: 'welcome', userId: 'u', name: 'n', token: 't', node: 'x', serverTime: 'now', game: null }, 'welcome.serverTime'],
        [{ type: 'tick', gameId: 'g', t: 1, turns: [[0, 4]], died: [], food: null, hash: 1 }, 'tick.turns[0]'],
        [{ type: 'tick', gameId: 'g', t: 1, turns: [], died: [], food: [1], hash: 1 }, 'tick.food'],
        [{ type: 'tick', gameId: 'g', t: 1, turns: [], died: [-1], food: null, hash: 1 }, 'tick.died[0]'],
        [{ type: 'tick', gameId: 'g', t: 1, turns: [], died: [], food: null, hash: 2 ** 32 }, 'tick.hash'],
        [{ type: 'match', gameId: 'g', mode: 'duel', players: [{ userId: 'a', name: 'A' }] }, 'match.players[0].snakeId'],
        [{ type: 'error', code: 'oops', message: 'm' }, 'error.code'],
        [{ type: 'snapshot', gameId: 'g', role: 'player', snakeId: 0, tickMs: 150, startAt: null, state: { tick: 0 } }, 'snapshot.state.status'],
        [{ type: 'nope' }, 'type'],
      ];
      for (const [message, path] of cases) {
        const result = decodeSafely(decodeServerMessage, raw(message));
        if (result.ok) expect.fail(`${JSON.stringify(message)} was accepted`);
        expect(result.error.path).to.equal(path);
      }
    });

    it('keeps the fields the engine adds to a snapshot state, and drops unknown top-level fields', () => {
      const snapshot = serverMessages[9] as Extract<ServerMessage, { type: 'snapshot' }>;
      const withExtras = { ...snapshot, extra: 1, state: { ...snapshot.state, winner: null, winningTeam: null } };
      const result = decodeSafely(decodeServerMessage, raw(withExtras));
      expect(result).to.deep.equal({ ok: true, message: { ...snapshot, state: withExtras.state } });
    });

    it('reads node frames larger than the client limit', () => {
      const big = { type: 'lobby', gameId: 'g', code: 'ABCDEFGH', host: 'a', players: Array.from({ length: 2000 }, (_, i) => ({ userId: `user-${i}`, name: `name-${i}` })), settings } as const;
      const frame = encodeServerMessage(big as unknown as ServerMessage);
      expect(frame.length).to.be.greaterThan(MAX_FRAME_BYTES);
      expect(decodeServerMessage(frame)).to.deep.equal({ ok: true, message: big });
    });
  });

  describe('helpers and limits', () => {
    it('builds error messages with and without rid', () => {
      expect(errorMessage('not_found', 'no game g-1; check the id', 3)).to.deep.equal({ type: 'error', code: 'not_found', message: 'no game g-1; check the id', rid: 3 });
      expect(errorMessage('rate_limited', 'slow down')).to.deep.equal({ type: 'error', code: 'rate_limited', message: 'slow down' });
      expect(ERROR_CODES).to.deep.equal(['bad_message', 'unauthenticated', 'bad_state', 'not_found', 'full', 'forbidden', 'too_far', 'queue_full', 'rate_limited', 'unavailable', 'internal']);
    });

    it('exports the protocol limits', () => {
      expect({ MAX_FRAME_BYTES, MAX_TURN_AHEAD, MAX_QUEUED_TURNS, RATE_LIMIT_PER_S, BAD_MESSAGES_PER_10S, COUNTDOWN_MS, TOKEN_TTL_MS }).to.deep.equal({
        MAX_FRAME_BYTES: 16384, MAX_TURN_AHEAD: 64, MAX_QUEUED_TURNS: 8, RATE_LIMIT_PER_S: 50, BAD_MESSAGES_PER_10S: 100,
        COUNTDOWN_MS: { multiplayer: 1500, solo: 500 }, TOKEN_TTL_MS: 86_400_000,
      });
    });
  });
});
