// The floor under any duel server on this machine: what it costs only to send each player one WebSocket frame a
// tick. A uWebSockets.js server (this process) that does nothing else sends a tick-sized binary frame to each of
// N clients (a child process) every 150 ms, spread over the period as ticks are; its CPU time per frame, times the
// frames a duel needs (two players, one frame each a tick), is what any server pays per game before it does any
// work of its own. SnakeTron and Colyseus both send so; the comparison rows set their CPU per game against it.
// Run alone: `npx tsx bench/send-floor.ts`.
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import uWS from 'uWebSockets.js';
import WebSocket from 'ws';
import { defaultSettings } from '../protocol/settings.ts';
import type { Bench, BenchResult } from './types.ts';

const TICK_MS = defaultSettings('duel').tickMs;
/** a duel tick message's size on the wire (the codec benchmark's average) */
const FRAME_BYTES = 92;
/** instants a period that the sends are spread over, as partitions spread their ticks (a whole number of ms apart) */
const SLOTS = 30;
const CLIENTS = 2000;
const WARMUP_MS = 2000;
const WINDOW_MS = 10_000;
const TSX = fileURLToPath(new URL('../node_modules/tsx/dist/loader.mjs', import.meta.url));

/** The client side: opens `clients` connections, counts the frames, and reports the count when asked (stdin). */
async function clients(url: string, count: number): Promise<void> {
  let frames = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(url);
    ws.on('message', () => { frames++; });
    sockets.push(ws);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  }
  process.stdout.write('open\n');
  process.stdin.on('data', () => process.stdout.write(`${frames}\n`));
  process.stdin.on('end', () => process.exit(0));
}

async function measure(): Promise<BenchResult[]> {
  const app = uWS.App();
  const sockets: Array<uWS.WebSocket<unknown>> = [];
  app.ws('/ws', {
    compression: uWS.DISABLED,
    open: (ws) => { sockets.push(ws); },
    close: (ws) => { sockets.splice(sockets.indexOf(ws), 1); },
  });
  const listening = await new Promise<uWS.us_listen_socket>((resolve, reject) => app.listen('127.0.0.1', 0, (token) => {
    if (token) resolve(token); else reject(new Error('send-floor: no port to listen on'));
  }));
  const port = uWS.us_socket_local_port(listening);
  const child = spawn(process.execPath, ['--import', pathToFileURL(TSX).href, fileURLToPath(import.meta.url), '--clients', String(CLIENTS), '--url', `ws://127.0.0.1:${port}/ws`],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let waiting: ((line: string) => void) | null = null;
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (waiting) { const w = waiting; waiting = null; w(line); } else lines.push(line);
    }
  });
  const next = () => new Promise<string>((resolve) => { const line = lines.shift(); if (line !== undefined) resolve(line); else waiting = resolve; });
  const frame = new Uint8Array(FRAME_BYTES).fill(7);
  let slot = 0;
  // every TICK_MS / SLOTS, the clients of one slot get their frame: each client one frame a tick
  const timer = setInterval(() => {
    for (let i = slot; i < sockets.length; i += SLOTS) sockets[i].send(frame, true);
    slot = (slot + 1) % SLOTS;
  }, TICK_MS / SLOTS);
  try {
    if ((await next()) !== 'open') throw new Error('send-floor: the clients did not connect');
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    child.stdin!.write('\n');
    const framesBefore = Number(await next());
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const cpu = process.cpuUsage(cpuBefore);
    const seconds = (performance.now() - started) / 1000;
    child.stdin!.write('\n');
    const frames = Number(await next()) - framesBefore;
    const perFrameUs = (cpu.user + cpu.system) / frames;
    const framesPerGameSecond = 2 * (1000 / TICK_MS);
    return [
      {
        group: 'floor', name: 'server CPU per WebSocket frame sent (uWebSockets.js, nothing else)', value: Math.round(perFrameUs * 100) / 100, unit: 'µs',
        notes: `${CLIENTS} clients, one ${FRAME_BYTES}-byte binary frame each every ${TICK_MS} ms, spread over ${SLOTS} instants; ${frames} frames received in ${seconds.toFixed(1)} s; server CPU ${((cpu.user + cpu.system) / 1e4 / seconds).toFixed(0)}% of a core (${(cpu.system / (cpu.user + cpu.system) * 100).toFixed(0)}% of it in the kernel)`,
      },
      {
        group: 'floor', name: 'server CPU per duel game only to send its ticks', value: Math.round(perFrameUs * framesPerGameSecond), unit: 'µs/s per game',
        notes: `${framesPerGameSecond.toFixed(1)} frames a second a duel (two players, a tick each ${TICK_MS} ms) × ${perFrameUs.toFixed(1)} µs: what any server here spends per game before its own work`,
      },
    ];
  } finally {
    clearInterval(timer);
    child.stdin!.end();
    uWS.us_listen_socket_close(listening);
  }
}

export const run: Bench = measure;

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { clients: { type: 'string' }, url: { type: 'string' } } });
  if (values.clients !== undefined && values.url !== undefined) await clients(values.url, Number(values.clients));
  else {
    console.table(await run());
    process.exit(0);
  }
}
