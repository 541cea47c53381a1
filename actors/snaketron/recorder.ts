// The recorder follows the outboxes of the partitions this node owns, through a consumer group of its own, and
// writes what the game's journal says to Postgres: a game's start (StatusUpdated), its end (status, results) and
// its replay. While a game runs, what its records add collects in a Redis string beside its partition, so a
// recorder that dies mid-game loses nothing: the next owner's recorder claims the entries it left pending and goes on.
import { setTimeout as sleep } from 'node:timers/promises';
import { Packr } from 'msgpackr';
import type { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import type { Keys } from '../../runtime/keys.ts';
import type { Logger } from '../../runtime/log.ts';
import { fieldValue } from '../../runtime/journal.ts';
import { decodeBatch, type JournalRecord } from '../../runtime/records.ts';
import { readStreams, Script, type RedisClient } from '../../runtime/redis.ts';
import { siblingModule, startThread } from '../../runtime/thread.ts';
import type { CreateGame, GameOutput, GameOver } from './game-actor.ts';
import type { PlayerResult } from '../../protocol/engine.ts';
import { buildReplay, encodeReplay, type ReplayTick } from './replay.ts';
import type { SnaketronDb } from './schema.ts';

/** The recorder's consumer group on every outbox; the partition owners create it (RuntimeOptions.outboxGroups). */
export const RECORDER_GROUP = 'recorder';
/**
 * The recorder reads the outboxes at most this often. Replays and results are not latency-bound (what a player
 * sees of a game comes from the game itself), and each read takes every partition's new entries in one call, with
 * one collecting write and one acknowledgement per partition, all pipelined: per partition tick, a read of its own
 * would cost a node several round trips to Redis. With 250 duel players, reading every 500 ms instead of every
 * 100 ms halved the recorder thread's CPU (2.5-2.8% of a core against 4.7-5.5%, two runs each); results and replays
 * are stored up to 0.5 s after a game ends.
 */
const READ_EVERY_MS = 500;
/** entries handled in one collecting call when a partition has a backlog */
const ENTRIES_PER_CALL = 20;
/** how long the recorder waits after a failed round (Redis or Postgres away) before it tries again */
const RETRY_AFTER_MS = 500;

/** ioredis has XAUTOCLAIM with binary replies, untyped. */
interface AutoClaim {
  xautoclaimBuffer(...args: Array<string | number>): Promise<[Buffer, Array<[Buffer, Buffer[]] | null>]>;
}
const packr = new Packr({ useRecords: false, variableMapSize: true });

/** What one journal record adds to a game's collection: its create, its lobby's seats, its tick. */
interface Collected {
  create?: CreateGame;
  seats?: Seat[];
  tick?: ReplayTick;
}

/** A game that ended in the entries being processed: its last tick, or null when it failed or closed. */
interface Ending {
  gameId: string;
  last: Extract<GameOutput, { e: 'tick' }> | null;
  /** a lobby everyone left (its last output said so): it ended without a game */
  closed?: boolean;
}

const COLLECT = Script.load(new URL('./commands/collect.lua', import.meta.url));

type Seat = { userId: string; name: string; snakeId: number };

/** What the recorder uses of its node: Redis, the key names, and the partitions the node owns now. */
export interface RecorderHost {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly nodeId: string;
  /** a connection of its own for blocking reads */
  connectReader(name: string): RedisClient;
  owned(): readonly number[];
}

export class Recorder {
  private readonly reader: RedisClient;
  private running = true;
  private loop: Promise<void> | null = null;
  /** partitions read, and whether their pending entries were claimed yet */
  private readonly claimed = new Set<number>();
  private lastRead = 0;

  constructor(private readonly host: RecorderHost, private readonly db: SnaketronDb, private readonly log: Logger) {
    this.reader = host.connectReader('recorder');
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop?.catch(() => undefined);
    this.reader.disconnect();
  }

  /**
   * A running game's collection: msgpack values `[record number, Collected]` one after another, appended once per
   * read. (It was a hash with a field per record until 2026-11: a string is appended to, read and freed by Redis
   * in one piece, where the hash cost it a field per tick to store and again to read and free at the game's end.)
   */
  private collectionKey(partition: number, gameId: string): string {
    return this.host.keys.partitionApp(partition, `collect:${gameId}`);
  }

  /** The hash a recorder of before 2026-11 collected a game in; read once more at the end of a game it began. */
  private legacyKey(partition: number, gameId: string): string {
    return this.host.keys.partitionApp(partition, `replay:${gameId}`);
  }

  private async run(): Promise<void> {
    const redis = this.host.redis;
    while (this.running) {
      // the wait comes first, so the partitions read are the ones owned when the read goes out
      const since = Date.now() - this.lastRead;
      if (since < READ_EVERY_MS) await sleep(READ_EVERY_MS - since);
      this.lastRead = Date.now();
      const owned = [...this.host.owned()].sort((a, b) => a - b);
      if (owned.length === 0) continue;
      try {
        for (const p of owned) {
          if (this.claimed.has(p)) continue;
          // the partition's owner creates the group before it runs; one still recovering may not have yet
          await redis.xgroup('CREATE', this.host.keys.outbox(p), RECORDER_GROUP, '0', 'MKSTREAM').catch(() => undefined);
          await this.claimPending(p);
          this.claimed.add(p);
        }
        for (const p of [...this.claimed]) if (!owned.includes(p)) this.claimed.delete(p);
        const streams = owned.map((p) => this.host.keys.outbox(p));
        const reply = await readStreams(this.reader, ['GROUP', RECORDER_GROUP, this.host.nodeId, 'COUNT', 1000], 200, streams, owned.map(() => '>'));
        // partitions side by side (their writes go out together); each one's entries in order, and a partition
        // whose entries could not be stored (Postgres away) has them claimed again, in order, before new ones
        const failed: number[] = [];
        await Promise.all((reply ?? []).map(async ([streamBuf, entries]) => {
          const partition = owned[streams.indexOf(streamBuf.toString())];
          try {
            for (let i = 0; i < entries.length; i += ENTRIES_PER_CALL) await this.process(partition, entries.slice(i, i + ENTRIES_PER_CALL));
          } catch (err) {
            failed.push(partition);
            this.log.warn({ err: String(err), partition }, 'recording failed; the entries are read again');
          }
        }));
        for (const p of failed) this.claimed.delete(p);
        if (failed.length > 0) await sleep(RETRY_AFTER_MS);
      } catch (err) {
        if (!this.running) return;
        // a read whose reply was lost left its entries pending for this consumer: every partition claims again
        this.claimed.clear();
        this.log.warn({ err: String(err) }, 'recorder failed; retrying');
        await sleep(RETRY_AFTER_MS);
      }
    }
  }

  private async claimPending(partition: number): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await (this.host.redis as unknown as AutoClaim).xautoclaimBuffer(this.host.keys.outbox(partition), RECORDER_GROUP,
        this.host.nodeId, 0, cursor, 'COUNT', 200));
      const live = entries.filter((e): e is [Buffer, Buffer[]] => e !== null);
      for (let i = 0; i < live.length; i += ENTRIES_PER_CALL) await this.process(partition, live.slice(i, i + ENTRIES_PER_CALL));
      cursor = next.toString();
    } while (cursor !== '0-0');
  }

  /**
   * Some consecutive entries of one partition's outbox: their collecting writes go out in one call, the endings
   * (results, replays) follow, with the collections of the games that ended read in one call and dropped in one,
   * and only then are the entries acknowledged, so a recorder that dies midway leaves them pending for the
   * next one (every write is idempotent).
   */
  private async process(partition: number, entries: ReadonlyArray<[Buffer, Buffer[]]>): Promise<void> {
    /** per game, what these entries add to its collection */
    const additions = new Map<string, Buffer[]>();
    const writes: Array<Promise<unknown>> = [];
    const endings: Ending[] = [];
    /** each game's last lobby in these entries: it holds all the seats, and stored alone it cannot race an older one */
    const lobbies = new Map<string, Extract<GameOutput, { e: 'lobby' }>>();
    for (const [id, fields] of entries) {
      let records: JournalRecord[];
      try {
        records = decodeBatch(fieldValue(fields, 'd')).records;
      } catch (err) {
        // a failed round is tried again until it goes through: one that never can must not hold up the rest
        this.log.error({ err: String(err), partition, entry: id.toString() }, 'undecodable outbox entry; skipped');
        continue;
      }
      for (const record of records) {
        const collected = this.record(record, writes, endings, lobbies);
        if (collected) {
          let added = additions.get(record.a);
          if (!added) additions.set(record.a, added = []);
          added.push(packr.pack([record.n, collected]));
        }
      }
    }
    for (const [gameId, lobby] of lobbies) writes.push(this.storeSeats(gameId, lobby.players, lobby.host));
    // as many keys as there are games with something to collect
    if (additions.size > 0) {
      const keys = [...additions.keys()].map((gameId) => this.collectionKey(partition, gameId));
      writes.push(COLLECT.run(this.host.redis, keys, [...additions.values()].map((added) => Buffer.concat(added))));
    }
    await Promise.all(writes);
    if (endings.length > 0) {
      const ended = endings.map((e) => e.gameId);
      const collections = await this.collections(partition, ended);
      const without = (status: 'failed' | 'closed') => {
        const ids = endings.filter((e) => e.last === null && (e.closed === true) === (status === 'closed')).map((e) => e.gameId);
        return ids.length > 0 ? this.db.updateTable('games').set({ status, ended_at: new Date() }).where('id', 'in', ids).execute() : null;
      };
      // each game's rows are its own: the endings are stored side by side, those without a game (failed, closed
      // lobbies) in one statement each
      await Promise.all([
        ...endings.map((ending, i) => (ending.last ? this.finish(ending.gameId, ending.last, collections[i]) : null)),
        without('failed'), without('closed'),
      ]);
      await this.forget(partition, ended);
    }
    await this.host.redis.xack(this.host.keys.outbox(partition), RECORDER_GROUP, ...entries.map(([id]) => id.toString()));
  }

  /** What a record adds to its game's collection, if anything; status changes and endings are queued, lobbies noted. */
  private record(record: JournalRecord, writes: Array<Promise<unknown>>, endings: Ending[],
    lobbies: Map<string, Extract<GameOutput, { e: 'lobby' }>>): Collected | null {
    const collected: Collected = {};
    if (record.c) collected.create = record.c.b as CreateGame;
    for (const output of (record.o ?? []) as GameOutput[]) {
      if (output.e === 'lobby') {
        collected.seats = output.players;
        lobbies.set(record.a, output);
        if (output.closed) endings.push({ gameId: record.a, last: null, closed: true });
      }
      if (output.e === 'status' && output.status === 'running') {
        // a private game starts with the seats taken, not the seats it offered: its stored settings say so from now
        const players = output.players;
        writes.push(this.db.updateTable('games').set({
          status: 'running', started_at: new Date(output.startAt ?? Date.now()),
          ...(players === undefined ? {} : { settings: sql`jsonb_set(settings, '{players}', to_jsonb(${players}::int))` }),
        }).where('id', '=', record.a).where('status', '=', 'lobby').execute());
      }
      if (output.e === 'tick') {
        collected.tick = { t: output.t, turns: output.turns, hash: output.hash };
        if (output.over) endings.push({ gameId: record.a, last: output });
      }
    }
    if (record.f !== undefined) endings.push({ gameId: record.a, last: null });
    return collected.create || collected.seats || collected.tick ? collected : null;
  }

  /**
   * A private game's players and host as its lobby has them now, so `welcome.game` finds the game for each of them
   * and the API names the host (`host` is absent in records journaled before lobby outputs carried it).
   */
  private async storeSeats(gameId: string, seats: Seat[], host: string | null | undefined): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      if (host !== undefined) await tx.updateTable('games').set({ host }).where('id', '=', gameId).execute();
      await tx.deleteFrom('game_players').where('game_id', '=', gameId).where('snake_id', '>=', seats.length).execute();
      for (const seat of seats) {
        await tx.insertInto('game_players').values({ game_id: gameId, snake_id: seat.snakeId, user_id: seat.userId, name: seat.name, team: seat.snakeId % 2 })
          .onConflict((oc) => oc.columns(['game_id', 'snake_id']).doUpdateSet({ user_id: seat.userId, name: seat.name })).execute();
      }
    });
  }

  private async finish(gameId: string, last: Extract<GameOutput, { e: 'tick' }>, collected: Collected[]): Promise<void> {
    const create = collected.find((c) => c.create)?.create;
    const over = last.over!;
    let seats: Seat[] | null = create ? create.players.map((p, snakeId) => ({ ...p, snakeId })) : null;
    for (const c of collected) if (c.seats) seats = c.seats;
    let replay: { data: Uint8Array; ticks: number; v: number } | null = null;
    if (create && seats) {
      try {
        const built = buildReplay({
          gameId, settings: { ...create.settings, players: seats.length }, seed: create.seed, players: seats,
          ticks: collected.flatMap((c) => (c.tick ? [c.tick] : [])), winner: over.winner, winningTeam: over.winningTeam,
        });
        replay = { data: encodeReplay(built), ticks: built.ticks, v: built.v };
      } catch (err) {
        // (a collection missing a tick): the result is still stored, as for a game with no replay below
        this.log.error({ err: String(err), gameId }, 'the replay cannot be built; the result is stored without it');
      }
    } else {
      // only a game whose start left the journal before any recorder read it (a cluster upgraded while games
      // ran) ends here: its result is stored, a replay cannot be
      this.log.warn({ gameId }, 'no replay for this game: its start was trimmed before the recorder read it');
    }
    await this.storeEnding(gameId, last.t, over, seats, replay);
  }

  /**
   * A finished game's replay, status and results in one statement (one round trip per game that ends). Results
   * of seats the recorder knows are upserted; of others (a start trimmed before it was read) updated where stored.
   */
  private async storeEnding(gameId: string, ticks: number, over: GameOver, seats: Seat[] | null,
    replay: { data: Uint8Array; ticks: number; v: number } | null): Promise<void> {
    const results = over.results;
    const seat = (r: PlayerResult) => seats?.[r.snakeId];
    await sql`
      with stored_replay as (
        insert into replays (game_id, version, data, ticks, bytes)
        select ${gameId}, ${replay?.v ?? 0}, ${replay ? Buffer.from(replay.data) : null}::bytea, ${replay?.ticks ?? 0}, ${replay?.data.length ?? 0}
        where ${replay !== null}
        on conflict (game_id) do nothing
      ), completed as (
        update games set status = 'complete', ended_at = now(), ticks = ${ticks}, winner = ${over.winner}, winning_team = ${over.winningTeam}
        where id = ${gameId}
      ), result as (
        select * from unnest(${results.map((r) => r.snakeId)}::int[], ${results.map((r) => seat(r)?.userId ?? null)}::text[],
          ${results.map((r) => seat(r)?.name ?? null)}::text[], ${results.map((r) => r.score)}::int[], ${results.map((r) => r.length)}::int[],
          ${results.map((r) => r.alive)}::boolean[], ${results.map((r) => r.place)}::int[], ${results.map((r) => r.team)}::int[])
          as r(snake_id, user_id, name, score, length, alive, place, team)
      ), seated as (
        insert into game_players (game_id, snake_id, user_id, name, score, length, alive, place, team)
        select ${gameId}, snake_id, user_id, name, score, length, alive, place, team from result where user_id is not null
        on conflict (game_id, snake_id) do update
          set score = excluded.score, length = excluded.length, alive = excluded.alive, place = excluded.place, team = excluded.team
      )
      update game_players p set score = r.score, length = r.length, alive = r.alive, place = r.place, team = r.team
      from result r where r.user_id is null and p.game_id = ${gameId} and p.snake_id = r.snake_id`.execute(this.db);
  }

  /**
   * The collections of some games of one partition, each in record order, read in one round trip. A record is
   * there once however often its entry was processed (a recorder that died before its acknowledgement left the
   * entry to be processed again).
   */
  private async collections(partition: number, gameIds: readonly string[]): Promise<Collected[][]> {
    const pipeline = this.host.redis.pipeline();
    for (const gameId of gameIds) {
      pipeline.getBuffer(this.collectionKey(partition, gameId)).hgetallBuffer(this.legacyKey(partition, gameId));
    }
    const replies = (await pipeline.exec()) as Array<[Error | null, unknown]>;
    const failed = replies.find(([err]) => err !== null);
    if (failed) throw failed[0];
    return gameIds.map((_, i) => {
      const appended = replies[2 * i][1] as Buffer | null;
      const legacy = replies[2 * i + 1][1] as Record<string, Buffer>;
      const byRecord = new Map<number, Collected>();
      for (const [n, value] of Object.entries(legacy)) byRecord.set(Number(n), packr.unpack(value) as Collected);
      if (appended) for (const [n, collected] of packr.unpackMultiple(appended) as Array<[number, Collected]>) byRecord.set(n, collected);
      return [...byRecord].sort((a, b) => a[0] - b[0]).map(([, collected]) => collected);
    });
  }

  /** Drops the collections of games that ended, in one call; Redis frees them off its main thread. */
  private async forget(partition: number, gameIds: readonly string[]): Promise<void> {
    await this.host.redis.unlink(...gameIds.flatMap((gameId) => [this.collectionKey(partition, gameId), this.legacyKey(partition, gameId)]));
  }
}

/** What a recorder thread is started with (its workerData). */
export interface RecorderThreadConfig {
  redisUrl: string;
  databaseUrl: string;
  prefix: string;
  nodeId: string;
  logLevel: string;
}

/** From the node to its recorder thread. */
export type ToRecorder = { type: 'owned'; partitions: number[] } | { type: 'stop' };

/** How often the node looks for a change in the partitions it owns, to tell its recorder. */
const OWNED_POLL_MS = 20;
/** A recorder thread that died is started again after this long. */
const RESTART_AFTER_MS = 1000;
const RECORDER_THREAD = siblingModule(import.meta.url, 'recorder-thread');

/**
 * The node's recorder, on a worker thread of its own: the main thread sends every client its ticks, and decoding
 * and storing the journal a second time there held ticks up behind it. The thread is told the partitions the node
 * owns whenever they change; one that dies is started again and goes on from what its consumer group left pending.
 */
export class RecorderThread {
  private worker: Worker | null = null;
  private stopping = false;
  private shared = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly config: RecorderThreadConfig, private readonly owned: () => number[], private readonly log: Logger) {}

  start(): void {
    this.spawn();
    this.timer = setInterval(() => this.share(), OWNED_POLL_MS);
  }

  private spawn(): void {
    const worker = startThread(RECORDER_THREAD, this.config, 'recorder');
    this.worker = worker;
    this.shared = '';
    worker.on('error', (err) => this.log.error({ err }, 'recorder thread failed'));
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = null;
      if (this.stopping) return;
      this.log.error({ code }, 'recorder thread exited; starting another');
      setTimeout(() => { if (!this.stopping && !this.worker) this.spawn(); }, RESTART_AFTER_MS).unref();
    });
    this.share();
  }

  private share(): void {
    if (!this.worker) return;
    const partitions = this.owned().sort((a, b) => a - b);
    const key = partitions.join(',');
    if (key === this.shared) return;
    this.shared = key;
    this.worker.postMessage({ type: 'owned', partitions } satisfies ToRecorder);
  }

  /** Ends the thread as a crash would (specs): it is started again after RESTART_AFTER_MS. */
  async crash(): Promise<void> {
    await this.worker?.terminate();
  }

  /** Stops the thread once its current read is handled (a stuck one is terminated after 10 s). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage({ type: 'stop' } satisfies ToRecorder);
    const kill = setTimeout(() => void worker.terminate(), 10_000);
    await exited;
    clearTimeout(kill);
  }
}
