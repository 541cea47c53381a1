// The socket to a node: binary msgpack frames through the protocol codecs, a `rid` on every request, a ping every
// two seconds (latency and the server clock), and reconnection with backoff when the socket drops, the node dies,
// or pongs stop coming. The session (hello, rejoin) is the app's: it hears `open` on every new socket.
import {
  decodeServerMessage, encodeClientMessage, type DecodeError, type OutgoingClientMessage, type ServerMessage,
} from '../protocol/messages.ts';
import { ServerClock } from './clock.ts';

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting';

export interface ConnectionEvents {
  /** a new socket is open: send `hello` */
  open(): void;
  message(message: ServerMessage): void;
  status(status: ConnectionStatus, retryInMs: number | null): void;
  /** a frame the codec could not read (a node bug, worth a console line) */
  badFrame?(error: DecodeError): void;
}

export interface ConnectionOptions {
  pingEveryMs: number;
  /** pongs missing this long, or a welcome this long after connecting, mean the node is gone, even if the socket has not noticed */
  silenceMs: number;
  backoffMs: { first: number; max: number };
}

/**
 * Retries wait at most 3 s: a node being restarted is back within seconds, and a player's game is frozen until the
 * page is back (with 8 s, play resumed up to 5.6 s after the node was ready). The jitter still spreads a node's
 * clients over 1.5-3 s.
 */
const DEFAULTS: ConnectionOptions = { pingEveryMs: 2000, silenceMs: 7000, backoffMs: { first: 250, max: 3000 } };

/** The delay before reconnect attempt `attempt` (0-based): doubling, capped, with jitter so clients spread out. */
export function backoffDelay(attempt: number, first: number, max: number, random: number = Math.random()): number {
  const base = Math.min(max, first * 2 ** Math.min(attempt, 20));
  return Math.round(base * (0.5 + random * 0.5));
}

/** `ws://host/ws` or `wss://host/ws` for the page's own host. */
export function socketUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

export class Connection {
  readonly clock = new ServerClock();
  private socket: WebSocket | null = null;
  private nextRid = 1;
  private attempt = 0;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  private lastHeard = 0;
  private welcomed = false;
  private stopped = false;
  private readonly options: ConnectionOptions;

  constructor(private readonly url: string, private readonly events: ConnectionEvents, options: Partial<ConnectionOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  get isOpen(): boolean { return this.socket?.readyState === WebSocket.OPEN; }

  /** the latest round trip in ms, or null */
  get latency(): number | null { return this.clock.rtt; }

  start(): void {
    this.stopped = false;
    if (this.socket === null && this.retryTimer === null) this.connect();
  }

  /** Sends a request with a fresh `rid` and returns the rid, or null when there is no open socket. */
  send(message: OutgoingClientMessage): number | null {
    if (!this.isOpen || this.socket === null) return null;
    const rid = this.nextRid++;
    // The codec's bytes are a fresh buffer of their own, never a SharedArrayBuffer.
    this.socket.send(encodeClientMessage({ ...message, rid }) as Uint8Array<ArrayBuffer>);
    return rid;
  }

  /** Drops the socket and reconnects (e.g. to send a different `hello`). */
  restart(): void {
    this.drop();
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.drop();
  }

  private connect(): void {
    this.retryTimer = null;
    this.events.status(this.attempt === 0 ? 'connecting' : 'reconnecting', null);
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    this.welcomed = false;
    // a node that took the connection but answers nothing (a stopped process) would leave it connecting for ever
    this.handshakeTimer = setTimeout(() => {
      if (this.socket !== socket || this.welcomed) return;
      this.drop();
      this.scheduleRetry();
    }, this.options.silenceMs);
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.lastHeard = Date.now();
      this.clock.reset();
      this.events.status('connected', null);
      this.events.open();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket) return;
      this.lastHeard = Date.now();
      if (!(event.data instanceof ArrayBuffer)) return;
      const decoded = decodeServerMessage(event.data);
      if (!decoded.ok) {
        this.events.badFrame?.(decoded.error);
        return;
      }
      this.observe(decoded.message);
      this.events.message(decoded.message);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.drop();
      if (!this.stopped) this.scheduleRetry();
    };
    socket.onerror = () => { /* onclose follows and reconnects */ };
  }

  /** What the connection itself needs from the messages: the clock, liveness, and a healthy session to reset backoff. */
  private observe(message: ServerMessage): void {
    const now = Date.now();
    if (message.type === 'welcome') {
      this.welcomed = true;
      this.attempt = 0;
      this.clock.welcome(message.serverTime, now);
      this.ping();
      this.pingTimer = setInterval(() => this.ping(), this.options.pingEveryMs);
    } else if (message.type === 'pong') {
      this.clock.pong(message.c, message.s, now);
    }
  }

  private ping(): void {
    if (!this.welcomed) return;
    if (Date.now() - this.lastHeard > this.options.silenceMs) {
      // The node stopped answering without closing (a dead host, a stopped process): treat it as a drop.
      this.drop();
      this.scheduleRetry();
      return;
    }
    this.send({ type: 'ping', c: Date.now() });
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer !== null) return;
    const delay = backoffDelay(this.attempt, this.options.backoffMs.first, this.options.backoffMs.max);
    this.attempt++;
    this.events.status('reconnecting', delay);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private drop(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    this.welcomed = false;
    if (socket !== null) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try { socket.close(); } catch { /* already closed */ }
    }
  }
}
