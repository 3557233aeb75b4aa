import pino from 'pino';
import type { Logger, LogLevel } from './log-forwarding.ts';

export { type ForwardedLine, forwardingLogger, type Logger, type LogLevel, levelValues, logLevels } from './log-forwarding.ts';

/**
 * The host's logger: JSON lines on stdout. Modules' workers forward their
 * lines here (see `forwardingLogger`), so every line leaves through one writer.
 */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  // Synchronous writes: a crash or SIGKILL must not lose the lines that explain it.
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd: 1, sync: true }));
}
