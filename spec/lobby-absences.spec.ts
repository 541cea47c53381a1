// Lobby absences against the real Redis: a closed connection marks its player absent unless it came back since, a
// dead node's lobby players are marked unless a newer connection replaced their note, and notes of games long
// over go unmarked.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { LobbyAbsences } from '../actors/snaketron/lobby-absences.ts';
import { Keys } from '../runtime/keys.ts';
import { createLogger } from '../runtime/log.ts';
import { Producer } from '../runtime/producer.ts';
import { dropKeys, freshPrefix, REDIS_URL } from './support/env.ts';

describe('lobby absences', () => {
  const GRACE_MS = 20_000;
  const DAY_MS = 86_400_000;
  let prefix: string;
  let redis: Redis;
  let absences: LobbyAbsences;
  const live = new Set(['n1']);
  const isLive = async (node: string) => live.has(node);
  const absent = () => redis.zrange(`${prefix}:app:{lobby}:absences`, '0', '-1');
  const notes = () => redis.hgetall(`${prefix}:app:{lobby}:presences`);

  beforeEach(() => {
    prefix = freshPrefix('absences');
    redis = new Redis(REDIS_URL);
    const keys = new Keys(prefix);
    absences = new LobbyAbsences(redis, keys, new Producer(redis, keys, 4), createLogger({}, 'silent'), GRACE_MS);
  });
  afterEach(async () => {
    redis.disconnect();
    await dropKeys(prefix);
  });

  it('marks a player whose connection closed absent, unless a newer connection of it entered the lobby since', async () => {
    const now = Date.now();
    await absences.entered('g1', 'u1', 'n1', now - 1000);
    await absences.away('g1', 'u1', 'n1', now - 1000, true);
    expect(await absent()).to.deep.equal(['g1 u1']);
    expect(await notes()).to.deep.equal({});
    // back on n2, then the old connection on n1 is seen to close: the seat stays, and so does n2's note
    await absences.entered('g1', 'u1', 'n2', now);
    await absences.away('g1', 'u1', 'n1', now - 1000, true);
    expect(await absent()).to.deep.equal([]);
    expect(await notes()).to.deep.equal({ 'g1 u1': `n2 ${now}` });
    // a connection closing in a game that started takes only its note
    await absences.away('g1', 'u1', 'n2', now, false);
    expect(await absent()).to.deep.equal([]);
    expect(await notes()).to.deep.equal({});
  });

  it('marks the lobby players of a dead node absent, and drops notes a day old unmarked, whatever the node', async () => {
    const now = Date.now();
    await absences.entered('g1', 'alive', 'n1', now);
    await absences.entered('g1', 'stale-alive', 'n1', now - DAY_MS - 1000);
    await absences.entered('g2', 'dead', 'n9', now);
    await absences.entered('g2', 'stale-dead', 'n9', now - DAY_MS - 1000);
    expect(await absences.departed(isLive, now)).to.equal(1);
    expect(await absent()).to.deep.equal(['g2 dead']);
    expect(Number(await redis.zscore(`${prefix}:app:{lobby}:absences`, 'g2 dead'))).to.equal(now + GRACE_MS);
    expect(await notes()).to.deep.equal({ 'g1 alive': `n1 ${now}` });
  });
});
