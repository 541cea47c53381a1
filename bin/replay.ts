// snaketron-replay: list finished games, verify, play and export their replays (actors/snaketron/replay-tool.ts).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DEFAULT_DATABASE_URL, ReplayStore, ReplayUnavailable, formatGameTable, formatVerify, loadReplay, playReplay,
  replayToJson, verify, MAX_SPEED, MIN_SPEED,
} from '../actors/snaketron/replay-tool.ts';

const USAGE = `usage: snaketron-replay COMMAND [options]

Commands:
  list [--limit N]            the most recently finished games (default 20), newest first
  verify ID|FILE              re-simulate a replay with the engine and compare every stored hash
  play ID|FILE [--speed X]    play a replay in the terminal (space pause, . or -> step, + - speed,
                              r restart, q quit); prints only the final frame when stdout is not a terminal
  export ID|FILE [--out FILE] the replay as JSON, to standard output or FILE

ID is a game id, looked up in Postgres; FILE is a replay file: msgpack as stored (GET /api/games/ID/replay)
or a JSON export.

Options:
  --database URL   Postgres URL (default SNAKETRON_DATABASE_URL or ${DEFAULT_DATABASE_URL})
  --limit N        list: how many games (1..1000, default 20)
  --speed X        play: ticks at X times the game's speed (${MIN_SPEED}..${MAX_SPEED}, default 1)
  --out FILE       export: write to FILE instead of standard output
  -h, --help       print this help

Exit status: 0 success; 1 verify found a mismatch; 2 bad usage, or the replay or database could not be read.`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        help: { type: 'boolean', short: 'h' }, database: { type: 'string' }, limit: { type: 'string' },
        speed: { type: 'string' }, out: { type: 'string', short: 'o' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (!command) throw new UsageError('no command given');
  const only = (flags: string[]) => {
    for (const flag of ['limit', 'speed', 'out'] as const) {
      if (values[flag] !== undefined && !flags.includes(flag)) throw new UsageError(`--${flag} does not apply to ${command}`);
    }
  };
  const databaseUrl = values.database ?? (process.env.SNAKETRON_DATABASE_URL || DEFAULT_DATABASE_URL);
  let store: ReplayStore | null = null;
  const openStore = () => (store ??= ReplayStore.open(databaseUrl));
  const oneRef = (): string => {
    if (rest.length !== 1) throw new UsageError(`${command} takes one game id or file, got ${rest.length}`);
    return rest[0];
  };
  try {
    switch (command) {
      case 'list': {
        only(['limit']);
        if (rest.length > 0) throw new UsageError('list takes no arguments');
        const limit = Number(values.limit ?? '20');
        if (!/^\d+$/.test(values.limit ?? '20') || limit < 1 || limit > 1000) throw new UsageError(`--limit must be a whole number from 1 to 1000, got "${values.limit}"`);
        process.stdout.write(`${formatGameTable(await openStore().recent(limit))}\n`);
        return 0;
      }
      case 'verify': {
        only([]);
        const loaded = await loadReplay(oneRef(), openStore);
        const report = verify(loaded.replay);
        (report.ok ? process.stdout : process.stderr).write(`${formatVerify(loaded, report)}\n`);
        return report.ok ? 0 : 1;
      }
      case 'play': {
        only(['speed']);
        const speed = Number(values.speed ?? '1');
        if (!Number.isFinite(speed) || speed < MIN_SPEED || speed > MAX_SPEED) {
          throw new UsageError(`--speed must be a number from ${MIN_SPEED} to ${MAX_SPEED}, got "${values.speed}"`);
        }
        const ref = oneRef();
        const loaded = await loadReplay(ref, openStore);
        await closeStore(store);
        store = null;
        await playReplay(loaded.replay, { speed, output: process.stdout, input: process.stdin });
        return 0;
      }
      case 'export': {
        only(['out']);
        const ref = oneRef();
        const loaded = await loadReplay(ref, openStore);
        const json = replayToJson(loaded.replay);
        if (values.out) {
          try {
            writeFileSync(values.out, json);
          } catch (err) {
            throw new ReplayUnavailable(`cannot write ${values.out}: ${(err as Error).message}`);
          }
          process.stderr.write(`wrote ${loaded.source} to ${values.out} (${json.length} bytes)\n`);
        } else {
          process.stdout.write(json);
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}" (list, verify, play or export)`);
    }
  } finally {
    await closeStore(store);
  }
}

async function closeStore(store: ReplayStore | null): Promise<void> {
  await store?.close().catch(() => undefined);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`snaketron-replay: ${err.message} (see snaketron-replay --help)\n`);
  } else if (err instanceof ReplayUnavailable) {
    process.stderr.write(`snaketron-replay: ${err.message}\n`);
  } else {
    process.stderr.write(`snaketron-replay: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  }
  process.exitCode = 2;
}
