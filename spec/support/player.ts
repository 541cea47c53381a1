// A player for cluster-level specs: follows every snapshot and tick with its own copy of the game (each tick's
// hash checked), steers so its snake lives long, records its acked turns, and reconnects elsewhere and rejoins
// when its node dies.
import { expect } from 'chai';
import { DIR_NAMES, type Dir } from '../../protocol/engine.ts';
import type { ServerMessage, TurnDirection } from '../../protocol/messages.ts';
import type { SnakeNode, SpecCluster } from './cluster.ts';
import { SpecClient } from './client.ts';
import { sleep, waitFor } from './env.ts';
import { ClientReplica } from './replica.ts';

type Snapshot = Extract<ServerMessage, { type: 'snapshot' }>;

export class SpecPlayer {
  client!: SpecClient;
  token = '';
  userId = '';
  replica: ClientReplica | null = null;
  /** ticks seen, over all connections; a reconnect's snapshot may skip ahead, never back */
  readonly seen: number[] = [];
  readonly acked: Array<{ t: number; dir: Dir }> = [];
  over: Extract<ServerMessage, { type: 'over' }> | null = null;
  gameId = '';
  snakeId = -1;
  private seq = 0;
  private lastTurnTick = 0;
  private steering: NodeJS.Timeout | null = null;
  /** the connection whose messages are being followed (the one before a reconnect may still be winding down) */
  private pumped: SpecClient | null = null;

  constructor(readonly name: string) {}

  async connect(node: Pick<SnakeNode, 'ws'>): Promise<void> {
    this.client = await SpecClient.connect(node.ws, this.name);
    const welcome = await this.client.hello(this.token ? undefined : this.name, this.token || undefined);
    this.token = welcome.token;
    this.userId = welcome.userId;
    void this.pump();
  }

  /** Follows snapshots and ticks as they come, checking each tick against the replica. */
  private async pump(): Promise<void> {
    const client = this.client;
    if (this.pumped === client) return;
    this.pumped = client;
    let i = 0;
    while (client === this.client && !client.closed) {
      while (i < client.received.length) {
        const m = client.received[i++];
        if (m.type === 'snapshot') {
          expect(m.state.tick, `${this.name}: a snapshot never goes back`).to.be.at.least(this.seen.at(-1) ?? 0);
          this.replica = new ClientReplica(m as Snapshot);
          this.gameId = m.gameId;
          this.snakeId = m.snakeId ?? -1;
        } else if (m.type === 'tick' && this.replica) {
          this.replica.apply(m);
          this.seen.push(m.t);
        } else if (m.type === 'over') {
          this.over = m;
        }
      }
      await sleep(5);
    }
  }

  /** Where the player stands, for a spec's failure message. */
  describe(): string {
    const game = this.replica?.game;
    const snake = game && this.snakeId >= 0 ? `snake ${this.snakeId} ${game.isAlive(this.snakeId) ? 'alive' : 'dead'}` : 'no snake';
    return `${this.name} on ${this.client.ws.url} (${this.client.closed ? 'closed' : 'open'}): tick ${this.tick}, ` +
      `${snake}, status ${game?.status ?? 'none'}, over ${this.over ? `at ${this.over.t}` : 'no'}, ${this.acked.length} turns acked`;
  }

  get tick(): number {
    return this.replica?.game.tick ?? 0;
  }

  /** The hash of the player's copy of the game: after the last tick, the hash that tick carried. */
  get lastHash(): number {
    return this.replica?.game.hash() ?? 0;
  }

  turn(dir: TurnDirection, t?: number): number {
    const seq = ++this.seq;
    this.client.send({ type: 'turn', dir, seq, ...(t === undefined ? {} : { t }) });
    return seq;
  }

  /**
   * A turn for two ticks ahead at most every `everyTicks` ticks, alternating between `toward`, so the snake climbs
   * a staircase and lives long; acked turns are recorded.
   */
  steer(toward: [TurnDirection, TurnDirection], everyTicks = 1): void {
    this.steering = setInterval(() => {
      const game = this.replica?.game;
      if (!game || this.client.closed || game.status !== 'running' || !game.isAlive(this.snakeId)) return;
      const t = this.tick + 2;
      if (t < this.lastTurnTick + everyTicks) return; // one turn per tick at most, so each acked turn is told apart
      this.lastTurnTick = t;
      const dir = toward[this.seq % 2];
      const seq = this.turn(dir, t);
      void this.client.next('ack', (a) => a.seq === seq, 5000)
        .then((ack) => { this.acked.push({ t: ack.t, dir: DIR_NAMES.indexOf(dir) as Dir }); })
        .catch(() => { /* not acked: the connection went away with it */ });
    }, 60);
  }

  stop(): void {
    if (this.steering) clearInterval(this.steering);
    this.steering = null;
  }

  async rejoin(node: SnakeNode): Promise<void> {
    await this.connect(node);
    this.client.send({ type: 'rejoin', gameId: this.gameId });
    await this.client.next('snapshot');
  }
}

/**
 * Two players in a long duel (a private game on a 100×100 board at 50 ms unless `board` says otherwise), each
 * connected to the node given.
 */
export async function privateDuel(nodeA: Pick<SnakeNode, 'ws'>, nodeB: Pick<SnakeNode, 'ws'>, board = { size: 100, tickMs: 50 }): Promise<[SpecPlayer, SpecPlayer]> {
  const a = new SpecPlayer('alpha');
  const b = new SpecPlayer('bravo');
  await a.connect(nodeA);
  await b.connect(nodeB);
  a.client.send({ type: 'create', settings: { players: 2, width: board.size, height: board.size, tickMs: board.tickMs } });
  const lobby = await a.client.next('lobby');
  b.client.send({ type: 'join', code: lobby.code });
  await a.client.next('lobby', (l) => l.players.length === 2);
  a.client.send({ type: 'start' });
  await waitFor('both players to have the game', () => a.replica && b.replica);
  return [a, b];
}

/** Staircases that keep both snakes of a duel alive: snake 0 climbs up-right, snake 1 down-left. */
export function staircase(player: SpecPlayer): [TurnDirection, TurnDirection] {
  return player.snakeId === 0 ? ['up', 'right'] : ['down', 'left'];
}

/**
 * SIGKILLs the node that owns the players' game once it has run 20 ticks; players connected to it reconnect to
 * a survivor and rejoin; returns once the game has gone on for 10 more ticks. Returns the survivor used.
 */
export async function killOwnerMidGame(cluster: SpecCluster, players: SpecPlayer[]): Promise<SnakeNode> {
  const owner = (await cluster.ownerOf(players[0].gameId))!;
  expect(owner, 'the owner node').to.not.equal(undefined);
  const survivor = cluster.live().find((n) => n !== owner)!;
  await waitFor('the game to run a while', () => players.every((p) => p.tick >= 20));
  owner.kill('SIGKILL');
  for (const p of players) {
    if (p.client.ws.url.includes(`:${owner.port}/`)) {
      await p.client.whenClosed;
      await p.rejoin(survivor);
    }
  }
  const resumedAt = Math.max(...players.map((p) => p.tick));
  await waitFor('ticks to go on after the failover', async () => {
    if (players.every((p) => p.tick > resumedAt + 10)) return true;
    // not yet: what each player sees and who owns the game, for the message should this time out
    const owner = await survivor.get(`/api/games/${players[0].gameId}`).then((r) => r.body).catch((e: Error) => e.message);
    throw new Error(`resumed at ${resumedAt}; ${players.map((p) => p.describe()).join('; ')}; the game: ${owner}`);
  }, 30_000, 100);
  return survivor;
}
