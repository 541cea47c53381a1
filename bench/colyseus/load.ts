// The load driver: duel bots (bot.ts) that play games back to back, joining again when a game is over, and what
// they measured in a window of time:
// - tick delivery: the bot's receive time minus the `ts` the server put in the tick, one wall clock on one machine;
// - tick interval: the time between two consecutive ticks of one game, received (150 ms when nothing lags);
// - turn → ack: from `room.send('turn')` to the `ack` with the same seq, on the driver's own clock.
//
// Run alone: `npx --prefix bench/colyseus tsx bench/colyseus/load.ts --url http://127.0.0.1:2567 --players 200
// --seconds 10 [--warmup 3]` prints one window, measured after a warm-up window, as JSON. Started by
// bench/colyseus.ts with an IPC channel, it takes DriverCommands instead.

import { parseArgs } from 'node:util';
import { Client } from '@colyseus/sdk';
import { DuelBot, Gate, sleep, Stats } from './bot.ts';
import { loopDelayP99, watchEventLoop, type CpuTime, type DriverCommand, type DriverReport, type DriverWindow } from './control.ts';
import { LatencyHistogram } from './histogram.ts';

/** joinOrCreate calls in flight at once: a steady stream of players, not a stampede on the matchmaker. */
const JOINS_IN_FLIGHT = 32;

class LoadDriver {
  private readonly sdk: Client;
  private readonly joins = new Gate(JOINS_IN_FLIGHT);
  private readonly bots: DuelBot[] = [];
  private readonly running: Array<Promise<void>> = [];
  private readonly stats = new Stats();
  private readonly loopDelay = watchEventLoop();

  constructor(url: string) {
    this.sdk = new Client(url);
  }

  get playing(): number { return this.bots.filter((bot) => bot.playing).length; }

  /** Adds bots up to `players`, then waits (at most `timeoutMs`) until nine in ten of them are in a stepping game. */
  async grow(players: number, timeoutMs = 60_000): Promise<void> {
    while (this.bots.length < players) {
      const bot = new DuelBot(this.sdk, this.stats, this.joins);
      this.bots.push(bot);
      this.running.push(bot.playUntilStopped());
    }
    const deadline = Date.now() + timeoutMs;
    while (this.playing < 0.9 * players && Date.now() < deadline) await sleep(100);
  }

  async measure(ms: number): Promise<DriverWindow> {
    this.stats.reset();
    this.loopDelay.reset();
    const cpuBefore = process.cpuUsage();
    await sleep(ms);
    const cpu: CpuTime = process.cpuUsage(cpuBefore);
    const s = this.stats;
    return {
      kind: 'window', ms, bots: this.bots.length, playing: this.playing,
      ticks: s.ticks, gaps: s.gaps, hashMismatches: s.hashMismatches,
      tickLatency: s.tickLatency.toData(), tickInterval: s.tickInterval.toData(), ackLatency: s.ackLatency.toData(),
      turns: s.turns, acks: s.acks, errors: s.errors, gamesStarted: s.gamesStarted, gamesOver: s.gamesOver,
      joinFailures: s.joinFailures, cpu, loopDelayP99: loopDelayP99(this.loopDelay),
    };
  }

  async stop(): Promise<void> {
    await Promise.race([Promise.all([...this.bots.map((bot) => bot.stop()), ...this.running]), sleep(5000)]);
  }
}

function report(message: DriverReport): void {
  process.send?.(message);
}

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:2567' },
    players: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
  },
});
const driver = new LoadDriver(values.url);

if (process.send !== undefined) {
  process.on('message', (command: DriverCommand) => {
    void (async () => {
      switch (command.kind) {
        case 'grow':
          await driver.grow(command.players);
          report({ kind: 'grown', bots: command.players, playing: driver.playing });
          return;
        case 'measure':
          report(await driver.measure(command.ms));
          return;
        case 'stop':
          await driver.stop();
          report({ kind: 'stopped' });
          process.exit(0);
      }
    })();
  });
  // An orchestrator that died leaves no one to stop the bots: they stop themselves.
  process.on('disconnect', () => process.exit(0));
} else {
  const players = Number(values.players);
  await driver.grow(players);
  await driver.measure(Number(values.warmup) * 1000);
  const window = await driver.measure(Number(values.seconds) * 1000);
  const ticks = LatencyHistogram.fromData(window.tickLatency);
  const acks = LatencyHistogram.fromData(window.ackLatency);
  console.log(JSON.stringify({
    players, playing: window.playing, ticks: window.ticks, gaps: window.gaps, hashMismatches: window.hashMismatches,
    tickP50: ticks.quantile(0.5), tickP99: ticks.quantile(0.99), tickMax: ticks.max,
    ackP50: acks.quantile(0.5), ackP99: acks.quantile(0.99), turns: window.turns, acks: window.acks,
    gamesOver: window.gamesOver, driverCpu: (window.cpu.user + window.cpu.system) / 1000 / window.ms,
  }, null, 2));
  await driver.stop();
  process.exit(0);
}
