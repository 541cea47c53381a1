// SnakeTron nodes as real child processes (bin/snaketron-node), sharing one key prefix and one database: a
// cluster on this machine that specs can SIGKILL, SIGTERM and grow.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, waitFor, type SpecDatabase } from './env.ts';
import { freePort } from './processes.ts';

const NODE_BIN = fileURLToPath(new URL('../../bin/snaketron-node', import.meta.url));
/** the node as `make build` compiles it */
const COMPILED_NODE = fileURLToPath(new URL('../../dist/bin/node.js', import.meta.url));

export class SnakeNode {
  readonly exited: Promise<number | null>;
  private log = '';
  constructor(readonly child: ChildProcess, readonly port: number, readonly nodeId: string) {
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-40_000);
      if (process.env.SNAKETRON_SPEC_VERBOSE) process.stderr.write(chunk);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  get ws(): string { return `ws://127.0.0.1:${this.port}/ws`; }
  get http(): string { return `http://127.0.0.1:${this.port}`; }
  get output(): string { return this.log; }

  async get(path: string): Promise<{ status: number; body: string; json<T>(): T }> {
    const res = await fetch(`${this.http}${path}`);
    const body = await res.text();
    return { status: res.status, body, json: <T>() => JSON.parse(body) as T };
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface ClusterOptions {
  /** run the output of `make build` (the caller builds it) instead of bin/snaketron-node */
  compiled?: boolean;
  partitions?: number;
  workers?: number;
  leaseMs?: number;
  /** how long a player whose connection closed keeps its seat in a private lobby (the node's default: 20 s) */
  lobbyGraceMs?: number;
  /** the nodes' --max-clients (the node's default: 10,000) */
  maxClients?: number;
  /** the nodes' --redis (default: the shared server); a Redis of the spec's own is the spec's to clear */
  redis?: string;
  /** the nodes' --log-level (default: SNAKETRON_LOG_LEVEL, else warn), for specs that read their logs */
  logLevel?: string;
}

/**
 * How long a node may take to be ready: a joining node waits for the others' hand-offs, and in a full parallel spec
 * run on a slow machine (2026-11-28: the send floor at 18.6 µs, against 5-7 before) a third node took over 30 s.
 */
const READY_WITHIN_MS = 60_000;

export class SpecCluster {
  readonly nodes: SnakeNode[] = [];
  private counter = 0;

  private constructor(readonly prefix: string, readonly db: SpecDatabase, private readonly options: ClusterOptions) {}

  static async create(label: string, options: ClusterOptions = {}): Promise<SpecCluster> {
    return new SpecCluster(freshPrefix(label), await freshDatabase(label), options);
  }

  /**
   * Starts a node and waits until it answers /readyz (it holds its share of partitions). `port`: where a node that
   * was stopped or killed listened, to start its replacement where its clients reconnect.
   */
  async start(port?: number): Promise<SnakeNode> {
    port ??= await freePort();
    const nodeId = `n${++this.counter}-${port}`;
    const child = spawn(this.options.compiled ? process.execPath : NODE_BIN, this.options.compiled ? [COMPILED_NODE] : [], {
      env: {
        ...process.env,
        SNAKETRON_PORT: String(port), SNAKETRON_REDIS_URL: this.options.redis ?? REDIS_URL, SNAKETRON_DATABASE_URL: this.db.url,
        SNAKETRON_PREFIX: this.prefix, SNAKETRON_PARTITIONS: String(this.options.partitions ?? 8),
        SNAKETRON_WORKERS: String(this.options.workers ?? 1), SNAKETRON_NODE_ID: nodeId,
        SNAKETRON_LEASE_MS: String(this.options.leaseMs ?? 1500),
        ...(this.options.lobbyGraceMs === undefined ? {} : { SNAKETRON_LOBBY_GRACE_MS: String(this.options.lobbyGraceMs) }),
        ...(this.options.maxClients === undefined ? {} : { SNAKETRON_MAX_CLIENTS: String(this.options.maxClients) }),
        SNAKETRON_LOG_LEVEL: this.options.logLevel ?? process.env.SNAKETRON_LOG_LEVEL ?? 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const node = new SnakeNode(child, port, nodeId);
    this.nodes.push(node);
    await waitFor(`node ${nodeId} to be ready`, async () => {
      if (child.exitCode !== null) throw new Error(`node ${nodeId} exited: ${node.output.slice(-2000)}`);
      return (await node.get('/readyz').catch(() => ({ status: 0 }))).status === 200;
    }, READY_WITHIN_MS, 100);
    return node;
  }

  /** Waits until every live node is ready again (after a node died or joined). */
  async settled(): Promise<void> {
    for (const node of this.live()) {
      await waitFor(`node ${node.nodeId} to settle`, async () => (await node.get('/readyz')).status === 200, READY_WITHIN_MS, 100);
    }
  }

  live(): SnakeNode[] {
    return this.nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  }

  /** The node owning a game's partition, from the lease (via /api/games/:id). */
  async ownerOf(gameId: string): Promise<SnakeNode | undefined> {
    const info = await this.live()[0].get(`/api/games/${gameId}`);
    const owner = info.json<{ node: string | null }>().node;
    return this.nodes.find((n) => n.nodeId === owner);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await this.db.drop();
    if (this.options.redis === undefined) await dropKeys(this.prefix);
  }
}
