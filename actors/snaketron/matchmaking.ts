// Matchmaking in Redis: one queue per mode and size; a match is claimed atomically by a Lua script, so no player
// is matched twice; the match stays recorded as pending until its game exists, and a sweeper on any node finishes
// or undoes matches whose maker died, so no player is stranded.
import { randomBytes } from 'node:crypto';
import type { QueueMode } from '../../protocol/messages.ts';
import type { Keys } from '../../runtime/keys.ts';
import type { Logger } from '../../runtime/log.ts';
import { Script, type RedisClient } from '../../runtime/redis.ts';

const script = (file: string) => Script.load(new URL(`./commands/${file}`, import.meta.url));
const MATCH = script('match-4.lua');
const ENQUEUE = script('enqueue-4.lua');
const DEQUEUE = script('dequeue-2.lua');
const TOLD = script('told-1.lua');
const UNCLAIM = script('unclaim-1.lua');
/** A pending match older than this has lost its maker. */
const STALE_MATCH_MS = 10_000;
/** A claim its player was not told of in this long was lost on its way (pub/sub delivers at most once). */
const UNTOLD_CLAIM_MS = 2_000;
/** A claim kept this long is of a player that went away before it could be told. */
const STALE_CLAIM_MS = 10 * 60_000;

export interface Ticket {
  /** tells this ticket from the player's earlier and later ones */
  id: string;
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
    /** whether a node is alive: a ticket held by a dead node's connection is nobody's */
    private readonly isLive: (nodeId: string) => Promise<boolean>,
  ) {}

  // one hash tag for every matchmaking key, so the claim script may touch them together on a Redis Cluster
  private key(name: string): string { return this.keys.app(`{mm}:${name}`); }
  private queueKey(mode: QueueMode, size: number): string { return this.key(`queue:${mode}:${size}`); }
  private get tickets(): string { return this.key('tickets'); }
  private get pending(): string { return this.key('pending'); }
  /** players who stopped waiting for a match that had claimed them: undoing that match does not queue them again */
  private get gaveUp(): string { return this.key('gave-up'); }
  /** per player, the match that took its ticket (until the player is told): "match id, time, ticket" */
  private get claims(): string { return this.key('claims'); }

  /**
   * Queues a player; the queue is first come, first served (a counter, not the clock, orders it). A player holds
   * one ticket at a time: while it holds one from another live connection, nothing is queued and that ticket is
   * returned.
   */
  async enqueue(ticket: Ticket): Promise<Ticket | null> {
    for (;;) {
      const held = await ENQUEUE.run<string | null>(this.redis,
        [this.queueKey(ticket.mode, ticket.size), this.tickets, this.key('order'), this.gaveUp], [ticket.userId, JSON.stringify(ticket)]);
      const holder = held === null ? null : parseTicket(held);
      // its own ticket: the script ran twice (the client sent it again after a lost connection)
      if (held === null || holder?.id === ticket.id) return null;
      if (holder && await this.isLive(holder.node)) return holder;
      await this.discard(ticket.userId, held); // its node died with the connection: the player is queued anew
    }
  }

  /** Takes a player's ticket out of its queue; false when it was no longer waiting (already matched). */
  async dequeue(ticket: Ticket): Promise<boolean> {
    return this.discard(ticket.userId, JSON.stringify(ticket));
  }

  /**
   * Housekeeping: takes out of their queues the players whose connection was on a node that died (nobody would
   * play them), and forgets claims nobody could be told of and gave-up marks that outlived their use. Returns how
   * many tickets it took out.
   */
  async prune(): Promise<number> {
    let pruned = 0;
    const live = new Map<string, Promise<boolean>>(); // one liveness read per node, not per ticket
    for (const [userId, value] of Object.entries(await this.redis.hgetall(this.tickets))) {
      const ticket = parseTicket(value);
      if (ticket) {
        if (!live.has(ticket.node)) live.set(ticket.node, this.isLive(ticket.node));
        if (await live.get(ticket.node)) continue;
      }
      if (await this.discard(userId, value)) pruned++;
    }
    if (pruned > 0) this.log.info({ pruned }, 'tickets of departed nodes taken out of the queues');
    // claims nobody was told of because the player had gone meanwhile
    const stale = Object.entries(await this.redis.hgetall(this.claims))
      .filter(([, value]) => Date.now() - (parseClaim(value)?.at ?? 0) > STALE_CLAIM_MS).map(([userId]) => userId);
    if (stale.length > 0) await this.redis.hdel(this.claims, ...stale);
    // a mark outlives its use when the match it gave up on was made after all (nothing sweeps that one)
    const marks = Object.entries(await this.redis.hgetall(this.gaveUp)).filter(([, at]) => Date.now() - Number(at) > STALE_MATCH_MS * 6);
    if (marks.length > 0) await this.redis.hdel(this.gaveUp, ...marks.map(([userId]) => userId));
    return pruned;
  }

  private async discard(userId: string, value: string): Promise<boolean> {
    const ticket = parseTicket(value);
    const queue = ticket ? this.queueKey(ticket.mode, ticket.size) : this.key('queue:unknown');
    return (await DEQUEUE.run<number>(this.redis, [queue, this.tickets], [userId, value])) === 1;
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
      const flat = await MATCH.run<string[] | null>(this.redis, [this.queueKey(mode, size), this.tickets, this.pending, this.claims], [size, gameId, Date.now()]);
      if (!flat) return matches;
      const players: Ticket[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        const ticket = parseTicket(flat[i + 1]) ?? { id: '', userId: flat[i], name: 'player', node: '', mode, size };
        players.push(ticket);
      }
      matches.push({ gameId, mode, size, players });
    }
  }

  /** The player was told of the match that took this ticket. */
  async told(ticket: Ticket): Promise<void> {
    await TOLD.run(this.redis, [this.claims], [ticket.userId, ticket.id]);
  }

  /**
   * The matches that took these tickets more than UNTOLD_CLAIM_MS ago without their players being told (the
   * notification was lost): per ticket id, its match id.
   */
  async untold(tickets: readonly Ticket[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (tickets.length === 0) return out;
    const values = await this.redis.hmget(this.claims, ...tickets.map((t) => t.userId));
    tickets.forEach((ticket, i) => {
      const claim = parseClaim(values[i]);
      if (claim && claim.ticket?.id === ticket.id && Date.now() - claim.at > UNTOLD_CLAIM_MS) out.set(ticket.id, claim.gameId);
    });
    return out;
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
        await UNCLAIM.run(this.redis, [this.claims], [String(pending.players[i]), gameId]);
      }
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

function parseClaim(value: string | null): { gameId: string; at: number; ticket: Ticket | null } | null {
  const m = value === null ? null : /^(\S+) (\d+) (.*)$/s.exec(value);
  return m ? { gameId: m[1], at: Number(m[2]), ticket: parseTicket(m[3]) } : null;
}

function parseTicket(value: string): Ticket | null {
  try {
    return value ? JSON.parse(value) as Ticket : null;
  } catch {
    return null;
  }
}

export function newTicketId(): string {
  return randomBytes(6).toString('base64url');
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
