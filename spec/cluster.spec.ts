// A cluster of SnakeTron nodes as real processes: players on different nodes, reconnects to another node, a
// node SIGKILLed under a running game, a node joining and leaving with SIGTERM. Recovery is judged by the
// journal (every tick once, every acked turn once, hashes equal an engine run and bin/snaketron-sim) and by
// what the clients saw (every tick's hash).
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DIR_NAMES } from '../protocol/engine.ts';
import { Keys } from '../runtime/keys.ts';
import type { Takeover } from '../runtime/supervisor.ts';
import type { CreateGame, GameInput } from '../actors/snaketron/game-actor.ts';
import { SpecCluster } from './support/cluster.ts';
import { SpecClient } from './support/client.ts';
import { REDIS_URL, waitFor } from './support/env.ts';
import { JournalCollector, verifyGame } from './support/journal.ts';
import { killOwnerMidGame, privateDuel, staircase } from './support/player.ts';
import { ClientReplica } from './support/replica.ts';

const SIM = fileURLToPath(new URL('../bin/snaketron-sim', import.meta.url));
const PARTITIONS = 8;
/** how long a player whose connection closed keeps its lobby seat */
const LOBBY_GRACE_MS = 2000;

/** The turns the journal applied, by tick, as a GAME.md scenario, run through bin/snaketron-sim. */
function simulate(records: ReturnType<JournalCollector['records']['get']> & object): { hash: number; tick: number } {
  const create = records[0].c!.b as CreateGame;
  const turns: Array<[number, number, string]> = [];
  let tick = 0;
  let seats = create.players.length;
  for (const r of records) {
    for (const input of r.i ?? []) {
      const b = input.b as GameInput;
      if (b.k === 'join' && tick === 0) seats++;
      if (b.k === 'turn') turns.push([Math.max(b.t, tick + 1), b.snakeId, DIR_NAMES[b.dir]]);
    }
    if (r.t !== undefined) tick = r.t;
  }
  turns.sort((a, b) => a[0] - b[0]);
  const scenario = { settings: { ...create.settings, players: seats }, seed: create.seed, players: seats, turns, maxTicks: tick };
  const out = JSON.parse(execFileSync(SIM, [], { input: JSON.stringify(scenario) }).toString()) as { hash: number; tick: number };
  return out;
}

describe('a SnakeTron cluster', function () {
  this.timeout(120_000);
  let cluster: SpecCluster;
  let collector: JournalCollector;

  beforeEach(async function () {
    cluster = await SpecCluster.create('cluster', { partitions: PARTITIONS, lobbyGraceMs: LOBBY_GRACE_MS });
    collector = new JournalCollector(REDIS_URL, new Keys(cluster.prefix), PARTITIONS);
    await collector.start();
  });
  afterEach(async () => {
    await collector.stop();
    await cluster.stop();
  });

  it('matches two players on different nodes into one game; both see every tick; a reconnect elsewhere rejoins exactly', async () => {
    const [n1, n2] = [await cluster.start(), await cluster.start()];
    await cluster.settled();
    const c1 = await SpecClient.connect(n1.ws, 'one');
    const c2 = await SpecClient.connect(n2.ws, 'two');
    await c1.hello('one');
    const w2 = await c2.hello('two');
    c1.send({ type: 'queue', mode: 'duel' });
    await c1.next('queued');
    c2.send({ type: 'queue', mode: 'duel' });
    const [m1, m2] = await Promise.all([c1.next('match'), c2.next('match')]);
    expect(m1.gameId).to.equal(m2.gameId);
    const [s1, s2] = await Promise.all([c1.next('snapshot'), c2.next('snapshot')]);
    const r1 = new ClientReplica(s1);
    for (let t = 1; t <= 5; t++) r1.apply(await c1.next('tick'));
    // player two drops and comes back through the other node
    c2.close();
    const again = await SpecClient.connect(n1.ws, 'two-again');
    const w = await again.hello(undefined, w2.token);
    expect(w.userId).to.equal(w2.userId);
    expect(w.game).to.equal(m1.gameId);
    again.send({ type: 'rejoin', gameId: m1.gameId });
    const snap = await again.next('snapshot');
    expect(snap.snakeId).to.equal(s2.snakeId);
    const r2 = new ClientReplica(snap);
    const t0 = snap.state.tick;
    again.send({ type: 'turn', dir: s2.snakeId === 1 ? 'up' : 'down', seq: 1 });
    const ack = await again.next('ack');
    expect(ack.t).to.be.greaterThan(t0);
    // the exact snapshot continues with the ticks that follow, and the turn counts at its tick
    let turned = false;
    while (r2.game.tick < ack.t) {
      const tick = await again.next('tick');
      if (tick.t <= t0) continue;
      r2.apply(tick);
      if (tick.turns.some(([id]) => id === s2.snakeId)) turned = true;
    }
    expect(turned).to.equal(true);
    const over = await c1.next('over', () => true, 30_000);
    for (const tick of c1.all('tick').slice(5)) r1.apply(tick);
    expect(r1.game.tick).to.equal(over.t);
    c1.close();
    again.close();
  });

  it('keeps a duel going when the node that owns it is SIGKILLed: no tick lost or doubled, every acked turn once', async () => {
    const nodes = [await cluster.start(), await cluster.start(), await cluster.start()];
    await cluster.settled();
    const [a, b] = await privateDuel(nodes[0], nodes[1]);
    a.steer(staircase(a));
    b.steer(staircase(b));
    // players whose node died reconnect to a live one and rejoin
    const owner = (await cluster.ownerOf(a.gameId))!;
    const stayed = [a, b].filter((p) => !p.client.ws.url.includes(`:${owner.port}/`));
    await killOwnerMidGame(cluster, [a, b]);
    a.stop();
    b.stop();
    await waitFor('the game to end', () => collector.isOver(a.gameId), 60_000);
    const records = collector.records.get(a.gameId)!;
    const { ticks, hashes } = verifyGame(records, []);
    // every acked turn was applied exactly once (turns are unique per snake and tick here)
    const applied = records.flatMap((r) => (r.i ?? []).map((i) => i.b as GameInput))
      .filter((x): x is Extract<GameInput, { k: 'turn' }> => x.k === 'turn');
    for (const [player, snakeId] of [[a, a.snakeId], [b, b.snakeId]] as const) {
      expect(player.acked.length, `${player.name} had turns acked`).to.be.greaterThan(3);
      for (const turn of player.acked) {
        const matches = applied.filter((x) => x.snakeId === snakeId && x.t === turn.t && x.dir === turn.dir);
        expect(matches, `${player.name}'s turn for tick ${turn.t}`).to.have.length(1);
      }
    }
    // the final state equals bin/snaketron-sim over the recorded turns
    const sim = simulate(records);
    expect(sim.tick).to.equal(ticks);
    expect(sim.hash).to.equal(hashes.at(-1));
    // what the clients saw agrees: their ticks only go forward and every one matched its hash
    for (const p of [a, b]) {
      for (let i = 1; i < p.seen.length; i++) expect(p.seen[i]).to.be.greaterThan(p.seen[i - 1]);
    }
    // a player whose own node lived was told while the game's clock stood still, between two consecutive ticks
    expect(stayed, 'a player connected to a survivor throughout').to.not.be.empty;
    for (const p of stayed) {
      const told = p.client.received.filter((m) => m.type === 'tick' || m.type === 'status')
        .map((m) => (m.type === 'tick' ? m.t : m.status));
      const at = told.indexOf('recovering');
      expect(at, `${p.name} was told the game is recovering: ${told.join(' ')}`).to.be.greaterThan(0);
      expect(told[at + 1], `${p.name}: then running, before any tick`).to.equal('running');
      expect(told[at + 2], `${p.name}: and the clock went on where it stopped`).to.equal((told[at - 1] as number) + 1);
    }
  });

  it('moves partitions to a joining node without stopping games, and back when it leaves with SIGTERM', async () => {
    const first = [await cluster.start(), await cluster.start(), await cluster.start()];
    await cluster.settled();
    // the largest board at 100 ms: the staircases outlive a node joining and leaving on a loaded machine
    const [a, b] = await privateDuel(first[0], first[1], { size: 200, tickMs: 100 });
    a.steer(staircase(a));
    b.steer(staircase(b));
    await waitFor('the game to run', () => a.tick >= 10);
    const joinedAtTick = a.tick;
    const fourth = await cluster.start();
    await cluster.settled();
    const view = (await fourth.get('/api/cluster')).json<{ partitions: Array<{ owner: string }> }>();
    const owned = view.partitions.filter((p) => p.owner === fourth.nodeId).length;
    expect(owned).to.equal(PARTITIONS / 4);
    // a watcher on the fourth node: told when it leaves, and able to come back through another node
    const watcher = await SpecClient.connect(fourth.ws, 'watcher');
    const ww = await watcher.hello('watcher');
    void ww;
    watcher.send({ type: 'watch', gameId: a.gameId });
    await watcher.next('snapshot');
    const leftAtTick = a.tick;
    await fourth.stop();
    const err = await watcher.next('error', (e) => e.code === 'unavailable');
    expect(err.message).to.match(/stopping/);
    expect((await watcher.whenClosed).code).to.equal(1001);
    await waitFor('the first nodes to own every partition again', async () => {
      const after = (await first[0].get('/api/cluster')).json<{ partitions: Array<{ owner: string }> }>();
      return after.partitions.every((p) => first.some((n) => n.nodeId === p.owner));
    });
    // any node lists the cluster's takeovers: the fourth took its share from the first nodes, which took it back
    const takeovers = await waitFor('the takeovers back from the fourth node', async () => {
      const list = (await first[1].get('/api/cluster')).json<{ takeovers: Takeover[] }>().takeovers;
      return list.filter((t) => t.from === fourth.nodeId).length === PARTITIONS / 4 ? list : null;
    });
    for (const t of takeovers.filter((t) => t.from === fourth.nodeId)) {
      expect(t).to.include({ reason: 'handed over' });
      expect(first.map((n) => n.nodeId)).to.include(t.node);
    }
    const toFourth = takeovers.filter((t) => t.node === fourth.nodeId);
    expect(toFourth).to.have.length(PARTITIONS / 4);
    for (const t of toFourth) expect(t.reason).to.equal('handed over');
    const back = await SpecClient.connect(first[2].ws, 'watcher-again');
    await back.hello('watcher');
    back.send({ type: 'watch', gameId: a.gameId });
    const snap = await back.next('snapshot');
    // a game still running sends its next tick; one that ended meanwhile (on a loaded machine the hand-offs can
    // outlast the staircases) its result, after the snapshot of its last tick
    if (snap.state.status === 'running') new ClientReplica(snap).apply(await back.next('tick', (t) => t.t === snap.state.tick + 1));
    else expect((await back.next('over')).t).to.equal(snap.state.tick);
    a.stop();
    b.stop();
    // the journal has every tick once up to a tick both players reached after the hand-offs, and the players, whose
    // nodes stayed, saw every one of them in order: the game went on through both hand-offs (how long a hand-off
    // pauses a game is measured by make bench, not here; waiting for the snakes to reach a wall took 20 s)
    const upTo = await waitFor('both players past the hand-offs', () => {
      const reached = Math.min(a.tick, b.tick);
      return reached > leftAtTick + 5 || (a.over && b.over) ? reached : null;
    });
    const last = await waitFor('the journal to hold that tick', () => collector.records.get(a.gameId)!.find((r) => r.t === upTo));
    const { ticks } = verifyGame(collector.records.get(a.gameId)!.filter((r) => r.n <= last.n), []);
    expect(ticks).to.equal(upTo);
    expect(ticks, 'the game went on after the fourth node left').to.be.greaterThan(leftAtTick);
    for (const p of [a, b]) {
      const first = p.seen[0];
      expect(p.seen.filter((t) => t <= upTo), `${p.name}'s ticks`).to.deep.equal(Array.from({ length: upTo - first + 1 }, (_, i) => first + i));
    }
    back.close();
  });

  it('takes the players queued on a SIGKILLed node out of the queues: nobody is matched with them, and they queue again elsewhere', async () => {
    const [n1, n2] = [await cluster.start(), await cluster.start()];
    await cluster.settled();
    const stranded = await SpecClient.connect(n1.ws, 'stranded');
    const welcome = await stranded.hello('stranded');
    stranded.send({ type: 'queue', mode: 'duel' });
    await stranded.next('queued');
    const ghost = await SpecClient.connect(n1.ws, 'ghost');
    await ghost.hello('ghost');
    ghost.send({ type: 'queue', mode: 'ffa', size: 3 });
    await ghost.next('queued');
    n1.kill('SIGKILL');
    await waitFor('n2 to see n1 dead', async () => (await n2.get('/api/cluster')).json<{ nodes: unknown[] }>().nodes.length === 1, 30_000, 100);
    // the operator reads on /api/cluster whose partitions n2 took, and why, and in n2's log which node died
    // (n1 handed n2 half of them when n2 joined; n2 took the rest when n1 died)
    const taken = await waitFor('n2 to list its takeovers from the dead n1', async () => {
      const list = (await n2.get('/api/cluster')).json<{ takeovers: Takeover[] }>().takeovers.filter((t) => t.from === n1.nodeId && t.reason === 'holder died');
      return list.length === PARTITIONS / 2 ? list : null;
    });
    for (const t of taken) expect(t.node).to.equal(n2.nodeId);
    const death = await waitFor('the death in n2\'s log', () => n2.output.split('\n').find((l) => l.includes(`node ${n1.nodeId} missed its heartbeats`)));
    expect(JSON.parse(death)).to.include({ level: 'warn', dead: n1.nodeId });
    // the stranded player reconnects to n2 and queues again: the dead node's ticket does not hold it
    const back = await SpecClient.connect(n2.ws, 'back');
    await back.hello(undefined, welcome.token);
    back.send({ type: 'queue', mode: 'duel' });
    await back.next('queued');
    // the ghost, who never came back, is taken out of its queue: only `back` waits
    await waitFor('the dead node\'s tickets to go', async () =>
      /^snaketron_queued_players(?:\{[^}]*\})? 1$/m.test((await n2.get('/metrics')).body), 30_000, 200);
    const alone = await SpecClient.connect(n2.ws, 'alone');
    await alone.hello('alone');
    alone.send({ type: 'queue', mode: 'duel' });
    const [mb, ma] = await Promise.all([back.next('match'), alone.next('match')]);
    expect(mb.gameId).to.equal(ma.gameId);
    expect(ma.players.map((p) => p.name).sort()).to.deep.equal(['alone', 'stranded']);
    for (const c of [stranded, ghost, alone, back]) c.close();
  });

  it('keeps the lobby seat of a player back on another node before its old connection was seen to close', async () => {
    const [n1, n2] = [await cluster.start(), await cluster.start()];
    await cluster.settled();
    const host = await SpecClient.connect(n1.ws, 'moving-host');
    const welcome = await host.hello('movinghost');
    host.send({ type: 'create', settings: { players: 2 } });
    const lobby = await host.next('lobby');
    const guest = await SpecClient.connect(n2.ws, 'moving-guest');
    await guest.hello('movingguest');
    guest.send({ type: 'join', code: lobby.code });
    await guest.next('lobby', (l) => l.players.length === 2);
    // the host's network moved it to n2 while n1 still held its old connection; n1 sees that close only now
    const moved = await SpecClient.connect(n2.ws, 'moved-host');
    expect((await moved.hello(undefined, welcome.token)).game).to.equal(lobby.gameId);
    moved.send({ type: 'rejoin', gameId: lobby.gameId });
    await moved.next('lobby');
    host.close();
    await new Promise((resolve) => setTimeout(resolve, LOBBY_GRACE_MS * 2.5));
    expect(guest.all('lobby').filter((l) => l.players.length < 2)).to.have.length(0);
    moved.send({ type: 'start' });
    expect((await guest.next('snapshot')).state.snakes.map((s) => s.name)).to.deep.equal(['movinghost', 'movingguest']);
    // while a player that closed and never came back is taken out, whichever node it was on
    const loner = await SpecClient.connect(n1.ws, 'loner');
    await loner.hello('loner');
    loner.send({ type: 'create', settings: { players: 2 } });
    const second = await loner.next('lobby');
    const joiner = await SpecClient.connect(n2.ws, 'joiner');
    const joinerId = (await joiner.hello('joiner')).userId;
    joiner.send({ type: 'join', code: second.code });
    await joiner.next('lobby', (l) => l.players.length === 2);
    loner.close();
    expect((await joiner.next('lobby', (l) => l.players.length === 1, 4 * LOBBY_GRACE_MS)).host).to.equal(joinerId);
    for (const c of [guest, moved, joiner]) c.close();
  });

  it('takes a SIGKILLed node\'s lobby players out of their lobbies unless they come back elsewhere within the grace period', async () => {
    const [n1, n2] = [await cluster.start(), await cluster.start()];
    await cluster.settled();
    const lobbyOn = async (host: SpecClient, guestName: string) => {
      host.send({ type: 'create', settings: { players: 2 } });
      const lobby = await host.next('lobby');
      const guest = await SpecClient.connect(n2.ws, guestName);
      const { userId } = await guest.hello(guestName);
      guest.send({ type: 'join', code: lobby.code });
      await guest.next('lobby', (l) => l.players.length === 2);
      return { lobby, guest, userId };
    };
    const lost = await SpecClient.connect(n1.ws, 'lost-host');
    await lost.hello('losthost');
    const a = await lobbyOn(lost, 'guest-a');
    const moving = await SpecClient.connect(n1.ws, 'moving-host');
    const movingWelcome = await moving.hello('movinghost');
    const b = await lobbyOn(moving, 'guest-b');
    n1.kill('SIGKILL');
    // one host comes back on n2 at once (its page reconnects); the other never does
    const back = await SpecClient.connect(n2.ws, 'moving-host-back');
    expect((await back.hello(undefined, movingWelcome.token)).game).to.equal(b.lobby.gameId);
    back.send({ type: 'rejoin', gameId: b.lobby.gameId });
    await back.next('lobby', () => true, 20_000);
    const handed = await a.guest.next('lobby', (l) => l.players.length === 1, 30_000);
    expect(handed).to.deep.include({ gameId: a.lobby.gameId, host: a.userId });
    await new Promise((resolve) => setTimeout(resolve, 5_000 + 2 * LOBBY_GRACE_MS));
    expect(b.guest.all('lobby').filter((l) => l.players.length < 2)).to.have.length(0);
    back.send({ type: 'start' });
    expect((await b.guest.next('snapshot')).state.snakes.map((s) => s.name)).to.deep.equal(['movinghost', 'guest-b']);
    for (const c of [a.guest, b.guest, back]) c.close();
  });

  it('tells a matched player of its match when the notification from the node that made it is lost', async () => {
    const [n1, n2] = [await cluster.start(), await cluster.start()];
    await cluster.settled();
    const redis = new Redis(REDIS_URL);
    try {
      // The loss is made by cutting the nodes' pub/sub connections while the match is made; on a busy machine a
      // notification may still slip through between two cuts. Each try is a match both players must be told of;
      // one at least must have been told from its claim.
      for (let attempt = 1; ; attempt++) {
        const a = await SpecClient.connect(n1.ws, `lost-a${attempt}`);
        await a.hello(`losta${attempt}`);
        const b = await SpecClient.connect(n2.ws, `lost-b${attempt}`);
        await b.hello(`lostb${attempt}`);
        a.send({ type: 'queue', mode: 'duel' });
        await a.next('queued');
        // whichever node makes the match, the notification to the other player's node is lost (Redis pub/sub
        // delivers at most once)
        let cutting = true;
        const cuts = (async () => {
          while (cutting) {
            await redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        try {
          b.send({ type: 'queue', mode: 'duel' });
          await b.next('queued');
          await new Promise((r) => setTimeout(r, 600));
        } finally {
          cutting = false;
          await cuts;
        }
        const [ma, mb] = await Promise.all([a.next('match'), b.next('match')]);
        expect(ma.gameId).to.equal(mb.gameId);
        const [sa, sb] = await Promise.all([a.next('snapshot'), b.next('snapshot')]);
        expect(sa.gameId).to.equal(ma.gameId);
        expect([sa.snakeId, sb.snakeId].sort()).to.deep.equal([0, 1]);
        await Promise.all([a.next('tick'), b.next('tick')]);
        a.close();
        b.close();
        const told = (n1.output + n2.output).split('\n').some((l) => l.includes(ma.gameId) && l.includes('a match notification was lost'));
        if (told) break;
        if (attempt === 3) expect.fail('in 3 tries every match was told by its notification: the claim never told a player');
      }
    } finally {
      redis.disconnect();
    }
  });

  it('answers a turn its node judged on a stale copy of an ended game with bad_state, never an ack (the node was paused meanwhile)', async () => {
    const [front] = [await cluster.start(), await cluster.start()];
    await cluster.settled();
    const client = await SpecClient.connect(front.ws, 'stale');
    await client.hello('stale');
    // a solo game owned by the other node, whose snake runs into the wall a few ticks after its start
    let snapshot: Awaited<ReturnType<typeof client.next<'snapshot'>>>;
    for (;;) {
      client.send({ type: 'solo', settings: { width: 10, height: 10, startLength: 2, tickMs: 50 } });
      snapshot = await client.next('snapshot');
      if ((await cluster.ownerOf(snapshot.gameId)) !== front) break;
      client.send({ type: 'leave' });
      await client.next('left');
    }
    process.kill(front.child.pid!, 'SIGSTOP');
    try {
      await waitFor('the game to end on its owner', () => collector.records.get(snapshot.gameId)?.some((r) => r.t !== undefined
        && ((r.o ?? []) as Array<{ e: string; over?: unknown }>).some((o) => o.e === 'tick' && o.over)), 10_000, 20);
      client.send({ type: 'turn', dir: 'up', seq: 1, rid: 7 });
    } finally {
      process.kill(front.child.pid!, 'SIGCONT');
    }
    const answer = await waitFor('the turn to be answered', () => client.received.find((m) => 'rid' in m && m.rid === 7));
    expect(answer).to.include({ type: 'error', code: 'bad_state' });
    expect(client.all('ack')).to.deep.equal([]);
    await client.next('over');
    client.close();
  });
});
