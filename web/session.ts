// Session rules of the page that need no DOM: what "play again" asks for, what a game-over panel and a match say,
// what the private-game form accepts, what a `#join=CODE` link means, the player's saved name and token, and where
// a reload takes the page back to.
import { RANGES, validateSettings, type Mode, type Settings } from '../protocol/settings.ts';
import {
  QUEUE_MODES, QUEUE_SIZES, type LobbySettings, type MatchPlayer, type OutgoingClientMessage, type OverMessage, type QueueMode,
} from '../protocol/messages.ts';

/** How the player got into a game, so "play again" can ask for the same. */
export type PlayMode =
  | { kind: 'solo' }
  | { kind: 'queue'; mode: QueueMode; size?: number }
  | { kind: 'private'; settings: LobbySettings };

/** The way into another game like the one with these settings and this many players. */
export function playModeOf(settings: Settings, players: number): PlayMode {
  switch (settings.mode) {
    case 'solo': return { kind: 'solo' };
    case 'duel': return { kind: 'queue', mode: 'duel' };
    case 'teams': return { kind: 'queue', mode: 'teams' };
    case 'ffa': return { kind: 'queue', mode: 'ffa', size: players };
    case 'custom': {
      const { width, height, tickMs, startLength, foodTarget } = settings;
      return { kind: 'private', settings: { players: settings.players, width, height, tickMs, startLength, foodTarget } };
    }
  }
}

export function playRequest(mode: PlayMode): OutgoingClientMessage {
  switch (mode.kind) {
    case 'solo': return { type: 'solo' };
    case 'queue': return mode.size === undefined ? { type: 'queue', mode: mode.mode } : { type: 'queue', mode: mode.mode, size: mode.size };
    case 'private': return { type: 'create', settings: mode.settings };
  }
}

export function describeQueue(mode: QueueMode, size: number): string {
  switch (mode) {
    case 'duel': return 'Looking for an opponent…';
    case 'teams': return 'Looking for 3 more players for 2 v 2…';
    case 'ffa': return `Looking for ${size - 1} more player${size === 2 ? '' : 's'} for a free-for-all…`;
  }
}

/** "ann", "ann and bo", "ann, bo and cy" */
function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/**
 * What the countdown of a matchmade game says about whom the player meets: "Match found — vs ann". `teamOf` (from
 * the game's snapshot) splits a teams match into team mates and opponents.
 */
export function matchCaption(players: readonly MatchPlayer[], myUserId: string | null, teamOf?: (snakeId: number) => number | null): string {
  const me = players.find((p) => p.userId === myUserId);
  const others = players.filter((p) => p !== me);
  const myTeam = me !== undefined && teamOf !== undefined ? teamOf(me.snakeId) : null;
  if (myTeam !== null && teamOf !== undefined) {
    const mates = others.filter((p) => teamOf(p.snakeId) === myTeam).map((p) => p.name);
    const rivals = others.filter((p) => teamOf(p.snakeId) !== myTeam).map((p) => p.name);
    return `Match found — ${mates.length > 0 ? `with ${listNames(mates)} ` : ''}vs ${listNames(rivals)}`;
  }
  return others.length === 0 ? 'Match found' : `Match found — vs ${listNames(others.map((p) => p.name))}`;
}

/** "a duel", "a free-for-all of 6", "teams 2 v 2": what a queue is for, in a sentence. */
export function queueName(mode: QueueMode, size?: number): string {
  switch (mode) {
    case 'duel': return 'a duel';
    case 'teams': return 'teams 2 v 2';
    case 'ffa': return `a free-for-all of ${size ?? QUEUE_SIZES.ffa.default}`;
  }
}

export interface OverSummary {
  title: string;
  place: string;
  /** `team`: in teams, the snake's team (0 or 1); null in the other modes */
  rows: Array<{ place: number; name: string; team: number | null; score: number; length: number; mine: boolean }>;
  /** the player's place, null for a spectator */
  myPlace: number | null;
}

/**
 * What the game-over panel says, from `over`, the names the snapshot gave the snakes and the game's mode.
 * GAME.md "End": a game of several snakes that ends with no winner (in teams, no winning team) is a draw. In
 * teams the two sides drew, so every player did; otherwise the draw is between the snakes sharing 1st place, and
 * one out before them simply lost.
 */
export function overSummary(over: OverMessage, names: readonly string[], mySnakeId: number | null, mode: Mode): OverSummary {
  const nameOf = (snakeId: number): string => names[snakeId] ?? `snake ${snakeId}`;
  const teams = mode === 'teams';
  const rows = [...over.results]
    .sort((a, b) => a.place - b.place || b.score - a.score || a.snakeId - b.snakeId)
    .map((r) => ({ place: r.place, name: nameOf(r.snakeId), team: teams ? r.team : null, score: r.score, length: r.length, mine: r.snakeId === mySnakeId }));
  const mine = mySnakeId === null ? undefined : over.results.find((r) => r.snakeId === mySnakeId);
  const myPlace = mine?.place ?? null;
  const teamWins = over.winningTeam !== null ? `Team ${over.winningTeam + 1} wins` : null;
  const drawn = over.winner === null && over.winningTeam === null;
  let title: string;
  let place: string;
  // a game of one snake (solo, or a private game started alone) has nobody to win or draw against
  if (mode === 'solo' || over.results.length === 1) {
    title = 'Game over';
    place = mine ? `Score ${mine.score} · length ${mine.length}` : '';
  } else if (mine) {
    const won = over.winner === mySnakeId || (over.winningTeam !== null && over.winningTeam === mine.team);
    const draw = drawn && (teams || mine.place === 1);
    title = won ? 'You win!' : draw ? 'Draw' : 'Game over';
    // in teams a player's place says little without the team that won
    place = `${teamWins === null ? '' : `${teamWins} · `}${placeText(mine.place)} of ${over.results.length}`;
  } else if (drawn) {
    title = 'Draw';
    const first = rows.filter((r) => r.place === 1).map((r) => r.name);
    place = teams ? 'Neither team wins' : `${listNames(first)} share 1st place`;
  } else {
    title = 'Game over';
    place = teamWins ?? (over.winner !== null ? `${nameOf(over.winner)} wins` : '');
  }
  return { title, place, rows, myPlace };
}

/** The settings a private game's form asks for. */
export const LOBBY_FORM_FIELDS = ['players', 'width', 'height', 'tickMs'] as const;
export type LobbyFormField = (typeof LOBBY_FORM_FIELDS)[number];

/** The settings as the page names them (`tickMs` is the form's "Speed"). */
const SETTING_LABELS: Readonly<Record<Exclude<keyof Settings, 'mode'>, string>> = {
  players: 'Players', width: 'Width', height: 'Height', tickMs: 'Speed', startLength: 'Start length', foodTarget: 'Food',
};

/**
 * A complaint about one setting in the node's words (`settings.height must be between 10 and 200`, a `bad_message`
 * or protocol/settings.ts's own) in the page's (`Height must be between 10 and 200`); null for any other message.
 */
export function settingProblem(message: string): { field: string; text: string } | null {
  const found = /^settings\.(\w+) (.+)$/.exec(message);
  if (found === null) return null;
  const [, field, complaint] = found;
  const label = Object.hasOwn(SETTING_LABELS, field) ? SETTING_LABELS[field as keyof typeof SETTING_LABELS] : field;
  return { field, text: `${label} ${complaint}` };
}

export type LobbyFormResult =
  | { ok: true; settings: Required<Pick<LobbySettings, LobbyFormField>> }
  | { ok: false; problems: Partial<Record<LobbyFormField, string>> };

/**
 * The private-game form's fields as typed, checked as the node will check them (protocol/settings.ts, for a
 * custom game): each one wrong gets a sentence to show beside it. An empty field is not taken for 0.
 */
export function readLobbyForm(values: Readonly<Record<LobbyFormField, string>>): LobbyFormResult {
  const settings: Partial<Record<LobbyFormField, number>> = {};
  const problems: Partial<Record<LobbyFormField, string>> = {};
  for (const field of LOBBY_FORM_FIELDS) {
    const text = values[field].trim();
    const { min, max } = RANGES[field];
    const value = Number(text);
    if (text === '') {
      problems[field] = `Enter a whole number between ${min} and ${max}`;
    } else if (!Number.isInteger(value)) {
      problems[field] = `${SETTING_LABELS[field]} must be a whole number between ${min} and ${max}`;
    } else {
      const checked = validateSettings({ mode: 'custom', [field]: value });
      if (checked.ok) settings[field] = value;
      else problems[field] = settingProblem(checked.error.message)?.text ?? checked.error.message;
    }
  }
  if (Object.keys(problems).length > 0) return { ok: false, problems };
  const { players, width, height, tickMs } = settings as Record<LobbyFormField, number>;
  return { ok: true, settings: { players, width, height, tickMs } };
}

function placeText(place: number): string {
  const tens = place % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][place % 10] ?? 'th';
  return `${place}${suffix} place`;
}

/** What a URL fragment asks for: `#join=CODE`, `#watch=GAMEID`, `#replay=GAMEID`. */
export type HashAction = { kind: 'join'; code: string } | { kind: 'watch'; gameId: string } | { kind: 'replay'; gameId: string }
  /** a `#join=` link whose code cannot be one: the player is told, not left wondering why nothing happened */
  | { kind: 'bad-join'; code: string };

export function parseHash(hash: string): HashAction | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const code = params.get('join');
  if (code !== null) {
    return /^[A-Za-z0-9]{8}$/.test(code.trim()) ? { kind: 'join', code: code.trim().toUpperCase() } : { kind: 'bad-join', code };
  }
  const watch = params.get('watch');
  if (watch) return { kind: 'watch', gameId: watch };
  const replay = params.get('replay');
  if (replay) return { kind: 'replay', gameId: replay };
  return null;
}

/**
 * The game code in what a player typed or pasted into the join box: the code itself (any case), or a link to the
 * game (`…#join=CODE`, as Copy link gives); null when it holds neither.
 */
export function joinCodeOf(text: string): string | null {
  const typed = text.trim();
  if (/^[A-Za-z0-9]{8}$/.test(typed)) return typed.toUpperCase();
  const hash = typed.indexOf('#');
  const linked = hash < 0 ? null : parseHash(typed.slice(hash));
  return linked?.kind === 'join' ? linked.code : null;
}

/** The player's name and token, kept in localStorage so a reload or a reconnect is the same user. */
export interface Profile {
  name: string | null;
  token: string | null;
  userId: string | null;
}

const KEY = 'snaketron.profile';
const LEFT_KEY = 'snaketron.left';
const RESUME_KEY = 'snaketron.resume';

/**
 * Where the page was besides a game it plays in (`welcome.game` brings that back): watching a game, or waiting in
 * a queue. Kept per tab (sessionStorage), so a reload or a reconnect goes back to it.
 */
export type Resume = { kind: 'watch'; gameId: string } | { kind: 'queue'; mode: QueueMode; size?: number };

export function loadResume(storage: Pick<Storage, 'getItem'> | null): Resume | null {
  try {
    const raw = storage?.getItem(RESUME_KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Record<string, unknown>;
    if (value.kind === 'watch' && typeof value.gameId === 'string' && value.gameId !== '') return { kind: 'watch', gameId: value.gameId };
    const mode = QUEUE_MODES.find((m) => m === value.mode);
    if (value.kind !== 'queue' || mode === undefined) return null;
    // only a free-for-all has a size to choose
    const { min, max } = QUEUE_SIZES.ffa;
    const size = value.size;
    if (mode === 'ffa' && typeof size === 'number' && Number.isInteger(size) && size >= min && size <= max) return { kind: 'queue', mode, size };
    return { kind: 'queue', mode };
  } catch {
    return null;
  }
}

/** `null` forgets it (the player went back to the lobby, or into a game of their own). */
export function saveResume(storage: Pick<Storage, 'setItem' | 'removeItem'> | null, resume: Resume | null): void {
  try {
    if (resume === null) storage?.removeItem(RESUME_KEY);
    else storage?.setItem(RESUME_KEY, JSON.stringify(resume));
  } catch {
    // not kept: a reload lands in the lobby, as it did before
  }
}

/**
 * The running game the player last left on purpose: `welcome` still names it (the game goes on without them), and
 * a reload must not put them back in it.
 */
export function leftGame(storage: Pick<Storage, 'getItem'> | null): string | null {
  try {
    return storage?.getItem(LEFT_KEY) ?? null;
  } catch {
    return null;
  }
}

export function rememberLeftGame(storage: Pick<Storage, 'setItem'> | null, gameId: string): void {
  try {
    storage?.setItem(LEFT_KEY, gameId);
  } catch {
    // not remembered: a reload puts the player back in the game, as before they left
  }
}

export function loadProfile(storage: Pick<Storage, 'getItem'> | null): Profile {
  const empty: Profile = { name: null, token: null, userId: null };
  try {
    const raw = storage?.getItem(KEY);
    if (!raw) return empty;
    const value = JSON.parse(raw) as Partial<Profile>;
    return {
      name: typeof value.name === 'string' ? value.name : null,
      token: typeof value.token === 'string' ? value.token : null,
      userId: typeof value.userId === 'string' ? value.userId : null,
    };
  } catch {
    return empty;
  }
}

export function saveProfile(storage: Pick<Storage, 'setItem'> | null, profile: Profile): void {
  try {
    storage?.setItem(KEY, JSON.stringify(profile));
  } catch {
    // Storage can be full or forbidden (private windows): the session still works, it just is not remembered.
  }
}
