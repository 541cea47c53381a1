// The node's configuration: every option is a flag and an environment variable (RUNTIME.md "Configuration").
import { hostname, availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { NodeConfig } from './node.ts';

interface Option {
  flag: string;
  env: string;
  help: string;
  default: () => string | undefined;
  kind: 'int' | 'string' | 'url';
  /** what --help says the default is, where it depends on the machine */
  shownDefault?: string;
  min?: number;
  max?: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The most WebSocket connections a node serves at once unless told otherwise (Redis's own default for its clients). */
export const DEFAULT_MAX_CLIENTS = 10_000;

const OPTIONS: Option[] = [
  { flag: 'port', env: 'SNAKETRON_PORT', help: 'HTTP and WebSocket port', default: () => '8080', kind: 'int', min: 0, max: 65535 },
  { flag: 'redis', env: 'SNAKETRON_REDIS_URL', help: 'Redis URL, or comma-separated host:port seeds of a Redis Cluster', default: () => 'redis://127.0.0.1:6379', kind: 'string' },
  { flag: 'database', env: 'SNAKETRON_DATABASE_URL', help: 'Postgres URL', default: () => 'postgres://127.0.0.1:5432/snaketron', kind: 'url' },
  { flag: 'partitions', env: 'SNAKETRON_PARTITIONS', help: 'partitions of the cluster (fixed at its first start)', default: () => '32', kind: 'int', min: 1, max: 4096 },
  { flag: 'workers', env: 'SNAKETRON_WORKERS', help: 'worker threads running partition executors', default: () => String(Math.max(1, availableParallelism() - 1)), shownDefault: 'cores − 1', kind: 'int', min: 1, max: 256 },
  { flag: 'node-id', env: 'SNAKETRON_NODE_ID', help: 'this node\'s id in the cluster (default: host name, port and a random suffix)', default: () => undefined, kind: 'string' },
  { flag: 'prefix', env: 'SNAKETRON_PREFIX', help: 'prefix of every Redis key', default: () => 'snaketron', kind: 'string' },
  { flag: 'secret', env: 'SNAKETRON_SECRET', help: 'token signing secret (default: generated once per cluster, kept in Redis)', default: () => undefined, kind: 'string' },
  { flag: 'public-url', env: 'SNAKETRON_PUBLIC_URL', help: 'the WebSocket URL clients use (default ws://HOST:PORT/ws)', default: () => undefined, kind: 'string' },
  { flag: 'checkpoint-ticks', env: 'SNAKETRON_CHECKPOINT_TICKS', help: 'checkpoint every game at least every K ticks', default: () => '20', kind: 'int', min: 1, max: 100000 },
  { flag: 'max-clients', env: 'SNAKETRON_MAX_CLIENTS', help: 'the most WebSocket connections this node serves at once: one more is told unavailable and closed with 1013 (try again later); make bench measures what a machine holds', default: () => String(DEFAULT_MAX_CLIENTS), kind: 'int', min: 1, max: 10_000_000 },
  { flag: 'lobby-grace-ms', env: 'SNAKETRON_LOBBY_GRACE_MS', help: 'how long a player whose connection closed keeps its seat in a private lobby', default: () => '20000', kind: 'int', min: 0, max: 3600000 },
  { flag: 'log-level', env: 'SNAKETRON_LOG_LEVEL', help: `one of ${LOG_LEVELS.join(', ')}`, default: () => 'info', kind: 'string' },
  { flag: 'verify-replays', env: 'SNAKETRON_VERIFY_REPLAYS', help: 'at every Nth checkpoint of a game, check that a replay of its journal gives its live state (0: never; for developing actors, each check costs a replay of those ticks)', default: () => '0', kind: 'int', min: 0, max: 1000000 },
  { flag: 'lease-ms', env: 'SNAKETRON_LEASE_MS', help: 'partition lease; a dead node\'s games move after about this long', default: () => '1500', kind: 'int', min: 200, max: 600000 },
];

export class ConfigError extends Error {}

/** A token secret shorter than this could be guessed. */
const MIN_SECRET_LENGTH = 16;

/**
 * `--port -1` as `--port=-1`: parseArgs takes a value that starts with a dash for another option and refuses it, so
 * a negative number would be told "ambiguous" instead of what the option takes.
 */
function withNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    if (flag !== null && OPTIONS.some((o) => o.flag === flag) && /^-\d/.test(argv[i + 1] ?? '')) out.push(`--${flag}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

/** Whether `text` parses as a URL with one of these schemes (a regular expression alone lets `postgres://[::1` by). */
export function isUrl(text: string, schemes: readonly string[]): boolean {
  try {
    return schemes.includes(new URL(text).protocol.slice(0, -1));
  } catch {
    return false;
  }
}

export function usage(): string {
  const rows = OPTIONS.map((o) => `  --${o.flag.padEnd(18)} ${o.env.padEnd(28)} ${o.help}${o.default() ? ` (default ${o.shownDefault ?? o.default()})` : ''}`);
  return ['Usage: snaketron-node [options]', '', 'Starts a SnakeTron cluster node. Every option may also be set by its environment variable.', '',
    '  flag                 environment                  meaning', ...rows, '  --help, -h           show this',
    '', 'SIGTERM or SIGINT hands the partitions over and stops (a second one exits at once, without finishing the hand-off).',
    'Exit codes: 0 stopped on SIGTERM or SIGINT, 1 could not start or failed (or a second signal), 2 a bad option.'].join('\n');
}

/** Flags over environment over defaults; a bad value is a ConfigError naming the option and what it takes. */
export function parseNodeConfig(argv: string[], env: NodeJS.ProcessEnv): NodeConfig | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: withNegativeValues(argv), allowPositionals: false, strict: true,
      options: { help: { type: 'boolean', short: 'h' }, ...Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: 'string' as const }])) },
    });
  } catch (err) {
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)} (--help lists every option)`);
  }
  if (parsed.values.help) return 'help';
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const value = (o: Option): string | undefined => (values[o.flag] as string | undefined) ?? env[o.env] ?? o.default();
  const get = (flag: string) => OPTIONS.find((o) => o.flag === flag)!;
  const int = (flag: string): number => {
    const o = get(flag);
    const raw = value(o)!;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < (o.min ?? 0) || n > (o.max ?? Infinity)) {
      throw new ConfigError(`--${flag} (${o.env}) must be a whole number from ${o.min} to ${o.max}, got "${raw}"`);
    }
    return n;
  };
  const database = value(get('database'))!;
  if (!isUrl(database, ['postgres', 'postgresql'])) throw new ConfigError(`--database (SNAKETRON_DATABASE_URL) must be a postgres:// URL, got "${database}"`);
  const redis = value(get('redis'))!;
  const seeds = /^[\w.-]+:\d+(,[\w.-]+:\d+)*$/.test(redis) && redis.split(',').every((seed) => Number(seed.split(':')[1]) <= 65535);
  if (!seeds && !(isUrl(redis, ['redis', 'rediss']) && /^\/?(\d+)?$/.test(new URL(redis).pathname))) {
    throw new ConfigError(`--redis (SNAKETRON_REDIS_URL) must be a redis:// URL (with a database number as its path, if any) or host:port seeds of a Redis Cluster, got "${redis}"`);
  }
  const port = int('port');
  const prefix = value(get('prefix'))!;
  if (!/^[\w.-]{1,64}$/.test(prefix)) throw new ConfigError(`--prefix (SNAKETRON_PREFIX) must be 1-64 letters, digits, '.', '_' or '-', got "${prefix}"`);
  const logLevel = value(get('log-level'))!;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level (SNAKETRON_LOG_LEVEL) must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const nodeId = value(get('node-id'));
  if (nodeId !== undefined && !/^[\w.:-]{1,100}$/.test(nodeId)) {
    throw new ConfigError(`--node-id (SNAKETRON_NODE_ID) must be 1-100 letters, digits, '.', ':', '_' or '-', got "${nodeId}"`);
  }
  const publicUrl = value(get('public-url'));
  if (publicUrl !== undefined && !isUrl(publicUrl, ['ws', 'wss'])) {
    throw new ConfigError(`--public-url (SNAKETRON_PUBLIC_URL) must be a ws:// or wss:// URL such as ws://game.example.com/ws, got "${publicUrl}"`);
  }
  const secret = value(get('secret'));
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`--secret (SNAKETRON_SECRET) must be at least ${MIN_SECRET_LENGTH} characters: it signs every player's token; `
      + 'leave it out to have one made for the cluster and kept in Redis');
  }
  return {
    port, redisUrl: redis, databaseUrl: database, partitions: int('partitions'), workers: int('workers'),
    nodeId: nodeId ?? `${hostname()}-${port}-${randomBytes(3).toString('hex')}`,
    prefix, secret, publicUrl,
    checkpointTicks: int('checkpoint-ticks'), leaseMs: int('lease-ms'), lobbyGraceMs: int('lobby-grace-ms'), maxClients: int('max-clients'), logLevel,
    verifyReplays: int('verify-replays'),
  };
}
