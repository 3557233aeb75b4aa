// edgehost: runs the modules of the host config, each in its own sandbox.
import { parseCli, usage } from './config/cli.ts';
import { loadConfig } from './config/load.ts';
import { HostError } from './errors.ts';
import { Host } from './host.ts';
import { createLogger } from './logger.ts';

function fail(e: unknown): never {
  if (e instanceof HostError) process.stderr.write(`edgehost: ${e.code}: ${e.message}\n`);
  else process.stderr.write(`edgehost: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}

let cli;
try {
  cli = parseCli(process.argv.slice(2));
} catch (e) {
  fail(e);
}
if (cli.help) {
  process.stdout.write(usage);
  process.exit(0);
}

let host: Host;
try {
  const config = loadConfig(cli);
  const logger = createLogger(config.logLevel);
  host = new Host(config, logger);
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
