// Small helpers for guests (QuickJS components): a console that writes to the host's log,
// typed config reading, and readable text for errors thrown by WIT imports.
// The config parsing itself lives in config-values.ts and the error text in errors.ts (both pure,
// tested in Node).

import { get } from 'edgehost:platform/config@0.1.0';
import { type Level, log } from 'edgehost:platform/logging@0.1.0';
import { type ConfigDefaults, type ConfigReader, createConfigReader } from './config-values.ts';
import { describeError, showValue } from './errors.ts';

export { ConfigError, type ConfigReader, type JsonRule, type NumberRule, nonEmptyStringList } from './config-values.ts';
export { describeError, errorPayload } from './errors.ts';

/** The subset of `console` that `installConsole` provides. */
export interface GuestConsole {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

declare global {
  // QuickJS guests have no console until installConsole() defines one.
  var console: GuestConsole;
}

function formatArg(a: unknown): string {
  if (a instanceof Error) return `${describeError(a)}${a.stack ? `\n${a.stack}` : ''}`;
  return showValue(a);
}

/** Format console-style arguments as one line (strings as is, others as JSON). */
export function formatArgs(args: unknown[]): string {
  return args.map(formatArg).join(' ');
}

/** Define `globalThis.console` (log/info/debug/warn/error) writing through `edgehost:platform/logging`. */
export function installConsole(): GuestConsole {
  const at =
    (level: Level) =>
    (...args: unknown[]) =>
      log(level, formatArgs(args));
  const c: GuestConsole = { log: at('info'), info: at('info'), debug: at('debug'), warn: at('warn'), error: at('error') };
  globalThis.console = c;
  return c;
}

/**
 * The module's config with typed getters: a key's value comes from `config.get` when the
 * module config has it, else from `defaults` (the `config` object of the module's module.json).
 * A bad value throws an Error naming the key, what was found and what was expected.
 */
export function readConfig(defaults: ConfigDefaults): ConfigReader {
  return createConfigReader(get, defaults);
}
