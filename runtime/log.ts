// Structured JSON logs with levels (pino). SNAKETRON_LOG_LEVEL sets the level (default info; specs: warn).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(bindings: Record<string, unknown> = {}, level = process.env.SNAKETRON_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } });
}
