// What an operator sees: /metrics in Prometheus format with the runtime's and the node's numbers, /api/cluster
// with every node and partition owner, and the live /cluster page, checked in headless Chromium.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { SpecCluster, type SnakeNode } from './support/cluster.ts';
import { SpecClient } from './support/client.ts';
import { waitFor } from './support/env.ts';
import { ARTIFACTS, launchBrowser } from './support/browser.ts';
import { buildDist, SpecRedis } from './support/processes.ts';
import { Redis } from 'ioredis';

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  if (!line) throw new Error(`no metric ${name}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('operator views', function () {
  this.timeout(90_000);
  let cluster: SpecCluster;
  let nodes: SnakeNode[];

  before(async () => {
    cluster = await SpecCluster.create('operator', { partitions: 8 });
    nodes = [await cluster.start(), await cluster.start()];
    await cluster.settled();
  });
  after(async () => {
    await cluster.stop();
  });

  it('exports Prometheus metrics that follow what the node does', async () => {
    const client = await SpecClient.connect(nodes[0].ws, 'metrics');
    await client.hello('metrics');
    client.send({ type: 'solo', settings: { tickMs: 50 } });
    const snap = await client.next('snapshot');
    await client.next('tick');
    const owner = (await cluster.ownerOf(snap.gameId))!;
    const text = await waitFor('the owner to count the game and its steps', async () => {
      const body = (await owner.get('/metrics')).body;
      return metric(body, 'snaketron_games_active') >= 1 && metric(body, 'snaketron_steps_total') > 0 ? body : null;
    });
    for (const name of ['snaketron_partitions_owned', 'snaketron_commits_total', 'snaketron_recoveries_total', 'snaketron_dead_letters_total',
      'snaketron_tick_lateness_seconds_count', 'snaketron_commit_seconds_count', 'snaketron_checkpoint_seconds_count',
      'snaketron_recovery_seconds_count', 'snaketron_clients', 'snaketron_messages_out_total', 'snaketron_bytes_out_total',
      'snaketron_slow_client_resyncs_total', 'snaketron_worker_restarts_total', 'snaketron_actors_parked_total', 'snaketron_queued_players',
      'snaketron_connections_refused_total']) {
      expect(metric(text, name), name).to.be.a('number').and.not.NaN;
    }
    expect(metric(text, 'snaketron_partitions_owned')).to.equal(4);
    expect(metric(text, 'snaketron_ready')).to.equal(1);
    expect(text).to.match(/snaketron_inbox_lag\{partition="\d+"/);
    // the recoveries by why: the first node found every partition new, the second had its share handed over
    const byReason = [...text.matchAll(/^snaketron_recoveries_by_reason_total\{reason="([^"]+)"[^}]*\} (\d+)$/gm)];
    expect(byReason.map((m) => m[1])).to.include.oneOf(['new', 'handed over']);
    expect(byReason.reduce((n, m) => n + Number(m[2]), 0)).to.equal(metric(text, 'snaketron_recoveries_total'));
    // the process's own metrics under the names dashboards expect
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      expect(metric(text, name), name).to.be.a('number').and.not.NaN;
    }
    const front = (await nodes[0].get('/metrics')).body;
    expect(metric(front, 'snaketron_clients')).to.equal(1);
    expect(metric(front, 'snaketron_messages_out_total')).to.be.greaterThan(1);
    // the ticks this client got were measured from their commit to its socket
    expect(metric(front, 'snaketron_tick_delivery_seconds_count')).to.be.greaterThan(0);
    // a game that ended is no longer counted, in the metrics nor in /api/cluster (it stayed counted until its
    // partition's next game: an ended actor leaves once its last checkpoint is stored, in a cycle with nothing else to do)
    await client.next('over', undefined, 30_000);
    await waitFor('the owner to stop counting the ended game', async () => metric((await owner.get('/metrics')).body, 'snaketron_games_active') === 0);
    await waitFor('/api/cluster to stop counting it', async () => {
      const view = (await nodes[0].get('/api/cluster')).json<{ nodes: Array<{ id: string; games: number }>; partitions: Array<{ games: number | null }> }>();
      return view.nodes.every((n) => n.games === 0) && view.partitions.every((p) => p.games === 0);
    });
    client.close();
  });

  it('answers HEAD on /healthz and /readyz, 426 on /ws without an upgrade, and JSON 404 on an unknown /api path', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const res = await fetch(`${nodes[0].http}${path}`, { method: 'HEAD' });
      expect(res.status, `HEAD ${path}`).to.equal(200);
    }
    const ws = await fetch(`${nodes[0].http}/ws`);
    expect(ws.status).to.equal(426);
    expect(ws.headers.get('upgrade')).to.equal('websocket');
    expect(await ws.json()).to.deep.include({ error: 'upgrade_required' });
    const unknown = await fetch(`${nodes[0].http}/api/nothing-here`);
    expect(unknown.status).to.equal(404);
    expect(unknown.headers.get('content-type')).to.equal('application/json');
    expect(await unknown.json()).to.deep.equal({ error: 'not_found', message: 'no such endpoint: /api/nothing-here' });
    const long = (await nodes[0].get(`/api/games/${'x'.repeat(5000)}`)).json<{ message: string }>();
    expect(long.message.length, 'an answer quotes no more of a path than a game id could be').to.be.below(100);
  });

  it('lists nodes and partition owners at /api/cluster and on the live /cluster page', async () => {
    const view = (await nodes[1].get('/api/cluster')).json<{
      now: number;
      nodes: Array<{ id: string; partitions: number[]; lastHeartbeat: number }>;
      partitions: Array<{ partition: number; owner: string; epoch: number }>;
    }>();
    // in the order the partitions are shared out in, the same at every refresh
    expect(view.nodes.map((n) => n.id)).to.deep.equal(nodes.map((n) => n.nodeId).sort());
    expect(view.partitions).to.have.length(8);
    for (const p of view.partitions) expect(nodes.map((n) => n.nodeId)).to.include(p.owner);
    for (const n of view.nodes) expect(n.partitions).to.have.length(4);
    // the heartbeats' age is read on their own clock (Redis's), which the answer gives
    for (const n of view.nodes) expect(view.now - n.lastHeartbeat).to.be.within(-100, 30_000);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      await page.goto(`${nodes[0].http}/cluster`);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=nodes] tbody tr').length === 2);
      expect(await page.locator('[data-testid=partitions] .cell').count()).to.equal(8);
      const status = await page.locator('[data-testid=status]').textContent();
      expect(status).to.match(/2 node\(s\), 8 partitions/);
      // it refreshes live: a third node appears without reloading the page
      const third = await cluster.start();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=nodes] tbody tr').length === 3, undefined, { timeout: 20_000 });
      await page.screenshot({ path: fileURLToPath(new URL('cluster.png', ARTIFACTS)) });
      void third;
    } finally {
      await browser.close();
    }
  });
});

describe('readiness', function () {
  this.timeout(90_000);

  it('through a Redis outage: /readyz 503, metrics still scraped, requests refused with unavailable, all said in its log; then back by itself', async () => {
    const redis = await SpecRedis.start();
    const cluster = await SpecCluster.create('readyz', { partitions: 4, redis: redis.url, logLevel: 'info' });
    try {
      const node = await cluster.start();
      expect((await node.get('/readyz')).status).to.equal(200);
      const client = await SpecClient.connect(node.ws, 'outage');
      await client.hello('outage');
      await redis.shutdown();
      await waitFor('/readyz to say not ready', async () => (await node.get('/readyz')).status === 503, 10_000, 100);
      expect((await node.get('/healthz')).status, 'the process itself is fine').to.equal(200);
      expect(node.output).to.contain('lost the connection to Redis');
      // the cluster page says why it shows nothing new
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        await page.goto(`${node.http}/cluster`);
        await page.waitForFunction(() => /the node answers 503/.test(document.querySelector('[data-testid=status]')?.textContent ?? ''),
          undefined, { timeout: 20_000 });
        expect(await page.locator('[data-testid=status]').textContent()).to.contain('storage did not answer');
      } finally {
        await browser.close();
      }
      // a scrape does not wait for Redis: what needs it is left out, the rest comes
      const scrape = await node.get('/metrics');
      expect(scrape.status).to.equal(200);
      expect(metric(scrape.body, 'snaketron_ready')).to.equal(0);
      expect(metric(scrape.body, 'snaketron_clients')).to.equal(1);
      client.send({ type: 'solo', rid: 7 });
      expect(await client.next('error')).to.include({ code: 'unavailable', rid: 7 });
      await redis.startAgain();
      await waitFor('/readyz to say ready again', async () => (await node.get('/readyz')).status === 200, 30_000, 100);
      expect(node.output).to.contain('Redis answers again');
      client.send({ type: 'solo', settings: { tickMs: 50 } });
      await client.next('tick');
      client.close();
    } finally {
      await cluster.stop();
      await redis.destroy();
    }
  });

  it('stores the cluster\'s settings again when Redis comes back without them, so tokens made before still work', async () => {
    const redis = await SpecRedis.start();
    const cluster = await SpecCluster.create('wiped', { partitions: 4, redis: redis.url, logLevel: 'info' });
    const direct = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      const node = await cluster.start();
      const first = await SpecClient.connect(node.ws, 'before');
      const welcome = await first.hello('before');
      first.close();
      await direct.connect();
      const settings = await direct.hgetall(`${cluster.prefix}:cluster`);
      expect(settings).to.have.keys('partitions', 'secret');
      direct.disconnect();
      // a restart without persistence: the server comes back empty
      await redis.shutdown();
      redis.forget();
      await redis.startAgain();
      await waitFor('the node to say Redis lost the cluster\'s state', () => node.output.includes('Redis came back without this cluster\'s state'), 20_000, 100);
      const again = new Redis(redis.url);
      try {
        await waitFor('the settings stored again', async () => (await again.hget(`${cluster.prefix}:cluster`, 'secret')) !== null, 10_000, 100);
        expect(await again.hgetall(`${cluster.prefix}:cluster`)).to.deep.equal(settings);
      } finally {
        again.disconnect();
      }
      // a node started now signs with the same secret: the token from before is taken
      const second = await cluster.start();
      const client = await SpecClient.connect(second.ws, 'after');
      expect((await client.hello(undefined, welcome.token)).userId).to.equal(welcome.userId);
      client.close();
      // and the log lines stay plain JSON: a recovery's line names its node once
      for (const line of node.output.split('\n').filter((l) => l.includes('partition recovered'))) {
        expect(line.match(/"node":/g), line).to.have.length(1);
      }
    } finally {
      direct.disconnect();
      await cluster.stop();
      await redis.destroy();
    }
  });
});

describe('a node built with make build', function () {
  this.timeout(120_000);

  it('runs from dist/ as production would: serves the web client and the cluster page, and plays a game', async () => {
    buildDist();
    const cluster = await SpecCluster.create('compiled', { partitions: 4, compiled: true });
    try {
      const node = await cluster.start();
      const page = await node.get('/');
      expect(page.body).to.include('<script').and.not.include('not built');
      expect((await node.get('/cluster')).status).to.equal(200);
      const client = await SpecClient.connect(node.ws, 'compiled');
      await client.hello('compiled');
      client.send({ type: 'solo', settings: { tickMs: 50 } });
      const snapshot = await client.next('snapshot');
      const tick = await client.next('tick');
      expect(tick).to.include({ gameId: snapshot.gameId, t: 1 });
      client.close();
    } finally {
      await cluster.stop();
    }
  });
});
