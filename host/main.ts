// edgehost: runs the modules of the host config, each in its own sandbox.
import { dirname, resolve } from 'node:path';
import { type CliOptions, parseCli } from './config/cli.ts';
import { usage } from './config/flags.ts';
import { loadConfig, readRawConfig, worldImports } from './config/load.ts';
import { HostError } from './errors.ts';
import { Host } from './host.ts';
import { createLogger } from './logger.ts';

function fail(e: unknown): never {
  if (e instanceof HostError) process.stderr.write(`edgehost: ${e.code}: ${e.message}\n`);
  else process.stderr.write(`edgehost: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}

/** `--help` lists the module flags of the config too, when it can be read. */
function help(cli: CliOptions): string {
  const file = resolve(cli.config);
  try {
    const raw = readRawConfig(file);
    const modules = (raw.modules && typeof raw.modules === 'object' ? raw.modules : {}) as Record<string, Record<string, unknown>>;
    return usage(worldImports(modules, dirname(file)), file);
  } catch {
    return usage(undefined, file);
  }
}

let cli: CliOptions;
try {
  cli = parseCli(process.argv.slice(2));
} catch (e) {
  fail(e);
}
if (cli.help) {
  process.stdout.write(help(cli));
  process.exit(0);
}
if (process.env.EDGEHOST_TRACE_PROTOCOL === '1') cli.traceProtocol = true;

try {
  const config = loadConfig(cli);
  const logger = createLogger(config.logLevel);
  const host = new Host(config, logger);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    host.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (e) => fail(e),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  await host.start();
  logger.info({ modules: config.modules.map((m) => m.name) }, 'host started');
} catch (e) {
  fail(e);
}
