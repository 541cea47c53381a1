// Matchmaking in Redis: one queue per mode and size; a match is claimed atomically by a Lua script, so no player
// is matched twice; the match stays recorded as pending until its game exists, and a sweeper on any node finishes
// or undoes matches whose maker died, so no player is stranded.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { QueueMode } from '../../protocol/messages.ts';
import type { Keys } from '../../runtime/keys.ts';
import type { Logger } from '../../runtime/log.ts';
import { Script, type RedisClient } from '../../runtime/redis.ts';

const MATCH = new Script(readFileSync(new URL('./commands/match-3.lua', import.meta.url), 'utf8'));
/** A pending match older than this has lost its maker. */
const STALE_MATCH_MS = 10_000;

export interface Ticket {
  userId: string;
  name: string;
  /** the node holding the player's connection, which tells the player about the match */
  node: string;
  mode: QueueMode;
  size: number;
}

export interface Match {
  gameId: string;
  mode: QueueMode;
  size: number;
  players: Ticket[];
}

export class Matchmaker {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly log: Logger,
  ) {}

  // one hash tag for every matchmaking key, so the claim script may touch them together on a Redis Cluster
  private key(name: string): string { return this.keys.app(`{mm}:${name}`); }
  private queueKey(mode: QueueMode, size: number): string { return this.key(`queue:${mode}:${size}`); }
  private get tickets(): string { return this.key('tickets'); }
  private get pending(): string { return this.key('pending'); }
  /** players who stopped waiting for a match that had claimed them: undoing that match does not queue them again */
  private get gaveUp(): string { return this.key('gave-up'); }

  /** Queues a player; the queue is first come, first served (a counter, not the clock, orders it). */
  async enqueue(ticket: Ticket): Promise<void> {
    await this.redis.hdel(this.gaveUp, ticket.userId);
    await this.redis.hset(this.tickets, ticket.userId, JSON.stringify(ticket));
    const order = await this.redis.incr(this.key('order'));
    await this.redis.zadd(this.queueKey(ticket.mode, ticket.size), order, ticket.userId);
  }

  /** Takes a player out of its queue; false when it was no longer waiting (already matched). */
  async dequeue(ticket: Pick<Ticket, 'userId' | 'mode' | 'size'>): Promise<boolean> {
    const removed = await this.redis.zrem(this.queueKey(ticket.mode, ticket.size), ticket.userId);
    await this.redis.hdel(this.tickets, ticket.userId);
    return removed === 1;
  }

  /** The player stopped waiting for the match that claimed it (its match message never came). */
  async giveUp(userId: string): Promise<void> {
    await this.redis.hset(this.gaveUp, userId, Date.now());
  }

  /** Claims every full match waiting in a queue. */
  async claim(mode: QueueMode, size: number): Promise<Match[]> {
    const matches: Match[] = [];
    for (;;) {
      const gameId = newGameId();
      const flat = await MATCH.run<string[] | null>(this.redis, [this.queueKey(mode, size), this.tickets, this.pending], [size, gameId, Date.now()]);
      if (!flat) return matches;
      const players: Ticket[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        const ticket = parseTicket(flat[i + 1]) ?? { userId: flat[i], name: 'player', node: '', mode, size };
        players.push(ticket);
      }
      matches.push({ gameId, mode, size, players });
    }
  }

  /** The match's game exists: nothing left to undo. */
  async settled(gameId: string): Promise<void> {
    await this.redis.hdel(this.pending, gameId);
  }

  /**
   * Finishes or undoes pending matches older than STALE_MATCH_MS: `exists` says whether the game was created
   * (then `finish` makes sure it runs and its players know), otherwise the players go back to their queue.
   */
  async sweep(exists: (gameId: string) => Promise<boolean>, finish: (match: Match) => Promise<void>): Promise<number> {
    const all = await this.redis.hgetall(this.pending);
    let swept = 0;
    for (const [gameId, value] of Object.entries(all)) {
      const pending = JSON.parse(value) as { at: number; queue: string; players: Array<string | number> };
      if (Date.now() - pending.at < STALE_MATCH_MS) continue;
      if ((await this.redis.hdel(this.pending, gameId)) !== 1) continue; // another node's sweeper has it
      swept++;
      const players: Ticket[] = [];
      for (let i = 0; i < pending.players.length; i += 3) {
        const ticket = parseTicket(String(pending.players[i + 1]));
        if (ticket) players.push(ticket);
      }
      // whoever gave up on this match is no longer waiting for it, whichever way it goes
      const gaveUp = new Set<string>();
      for (let i = 0; i < pending.players.length; i += 3) {
        if ((await this.redis.hdel(this.gaveUp, String(pending.players[i]))) === 1) gaveUp.add(String(pending.players[i]));
      }
      const [, , mode, size] = pending.queue.split(':').slice(-4);
      if (await exists(gameId)) {
        await finish({ gameId, mode: mode as QueueMode, size: Number(size), players });
        continue;
      }
      this.log.warn({ gameId, players: players.length, gaveUp: gaveUp.size }, 'half-made match undone; players queued again');
      for (let i = 0; i < pending.players.length; i += 3) {
        const userId = String(pending.players[i]);
        // not one who gave up on it, nor one queued again meanwhile
        if (gaveUp.has(userId) || (await this.redis.hexists(this.tickets, userId)) === 1) continue;
        const ticket = String(pending.players[i + 1]);
        if (ticket) await this.redis.hset(this.tickets, userId, ticket);
        await this.redis.zadd(pending.queue, Number(pending.players[i + 2]), userId);
      }
    }
    return swept;
  }

  async queued(): Promise<number> {
    return this.redis.hlen(this.tickets);
  }
}

function parseTicket(value: string): Ticket | null {
  try {
    return value ? JSON.parse(value) as Ticket : null;
  } catch {
    return null;
  }
}

export function newGameId(): string {
  return `g${randomBytes(9).toString('base64url')}`;
}

/**
 * PROTOCOL.md's A–Z and 0–9 without the letters a reader mistakes for digits (O, I) and those digits (0, 1): a
 * code is read aloud and typed. Thirty-two characters, so a random byte maps onto them evenly.
 */
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export function newLobbyCode(): string {
  const bytes = randomBytes(8);
  return Array.from(bytes, (b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join('');
}
