// Private lobby codes: PROTOCOL.md's 8 characters of A–Z and 0–9, read aloud and typed by people.
import { expect } from 'chai';
import { newLobbyCode } from '../actors/snaketron/matchmaking.ts';

describe('lobby codes', () => {
  it('are 8 characters of A–Z and 0–9, never the look-alikes O, I, 0 and 1, every other character in use', () => {
    const codes = Array.from({ length: 2000 }, () => newLobbyCode());
    for (const code of codes) expect(code).to.match(/^[A-HJ-NP-Z2-9]{8}$/);
    expect(new Set(codes.join('')).size).to.equal(32);
    expect(new Set(codes).size).to.equal(codes.length);
  });
});
