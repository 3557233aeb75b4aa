import pino from 'pino';

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/**
 * The host's logger: JSON lines on stdout. Worker threads create their own with
 * the same settings, so module lines are written directly, not relayed.
 */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): pino.Logger {
  // Synchronous writes: a crash or SIGKILL must not lose the lines that explain it.
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd: 1, sync: true }));
}

export type Logger = pino.Logger;
