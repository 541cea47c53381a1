// Replays of games played through real nodes: a duel, and a duel whose owner node was SIGKILLed mid-game. Each
// replay, read back from Postgres, re-simulates to the hash the clients saw last, through the module and through
// bin/snaketron-replay; an edited replay fails; export, list and play work on them.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pack, unpackMultiple } from 'msgpackr';
import { startNode, type RunningNode } from '../actors/snaketron/node.ts';
import { RECORDER_GROUP } from '../actors/snaketron/recorder.ts';
import { Keys } from '../runtime/keys.ts';
import { decodeReplay, verifyReplay, type Replay } from '../actors/snaketron/replay.ts';
import { ReplayStore, loadReplay, replayToJson } from '../actors/snaketron/replay-tool.ts';
import { SpecCluster, type SnakeNode } from './support/cluster.ts';
import { killOwnerMidGame, privateDuel, SpecPlayer, staircase } from './support/player.ts';
import { pino } from 'pino';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, sleep, waitFor, type SpecDatabase } from './support/env.ts';
import { SpecPostgres } from './support/processes.ts';
import { partitionOf } from '../runtime/partition.ts';
import { encodeRecord, RECORD_VERSION } from '../runtime/records.ts';
import { defaultSettings } from '../protocol/settings.ts';
import pg from 'pg';
import { randomUUID } from 'node:crypto';

const REPLAY_BIN = fileURLToPath(new URL('../bin/snaketron-replay', import.meta.url));

/** Runs bin/snaketron-replay and collects what it printed and its exit code. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.SNAKETRON_DATABASE_URL;
    const child = spawn(REPLAY_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The stored replay, once the recorder has written it (GET /api/games/:id/replay answers 200). */
async function storedReplay(baseUrl: string, gameId: string): Promise<{ replay: Replay; bytes: Buffer }> {
  const bytes = await waitFor(`the replay of ${gameId}`, async () => {
    const res = await fetch(`${baseUrl}/api/games/${gameId}/replay`);
    return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : null;
  }, 30_000, 100);
  return { replay: decodeReplay(bytes), bytes };
}

/** A private duel whose two snakes climb a staircase until told to stop (then each runs into a wall). */
async function steeredDuel(nodeA: Pick<SnakeNode, 'ws'>, nodeB: Pick<SnakeNode, 'ws'>, board?: { size: number; tickMs: number }): Promise<[SpecPlayer, SpecPlayer]> {
  const [a, b] = await privateDuel(nodeA, nodeB, board);
  a.steer(staircase(a), 3);
  b.steer(staircase(b), 3);
  return [a, b];
}

/** Stops steering both players and waits until each has seen the game end. */
async function endDuel(a: SpecPlayer, b: SpecPlayer): Promise<void> {
  a.stop();
  b.stop();
  await waitFor('both players to see the end', () => a.over && b.over, 60_000);
}

/** Waits until the recorder has acknowledged every entry of the outbox holding a game (of a node with 4 partitions). */
async function recorderCaughtUp(prefix: string, gameId: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const outbox = new Keys(prefix).outbox(partitionOf(gameId, 4));
    await waitFor('the recorder to acknowledge every entry', async () => ((await redis.xpending(outbox, RECORDER_GROUP)) as [number])[0] === 0, 10_000, 100);
  } finally {
    redis.disconnect();
  }
}

describe('replays of games played through nodes', function () {
  this.timeout(120_000);
  let cluster: SpecCluster;
  let nodes: SnakeNode[];
  let dir: string;
  const store = () => ReplayStore.open(cluster.db.url);
  let duel: Promise<{ gameId: string; players: SpecPlayer[] }> | null = null;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snaketron-replay-'));
    cluster = await SpecCluster.create('replay', { partitions: 8 });
    nodes = [await cluster.start(), await cluster.start(), await cluster.start()];
    await cluster.settled();
  });
  after(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Two players queue for a duel on two nodes and steer a little; both snakes end in a wall. */
  function playDuel(): Promise<{ gameId: string; players: SpecPlayer[] }> {
    duel ??= (async () => {
      const left = new SpecPlayer('lefty');
      const right = new SpecPlayer('righty');
      // two nodes alive now (this may run after the failover spec, with --grep)
      const live = cluster.live();
      await left.connect(live[0]);
      await right.connect(live[1] ?? live[0]);
      left.client.send({ type: 'queue', mode: 'duel' });
      await left.client.next('queued');
      right.client.send({ type: 'queue', mode: 'duel' });
      const snapshot = await left.client.next('snapshot');
      await right.client.next('snapshot');
      // snake 0 starts at (4,20) heading right, snake 1 at (35,20) heading left
      left.turn('down', 3);
      right.turn('up', 4);
      left.turn('right', 6);
      right.turn('left', 9);
      left.turn('up', 12);
      left.turn('right', 14);
      await waitFor('both players to see the end', () => left.over && right.over, 30_000);
      return { gameId: snapshot.gameId, players: [left, right] };
    })();
    return duel;
  }

  it('has the recorder\'s consumer group on every outbox once its partition has an owner, before any reader came', async () => {
    // the owners create it, so a game created before the recorder thread first reads is not trimmed away from it
    const redis = new Redis(REDIS_URL);
    try {
      const keys = new Keys(cluster.prefix);
      for (let p = 0; p < 8; p++) {
        const groups = (await redis.xinfo('GROUPS', keys.outbox(p))) as unknown[][];
        expect(groups.map((g) => g[1]), `groups of outbox ${p}`).to.include(RECORDER_GROUP);
      }
    } finally {
      redis.disconnect();
    }
  });

  it('stores a duel whose replay verifies (module and CLI) and ends at the hash the clients saw last', async () => {
    const { gameId, players } = await playDuel();
    const over = players[0].over!;
    const { replay } = await storedReplay(cluster.live()[0].http, gameId);
    expect(replay.gameId).to.equal(gameId);
    expect(replay.ticks).to.equal(over.t);
    expect(replay.winner).to.equal(over.winner);
    expect(replay.players.map((p) => p.name)).to.deep.equal(['lefty', 'righty']);
    expect(replay.turns.length, 'the effective turns').to.be.at.least(5);
    for (const p of players) expect(replay.finalHash, `${p.name}'s last hash`).to.equal(p.lastHash);
    expect(verifyReplay(replay)).to.deep.include({ ok: true });

    const db = store();
    try {
      const loaded = await loadReplay(gameId, () => db);
      expect(loaded.replay).to.deep.equal(replay);
      expect(verifyReplay(loaded.replay).ok).to.equal(true);
    } finally {
      await db.close();
    }
    const run = await cli(['verify', gameId, '--database', cluster.db.url]);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(new RegExp(`^ok: game ${gameId} .* re-simulated to tick ${over.t};`));
  });

  it('stores a duel whose owner node was SIGKILLed mid-game; the replay verifies and ends at the clients\' last hash', async () => {
    const [a, b] = await steeredDuel(nodes[0], nodes[1]);
    const gameId = a.gameId;
    const survivor = await killOwnerMidGame(cluster, [a, b]);
    await endDuel(a, b);
    const over = a.over!;

    const { replay } = await storedReplay(survivor.http, gameId);
    expect(replay.ticks).to.equal(over.t);
    expect(replay.finalHash).to.equal(a.lastHash);
    expect(replay.finalHash).to.equal(b.lastHash);
    expect(replay.hashes.length, 'hashes at 0, every 100 ticks, and the last').to.equal(Math.floor((over.t - 1) / 100) + 2);
    expect(verifyReplay(replay).ok).to.equal(true);
    const run = await cli(['verify', gameId, '--database', cluster.db.url]);
    expect(run.code, run.stderr).to.equal(0);
    const info = (await survivor.get(`/api/games/${gameId}`)).json<{ status: string; ticks: number }>();
    expect(info).to.include({ status: 'complete', ticks: over.t });
  });

  it('exports JSON that round-trips and verifies; one edited turn fails verify with exit 1; list and play show the games', async () => {
    const { gameId } = await playDuel();
    const { replay, bytes } = await storedReplay(cluster.live()[0].http, gameId);
    const url = cluster.db.url;

    // export → the same replay as the msgpack row and as GET ?format=json
    const file = join(dir, `${gameId}.json`);
    const exported = await cli(['export', gameId, '--out', file, '--database', url]);
    expect(exported.code, exported.stderr).to.equal(0);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Replay;
    expect(json).to.deep.equal(replay);
    const viaHttp = (await cluster.live()[0].get(`/api/games/${gameId}/replay?format=json`)).json<Replay>();
    expect(json).to.deep.equal(viaHttp);
    expect(replayToJson(json)).to.equal(readFileSync(file, 'utf8'));
    const toStdout = await cli(['export', gameId, '--database', url]);
    expect(JSON.parse(toStdout.stdout)).to.deep.equal(replay);

    // the files verify: the JSON export and the msgpack as served
    const msgpackFile = join(dir, `${gameId}.msgpack`);
    writeFileSync(msgpackFile, bytes);
    for (const f of [file, msgpackFile]) {
      const run = await cli(['verify', f]);
      expect(run.code, `${f}: ${run.stderr}`).to.equal(0);
    }

    // one turn's direction changed (to the other side, so it still takes effect): exit 1, naming tick and hashes
    const k = Math.floor(replay.turns.length / 2);
    const edited: Replay = JSON.parse(JSON.stringify(replay)) as Replay;
    const [t, snakeId, d] = edited.turns[k];
    edited.turns[k] = [t, snakeId, ((d + 2) % 4) as 0 | 1 | 2 | 3];
    const editedFile = join(dir, 'edited.json');
    writeFileSync(editedFile, replayToJson(edited));
    const failed = await cli(['verify', editedFile]);
    expect(failed.code, failed.stdout + failed.stderr).to.equal(1);
    expect(failed.stderr).to.match(/^MISMATCH: .* at tick \d+: the replay says 0x[0-9a-f]{8}, the engine computes 0x[0-9a-f]{8}/);
    // one turn a tick later fails too (through the module)
    const later: Replay = JSON.parse(JSON.stringify(replay)) as Replay;
    later.turns[0] = [later.turns[0][0] + 1, later.turns[0][1], later.turns[0][2]];
    const result = verifyReplay(later);
    expect(result.ok).to.equal(false);
    expect(result.mismatch!.expected).to.not.equal(result.mismatch!.actual);

    // unreadable or unknown: exit 2
    writeFileSync(join(dir, 'broken.json'), '{"v": 1, "turns": "no"}');
    expect((await cli(['verify', join(dir, 'broken.json')])).code).to.equal(2);
    const unknown = await cli(['verify', 'g-no-such-game', '--database', url]);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.match(/no game g-no-such-game/);
    const badUrl = await cli(['list', '--database', 'postgres://[::1']);
    expect(badUrl.code).to.equal(2);
    expect(badUrl.stderr).to.equal('snaketron-replay: --database must be a postgres:// URL, got "postgres://[::1"\n');

    // list: every finished game of the cluster, with its replay size
    const list = await cli(['list', '--database', url]);
    expect(list.code, list.stderr).to.equal(0);
    const games = list.stdout;
    expect(games).to.match(/^GAME\s+MODE\s+ENDED\s+TICKS\s+RESULT/);
    expect(games).to.include(gameId);
    expect(games.trim().split('\n').length, 'a header and the games').to.be.at.least(2);

    // play off a terminal: the final frame only
    const play = await cli(['play', gameId, '--database', url]);
    expect(play.code, play.stderr).to.equal(0);
    expect(play.stdout).to.include(`tick ${replay.ticks}/${replay.ticks}`);
    expect(play.stdout).to.match(/score {2}A: lefty score \d+ length \d+/);
    expect(play.stdout).to.match(/^result /m);
    expect(play.stdout).to.not.include('\x1b[');
    expect(play.stdout.split('\n').filter((l) => l.startsWith('|'))).to.have.length(replay.settings.height);
  });
});

describe('the recorder thread', function () {
  this.timeout(120_000);
  let db: SpecDatabase;
  let prefix: string;
  let node: RunningNode;
  const errors: string[] = [];

  before(async () => {
    db = await freshDatabase('recorder');
    prefix = freshPrefix('recorder');
    node = await startNode({
      port: 0, redisUrl: REDIS_URL, databaseUrl: db.url, partitions: 4, workers: 1, nodeId: 'recorder-spec', prefix,
      checkpointTicks: 50, leaseMs: 1500, lobbyGraceMs: 20_000, logger: pino({ level: 'error' }, { write: (line: string) => { errors.push(line); } }),
    });
  });
  after(async () => {
    await node?.stop();
    await dropKeys(prefix);
    await db.drop();
  });

  it('is started again when it dies mid-game, and the replay holds every tick: the ones before, during and after', async () => {
    const endpoint = { ws: `ws://127.0.0.1:${node.port}/ws` };
    const [a, b] = await steeredDuel(endpoint, endpoint, { size: 60, tickMs: 50 });
    await waitFor('the game to run a while', () => a.tick >= 20, 30_000);
    await node.crashRecorder();
    const crashedAt = a.tick;
    // the thread comes back after a second: ticks go on meanwhile, with no recorder reading them
    await waitFor('ticks while the recorder is down', () => a.tick >= crashedAt + 10, 30_000);
    await endDuel(a, b);
    const over = a.over!;

    const { replay } = await storedReplay(node.url, a.gameId);
    expect(errors.join(''), 'the node saw its recorder thread die').to.include('recorder thread exited; starting another');
    expect(crashedAt, 'the crash fell mid-game').to.be.below(over.t - 10);
    expect(replay.ticks).to.equal(over.t);
    expect(replay.finalHash).to.equal(a.lastHash);
    expect(replay.finalHash).to.equal(b.lastHash);
    expect(verifyReplay(replay)).to.deep.include({ ok: true });
  });

  it('builds a replay from a collection an older recorder began in a hash, with records collected twice read once', async () => {
    const endpoint = { ws: `ws://127.0.0.1:${node.port}/ws` };
    const [a, b] = await steeredDuel(endpoint, endpoint, { size: 60, tickMs: 50 });
    await waitFor('the game to run a while', () => a.tick >= 20, 30_000);
    const keys = new Keys(prefix);
    const partition = partitionOf(a.gameId, 4);
    const collection = keys.partitionApp(partition, `collect:${a.gameId}`);
    const legacy = keys.partitionApp(partition, `replay:${a.gameId}`);
    const redis = new Redis(REDIS_URL);
    let moved: number;
    try {
      await node.crashRecorder();
      await sleep(200); // an append the thread sent before it died has reached Redis
      // As if a recorder of before 2026-11 had collected the game's first records (a hash, one field per record)
      // and this one the rest, with an overlap and one run appended twice (entries processed again after a crash).
      const records = unpackMultiple((await redis.getBuffer(collection))!) as Array<[number, unknown]>;
      moved = Math.floor(records.length / 2);
      expect(moved, 'records collected before the rewrite').to.be.at.least(5);
      for (const [n, collected] of records.slice(0, moved)) await redis.hset(legacy, String(n), pack(collected));
      const kept = records.slice(moved - 2).map((r) => pack(r));
      await redis.set(collection, Buffer.concat([...kept, ...kept.slice(0, 3)]));
    } finally {
      redis.disconnect();
    }
    await endDuel(a, b);

    const { replay } = await storedReplay(node.url, a.gameId);
    expect(replay.ticks).to.equal(a.over!.t);
    expect(replay.finalHash).to.equal(a.lastHash);
    expect(verifyReplay(replay)).to.deep.include({ ok: true });
    // the recorder drops the collections after it stored the game (a reader of the replay may come between),
    // and acknowledges the entry after that
    await recorderCaughtUp(prefix, a.gameId);
    const check = new Redis(REDIS_URL);
    try {
      expect(await check.exists(collection, legacy), 'both collections are dropped with the game').to.equal(0);
    } finally {
      check.disconnect();
    }
  });

  it('stores the result of a game whose collection lost its start, with no replay, and the players\' results as told', async () => {
    const endpoint = { ws: `ws://127.0.0.1:${node.port}/ws` };
    const [a, b] = await steeredDuel(endpoint, endpoint, { size: 60, tickMs: 50 });
    await waitFor('the game to run a while', () => a.tick >= 10, 30_000);
    await node.crashRecorder();
    await sleep(200); // an append the thread sent before it died has reached Redis
    const redis = new Redis(REDIS_URL);
    try {
      // as a cluster upgraded while games ran sees it: the start left the journal before any recorder read it
      await redis.del(new Keys(prefix).partitionApp(partitionOf(a.gameId, 4), `collect:${a.gameId}`));
    } finally {
      redis.disconnect();
    }
    await endDuel(a, b);
    const over = a.over!;

    const stored = await waitFor('the result in Postgres', async () => {
      const body = (await (await fetch(`${node.url}/api/games/${a.gameId}`)).json()) as { status: string; ticks: number; winner: number | null; results: unknown[]; replay: string | null };
      return body.status === 'complete' ? body : null;
    }, 30_000, 100);
    expect(stored).to.include({ ticks: over.t, winner: over.winner, replay: null });
    expect(stored.results).to.deep.equal([...over.results].sort((x, y) => x.snakeId - y.snakeId).map((r) => ({
      userId: r.userId, snakeId: r.snakeId, team: r.team, score: r.score, length: r.length, alive: r.alive, place: r.place })));
    expect((await fetch(`${node.url}/api/games/${a.gameId}/replay`)).status).to.equal(404);
    await recorderCaughtUp(prefix, a.gameId);
  });

  it('stores a game its journal says failed as failed: ended, with no results and no replay, its collection dropped', async () => {
    // A game whose ticks kept throwing ends with the record the executor writes then: the reason and the game's
    // `status failed` output. No engine fault can be reached from a client, so the spec stores a running game
    // that has no actor and writes that record to its partition's journal.
    const gameId = randomUUID();
    const partition = partitionOf(gameId, 4);
    const keys = new Keys(prefix);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const redis = new Redis(REDIS_URL);
    try {
      await client.query(`INSERT INTO games (id, mode, settings, seed, status, partition, started_at) VALUES ($1, 'duel', $2, 7, 'running', $3, now())`,
        [gameId, JSON.stringify(defaultSettings('duel')), partition]);
      await client.query(`INSERT INTO game_players (game_id, snake_id, user_id, name, team) VALUES ($1, 0, 'u-a', 'a', 0), ($1, 1, 'u-b', 'b', 1)`, [gameId]);
      const collection = keys.partitionApp(partition, `collect:${gameId}`);
      await redis.set(collection, pack([1, { tick: { t: 1, turns: [], hash: 1 } }]));
      const reason = 'tick 2 threw 3 times';
      await redis.xadd(keys.outbox(partition), '*', 'd', encodeRecord({ v: RECORD_VERSION, epoch: 0, seq: 0, records: [
        { a: gameId, n: 2, at: Date.now(), f: reason, o: [{ e: 'status', status: 'failed', startAt: Date.now() - 1000, reason }] },
      ] }));

      const info = await waitFor('the game stored as failed', async () => {
        const body = (await (await fetch(`${node.url}/api/games/${gameId}`)).json()) as Record<string, unknown>;
        return body.status === 'failed' ? body : null;
      }, 30_000, 100);
      expect(info.endedAt, 'its end time').to.be.a('string');
      expect(info).to.include({ ticks: null, winner: null, results: null, replay: null });
      expect(info.players, 'its seats, kept').to.have.length(2);
      expect((await fetch(`${node.url}/api/games/${gameId}/replay`)).status).to.equal(404);
      // the recorder drops the collection after it stored the game, and acknowledges the entry after that
      await recorderCaughtUp(prefix, gameId);
      expect(await redis.exists(collection), 'its collection, dropped').to.equal(0);
    } finally {
      redis.disconnect();
      await client.end();
    }
  });
});

describe('the recorder through faults', function () {
  this.timeout(120_000);
  let postgres: SpecPostgres;
  let prefix: string;
  let node: RunningNode;

  before(async () => {
    postgres = await SpecPostgres.start();
    prefix = freshPrefix('recorder-pg');
    node = await startNode({
      port: 0, redisUrl: REDIS_URL, databaseUrl: postgres.url(), partitions: 4, workers: 1, nodeId: 'recorder-pg-spec', prefix,
      checkpointTicks: 50, leaseMs: 1500, lobbyGraceMs: 20_000, logger: pino({ level: 'silent' }),
    });
  });
  after(async () => {
    await node?.stop();
    await dropKeys(prefix);
    postgres?.destroy();
  });

  it('stores the result and replay of a game that ended while Postgres was down once it is back, and leaves nothing pending', async () => {
    const endpoint = { ws: `ws://127.0.0.1:${node.port}/ws` };
    const [a, b] = await steeredDuel(endpoint, endpoint, { size: 60, tickMs: 50 });
    await waitFor('the game to run a while', () => a.tick >= 20, 30_000);
    await postgres.stop();
    await endDuel(a, b);
    await sleep(2000); // the recorder reads the ending and cannot store it
    await postgres.startOn(postgres.port);

    const { replay } = await storedReplay(node.url, a.gameId);
    expect(replay.ticks).to.equal(a.over!.t);
    expect(replay.finalHash).to.equal(a.lastHash);
    expect(verifyReplay(replay)).to.deep.include({ ok: true });
    const info = (await (await fetch(`${node.url}/api/games/${a.gameId}`)).json()) as { status: string; results: unknown[] | null };
    expect(info.status).to.equal('complete');
    expect(info.results).to.have.length(2);
    // nothing left pending for the recorder, which would hold the partition's journal back from trimming for good
    await recorderCaughtUp(prefix, a.gameId);
  });

  it('skips an outbox entry it cannot decode (it is retried no more) and records the game around it', async () => {
    const endpoint = { ws: `ws://127.0.0.1:${node.port}/ws` };
    const [a, b] = await steeredDuel(endpoint, endpoint, { size: 60, tickMs: 50 });
    const redis = new Redis(REDIS_URL);
    try {
      await redis.xadd(new Keys(prefix).outbox(partitionOf(a.gameId, 4)), '*', 'd', 'not a journal batch');
    } finally {
      redis.disconnect();
    }
    await waitFor('the game to run a while', () => a.tick >= 10, 30_000);
    await endDuel(a, b);
    const { replay } = await storedReplay(node.url, a.gameId);
    expect(replay.ticks).to.equal(a.over!.t);
    expect(verifyReplay(replay)).to.deep.include({ ok: true });
    await recorderCaughtUp(prefix, a.gameId);
  });
});
