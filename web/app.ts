// The SnakeTron page: wires the socket (connection.ts), the client's copy of the game (game-sync.ts), the canvas
// (game-view.ts), steering (input.ts), the screens (screens.ts) and replays (replay.ts). The node is the
// authority on everything; this file decides what to ask it for and what to show.
import { DIR_NAMES, type Dir } from '../protocol/engine.ts';
import type {
  ErrorMessage, HelloMessage, LobbyMessage, MatchMessage, OutgoingClientMessage, OverMessage, Rid, ServerMessage, SnapshotMessage,
  TickMessage, WelcomeMessage,
} from '../protocol/messages.ts';
import { Connection, socketUrl, type ConnectionStatus } from './connection.ts';
import { GameSync, TurnIntent, type Frame } from './game-sync.ts';
import { GameView, type BoardView } from './game-view.ts';
import { bindSteering } from './input.ts';
import { ReplayClock, ReplayPlayer, gameUrl, parseReplay, replayUrl } from './replay.ts';
import { Screens, type ScreenName, type UiActions } from './screens.ts';
import {
  describeQueue, leftGame, loadProfile, loadResume, matchCaption, overSummary, parseHash, playModeOf, playRequest, queueName,
  rememberLeftGame, saveProfile, saveResume, settingProblem, type HashAction, type PlayMode, type Resume,
} from './session.ts';

/** What the browser specs read (`window.__snaketron.state()`). */
export interface ClientState {
  screen: ScreenName;
  gameId: string | null;
  tick: number | null;
  hashMismatches: number;
  snakeId: number | null;
  alive: boolean;
  role: 'player' | 'spectator' | null;
  connection: ConnectionStatus;
  place: number | null;
  resyncs: number;
  /** the player's snake's direction as the node last confirmed it */
  dir: 'up' | 'right' | 'down' | 'left' | null;
  /** the head of the player's snake (board cells) */
  head: [number, number] | null;
  /** the part of the board the game canvas (or the replay's) shows, as last drawn (GameView.view) */
  view: BoardView | null;
  /** the snake the game's view keeps in sight: the player's own, or one a viewer picked from the score board */
  following: number | null;
  /** that snake's head (board cells) */
  followedHead: [number, number] | null;
}

declare global {
  interface Window { __snaketron: { state(): ClientState } }
}

/** A request waiting for its reply, by `rid`. */
interface Pending {
  kind: 'hello' | 'play' | 'join' | 'watch' | 'rejoin' | 'resync' | 'start' | 'turn' | 'leave' | 'unqueue' | 'leave-then';
  message: OutgoingClientMessage;
  /** on `bad_state` (the connection is still in a game, queue or lobby), leave and ask again once */
  retryAfterLeave: boolean;
  /** for `leave-then`: what to send once `left` arrives */
  then?: Pending;
  gameId?: string;
  /** going back to what the page was doing before a reload or reconnect (`resume`); counts the tries */
  restoring?: number;
}

const RESYNC_RETRY_MS = 4000;
/** Errors that say the node could not answer now, not that the request was wrong: it is asked again after RETRY_MS. */
const TRANSIENT = new Set<string>(['unavailable', 'internal', 'rate_limited']);
const RETRY_MS = 2000;
const REPLAY_FETCH_TRIES = 6;
/** A queue refused right after a reload (the closed connection's ticket not yet taken out) is asked again this often. */
const RESTORE_TRIES = 4;
/** The "Match found" caption stays at least this long after the match, over the countdown and into the game. */
const MATCH_CAPTION_MS = 2000;

const storage = (() => { try { return window.localStorage; } catch { return null; } })();
let profile = loadProfile(storage);
/** per tab, so it survives a reload but not into another tab */
const tabStorage = (() => { try { return window.sessionStorage; } catch { return null; } })();
let resume: Resume | null = loadResume(tabStorage);
let connectionStatus: ConnectionStatus = 'connecting';
let helloWithToken = false;
let welcomed = false;
/** counts welcomes: a retry planned on one connection is dropped once another has been welcomed */
let welcomes = 0;

let sync: GameSync | null = null;
let over: OverMessage | null = null;
let lobby: LobbyMessage | null = null;
let playMode: PlayMode | null = null;
/** the private game this player hosts (made it, or was handed it when its host left): its next one is theirs to make */
let hostedGame: string | null = null;
let pendingHash: HashAction | null = parseHash(location.hash);
const intent = new TurnIntent();
let turnSeq = 0;
let hashMismatches = 0;
let resyncs = 0;
let resyncTimer: ReturnType<typeof setTimeout> | null = null;
/** the node said the game's owner is being replaced (`status recovering`) */
let recovering = false;
/** the match the player was queued into, until its game's snapshot turns it into a caption */
let matched: MatchMessage | null = null;
/** shown over the countdown of a matchmade game */
let matchNotice: { gameId: string; text: string; until: number } | null = null;
/** said in the private lobby to a player who was handed it when its host left */
let hostNotice: { gameId: string; text: string } | null = null;
const pending = new Map<Rid, Pending>();

let replay: { player: ReplayPlayer; clock: ReplayClock; returnTo: ScreenName } | null = null;
/** the snake a viewer chose to follow from the score board (a spectator, a player who is out, a replay), if any */
let watched: number | null = null;

// ---- sending ----------------------------------------------------------------------------------------------------

function request(message: OutgoingClientMessage, kind: Pending['kind'], extra: Partial<Pending> = {}): number | null {
  const rid = connection.send(message);
  if (rid === null) {
    if (kind !== 'turn') screens.toast('Not connected to the server: try again once the badge says connected.');
    return null;
  }
  pending.set(rid, { kind, message, retryAfterLeave: false, ...extra });
  return rid;
}

function sendHello(): void {
  helloWithToken = profile.token !== null;
  const hello: HelloMessage = { type: 'hello', v: 1 };
  if (profile.token !== null) hello.token = profile.token;
  if (profile.name !== null) hello.name = profile.name;
  request(hello, 'hello');
}

function play(mode: PlayMode): void {
  playMode = mode;
  request(playRequest(mode), 'play', { retryAfterLeave: true });
}

/** Keeps where the page is (watching a game, waiting in a queue) for a reload; null: nothing to go back to. */
function remember(next: Resume | null): void {
  resume = next;
  saveResume(tabStorage, next);
}

/** After a reload or a reconnect: back to watching the same game, or into the same queue. */
function restore(what: Resume, tries = 1): void {
  if (what.kind === 'watch') {
    request({ type: 'watch', gameId: what.gameId }, 'watch', { gameId: what.gameId, restoring: tries });
    return;
  }
  playMode = what.size === undefined ? { kind: 'queue', mode: what.mode } : { kind: 'queue', mode: what.mode, size: what.size };
  request(playRequest(playMode), 'play', { restoring: tries });
}

/**
 * A restore the node refused. Right after a reload the closed connection may still hold the queue ticket (the
 * node takes it out as it notices the close), so a refusal is asked again a few times; then the player is told.
 */
function restoreRefused(message: ErrorMessage, replyTo: Pending): void {
  const what = resume;
  if (what === null) return; // the player has moved on meanwhile (cancelled, or went elsewhere)
  const tries = replyTo.restoring ?? RESTORE_TRIES;
  const passing = TRANSIENT.has(message.code) || (what.kind === 'queue' && message.code === 'bad_state');
  if (passing && tries < RESTORE_TRIES) {
    const planned = welcomes;
    setTimeout(() => {
      if (welcomed && welcomes === planned && resume === what) restore(what, tries + 1);
    }, RETRY_MS / 2);
    return;
  }
  remember(null);
  if (screens.current === 'queued') screens.show('lobby');
  screens.toast(what.kind === 'queue'
    ? `Could not put you back in the queue for ${queueName(what.mode, what.size)}: ${message.message}`
    : `Could not go back to watching game ${what.gameId}: ${message.message}`);
}

/**
 * Asks for a fresh snapshot of the current game. On a new connection (the lobby state) that is a `rejoin` (or
 * `watch`); on the same one the session is still in the game, and `rejoin` is a lobby request, so `leave` first.
 */
function requestResync(inGame: boolean): void {
  if (sync === null) return;
  resyncs++;
  const gameId = sync.gameId;
  const message: OutgoingClientMessage = sync.role === 'spectator' ? { type: 'watch', gameId } : { type: 'rejoin', gameId };
  if (inGame) afterLeave({ kind: 'resync', message, retryAfterLeave: false, gameId });
  else request(message, 'resync', { retryAfterLeave: true, gameId });
  if (resyncTimer !== null) clearTimeout(resyncTimer);
  // No snapshot yet (the node was busy, or the socket dropped): ask again.
  resyncTimer = setTimeout(() => {
    resyncTimer = null;
    if (sync !== null && sync.gameId === gameId && sync.resyncing && connection.isOpen && welcomed) requestResync(true);
  }, RESYNC_RETRY_MS);
}

/** Sends `leave`, then `next` once `left` (or an error) arrives. */
function afterLeave(next: Pending): void {
  request({ type: 'leave' }, 'leave-then', { then: next });
}

function sendTurn(dir: Dir): void {
  if (sync === null || sync.role !== 'player' || !sync.alive || sync.status !== 'running') return;
  const current = sync.myDir;
  if (current === null || !intent.offer(current, dir)) return;
  if (request({ type: 'turn', dir: DIR_NAMES[dir], seq: turnSeq++ }, 'turn') === null) intent.clear();
}

// ---- what the node says -----------------------------------------------------------------------------------------

function onMessage(message: ServerMessage): void {
  const replyTo = message.rid !== undefined ? pending.get(message.rid) : undefined;
  if (message.rid !== undefined) pending.delete(message.rid);
  switch (message.type) {
    case 'welcome': return onWelcome(message);
    case 'pong': return screens.setLatency(connection.latency);
    case 'queued':
      remember(message.mode === 'ffa' ? { kind: 'queue', mode: message.mode, size: message.size } : { kind: 'queue', mode: message.mode });
      screens.queued(describeQueue(message.mode, message.size));
      return screens.show('queued');
    case 'unqueued':
      if (resume?.kind === 'queue') remember(null);
      if (screens.current === 'queued') screens.show('lobby');
      return;
    case 'match':
      // the game it made is the player's now: a reload rejoins it (welcome.game), not the queue
      remember(null);
      matched = message;
      screens.queued(`${matchCaption(message.players, profile.userId)}. Get ready…`);
      return;
    case 'lobby': return onLobby(message);
    case 'snapshot': return onSnapshot(message);
    case 'tick': return onTick(message);
    case 'over': return onOver(message);
    case 'status':
      if (sync !== null && sync.gameId === message.gameId) {
        recovering = message.status === 'recovering';
      }
      return;
    case 'ack': return;
    case 'left':
      if (replyTo?.kind === 'leave-then' && replyTo.then) {
        const next = replyTo.then;
        request(next.message, next.kind, { ...next, retryAfterLeave: false });
        return;
      }
      if (screens.current === 'private' || screens.current === 'queued') {
        lobby = null;
        screens.show('lobby');
      }
      return;
    case 'error': return onError(message, replyTo);
  }
}

function onWelcome(message: WelcomeMessage): void {
  welcomed = true;
  welcomes++;
  profile = { name: message.name, token: message.token, userId: message.userId };
  saveProfile(storage, profile);
  screens.setPlayer(message.name);
  if (screens.current === 'name') screens.show('lobby');

  // Pick up where the last connection left off.
  if (sync !== null && (over === null || over.gameId !== sync.gameId)) {
    sync.suspend();
    requestResync(false);
  } else if (message.game !== null && message.game !== over?.gameId && message.game !== leftGame(storage)) {
    request({ type: 'rejoin', gameId: message.game }, 'rejoin', { gameId: message.game });
  } else if (resume !== null) {
    // a link opened meanwhile is newer than where the page was
    if (pendingHash === null) restore(resume);
    else remember(null);
  } else if (screens.current === 'private' && lobby !== null) {
    request({ type: 'join', code: lobby.code }, 'join');
  }
  if (screens.current === 'lobby') followPendingHash();
}

/** Follows a `#join=`, `#watch=` or `#replay=` link that waited for the lobby state. */
function followPendingHash(): void {
  if (pendingHash === null) return;
  const action = pendingHash;
  pendingHash = null;
  history.replaceState(null, '', location.pathname + location.search);
  runHashAction(action);
}

function runHashAction(action: HashAction): void {
  if (action.kind === 'bad-join') {
    screens.toast(`This link's game code "${action.code.slice(0, 20)}" is not a code: a code is 8 letters or digits. Ask for the link again.`);
    return;
  }
  if (action.kind === 'join') request({ type: 'join', code: action.code }, 'join', { retryAfterLeave: true });
  else if (action.kind === 'watch') request({ type: 'watch', gameId: action.gameId }, 'watch', { retryAfterLeave: true });
  else void openReplay(action.gameId, false);
}

function onLobby(message: LobbyMessage): void {
  const before = lobby;
  lobby = message;
  playMode = { kind: 'private', settings: { ...message.settings } };
  const isHost = message.host === profile.userId;
  if (isHost) hostedGame = message.gameId;
  else if (hostedGame === message.gameId) hostedGame = null;
  if (!isHost || hostNotice?.gameId !== message.gameId) hostNotice = null;
  const handedOver = isHost && before !== null && before.gameId === message.gameId && before.host !== message.host;
  if (handedOver) {
    const formerHost = before.players.find((p) => p.userId === before.host)?.name ?? 'The host';
    hostNotice = { gameId: message.gameId, text: `${formerHost} left: you are the host now. Start the game when everyone is in.` };
  }
  screens.privateLobby(message, isHost, `${location.origin}/#join=${message.code}`, hostNotice?.text ?? null);
  if (screens.current !== 'private') screens.show('private');
  if (handedOver) {
    screens.toast('You are the host now.', 'info');
    screens.focusStart();
  }
}

function onSnapshot(message: SnapshotMessage): void {
  const now = performance.now();
  if (resyncTimer !== null) clearTimeout(resyncTimer);
  resyncTimer = null;
  if (sync !== null && sync.gameId === message.gameId) {
    sync.resync(message, now);
  } else {
    sync = new GameSync(message, now);
    over = null;
    watched = null;
  }
  intent.clear();
  lobby = null;
  hostNotice = null;
  replay?.clock.pause();
  replay = null;
  // a reload goes back to watching this game; a game the player plays in is welcome.game's to bring back
  remember(message.role === 'spectator' && message.state.status !== 'complete' ? { kind: 'watch', gameId: message.gameId } : null);
  if (matched !== null && matched.gameId === message.gameId) {
    const snakes = message.state.snakes;
    const teamOf = (snakeId: number): number | null => snakes.find((s) => s.id === snakeId)?.team ?? null;
    matchNotice = {
      gameId: message.gameId,
      text: matchCaption(matched.players, profile.userId, matched.mode === 'teams' ? teamOf : undefined),
      until: now + MATCH_CAPTION_MS,
    };
    matched = null;
  }
  if (message.role === 'player') {
    // "play again" after a private game makes a new lobby: the host's, to share; a guest goes back to the lobby
    // and joins it (each making one of their own split the friends up)
    const mode = playModeOf(message.state.settings, message.state.snakes.length);
    playMode = mode.kind === 'private' && hostedGame !== message.gameId ? null : mode;
  }
  screens.gameInfo(message.gameId, message.role);
  recovering = false;
  if (over !== null && over.gameId === message.gameId) {
    screens.show('over');
  } else if (message.state.status === 'complete') {
    // A finished game with no `over` to go with it (a rejoin after the end): show what the snapshot knows.
    screens.over({
      title: 'This game has ended',
      place: '',
      rows: [...sync.frame.snakes].sort((a, b) => Number(b.alive) - Number(a.alive) || b.score - a.score)
        .map((s, i) => ({
          place: i + 1, name: s.name, team: message.state.settings.mode === 'teams' ? s.team : null, score: s.score, length: s.body.length,
          mine: s.id === sync?.snakeId,
        })),
      canPlayAgain: playMode !== null && message.role === 'player',
    });
    screens.show('over');
  } else {
    screens.show('game');
  }
}

function onTick(message: TickMessage): void {
  if (sync === null) return;
  const outcome = sync.applyTick(message, performance.now());
  if (outcome === 'applied') {
    const mine = message.turns.find(([snakeId]) => snakeId === sync?.snakeId);
    intent.stepped(mine ? mine[1] : null);
    if (!sync.alive) intent.clear();
    recovering = false;
  } else if (outcome === 'mismatch' || outcome === 'gap') {
    if (outcome === 'mismatch') {
      hashMismatches++;
      console.warn(`snaketron: tick ${message.t} of ${message.gameId} hashes to ${sync.hash()}, the node says ${message.hash}; asking for a snapshot`);
    }
    requestResync(true);
  }
}

function onOver(message: OverMessage): void {
  if (sync === null || sync.gameId !== message.gameId) return;
  over = message;
  intent.clear();
  // nothing left to watch: a reload lands in the lobby
  if (sync.role === 'spectator') remember(null);
  const names = sync.frame.snakes.map((s) => s.name);
  const summary = overSummary(message, names, sync.snakeId, sync.settings.mode);
  screens.over({ ...summary, canPlayAgain: sync.role === 'player' && playMode !== null });
  screens.show('over');
  screens.focusPlayAgain();
}

function onError(message: ErrorMessage, replyTo: Pending | undefined): void {
  if (replyTo?.kind === 'hello') {
    if (helloWithToken && message.code === 'unauthenticated') {
      // The token expired or came from another cluster: be a new guest with the same name.
      profile = { ...profile, token: null, userId: null };
      saveProfile(storage, profile);
      connection.restart();
    } else if (helloWithToken || TRANSIENT.has(message.code)) {
      // The node could not answer now (its storage is away): the same hello again shortly, keeping the player.
      screens.toast(`The server could not let you in yet (${message.message}); trying again…`);
      setTimeout(() => connection.restart(), RETRY_MS);
    } else {
      screens.show('name');
      screens.nameError(message.message);
    }
    return;
  }
  if (replyTo?.restoring !== undefined) {
    restoreRefused(message, replyTo);
    return;
  }
  if (replyTo !== undefined && message.code === 'bad_state' && replyTo.retryAfterLeave) {
    afterLeave({ ...replyTo, retryAfterLeave: false });
    return;
  }
  if (replyTo?.kind === 'leave-then' && replyTo.then) {
    // Nothing to leave: the session is already in the lobby state.
    const next = replyTo.then;
    request(next.message, next.kind, { ...next, retryAfterLeave: false });
    return;
  }
  switch (replyTo?.kind) {
    case 'turn':
      intent.clear();
      return;
    case 'leave':
    case 'leave-then':
    case 'unqueue':
      return;
    case 'resync':
    case 'rejoin':
      if (TRANSIENT.has(message.code)) {
        // a game being resynced has its retry timer; the rejoin of welcome.game asks again here
        const gameId = replyTo.gameId;
        if (replyTo.kind === 'rejoin' && sync === null && gameId !== undefined) {
          setTimeout(() => { if (sync === null && welcomed) request({ type: 'rejoin', gameId }, 'rejoin', { gameId }); }, RETRY_MS);
        }
        return;
      }
      if (sync !== null && sync.gameId === replyTo.gameId) {
        sync = null;
        screens.show('lobby');
      }
      if (sync === null) screens.toast(`Could not get back into the game: ${message.message}`);
      return;
    case 'join':
      if (screens.current === 'private') {
        lobby = null;
        screens.show('lobby');
      }
      break;
    case 'play': {
      // a setting the node would not take is said in the page's words, under its field when the form is on screen
      const problem = replyTo.message.type === 'create' && message.code === 'bad_message' ? settingProblem(message.message) : null;
      if (problem !== null) {
        if (!screens.settingRefused(problem.field, problem.text)) screens.toast(problem.text);
        return;
      }
      if (screens.current === 'over') screens.focusPlayAgain();
      break;
    }
  }
  if (message.code === 'unauthenticated') connection.restart();
  if (replyTo === undefined && message.code === 'unavailable') {
    // unasked, it comes from a node on its way down (its words are for any client), or, before any welcome, from a
    // node serving all the connections it takes (it closes with 1013): this page reconnects by itself either way
    screens.toast(welcomed ? 'The server is restarting: reconnecting you to where you were…' : 'The server is full right now: trying again in a moment…');
    return;
  }
  screens.toast(message.message);
}

// ---- what the player does ---------------------------------------------------------------------------------------

const actions: UiActions = {
  submitName(name) {
    if (profile.name !== name) profile = { name, token: null, userId: null };
    saveProfile(storage, profile);
    if (welcomed && profile.token !== null) {
      screens.show('lobby');
      return;
    }
    if (connectionStatus === 'connected') connection.restart();
    else connection.start();
  },
  changeName() {
    screens.prefillName(profile.name ?? '');
    screens.show('name');
    if (profile.name !== null) screens.offerKeepName();
  },
  keepName() {
    if (profile.name === null) return;
    screens.nameError(null);
    screens.show('lobby');
  },
  solo: () => play({ kind: 'solo' }),
  queue: (mode, size) => play(size === undefined ? { kind: 'queue', mode } : { kind: 'queue', mode, size }),
  create: (settings) => play({ kind: 'private', settings }),
  join: (code) => { request({ type: 'join', code }, 'join', { retryAfterLeave: true }); },
  watch: (gameId) => { request({ type: 'watch', gameId }, 'watch', { retryAfterLeave: true }); },
  openReplay: (gameId) => { void openReplay(gameId, false); },
  cancelQueue() {
    remember(null);
    request({ type: 'unqueue' }, 'unqueue');
    screens.show('lobby');
  },
  start: () => { request({ type: 'start' }, 'start'); },
  leaveLobby() {
    request({ type: 'leave' }, 'leave');
    lobby = null;
    screens.show('lobby');
  },
  leaveGame: () => backToLobby(),
  playAgain() {
    if (playMode === null) return;
    // The session is still in the finished game until it leaves it.
    if (sync !== null) {
      afterLeave({ kind: 'play', message: playRequest(playMode), retryAfterLeave: false });
    } else {
      play(playMode);
    }
  },
  replayOfGame() {
    if (sync !== null) void openReplay(sync.gameId, true);
  },
  backToLobby: () => backToLobby(),
  replay(control) {
    if (replay === null) return;
    const now = performance.now();
    const { player, clock } = replay;
    if (control === 'toggle') {
      if (clock.playing) clock.pause();
      else {
        if (player.atEnd) player.seek(0, now);
        clock.play(now);
      }
    } else if (control === 'step') {
      clock.pause();
      player.step(now);
    } else if (control === 'back') {
      clock.pause();
      player.seek(player.tick - 1, now);
    } else {
      const returnTo = replay.returnTo;
      replay = null;
      screens.show(returnTo === 'over' && sync !== null ? 'over' : 'lobby');
    }
  },
  replaySeek(tick) {
    if (replay === null) return;
    replay.clock.pause();
    replay.player.seek(tick, performance.now());
  },
  replaySpeed(speed) {
    replay?.clock.setSpeed(speed, performance.now());
  },
  follow(snakeId) {
    watched = snakeId;
  },
};

function backToLobby(): void {
  if (sync !== null && over === null && sync.role === 'player') rememberLeftGame(storage, sync.gameId);
  if (sync !== null) request({ type: 'leave' }, 'leave');
  remember(null);
  sync = null;
  over = null;
  intent.clear();
  if (resyncTimer !== null) clearTimeout(resyncTimer);
  resyncTimer = null;
  screens.show('lobby');
  // a link opened while the player was in a game is followed now
  if (welcomed) followPendingHash();
}

async function openReplay(gameId: string, justFinished: boolean): Promise<void> {
  const response = await fetchReplay(gameId, justFinished ? REPLAY_FETCH_TRIES : 1);
  if (response === null) return;
  try {
    const parsed = parseReplay(await response.json());
    if (parsed.gameId === '') parsed.gameId = gameId;
    const now = performance.now();
    const player = new ReplayPlayer(parsed, now);
    const clock = new ReplayClock(parsed.settings.tickMs);
    const returnTo = screens.current === 'over' ? 'over' : 'lobby';
    replay = { player, clock, returnTo };
    watched = null;
    screens.resetReplayControls();
    screens.show('replay');
    clock.play(now);
  } catch (error) {
    screens.toast(`The replay could not be read: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The replay, or null once the player is told why not. A replay is stored as its game ends, so it is asked for
 * only once the game's record is past `running`: the browser would log a 404 in the console as a failed request.
 * Right after the end the record may take a moment to say so: it is asked `tries` times, a second apart.
 */
async function fetchReplay(gameId: string, tries: number): Promise<Response | null> {
  const get = (url: string): Promise<Response> => fetch(url, { headers: { accept: 'application/json' } });
  try {
    for (let attempt = 1; ; attempt++) {
      const game = await get(gameUrl(gameId));
      if (!game.ok) {
        screens.toast(game.status === 404 ? `There is no game ${gameId}.` : `The replay could not be loaded (HTTP ${game.status}).`);
        return null;
      }
      const { status } = (await game.json()) as { status?: unknown };
      if (status !== 'lobby' && status !== 'running') break;
      if (attempt >= tries) {
        screens.toast(`Game ${gameId} is not over yet: its replay can be watched once it ends.`);
        return null;
      }
      screens.toast('Waiting for the replay to be written…', 'info');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const response = await get(replayUrl(gameId));
    if (response.ok) return response;
    screens.toast(response.status === 404 ? `There is no replay of game ${gameId}.` : `The replay could not be loaded (HTTP ${response.status}).`);
    return null;
  } catch {
    screens.toast('Could not reach the server for the replay.');
    return null;
  }
}

// ---- drawing ----------------------------------------------------------------------------------------------------

function countdownText(): string | null {
  if (sync === null || sync.startAt === null || sync.tick > 0) return null;
  const left = connection.clock.toLocal(sync.startAt) - Date.now();
  return left > 0 ? (left / 1000).toFixed(1) : null;
}

/** "Match found — vs NAME" over the countdown of a matchmade game (and a moment longer, should the countdown be short). */
function matchCaptionText(now: number, counting: boolean): string | null {
  if (matchNotice === null || sync === null || sync.gameId !== matchNotice.gameId) return null;
  return counting || now < matchNotice.until ? matchNotice.text : null;
}

/** The small badge over the arena: why the game is not moving, if it is not. */
function gameStatusText(now: number): string | null {
  if (sync === null) return null;
  if (connectionStatus !== 'connected') return 'reconnecting…';
  if (recovering) return 'recovering…';
  if (sync.resyncing) return 'catching up…';
  // No tick for a while in a running game: the node is stalled or its owner is being replaced.
  if (sync.status === 'running' && sync.tick > 0 && now - sync.frame.steppedAt > Math.max(1000, 6 * sync.tickMs)) return 'waiting for the server…';
  if (sync.role === 'player' && sync.status === 'running' && sync.tick > 0 && !sync.alive) return 'you are out: watching the others to the end';
  return null;
}

function frame(now: number): void {
  const screen = screens.current;
  if ((screen === 'game' || screen === 'over') && sync !== null) {
    const teams = sync.settings.mode === 'teams';
    const follow = gameFollow(screen, sync);
    gameView.render(sync.frame, now, {
      mySnakeId: sync.snakeId,
      hint: sync.alive ? intent.next : null,
      teams,
      tickMs: sync.tickMs,
      follow: follow.snakeId,
      picked: follow.picked,
    });
    screens.scores(sync.frame, sync.snakeId, teams, follow.picked ? { snakeId: follow.snakeId } : null);
    const count = screen === 'game' ? countdownText() : null;
    screens.countdown(count, screen === 'game' ? matchCaptionText(now, count !== null) : null);
    screens.gameStatus(screen === 'game' ? gameStatusText(now) : null);
  } else if (screen === 'replay' && replay !== null) {
    const { player, clock } = replay;
    for (let due = clock.due(now); due > 0; due--) {
      if (!player.step(clock.steppedAt)) {
        clock.pause();
        break;
      }
    }
    const teams = player.replay.settings.mode === 'teams';
    const following = { snakeId: alive(player.frame, watched) };
    replayView.render(player.frame, now, {
      mySnakeId: null, hint: null, teams, tickMs: clock.stepMs, follow: following.snakeId, picked: true,
    });
    screens.replayScores(player.frame, teams, following);
    screens.replayInfo({
      gameId: player.replay.gameId,
      tick: player.tick,
      end: player.end,
      playing: clock.playing,
      verified: player.verified,
      mismatchAt: player.firstMismatch,
    });
  }
  requestAnimationFrame(frame);
}

// ---- start ------------------------------------------------------------------------------------------------------

const screens = new Screens(actions);
const gameView = new GameView(screens.gameCanvas, screens.gameArena);
const replayView = new GameView(screens.replayCanvas, screens.replayArena);
const connection = new Connection(socketUrl(location), {
  open: () => {
    welcomed = false;
    sendHello();
  },
  message: onMessage,
  status(status, retryInMs) {
    connectionStatus = status;
    screens.setConnection(status, retryInMs);
    if (status !== 'connected') {
      welcomed = false;
      // Ticks sent while the socket was down are lost: the copy waits for the snapshot a rejoin brings.
      sync?.suspend();
      screens.setLatency(null);
    }
  },
  badFrame: (error) => console.warn('snaketron: unreadable frame from the node', error),
});

// the game screen takes swipes but on its score panel: on a phone the board is only the top part of the screen, and
// the page scrolls on the panel to what lies below the fold (Leave game, with many players)
// a player whose snake is out steers nothing: their keys and taps are the page's (picking a snake to follow)
bindSteering(screens.gameScreen, () => screens.current === 'game' && sync?.role === 'player' && sync.alive, sendTurn);
window.addEventListener('hashchange', () => {
  const action = parseHash(location.hash);
  if (action === null) return;
  pendingHash = action;
  if (welcomed && screens.current === 'lobby') followPendingHash();
});

/** The snake, if it is alive in the frame (a snake that died is no longer followed: the board is seen whole). */
function alive(frame: Frame, snakeId: number | null): number | null {
  return snakeId !== null && frame.snakes[snakeId]?.alive ? snakeId : null;
}

/**
 * The snake the game's view keeps in sight (null: the whole board). A player in a game keeps their own in sight;
 * a spectator and a player who is out follow the snake they pick on the score board (`picked`) while it lives;
 * the finished game is seen whole.
 */
function gameFollow(screen: ScreenName, game: GameSync): { snakeId: number | null; picked: boolean } {
  if (screen !== 'game') return { snakeId: null, picked: false };
  if (game.role === 'player' && game.alive) return { snakeId: game.snakeId, picked: false };
  return { snakeId: alive(game.frame, watched), picked: true };
}

/** The snake the view on the screen keeps in sight, as last drawn. */
function followedSnake(): number | null {
  if (screens.current === 'replay' && replay !== null) return alive(replay.player.frame, watched);
  return sync !== null ? gameFollow(screens.current, sync).snakeId : null;
}

function headOf(frame: Frame | undefined, snakeId: number | null): [number, number] | null {
  const head = snakeId !== null ? frame?.snakes[snakeId]?.body[0] : undefined;
  return head === undefined ? null : [head[0], head[1]];
}

window.__snaketron = {
  state: () => ({
    screen: screens.current,
    gameId: sync?.gameId ?? null,
    tick: sync?.tick ?? null,
    hashMismatches,
    snakeId: sync?.snakeId ?? null,
    alive: sync?.alive ?? false,
    role: sync?.role ?? null,
    connection: connectionStatus,
    place: over !== null && sync !== null ? over.results.find((r) => r.snakeId === sync?.snakeId)?.place ?? null : null,
    resyncs,
    dir: sync?.myDir != null ? DIR_NAMES[sync.myDir] : null,
    head: headOf(sync?.frame, sync?.snakeId ?? null),
    following: followedSnake(),
    followedHead: headOf(screens.current === 'replay' ? replay?.player.frame : sync?.frame, followedSnake()),
    view: screens.current === 'replay' && replay !== null ? replayView.view
      : (screens.current === 'game' || screens.current === 'over') && sync !== null ? gameView.view : null,
  }),
};

if (profile.name !== null) {
  screens.prefillName(profile.name);
  screens.setPlayer(profile.name);
  screens.show('lobby');
  connection.start();
} else {
  screens.show('name');
}
requestAnimationFrame(frame);
