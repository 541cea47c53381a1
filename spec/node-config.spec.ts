// bin/snaketron-node's configuration: --help, flags over environment, and clear refusals (bad options,
// unreachable Redis or Postgres) with a non-zero exit.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseNodeConfig } from '../actors/snaketron/config.ts';
import { Redis } from 'ioredis';
import { Keys } from '../runtime/keys.ts';
import { SpecCluster } from './support/cluster.ts';
import { pino } from 'pino';
import { startNode } from '../actors/snaketron/node.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, waitFor } from './support/env.ts';
import { freePort } from './support/processes.ts';
import { SpecClient } from './support/client.ts';

const NODE_BIN = fileURLToPath(new URL('../bin/snaketron-node', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(NODE_BIN, args, { env: { ...process.env, SNAKETRON_LOG_LEVEL: 'silent', ...env }, timeout: 30_000 });
  return { code: result.status, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe('snaketron-node configuration', function () {
  this.timeout(60_000);

  it('lists every option with its environment variable and default', () => {
    const { code, stdout } = run(['--help']);
    expect(code).to.equal(0);
    for (const [flag, env] of [['--port', 'SNAKETRON_PORT'], ['--redis', 'SNAKETRON_REDIS_URL'], ['--database', 'SNAKETRON_DATABASE_URL'],
      ['--partitions', 'SNAKETRON_PARTITIONS'], ['--workers', 'SNAKETRON_WORKERS'], ['--node-id', 'SNAKETRON_NODE_ID'],
      ['--prefix', 'SNAKETRON_PREFIX'], ['--secret', 'SNAKETRON_SECRET'], ['--public-url', 'SNAKETRON_PUBLIC_URL'],
      ['--checkpoint-ticks', 'SNAKETRON_CHECKPOINT_TICKS'], ['--lease-ms', 'SNAKETRON_LEASE_MS'],
      ['--lobby-grace-ms', 'SNAKETRON_LOBBY_GRACE_MS'], ['--max-clients', 'SNAKETRON_MAX_CLIENTS'], ['--log-level', 'SNAKETRON_LOG_LEVEL']]) {
      expect(stdout).to.contain(flag).and.contain(env);
    }
    expect(stdout).to.contain('(default 8080)').and.contain('(default 32)').and.contain('(default 1500)');
    expect(stdout).to.contain('host name, port and a random suffix');
    expect(stdout).to.contain('(default cores − 1)').and.contain('(default info)');
  });

  it('answers -h as --help, and says what its exit codes mean', () => {
    const { code, stdout } = run(['-h']);
    expect(code).to.equal(0);
    expect(stdout).to.match(/^Usage: snaketron-node/).and.contain('Exit codes: 0 stopped on SIGTERM or SIGINT, 1 could not start or failed (or a second signal), 2 a bad option.');
  });

  it('takes flags over the environment over the defaults', () => {
    const config = parseNodeConfig(['--port', '9001'], { SNAKETRON_PORT: '9002', SNAKETRON_PARTITIONS: '16', SNAKETRON_NODE_ID: 'n-1' });
    expect(config).to.include({ port: 9001, partitions: 16, nodeId: 'n-1', prefix: 'snaketron', checkpointTicks: 20, leaseMs: 1500, lobbyGraceMs: 20_000 });
    expect(parseNodeConfig(['--lobby-grace-ms', '500'], {})).to.include({ lobbyGraceMs: 500 });
    expect(parseNodeConfig([], {})).to.include({ maxClients: 10_000 });
    expect(parseNodeConfig(['--max-clients', '300'], { SNAKETRON_MAX_CLIENTS: '400' })).to.include({ maxClients: 300 });
    expect(parseNodeConfig([], { SNAKETRON_MAX_CLIENTS: '400' })).to.include({ maxClients: 400 });
    expect(() => parseNodeConfig(['--max-clients', '0'], {})).to.throw(ConfigError, '--max-clients (SNAKETRON_MAX_CLIENTS) must be a whole number from 1 to 10000000, got "0"');
  });

  it('refuses a bad option with a message naming it and exit code 2', () => {
    // the process: exit 2 and the message on stderr (bin/node.ts writes parseNodeConfig's refusal), for a few kinds
    for (const args of [['--port', 'abc'], ['--bogus'], ['--database', 'postgres://[::1']]) {
      const { code, stderr } = run(args);
      expect(code, args.join(' ')).to.equal(2);
      expect(stderr, args.join(' ')).to.match(/^snaketron-node: /);
    }
    expect(run(['--port', 'abc']).stderr).to.contain('--port (SNAKETRON_PORT) must be a whole number');
    expect(run([], { SNAKETRON_SECRET: '' }).code, 'an empty SNAKETRON_SECRET').to.equal(2);
    // every refusal's words, from the parser the process runs (a process each took 25 s of the suite)
    const refusal = (args: string[], env: Record<string, string> = {}) => {
      try {
        parseNodeConfig(args, env);
      } catch (err) {
        expect(err, args.join(' ')).to.be.instanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error(`${args.join(' ')} was taken`);
    };
    for (const args of [['--partitions', '0'], ['--database', 'mysql://x'], ['--redis', 'redis://[::1'], ['--public-url', 'not a url'], ['--node-id', '']]) {
      expect(refusal(args), args.join(' ')).to.match(new RegExp(`^${args[0]} \\(SNAKETRON_`));
    }
    expect(refusal(['--database', 'postgres://[::1'])).to.contain('--database (SNAKETRON_DATABASE_URL) must be a postgres:// URL, got "postgres://[::1"');
    expect(refusal(['--public-url', 'not a url'])).to.contain('--public-url (SNAKETRON_PUBLIC_URL) must be a ws:// or wss:// URL');
    expect(refusal(['--node-id', ''])).to.contain('--node-id (SNAKETRON_NODE_ID) must be 1-100 letters');
    expect(refusal(['--prefix', 'a b'])).to.contain('--prefix (SNAKETRON_PREFIX) must be 1-64 letters');
    // a negative number is told what the option takes (parseArgs alone calls it an ambiguous option)
    expect(refusal(['--port', '-1'])).to.contain('--port (SNAKETRON_PORT) must be a whole number from 0 to 65535, got "-1"');
    expect(refusal(['--lease-ms', '-5'])).to.contain('--lease-ms (SNAKETRON_LEASE_MS) must be a whole number from 200');
    expect(refusal(['--frobnicate'])).to.contain("Unknown option '--frobnicate' (--help lists every option)");
    for (const secret of [['--secret', ''], ['--secret', 'short']]) {
      expect(refusal(secret), secret.join(' ')).to.contain('--secret (SNAKETRON_SECRET) must be at least 16 characters: it signs every player\'s token');
    }
    for (const redis of ['redis://127.0.0.1:6379/x', '127.0.0.1:99999']) {
      expect(refusal(['--redis', redis]), redis).to.contain(`--redis (SNAKETRON_REDIS_URL) must be a redis:// URL (with a database number as its path, if any) or host:port seeds of a Redis Cluster, got "${redis}"`);
    }
    expect(refusal(['--log-level', 'loud'])).to.contain('--log-level (SNAKETRON_LOG_LEVEL) must be one of fatal, error, warn, info, debug, trace, silent, got "loud"');
  });

  it('refuses to join a cluster whose partition count differs from its own, saying so, with exit code 1', async () => {
    const cluster = await SpecCluster.create('partitions', { partitions: 8 });
    try {
      await cluster.start();
      const other = run(['--port', '0', '--prefix', cluster.prefix, '--database', cluster.db.url, '--partitions', '4']);
      expect(other.code).to.equal(1);
      expect(other.stderr).to.contain(`this cluster (prefix ${cluster.prefix}) was started with 8 partitions and this node is configured with 4: `
        + 'give it partitions = 8 (snaketron-node: --partitions 8), or another prefix to start a new cluster');
      expect(cluster.live(), 'the running node goes on').to.have.length(1);
    } finally {
      await cluster.stop();
    }
  });

  it('leaves a new cluster\'s partition count open when its first node cannot start', async () => {
    const prefix = freshPrefix('unfixed');
    const redis = new Redis(REDIS_URL);
    try {
      const failed = run(['--port', '0', '--prefix', prefix, '--partitions', '4', '--database', 'postgres://root@127.0.0.1:1/none']);
      expect(failed.code).to.equal(1);
      expect(await redis.hget(new Keys(prefix).cluster, 'partitions'), 'the partition count stored').to.equal(null);
    } finally {
      redis.disconnect();
      await dropKeys(prefix);
    }
  });

  it('refuses a port in use before it joins the cluster: exit 1, and the running node keeps every partition', async () => {
    const cluster = await SpecCluster.create('busy-port', { partitions: 8 });
    const redis = new Redis(REDIS_URL);
    try {
      const first = await cluster.start();
      const busy = run(['--port', String(first.port), '--prefix', cluster.prefix, '--database', cluster.db.url, '--partitions', '8',
        '--node-id', 'busy-node']);
      expect(busy.code).to.equal(1);
      expect(busy.stderr).to.contain(`cannot listen on port ${first.port}: it is in use or not allowed`);
      const keys = new Keys(cluster.prefix);
      for (let p = 0; p < 8; p++) expect(await redis.get(keys.lease(p)), `the lease of partition ${p}`).to.equal(first.nodeId);
    } finally {
      redis.disconnect();
      await cluster.stop();
    }
  });

  it('advertises the port it was given when asked for any free one (--port 0)', async () => {
    const db = await freshDatabase('port-zero');
    const prefix = freshPrefix('port-zero');
    const node = await startNode({
      port: 0, redisUrl: REDIS_URL, databaseUrl: db.url, partitions: 4, workers: 1, nodeId: 'port-zero', prefix,
      checkpointTicks: 20, leaseMs: 1500, lobbyGraceMs: 20_000, logger: pino({ level: 'silent' }),
    });
    try {
      expect(node.port).to.be.greaterThan(0);
      const view = (await (await fetch(`${node.url}/api/cluster`)).json()) as { nodes: Array<{ id: string; url: string }> };
      expect(view.nodes.find((n) => n.id === 'port-zero')?.url).to.match(new RegExp(`:${node.port}/ws$`));
    } finally {
      await node.stop();
      await dropKeys(prefix);
      await db.drop();
    }
  });

  it('serves at most --max-clients connections: one more is told unavailable and closed with 1013, and gets in once one leaves', async () => {
    const db = await freshDatabase('max-clients');
    const prefix = freshPrefix('max-clients');
    const node = await startNode({
      port: 0, redisUrl: REDIS_URL, databaseUrl: db.url, partitions: 4, workers: 1, nodeId: 'max-clients', prefix,
      checkpointTicks: 20, leaseMs: 1500, lobbyGraceMs: 20_000, maxClients: 2, logger: pino({ level: 'silent' }),
    });
    const clients: SpecClient[] = [];
    const connect = async (name: string) => {
      const client = await SpecClient.connect(`ws://127.0.0.1:${node.port}/ws`, name);
      clients.push(client);
      client.send({ type: 'hello', v: 1, name });
      return client;
    };
    const refused = async () => Number(/^snaketron_connections_refused_total\{[^}]*\} (\d+)$/m.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1]);
    try {
      const [a, b] = [await connect('a'), await connect('b')];
      await Promise.all([a.next('welcome'), b.next('welcome')]);
      const c = await connect('c');
      const error = await c.next('error');
      expect(error).to.deep.include({ code: 'unavailable', message: 'this node is full: it serves at most 2 connections at once; try again shortly' });
      expect(await c.whenClosed).to.deep.equal({ code: 1013, reason: 'node full' });
      expect(c.received.map((m) => m.type), 'all the refused connection got').to.deep.equal(['error']);
      expect(await refused()).to.equal(1);
      // the two served go on as before
      a.send({ type: 'ping', c: 1 });
      expect(await a.next('pong')).to.include({ c: 1 });
      a.ws.close();
      await a.whenClosed;
      const d = await waitFor('a connection to get in once one left', async () => {
        const client = await connect('d');
        const first = await Promise.race([client.next('welcome').then(() => 'welcome'), client.whenClosed.then(() => 'closed')]);
        return first === 'welcome' ? client : null;
      }, 10_000, 100);
      expect(d.received[0].type).to.equal('welcome');
      b.send({ type: 'ping', c: 2 });
      expect(await b.next('pong')).to.include({ c: 2 });
    } finally {
      for (const client of clients) client.ws.terminate();
      await node.stop();
      await dropKeys(prefix);
      await db.drop();
    }
  });

  it('says so and exits 1 when Redis or Postgres cannot be reached, or the database is not there', () => {
    const redis = run(['--port', '0', '--redis', 'redis://127.0.0.1:1']);
    expect(redis.code).to.equal(1);
    expect(redis.stderr).to.contain('Redis at redis://127.0.0.1:1 does not answer');
    const pg = run(['--port', '0', '--prefix', 'st-config-spec', '--database', 'postgres://root@127.0.0.1:1/none']);
    expect(pg.code).to.equal(1);
    expect(pg.stderr).to.match(/cannot prepare the database: Postgres does not answer \(.*ECONNREFUSED.*\): is it running, and is --database right\?/);
    const missing = run(['--port', '0', '--prefix', 'st-config-spec', '--database', 'postgres://root@127.0.0.1:5432/st_no_such_database']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('database "st_no_such_database" does not exist (create it');
    // ioredis would go on in database 0 when its SELECT fails
    const index = run(['--port', '0', '--prefix', 'st-config-spec', '--redis', `${REDIS_URL}/99`]);
    expect(index.code).to.equal(1);
    expect(index.stderr).to.contain(`Redis at ${REDIS_URL}/99 has no database 99: pick one below its 'databases' setting`);
  });

  it('tells a Redis that wants a password from one that refused it, and never shows the password', async () => {
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 'spec-password'],
      { stdio: 'ignore' });
    try {
      await waitFor('the password-protected Redis', () =>
        /NOAUTH/.test(spawnSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' }).stdout), 10_000, 50);
      const none = run(['--port', '0', '--prefix', 'st-config-spec', '--redis', `redis://127.0.0.1:${port}`]);
      expect(none.code).to.equal(1);
      expect(none.stderr).to.contain(`Redis at redis://127.0.0.1:${port} asks for a password: put it in the Redis URL`);
      const wrong = run(['--port', '0', '--prefix', 'st-config-spec', '--redis', `redis://:not-the-password@127.0.0.1:${port}`]);
      expect(wrong.code).to.equal(1);
      expect(wrong.stderr).to.contain(`Redis at redis://:***@127.0.0.1:${port} refused the user name or password in the Redis URL`);
      expect(wrong.stderr).to.not.contain('not-the-password');
      const away = run(['--port', '0', '--redis', 'redis://:hunter2@127.0.0.1:1']);
      expect(away.stderr).to.contain('Redis at redis://:***@127.0.0.1:1 does not answer').and.not.contain('hunter2');
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('answers every request from the moment it listens: /healthz 200 and the rest 503 until its routes are in', async () => {
    const db = await freshDatabase('early');
    const prefix = freshPrefix('early');
    const port = await freePort();
    const child = spawn(NODE_BIN, [], {
      env: { ...process.env, SNAKETRON_PORT: String(port), SNAKETRON_PREFIX: prefix, SNAKETRON_DATABASE_URL: db.url, SNAKETRON_PARTITIONS: '4',
        SNAKETRON_WORKERS: '1', SNAKETRON_LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    });
    // every answer, from before the node listens until it is ready: a refused connection (not listening yet) is
    // fine, a connection closed without an answer is not
    const seen: string[] = [];
    try {
      await waitFor('the node to be ready', async () => {
        const answers = await Promise.all(['/healthz', '/readyz', '/api/cluster'].map((path) =>
          fetch(`http://127.0.0.1:${port}${path}`).then((res) => `${path} ${res.status}`, (err: Error & { cause?: { code?: string } }) =>
            (err.cause?.code === 'ECONNREFUSED' ? 'refused' : `${path} failed: ${err.cause?.code ?? err.message}`))));
        seen.push(...answers);
        return answers.includes('/readyz 200');
      }, 30_000, 5);
      expect(seen.filter((a) => a.includes('failed')), 'requests left without an answer').to.deep.equal([]);
      expect(seen.filter((a) => a.startsWith('/healthz')).every((a) => a === '/healthz 200')).to.equal(true);
      expect(seen.filter((a) => a.startsWith('/api/cluster')).every((a) => a === '/api/cluster 200' || a === '/api/cluster 503')).to.equal(true);
    } finally {
      child.kill('SIGKILL');
      await dropKeys(prefix);
      await db.drop();
    }
  });
});
