// The kill -9 experiment, the players' side: a few duels played by bots that keep the SDK's automatic reconnection,
// as a Colyseus game that wants players to survive a dropped connection would. bench/colyseus.ts SIGKILLs the
// server once they play, starts it again on the same port, and tells them; they then report what came back:
// the SDK's own reconnection, `client.reconnect(reconnectionToken)`, `client.joinById(roomId)`, and whether any
// game sent another tick.
//
// Started only by bench/colyseus.ts, with an IPC channel (control.ts): `--url http://127.0.0.1:PORT --games 4`.

import { parseArgs } from 'node:util';
import { Client, type Room } from '@colyseus/sdk';
import { DuelBot, sleep, Stats } from './bot.ts';
import type { FailoverReport, FailoverRestarted } from './control.ts';

/** Ticks played before the kill: past the SDK's 5 s minimum uptime, below which it does not try to reconnect. */
const TICKS_BEFORE_KILL = 40;
/** The SDK's retries (backoff 0.2, 0.4, 0.8, 1.6, 3.2, 5 s): long enough to span the restart, bounded. */
const RECONNECT_RETRIES = 6;
const SETTLE_MS = 30_000;

interface Player {
  bot: DuelBot;
  room: Room;
  roomId: string;
  reconnectionToken: string;
  /** the last tick before the connection dropped */
  tickAtDrop: number | null;
  /** `reconnected`, or how the room was left */
  autoReconnect: string | null;
}

function report(message: FailoverReport): void {
  process.send?.(message);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return `${code === undefined ? '' : `${String(code)} `}${err.message}`;
  }
  return String(err);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

const { values } = parseArgs({ options: { url: { type: 'string' }, games: { type: 'string', default: '4' } } });
if (values.url === undefined || process.send === undefined) {
  console.error('failover.ts is started by bench/colyseus.ts: it needs --url and an IPC channel');
  process.exit(2);
}
const sdk = new Client(values.url);
const stats = new Stats();
const players: Player[] = [];
// One at a time, so that players pair up in order: two per room.
for (let i = 0; i < 2 * Number(values.games); i++) {
  const bot = new DuelBot(sdk, stats);
  const { left } = await bot.join(true);
  const room = bot.room!;
  room.reconnection.maxRetries = RECONNECT_RETRIES;
  const player: Player = {
    bot, room, roomId: room.roomId, reconnectionToken: room.reconnectionToken, tickAtDrop: null, autoReconnect: null,
  };
  room.onDrop(() => { player.tickAtDrop = bot.lastT; });
  room.onReconnect(() => { player.autoReconnect = 'reconnected'; });
  void left.then((code) => { player.autoReconnect ??= `left with code ${code}`; });
  players.push(player);
}
await until(() => players.every((p) => p.bot.lastT >= TICKS_BEFORE_KILL), 30_000);
const rooms = new Map(players.map((p) => [p.roomId, p.bot.lastT]));
report({ kind: 'playing', games: [...rooms].map(([roomId, t]) => ({ roomId, t })) });

await new Promise<void>((resolve) => {
  process.on('message', (message: FailoverRestarted) => { if (message.kind === 'restarted') resolve(); });
});
await until(() => players.every((p) => p.autoReconnect !== null), SETTLE_MS);
const resumed = new Set(players.filter((p) => p.tickAtDrop !== null && p.bot.lastT > p.tickAtDrop).map((p) => p.roomId)).size;

/** `ok`, or the error with the room id taken out, so that equal answers for different rooms read the same. */
const attempt = async (roomId: string, join: () => Promise<Room>): Promise<string> => {
  try {
    const room = await join();
    await room.leave(true);
    return 'ok';
  } catch (err) {
    return describe(err).replaceAll(roomId, '<roomId>');
  }
};
const reconnect: string[] = [];
const joinById: string[] = [];
for (const p of players) {
  reconnect.push(await attempt(p.roomId, () => sdk.reconnect(p.reconnectionToken)));
  joinById.push(await attempt(p.roomId, () => sdk.joinById(p.roomId)));
}
report({
  kind: 'outcome', games: rooms.size, resumed,
  autoReconnect: players.map((p) => p.autoReconnect ?? `still reconnecting after ${SETTLE_MS} ms`), reconnect, joinById,
});
process.exit(0);
