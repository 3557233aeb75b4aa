import type { Logger } from '../../log-forwarding.ts';
import { createCli } from './cli.ts';
import { clocksAndRandom } from './clocks-random.ts';
import { createDeniedWasi } from './denied.ts';
import { error, poll, streams } from './io.ts';

/**
 * The WASI a module gets: its own per-instance implementation, never the
 * preview2-shim defaults (which preopen `/`, expose process.env, exit the host
 * process and allow any socket). Clocks, random and captured stdio work; the
 * filesystem is empty; sockets and HTTP answer "denied".
 */
export function createWasi(opts: { env: [string, string][]; logger: Logger; denied: (capability: string, target: string, allowWith: string) => string }) {
  const cli = createCli(opts.env, opts.logger);
  const interfaces: Record<string, Record<string, unknown>> = {
    ...cli.interfaces,
    ...clocksAndRandom,
    'wasi:io/error': error,
    'wasi:io/poll': poll,
    'wasi:io/streams': streams,
    ...createDeniedWasi(opts.denied),
  };
  return { interfaces, flush: cli.flush, recentStderr: cli.recentStderr };
}
