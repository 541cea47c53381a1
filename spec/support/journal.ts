// Collects every journal record the runtime commits (through a consumer group of its own on each outbox, which
// trimming respects) and checks the guarantees on them: ticks 1..N once each, every acked input applied once,
// and every tick's hash equal to a crash-free simulation of the recorded inputs.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { Game } from '../../protocol/engine.ts';
import type { AckedTurn } from '../../actors/snaketron/bots.ts';
import type { CreateGame, GameInput, GameOutput } from '../../actors/snaketron/game-actor.ts';
import { fieldValue } from '../../runtime/journal.ts';
import { Keys } from '../../runtime/keys.ts';
import { compareStreamIds, decodeBatch, decodeDeadLetter, type DeadLetter, type JournalRecord } from '../../runtime/records.ts';

const GROUP = 'spec-collector';

export interface CollectedBatch {
  id: string;
  epoch: number;
  seq: number;
}

export class JournalCollector {
  readonly records = new Map<string, JournalRecord[]>();
  /** outbox entry ids in the order read, per partition, to check nothing was written twice */
  readonly batches = new Map<number, number>();
  /** every outbox entry read, per partition, in stream order: who wrote it (epoch) and its batch number */
  readonly batchLog = new Map<number, CollectedBatch[]>();
  private readonly redis: Redis;
  private running = true;
  private loop: Promise<void> | null = null;

  constructor(redisUrl: string, private readonly keys: Keys, private readonly partitions: number) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(50 * n, 500) });
    this.redis.on('error', () => { /* reconnects by itself */ });
  }

  async start(): Promise<void> {
    for (let p = 0; p < this.partitions; p++) {
      await this.redis.xgroup('CREATE', this.keys.outbox(p), GROUP, '0', 'MKSTREAM').catch(() => undefined);
    }
    this.loop = this.run();
  }

  /**
   * Reads each outbox from its own cursor (XREAD), then moves the group's position up to what it has read, so
   * trimming waits for the collector. A read repeated after a reconnect returns the same entries again (never a
   * delivery lost with its reply, as a `>` read could), and they are skipped by the cursor.
   */
  private async run(): Promise<void> {
    const streams = Array.from({ length: this.partitions }, (_, p) => this.keys.outbox(p));
    const cursors = streams.map(() => '0-0');
    while (this.running) {
      type Reply = Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
      let reply: Reply = null;
      try {
        reply = (await this.redis.xreadBuffer('COUNT', 500, 'BLOCK', 100, 'STREAMS', ...streams, ...cursors)) as unknown as Reply;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      for (const [streamBuf, entries] of (reply ?? []) as NonNullable<Reply>) {
        const stream = streamBuf.toString();
        const partition = Number(/\{p(\d+)\}/.exec(stream)![1]);
        const index = streams.indexOf(stream);
        for (const [idBuf, fields] of entries) {
          const id = idBuf.toString();
          if (compareStreamIds(id, cursors[index]) <= 0) continue;
          cursors[index] = id;
          const batch = decodeBatch(fieldValue(fields, 'd'));
          this.batches.set(partition, (this.batches.get(partition) ?? 0) + 1);
          const log = this.batchLog.get(partition) ?? [];
          log.push({ id, epoch: batch.epoch, seq: batch.seq });
          this.batchLog.set(partition, log);
          for (const record of batch.records) {
            const list = this.records.get(record.a) ?? [];
            list.push(record);
            this.records.set(record.a, list);
          }
        }
        await this.redis.xgroup('SETID', stream, GROUP, cursors[index]).catch(() => undefined);
      }
    }
  }

  lastTick(gameId: string): number {
    const list = this.records.get(gameId) ?? [];
    for (let i = list.length - 1; i >= 0; i--) if (list[i].t !== undefined) return list[i].t!;
    return 0;
  }

  isOver(gameId: string): boolean {
    return (this.records.get(gameId) ?? []).some((r) => r.f !== undefined
      || (r.o ?? []).some((o) => (o as GameOutput).e === 'tick' && (o as { over?: unknown }).over !== undefined));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.redis.disconnect();
  }
}

/**
 * Checks one game's journal: records numbered 1..M, ticks 1..N with no gap or duplicate, each acked input id
 * exactly once, and every tick hash equal to an engine run of the recorded inputs (no runtime involved).
 * Returns the number of ticks and the hashes.
 */
export function verifyGame(records: readonly JournalRecord[], acked: readonly string[], deadLetters: ReadonlySet<string> = new Set()): { ticks: number; hashes: number[] } {
  expect(records.length, 'records').to.be.greaterThan(0);
  records.forEach((r, i) => expect(r.n, `record number ${i + 1} of ${r.a}`).to.equal(i + 1));
  const create = records[0].c?.b as CreateGame;
  expect(create, `${records[0].a} starts with its create`).to.be.an('object');
  const seen = new Map<string, number>();
  let game: Game | null = null;
  let tick = 0;
  const hashes: number[] = [];
  // a private game's seats change in its lobby, until its host starts it
  const seats = create.players.map((p) => p.userId);
  const startGame = () => { game = Game.create({ ...create.settings, players: seats.length }, create.seed, seats.length); };
  if (create.countdownMs !== undefined) startGame();
  for (const record of records) {
    for (const input of record.i ?? []) {
      seen.set(input.s, (seen.get(input.s) ?? 0) + 1);
      const body = input.b as GameInput;
      if (body.k === 'join' && !game && seats.length < create.settings.players && !seats.includes(body.userId)) seats.push(body.userId);
      if (body.k === 'leave' && !game && seats.includes(body.userId)) seats.splice(seats.indexOf(body.userId), 1);
      if (body.k === 'start' && !game) startGame();
      if (body.k === 'turn' && game) {
        const g = game as Game;
        if (g.status === 'running' && g.isAlive(body.snakeId)) g.queueTurn(body.snakeId, body.dir, Math.max(body.t, g.tick + 1));
      }
    }
    if (record.t !== undefined) {
      expect(record.t, `tick of record ${record.n} of ${record.a}`).to.equal(tick + 1);
      tick = record.t;
      const g = game as unknown as Game;
      g.step();
      const out = (record.o ?? []).find((o) => (o as GameOutput).e === 'tick') as Extract<GameOutput, { e: 'tick' }>;
      expect(out.hash, `hash at tick ${tick} of ${record.a}`).to.equal(g.hash());
      hashes.push(out.hash);
    }
  }
  for (const id of acked) {
    // every acked input took effect once, or was refused with a reason (e.g. it came after the game ended)
    const count = (seen.get(id) ?? 0) + (deadLetters.has(id) ? 1 : 0);
    expect(count, `acked input ${id} of ${records[0].a} applied or dead-lettered exactly once`).to.equal(1);
  }
  for (const [id, count] of seen) expect(count, `input ${id} recorded once`).to.equal(1);
  return { ticks: tick, hashes };
}

/**
 * Every dead letter of the partitions, by actor and the inbox id of the input. An inbox id is unique within its
 * partition only (two inboxes may give out the same id in the same millisecond), so letters go by actor first.
 */
export class DeadLetters {
  private readonly byActor = new Map<string, Map<string, DeadLetter>>();

  add(letter: DeadLetter): void {
    const letters = this.byActor.get(letter.actor) ?? new Map<string, DeadLetter>();
    expect(letters.has(letter.input), `input ${letter.input} of ${letter.actor} dead-lettered once`).to.equal(false);
    letters.set(letter.input, letter);
    this.byActor.set(letter.actor, letters);
  }

  get(actorId: string, inputId: string): DeadLetter | undefined {
    return this.byActor.get(actorId)?.get(inputId);
  }

  /** The inbox ids of an actor's dead-lettered inputs, for verifyGame. */
  of(actorId: string): ReadonlySet<string> {
    return new Set(this.byActor.get(actorId)?.keys() ?? []);
  }
}

export async function readDeadLetters(redisUrl: string, keys: Keys, partitions: number): Promise<DeadLetters> {
  const redis = new Redis(redisUrl);
  const out = new DeadLetters();
  for (let p = 0; p < partitions; p++) {
    for (const [, fields] of await redis.xrangeBuffer(keys.deadLetters(p), '-', '+')) out.add(decodeDeadLetter(fieldValue(fields, 'd')));
  }
  redis.disconnect();
  return out;
}

/**
 * How many turns the bots were acked that their games never recorded (nor dead-lettered with a reason). A bot has
 * one turn on its way at a time, so a snake's acked turns appear among its game's recorded turns for that snake, in
 * the order sent and no fewer; the only recorded turns beyond them are those whose ack never reached the bot (its
 * connection dropped). A bot re-sends a turn that did not take effect, so the order alone would hide a lost one:
 * the count does not.
 */
export function lostAckedTurns(acked: readonly AckedTurn[], records: ReadonlyMap<string, readonly JournalRecord[]>, dead: DeadLetters): number {
  const bySnake = new Map<string, AckedTurn[]>();
  for (const turn of acked) {
    const key = `${turn.gameId}/${turn.snakeId}`;
    const turns = bySnake.get(key);
    if (turns) turns.push(turn);
    else bySnake.set(key, [turn]);
  }
  const missing = new Map<string, number>();
  for (const turns of bySnake.values()) {
    const { gameId, snakeId } = turns[0];
    const recorded = (records.get(gameId) ?? []).flatMap((r) => r.i ?? []).map((i) => i.b as GameInput)
      .filter((b): b is Extract<GameInput, { k: 'turn' }> => b.k === 'turn' && b.snakeId === snakeId);
    let at = 0;
    let outOfOrder = 0;
    for (const turn of turns) {
      let found = at;
      while (found < recorded.length && recorded[found].dir !== turn.dir) found++;
      if (found < recorded.length) at = found + 1;
      else outOfOrder++;
    }
    const short = Math.max(outOfOrder, turns.length - recorded.length);
    if (short > 0) missing.set(gameId, (missing.get(gameId) ?? 0) + short);
  }
  // a turn that raced its game's end was acked, then dead-lettered with the reason
  let lost = 0;
  for (const [gameId, n] of missing) lost += Math.max(0, n - dead.of(gameId).size);
  return lost;
}
