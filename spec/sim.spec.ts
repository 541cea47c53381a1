// bin/snaketron-sim as a process: every conformance vector through a file argument and through stdin, and bad
// input refused with a message naming what is wrong.

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sim = join(root, 'bin', 'snaketron-sim');
const vectorDir = join(root, 'spec', 'vectors');
const vectorFiles = readdirSync(vectorDir).filter((file) => file.endsWith('.json')).sort();

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs the command from a directory outside the repository, to show it finds its own tsx. */
function runSim(args: string[], stdin?: string, stdinAfterMs = 0): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(sim, args, { cwd: tmpdir(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    setTimeout(() => child.stdin.end(stdin ?? ''), stdinAfterMs);
  });
}

const vector = (file: string): { scenario: Record<string, unknown>; expected: unknown } =>
  JSON.parse(readFileSync(join(vectorDir, file), 'utf8')) as { scenario: Record<string, unknown>; expected: unknown };

describe('bin/snaketron-sim', function () {
  // Each run starts node with tsx; they run side by side, but a loaded machine may still be slow.
  this.timeout(120_000);

  describe('conformance vectors', () => {
    const byFile = new Map<string, Promise<Run>>();
    const byStdin = new Map<string, Promise<Run>>();
    before(() => {
      for (const file of vectorFiles) {
        byFile.set(file, runSim([join(vectorDir, file)]));
        // A bare scenario on stdin, not the whole vector file.
        byStdin.set(file, runSim([], JSON.stringify(vector(file).scenario)));
      }
    });
    it('has the vectors', () => {
      expect(vectorFiles.length).to.be.at.least(11);
    });
    for (const file of vectorFiles) {
      it(`${file} from a file argument prints the expected object`, async () => {
        const run = await (byFile.get(file) as Promise<Run>);
        expect(run.stderr).to.equal('');
        expect(run.code).to.equal(0);
        expect(JSON.parse(run.stdout)).to.deep.equal(vector(file).expected);
      });
      it(`${file} from stdin prints the expected object`, async () => {
        const run = await (byStdin.get(file) as Promise<Run>);
        expect(run.code).to.equal(0);
        expect(JSON.parse(run.stdout)).to.deep.equal(vector(file).expected);
      });
    }
  });

  describe('bad input', () => {
    const scenario = { settings: { mode: 'duel' }, seed: 1, players: 2, turns: [], maxTicks: 10 };
    const cases: Array<[string, string, RegExp]> = [
      ['malformed JSON', '{"settings": ', /not valid JSON/],
      ['empty input', '\n', /standard input is empty: give a scenario as JSON/],
      ['an unknown mode', JSON.stringify({ ...scenario, settings: { mode: 'royale' } }), /settings\.mode must be one of/],
      ['a width out of range', JSON.stringify({ ...scenario, settings: { mode: 'duel', width: 5 } }), /settings\.width must be between 10 and 200/],
      ['players outside the mode', JSON.stringify({ ...scenario, players: 5 }), /players must be between 2 and 2/],
      ['a turn for a missing snake', JSON.stringify({ ...scenario, turns: [[1, 7, 'up']] }), /turns\[0\]\[1\]/],
      ['a bad direction', JSON.stringify({ ...scenario, turns: [[1, 0, 'sideways']] }), /turns\[0\]\[2\]/],
      ['a bad seed', JSON.stringify({ ...scenario, seed: 'x' }), /seed must be an integer/],
      ['an ffa without its number of players', JSON.stringify({ ...scenario, settings: { mode: 'ffa' }, players: undefined }),
        /players is required for mode ffa: the number of snakes, 2 to 8/],
    ];
    for (const [what, input, message] of cases) {
      it(`exits 1 on ${what}, with a one-line message naming it`, async () => {
        const run = await runSim([], input);
        expect(run.code).to.equal(1);
        expect(run.stdout).to.equal('');
        expect(run.stderr).to.match(message);
        expect(run.stderr.trim().split('\n')).to.have.length(1);
      });
    }
    it('reads a scenario that starts with a UTF-8 byte-order mark', async () => {
      const file = vectorFiles[0];
      const run = await runSim([], `\uFEFF${JSON.stringify(vector(file).scenario)}`);
      expect(run.code).to.equal(0);
      expect(JSON.parse(run.stdout)).to.deep.equal(vector(file).expected);
    });
    it('reads a scenario from a pipe whose writer writes only after the sim started (a generator piping into it)', async () => {
      const file = vectorFiles[0];
      const run = await runSim([], JSON.stringify(vector(file).scenario), 1500);
      expect(run.stderr).to.equal('');
      expect(run.code).to.equal(0);
      expect(JSON.parse(run.stdout)).to.deep.equal(vector(file).expected);
    });

    it('exits 1 naming a file it cannot read', async () => {
      const run = await runSim([join(tmpdir(), 'no-such-scenario.json')]);
      expect(run.code).to.equal(1);
      expect(run.stderr).to.match(/cannot read .*no-such-scenario\.json/);
    });
    it('exits non-zero on an unknown option', async () => {
      const run = await runSim(['--frobnicate']);
      expect(run.code).to.not.equal(0);
      expect(run.stderr).to.match(/frobnicate/);
    });
  });

  it('--help prints usage', async () => {
    const run = await runSim(['--help']);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.match(/^usage: snaketron-sim/);
  });
});
