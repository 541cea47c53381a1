// The server's clock as the client estimates it: a `snapshot`'s `startAt` is in server ms, so the countdown needs
// the offset between the two clocks. `welcome.serverTime` gives a first guess; each `pong` gives a better one, and
// the sample with the shortest round trip is the most trustworthy (its one-way delays can differ the least).

const SAMPLES = 8;

interface Sample { rtt: number; offset: number }

export class ServerClock {
  private samples: Sample[] = [];
  private guess = 0;
  private _rtt: number | null = null;

  /** `serverTime` from `welcome`, received at local `receivedAt`: a rough offset until pongs arrive. */
  welcome(serverTime: number, receivedAt: number): void {
    this.guess = serverTime - receivedAt;
  }

  /** A `pong {c, s}` received at local `receivedAt` (same clock as `c`). */
  pong(c: number, s: number, receivedAt: number): void {
    const rtt = Math.max(0, receivedAt - c);
    this._rtt = rtt;
    this.samples.push({ rtt, offset: s - (c + receivedAt) / 2 });
    if (this.samples.length > SAMPLES) this.samples.shift();
  }

  /** server ms minus local ms */
  get offset(): number {
    if (this.samples.length === 0) return this.guess;
    let best = this.samples[0];
    for (const sample of this.samples) if (sample.rtt < best.rtt) best = sample;
    return best.offset;
  }

  /** the latest round trip, ms, or null before the first pong */
  get rtt(): number | null { return this._rtt; }

  serverNow(localNow: number): number { return localNow + this.offset; }

  /** A server time on the local clock. */
  toLocal(serverTime: number): number { return serverTime - this.offset; }

  /** Forget the pongs (a new connection may reach another node with another clock). */
  reset(): void {
    this.samples = [];
    this._rtt = null;
  }
}
