// Real processes for the process-level specs: runtime nodes (spec/fixtures/runtime-node.ts), and a Redis server
// or a Postgres server of the spec's own, which it may stop, restart or pause without touching the shared ones.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, chownSync, chmodSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './env.ts';

const NODE_ENTRY = fileURLToPath(new URL('../fixtures/runtime-node.ts', import.meta.url));
/** the same node compiled by `make build` */
const COMPILED_NODE_ENTRY = fileURLToPath(new URL('../../dist/spec/fixtures/runtime-node.js', import.meta.url));

/**
 * Compiles the project into dist/ (`make build`), as production runs it: a node started from there is ready in
 * about half the time it takes under tsx, which compiles every module as it loads (once more in each thread).
 */
export function buildDist(): void {
  const made = spawnSync('make', ['-s', 'build'], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`make build failed: ${made.stderr.slice(-2000)}`);
}

/** A loopback TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface NodeOptions {
  redisUrl: string;
  databaseUrl: string;
  prefix: string;
  partitions: number;
  nodeId: string;
  workers?: number;
  leaseMs?: number;
  actorModules?: string[];
  /** an IPC channel, so the process answers `{kind: 'stats'}` */
  ipc?: boolean;
  /** extra `node` options, e.g. --cpu-prof */
  execArgv?: string[];
  /** run the output of `make build` (as production would) instead of the sources through tsx: it starts in about
   * half the time, which is most of what a replacement process adds to a failover */
  compiled?: boolean;
  env?: Record<string, string>;
}

/** A runtime node in a child process; its stdout lines (`ready`, `recovered …`, `lost …`) are kept in order. */
export class NodeProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private stderr = '';
  private partial = '';
  private alive = true;

  private constructor(readonly child: ChildProcess, readonly nodeId: string) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      for (const part of parts) if (part && !part.startsWith('{')) this.lines.push(part);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-20_000);
      if (process.env.SNAKETRON_SPEC_VERBOSE) process.stderr.write(chunk);
    });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.alive = false;
      resolve(code ?? (signal ? -1 : null));
    }));
  }

  static start(options: NodeOptions): NodeProcess {
    const args = [
      ...(options.execArgv ?? []), ...(options.compiled ? [COMPILED_NODE_ENTRY] : ['--import', 'tsx', NODE_ENTRY]),
      '--redis', options.redisUrl, '--database', options.databaseUrl, '--prefix', options.prefix,
      '--partitions', String(options.partitions), '--node-id', options.nodeId,
      '--workers', String(options.workers ?? 1), '--lease-ms', String(options.leaseMs ?? 1500),
      ...(options.actorModules ?? []).flatMap((m) => ['--actor-module', m]),
    ];
    const child = spawn(process.execPath, args, {
      stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SNAKETRON_LOG_LEVEL: process.env.SNAKETRON_LOG_LEVEL ?? 'warn', ...options.env },
    });
    return new NodeProcess(child, options.nodeId);
  }

  get pid(): number { return this.child.pid!; }
  /** what it logged (stderr), the last 20,000 characters */
  get log(): string { return this.stderr; }
  get running(): boolean { return this.alive; }

  /** The first line at or after `from` matching `pattern`, waiting for it. */
  async waitForLine(pattern: RegExp, timeoutMs = 30000, from = 0): Promise<RegExpMatchArray> {
    return waitFor(`node ${this.nodeId} to print ${pattern}`, () => {
      if (!this.alive && !this.lines.slice(from).some((l) => pattern.test(l))) {
        throw new Error(`node ${this.nodeId} exited; its last output:\n${this.stderr.slice(-3000)}`);
      }
      for (let i = from; i < this.lines.length; i++) {
        const match = pattern.exec(this.lines[i]);
        if (match) return match;
      }
      return null;
    }, timeoutMs);
  }

  ready(timeoutMs = 30000): Promise<RegExpMatchArray> {
    return this.waitForLine(/^ready$/, timeoutMs);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive) process.kill(this.pid, signal);
  }

  /** SIGKILL, and waits until the process is gone. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    process.kill(this.pid, 'SIGKILL');
    await this.exited;
  }

  output(): string {
    return this.stderr;
  }
}

/**
 * A Redis server of the spec's own on a free port, with an append-only file fsynced at every write, so it can be
 * shut down and started again on the same port and directory without losing what it acknowledged.
 */
export class SpecRedis {
  private child: ChildProcess | null = null;

  private constructor(readonly port: number, readonly dir: string) {}

  static async start(): Promise<SpecRedis> {
    const server = new SpecRedis(await freePort(), mkdtempSync(join(tmpdir(), 'st-redis-')));
    await server.startAgain();
    return server;
  }

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  async startAgain(): Promise<void> {
    const child = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'always', '--daemonize', 'no', '--loglevel', 'warning',
    ], { stdio: 'ignore' });
    this.child = child;
    await waitFor(`redis-server on port ${this.port} to answer`, () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      return spawnSync('redis-cli', ['-p', String(this.port), 'PING'], { encoding: 'utf8' }).stdout.trim() === 'PONG';
    }, 10000, 50);
  }

  /** Pauses the server (SIGSTOP: its connections stay open, nothing answers) or lets it go on (SIGCONT). */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.child?.kill(signal);
  }

  /** Deletes what the stopped server kept: it starts again empty, as one without persistence would. */
  forget(): void {
    if (this.child) throw new Error('stop the server before it forgets');
    for (const entry of readdirSync(this.dir)) rmSync(join(this.dir, entry), { recursive: true, force: true });
  }

  /** SHUTDOWN (the append-only file is flushed), and waits until the server is gone. */
  async shutdown(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    spawnSync('redis-cli', ['-p', String(this.port), 'SHUTDOWN']);
    await exited;
    this.child = null;
  }

  async destroy(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    this.child = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const PG_BIN = process.env.SNAKETRON_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * A Postgres server of the spec's own (initdb in a temp directory, user `root`, trust), which the spec may stop
 * and start with pg_ctl. Postgres refuses to run as root, so its commands run as `postgres` then.
 */
export class SpecPostgres {
  private constructor(readonly port: number, readonly dir: string) {}

  static async start(): Promise<SpecPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'st-pg-'));
    const server = new SpecPostgres(await freePort(), dir);
    if (userInfo().uid === 0) {
      chownSync(dir, uidOf('postgres'), gidOf('postgres'));
      chmodSync(dir, 0o700);
    }
    await server.run('initdb', ['-D', server.dataDir, '-A', 'trust', '-U', 'root', '--no-sync']);
    await server.startOn(server.port);
    return server;
  }

  get dataDir(): string { return join(this.dir, 'data'); }

  url(port = this.port): string { return `postgres://root@127.0.0.1:${port}/postgres`; }

  /** Starts the server on `port` (another port than the usual makes it unreachable for its usual clients). */
  startOn(port: number): Promise<void> {
    return this.run('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', '30',
      '-o', `-p ${port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off -c max_connections=200`, 'start']);
  }

  stop(): Promise<void> {
    return this.run('pg_ctl', ['-D', this.dataDir, '-w', '-t', '30', '-m', 'fast', 'stop']);
  }

  destroy(): void {
    spawnSync(...this.command('pg_ctl', ['-D', this.dataDir, '-w', '-m', 'immediate', 'stop']), { stdio: 'ignore' });
    rmSync(this.dir, { recursive: true, force: true });
  }

  private command(tool: string, args: string[]): [string, string[]] {
    const path = join(PG_BIN, tool);
    return userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  }

  private run(tool: string, args: string[]): Promise<void> {
    const [cmd, argv] = this.command(tool, args);
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${tool} failed (${code}): ${output}`))));
    });
  }
}

function uidOf(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
}

function gidOf(user: string): number {
  return Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
}

/**
 * A TCP proxy in front of a server that can cut every connection with replies in flight: requests still reach the
 * server (and take effect) while the replies are held back, then the connections are closed, as when the network
 * fails between a client's write and the server's answer.
 */
export class CuttingProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private holding = false;

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number): Promise<CuttingProxy> {
    const port = await freePort();
    let proxy: CuttingProxy | null = null;
    const server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      const pair: [Socket, Socket] = [client, upstream];
      proxy!.pairs.add(pair);
      client.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk) => { if (!proxy!.holding) client.write(chunk); });
      const close = () => { client.destroy(); upstream.destroy(); proxy!.pairs.delete(pair); };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    proxy = new CuttingProxy(server, port);
    return proxy;
  }

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  /** Holds every reply back for `holdMs` (the requests still go through), then closes every connection. */
  async cut(holdMs: number): Promise<void> {
    this.holding = true;
    await new Promise((resolve) => setTimeout(resolve, holdMs));
    for (const [client, upstream] of this.pairs) { client.destroy(); upstream.destroy(); }
    this.pairs.clear();
    this.holding = false;
  }

  close(): Promise<void> {
    for (const [client, upstream] of this.pairs) { client.destroy(); upstream.destroy(); }
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Whether a loopback TCP port can be listened on right now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A Redis Cluster of the spec's own: three masters on loopback (no replicas, nothing kept on disk), their slots
 * assigned by `redis-cli --cluster create`. `seeds` is what a node's --redis takes for a cluster.
 */
export class SpecRedisCluster {
  private constructor(readonly ports: number[], readonly dir: string, private readonly children: ChildProcess[]) {}

  static async start(masters = 3): Promise<SpecRedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'st-redis-cluster-'));
    const ports: number[] = [];
    // each server also listens on its port + 10000 for the cluster bus
    while (ports.length < masters) {
      const port = await freePort();
      if (port + 10000 < 65536 && !ports.includes(port) && await portIsFree(port + 10000)) ports.push(port);
    }
    const children = ports.map((port) => spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--cluster-enabled', 'yes',
      '--cluster-config-file', `nodes-${port}.conf`, '--save', '', '--appendonly', 'no', '--loglevel', 'warning',
    ], { stdio: 'ignore' }));
    const cluster = new SpecRedisCluster(ports, dir, children);
    for (const port of ports) {
      await waitFor(`redis-server on port ${port} to answer`, () =>
        spawnSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 10000, 50);
    }
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (const port of ports) {
      await waitFor(`the cluster to be ok at port ${port}`, () =>
        spawnSync('redis-cli', ['-p', String(port), 'CLUSTER', 'INFO'], { encoding: 'utf8' }).stdout.includes('cluster_state:ok'), 20000, 100);
    }
    return cluster;
  }

  get seeds(): string { return this.ports.map((p) => `127.0.0.1:${p}`).join(','); }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((child) => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(null); return; }
      child.once('exit', resolve);
      child.kill('SIGKILL');
    })));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
