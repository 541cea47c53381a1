// A SnakeTron cluster node: the runtime (partitions, workers) hosting game actors, plus the uWebSockets.js
// endpoint (sessions, matchmaking, fan-out) and the HTTP API on the same port.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import uWS from 'uWebSockets.js';
import { COUNTDOWN_MS, encodeServerMessage, MAX_FRAME_BYTES, type QueueMode } from '../../protocol/messages.ts';
import { connectDatabase, migrate } from '../../runtime/db.ts';
import { createLogger, redactUrl, type Logger } from '../../runtime/log.ts';
import { Runtime } from '../../runtime/runtime.ts';
import { DEFAULT_MAX_CLIENTS } from './config.ts';
import { ENDED_PHASES, Fanout } from './fanout.ts';
import { GameService } from './games.ts';
import { Matchmaker, type Match } from './matchmaking.ts';
import { createMetrics } from './metrics.ts';
import { LobbyAbsences } from './lobby-absences.ts';
import { RECORDER_GROUP, RecorderThread } from './recorder.ts';
import { decodeReplay } from './replay.ts';
import { SNAKETRON_MIGRATIONS, type SnaketronDb, type SnaketronTables } from './schema.ts';
import { queueSettings, Session, TurnsOnTheirWay, type SessionContext } from './sessions.ts';
import { TokenSigner } from './tokens.ts';

export interface NodeConfig {
  port: number;
  redisUrl: string;
  databaseUrl: string;
  partitions: number;
  workers: number;
  nodeId: string;
  prefix: string;
  secret?: string;
  publicUrl?: string;
  checkpointTicks: number;
  /** see RuntimeOptions.verifyReplays */
  verifyReplays?: number;
  leaseMs: number;
  /** how long a player whose connection closed keeps its seat in a private lobby */
  lobbyGraceMs: number;
  /** the most WebSocket connections served at once (default DEFAULT_MAX_CLIENTS); one more is refused */
  maxClients?: number;
  /** pino's level for the node's own logger (when `logger` is not given) and its threads */
  logLevel?: string;
  logger?: Logger;
}

const ACTOR_MODULE = new URL(import.meta.url.endsWith('.ts') ? './game-actor.ts' : './game-actor.js', import.meta.url).href;
const WEB_DIST = new URL('../../web/dist/', import.meta.url);
/** A client with this much unsent data is behind: it gets a fresh snapshot once it drains. */
const SLOW_CLIENT_BYTES = 256 * 1024;
/**
 * The largest frame uWebSockets.js takes in (and buffers until it is whole): a frame over it is dropped with the
 * connection and no close code, so it is far above the protocol's 16 KiB, which the node answers with 1009. A
 * client can make the node hold this much for it at most (the `ws` package's default limit is 100 MiB).
 */
const UWS_FRAME_LIMIT = 16 * 1024 * 1024;
/** A readiness probe of Redis and Postgres that has not answered in this long counts as failed. */
const READY_PROBE_MS = 1000;
/** How long an HTTP request may wait for Redis or Postgres before it is answered 503 (scrapers time out at 10 s). */
const HTTP_ANSWER_MS = 3000;
/** How long /api/games/:id waits for storage to have the end of a game this node saw end, and how often it looks. */
const STORAGE_CATCH_UP_MS = 2000;
const STORAGE_POLL_MS = 25;
/** How often (in matchmaking rounds of a second) matchmaking is pruned: tickets held on departed nodes, stale claims and marks. */
const PRUNE_EVERY_ROUNDS = 5;
/**
 * Turns and creates this node's clients send within 2 ms of each other go to Redis in one script call per partition.
 * Measured with 2,000 duel players on one node (2026-11-28, 25 s windows): 20,113 script calls against 30,148 with
 * no wait; with 2,250 players its main thread used 45.6–47.0% of a core against 50.1–51.1%. An ack comes up to 2 ms
 * later; turn→ack p99 at those levels is 20–80 ms, from the main thread's queue.
 */
const SUBMIT_COALESCE_MS = 2;

interface SocketData { session: Session | null }
/** uWS's LIBUS_LISTEN_EXCLUSIVE_PORT (the typings declare the enum, the module exports the number) */
const LISTEN_EXCLUSIVE_PORT = 1 as uWS.ListenOptions;

export interface RunningNode {
  readonly url: string;
  readonly port: number;
  readonly runtime: Runtime;
  /** SIGTERM: hand partitions over, tell clients, close. */
  stop(): Promise<void>;
  /** Ends the recorder's thread as a crash would (for specs); the node starts another. */
  crashRecorder(): Promise<void>;
}

export async function startNode(config: NodeConfig): Promise<RunningNode> {
  const log = config.logger ?? createLogger({ node: config.nodeId }, config.logLevel);
  // the port first: a node that cannot have it says so before it joins the cluster (it would take partitions only to
  // drop them again); its routes are added once the node is ready to serve them
  const app = uWS.App();
  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    // exclusive: a second node on the same port must fail, not share it
    app.listen(config.port, LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`cannot listen on port ${config.port}: it is in use or not allowed`));
    });
  });
  const port = uWS.us_socket_local_port(listenSocket);
  // until the routes are in: the process runs (healthz), nothing else is served yet (uWS would close the connection
  // without a word); afterwards every request no GET route takes is told which methods are served
  let serving = false;
  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod();
    const url = req.getUrl();
    if (!serving) {
      const alive = url === '/healthz';
      res.writeStatus(alive ? '200 OK' : '503 Service Unavailable');
      if (method === 'HEAD') res.endWithoutBody();
      else res.writeHeader('Content-Type', 'text/plain').end(alive ? 'ok' : 'starting: this node is joining its cluster');
      return;
    }
    if (method === 'HEAD' && (url === '/healthz' || url === '/readyz')) {
      res.writeStatus(url === '/healthz' || isReady() ? '200 OK' : '503 Service Unavailable').endWithoutBody();
      return;
    }
    // every route is a GET
    writeJson(res, '405 Method Not Allowed', { error: 'method_not_allowed', message: `${method} is not served here; every endpoint answers GET` },
      { Allow: 'GET' });
  });
  let isReady = () => false;
  const publicUrl = config.publicUrl ?? `ws://${hostname()}:${port}/ws`;

  // then storage: a node that cannot reach Redis or Postgres says so and exits
  const db: SnaketronDb = connectDatabase<SnaketronTables>(config.databaseUrl, 8);
  const runtime = await Runtime.start({
    redisUrl: config.redisUrl, databaseUrl: config.databaseUrl, actorModules: [ACTOR_MODULE], nodeId: config.nodeId,
    prefix: config.prefix, partitions: config.partitions, workers: config.workers, leaseMs: config.leaseMs,
    checkpointTicks: config.checkpointTicks, verifyReplays: config.verifyReplays, url: publicUrl, logger: log, outboxGroups: [RECORDER_GROUP],
    submitCoalesceMs: SUBMIT_COALESCE_MS,
  }).catch(async (err: unknown) => { await db.destroy(); uWS.us_listen_socket_close(listenSocket); throw err; });
  await migrate(db, 'snaketron_migrations', SNAKETRON_MIGRATIONS);
  // the token secret: configured, or generated once per cluster and kept in Redis
  const secret = config.secret ?? await runtime.clusterSetting('secret', () => randomBytes(32).toString('base64url'));
  const fanout = new Fanout(runtime, log);
  fanout.start();
  const recorder = new RecorderThread({
    redisUrl: config.redisUrl, databaseUrl: config.databaseUrl, prefix: config.prefix, nodeId: runtime.nodeId, logLevel: log.level,
  }, () => [...runtime.supervisor.owned.keys()], log);
  recorder.start();
  const games = new GameService(db, runtime.producer);
  /** whether a node is alive now, read from Redis (the membership's list is as of this node's last heartbeat) */
  const isLive = async (nodeId: string) => nodeId === config.nodeId || runtime.membership.isAlive(nodeId);
  const matchmaker = new Matchmaker(runtime.redis, runtime.keys, log, isLive);
  const absences = new LobbyAbsences(runtime.redis, runtime.keys, runtime.producer, log, config.lobbyGraceMs);

  // sessions on this node, by user, so match notifications find their players
  const sessions = new Set<Session>();
  const byUser = new Map<string, Set<Session>>();
  const totals = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
  runtime.clientCount = () => sessions.size;
  const maxClients = config.maxClients ?? DEFAULT_MAX_CLIENTS;
  /** connections refused because the node served maxClients already */
  let refusedFull = 0;

  const notifyChannel = (nodeId: string) => runtime.keys.app(`node:${nodeId}`);
  const subscriber = runtime.connectReader('notify');
  await subscriber.subscribe(notifyChannel(config.nodeId));
  const deliver = (match: Match, userId: string, createdId: string) => {
    const players = match.players.map((p, snakeId) => ({ userId: p.userId, name: p.name, snakeId }));
    const ticketId = match.players.find((p) => p.userId === userId)?.id ?? '';
    for (const session of byUser.get(userId) ?? []) if (session.matched(ticketId, match.gameId, match.mode, players, createdId)) return;
  };
  subscriber.on('message', (_channel: string, payload: string) => {
    try {
      const { match, userId, createdId } = JSON.parse(payload) as { match: Match; userId: string; createdId: string };
      deliver(match, userId, createdId);
    } catch (err) {
      log.warn({ err }, 'bad match notification');
    }
  });

  /** Starts a claimed match: the game in storage, then each player told (here, or on its node). */
  const startMatch = async (match: Match) => {
    const createdId = await games.create({
      gameId: match.gameId, settings: queueSettings(match.mode, match.players.length),
      players: match.players.map((p) => ({ userId: p.userId, name: p.name })), countdownMs: COUNTDOWN_MS.multiplayer,
    });
    await matchmaker.settled(match.gameId);
    for (const player of match.players) {
      if (player.node === config.nodeId) deliver(match, player.userId, createdId);
      else await runtime.redis.publish(notifyChannel(player.node), JSON.stringify({ match, userId: player.userId, createdId }));
    }
  };
  const matchQueue = async (mode: QueueMode, size: number) => {
    for (const match of await matchmaker.claim(mode, size)) await startMatch(match);
  };
  /** Tells the players waiting here of the matches that took their tickets when the notification was lost. */
  const tellUntold = async () => {
    const waiting = [...sessions].flatMap((session) => {
      const ticket = session.queuedTicket();
      return ticket ? [{ session, ticket }] : [];
    });
    const untold = await matchmaker.untold(waiting.map((w) => w.ticket));
    for (const { session, ticket } of waiting) {
      const gameId = untold.get(ticket.id);
      if (gameId === undefined || !(await games.exists(gameId))) continue;
      const state = await fanout.replica(gameId);
      if (!state) continue;
      const players = state.seats.map((seat) => ({ userId: seat.userId, name: seat.name, snakeId: seat.snakeId }));
      if (session.matched(ticket.id, gameId, ticket.mode, players)) log.warn({ gameId, userId: ticket.userId }, 'a match notification was lost; the player was told from its claim');
    }
  };
  const QUEUES: Array<[QueueMode, number]> = [['duel', 2], ['teams', 4], ...[2, 3, 4, 5, 6, 7, 8].map((n) => ['ffa', n] as [QueueMode, number])];
  let matchRounds = 0;
  const matchTimer = setInterval(() => {
    void (async () => {
      for (const [mode, size] of QUEUES) await matchQueue(mode, size);
      await matchmaker.sweep((id) => games.exists(id), startMatch);
      await tellUntold();
      if (++matchRounds % PRUNE_EVERY_ROUNDS === 0) {
        await matchmaker.prune();
        await absences.departed(isLive);
      }
    })().catch((err: unknown) => log.warn({ err: String(err) }, 'matchmaking round failed'));
    void absences.expire().catch((err: unknown) => log.warn({ err: String(err) }, 'ending lobby absences failed'));
  }, 1000);

  const ctx: SessionContext = {
    nodeId: config.nodeId, db, producer: runtime.producer, games, fanout, matchmaker, absences,
    turnsOnTheirWay: new TurnsOnTheirWay((gameId, inputId) => fanout.applied(gameId, inputId)),
    tokens: new TokenSigner(secret), log, matchQueue,
    sessionsOf: (userId) => byUser.get(userId) ?? [],
    redisAvailable: () => runtime.redisAvailable,
    register(session) {
      sessions.add(session);
      const set = byUser.get(session.user!.userId) ?? new Set();
      set.add(session);
      byUser.set(session.user!.userId, set);
    },
    unregister(session) {
      sessions.delete(session);
      const others = session.user ? byUser.get(session.user.userId) : undefined;
      if (others?.delete(session) && others.size === 0) byUser.delete(session.user!.userId);
      totals.messagesIn += session.messagesIn; totals.messagesOut += session.messagesOut;
      totals.bytesIn += session.bytesIn; totals.bytesOut += session.bytesOut;
    },
  };
  const live = (pick: (s: Session) => number) => [...sessions].reduce((n, s) => n + pick(s), 0);
  const metrics = createMetrics(runtime, fanout, {
    clients: () => sessions.size,
    messagesIn: () => totals.messagesIn + live((s) => s.messagesIn),
    messagesOut: () => totals.messagesOut + live((s) => s.messagesOut),
    bytesIn: () => totals.bytesIn + live((s) => s.bytesIn),
    bytesOut: () => totals.bytesOut + live((s) => s.bytesOut),
    queued: () => matchmaker.queued(),
    ready: () => isReady(),
    refusedFull: () => refusedFull,
  });

  const allSockets = new Set<uWS.WebSocket<SocketData>>();
  app.ws<SocketData>('/ws', {
    compression: uWS.DISABLED,
    // larger than the protocol's limit, so an oversized frame is closed cleanly with 1009 (uWS itself drops
    // frames over its own limit without a close code)
    maxPayloadLength: UWS_FRAME_LIMIT,
    idleTimeout: 120,
    maxBackpressure: 16 * 1024 * 1024,
    upgrade: (res, req, context) => {
      res.upgrade<SocketData>({ session: null }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => {
      if (allSockets.size >= maxClients) {
        // told why before the close, in the protocol's words: a client tries again later, or another node
        refusedFull++;
        ws.send(encodeServerMessage({
          type: 'error', code: 'unavailable', message: `this node is full: it serves at most ${maxClients} connections at once; try again shortly`,
        }), true);
        ws.end(1013, 'node full');
        return;
      }
      allSockets.add(ws);
      let open = true;
      const data = ws.getUserData();
      data.session = new Session(ctx, {
        send: (bytes, always) => {
          if (!open) return false;
          if (!always && ws.getBufferedAmount() > SLOW_CLIENT_BYTES) return false;
          ws.send(bytes, true);
          return true;
        },
        close: (code, reason) => { if (open) { open = false; ws.end(code, reason); } },
      });
      (data as SocketData & { markClosed?: () => void }).markClosed = () => { open = false; };
    },
    message: (ws, message, isBinary) => {
      if (message.byteLength > MAX_FRAME_BYTES) {
        ws.end(1009, `frames over ${MAX_FRAME_BYTES} bytes are not accepted`);
        return;
      }
      ws.getUserData().session?.receive(new Uint8Array(message.slice(0)), isBinary);
    },
    drain: (ws) => {
      if (ws.getBufferedAmount() < SLOW_CLIENT_BYTES / 4) ws.getUserData().session?.drained();
    },
    close: (ws) => {
      allSockets.delete(ws);
      const data = ws.getUserData() as SocketData & { markClosed?: () => void };
      data.markClosed?.();
      void data.session?.disconnected();
    },
  });

  /** Responses already given, or whose client went away: nothing more may be written to them. */
  const finished = new WeakSet<uWS.HttpResponse>();
  /** Answers a request once (a later answer, or one to a client that went away, is dropped). */
  const answer = (res: uWS.HttpResponse, write: () => void) => {
    if (finished.has(res)) return;
    finished.add(res);
    res.cork(write);
  };
  const json = (res: uWS.HttpResponse, status: string, body: unknown, headers: Record<string, string> = {}) =>
    answer(res, () => writeJson(res, status, body, headers));
  /**
   * Runs an async handler for a request: 500 if it throws, 503 if Redis or Postgres keep it waiting longer than
   * HTTP_ANSWER_MS (a command waits for a Redis that is down to come back; a scrape must not), nothing if the
   * client went away.
   */
  const handle = (res: uWS.HttpResponse, fn: () => Promise<void>) => {
    res.onAborted(() => { finished.add(res); });
    const timer = setTimeout(() => json(res, '503 Service Unavailable', {
      error: 'unavailable', message: `storage did not answer within ${HTTP_ANSWER_MS} ms; /readyz says whether Redis and Postgres answer`,
    }), HTTP_ANSWER_MS);
    fn().catch((err: unknown) => {
      if (finished.has(res)) return;
      log.error({ err }, 'http request failed');
      json(res, '500 Internal Server Error', { error: 'internal', message: 'the request failed; see the node log' });
    }).finally(() => clearTimeout(timer));
  };

  // ready: Redis answers the runtime's pings (none waits longer than READY_PROBE_MS), Postgres answered the last
  // probe and the node holds its share. A probe that has not answered within READY_PROBE_MS counts as a failure (a
  // query to a Postgres that is down waits for it to return).
  let ready = false;
  let probeStarted: number | null = null;
  const redisAnswers = () => runtime.redisAvailable && runtime.redisSilentMs() <= READY_PROBE_MS;
  const readyTimer = setInterval(() => {
    if (!redisAnswers()) ready = false;
    if (probeStarted !== null) {
      if (Date.now() - probeStarted > READY_PROBE_MS) ready = false;
      return;
    }
    probeStarted = Date.now();
    void (async () => {
      await db.selectFrom('games').select('id').limit(1).execute();
      ready = redisAnswers() && runtime.isSettled();
    })().catch(() => { ready = false; }).finally(() => { probeStarted = null; });
  }, 500);

  app.get('/healthz', (res) => { res.writeHeader('Content-Type', 'text/plain').end('ok'); });
  app.get('/readyz', (res) => {
    res.writeStatus(ready ? '200 OK' : '503 Service Unavailable').writeHeader('Content-Type', 'text/plain').end(ready ? 'ready' : 'not ready');
  });
  app.get('/metrics', (res) => handle(res, async () => {
    const body = await metrics.metrics();
    answer(res, () => res.writeHeader('Content-Type', metrics.contentType).end(body));
  }));
  app.get('/api/cluster', (res) => handle(res, async () => {
    json(res, '200 OK', await clusterView(runtime));
  }));
  app.get('/api/games/:id', (res, req) => {
    const id = req.getParameter(0);
    handle(res, async () => {
      let info = await games.info(id);
      // storage learns of a game's end from the recorder, up to half a second after its players: a game this
      // node's replica has seen end is answered once storage has its end too (its result with it)
      const ends = Date.now() + STORAGE_CATCH_UP_MS;
      while (info && !ENDED_PHASES.has(String(info.status)) && fanout.seenEnded(id) && Date.now() < ends) {
        await sleep(STORAGE_POLL_MS);
        info = await games.info(id);
      }
      if (!info) return json(res, '404 Not Found', { error: 'not_found', message: `no game ${clip(id)}` });
      const p = runtime.partitionOf(id);
      json(res, '200 OK', { ...info, partition: p, node: await runtime.redis.get(runtime.keys.lease(p)) });
    });
  });
  app.get('/api/games/:id/replay', (res, req) => {
    const id = req.getParameter(0);
    const format = new URLSearchParams(req.getQuery() ?? '').get('format');
    if (format !== null && format !== 'json') {
      json(res, '400 Bad Request', { error: 'bad_request', message: `format must be json, or left out for msgpack; got "${format}"` });
      return;
    }
    handle(res, async () => {
      const row = await db.selectFrom('replays').select('data').where('game_id', '=', id).executeTakeFirst();
      if (!row) return json(res, '404 Not Found', { error: 'not_found', message: `no replay of game ${clip(id)} (yet)` });
      if (format === 'json') return json(res, '200 OK', decodeReplay(row.data));
      answer(res, () => res.writeHeader('Content-Type', 'application/msgpack').end(row.data));
    });
  });
  const clusterPage = readFileSync(new URL('./pages/cluster.html', import.meta.url));
  app.get('/cluster', (res) => { res.writeHeader('Content-Type', TYPES['.html']).end(clusterPage); });
  const statics = loadStatics(log);
  app.get('/*', (res, req) => {
    const url = req.getUrl();
    const file = statics.get(url === '/' ? '/index.html' : url);
    if (file) {
      res.writeHeader('Content-Type', file.type).writeHeader('Cache-Control', 'no-cache').end(file.body);
    } else if (url === '/ws') {
      // a WebSocket upgrade of /ws never reaches here
      writeJson(res, '426 Upgrade Required', { error: 'upgrade_required', message: 'the game is played over a WebSocket at /ws (PROTOCOL.md)' },
        { Upgrade: 'websocket' });
    } else if (url.startsWith('/api/')) {
      writeJson(res, '404 Not Found', { error: 'not_found', message: `no such endpoint: ${clip(url)}` });
    } else {
      res.writeStatus('404 Not Found').writeHeader('Content-Type', 'text/plain').end(`no such page: ${clip(url)}`);
    }
  });
  isReady = () => ready;
  serving = true;

  log.info({
    port, ws: publicUrl, prefix: config.prefix, redis: redactUrl(config.redisUrl), database: redactUrl(config.databaseUrl),
    partitions: config.partitions, workers: config.workers,
  }, 'listening');

  let stopping: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    runtime,
    crashRecorder: () => recorder.crash(),
    stop() {
      stopping ??= (async () => {
        log.info('stopping: handing partitions over and closing client connections');
        clearInterval(matchTimer);
        clearInterval(readyTimer);
        uWS.us_listen_socket_close(listenSocket);
        for (const session of [...sessions]) session.shutdown('this node is stopping; reconnect and rejoin your game');
        for (const ws of [...allSockets]) { try { ws.end(1001, 'node stopping'); } catch { /* already closed */ } }
        await runtime.stop(true);
        await fanout.stop();
        await recorder.stop();
        subscriber.disconnect();
        await db.destroy();
        log.info('stopped');
      })();
      return stopping;
    },
  };
}

export async function clusterView(runtime: Runtime): Promise<unknown> {
  const nodes = await runtime.membership.nodes();
  const partitions = await Promise.all(Array.from({ length: runtime.partitions }, async (_, p) => {
    const [owner, epoch] = await Promise.all([runtime.redis.get(runtime.keys.lease(p)), runtime.redis.get(runtime.keys.epoch(p))]);
    return { partition: p, owner, epoch: epoch === null ? null : Number(epoch) };
  }));
  const games: Record<number, number> = {};
  for (const n of nodes) Object.assign(games, n.partitionActors ?? {});
  for (const o of runtime.supervisor.owned.values()) games[o.partition] = o.actors;
  return {
    node: runtime.nodeId,
    // the heartbeats' clock (Redis's): a page judges their age by it, not by the browser's clock
    now: runtime.membership.redisNow(),
    nodes: nodes.map((n) => ({ id: n.nodeId, url: n.url, started: n.startedAt, lastHeartbeat: n.lastHeartbeat, partitions: n.partitions, games: n.actors, clients: n.clients })),
    partitions: partitions.map((p) => ({ ...p, games: games[p.partition] ?? null })),
    takeovers: await runtime.supervisor.recentTakeovers(20),
  };
}

function writeJson(res: uWS.HttpResponse, status: string, body: unknown, headers: Record<string, string> = {}): void {
  res.writeStatus(status).writeHeader('Content-Type', 'application/json');
  for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
  res.end(JSON.stringify(body));
}

/** A request's path or id as an answer quotes it: no longer than a game id could be. */
function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.map': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json',
};

function loadStatics(log: Logger): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  const dir = WEB_DIST.pathname;
  if (!existsSync(dir)) {
    log.warn({ dir }, 'web client not built (run `make web`); / serves a notice');
    files.set('/index.html', { type: TYPES['.html'], body: Buffer.from('<!doctype html><p>SnakeTron: the web client is not built. Run <code>make web</code>.</p>') });
    return files;
  }
  // dot-files are a build's files on their way in (scripts/build-web.mjs)
  for (const name of readdirSync(dir).filter((n) => !n.startsWith('.'))) {
    const ext = name.slice(name.lastIndexOf('.'));
    files.set(`/${name}`, { type: TYPES[ext] ?? 'application/octet-stream', body: readFileSync(join(dir, name)) });
  }
  if (!files.has('/index.html')) files.set('/index.html', { type: TYPES['.html'], body: Buffer.from('<!doctype html><p>SnakeTron</p>') });
  return files;
}
