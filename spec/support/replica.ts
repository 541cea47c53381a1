// What a client does with a game's messages: builds the game from a snapshot and steps it with each tick's
// turns, checking every hash, as PROTOCOL.md says a client can.
import { expect } from 'chai';
import { Game, type GameSnapshot } from '../../protocol/engine.ts';
import type { ServerMessage } from '../../protocol/messages.ts';

type Snapshot = Extract<ServerMessage, { type: 'snapshot' }>;
type Tick = Extract<ServerMessage, { type: 'tick' }>;

export class ClientReplica {
  readonly game: Game;
  readonly ticks: number[] = [];

  constructor(snapshot: Snapshot) {
    this.game = Game.fromSnapshot(snapshot.state as unknown as GameSnapshot);
  }

  /** Applies one tick message; it must be the next tick and reach the same hash. */
  apply(tick: Tick): void {
    expect(tick.t, 'ticks come in order with no gap').to.equal(this.game.tick + 1);
    for (const [snakeId, dir] of tick.turns) this.game.queueTurn(snakeId, dir, tick.t);
    this.game.step();
    expect(this.game.hash(), `hash at tick ${tick.t}`).to.equal(tick.hash);
    this.ticks.push(tick.t);
  }
}
