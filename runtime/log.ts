// Structured JSON logs with levels (pino), one object a line, the level by name ("level":"warn").
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(bindings: Record<string, unknown> = {}, level = 'info'): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, formatters: { level: (label) => ({ level: label }) } });
}

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
