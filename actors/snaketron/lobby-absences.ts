// Players who drop out of a private lobby by closing their connection (a reload, a lost network) keep their seat
// for a grace period. One not back by then leaves the lobby as if it had sent leave: its seat is freed and, if it
// was the host, the lobby goes to the next player, who can start it. Before, a host who closed the page kept the
// others waiting for good. The absences live in Redis, so any node ends them. Each node also notes there which
// lobby players it serves, so that when it dies the others mark its players absent: a player that comes back (on
// any node) keeps its seat, one that does not leaves.
import type { Keys } from '../../runtime/keys.ts';
import type { Logger } from '../../runtime/log.ts';
import { ActorFinishedError, type Producer } from '../../runtime/producer.ts';
import { Script, type RedisClient } from '../../runtime/redis.ts';

const script = (file: string) => Script.load(new URL(`./commands/${file}`, import.meta.url));
const AWAY = script('away-3.lua');
const DEPART = script('depart-2.lua');
const DUE = script('due-1.lua');
/** how many absences one round ends at most; the next round takes the rest */
const ROUND_LIMIT = 100;
/** how long a player's return to a lobby is remembered, against a close of an older connection seen late */
const RETURN_KEPT_MS = 3_600_000;
/** a presence note this old is of a game long over (its player stayed connected after it): dropped unmarked */
const PRESENCE_KEPT_MS = 86_400_000;

export class LobbyAbsences {
  private readonly key: string;
  private readonly presences: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly producer: Producer,
    private readonly log: Logger,
    /** how long a player who dropped out of a lobby keeps its seat */
    readonly graceMs: number,
  ) {
    this.key = keys.app('{lobby}:absences');
    this.presences = keys.app('{lobby}:presences');
  }

  /**
   * A player's connection on node `nodeId` entered its lobby at `enteredAt` (ms): back if it had dropped out, it
   * keeps its seat; and should this node die, the others know to mark it absent.
   */
  async entered(gameId: string, userId: string, nodeId: string, enteredAt: number): Promise<void> {
    await this.redis.multi()
      .zrem(this.key, member(gameId, userId))
      .set(this.returnKey(gameId, userId), enteredAt, 'PX', RETURN_KEPT_MS)
      .hset(this.presences, member(gameId, userId), `${nodeId} ${enteredAt}`)
      .exec();
  }

  /**
   * A connection on node `nodeId` that entered the game at `enteredAt` (ms) closed, the player's last here. In a
   * lobby (`inLobby`), the player leaves it unless it is back within the grace period, or came back on a newer
   * connection already; in a game that has started, only the note of its presence goes.
   */
  async away(gameId: string, userId: string, nodeId: string, enteredAt: number, inLobby: boolean): Promise<void> {
    await AWAY.run(this.redis, [this.key, this.returnKey(gameId, userId), this.presences],
      [member(gameId, userId), Date.now() + this.graceMs, enteredAt, nodeId, inLobby ? 1 : 0]);
  }

  /**
   * Marks absent the lobby players of nodes that died (`isLive` false), as if each had closed its connection: the
   * ones that come back on another node keep their seats. Returns how many it marked.
   */
  async departed(isLive: (nodeId: string) => Promise<boolean>, now = Date.now()): Promise<number> {
    const notes = await this.redis.hgetall(this.presences);
    const byNode = new Map<string, Array<[string, string]>>();
    for (const [entry, note] of Object.entries(notes)) {
      const { nodeId } = parseNote(note);
      let pairs = byNode.get(nodeId);
      if (!pairs) byNode.set(nodeId, pairs = []);
      pairs.push([entry, note]);
    }
    let marked = 0;
    const oldest = now - PRESENCE_KEPT_MS;
    for (const [nodeId, pairs] of byNode) {
      // a live node's notes a day old are of games long over whose players stayed connected: they go unmarked
      const taken = (await isLive(nodeId)) ? pairs.filter(([, note]) => parseNote(note).enteredAt < oldest) : pairs;
      if (taken.length > 0) marked += await DEPART.run<number>(this.redis, [this.presences, this.key], [now + this.graceMs, oldest, ...taken.flat()]);
    }
    if (marked > 0) this.log.warn({ marked }, 'lobby players of a node that died are marked absent; those that do not come back leave their lobbies');
    return marked;
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

/** A presence note: "node id, entered at (ms)" (a node id has no spaces). */
function parseNote(note: string): { nodeId: string; enteredAt: number } {
  const space = note.lastIndexOf(' ');
  return { nodeId: note.slice(0, space), enteredAt: Number(note.slice(space + 1)) };
}
