// bin/snaketron-sim: runs a GAME.md "Conformance" scenario and prints its `expected` object as JSON, so any
// implementation of the rules can be checked against this one.

import { readFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import { parseArgs } from 'node:util';
import { runScenario, ScenarioError } from '../protocol/engine.ts';

const USAGE = `usage: snaketron-sim [--pretty] [FILE | -]

Runs a SnakeTron scenario by the GAME.md rules and prints the expected object
(tick, status, winner, winningTeam, hash, rng, food, snakes, hashes) as JSON.

FILE holds a vector file {"scenario", "expected"} or a bare scenario
{"settings", "seed", "players", "turns", "maxTicks"}; without FILE, or with -,
the scenario is read from standard input.

  --pretty    indent the JSON output
  -h, --help  print this help

Exit status: 0 on success, 1 when the input cannot be read or is not a valid scenario, 2 on bad usage.`;

class UsageError extends Error {}

function main(argv: string[]): number {
  let options;
  try {
    options = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, pretty: { type: 'boolean' } },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (options.values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (options.positionals.length > 1) throw new UsageError('at most one FILE may be given');
  const file = options.positionals[0] ?? '-';
  // isatty, not process.stdin.isTTY: opening process.stdin makes a pipe non-blocking, and reading one whose writer
  // has not written yet would then fail
  if (file === '-' && isatty(0)) throw new UsageError('no FILE given and standard input is a terminal');

  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new ScenarioError('input', `cannot read ${file === '-' ? 'standard input' : file}: ${(error as Error).message}`);
  }
  // an editor on Windows may start the file with a byte-order mark, which JSON.parse refuses
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  if (text.trim() === '') throw new ScenarioError('input', `${file === '-' ? 'standard input' : file} is empty: give a scenario as JSON`);
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError('input', `input is not valid JSON: ${(error as Error).message}`);
  }
  // A whole vector file carries the scenario beside the expected result.
  if (typeof input === 'object' && input !== null && !Array.isArray(input) && 'scenario' in input) {
    input = input.scenario;
  }
  const expected = runScenario(input);
  process.stdout.write(`${JSON.stringify(expected, null, options.values.pretty === true ? 2 : undefined)}\n`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`snaketron-sim: ${error.message}\n${USAGE.split('\n')[0]}\n`);
    process.exitCode = 2;
  } else if (error instanceof ScenarioError) {
    process.stderr.write(`snaketron-sim: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
