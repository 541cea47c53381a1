// Cluster membership between runtime nodes (spec/fixtures/runtime-node.ts) whose clocks disagree, as real processes
// against the real Redis and Postgres: one node's clock runs 5 s ahead, one's 5 s behind (spec/fixtures/
// skewed-clock.mjs), far more than the 1.5 s after which a silent node counts as dead. They still see each other
// live, share the partitions and keep them; and one SIGKILLed is still found dead and its partitions taken over.
// Also nodes configured apart: a second node under a live one's id is refused, one with another lease is warned of.
import { expect } from 'chai';
import { Keys } from '../runtime/keys.ts';
import { connectRedis, type RedisClient } from '../runtime/redis.ts';
import type { Takeover } from '../runtime/supervisor.ts';
import { dropKeys, freshDatabase, freshPrefix, REDIS_URL, sleep, waitFor, type SpecDatabase } from './support/env.ts';
import { NodeProcess, type NodeOptions } from './support/processes.ts';

const PARTITIONS = 6;
/** heartbeats every 500 ms; a node whose last one is 1.5 s old is dead */
const LEASE_MS = 1500;
const SKEWED_CLOCK = new URL('./fixtures/skewed-clock.mjs', import.meta.url).href;
const MISSED = /missed its heartbeats/;

/**
 * For a describe block: a database and key prefix of its own, the runtime nodes it starts (killed after it), and a
 * connection to Redis to look with.
 */
function specNodes(label: string) {
  let db: SpecDatabase;
  const nodes: NodeProcess[] = [];
  const prefix = freshPrefix(label);
  const view = {
    keys: new Keys(prefix),
    redis: undefined as unknown as RedisClient,
    start(nodeId: string, options: Partial<NodeOptions> = {}): NodeProcess {
      const node = NodeProcess.start({ redisUrl: REDIS_URL, databaseUrl: db.url, prefix, partitions: PARTITIONS, nodeId, leaseMs: LEASE_MS, ...options });
      nodes.push(node);
      return node;
    },
  };
  before(async () => {
    db = await freshDatabase(label);
    view.redis = connectRedis(REDIS_URL);
  });
  after(async () => {
    for (const node of nodes) await node.kill();
    view.redis.disconnect();
    await dropKeys(prefix);
    await db.drop();
  });
  return view;
}

describe('membership between nodes whose clocks disagree', function () {
  this.timeout(90_000);
  const c = specNodes('membership');

  function start(nodeId: string, skewMs: number): NodeProcess {
    return c.start(nodeId, { execArgv: ['--import', SKEWED_CLOCK], env: { CLOCK_SKEW_MS: String(skewMs) } });
  }

  const owners = () => Promise.all(Array.from({ length: PARTITIONS }, (_, p) => c.redis.get(c.keys.lease(p))));
  const epochs = () => Promise.all(Array.from({ length: PARTITIONS }, (_, p) => c.redis.get(c.keys.epoch(p))));
  /** Waits until `node` sees exactly `live` as the live nodes (after line `from`). */
  async function sees(node: NodeProcess, live: readonly string[], from = 0): Promise<void> {
    await node.waitForLine(new RegExp(`^live ${live.join(',')}$`), 30_000, from).catch((err: Error) => {
      const last = node.lines.filter((l) => l.startsWith('live ')).at(-1);
      throw new Error(`${err.message} (it sees ${last ?? 'nothing yet'})`);
    });
  }

  /** the owners round-robin over the live nodes sorted by id, as every node computes them */
  const shared = (live: readonly string[]) => Array.from({ length: PARTITIONS }, (_, p) => live[p % live.length]);

  it('see each other live, keep an even split of the partitions, and still take over from a node SIGKILLed', async () => {
    const ahead = start('ahead', 5000);
    const behind = start('behind', -5000);
    const right = start('right', 0);
    const all = [ahead, behind, right];

    for (const node of all) await sees(node, ['ahead', 'behind', 'right']);
    await waitFor('the partitions to be split ahead, behind, right', async () =>
      JSON.stringify(await owners()) === JSON.stringify(shared(['ahead', 'behind', 'right'])), 20_000);
    for (const node of all) await node.ready();

    // stable: over several heartbeats and leases nobody drops out of anyone's list and no partition moves
    const marks = all.map((n) => n.lines.length);
    const settledEpochs = await epochs();
    await sleep(3 * LEASE_MS);
    expect(await owners()).to.deep.equal(shared(['ahead', 'behind', 'right']));
    expect(await epochs(), 'epochs (a partition that moved took a new one)').to.deep.equal(settledEpochs);
    // Lines that may come late for what happened before the marks: a hand-off's, after its partition's next owner
    // took it up, and the first recovery at the epoch the split gave its partition (seen in a loaded CI run: the
    // split's last takeover ended its recovery after the owners were read). The epochs tell of any later move; a
    // second recovery at the same epoch (a worker replaced) is still news.
    const settledRecovery = (line: string) => {
      const recovered = /^recovered (\d+) (\d+) /.exec(line);
      return recovered !== null && settledEpochs[Number(recovered[1])] === recovered[2] ? `${recovered[1]} ${recovered[2]}` : null;
    };
    all.forEach((node, i) => {
      const recoveredBefore = new Set(node.lines.slice(0, marks[i]).map(settledRecovery));
      const news = node.lines.slice(marks[i]).filter((l, j, after) => {
        if (l.startsWith('handed-off ')) return false;
        const recovery = settledRecovery(l);
        return recovery === null || recoveredBefore.has(recovery) || after.slice(0, j).some((e) => settledRecovery(e) === recovery);
      });
      expect(news, `what node ${node.nodeId} printed`).to.deep.equal([]);
      expect(node.output(), `node ${node.nodeId}'s log`).not.to.match(MISSED);
    });

    // the node whose clock is ahead dies: the one behind it by 10 s finds it dead all the same
    const survivorMarks = [behind.lines.length, right.lines.length];
    await ahead.kill();
    await sees(behind, ['behind', 'right'], survivorMarks[0]);
    await sees(right, ['behind', 'right'], survivorMarks[1]);
    await waitFor('the survivors to hold every partition, split between them', async () =>
      JSON.stringify(await owners()) === JSON.stringify(shared(['behind', 'right'])), 20_000);
    for (const node of [behind, right]) {
      await waitFor(`node ${node.nodeId} to log that ahead missed its heartbeats`, () => /node ahead missed its heartbeats/.test(node.output()), 10_000);
    }
    // each of ahead's partitions was taken from it as from a dead holder by a survivor: on a loaded machine not always
    // by the one that holds it at the end (in a loaded CI run behind took partition 3, right's share, likely while
    // right's heartbeat was late, and it went on to right); who holds what at the end is checked above
    for (const partition of [0, 3]) {
      const takeover = await waitFor(`the takeover of partition ${partition} from ahead to be noted`, async () =>
        (await c.redis.lrange(c.keys.takeovers, 0, -1)).map((t) => JSON.parse(t) as Takeover).find((t) => t.partition === partition && t.from === 'ahead'));
      expect(takeover!.reason, `the takeover of partition ${partition}`).to.equal('holder died');
      expect(['behind', 'right'], `who took partition ${partition}`).to.include(takeover!.node);
    }
  });
});

describe('nodes configured apart', function () {
  this.timeout(90_000);
  const c = specNodes('node-ids');
  const start = (nodeId: string, leaseMs = LEASE_MS): NodeProcess => c.start(nodeId, { leaseMs });
  const leases = () => Promise.all(Array.from({ length: PARTITIONS }, (_, p) => Promise.all([c.redis.get(c.keys.lease(p)), c.redis.get(c.keys.epoch(p))])));

  it('refuse a second node under a live node\'s id, whose partitions stay put; a node SIGKILLed and started again under its id goes on', async () => {
    const first = start('twin');
    await first.ready();
    const held = await leases();
    expect(held.map(([owner]) => owner)).to.deep.equal(Array(PARTITIONS).fill('twin'));

    const second = start('twin');
    expect(await second.exited, 'the second node\'s exit code').to.not.equal(0);
    expect(second.log).to.match(/node id twin is taken by a live node of this cluster.*give each node its own --node-id/);
    expect(await leases(), 'owners and epochs').to.deep.equal(held);

    await first.kill();
    const again = start('twin');
    await again.ready();
    expect((await leases()).map(([owner]) => owner)).to.deep.equal(Array(PARTITIONS).fill('twin'));
  });

  it('warn of a peer whose lease is not theirs (each judges the other\'s heartbeat by its own)', async () => {
    const short = start('short');
    const long = start('long', LEASE_MS * 2);
    await Promise.all([short.ready(), long.ready()]);
    const warning = (node: NodeProcess, of: string) => node.log.split('\n').find((l) => l.includes(`node ${of} has another lease`));
    const [atShort, atLong] = await Promise.all([
      waitFor('the node with the short lease to warn', () => warning(short, 'long')),
      waitFor('the node with the long lease to warn', () => warning(long, 'short')),
    ]);
    expect(JSON.parse(atShort)).to.include({ other: 'long', leaseMs: LEASE_MS, theirs: LEASE_MS * 2 });
    expect(JSON.parse(atLong)).to.include({ other: 'short', leaseMs: LEASE_MS * 2, theirs: LEASE_MS });
  });
});
