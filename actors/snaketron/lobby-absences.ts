// Players who drop out of a private lobby by closing their connection (a reload, a lost network) keep their seat
// for a grace period. One not back by then leaves the lobby as if it had sent leave: its seat is freed and, if it
// was the host, the lobby goes to the next player, who can start it. Before, a host who closed the page kept the
// others waiting for good. The absences live in Redis, so any node ends them, also those a dead node had seen.
import { readFileSync } from 'node:fs';
import type { Keys } from '../../runtime/keys.ts';
import type { Logger } from '../../runtime/log.ts';
import { ActorFinishedError, type Producer } from '../../runtime/producer.ts';
import { Script, type RedisClient } from '../../runtime/redis.ts';

const script = (file: string) => new Script(readFileSync(new URL(`./commands/${file}`, import.meta.url), 'utf8'));
const AWAY = script('away-2.lua');
const DUE = script('due-1.lua');
/** how many absences one round ends at most; the next round takes the rest */
const ROUND_LIMIT = 100;
/** how long a player's return to a lobby is remembered, against a close of an older connection seen late */
const RETURN_KEPT_MS = 3_600_000;

export class LobbyAbsences {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly producer: Producer,
    private readonly log: Logger,
    /** how long a player who dropped out of a lobby keeps its seat */
    readonly graceMs: number,
  ) {
    this.key = keys.app('{lobby}:absences');
  }

  /**
   * A connection that entered the lobby at `enteredAt` (ms) closed, the player's last here: it leaves the lobby
   * unless it is back within the grace period, or came back on a newer connection already.
   */
  async away(gameId: string, userId: string, enteredAt: number): Promise<void> {
    await AWAY.run(this.redis, [this.key, this.returnKey(gameId, userId)], [member(gameId, userId), Date.now() + this.graceMs, enteredAt]);
  }

  /** The player is in the lobby again (on any node): it keeps its seat. */
  async back(gameId: string, userId: string): Promise<void> {
    await this.redis.multi()
      .zrem(this.key, member(gameId, userId))
      .set(this.returnKey(gameId, userId), Date.now(), 'PX', RETURN_KEPT_MS)
      .exec();
  }

  private returnKey(gameId: string, userId: string): string {
    return this.keys.app(`{lobby}:back:${gameId}:${userId}`);
  }

  /**
   * Ends the absences whose grace period is over: each player leaves its lobby (the game ignores a leave once it
   * has started, or from a player no longer seated). Returns how many it ended.
   */
  async expire(now = Date.now()): Promise<number> {
    const due = await DUE.run<string[]>(this.redis, [this.key], [now, ROUND_LIMIT]);
    for (const entry of due) {
      const [gameId, userId] = entry.split(' ');
      try {
        await this.producer.submit(gameId, { k: 'leave', userId });
        this.log.info({ gameId, userId }, 'a player who dropped out of a lobby did not come back; it left the lobby');
      } catch (err) {
        // a game that has ended refuses inputs: nothing is left to leave
        if (err instanceof ActorFinishedError) continue;
        this.log.warn({ err: String(err), gameId, userId }, 'could not take a player who dropped out out of its lobby; trying again');
        await this.redis.zadd(this.key, now, entry);
      }
    }
    return due.length;
  }
}

function member(gameId: string, userId: string): string {
  return `${gameId} ${userId}`;
}
