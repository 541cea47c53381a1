// The web client in a real browser against a real node (bin/snaketron-node as a child process, its own key prefix
// and database): a solo game steered with the keyboard to its game-over screen and "play again"; a private game
// joined through its link, watched by a spectator, and replayed to a verified hash. Screenshots go to
// spec/artifacts/ for a person to look at.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS as ARTIFACTS_URL, launchBrowser } from './support/browser.ts';
import { SpecCluster, type SnakeNode } from './support/cluster.ts';

const ARTIFACTS = fileURLToPath(ARTIFACTS_URL);
const BUILD_WEB = fileURLToPath(new URL('../scripts/build-web.mjs', import.meta.url));

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

  async function open(name: string, viewport = { width: 1200, height: 800 }, path = '/'): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
    await page.goto(`${node.http}${path}`);
    await page.getByTestId('name-input').fill(name);
    await page.getByTestId('name-submit').click();
    // Past the name screen: the lobby, or wherever a link in the URL leads.
    await until(page, `${name} to be welcomed`, "s.screen !== 'name' && s.connection === 'connected'");
    return page;
  }

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
    await host.getByTestId('replay-speed').selectOption('8');
    await host.waitForFunction(() => /verified/.test(document.querySelector('[data-testid=replay-verified]')?.textContent ?? ''), undefined, { timeout: 30_000 });
    const ticks = await host.getByTestId('replay-tick').textContent();
    expect(ticks).to.match(new RegExp(`^${ends[0].tick} / ${ends[0].tick}$`));
    await host.screenshot({ path: `${ARTIFACTS}browser-replay.png` });
    for (const page of [host, guest, watcher]) await page.context().close();
  });
});
