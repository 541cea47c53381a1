// A session's state machine on its own: against a client whose socket buffer is full (PROTOCOL.md: a client that
// falls behind is sent a fresh snapshot instead of the backlog), its own replies still go out and the end of its game
// is not lost; a leave the game refuses as over is still answered with left. The transport is a recording one whose
// buffer can be made full; the node's other parts are stood in for by what each spec needs of them.
import { expect } from 'chai';
import { decodeServerMessage, encodeClientMessage, type ServerMessage } from '../protocol/messages.ts';
import { Session, type SessionContext, type Transport } from '../actors/snaketron/sessions.ts';
import { ActorFinishedError } from '../runtime/producer.ts';
import { waitFor } from './support/env.ts';

class RecordingTransport implements Transport {
  full = false;
  readonly sent: ServerMessage[] = [];

  send(bytes: Uint8Array, always?: boolean): boolean {
    if (this.full && !always) return false;
    const decoded = decodeServerMessage(bytes);
    if (!decoded.ok) throw new Error(`the session sent an undecodable message: ${decoded.error.message}`);
    this.sent.push(decoded.message);
    return true;
  }

  close(): void {}
}

describe('a session whose client fell behind', () => {
  function session(): { session: Session; transport: RecordingTransport; unwatched: string[] } {
    const unwatched: string[] = [];
    const ctx = { fanout: { unwatch: (gameId: string) => unwatched.push(gameId) } } as unknown as SessionContext;
    const transport = new RecordingTransport();
    return { session: new Session(ctx, transport), transport, unwatched };
  }

  it('still answers its own requests', () => {
    const { session: s, transport } = session();
    s.state = { kind: 'lobby' };
    transport.full = true;
    s.receive(encodeClientMessage({ type: 'ping', c: 7, rid: 3 }), true);
    expect(transport.sent).to.have.length(1);
    expect(transport.sent[0]).to.include({ type: 'pong', c: 7, rid: 3 });
  });

  it('stays in a game whose over it was refused, and leaves it when the over goes out after it caught up', () => {
    const { session: s, transport, unwatched } = session();
    s.state = { kind: 'game', gameId: 'g1', role: 'player' };
    const over: ServerMessage = { type: 'over', gameId: 'g1', t: 12, winner: null, winningTeam: null, results: [] };
    transport.full = true;
    expect(s.send(over)).to.equal(false);
    expect(s.state).to.deep.equal({ kind: 'game', gameId: 'g1', role: 'player' });
    expect(unwatched).to.deep.equal([]);
    expect(s.messagesOut).to.equal(0);
    transport.full = false;
    expect(s.send(over)).to.equal(true);
    expect(s.state).to.deep.equal({ kind: 'lobby' });
    expect(unwatched).to.deep.equal(['g1']);
    expect(transport.sent.map((m) => m.type)).to.deep.equal(['over']);
  });
});

describe('a session leaving a private lobby that closed meanwhile', () => {
  it('answers left when the game refuses the leave as over: this user\'s other connection left first and closed it', async () => {
    const unwatched: string[] = [];
    const ctx = {
      redisAvailable: () => true,
      // as the replica still had it when the leave came: a lobby (the other connection's leave not applied yet)
      fanout: {
        replica: async () => ({ phase: 'lobby' }),
        unwatch: (gameId: string) => unwatched.push(gameId),
        caughtUp: async () => undefined,
      },
      // by the time the leave is submitted, the close is stored: the game takes no more inputs
      producer: { submit: async (gameId: string) => { throw new ActorFinishedError(gameId); } },
    } as unknown as SessionContext;
    const transport = new RecordingTransport();
    const s = new Session(ctx, transport);
    s.user = { userId: 'u1', name: 'tabs' };
    s.state = { kind: 'game', gameId: 'g1', role: 'player' };
    s.receive(encodeClientMessage({ type: 'leave', rid: 4 }), true);
    await waitFor('the answer', () => transport.sent.length > 0, 2000, 1);
    expect(transport.sent).to.deep.equal([{ type: 'left', gameId: 'g1', rid: 4 }]);
    expect(s.state).to.deep.equal({ kind: 'lobby' });
    expect(unwatched).to.deep.equal(['g1']);
  });
});
