// Redis connections and the runtime's Lua commands. A URL (`redis://…`) connects to one server; a
// comma-separated list of `host:port` seeds connects to a Redis Cluster.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type RedisClient = Redis | Cluster;

const COMMANDS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'commands');

/**
 * The runtime's Lua commands (all fenced by the partition's epoch but the heartbeat) and their key counts, each
 * `commands/<name>-<number of keys>.lua`; `--@include x` pulls in `commands/includes/x.lua`.
 */
const COMMANDS = {
  acquire: 4,
  renew: 2,
  release: 2,
  read: 3,
  claim: 3,
  forget: 3,
  commit: 6,
  deadletter: 4,
  strike: 3,
  heartbeat: 1,
  trim: 4,
} as const;
export type CommandName = keyof typeof COMMANDS;

function loadCommand(name: CommandName): string {
  const source = readFileSync(join(COMMANDS_DIR, `${name}-${COMMANDS[name]}.lua`), 'utf8');
  return source.replace(/^--@include (\w+)$/gm, (_, include: string) =>
    readFileSync(join(COMMANDS_DIR, 'includes', `${include}.lua`), 'utf8'));
}

export interface ConnectOptions {
  /** For blocking reads: never queue commands while disconnected, so a reader notices at once. */
  readonly blocking?: boolean;
  readonly name?: string;
  /**
   * Gather the commands of one event-loop turn into one write (ioredis autopipelining; on by default, never for
   * blocking reads). It pays where many commands go at once (a node's main thread submitting turns for many
   * partitions); a connection whose commands go one at a time pays for a pipeline per command instead.
   */
  readonly autoPipelining?: boolean;
}

export function isClusterSpec(spec: string): boolean {
  return !/^rediss?:\/\//.test(spec);
}

export function connectRedis(spec: string, options: ConnectOptions = {}): RedisClient {
  const common = {
    connectionName: options.name,
    maxRetriesPerRequest: null,
    enableAutoPipelining: !options.blocking && (options.autoPipelining ?? true),
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
  };
  const client = isClusterSpec(spec)
    ? new Cluster(spec.split(',').map((seed) => {
      const [host, port] = seed.trim().split(':');
      return { host: host || '127.0.0.1', port: Number(port || 6379) };
    }), { redisOptions: common, enableAutoPipelining: common.enableAutoPipelining })
    : new Redis(spec, common);
  client.on('error', () => { /* reconnects by itself; callers see failed commands */ });
  return client;
}

type Arg = string | number | Buffer;

type Eval = (...args: Arg[]) => Promise<unknown>;

/**
 * A Lua script, run by EVALSHA (EVAL when Redis answers NOSCRIPT, which also loads it). It goes as those commands,
 * not as a command defined on the client: ioredis then finds its keys and, on a Redis Cluster, sends it to the
 * node of their slot; and a client with defined commands copies every one of them into each of its pipelines,
 * which autopipelining makes at every turn of the event loop. (Not by `callBuffer`: ioredis 6's autopipelining
 * drops the command name of that one.)
 */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** The script in a file, e.g. `Script.load(new URL('./commands/x-2.lua', import.meta.url))`. */
  static load(file: URL): Script {
    return new Script(readFileSync(file, 'utf8'));
  }

  /** Runs it; replies come as strings. */
  run<T>(client: RedisClient, keys: readonly string[], args: readonly Arg[]): Promise<T> {
    return this.exec<T>(client.evalsha as Eval, client.eval as Eval, client, keys, args);
  }

  /** Runs it; bulk replies come as Buffers (for binary stream entries). */
  runBuffer<T>(client: RedisClient, keys: readonly string[], args: readonly Arg[]): Promise<T> {
    // ioredis has a Buffer variant of every command but does not type these two
    const untyped = client as unknown as Record<'evalshaBuffer' | 'evalBuffer', Eval>;
    return this.exec<T>(untyped.evalshaBuffer, untyped.evalBuffer, client, keys, args);
  }

  private async exec<T>(evalsha: Eval, evalSource: Eval, client: RedisClient, keys: readonly string[], args: readonly Arg[]): Promise<T> {
    try {
      return await (evalsha.call(client, this.sha, keys.length, ...keys, ...args) as Promise<T>);
    } catch (err) {
      if (!String(err).includes('NOSCRIPT')) throw err;
      return evalSource.call(client, this.source, keys.length, ...keys, ...args) as Promise<T>;
    }
  }
}

const commands = new Map<CommandName, Script>();

function command(name: CommandName, keys: readonly string[]): Script {
  if (keys.length !== COMMANDS[name]) throw new Error(`${name} takes ${COMMANDS[name]} keys, got ${keys.length}`);
  let script = commands.get(name);
  if (!script) commands.set(name, script = new Script(loadCommand(name)));
  return script;
}

/** Runs one of the runtime's fenced commands. Replies come as strings. */
export function runCommand<T>(client: RedisClient, name: CommandName, keys: readonly string[], args: readonly Arg[]): Promise<T> {
  return command(name, keys).run<T>(client, keys, args);
}

/** The same, with bulk replies as Buffers (for binary stream entries). */
export function runCommandBuffer<T>(client: RedisClient, name: CommandName, keys: readonly string[], args: readonly Arg[]): Promise<T> {
  return command(name, keys).runBuffer<T>(client, keys, args);
}

/** An XREAD or XREADGROUP reply with binary entries: per stream read, its name and its entries. */
export type StreamsReply = Array<[Buffer, Array<[Buffer, Buffer[]]>]>;

/**
 * XREAD (or XREADGROUP, when `head` starts with GROUP) of several streams, waiting up to `blockMs` for an entry.
 * `head` holds the options before BLOCK (COUNT, GROUP). On one server this is one blocking call. On a Redis
 * Cluster one call may only name streams of one hash slot, and each partition has a slot of its own: each stream
 * is then read by a call of its own, side by side and without blocking, and an empty round waits a little before
 * it returns, so a caller that loops polls instead of spinning.
 */
export async function readStreams(client: RedisClient, head: ReadonlyArray<string | number>, blockMs: number,
  streams: readonly string[], ids: readonly string[]): Promise<StreamsReply | null> {
  // ioredis types each option of these commands apart; the arguments here are built, so the call is untyped
  const reader = client as unknown as Record<'xreadBuffer' | 'xreadgroupBuffer', (...args: Array<string | number>) => Promise<StreamsReply | null>>;
  const read = (args: Array<string | number>) => (head[0] === 'GROUP' ? reader.xreadgroupBuffer(...args) : reader.xreadBuffer(...args));
  if (!(client instanceof Cluster)) return read([...head, 'BLOCK', blockMs, 'STREAMS', ...streams, ...ids]);
  const replies = await Promise.all(streams.map((stream, i) => read([...head, 'STREAMS', stream, ids[i]])));
  const out = replies.flatMap((reply) => reply ?? []);
  if (out.length > 0) return out;
  await sleep(Math.min(blockMs, CLUSTER_POLL_MS));
  return null;
}

/** How long a Redis Cluster stream read waits after finding nothing (one server blocks instead). */
const CLUSTER_POLL_MS = 10;
