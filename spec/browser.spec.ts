// The web client in a real browser against a real node (bin/snaketron-node as a child process, its own key prefix
// and database): a solo game steered with the keyboard to its game-over screen and "play again"; a private game
// joined through its link, watched by a spectator, and replayed to a verified hash; a private lobby handed to a
// guest when its host leaves; a spectator and a queued player put back where they were after a reload; the match
// named over the countdown; boards of 40, 100 and 200 cells drawn legibly at 1280×800, and of 40 whole on a phone;
// the game-over panel without "Leave game", and of 8 players on a phone; the private-game form's complaints under
// its fields; names of twenty letters on the score board at 1280×720; a replay asked for too soon, or of no game.
// Screenshots go to spec/artifacts/ for a person to look at.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { decodeClientMessage, encodeClientMessage, type ClientMessage } from '../protocol/messages.ts';
import { MIN_WHOLE_CELL_PX } from '../web/game-view.ts';
import { ARTIFACTS as ARTIFACTS_URL, launchBrowser } from './support/browser.ts';
import { SpecClient } from './support/client.ts';
import { SpecCluster, type SnakeNode } from './support/cluster.ts';

const ARTIFACTS = fileURLToPath(ARTIFACTS_URL);
const BUILD_WEB = fileURLToPath(new URL('../scripts/build-web.mjs', import.meta.url));
const PHONE = { width: 390, height: 844 };

/** What the page exposes as `window.__snaketron.state()` (web/app.ts ClientState). */
interface ClientState {
  screen: string;
  gameId: string | null;
  tick: number | null;
  hashMismatches: number;
  snakeId: number | null;
  alive: boolean;
  role: 'player' | 'spectator' | null;
  connection: string;
  place: number | null;
  dir: string | null;
  head: [number, number] | null;
  view: { cell: number; x: number; y: number; cols: number; rows: number; whole: boolean; cssWidth: number; cssHeight: number } | null;
  following: number | null;
  followedHead: [number, number] | null;
}

const state = (page: Page): Promise<ClientState> => page.evaluate(() => (window as unknown as { __snaketron: { state(): ClientState } }).__snaketron.state());

/** Waits until the page's state satisfies `check` (a predicate over ClientState, run in the page). */
async function until(page: Page, what: string, check: string, timeout = 20_000): Promise<ClientState> {
  try {
    await page.waitForFunction(`(() => { const s = window.__snaketron && window.__snaketron.state(); return !!s && (${check}); })()`, undefined, { timeout });
  } catch (error) {
    const now = await state(page).catch(() => null);
    throw new Error(`timed out waiting for ${what}; the page is at ${JSON.stringify(now)}`, { cause: error });
  }
  return state(page);
}

describe('web client in a browser', function () {
  this.timeout(180_000);
  let cluster: SpecCluster;
  let node: SnakeNode;
  let browser: Browser;
  const pageErrors: string[] = [];
  /** what each page sent its node, decoded: what it asked for, and what it did not */
  const sent = new WeakMap<Page, ClientMessage[]>();
  /** what each page logged in its console as an error (the browser's own lines included) */
  const consoleErrors = new WeakMap<Page, string[]>();

  before(async () => {
    // The node serves web/dist as it finds it at start: build the page from this tree first.
    execFileSync(process.execPath, [BUILD_WEB], { stdio: 'inherit' });
    browser = await launchBrowser();
    cluster = await SpecCluster.create('browser');
    node = await cluster.start();
  });

  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  afterEach(() => {
    expect(pageErrors, 'errors thrown in the page').to.deep.equal([]);
  });

  async function open(name: string, viewport = { width: 1200, height: 800 }, path = '/', hasTouch = false): Promise<Page> {
    const context = await browser.newContext({ viewport, hasTouch });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
    const errors: string[] = [];
    consoleErrors.set(page, errors);
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    const messages: ClientMessage[] = [];
    sent.set(page, messages);
    page.on('websocket', (socket) => socket.on('framesent', ({ payload }) => {
      const decoded = typeof payload === 'string' ? null : decodeClientMessage(payload);
      if (decoded?.ok) messages.push(decoded.message);
    }));
    await page.goto(`${node.http}${path}`);
    await page.getByTestId('name-input').fill(name);
    await page.getByTestId('name-submit').click();
    // Past the name screen: the lobby, or wherever a link in the URL leads.
    await until(page, `${name} to be welcomed`, "s.screen !== 'name' && s.connection === 'connected'");
    return page;
  }

  /** Makes a private game from the lobby's form and waits for its lobby; returns the join code. */
  async function createPrivate(page: Page, game: { players: number; width: number; height: number; tickMs?: 250 | 150 | 100 | 70 }): Promise<string> {
    await page.getByTestId('create-players').fill(String(game.players));
    await page.getByTestId('create-width').fill(String(game.width));
    await page.getByTestId('create-height').fill(String(game.height));
    await page.getByTestId('create-speed').selectOption(String(game.tickMs ?? 150));
    await page.getByTestId('create-button').click();
    await until(page, 'the private lobby', "s.screen === 'private'");
    return (await page.getByTestId('lobby-code').textContent())?.trim() ?? '';
  }

  /** A private game of one player, started: something to watch, or a board to look at. */
  async function startAlone(page: Page, game: { width: number; height: number; tickMs?: 250 | 150 | 100 | 70 }): Promise<ClientState> {
    await createPrivate(page, { players: 1, ...game });
    await page.getByTestId('start-button').click();
    return until(page, 'the game', "s.screen === 'game' && s.gameId !== null");
  }

  /** `count` players who join a private game over the protocol (named `name` and their number) and never steer. */
  const joinOverProtocol = (code: string, count: number, name: string): Promise<SpecClient[]> =>
    Promise.all(Array.from({ length: count }, async (_, i) => {
      const guest = await SpecClient.connect(node.ws, `${name}${i}`);
      await guest.hello(`${name}${i}`);
      guest.send({ type: 'join', code });
      await guest.next('lobby');
      return guest;
    }));

  const lobbyPlayers = (page: Page, n: number): Promise<unknown> =>
    page.waitForFunction((n) => document.querySelectorAll('[data-testid=lobby-players] li').length === n, n);

  it('plays a solo game with the keyboard to the game-over screen, then plays again', async () => {
    const page = await open('solo_player');
    await page.getByTestId('solo-button').click();
    const started = await until(page, 'the solo game', "s.screen === 'game' && s.gameId !== null");
    expect(started.role).to.equal('player');
    expect(started.snakeId).to.equal(0);
    expect(started.dir).to.equal('left'); // GAME.md: one player starts facing left

    await until(page, 'the game to run', 's.tick >= 2');
    await page.keyboard.press('ArrowUp');
    await until(page, 'the snake to turn up', "s.dir === 'up'", 5_000);
    await page.screenshot({ path: `${ARTIFACTS}browser-solo-game.png` });
    await page.keyboard.press('KeyA'); // WASD: left
    await until(page, 'the snake to turn left', "s.dir === 'left'", 5_000);
    await page.keyboard.press('ArrowUp');
    await until(page, 'the snake to turn up again', "s.dir === 'up'", 5_000);

    // Heading up, the snake reaches the top wall within the arena's height in ticks.
    const over = await until(page, 'the game-over screen', "s.screen === 'over'", 30_000);
    expect(over.alive).to.equal(false);
    expect(over.place).to.equal(1);
    expect(over.hashMismatches).to.equal(0);
    expect(await page.getByTestId('game-over').isVisible()).to.equal(true);
    expect(await page.getByTestId('place').textContent()).to.match(/Score \d+ · length \d+/);
    await page.screenshot({ path: `${ARTIFACTS}browser-solo-over.png` });

    await page.getByTestId('play-again').click();
    const again = await until(page, 'a second solo game', `s.screen === 'game' && s.gameId !== ${JSON.stringify(over.gameId)}`);
    expect(again.role).to.equal('player');
    await page.getByTestId('leave-game').click();
    await until(page, 'the lobby', "s.screen === 'lobby'");
    await page.context().close();
  });

  it('takes a keyboard player from screen to screen with the focus on the next control; Escape cancels a queue; a pasted link joins', async () => {
    const focused = (page: Page) => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.testid ?? document.activeElement?.tagName);
    const host = await open('keys_host');
    expect(await focused(host), 'after the name').to.equal('solo-button');
    await host.getByTestId('duel-button').press('Enter');
    await until(host, 'the queue', "s.screen === 'queued'");
    expect(await focused(host), 'in the queue').to.equal('cancel-queue');
    await host.keyboard.press('Escape');
    await until(host, 'the lobby again', "s.screen === 'lobby'");
    expect(await focused(host), 'back in the lobby').to.equal('solo-button');
    await host.getByTestId('create-players').fill('2');
    await host.getByTestId('create-players').press('Enter');
    await until(host, 'the private lobby', "s.screen === 'private'");
    expect(await focused(host), 'the host in its lobby').to.equal('start-button');
    // the guest pastes the whole link Copy link gives, not just the code
    const link = (await host.getByTestId('lobby-link').getAttribute('href'))!;
    const guest = await open('keys_guest');
    await guest.getByTestId('join-code-input').fill(link);
    await guest.getByTestId('join-code-input').press('Enter');
    await until(guest, 'the guest in the private lobby', "s.screen === 'private'");
    await lobbyPlayers(host, 2);
    for (const page of [host, guest]) await page.context().close();
  });

  it('shares a private game by its link, is watched, and replays to a verified hash', async () => {
    const host = await open('host');
    await host.getByTestId('create-players').fill('2');
    // wide enough that the head-on meeting comes about 7 s into the game: the spectator's page, opened once the
    // game has started, is in before it ends even on a loaded machine
    await host.getByTestId('create-width').fill('100');
    await host.getByTestId('create-height').fill('20');
    await host.getByTestId('create-button').click();
    await until(host, 'the private lobby', "s.screen === 'private'");
    const code = (await host.getByTestId('lobby-code').textContent())?.trim() ?? '';
    expect(code).to.match(/^[A-Z0-9]{8}$/);
    const link = await host.getByTestId('lobby-link').getAttribute('href');
    expect(link).to.equal(`${node.http}/#join=${code}`);

    // The guest, on a phone-sized screen, follows the link: name first, then straight into the lobby.
    const guest = await open('guest', { width: 390, height: 844 }, `/#join=${code}`);
    await until(guest, 'the guest in the private lobby', "s.screen === 'private'");
    await host.waitForFunction(() => document.querySelectorAll('[data-testid=lobby-players] li').length === 2);
    await host.screenshot({ path: `${ARTIFACTS}browser-private-lobby.png` });

    await host.getByTestId('start-button').click();
    const [hostState, guestState] = await Promise.all([
      until(host, 'the host in the game', "s.screen === 'game'"),
      until(guest, 'the guest in the game', "s.screen === 'game'"),
    ]);
    expect(hostState.gameId).to.equal(guestState.gameId);
    expect([hostState.snakeId, guestState.snakeId].sort()).to.deep.equal([0, 1]);
    const gameId = hostState.gameId!;

    // the spectator follows the link the host's side panel offers
    expect(await host.getByTestId('watch-link').getAttribute('href')).to.equal(`${node.http}/#watch=${gameId}`);
    const watcher = await open('watcher', undefined, `/#watch=${gameId}`);
    const watching = await until(watcher, 'the spectator in the game', "s.screen === 'game'");
    expect(watching.role).to.equal('spectator');
    expect(watching.snakeId).to.equal(null);

    // On one row, facing each other, the two snakes meet head-on unless someone turns: the game ends either way.
    await until(guest, 'the game to run', 's.tick >= 1');
    await guest.screenshot({ path: `${ARTIFACTS}browser-private-game-phone.png` });
    const ends = await Promise.all([host, guest, watcher].map((page) => until(page, 'the end of the game', "s.screen === 'over'", 60_000)));
    for (const end of ends) expect(end.hashMismatches).to.equal(0);
    expect(await watcher.getByTestId('play-again').isVisible()).to.equal(false);
    // the next private game is the host's to make and share: a guest making one too would split them up
    expect(await host.getByTestId('play-again').isVisible()).to.equal(true);
    expect(await guest.getByTestId('play-again').isVisible()).to.equal(false);
    await watcher.screenshot({ path: `${ARTIFACTS}browser-private-over-watcher.png` });
    await guest.screenshot({ path: `${ARTIFACTS}browser-private-over-phone.png` });

    await host.getByTestId('watch-replay').click();
    await until(host, 'the replay', "s.screen === 'replay'", 20_000);
    // a snake picked on the replay's score board is followed (a 100-cell row is drawn over 10 px a cell then)
    await host.locator('[data-testid=replay-scoreboard] [data-snake="1"]').click();
    const followed = await until(host, 'the replay following snake 1', 's.following === 1 && s.view !== null && !s.view.whole');
    expect(followed.view!.cell).to.be.at.least(10);
    expect(followed.followedHead![0]).to.be.within(followed.view!.x, followed.view!.x + followed.view!.cols);
    await host.getByTestId('replay-speed').selectOption('8');
    await host.waitForFunction(() => /verified/.test(document.querySelector('[data-testid=replay-verified]')?.textContent ?? ''), undefined, { timeout: 30_000 });
    const ticks = await host.getByTestId('replay-tick').textContent();
    expect(ticks).to.match(new RegExp(`^${ends[0].tick} / ${ends[0].tick}$`));
    await host.screenshot({ path: `${ARTIFACTS}browser-replay.png` });
    for (const page of [host, guest, watcher]) await page.context().close();
  });

  it('says on the page that a game not over yet has no replay, and that an unknown one has none, with no error in the console', async () => {
    const player = await open('replay_too_soon');
    const { gameId } = await startAlone(player, { width: 100, height: 20, tickMs: 250 });
    // a link to the replay of the game still being played
    const viewer = await open('replay_early', undefined, `/#replay=${gameId}`);
    const toast = viewer.getByTestId('toast');
    await toast.filter({ hasText: `Game ${gameId} is not over yet` }).waitFor({ state: 'visible', timeout: 10_000 });
    expect((await state(viewer)).screen).to.equal('lobby');
    expect(consoleErrors.get(viewer), 'errors in the console').to.deep.equal([]);

    // no game of that id: the node's 404 is the browser's to log ("Failed to load resource"), nothing else is
    await viewer.getByTestId('watch-input').fill('no-such-game');
    await viewer.getByTestId('replay-button').click();
    await toast.filter({ hasText: 'There is no game no-such-game.' }).waitFor({ state: 'visible', timeout: 10_000 });
    expect((await state(viewer)).screen).to.equal('lobby');
    expect(consoleErrors.get(viewer)!.filter((line) => !line.startsWith('Failed to load resource')), 'errors in the console').to.deep.equal([]);
    for (const page of [player, viewer]) await page.context().close();
  });

  it('tells the guest handed a private lobby by its departing host, who can then start it', async () => {
    const host = await open('first_host');
    const code = await createPrivate(host, { players: 3, width: 40, height: 40 });
    const heir = await open('heir', undefined, `/#join=${code}`);
    await lobbyPlayers(host, 2);
    const third = await open('third', undefined, `/#join=${code}`);
    await lobbyPlayers(heir, 3);
    expect(await heir.getByTestId('start-button').isVisible()).to.equal(false);
    expect(await heir.getByTestId('lobby-notice').isVisible()).to.equal(false);

    await host.getByTestId('leave-lobby').click();
    await until(host, 'the host back in the lobby', "s.screen === 'lobby'");
    // the seats pass in join order: the first guest hosts now, and is told so
    await heir.getByTestId('lobby-notice').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await heir.getByTestId('lobby-notice').textContent()).to.match(/first_host left: you are the host now/);
    expect(await heir.getByTestId('start-button').isVisible()).to.equal(true);
    expect(await heir.getByTestId('start-button').isEnabled()).to.equal(true);
    expect(await heir.getByTestId('lobby-wait').isVisible()).to.equal(false);
    await lobbyPlayers(third, 2);
    expect(await third.getByTestId('lobby-notice').isVisible()).to.equal(false);
    expect(await third.getByTestId('start-button').isVisible()).to.equal(false);
    await heir.screenshot({ path: `${ARTIFACTS}browser-lobby-new-host.png` });

    await heir.getByTestId('start-button').click();
    const [heirState, thirdState] = await Promise.all([
      until(heir, 'the new host in the game', "s.screen === 'game'"),
      until(third, 'the other guest in the game', "s.screen === 'game'"),
    ]);
    expect(heirState.gameId).to.equal(thirdState.gameId);
    expect([heirState.snakeId, thirdState.snakeId].sort()).to.deep.equal([0, 1]);
    for (const page of [host, heir, third]) await page.context().close();
  });

  it('puts a spectator back to watching, and a queued player back in the queue (or says why not), after a reload', async () => {
    // one snake crossing 100 cells at 250 ms a tick: about 25 s to watch
    const player = await open('long_solo');
    const { gameId } = await startAlone(player, { width: 100, height: 20, tickMs: 250 });
    const watcher = await open('reload_watcher', undefined, `/#watch=${gameId}`);
    await until(watcher, 'the spectator in the game', "s.screen === 'game' && s.role === 'spectator'");
    await watcher.reload();
    const back = await until(watcher, 'the spectator watching the same game after the reload',
      `s.screen === 'game' && s.role === 'spectator' && s.gameId === ${JSON.stringify(gameId)}`);
    expect(await watcher.getByTestId('role').textContent()).to.equal('watching');
    await until(watcher, 'ticks after the reload', `s.tick > ${back.tick}`);
    for (const page of [player, watcher]) await page.context().close();

    // a free-for-all of 3: the size is kept too, or the two who queue later for 3 would not meet this player
    const waiting = await open('reload_queued');
    await waiting.getByTestId('ffa-size').selectOption('3');
    await waiting.getByTestId('ffa-button').click();
    await until(waiting, 'the queue', "s.screen === 'queued'");
    await waiting.reload();
    await until(waiting, 'the queue after the reload', "s.screen === 'queued' && s.connection === 'connected'");
    expect(await waiting.getByTestId('queued-text').textContent()).to.equal('Looking for 2 more players for a free-for-all…');
    const others = await Promise.all([open('ffa_two'), open('ffa_three')]);
    for (const page of others) {
      await page.getByTestId('ffa-size').selectOption('3');
      await page.getByTestId('ffa-button').click();
    }
    const games = await Promise.all([waiting, ...others].map((page) => until(page, 'the free-for-all', "s.screen === 'game'")));
    expect(new Set(games.map((g) => g.gameId)).size).to.equal(1);
    expect(games.map((g) => g.snakeId).sort()).to.deep.equal([0, 1, 2]);
    for (const page of [waiting, ...others]) await page.context().close();

    // refused: another tab of the same player holds its place in that queue; the reloaded tab says why
    const tab = await open('two_tabs');
    const otherTab = await tab.context().newPage();
    otherTab.on('pageerror', (error) => pageErrors.push(`two_tabs (second tab): ${error.message}`));
    await otherTab.goto(`${node.http}/`);
    await until(otherTab, 'the second tab welcomed', "s.screen === 'lobby' && s.connection === 'connected'");
    await otherTab.getByTestId('duel-button').click();
    await until(otherTab, 'the second tab in the queue', "s.screen === 'queued'");
    // the first tab was waiting for a duel when it was reloaded: what it keeps for the reload, written as it would be
    await tab.evaluate(() => sessionStorage.setItem('snaketron.resume', JSON.stringify({ kind: 'queue', mode: 'duel' })));
    await tab.reload();
    const refusal = tab.getByTestId('toast').filter({ hasText: 'Could not put you back in the queue for a duel' });
    await refusal.waitFor({ state: 'visible', timeout: 15_000 });
    expect(await refusal.textContent()).to.match(/already queued/);
    expect((await state(tab)).screen).to.equal('lobby');
    await tab.context().close();
  });

  it('names the opponent over the countdown of a matchmade game', async () => {
    const ann = await open('duel_ann');
    const bob = await open('duel_bob');
    await ann.getByTestId('duel-button').click();
    await until(ann, 'the queue', "s.screen === 'queued'");
    await bob.getByTestId('duel-button').click();
    // both at once: the countdown is 1.5 s
    const captionOverCountdown = (opponent: string): string => `s.screen === 'game' && s.tick === 0 && (() => {
      const notice = document.querySelector('[data-testid=match-notice]');
      const count = document.querySelector('[data-testid=countdown-number]');
      return notice !== null && notice.checkVisibility() && notice.textContent === 'Match found — vs ${opponent}'
        && count !== null && count.checkVisibility();
    })()`;
    await Promise.all([
      until(ann, 'the caption over ann\'s countdown', captionOverCountdown('duel_bob')),
      until(bob, 'the caption over bob\'s countdown', captionOverCountdown('duel_ann')),
    ]);
    await ann.screenshot({ path: `${ARTIFACTS}browser-match-countdown.png` });
    // and the game runs as it would have
    await Promise.all([ann, bob].map((page) => until(page, 'the duel to run', 's.tick >= 1')));
    for (const page of [ann, bob]) await page.context().close();
  });

  it('draws boards of 100 and 200 cells legibly at 1280×800, and 40 cells whole', async () => {
    const viewport = { width: 1280, height: 800 };
    const page = await open('big_boards', viewport);
    for (const size of [100, 200, 40]) {
      await startAlone(page, { width: size, height: size, tickMs: 250 });
      const { view, head } = await until(page, `the ${size}×${size} game drawn`, 's.tick >= 1 && s.view !== null');
      expect(view!.cell, `CSS px per cell on ${size}×${size}`).to.be.at.least(10);
      // the player's snake is in view, and the whole canvas is on the screen
      expect(head![0]).to.be.within(view!.x, view!.x + view!.cols);
      expect(head![1]).to.be.within(view!.y, view!.y + view!.rows);
      const box = (await page.getByTestId('game-canvas').boundingBox())!;
      expect(box.x).to.be.at.least(0);
      expect(box.y).to.be.at.least(0);
      expect(box.x + box.width).to.be.at.most(viewport.width);
      expect(box.y + box.height).to.be.at.most(viewport.height);
      if (size === 40) {
        expect(view!.whole, 'a 40×40 board is drawn whole').to.equal(true);
        expect(box.width).to.be.closeTo(box.height, 1);
      }
      await page.screenshot({ path: `${ARTIFACTS}browser-board-${size}.png` });
      await page.getByTestId('leave-game').click();
      await until(page, 'the lobby', "s.screen === 'lobby'");
    }
    await page.context().close();
  });

  it('lets a spectator of a 200×200 game follow a snake picked on the score board, and see the whole board again', async () => {
    const viewport = { width: 1280, height: 800 };
    const host = await open('big_host', viewport);
    const { gameId } = await startAlone(host, { width: 200, height: 200, tickMs: 250 });
    const fan = await open('big_fan', viewport);
    await fan.getByTestId('watch-input').fill(gameId!);
    await fan.getByTestId('watch-button').click();
    let seen = await until(fan, 'the game watched', "s.role === 'spectator' && s.tick >= 1 && s.view !== null");
    expect(seen.view!.whole, 'a spectator sees the whole board at first').to.equal(true);
    expect(seen.following).to.equal(null);
    expect(await fan.getByTestId('follow-hint').isVisible()).to.equal(true);
    const row = fan.locator('[data-testid=score-row][data-snake="0"]');
    await row.click();
    seen = await until(fan, 'the view following snake 0', 's.following === 0 && s.view !== null && !s.view.whole');
    expect(seen.view!.cell, 'CSS px per cell while following').to.be.at.least(10);
    expect(seen.followedHead![0]).to.be.within(seen.view!.x, seen.view!.x + seen.view!.cols);
    expect(seen.followedHead![1]).to.be.within(seen.view!.y, seen.view!.y + seen.view!.rows);
    expect(await row.getAttribute('aria-pressed')).to.equal('true');
    await fan.screenshot({ path: `${ARTIFACTS}browser-spectator-following.png` });
    // the keyboard toggles it back: the whole board again
    await row.focus();
    await fan.keyboard.press('Enter');
    seen = await until(fan, 'the whole board again', 's.following === null && s.view !== null && s.view.whole');
    expect(await row.getAttribute('aria-pressed')).to.equal('false');
    for (const page of [host, fan]) await page.context().close();
  });

  it('lets a player whose snake is out follow another by tapping it on the score board of a touch screen', async () => {
    // three players on a board 10 rows high: snakes 0 and 2 set off right from the left column, 1 left from the
    // right; the host's snake 0 turns into the nearer wall and is out while the others go on
    const host = await open('tapper', undefined, '/', true);
    const code = await createPrivate(host, { players: 3, width: 100, height: 10, tickMs: 250 });
    const guests = [await open('runner_1'), await open('runner_2')];
    for (const guest of guests) {
      await guest.getByTestId('join-code-input').fill(code);
      await guest.getByTestId('join-button').click();
      await until(guest, 'the guest in the private lobby', "s.screen === 'private'");
    }
    await lobbyPlayers(host, 3);
    await host.getByTestId('start-button').click();
    const started = await until(host, 'the game to run', "s.screen === 'game' && s.tick >= 1 && s.head !== null");
    expect(started.snakeId).to.equal(0);
    await host.keyboard.press(started.head![1] < 5 ? 'ArrowUp' : 'ArrowDown');
    await until(host, 'the host\'s snake out, the game going on', "s.screen === 'game' && !s.alive");
    // the hint comes with the next frame the page draws
    await host.getByTestId('follow-hint').waitFor({ state: 'visible', timeout: 5_000 });
    const row = host.locator('[data-testid=scoreboard] [data-snake="1"]');
    await row.tap();
    await until(host, 'the view following snake 1', 's.following === 1');
    // its row says so once the page draws the next frame
    await host.waitForFunction(() => document.querySelector('[data-testid=scoreboard] [data-snake="1"]')?.getAttribute('aria-pressed') === 'true',
      undefined, { timeout: 5_000 });
    for (const page of [host, ...guests]) await page.context().close();
  });

  it('shows whole names of twenty letters on the score board at 1280×720, and one too wide on hover, "(you)" in sight', async () => {
    // twenty capitals in bold with "(you)" are wider than the panel; twenty ordinary letters are not
    const host = await open('ABCDEFGHIJKLMNOPQRST', { width: 1280, height: 720 });
    const code = await createPrivate(host, { players: 3, width: 60, height: 60, tickMs: 250 });
    const others = ['snake_charmer_extra1', 'ffa_player_number_07'];
    const guests = await Promise.all(others.map(async (name) => {
      const guest = await SpecClient.connect(node.ws, name);
      await guest.hello(name);
      guest.send({ type: 'join', code });
      await guest.next('lobby');
      return guest;
    }));
    await lobbyPlayers(host, 3);
    await host.getByTestId('start-button').click();
    await until(host, 'the game to run', "s.screen === 'game' && s.tick >= 1");
    const nameCell = (snakeId: number) => host.locator(`[data-testid=score-row][data-snake="${snakeId}"] td`).first();
    const mine = nameCell(0);
    // the whole name where a pointer finds it
    expect(await mine.getAttribute('title')).to.equal('ABCDEFGHIJKLMNOPQRST (you)');
    expect([await nameCell(1).getAttribute('title'), await nameCell(2).getAttribute('title')].sort()).to.deep.equal(others.sort());
    /** The name's text: wider than its box (cut, with an ellipsis), and its box's right edge. */
    const measure = (cell: typeof mine) => cell.locator('.name').evaluate((e) => ({
      cut: e.scrollWidth > e.clientWidth, ellipsis: getComputedStyle(e).textOverflow === 'ellipsis', right: e.getBoundingClientRect().right,
    }));
    for (const snakeId of [1, 2]) expect((await measure(nameCell(snakeId))).cut, `snake ${snakeId}'s name cut short`).to.equal(false);
    const own = await measure(mine);
    expect([own.cut, own.ellipsis]).to.deep.equal([true, true]);
    // "(you)" is not what gives way
    const cell = (await mine.boundingBox())!;
    const you = (await mine.locator('.tag').boundingBox())!;
    expect(await mine.locator('.tag').textContent()).to.equal(' (you)');
    expect(you.x).to.be.at.least(own.right - 1);
    expect(you.x + you.width).to.be.at.most(cell.x + cell.width);
    await host.screenshot({ path: `${ARTIFACTS}browser-scoreboard-names.png` });
    for (const guest of guests) guest.close();
    await host.context().close();
  });

  it('shows only the game-over panel\'s own way back to the lobby once the game is over', async () => {
    const page = await open('short_game');
    await startAlone(page, { width: 20, height: 10, tickMs: 250 });
    expect(await page.getByTestId('leave-game').isVisible()).to.equal(true);
    await until(page, 'the game-over screen', "s.screen === 'over'", 30_000);
    expect(await page.getByTestId('leave-game').isVisible()).to.equal(false);
    expect(await page.getByTestId('back-to-lobby').isVisible()).to.equal(true);
    await page.screenshot({ path: `${ARTIFACTS}browser-over-buttons.png` });
    await page.getByTestId('back-to-lobby').click();
    await until(page, 'the lobby', "s.screen === 'lobby'");
    await page.context().close();
  });

  it('draws the default 40×40 board whole on a phone 390 px wide, in solo and in a duel', async () => {
    const solo = await open('phone_solo', PHONE);
    await solo.getByTestId('solo-button').click();
    // looked at before the duel's pages open: an unsteered solo snake meets the wall in about 5 s
    await expectWhole(solo);
    await solo.screenshot({ path: `${ARTIFACTS}browser-phone-solo.png` });
    const ann = await open('phone_ann', PHONE);
    const bob = await open('phone_bob', PHONE);
    await ann.getByTestId('duel-button').click();
    await until(ann, 'the queue', "s.screen === 'queued'");
    await bob.getByTestId('duel-button').click();
    for (const page of [ann, bob]) await expectWhole(page);
    await ann.screenshot({ path: `${ARTIFACTS}browser-phone-duel.png` });
    for (const page of [solo, ann, bob]) await page.context().close();

    async function expectWhole(page: Page): Promise<void> {
      const { view } = await until(page, 'the game drawn', "s.screen === 'game' && s.tick >= 1 && s.view !== null");
      // every cell on the canvas, and all of the canvas on the screen: no view that follows the snake, no minimap
      expect(view!.whole, 'the board drawn whole').to.equal(true);
      expect([view!.x, view!.y, view!.cols, view!.rows]).to.deep.equal([0, 0, 40, 40]);
      expect(view!.cell, 'CSS px per cell').to.be.at.least(MIN_WHOLE_CELL_PX);
      const box = (await page.getByTestId('game-canvas').boundingBox())!;
      expect(box.x).to.be.at.least(0);
      expect(box.y).to.be.at.least(0);
      expect(box.x + box.width).to.be.at.most(PHONE.width);
      expect(box.y + box.height).to.be.at.most(PHONE.height);
    }
  });

  it('fits the game-over panel of 8 players on a phone: its title, all the results and its buttons in reach', async () => {
    const host = await open('phone_host', PHONE);
    // 20 rows: four snakes a side, each meeting another head-on in the middle a few ticks in
    const code = await createPrivate(host, { players: 8, width: 20, height: 20, tickMs: 70 });
    // the seven others over the protocol, with names as long as a name gets; they never steer
    const guests = await joinOverProtocol(code, 7, 'a_very_long_name_no');
    await lobbyPlayers(host, 8);
    await host.getByTestId('start-button').click();
    await until(host, 'the game-over screen', "s.screen === 'over'", 60_000);
    expect(await host.locator('[data-testid=results] tr').count()).to.equal(8);
    await host.screenshot({ path: `${ARTIFACTS}browser-phone-over-8.png` });

    /** The panel on the screen, under the top bar; its title and buttons in it; its last result scrolled to in it. */
    const inReach = async (viewport: { width: number; height: number }): Promise<void> => {
      const panel = (await host.getByTestId('game-over').boundingBox())!;
      const topBar = (await host.locator('header').boundingBox())!;
      expect(panel.y, 'the panel\'s top under the top bar').to.be.at.least(topBar.y + topBar.height);
      expect(panel.x).to.be.at.least(0);
      expect(panel.x + panel.width).to.be.at.most(viewport.width);
      expect(panel.y + panel.height).to.be.at.most(viewport.height);
      const within = async (testId: string): Promise<void> => {
        const box = (await host.getByTestId(testId).boundingBox())!;
        expect(box.y, `${testId} top`).to.be.at.least(panel.y);
        expect(box.y + box.height, `${testId} bottom`).to.be.at.most(panel.y + panel.height);
      };
      for (const testId of ['over-title', 'place', 'play-again', 'watch-replay', 'back-to-lobby']) await within(testId);
      const last = host.locator('[data-testid=results] tr').last();
      await last.scrollIntoViewIfNeeded();
      const results = (await host.getByTestId('results-scroll').boundingBox())!;
      const row = (await last.boundingBox())!;
      expect(row.y).to.be.at.least(results.y - 1);
      expect(row.y + row.height).to.be.at.most(results.y + results.height + 1);
      await within('over-title');
    };
    await inReach(PHONE);
    // and with the phone turned on its side
    const landscape = { width: PHONE.height, height: PHONE.width };
    await host.setViewportSize(landscape);
    await inReach(landscape);
    await host.screenshot({ path: `${ARTIFACTS}browser-phone-over-8-landscape.png` });

    // and "Play again" takes a tap (nothing lies over it): the host's next private game
    await host.getByTestId('play-again').click();
    await until(host, 'a new private lobby', "s.screen === 'private'");
    for (const guest of guests) guest.close();
    await host.context().close();
  });

  it('says what is wrong with a private game\'s settings under the field, and makes no game until they are right', async () => {
    const page = await open('form_filler');
    const players = page.getByTestId('create-players');
    const height = page.getByTestId('create-height');
    await players.fill('');
    await height.fill('5');
    await page.getByTestId('create-button').click();
    expect(await page.getByTestId('create-height-error').textContent()).to.equal('Height must be between 10 and 200');
    expect(await page.getByTestId('create-players-error').textContent()).to.equal('Enter a whole number between 1 and 8');
    for (const field of [players, height]) expect(await field.getAttribute('aria-invalid')).to.equal('true');
    expect(await page.getByTestId('create-width').getAttribute('aria-invalid')).to.equal('false');
    expect(await page.getByTestId('create-width-error').isVisible()).to.equal(false);
    expect(await page.evaluate(() => document.activeElement?.id), 'the first field to put right has the focus').to.equal('create-players');
    expect((await state(page)).screen).to.equal('lobby');
    await page.screenshot({ path: `${ARTIFACTS}browser-create-form-errors.png` });

    // changing a field takes its complaint away
    await height.fill('30');
    expect(await height.getAttribute('aria-invalid')).to.equal('false');
    expect(await page.getByTestId('create-height-error').isVisible()).to.equal(false);
    expect(await page.getByTestId('create-players-error').isVisible()).to.equal(true);
    await players.fill('2');
    // a message left from the lobby goes with it when the next screen comes
    await page.getByTestId('join-button').click();
    await page.getByTestId('toast').waitFor({ state: 'visible', timeout: 5_000 });
    await page.getByTestId('create-button').click();
    await until(page, 'the private lobby', "s.screen === 'private'");
    expect(await page.getByTestId('toast').isVisible()).to.equal(false);
    expect(await page.getByTestId('lobby-settings').textContent()).to.match(/40×30/);
    for (const field of ['players', 'width', 'height']) {
      expect(await page.getByTestId(`create-${field}`).getAttribute('aria-invalid'), field).to.equal('false');
      expect(await page.getByTestId(`create-${field}-error`).getAttribute('hidden'), field).to.not.equal(null);
    }
    // the node was asked for one game: the one with the settings put right
    const creates = sent.get(page)!.flatMap((m) => (m.type === 'create' ? [m.settings] : []));
    expect(creates).to.deep.equal([{ players: 2, width: 40, height: 30, tickMs: 150 }]);
    await page.context().close();
  });

  it('puts the node\'s refusal of a private game\'s setting under its field, in the page\'s words', async () => {
    const page = await open('older_page');
    // a page and a node that disagree on a range, played by rewriting the page's create on its way to a height the
    // node refuses (`bad_message`: settings.height must be between 10 and 200)
    await page.context().routeWebSocket(/\/ws$/, (socket) => {
      const server = socket.connectToServer();
      socket.onMessage((frame) => {
        const decoded = typeof frame === 'string' ? null : decodeClientMessage(frame);
        if (decoded?.ok && decoded.message.type === 'create') {
          server.send(Buffer.from(encodeClientMessage({ ...decoded.message, settings: { ...decoded.message.settings, height: 5 } })));
        } else {
          server.send(frame);
        }
      });
    });
    await page.reload();
    await until(page, 'the lobby, through the route', "s.screen === 'lobby' && s.connection === 'connected'");
    await page.getByTestId('create-button').click();
    const complaint = page.getByTestId('create-height-error');
    await complaint.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await complaint.textContent()).to.equal('Height must be between 10 and 200');
    expect(await page.getByTestId('create-height').getAttribute('aria-invalid')).to.equal('true');
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal('create-height');
    expect(await page.getByTestId('toast').isVisible(), 'no toast besides').to.equal(false);
    expect((await state(page)).screen).to.equal('lobby');
    await page.context().close();
  });
  it('says each player\'s team on the results of a teams game', async () => {
    const page = await open('teams_page');
    // three others over the protocol, queued for teams with the page; nobody steers, so the snakes meet the walls
    const others = await Promise.all([0, 1, 2].map(async (i) => {
      const other = await SpecClient.connect(node.ws, `teams ${i}`);
      await other.hello(`teams_other_${i}`);
      return other;
    }));
    await page.getByTestId('teams-button').click();
    await until(page, 'the queue', "s.screen === 'queued'");
    for (const other of others) other.send({ type: 'queue', mode: 'teams' });
    await until(page, 'the game-over screen', "s.screen === 'over'", 60_000);
    const rows = page.locator('[data-testid=results] tr');
    expect(await rows.count()).to.equal(4);
    const tags = (await page.locator('[data-testid=results] tr .tag').allTextContents()).sort();
    expect(tags).to.deep.equal([' · team 1', ' · team 1', ' · team 2', ' · team 2']);
    expect(await rows.filter({ hasText: 'teams_page' }).locator('td').nth(1).getAttribute('title')).to.match(/^teams_page · team [12]$/);
    await page.screenshot({ path: `${ARTIFACTS}browser-teams-over.png` });
    for (const other of others) other.close();
    await page.context().close();
  });

  it('lets a player who opened Change name keep their name, with its button or Escape', async () => {
    const page = await open('keeper');
    for (const back of ['button', 'Escape'] as const) {
      await page.getByTestId('change-name').click();
      await until(page, 'the name screen', "s.screen === 'name'");
      // what they typed meanwhile, even a name that would be refused, is dropped with the screen
      await page.getByTestId('name-input').fill('not a name!');
      if (back === 'button') await page.getByTestId('name-cancel').click();
      else await page.keyboard.press('Escape');
      await until(page, `the lobby, by ${back}`, "s.screen === 'lobby' && s.connection === 'connected'");
    }
    expect(await page.getByTestId('player-name').textContent()).to.equal('keeper');
    // the same user as before: nothing was sent to the node but the hello it already had
    expect(sent.get(page)!.filter((m) => m.type === 'hello')).to.have.length(1);
    await page.context().close();
  });

  it('greets a first visitor on the name field, says nothing of a connection not tried yet, and tells a #join= link whose code cannot be one', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`first visit: ${error.message}`));
    await page.goto(`${node.http}/#join=abc`);
    await page.getByTestId('name-input').waitFor({ state: 'visible' });
    expect(await page.getByTestId('connection-status').isVisible(), 'a badge before any connection').to.equal(false);
    expect(await page.getByTestId('name-cancel').isVisible(), 'a way back with no name to go back with').to.equal(false);
    // the keys go to the name field at once: no click first
    await page.keyboard.type('first_visit');
    await page.keyboard.press('Enter');
    await until(page, 'the visitor welcomed', "s.screen === 'lobby' && s.connection === 'connected'");
    expect(await page.getByTestId('connection-status').isVisible()).to.equal(true);
    const toast = page.getByTestId('toast').filter({ hasText: 'is not a code' });
    await toast.waitFor({ state: 'visible', timeout: 5_000 });
    expect(await toast.textContent()).to.contain('"abc"');
    expect(await page.evaluate(() => location.hash)).to.equal('');
    await context.close();
  });

  it('copies the link for spectators when it is clicked, leaving the page in its own game and then in the lobby', async () => {
    const page = await open('sharer');
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    // a game that ends by itself soon: the snake meets the wall 20 cells ahead
    const { gameId } = await startAlone(page, { width: 25, height: 10, tickMs: 70 });
    await page.getByTestId('watch-link').click();
    await page.getByTestId('toast').filter({ hasText: 'Link for spectators copied.' }).waitFor({ state: 'visible', timeout: 5_000 });
    expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal(`${node.http}/#watch=${gameId}`);
    expect(await page.evaluate(() => location.hash), 'the page followed the link itself').to.equal('');
    await until(page, 'the game over', "s.screen === 'over'", 30_000);
    await page.getByTestId('back-to-lobby').click();
    await until(page, 'the lobby', "s.screen === 'lobby'");
    // it stays there (it went back to watching the game it had played once in the lobby)
    await page.waitForTimeout(1_000);
    expect((await state(page)).screen).to.equal('lobby');
    expect(sent.get(page)!.filter((m) => m.type === 'watch')).to.deep.equal([]);
    await page.context().close();
  });

  it('on a phone, scrolls the page on the score panel to Leave game below the fold, and steers by swipes on the board', async () => {
    const host = await open('phone_scroller', { width: 390, height: 700 }, '/', true);
    const code = await createPrivate(host, { players: 6, width: 100, height: 100, tickMs: 250 });
    const guests = await joinOverProtocol(code, 5, 'scroll_guest_');
    await lobbyPlayers(host, 6);
    await host.getByTestId('start-button').click();
    const started = await until(host, 'the game to run', "s.screen === 'game' && s.tick >= 1 && s.alive");
    const leave = (await host.getByTestId('leave-game').boundingBox())!;
    expect(leave.y + leave.height, 'Leave game below the fold').to.be.above(700);
    const cdp = await host.context().newCDPSession(host);
    /** A finger put down at (x, y) and dragged by dy in ten moves, a frame apart, then lifted. */
    const drag = async (x: number, y: number, dy: number) => {
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x, y }] });
      for (let i = 1; i <= 10; i++) {
        await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y: y + (dy * i) / 10 }] });
        await host.waitForTimeout(16);
      }
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    };
    // a finger dragging the score panel upwards: the page scrolls, the snake goes on as it went
    const panel = (await host.locator('aside.side').first().boundingBox())!;
    await drag(panel.x + panel.width / 2, Math.min(650, panel.y + panel.height / 2), -300);
    await host.waitForFunction(() => window.scrollY > 0, undefined, { timeout: 5_000 });
    expect(sent.get(host)!.filter((m) => m.type === 'turn'), 'turns from a scroll').to.deep.equal([]);
    expect((await state(host)).dir).to.equal(started.dir);
    // the board still takes swipes: one up the board turns the snake
    await host.evaluate(() => window.scrollTo(0, 0));
    const board = (await host.getByTestId('game-canvas').boundingBox())!;
    await drag(board.x + board.width / 2, board.y + board.height / 2, -120);
    await waitForTurn(host);
    for (const guest of guests) guest.close();
    await host.context().close();

    async function waitForTurn(page: Page): Promise<void> {
      const deadline = Date.now() + 5_000;
      while (sent.get(page)!.every((m) => m.type !== 'turn')) {
        if (Date.now() > deadline) throw new Error('a swipe on the board sent no turn');
        await page.waitForTimeout(50);
      }
    }
  });

  it('says the server is full when its node serves all the connections it takes, and gets in by itself once one leaves', async () => {
    const full = await SpecCluster.create('browser-full', { maxClients: 1 });
    try {
      const fullNode = await full.start();
      const occupant = await SpecClient.connect(fullNode.ws, 'occupant');
      await occupant.hello('occupant');
      const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(`waiting: ${error.message}`));
      await page.goto(fullNode.http);
      await page.getByTestId('name-input').fill('waiting');
      await page.getByTestId('name-submit').click();
      await page.getByTestId('toast').filter({ hasText: 'The server is full right now: trying again in a moment' })
        .waitFor({ state: 'visible', timeout: 10_000 });
      expect((await state(page)).connection, 'the page while the node is full').to.not.equal('connected');
      occupant.ws.close();
      await until(page, 'the page to get in once the occupant left', "s.screen === 'lobby' && s.connection === 'connected'", 30_000);
      await context.close();
    } finally {
      await full.stop();
    }
  });

  it('keeps a game through a restart of its node: counts down to each try, says the page reconnects by itself, plays on', async () => {
    const page = await open('restarted');
    // one snake on a wide board, slow: it meets the wall some 48 s after its start
    await startAlone(page, { width: 200, height: 20, tickMs: 250 });
    const before = await until(page, 'the game running', "s.screen === 'game' && s.tick >= 2");
    // every text the connection badge shows, in order
    await page.evaluate(() => {
      const badge = document.querySelector('[data-testid=connection-status]')!;
      const seen: string[] = [];
      (window as unknown as { badgeTexts: string[] }).badgeTexts = seen;
      new MutationObserver(() => seen.push(badge.textContent ?? '')).observe(badge, { childList: true, characterData: true, subtree: true });
    });
    const port = node.port;
    await node.stop();
    await page.getByTestId('toast').filter({ hasText: 'The server is restarting: reconnecting you to where you were' })
      .waitFor({ state: 'visible', timeout: 10_000 });
    // down a few tries, so that one waits long enough to count
    await page.waitForTimeout(2_500);
    node = await cluster.start(port);
    const after = await until(page, 'the game going on', `s.connection === 'connected' && s.screen === 'game' && s.tick > ${before.tick! + 3}`, 30_000);
    expect(after.gameId).to.equal(before.gameId);
    expect(after.hashMismatches).to.equal(0);
    const texts = await page.evaluate(() => (window as unknown as { badgeTexts: string[] }).badgeTexts);
    const seconds = texts.map((t) => Number(/^reconnecting in (\d+) s$/.exec(t)?.[1] ?? NaN));
    const countdown = seconds.some((n, i) => i > 0 && n === seconds[i - 1] - 1);
    expect(countdown, `a wait counted down second by second: ${texts.join(' | ')}`).to.equal(true);
    await page.context().close();
  });
});
