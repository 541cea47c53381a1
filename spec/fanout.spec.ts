// The fan-out on a real runtime (in this process, real Redis, Postgres and worker threads): a client that falls
// behind gets no backlog, then a fresh snapshot once it drains, and the ticks that follow apply to it exactly; a
// game that fails ends for its clients with an error and an over.
import { expect } from 'chai';
import { Fanout, isStalled, type Subscriber } from '../actors/snaketron/fanout.ts';
import { GAME_ACTOR, type CreateGame } from '../actors/snaketron/game-actor.ts';
import type { ServerMessage } from '../protocol/messages.ts';
import { defaultSettings } from '../protocol/settings.ts';
import { createLogger } from '../runtime/log.ts';
import { Runtime } from '../runtime/runtime.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, waitFor } from './support/env.ts';
import { ClientReplica } from './support/replica.ts';
import { faultyGameActor } from './fixtures/faulty-game.ts';

const FAULTY_GAME = new URL('./fixtures/faulty-game.ts', import.meta.url).href;

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** A client whose socket can be made to look full, as uWS reports it for a client that stopped reading. */
class SlowClient implements Subscriber {
  constructor(readonly id = 4242) {}
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
  unseated(): void {
    throw new Error('this client sits in no lobby');
  }
  all<T extends ServerMessage['type']>(type: T): Array<Of<T>> {
    return this.got.filter((m): m is Of<T> => m.type === type);
  }
}

describe('fan-out to a client that falls behind', function () {
  this.timeout(60_000);

  /** A runtime with the SnakeTron game (and its faulty twin) and a fan-out on it, for `run`; all stopped after. */
  async function withFanout(name: string, run: (runtime: Runtime, fanout: Fanout) => Promise<void>): Promise<void> {
    const db = await freshDatabase(name);
    const prefix = freshPrefix(name);
    const log = createLogger({ spec: name }, 'silent');
    const runtime = await Runtime.start({
      redisUrl: REDIS_URL, databaseUrl: db.url, prefix, partitions: 2, workers: 1, logger: log,
      actorModules: [FAULTY_GAME],
    });
    const fanout = new Fanout(runtime, log, faultyGameActor);
    fanout.start();
    try {
      await waitFor('the runtime to settle', () => runtime.isSettled());
      await run(runtime, fanout);
    } finally {
      await fanout.stop();
      await runtime.stop(false);
      await db.drop();
      await dropKeys(prefix);
    }
  }

  it('sends a fresh snapshot instead of the backlog once the client drains', () => withFanout('fanout', async (runtime, fanout) => {
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
  }));

  it('ends a game that fails for its clients: error internal, then an over, and nothing after; a late watcher gets the end too', () => withFanout('fanout-fail', async (runtime, fanout) => {
      const init: CreateGame = {
        settings: { ...defaultSettings('solo'), width: 200, tickMs: 50 }, seed: 9,
        players: [{ userId: 'u1', name: 'doomed' }], countdownMs: 100,
      };
      const createdId = await runtime.create('spec.faulty-game', 'g-doomed', init);
      const client = new SlowClient(1);
      await fanout.watch('g-doomed', client, 'player', 'u1', { createdId });
      await waitFor('a few ticks', () => client.all('tick').length >= 3);
      // a tick that throws each time: the runtime ends the game as failed after its third try
      const failAt = client.all('tick').at(-1)!.t + 10;
      await runtime.submit('g-doomed', { k: 'throw-at-tick', t: failAt, always: true });
      const over = await waitFor('the over', () => client.all('over')[0], 20_000);
      const types = client.got.map((m) => m.type);
      expect(types.slice(types.indexOf('error'))).to.deep.equal(['error', 'over']);
      expect(client.all('error')[0]).to.include({ code: 'internal' });
      expect(client.all('error')[0].message).to.equal(`game g-doomed failed and was ended: tick ${failAt} threw 3 times`);
      const lastTick = client.all('tick').at(-1)!.t;
      expect(lastTick).to.equal(failAt - 1);
      expect(over).to.deep.include({ gameId: 'g-doomed', t: lastTick, winner: null, winningTeam: null });
      expect(over.results).to.have.length(1);
      expect(over.results[0]).to.include({ userId: 'u1', snakeId: 0, alive: true, place: 1 });
      // a watcher coming later gets where the game stopped, and its end
      const late = new SlowClient(2);
      await fanout.watch('g-doomed', late, 'spectator', 'u2', {});
      await waitFor('the late watcher\'s over', () => late.all('over')[0]);
      expect(late.got.map((m) => m.type)).to.deep.equal(['snapshot', 'over']);
      expect(late.all('snapshot')[0].state.tick).to.equal(lastTick);
      expect(late.all('over')[0]).to.deep.equal(over);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(client.got.at(-1)).to.equal(over);
  }));

  it('counts a game as stalled once its ticks stop: a running one since its last record, one in its countdown since its first tick was due', () => {
    const settings = { ...defaultSettings('duel'), tickMs: 100 }; // stalled after 2 ticks and 250 ms: 450 ms
    const startAt = 10_000;
    const countdown = { phase: 'countdown' as const, startAt, settings };
    // its start record came 1.5 s before startAt: right after startAt, before tick 1 arrives, nothing has stopped
    expect(isStalled(countdown, startAt - 1500, startAt + 5)).to.equal(false);
    expect(isStalled(countdown, startAt - 1500, startAt + 450)).to.equal(false);
    expect(isStalled(countdown, startAt - 1500, startAt + 451)).to.equal(true);
    expect(isStalled(countdown, startAt - 1500, startAt - 100)).to.equal(false);
    const running = { phase: 'running' as const, startAt: null, settings };
    expect(isStalled(running, 20_000, 20_450)).to.equal(false);
    expect(isStalled(running, 20_000, 20_451)).to.equal(true);
    expect(isStalled({ phase: 'lobby', startAt: null, settings }, 0, 1e9)).to.equal(false);
  });
});
