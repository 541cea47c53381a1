// bin/snaketron-node's configuration: --help, flags over environment, and clear refusals (bad options,
// unreachable Redis or Postgres) with a non-zero exit.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseNodeConfig } from '../actors/snaketron/config.ts';
import { Redis } from 'ioredis';
import { Keys } from '../runtime/keys.ts';
import { SpecCluster } from './support/cluster.ts';
import { pino } from 'pino';
import { startNode } from '../actors/snaketron/node.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL } from './support/env.ts';

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
      ['--lobby-grace-ms', 'SNAKETRON_LOBBY_GRACE_MS'], ['--log-level', 'SNAKETRON_LOG_LEVEL']]) {
      expect(stdout).to.contain(flag).and.contain(env);
    }
    expect(stdout).to.contain('(default 8080)').and.contain('(default 32)').and.contain('(default 1500)');
    expect(stdout).to.contain('host name, port and a random suffix');
    expect(stdout).to.contain('(default cores − 1)').and.contain('(default info)');
  });

  it('takes flags over the environment over the defaults', () => {
    const config = parseNodeConfig(['--port', '9001'], { SNAKETRON_PORT: '9002', SNAKETRON_PARTITIONS: '16', SNAKETRON_NODE_ID: 'n-1' });
    expect(config).to.include({ port: 9001, partitions: 16, nodeId: 'n-1', prefix: 'snaketron', checkpointTicks: 20, leaseMs: 1500, lobbyGraceMs: 20_000 });
    expect(parseNodeConfig(['--lobby-grace-ms', '500'], {})).to.include({ lobbyGraceMs: 500 });
  });

  it('refuses a bad option with a message naming it and exit code 2', () => {
    for (const args of [['--port', 'abc'], ['--partitions', '0'], ['--database', 'mysql://x'], ['--bogus'], ['--database', 'postgres://[::1'],
      ['--redis', 'redis://[::1'], ['--public-url', 'not a url'], ['--node-id', '']]) {
      const { code, stderr } = run(args);
      expect(code, args.join(' ')).to.equal(2);
      expect(stderr, args.join(' ')).to.match(/^snaketron-node: /);
    }
    expect(run(['--port', 'abc']).stderr).to.contain('--port (SNAKETRON_PORT) must be a whole number');
    expect(run(['--database', 'postgres://[::1']).stderr).to.contain('--database (SNAKETRON_DATABASE_URL) must be a postgres:// URL, got "postgres://[::1"');
    expect(run(['--public-url', 'not a url']).stderr).to.contain('--public-url (SNAKETRON_PUBLIC_URL) must be a ws:// or wss:// URL');
    expect(run(['--node-id', '']).stderr).to.contain('--node-id (SNAKETRON_NODE_ID) must be 1-100 letters');
    expect(run(['--prefix', 'a b']).stderr).to.contain('--prefix (SNAKETRON_PREFIX) must be 1-64 letters');
    const level = run(['--log-level', 'loud']);
    expect(level.code).to.equal(2);
    expect(level.stderr).to.contain('--log-level (SNAKETRON_LOG_LEVEL) must be one of fatal, error, warn, info, debug, trace, silent, got "loud"');
  });

  it('refuses to join a cluster whose partition count differs from its own, saying so, with exit code 1', async () => {
    const cluster = await SpecCluster.create('partitions', { partitions: 8 });
    try {
      await cluster.start();
      const other = run(['--port', '0', '--prefix', cluster.prefix, '--database', cluster.db.url, '--partitions', '4']);
      expect(other.code).to.equal(1);
      expect(other.stderr).to.contain(`this cluster (prefix ${cluster.prefix}) has 8 partitions; this node was configured with 4`);
      expect(cluster.live(), 'the running node goes on').to.have.length(1);
    } finally {
      await cluster.stop();
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
  });
});
