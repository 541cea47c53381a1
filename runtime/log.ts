// Structured JSON logs with levels (pino), one object a line, the level by name ("level":"warn").
import { pino, type Logger } from 'pino';

export type { Logger };

/** `destination`: where the lines go (default standard output). */
export function createLogger(bindings: Record<string, unknown> = {}, level = 'info', destination?: { write(line: string): void }): Logger {
  const options = { level, base: { pid: process.pid, ...bindings }, formatters: { level: (label: string) => ({ level: label }) } };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Logs a line another logger wrote (a worker thread's, as JSON) through `log`, at its level and with its fields:
 * the node's logger, with its destination and bindings, has the workers' lines too.
 */
export function relayLogLine(log: Logger, line: string): void {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    log.warn({ line }, 'a worker wrote a log line that is not JSON');
    return;
  }
  const { level, time: _time, pid: _pid, msg, ...fields } = entry;
  const method = typeof level === 'string' && LEVELS.has(level) ? (level as 'info') : 'info';
  log[method](fields, typeof msg === 'string' ? msg : '');
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);

/** A URL as logs and messages may show it: its password masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
