// Structured JSON logs with levels (pino), one object a line, the level by name ("level":"warn").
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(bindings: Record<string, unknown> = {}, level = 'info'): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, formatters: { level: (label) => ({ level: label }) } });
}
