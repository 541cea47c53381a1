// Drives games through the runtime's mailboxes the way players would: creates duels, then keeps sending turns
// for explicit upcoming ticks and records every acknowledged input.
import { randomBytes } from 'node:crypto';
import { GAME_ACTOR, type CreateGame } from '../../actors/snaketron/game-actor.ts';
import type { Dir } from '../../protocol/engine.ts';
import { defaultSettings, type Settings } from '../../protocol/settings.ts';
import type { Producer } from '../../runtime/producer.ts';
import type { JournalCollector } from './journal.ts';

export const SPEC_DUEL: Settings = { ...defaultSettings('duel'), width: 100, height: 100, tickMs: 50 };

export class GameDriver {
  readonly acked = new Map<string, string[]>();
  readonly games: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private seed = 1;
  failures = 0;

  constructor(private readonly producer: Producer, private readonly collector: JournalCollector) {}

  async createDuels(count: number, options: { actorType?: string; settings?: Settings; countdownMs?: number } = {}): Promise<string[]> {
    const ids: string[] = [];
    await Promise.all(Array.from({ length: count }, async (_, i) => {
      const id = `g-${randomBytes(5).toString('hex')}-${i}`;
      const init: CreateGame = {
        settings: options.settings ?? SPEC_DUEL,
        seed: (i * 7919 + 17) >>> 0,
        players: [{ userId: `u${i}a`, name: 'left' }, { userId: `u${i}b`, name: 'right' }],
        countdownMs: options.countdownMs ?? 100,
      };
      await this.producer.create(options.actorType ?? GAME_ACTOR, id, init);
      ids.push(id);
      this.acked.set(id, []);
    }));
    this.games.push(...ids);
    return ids;
  }

  /** Submits an input and records its ack (the stream id). */
  async send(gameId: string, input: unknown): Promise<string> {
    const id = await this.producer.submit(gameId, input);
    this.acked.get(gameId)!.push(id);
    return id;
  }

  private random(): number {
    this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0;
    return this.seed;
  }

  /** Every `everyMs`, one turn per running game for a tick a little ahead of the last recorded one. */
  startTurning(everyMs = 60): void {
    this.timer = setInterval(() => {
      for (const gameId of this.games) {
        if (this.collector.isOver(gameId)) continue;
        const t = this.collector.lastTick(gameId) + 1 + (this.random() % 3);
        const input = { k: 'turn', snakeId: this.random() % 2, dir: (this.random() % 4) as Dir, t };
        this.inFlight++;
        this.send(gameId, input).catch(() => { this.failures++; }).finally(() => { this.inFlight--; });
      }
    }, everyMs);
  }

  async stopTurning(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  }

  allOver(): boolean {
    return this.games.every((g) => this.collector.isOver(g));
  }
}
