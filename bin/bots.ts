// snaketron-bots: a fleet of bot players against one or more nodes (actors/snaketron/bots.ts), with a progress bar
// and a summary of what they measured.
import cliProgress from 'cli-progress';
import { parseArgs } from 'node:util';
import { BOT_MODES, BotError, formatSummary, runBots, type BotMode, type BotOptions } from '../actors/snaketron/bots.ts';

const USAGE = `usage: snaketron-bots [options]

Plays SnakeTron with bot players over WebSockets: each keeps its own copy of every game (checking each tick's
hash), seeks food, avoids death, and reconnects and rejoins when its connection drops. Ends after --games or
--duration (or Ctrl-C) with a summary: results, turn->ack latency, tick jitter, hash mismatches, reconnects.

Options:
  --url URL        a node's WebSocket URL, e.g. ws://127.0.0.1:8080/ws; repeat it or separate URLs by commas
                   to spread the bots over nodes (default ws://127.0.0.1:8080/ws)
  --bots N         number of bots (default 10)
  --mode MODE      ${BOT_MODES.join(', ')} (default duel)
  --size N         ffa: players per game, 2..8 (default 4)
  --games N        stop after N completed games in total
  --duration S     stop after S seconds
  --give-up T      from tick T of a game on, bots stop steering (so games end in bounded time)
  --name PREFIX    bot names are PREFIX-i (default bot)
  --quiet          no progress bar
  --json           print the summary as JSON
  -h, --help       print this help

Exit status: 0 done; 1 a bot saw a hash mismatch; 2 bad usage or no node answers.`;

class UsageError extends Error {}

function parse(argv: string[]): (BotOptions & { quiet: boolean; json: boolean }) | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: false, strict: true,
      options: {
        help: { type: 'boolean', short: 'h' }, url: { type: 'string', multiple: true }, bots: { type: 'string' },
        mode: { type: 'string' }, size: { type: 'string' }, games: { type: 'string' }, duration: { type: 'string' },
        'give-up': { type: 'string' }, name: { type: 'string' }, quiet: { type: 'boolean' }, json: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const whole = (flag: string, raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw)) throw new UsageError(`--${flag} must be a whole number, got "${raw}"`);
    return Number(raw);
  };
  const mode = (v.mode ?? 'duel') as BotMode;
  if (!(BOT_MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode must be one of ${BOT_MODES.join(', ')}, got "${v.mode}"`);
  let durationMs: number | undefined;
  if (v.duration !== undefined) {
    const seconds = Number(v.duration);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--duration must be a number of seconds above 0, got "${v.duration}"`);
    durationMs = seconds * 1000;
  }
  if (v.name !== undefined && !/^[A-Za-z0-9_-]{1,12}$/.test(v.name)) throw new UsageError(`--name must be 1-12 letters, digits, _ or -, got "${v.name}"`);
  return {
    urls: (v.url ?? ['ws://127.0.0.1:8080/ws']).flatMap((u) => u.split(',')).map((u) => u.trim()).filter(Boolean),
    bots: whole('bots', v.bots) ?? 10, mode, size: whole('size', v.size), games: whole('games', v.games), durationMs,
    giveUpAfter: whole('give-up', v['give-up']), name: v.name, quiet: v.quiet ?? false, json: v.json ?? false,
  };
}

async function main(): Promise<number> {
  const options = parse(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const abort = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    if (++interrupts > 1) process.exit(130);
    abort.abort();
  });
  process.on('SIGTERM', () => abort.abort());
  const total = options.games ?? (options.durationMs !== undefined ? Math.ceil(options.durationMs / 1000) : 0);
  const byGames = options.games !== undefined;
  const bar = options.quiet ? null : new cliProgress.SingleBar({
    format: `${byGames ? 'games {bar} {value}/{total}' : total ? 'seconds {bar} {value}/{total}' : 'games completed {value}'}`
      + ` | active {active} | bots {connected}/${options.bots}`
      + ' | reconnects {reconnects} | mismatches {mismatches} | {elapsed}s',
    hideCursor: true, clearOnComplete: false, barsize: 30,
  }, cliProgress.Presets.shades_classic);
  bar?.start(total, 0, { active: 0, connected: 0, reconnects: 0, mismatches: 0, elapsed: 0 });
  let summary;
  try {
    summary = await runBots({
      ...options, signal: abort.signal,
      onProgress: (p) => {
        const elapsed = Math.round(p.elapsedMs / 1000);
        bar?.update(byGames || !total ? p.completed : Math.min(total, elapsed), {
          active: p.active, connected: p.connected, reconnects: p.reconnects, mismatches: p.hashMismatches, elapsed,
        });
      },
    });
  } finally {
    bar?.stop();
  }
  process.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`);
  return summary.hashMismatches > 0 ? 1 : 0;
}

try {
  const code = await main();
  // open sockets finish closing in the background; the summary is out
  process.exit(code);
} catch (err) {
  if (err instanceof UsageError) process.stderr.write(`snaketron-bots: ${err.message} (see snaketron-bots --help)\n`);
  else if (err instanceof BotError) process.stderr.write(`snaketron-bots: ${err.message}\n`);
  else process.stderr.write(`snaketron-bots: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(2);
}
