import type { Logger } from '../../log-forwarding.ts';
import { type CliOptions, createCli } from './cli.ts';
import { clocksAndRandom } from './clocks-random.ts';
import { createDeniedWasi } from './denied.ts';
import { error, poll, streams } from './io.ts';

export interface WasiOptions extends CliOptions {
  /** The environment the guest sees: only granted variables. */
  env: [string, string][];
  logger: Logger;
  denied: (capability: string, target: string, allowWith: string) => string;
}

/**
 * The WASI a module gets: its own per-instance implementation, never the
 * preview2-shim defaults (which preopen `/`, expose process.env, exit the host
 * process and allow any socket). Clocks, random and captured stdio work; the
 * filesystem is empty; sockets and HTTP answer "denied".
 *
 * A run-once adds `args`, `stdin` and `capture` (see CliOptions): then `capture.stdout` and
 * `capture.stderr` hold the output, and `exitCode()` the code the guest exited with, if it did.
 */
export function createWasi(opts: WasiOptions) {
  const cli = createCli(opts.env, opts.logger, opts);
  const interfaces: Record<string, Record<string, unknown>> = {
    ...cli.interfaces,
    ...clocksAndRandom,
    'wasi:io/error': error,
    'wasi:io/poll': poll,
    'wasi:io/streams': streams,
    ...createDeniedWasi(opts.denied),
  };
  return { interfaces, flush: cli.flush, recentStderr: cli.recentStderr, capture: cli.capture, exitCode: cli.exitCode };
}
