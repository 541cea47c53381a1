// The client protocol (PROTOCOL.md): its limits, and every message a client sends or receives with its codec.
// Import from here; the modules behind it are split by direction:
//   codec.ts            the frame: plain msgpack, structure checks, field readers, DecodeResult
//   client-messages.ts  client → node: types and the strict decoder the node runs on every frame
//   server-messages.ts  node → client: types, the encoder, and a lighter decoder for bots and the browser

/** A client frame over this size closes the connection (WebSocket code 1009). */
export { MAX_FRAME_BYTES } from './codec.ts';
/** A `turn` for a tick more than this many ticks ahead gets `error too_far`. */
export const MAX_TURN_AHEAD = 64;
/** More turns than this waiting for one snake get `error queue_full`. */
export const MAX_QUEUED_TURNS = 8;
/** More messages per second than this, sustained, get `error rate_limited` and a close (1008). */
export const RATE_LIMIT_PER_S = 50;
/** More bad messages than this in 10 s get `error rate_limited` and a close (1008). */
export const BAD_MESSAGES_PER_10S = 100;
/** Between the first snapshot (tick 0) and step 1 of a game. */
export const COUNTDOWN_MS = { multiplayer: 1500, solo: 500 } as const;
/** How long a token from `welcome` restores its user. */
export const TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

export {
  MAX_FRAME_DEPTH, checkFrame, type DecodeError, type DecodeResult, type Rid,
} from './codec.ts';
export * from './client-messages.ts';
export * from './server-messages.ts';
