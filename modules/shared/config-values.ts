// Typed reading of a module's configuration. Pure (no WIT imports), so it runs in Node tests;
// `guest.ts` wires it to `edgehost:platform/config`.
//
// The host gives every value as a string: strings as they are, anything else (number, list,
// object, boolean) as its JSON text. Defaults come from the module's `module.json` (`config`
// object) and are JSON values.

/** A module's defaults: the `config` object of its module.json. */
export type ConfigDefaults = { readonly [key: string]: unknown };

/**
 * Looks a key up in the module's config (the host's `config.get`). QuickJS guests get a WIT
 * `option` none as `null` (not `undefined`): both mean "not set".
 */
export type ConfigLookup = (key: string) => string | undefined | null;

/** A config value that is missing or not what the module expects. */
export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(message);
    this.name = 'ConfigError';
    this.key = key;
  }
}

export interface NumberRule {
  /** Reject values with a fractional part. */
  integer?: boolean;
  /** Inclusive bounds. */
  min?: number;
  max?: number;
}

/** What `json(key, rule)` accepts, and how to say it in an error. */
export interface JsonRule<T> {
  /** For example 'a non-empty list of strings'. */
  expected: string;
  test: (value: unknown) => value is T;
}

export interface ConfigReader {
  /** A string value. A default that is not a string is an error. */
  string(key: string): string;
  /** Like `string`, but undefined when neither the config nor the defaults have the key. */
  optionalString(key: string): string | undefined;
  /** A number: decimal integer or float text (or a JSON number default), checked against `rule`. */
  number(key: string, rule?: NumberRule): number;
  /** A JSON value (the host gives lists and objects as JSON text), optionally checked by `rule`. */
  json<T = unknown>(key: string, rule?: JsonRule<T>): T;
}

/** `rule` for `json`: a non-empty list of non-empty strings. */
export const nonEmptyStringList: JsonRule<string[]> = {
  expected: 'a non-empty list of non-empty strings',
  test: (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s.length > 0),
};

// Decimal number text: what a config file (or a `--config key=value` override) would hold.
const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Where a value came from, for error messages. */
type Source = 'config' | 'default';

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}...` : value);
  try {
    const s = JSON.stringify(value);
    return s === undefined ? String(value) : s.length > 200 ? `${s.slice(0, 200)}...` : s;
  } catch {
    return String(value);
  }
}

function fail(key: string, expected: string, found: unknown, source: Source): never {
  if (found === undefined) {
    throw new ConfigError(key, `config "${key}": missing, expected ${expected} (set it in the module config)`);
  }
  const where = source === 'config' ? 'the module config' : 'the module.json defaults';
  throw new ConfigError(key, `config "${key}": expected ${expected}, found ${show(found)} (from ${where})`);
}

function describeRule(rule: NumberRule): string {
  let what = rule.integer ? 'an integer' : 'a number';
  if (rule.min !== undefined && rule.max !== undefined) what += ` from ${rule.min} to ${rule.max}`;
  else if (rule.min !== undefined) what += ` >= ${rule.min}`;
  else if (rule.max !== undefined) what += ` <= ${rule.max}`;
  return what;
}

/** Parse a number the way `ConfigReader.number` does; throws a ConfigError naming `key`. */
export function parseNumber(key: string, raw: unknown, rule: NumberRule = {}, source: Source = 'config'): number {
  const expected = describeRule(rule);
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && NUMBER_TEXT.test(raw.trim())) n = Number(raw.trim());
  else return fail(key, expected, raw, source);
  if (!Number.isFinite(n)) return fail(key, expected, raw, source);
  if (rule.integer && !Number.isInteger(n)) return fail(key, expected, raw, source);
  if (rule.min !== undefined && n < rule.min) return fail(key, expected, raw, source);
  if (rule.max !== undefined && n > rule.max) return fail(key, expected, raw, source);
  return n;
}

/** A reader over `lookup` (the module's config) that falls back to `defaults`. */
export function createConfigReader(get: ConfigLookup, defaults: ConfigDefaults = {}): ConfigReader {
  const lookup = (key: string): string | undefined => get(key) ?? undefined;
  const has = (key: string) => Object.hasOwn(defaults, key);

  function string(key: string): string {
    const v = lookup(key);
    if (v !== undefined) return v;
    if (!has(key)) return fail(key, 'a string', undefined, 'config');
    const d = defaults[key];
    if (typeof d !== 'string') return fail(key, 'a string', d, 'default');
    return d;
  }

  return {
    string,
    optionalString(key) {
      if (lookup(key) === undefined && !has(key)) return undefined;
      return string(key);
    },
    number(key, rule = {}) {
      const v = lookup(key);
      if (v !== undefined) return parseNumber(key, v, rule, 'config');
      if (!has(key)) return fail(key, describeRule(rule), undefined, 'config');
      return parseNumber(key, defaults[key], rule, 'default');
    },
    json<T>(key: string, rule?: JsonRule<T>): T {
      const expected = rule ? rule.expected : 'a JSON value';
      let value: unknown;
      let source: Source;
      const v = lookup(key);
      if (v !== undefined) {
        source = 'config';
        try {
          value = JSON.parse(v);
        } catch {
          return fail(key, `${expected} (as JSON text)`, v, source);
        }
      } else if (has(key)) {
        source = 'default';
        value = defaults[key];
      } else {
        return fail(key, expected, undefined, 'config');
      }
      if (rule && !rule.test(value)) return fail(key, expected, value, source);
      return value as T;
    },
  };
}
