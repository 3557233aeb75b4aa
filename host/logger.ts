import pino from 'pino';
import type { Logger, LogLevel } from './log-forwarding.ts';

export { type ForwardedLine, forwardingLogger, type Logger, type LogLevel, levelValues, logLevels } from './log-forwarding.ts';

export const logFormats = ['pretty', 'json'] as const;
export type LogFormat = (typeof logFormats)[number];

export interface LoggerOptions {
  /** pretty: coloured lines for a person; json: one JSON object per line. Default: pretty when stdout is a terminal. */
  format?: LogFormat;
  /** Also gets every line as the JSON text written (the admin API's log tail). */
  tap?: { write(line: string): void };
  bindings?: Record<string, unknown>;
}

/** The format when none is asked for: a person at a terminal reads pretty lines; a pipe or a file gets JSON for machines. */
export const defaultLogFormat = (): LogFormat => (process.stdout.isTTY ? 'pretty' : 'json');

/**
 * The host's logger. Modules' workers forward their lines here (see
 * `forwardingLogger`), so every line leaves through one writer.
 */
export function createLogger(level: LogLevel, opts: LoggerOptions = {}): Logger {
  // A silent logger writes nothing: no transport thread for it.
  const format = level === 'silent' ? 'json' : (opts.format ?? defaultLogFormat());
  const options = { level, base: { pid: process.pid, ...opts.bindings } };
  // JSON: synchronous writes, so a crash or SIGKILL does not lose the lines that explain it.
  // Pretty: formatting costs several times the JSON itself, so pino-pretty runs in pino's
  // transport thread; the main thread only hands it the JSON text. pino flushes it at exit.
  const out =
    format === 'json'
      ? pino.destination({ fd: 1, sync: true })
      : pino.transport({
          target: 'pino-pretty',
          options: {
            destination: 1,
            colorize: process.stdout.isTTY === true,
            translateTime: 'SYS:HH:MM:ss.l',
            ignore: 'pid,hostname,module',
            singleLine: true,
            messageFormat: '{if module}[{module}] {end}{msg}',
          },
        });
  if (!opts.tap) return pino(options, out);
  // Every line goes to both; the logger's level already filtered them, so the streams take all.
  return pino(
    options,
    pino.multistream([
      { level: 'trace', stream: out },
      { level: 'trace', stream: opts.tap },
    ]),
  );
}
