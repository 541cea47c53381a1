// make bench: runs every benchmark the project has, prints one table, and writes one JSON file
// (bench/results/latest.json, plus a timestamped copy). `--only engine,codec` runs some; `--quick` shortens the long ones.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import type { Bench, BenchResult } from './types.ts';

/** benchmark name → its module in bench/ (each exports `run: Bench`) */
const BENCHES: Record<string, string> = {
  engine: 'engine', codec: 'codec', replay: 'replay', runtime: 'runtime', e2e: 'e2e', failover: 'failover', churn: 'churn', floor: 'send-floor', baseline: 'colyseus',
};
const load = async (file: string) => (await import(`./${file}.ts`)) as { run: Bench };

const { values } = parseArgs({ options: { only: { type: 'string' }, quick: { type: 'boolean' } } });
if (values.quick) process.argv.push('--quick');
const names = values.only ? values.only.split(',') : Object.keys(BENCHES);
const results: BenchResult[] = [];
const failures: Array<{ bench: string; error: string }> = [];
for (const name of names) {
  const file = BENCHES[name];
  if (!file) { console.error(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}`); process.exit(2); }
  process.stderr.write(`bench: ${name}…\n`);
  try {
    const rows = await (await load(file)).run();
    results.push(...rows);
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    failures.push({ bench: name, error });
    process.stderr.write(`bench: ${name} failed: ${error}\n`);
  }
}

// the comparison the baseline exists for: players held within the latency limit, SnakeTron over Colyseus
const snaketronMax = results.find((r) => r.group === 'e2e' && r.name.startsWith('most concurrent duel players'));
const colyseusMax = results.find((r) => r.group === 'baseline' && r.name.startsWith('colyseus max duel players'));
if (snaketronMax && colyseusMax && colyseusMax.value > 0) {
  results.push({
    group: 'comparison', name: 'duel players held with tick delivery p99 < 20 ms: SnakeTron / Colyseus', value: snaketronMax.value / colyseusMax.value,
    unit: 'ratio', target: '>= 1.5',
    notes: `SnakeTron ${snaketronMax.value} (persisting every game, tick delivery measured from commit) vs Colyseus ${colyseusMax.value} (in memory, from send)`,
  });
}
const snaketronCpu = results.find((r) => r.group === 'e2e' && r.name.startsWith('server CPU per game'));
const colyseusCpu = results.find((r) => r.group === 'baseline' && r.name === 'colyseus server CPU per game');
if (snaketronCpu && colyseusCpu && colyseusCpu.value > 0) {
  results.push({
    group: 'comparison', name: 'server CPU per game: SnakeTron / Colyseus', value: snaketronCpu.value / colyseusCpu.value, unit: 'ratio',
    notes: `SnakeTron ${snaketronCpu.value} µs/s (node + Redis + Postgres) vs Colyseus ${colyseusCpu.value} µs/s (one process), each at its own best level`,
  });
}

// The target as a CPU budget: holding 1.5× the players on the same cores leaves a game 1/1.5 of Colyseus's CPU,
// from which sending its ticks alone (the floor, the same for both servers) takes its part first.
const floor = results.find((r) => r.group === 'floor' && r.name.startsWith('server CPU per duel game only to send'));
if (snaketronCpu && colyseusCpu && floor) {
  const budget = colyseusCpu.value / 1.5;
  results.push({
    group: 'comparison', name: 'server CPU per game that 1.5× Colyseus\'s players would allow', value: Math.round(budget), unit: 'µs/s per game',
    notes: `Colyseus ${colyseusCpu.value} µs/s / 1.5; sending a duel's ticks alone takes ${floor.value} of it (the floor), which leaves ${Math.round(budget - floor.value)} µs/s `
      + `for everything else; SnakeTron spends ${snaketronCpu.value} µs/s, ${Math.round(snaketronCpu.value - floor.value)} beyond the floor (Colyseus ${Math.round(colyseusCpu.value - floor.value)})`,
  });
}

// The target as machine time: the bots share the servers' cores, so 1.5× Colyseus's players must also fit the
// load drivers they need (at the cheaper of the two drivers' measured rates), beside what a machine can be kept
// busy with before either server's p99 passes the limit (each one's first failed level says how busy that was).
const driversOf = (group: string) => results.find((r) => r.group === group && r.name.endsWith('load drivers\' CPU per 1,000 players'));
const [snaketronDrivers, colyseusDrivers] = [driversOf('e2e'), driversOf('baseline')];
if (colyseusMax && snaketronDrivers && colyseusDrivers) {
  const target = Math.round(colyseusMax.value * 1.5);
  const rate = Math.min(snaketronDrivers.value, colyseusDrivers.value);
  const busyAt = (who: string, group: string) => {
    const row = results.find((r) => r.group === group && r.name.includes('machine CPU in use at the first'));
    return row ? [`${who} passed its limit with ${row.value}% in use`] : [];
  };
  const limits = [...busyAt('Colyseus', 'baseline'), ...busyAt('SnakeTron', 'e2e')].join(', ');
  results.push({
    group: 'comparison', name: 'load drivers\' CPU that 1.5× Colyseus\'s players would take', value: Math.round((rate * target) / 1000), unit: '% of a core',
    notes: `${target} players × ${rate}% per 1,000 (the cheaper of the two drivers: SnakeTron's ${snaketronDrivers.value}, Colyseus's ${colyseusDrivers.value}), `
      + `on a machine of ${availableParallelism() * 100}%${limits ? `; ${limits}` : ''}: what is left there is a server's, with Redis and Postgres`,
  });
}

const snaketronRss = results.find((r) => r.group === 'e2e' && r.name === 'node RSS per game');
const colyseusRss = results.find((r) => r.group === 'baseline' && r.name === 'colyseus server RSS per game');
if (snaketronRss && colyseusRss && colyseusRss.value > 0) {
  results.push({
    group: 'comparison', name: 'server RSS per game: SnakeTron / Colyseus', value: snaketronRss.value / colyseusRss.value, unit: 'ratio',
    notes: `SnakeTron ${snaketronRss.value} KiB (the node; Redis and Postgres not counted) vs Colyseus ${colyseusRss.value} KiB, each above its idle process at its own best level`,
  });
}

const table = results.map((r) => ({
  group: r.group, name: r.name, value: formatValue(r.value), unit: r.unit, target: r.target ?? '', notes: r.notes ?? '',
}));
console.table(table);
for (const f of failures) console.log(`FAILED ${f.bench}: ${f.error}`);
const report = {
  at: new Date().toISOString(),
  machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  results, failures,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const json = JSON.stringify(report, null, 2);
writeFileSync(new URL('./results/latest.json', import.meta.url), json);
writeFileSync(new URL(`./results/bench-${report.at.replace(/[:.]/g, '-')}.json`, import.meta.url), json);
console.log('wrote bench/results/latest.json');
process.exit(failures.length > 0 ? 1 : 0);

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(Math.round(v * 100) / 100);
}
