// The DOM side of the page: which screen shows, the forms and buttons (reported to the app as intentions), and
// the text the app puts on screen. The markup lives in index.html; nothing here knows about the socket.
import type { LobbyMessage, LobbySettings, QueueMode } from '../protocol/messages.ts';
import { NAME_PATTERN } from '../protocol/messages.ts';
import { RANGES } from '../protocol/settings.ts';
import type { ConnectionStatus } from './connection.ts';
import type { Frame } from './game-sync.ts';
import { snakeColor } from './game-view.ts';
import { joinCodeOf, LOBBY_FORM_FIELDS, readLobbyForm, type LobbyFormField } from './session.ts';

export type ScreenName = 'name' | 'lobby' | 'queued' | 'private' | 'game' | 'over' | 'replay';

/** What the player asks for. */
export interface UiActions {
  submitName(name: string): void;
  changeName(): void;
  /** back from the name screen with the name the player has */
  keepName(): void;
  solo(): void;
  queue(mode: QueueMode, size?: number): void;
  create(settings: LobbySettings): void;
  join(code: string): void;
  watch(gameId: string): void;
  openReplay(gameId: string): void;
  cancelQueue(): void;
  start(): void;
  leaveLobby(): void;
  leaveGame(): void;
  playAgain(): void;
  replayOfGame(): void;
  backToLobby(): void;
  replay(control: 'toggle' | 'step' | 'back' | 'close'): void;
  replaySeek(tick: number): void;
  replaySpeed(speed: number): void;
  /** keep this snake in sight (a spectator's or a replay's choice, or a player's once out), or see the whole board */
  follow(snakeId: number | null): void;
}

export interface ResultRow {
  place: number;
  name: string;
  /** in teams, the snake's team (0 or 1), said beside its name as the score board says it; null otherwise */
  team: number | null;
  score: number;
  length: number;
  mine: boolean;
}

export interface OverInfo {
  title: string;
  place: string;
  rows: ResultRow[];
  canPlayAgain: boolean;
}

const SCREEN_IDS: Record<ScreenName, string> = {
  name: 'screen-name',
  lobby: 'screen-lobby',
  queued: 'screen-queued',
  private: 'screen-private',
  game: 'screen-game',
  over: 'screen-game',
  replay: 'screen-replay',
};

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`index.html has no #${id}`);
  return element as T;
}

/** The private-game form's fields: `#create-players`, each with its complaint in `#create-players-error`. */
const SETTING_INPUT_IDS: Readonly<Record<LobbyFormField, string>> = {
  players: 'create-players', width: 'create-width', height: 'create-height', tickMs: 'create-speed',
};

function settingInput(field: LobbyFormField): HTMLInputElement | HTMLSelectElement {
  return byId<HTMLInputElement | HTMLSelectElement>(SETTING_INPUT_IDS[field]);
}

/** "1st", "2nd", "3rd", "4th", … */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${suffix}`;
}

/** A viewer who may follow a snake of its choice, and the one it follows (null: the whole board). */
export interface Following {
  snakeId: number | null;
}

const followKey = (follow: Following | null): string => (follow === null ? '-' : String(follow.snakeId));
const boardKey = (frame: Frame): string => frame.snakes.map((s) => `${s.score}/${s.body.length}/${s.alive ? 1 : 0}`).join(',');

export class Screens {
  current: ScreenName = 'name';
  readonly gameCanvas = byId<HTMLCanvasElement>('game-canvas');
  readonly gameArena = byId<HTMLDivElement>('game-arena');
  readonly gameScreen = byId<HTMLElement>('screen-game');
  readonly replayCanvas = byId<HTMLCanvasElement>('replay-canvas');
  readonly replayArena = byId<HTMLDivElement>('replay-arena');
  private toastTimer: ReturnType<typeof setTimeout> | null = null;
  private retryCountdown: ReturnType<typeof setInterval> | null = null;
  private shown = false;
  private scoreKey = '';
  private replayScoreKey = '';

  constructor(private readonly actions: UiActions) {
    this.bind();
  }

  private bind(): void {
    const a = this.actions;
    const click = (id: string, action: () => void): void => byId(id).addEventListener('click', action);

    byId<HTMLFormElement>('name-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const name = byId<HTMLInputElement>('name-input').value.trim();
      if (!NAME_PATTERN.test(name)) {
        this.nameError('A name is 1–20 letters, digits, _ or -.');
        return;
      }
      this.nameError(null);
      a.submitName(name);
    });
    click('change-name', () => a.changeName());
    click('name-cancel', () => a.keepName());
    this.bindFollowing(byId('scoreboard'));
    this.bindFollowing(byId('replay-scoreboard'));
    click('solo-button', () => a.solo());
    click('duel-button', () => a.queue('duel'));
    click('ffa-button', () => a.queue('ffa', Number(byId<HTMLSelectElement>('ffa-size').value)));
    click('teams-button', () => a.queue('teams'));
    for (const field of LOBBY_FORM_FIELDS) {
      const input = settingInput(field);
      // the ranges the node checks (protocol/settings.ts), for the number inputs' arrows; the page checks them itself
      if (input instanceof HTMLInputElement) {
        input.min = String(RANGES[field].min);
        input.max = String(RANGES[field].max);
      }
      // a complaint goes once the player changes what it was about
      input.addEventListener('input', () => this.settingError(field, null));
    }
    byId<HTMLFormElement>('create-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const form = readLobbyForm(Object.fromEntries(LOBBY_FORM_FIELDS.map((field) => [field, settingInput(field).value])) as Record<LobbyFormField, string>);
      for (const field of LOBBY_FORM_FIELDS) this.settingError(field, form.ok ? null : form.problems[field] ?? null);
      if (!form.ok) {
        settingInput(LOBBY_FORM_FIELDS.find((field) => form.problems[field] !== undefined) ?? 'players').focus();
        return;
      }
      a.create(form.settings);
    });
    byId<HTMLFormElement>('join-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const code = joinCodeOf(byId<HTMLInputElement>('join-code').value);
      if (code === null) {
        this.toast('A game code is 8 letters or digits (or paste the game\'s link).');
        return;
      }
      a.join(code);
    });
    const watchId = (): string | null => {
      const id = byId<HTMLInputElement>('watch-id').value.trim();
      if (id === '') this.toast('Enter the id of a game first.');
      return id === '' ? null : id;
    };
    byId<HTMLFormElement>('watch-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const id = watchId();
      if (id !== null) a.watch(id);
    });
    click('replay-button', () => {
      const id = watchId();
      if (id !== null) a.openReplay(id);
    });
    click('cancel-queue', () => a.cancelQueue());
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.current === 'queued') a.cancelQueue();
      if (event.key === 'Escape' && this.current === 'name' && !byId('name-cancel').hidden) a.keepName();
    });
    click('start-button', () => a.start());
    click('leave-lobby', () => a.leaveLobby());
    click('copy-code', () => { void this.copyLink(); });
    click('leave-game', () => a.leaveGame());
    byId<HTMLAnchorElement>('watch-link').addEventListener('click', (event) => {
      // a plain click shares the link (followed in this page, it made the player a spectator of the game they play,
      // once back in the lobby); one that opens a tab or a window does what links do
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      void this.copyWatchLink();
    });
    click('play-again', () => a.playAgain());
    click('watch-replay', () => a.replayOfGame());
    click('back-to-lobby', () => a.backToLobby());
    click('replay-play', () => a.replay('toggle'));
    click('replay-step', () => a.replay('step'));
    click('replay-back', () => a.replay('back'));
    click('replay-close', () => a.replay('close'));
    byId<HTMLInputElement>('replay-seek').addEventListener('input', (event) => {
      a.replaySeek(Number((event.target as HTMLInputElement).value));
    });
    byId<HTMLSelectElement>('replay-speed').addEventListener('change', (event) => {
      a.replaySpeed(Number((event.target as HTMLSelectElement).value));
    });
  }

  show(screen: ScreenName): void {
    // the first screen shown is a change too: a first visit's name field takes the keys at once
    const changed = !this.shown || screen !== this.current;
    this.shown = true;
    // a message about the screen the player leaves would be taken for one about the next
    if (changed) this.hideToast();
    this.current = screen;
    const visible = SCREEN_IDS[screen];
    for (const id of new Set(Object.values(SCREEN_IDS))) byId(id).hidden = id !== visible;
    byId('game-over').hidden = screen !== 'over';
    // the game-over panel has its own way back to the lobby
    byId('leave-game').hidden = screen === 'over';
    document.body.dataset.screen = screen;
    // the name screen offers a way back only when the player asked for it (offerKeepName), not when a name is needed
    if (changed && screen === 'name') byId('name-cancel').hidden = true;
    // the same screen again (a fresh snapshot, say) leaves the focus where the player put it
    if (changed) this.focusOn(screen, byId(visible));
  }

  /**
   * A keyboard player lands on a new screen's first control (the one marked data-autofocus, if usable), not on the
   * page itself. The game's own screen takes the arrow keys wherever the focus is, and a button focused there would
   * take Space: it gets none. The game-over panel focuses its own (focusPlayAgain).
   */
  private focusOn(screen: ScreenName, container: HTMLElement): void {
    const active = document.activeElement;
    if (screen === 'over') return;
    if (screen === 'game') {
      if (active instanceof HTMLElement && active !== document.body) active.blur();
      return;
    }
    if (active !== null && active !== document.body && container.contains(active)) return;
    const usable = (e: HTMLElement) => !e.hidden && !(e as HTMLButtonElement).disabled;
    const marked = [...container.querySelectorAll<HTMLElement>('[data-autofocus]')].find(usable);
    (marked ?? [...container.querySelectorAll<HTMLElement>('input, button')].find(usable))?.focus();
  }

  // ---- top bar ----

  /** The name screen, opened to change a name the player has: it may go back with that one (button or Escape). */
  offerKeepName(): void {
    byId('name-cancel').hidden = false;
  }

  /** The connection badge; a retry ahead counts down to it, second by second. */
  setConnection(status: ConnectionStatus, retryInMs: number | null): void {
    const badge = byId('connection');
    badge.dataset.status = status;
    if (this.retryCountdown !== null) clearInterval(this.retryCountdown);
    this.retryCountdown = null;
    if (status !== 'reconnecting' || retryInMs === null) {
      badge.textContent = status === 'reconnecting' ? 'reconnecting…' : status;
      return;
    }
    const retryAt = Date.now() + retryInMs;
    const tell = () => {
      const seconds = Math.ceil((retryAt - Date.now()) / 1000);
      badge.textContent = seconds > 0 ? `reconnecting in ${seconds} s` : 'reconnecting…';
    };
    tell();
    this.retryCountdown = setInterval(tell, 250);
  }

  setLatency(ms: number | null): void {
    byId('latency').textContent = ms === null ? '– ms' : `${Math.round(ms)} ms`;
  }

  setPlayer(name: string | null): void {
    byId('me').textContent = name ?? '';
  }

  // ---- name ----

  prefillName(name: string): void {
    byId<HTMLInputElement>('name-input').value = name;
  }

  nameError(message: string | null): void {
    const element = byId('name-error');
    element.hidden = message === null;
    element.textContent = message ?? '';
    byId('name-input').setAttribute('aria-invalid', message === null ? 'false' : 'true');
  }

  // ---- lobby, queue, private game ----

  /** What is wrong with one field of the private-game form, shown under it (null: nothing). */
  private settingError(field: LobbyFormField, message: string | null): void {
    const element = byId(`${SETTING_INPUT_IDS[field]}-error`);
    element.hidden = message === null;
    element.textContent = message ?? '';
    settingInput(field).setAttribute('aria-invalid', message === null ? 'false' : 'true');
  }

  /**
   * The node's complaint about a setting (session.ts settingProblem), under its field of the form, which gets the
   * focus. False if the form is not on screen or has no such field: the caller says it some other way.
   */
  settingRefused(field: string, message: string): boolean {
    const known = LOBBY_FORM_FIELDS.find((f) => f === field);
    if (known === undefined || this.current !== 'lobby') return false;
    this.settingError(known, message);
    settingInput(known).focus();
    return true;
  }

  queued(text: string): void {
    byId('queued-text').textContent = text;
  }

  /** `notice`: what changed for this player (they were handed the game when its host left), or null. */
  privateLobby(lobby: LobbyMessage, isHost: boolean, shareUrl: string, notice: string | null): void {
    byId('lobby-code').textContent = lobby.code;
    const link = byId<HTMLAnchorElement>('lobby-link');
    link.href = shareUrl;
    link.textContent = shareUrl;
    const s = lobby.settings;
    byId('lobby-settings').textContent = `${lobby.players.length} of ${s.players} players · ${s.width}×${s.height} · ${s.tickMs} ms per tick`;
    const list = byId('lobby-players');
    list.replaceChildren(...lobby.players.map((p) => {
      const item = document.createElement('li');
      item.textContent = p.name;
      if (p.userId === lobby.host) item.className = 'host';
      return item;
    }));
    const start = byId<HTMLButtonElement>('start-button');
    start.hidden = !isHost;
    start.disabled = !isHost;
    byId('lobby-wait').hidden = isHost;
    const note = byId('lobby-notice');
    note.hidden = notice === null;
    if (note.textContent !== (notice ?? '')) note.textContent = notice ?? '';
  }

  focusStart(): void {
    byId<HTMLButtonElement>('start-button').focus();
  }

  /** The lobby's link to the clipboard; where the page may not write there, its code selected to copy by hand. */
  private copyLink(): Promise<void> {
    return this.copy(byId<HTMLAnchorElement>('lobby-link').href, 'Link copied.', () => {
      const selection = window.getSelection();
      const range = document.createRange();
      range.selectNodeContents(byId('lobby-code'));
      selection?.removeAllRanges();
      selection?.addRange(range);
      this.toast('Copy the selected code, or the link below it.', 'info');
    });
  }

  /** The game's link for spectators to the clipboard; where the page may not write there, it opens in a tab to share. */
  private copyWatchLink(): Promise<void> {
    const url = byId<HTMLAnchorElement>('watch-link').href;
    return this.copy(url, 'Link for spectators copied.', () => { window.open(url, '_blank', 'noopener'); });
  }

  /** Puts `url` on the clipboard and says `copied`; `otherwise` where there is none (plain http on another host). */
  private async copy(url: string, copied: string, otherwise: () => void): Promise<void> {
    try {
      await navigator.clipboard.writeText(url);
      this.toast(copied, 'info');
    } catch {
      otherwise();
    }
  }

  // ---- game ----

  gameInfo(gameId: string, role: string): void {
    byId('game-id').textContent = gameId;
    // anyone who opens it watches the game (a `#watch=` link, followed once they are in the lobby)
    byId<HTMLAnchorElement>('watch-link').href = `${location.origin}/#watch=${encodeURIComponent(gameId)}`;
    byId('role').textContent = role === 'spectator' ? 'watching' : '';
    byId('my-score-box').hidden = role === 'spectator';
    byId<HTMLButtonElement>('leave-game').textContent = role === 'spectator' ? 'Stop watching' : 'Leave game';
    this.scoreKey = '';
  }

  /** The seconds before step 1 over the arena, and under them who the match is against (`caption`). */
  countdown(text: string | null, caption: string | null): void {
    const element = byId('countdown');
    const hidden = text === null && caption === null;
    if (element.hidden !== hidden) element.hidden = hidden;
    const number = byId('countdown-number');
    if (number.hidden !== (text === null)) number.hidden = text === null;
    if (text !== null && number.textContent !== text) number.textContent = text;
    const notice = byId('match-notice');
    if (notice.hidden !== (caption === null)) notice.hidden = caption === null;
    if (caption !== null && notice.textContent !== caption) notice.textContent = caption;
  }

  gameStatus(text: string | null): void {
    const element = byId('game-status');
    if (element.hidden !== (text === null)) element.hidden = text === null;
    if (text !== null && element.textContent !== text) element.textContent = text;
  }

  /**
   * The score board and the HUD, redrawn only when something on them changed. `follow`: the viewer may pick a
   * snake to follow from the board (a spectator, a player who is out), and which one it follows.
   */
  scores(frame: Frame, mySnakeId: number | null, teams: boolean, follow: Following | null): void {
    byId('tick').textContent = String(frame.tick);
    // the rows stay as they are while nothing on them changes, so a click or the keyboard focus lands on them
    const key = `${boardKey(frame)}:${followKey(follow)}`;
    if (key === this.scoreKey) return;
    this.scoreKey = key;
    const mine = mySnakeId === null ? undefined : frame.snakes[mySnakeId];
    byId('my-score').textContent = mine ? String(mine.score) : '–';
    byId('follow-hint').hidden = follow === null;
    this.fillScoreboard(byId('scoreboard'), frame, mySnakeId, teams, follow);
  }

  private fillScoreboard(body: HTMLElement, frame: Frame, mySnakeId: number | null, teams: boolean, follow: Following | null): void {
    const rows = [...frame.snakes].sort((a, b) => Number(b.alive) - Number(a.alive) || b.score - a.score || a.id - b.id);
    // the row a keyboard user is on keeps the focus through the redraw
    const focused = body.contains(document.activeElement) ? (document.activeElement as HTMLElement).closest('tr')?.dataset.snake : undefined;
    body.replaceChildren(...rows.map((snake) => {
      const row = document.createElement('tr');
      row.dataset.testid = 'score-row';
      row.dataset.snake = String(snake.id);
      row.dataset.alive = String(snake.alive);
      if (snake.id === mySnakeId) row.classList.add('mine');
      if (!snake.alive) row.classList.add('dead');
      const name = document.createElement('td');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = snakeColor(snake, teams);
      const tag = (snake.id === mySnakeId ? ' (you)' : '') + (teams ? ` · team ${snake.team + 1}` : '');
      name.append(nameWithTag(snake.name, tag, swatch));
      // a name too long for the panel ends in an ellipsis: the whole of it shows on hover
      name.title = snake.name + tag + (snake.alive ? '' : ' (out)');
      const score = document.createElement('td');
      score.textContent = String(snake.score);
      const length = document.createElement('td');
      length.textContent = String(snake.body.length);
      row.append(name, score, length);
      if (follow !== null && snake.alive) this.followable(row, snake.id, follow.snakeId === snake.id);
      return row;
    }));
    if (focused !== undefined) body.querySelector<HTMLElement>(`tr[data-snake="${focused}"].followable`)?.focus();
  }

  over(info: OverInfo): void {
    byId('over-title').textContent = info.title;
    byId('place').textContent = info.place;
    byId('results').replaceChildren(...info.rows.map((r) => {
      const row = document.createElement('tr');
      if (r.mine) row.className = 'mine';
      for (const text of [ordinal(r.place), r.name, String(r.score), String(r.length)]) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      const team = r.team === null ? '' : ` · team ${r.team + 1}`;
      // as on the score board: the name gives way, its team stays in sight
      if (team !== '') row.cells[1].replaceChildren(nameWithTag(r.name, team));
      // the name's cell may cut it short (style.css): the whole of it on hover
      row.cells[1].title = r.name + team;
      return row;
    }));
    byId<HTMLButtonElement>('play-again').hidden = !info.canPlayAgain;
    byId<HTMLButtonElement>('play-again').disabled = false;
  }

  /** Focus the main action of the game-over panel, for keyboard players. */
  focusPlayAgain(): void {
    const button = byId<HTMLButtonElement>('play-again');
    (button.hidden ? byId<HTMLButtonElement>('back-to-lobby') : button).focus();
  }

  // ---- replay ----

  replayInfo(info: { gameId: string; tick: number; end: number | null; playing: boolean; verified: boolean | null; mismatchAt: number | null }): void {
    byId('replay-game-id').textContent = info.gameId;
    byId('replay-tick').textContent = info.end === null ? String(info.tick) : `${info.tick} / ${info.end}`;
    byId<HTMLButtonElement>('replay-play').setAttribute('aria-label', info.playing ? 'Pause' : 'Play');
    byId('replay-icon-play').toggleAttribute('hidden', info.playing);
    byId('replay-icon-pause').toggleAttribute('hidden', !info.playing);
    const seek = byId<HTMLInputElement>('replay-seek');
    const max = Math.max(info.end ?? 0, info.tick);
    if (seek.max !== String(max)) seek.max = String(max);
    if (document.activeElement !== seek) seek.value = String(info.tick);
    byId('replay-verified').textContent = info.mismatchAt !== null
      ? `diverged at tick ${info.mismatchAt}`
      : info.verified === true ? 'hash verified ✓' : info.verified === false ? 'final hash differs' : '';
  }

  replayScores(frame: Frame, teams: boolean, follow: Following): void {
    const key = `${boardKey(frame)}:${followKey(follow)}`;
    if (key === this.replayScoreKey) return;
    this.replayScoreKey = key;
    this.fillScoreboard(byId('replay-scoreboard'), frame, null, teams, follow);
  }

  /** A score row the viewer clicks (or presses Enter or Space on) to follow that snake, or to stop following it. */
  private followable(row: HTMLTableRowElement, snakeId: number, followed: boolean): void {
    row.classList.add('followable');
    if (followed) row.classList.add('followed');
    row.tabIndex = 0;
    row.setAttribute('role', 'button');
    row.setAttribute('aria-pressed', String(followed));
    row.title = followed ? 'Following: click to see the whole board' : 'Click to follow this snake';
  }

  /** Score boards whose rows follow a snake (see followable): one listener each, as rows come and go. */
  private bindFollowing(body: HTMLElement): void {
    const toggle = (target: EventTarget | null): void => {
      const row = target instanceof Element ? target.closest<HTMLElement>('tr.followable') : null;
      if (row) this.actions.follow(row.getAttribute('aria-pressed') === 'true' ? null : Number(row.dataset.snake));
    };
    body.addEventListener('click', (event) => toggle(event.target));
    body.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' && event.key !== ' ') return;
      event.preventDefault();
      toggle(event.target);
    });
  }

  resetReplayControls(): void {
    byId<HTMLSelectElement>('replay-speed').value = '1';
    this.replayScoreKey = '';
  }

  // ---- messages ----

  private hideToast(): void {
    byId('toast').hidden = true;
    if (this.toastTimer !== null) clearTimeout(this.toastTimer);
    this.toastTimer = null;
  }

  toast(message: string, kind: 'error' | 'info' = 'error'): void {
    const element = byId('toast');
    element.textContent = message;
    element.className = `toast ${kind}`;
    element.hidden = false;
    if (this.toastTimer !== null) clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { element.hidden = true; }, 4000);
  }
}

/**
 * A name that gives way (cut with an ellipsis, style.css `.who`) to what follows it, which stays in sight: "(you)",
 * a team. `swatch`, when given, comes first.
 */
function nameWithTag(name: string, tag: string, swatch?: HTMLElement): HTMLElement {
  const who = document.createElement('div');
  who.className = 'who';
  const label = document.createElement('span');
  label.className = 'name';
  label.textContent = name;
  if (swatch) who.append(swatch);
  who.append(label);
  if (tag !== '') {
    const extra = document.createElement('span');
    extra.className = 'tag';
    extra.textContent = tag;
    who.append(extra);
  }
  return who;
}
