// The fan-out on a real runtime (in this process, real Redis, Postgres and worker threads): a client that falls
// behind gets no backlog, then a fresh snapshot once it drains, and the ticks that follow apply to it exactly.
import { expect } from 'chai';
import { Fanout, type Subscriber } from '../actors/snaketron/fanout.ts';
import { GAME_ACTOR, type CreateGame } from '../actors/snaketron/game-actor.ts';
import type { ServerMessage } from '../protocol/messages.ts';
import { defaultSettings } from '../protocol/settings.ts';
import { createLogger } from '../runtime/log.ts';
import { Runtime } from '../runtime/runtime.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, waitFor } from './support/env.ts';
import { ClientReplica } from './support/replica.ts';

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** A client whose socket can be made to look full, as uWS reports it for a client that stopped reading. */
class SlowClient implements Subscriber {
  readonly id = 4242;
  readonly got: ServerMessage[] = [];
  full = false;
  send(message: ServerMessage): boolean {
    if (this.full) return false;
    this.got.push(message);
    return true;
  }
  refused(): void {
    throw new Error('this client joins nothing');
  }
  all<T extends ServerMessage['type']>(type: T): Array<Of<T>> {
    return this.got.filter((m): m is Of<T> => m.type === type);
  }
}

describe('fan-out to a client that falls behind', function () {
  this.timeout(60_000);

  it('sends a fresh snapshot instead of the backlog once the client drains', async () => {
    const db = await freshDatabase('fanout');
    const prefix = freshPrefix('fanout');
    const log = createLogger({ spec: 'fanout' }, 'silent');
    const runtime = await Runtime.start({
      redisUrl: REDIS_URL, databaseUrl: db.url, prefix, partitions: 2, workers: 1, logger: log,
      actorModules: [new URL('../actors/snaketron/game-actor.ts', import.meta.url).href],
    });
    const fanout = new Fanout(runtime, log);
    fanout.start();
    try {
      await waitFor('the runtime to settle', () => runtime.isSettled());
      const init: CreateGame = {
        settings: { ...defaultSettings('solo'), width: 200, tickMs: 50 }, seed: 7,
        players: [{ userId: 'u1', name: 'slow' }], countdownMs: 100,
      };
      const createdId = await runtime.create(GAME_ACTOR, 'g-slow', init);
      const client = new SlowClient();
      await fanout.watch('g-slow', client, 'player', 'u1', { createdId });
      const first = await waitFor('the first snapshot', () => client.all('snapshot')[0]);
      await waitFor('a few ticks', () => client.all('tick').length >= 5);
      const replica = new ClientReplica(first);
      for (const tick of client.all('tick')) replica.apply(tick);
      // the socket fills up: ticks are not queued for it
      client.full = true;
      const heldAt = replica.game.tick;
      await waitFor('the game to move on meanwhile', async () => ((await fanout.replica('g-slow'))?.game?.tick ?? 0) > heldAt + 10);
      client.full = false;
      const before = client.got.length;
      fanout.resync('g-slow', client);
      const fresh = client.got[before];
      expect(fresh.type).to.equal('snapshot');
      const snapshot = fresh as Of<'snapshot'>;
      expect(snapshot.state.tick).to.be.greaterThan(heldAt + 10);
      expect(snapshot.startAt).to.equal(null);
      // nothing of the missed stretch was sent; the ticks after the snapshot apply to it exactly
      expect(client.all('tick').filter((t) => t.t > heldAt && t.t <= snapshot.state.tick)).to.have.length(0);
      const resumed = new ClientReplica(snapshot);
      await waitFor('ticks after the snapshot', () => client.all('tick').filter((t) => t.t > snapshot.state.tick).length >= 5);
      for (const tick of client.all('tick').filter((t) => t.t > snapshot.state.tick)) resumed.apply(tick);
      expect(fanout.counters.resyncs).to.equal(1);
    } finally {
      await fanout.stop();
      await runtime.stop(false);
      await db.drop();
      await dropKeys(prefix);
    }
  });
});
