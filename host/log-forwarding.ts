// The logger interface the host's code uses, and the logger of a module's
// worker, which hands its lines to the main thread instead of writing them:
// this file does not load pino, so workers stay small.

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** pino's numeric levels, as they appear in the JSON lines. */
export const levelValues: Record<Exclude<LogLevel, 'silent'>, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

type LogFn = {
  (fields: Record<string, unknown>, msg?: string): void;
  (msg: string): void;
};

/** The part of pino's interface the host uses, so a worker can log without a pino of its own. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: string): boolean;
}

/** One line a worker hands the main thread to write. */
export interface ForwardedLine {
  level: Exclude<LogLevel, 'silent'>;
  fields: Record<string, unknown>;
  msg: string;
}

/**
 * A logger for a module's worker: lines at or above `level` are handed to
 * `forward` (which posts them to the main thread) instead of being written
 * here, which keeps pino out of every worker.
 */
export function forwardingLogger(level: LogLevel, forward: (line: ForwardedLine) => void, bindings: Record<string, unknown> = {}): Logger {
  const threshold = level === 'silent' ? Number.POSITIVE_INFINITY : levelValues[level];
  const at = (name: Exclude<LogLevel, 'silent'>): LogFn =>
    ((a: Record<string, unknown> | string, b?: string) => {
      if (levelValues[name] < threshold) return;
      if (typeof a === 'string') forward({ level: name, fields: bindings, msg: a });
      else forward({ level: name, fields: { ...bindings, ...serializable(a) }, msg: b ?? '' });
    }) as LogFn;
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (more) => forwardingLogger(level, forward, { ...bindings, ...more }),
    isLevelEnabled: (name) => name !== 'silent' && levelValues[name as keyof typeof levelValues] >= threshold,
  };
}

/** Errors do not survive structured cloning with their message as a field: turn them into what pino would print. */
function serializable(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) {
      out ??= { ...fields };
      out[k] = { type: v.name, message: v.message, stack: v.stack, ...('code' in v ? { code: (v as { code: unknown }).code } : {}) };
    }
  }
  return out ?? fields;
}
