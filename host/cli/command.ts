// What every `edgehost` command is: its usage text, and a function from its
// arguments to an exit status (main.ts lists the commands, each loaded when it runs).
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { HostError } from '../errors.ts';

export interface Command {
  usage: string;
  run(args: string[]): Promise<number>;
}

/** node:util parseArgs with usage errors as EH_CLI_USAGE naming the command's usage. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new HostError('EH_CLI_USAGE', `${(e as Error).message}\n\n${usage}`);
  }
}

export function usageError(message: string, usage: string): HostError {
  return new HostError('EH_CLI_USAGE', `${message}\n\n${usage}`);
}

/** Prints the answer as JSON (--json). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A whole number option, or undefined when absent. */
export function intOption(value: string | undefined, flag: string, usage: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw usageError(`${flag} needs a whole number, got "${value}"`, usage);
  return n;
}
