// A WebSocket client for specs: speaks PROTOCOL.md through the project's codecs, keeps every message it gets,
// and waits for the ones a spec expects.
import WebSocket from 'ws';
import {
  decodeServerMessage, encodeClientMessage, type OutgoingClientMessage, type ServerMessage,
} from '../../protocol/messages.ts';

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

export class SpecClient {
  readonly received: ServerMessage[] = [];
  private cursor = 0;
  private readonly taken = new Set<number>();
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | null = null;
  readonly whenClosed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket, readonly label: string) {
    ws.on('message', (data: Buffer) => {
      const decoded = decodeServerMessage(new Uint8Array(data));
      if (!decoded.ok) throw new Error(`${label} got an undecodable frame: ${decoded.error.message}`);
      this.received.push(decoded.message);
      this.wake();
    });
    this.whenClosed = new Promise((resolve) => ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
      resolve(this.closed);
    }));
  }

  static connect(url: string, label = 'client'): Promise<SpecClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new SpecClient(ws, label)));
      ws.once('error', reject);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(message: OutgoingClientMessage): void {
    this.ws.send(encodeClientMessage(message));
  }

  sendRaw(data: Uint8Array | string, binary = true): void {
    this.ws.send(data, { binary });
  }

  /**
   * The next message of the type and shape asked, after the last one a wait returned (messages of other types
   * are skipped). Waits may run at once: each scans from where it began and takes a message no other wait took.
   */
  async next<T extends ServerMessage['type']>(type: T, match: (m: Of<T>) => boolean = () => true, timeoutMs = 15_000): Promise<Of<T>> {
    const deadline = Date.now() + timeoutMs;
    let i = this.cursor;
    for (;;) {
      for (; i < this.received.length; i++) {
        const m = this.received[i];
        if (!this.taken.has(i) && m.type === type && match(m as Of<T>)) {
          this.taken.add(i);
          this.cursor = Math.max(this.cursor, i + 1);
          return m as Of<T>;
        }
      }
      if (this.closed) throw new Error(`${this.label}: connection closed (${this.closed.code}) while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.received.slice(-5).map((m) => m.type).join(', ');
        throw new Error(`${this.label}: no ${type} within ${timeoutMs} ms (last seen: ${seen})`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** Every message of a type received so far. */
  all<T extends ServerMessage['type']>(type: T): Array<Of<T>> {
    return this.received.filter((m): m is Of<T> => m.type === type);
  }

  async hello(name?: string, token?: string): Promise<Of<'welcome'>> {
    this.send({ type: 'hello', v: 1, ...(name ? { name } : {}), ...(token ? { token } : {}) });
    return this.next('welcome');
  }

  close(): void {
    this.ws.close();
  }
}
