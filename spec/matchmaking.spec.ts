// Matchmaking against the real Redis: one ticket per player, tickets of dead nodes, scripts run twice (ioredis
// sends a command again when its connection drops before the reply), and the marks of players who gave up.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { Matchmaker, newTicketId, type Ticket } from '../actors/snaketron/matchmaking.ts';
import { Keys } from '../runtime/keys.ts';
import { createLogger } from '../runtime/log.ts';
import { dropKeys, freshPrefix, REDIS_URL } from './support/env.ts';

describe('matchmaking', () => {
  let prefix: string;
  let redis: Redis;
  let live: Set<string>;
  let mm: Matchmaker;
  const ticket = (userId: string, node = 'n1', mode: Ticket['mode'] = 'duel', size = 2): Ticket =>
    ({ id: newTicketId(), userId, name: userId, node, mode, size });
  const tag = () => `${prefix}:app:{mm}`;

  beforeEach(() => {
    prefix = freshPrefix('mm');
    redis = new Redis(REDIS_URL);
    live = new Set(['n1', 'n2']);
    mm = new Matchmaker(redis, new Keys(prefix), createLogger({}, 'silent'), async (node) => live.has(node));
  });
  afterEach(async () => {
    redis.disconnect();
    await dropKeys(prefix);
  });

  it('holds one ticket per player: a second from another live connection is refused, and the first one stays', async () => {
    const first = ticket('u1');
    expect(await mm.enqueue(first)).to.equal(null);
    const held = await mm.enqueue(ticket('u1', 'n2', 'ffa', 3));
    expect(held).to.deep.equal(first);
    expect(await redis.zrange(`${tag()}:queue:ffa:3`, '0', '-1')).to.deep.equal([]);
    expect(await redis.zrange(`${tag()}:queue:duel:2`, '0', '-1')).to.deep.equal(['u1']);
    // a ticket the player no longer holds takes nothing out
    expect(await mm.dequeue({ ...first, id: 'older' })).to.equal(false);
    expect(await mm.queued()).to.equal(1);
    expect(await mm.dequeue(first)).to.equal(true);
    expect(await mm.queued()).to.equal(0);
  });

  it('queues a player once when the same enqueue runs twice', async () => {
    const t = ticket('u1');
    expect(await mm.enqueue(t)).to.equal(null);
    expect(await mm.enqueue(t)).to.equal(null);
    expect(await redis.zrange(`${tag()}:queue:duel:2`, '0', '-1')).to.deep.equal(['u1']);
  });

  it('replaces the ticket of a dead node when its player queues again, and prunes those nobody takes back', async () => {
    expect(await mm.enqueue(ticket('back', 'n1'))).to.equal(null);
    expect(await mm.enqueue(ticket('gone', 'n1', 'ffa', 3))).to.equal(null);
    expect(await mm.enqueue(ticket('stays', 'n2'))).to.equal(null);
    live.delete('n1');
    const again = ticket('back', 'n2', 'teams', 4);
    expect(await mm.enqueue(again)).to.equal(null);
    expect(await redis.zrange(`${tag()}:queue:duel:2`, '0', '-1')).to.deep.equal(['stays']);
    expect(await mm.prune()).to.equal(1);
    expect(await redis.zrange(`${tag()}:queue:ffa:3`, '0', '-1')).to.deep.equal([]);
    expect(Object.keys(await redis.hgetall(`${tag()}:tickets`)).sort()).to.deep.equal(['back', 'stays']);
    expect(await redis.zrange(`${tag()}:queue:teams:4`, '0', '-1')).to.deep.equal(['back']);
  });

  it('claims a match once: the claim script run again with its match id takes nobody else', async () => {
    for (const u of ['a', 'b']) expect(await mm.enqueue(ticket(u))).to.equal(null);
    const [match] = await mm.claim('duel', 2);
    expect(match.players.map((p) => p.userId)).to.deep.equal(['a', 'b']);
    for (const u of ['c', 'd']) expect(await mm.enqueue(ticket(u))).to.equal(null);
    const source = readFileSync(new URL('../actors/snaketron/commands/match-4.lua', import.meta.url), 'utf8');
    const again = await redis.eval(source, 4, `${tag()}:queue:duel:2`, `${tag()}:tickets`, `${tag()}:pending`, `${tag()}:claims`, 2, match.gameId, Date.now());
    expect(again).to.equal(null);
    expect(await redis.zrange(`${tag()}:queue:duel:2`, '0', '-1')).to.deep.equal(['c', 'd']);
    expect(JSON.parse((await redis.hget(`${tag()}:pending`, match.gameId))!).players.filter((_: unknown, i: number) => i % 3 === 0)).to.deep.equal(['a', 'b']);
  });

  it('keeps each claim until its player is told, so a player whose notification was lost can be told later', async () => {
    const [a, b] = [ticket('a'), ticket('b')];
    for (const t of [a, b]) expect(await mm.enqueue(t)).to.equal(null);
    const [match] = await mm.claim('duel', 2);
    // told within two seconds, as the notification normally does: nothing is untold yet
    expect([...await mm.untold([a, b])]).to.deep.equal([]);
    for (const userId of ['a', 'b']) {
      const claim = (await redis.hget(`${tag()}:claims`, userId))!;
      await redis.hset(`${tag()}:claims`, userId, claim.replace(/^(\S+) \d+ /, `$1 ${Date.now() - 5000} `));
    }
    expect([...await mm.untold([a, b, { ...a, id: 'later' }])]).to.deep.equal([[a.id, match.gameId], [b.id, match.gameId]]);
    await mm.told({ ...a, id: 'other' });
    await mm.told(b);
    expect([...await mm.untold([a, b])]).to.deep.equal([[a.id, match.gameId]]);
  });

  it('forgets the mark of a player who gave up on a match once that match is long settled', async () => {
    await redis.hset(`${tag()}:gave-up`, 'old', Date.now() - 120_000, 'recent', Date.now());
    await mm.prune();
    expect(Object.keys(await redis.hgetall(`${tag()}:gave-up`))).to.deep.equal(['recent']);
  });
});
