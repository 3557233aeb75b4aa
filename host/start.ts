// Starts the host as `npm start` and `edgehost start` do: the config file's
// modules with the changes deployed through the admin API applied
// (<data-dir>/deployments.json), then the admin API; stops cleanly on SIGINT
// and SIGTERM.
import { dirname, resolve } from 'node:path';
import { DesiredState } from './admin/desired-state.ts';
import { LogTail } from './admin/log-tail.ts';
import { startAdmin } from './admin/server.ts';
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

/** Runs the host with these command-line arguments until a signal stops it; exits the process on a start failure. */
export async function runHost(argv: string[]): Promise<void> {
  let cli: CliOptions;
  try {
    cli = parseCli(argv);
  } catch (e) {
    fail(e);
  }
  if (cli.help) {
    process.stdout.write(help(cli));
    process.exit(0);
  }
  if (process.env.EDGEHOST_TRACE_PROTOCOL === '1') cli.traceProtocol = true;

  try {
    const fileConfig = loadConfig(cli);
    // The dashboard's log tail; nothing keeps lines for it when the admin API is off.
    const logTail = fileConfig.admin.address === 'off' ? undefined : new LogTail();
    const logger = createLogger(fileConfig.logLevel, { format: fileConfig.logFormat, tap: logTail });
    const desired = DesiredState.open(fileConfig.dataDir);
    const startSet = desired.startSet(fileConfig);
    for (const { module, change, at } of startSet.applied) {
      logger.info(
        { module, change, at, file: desired.file },
        change === 'removed'
          ? `module ${module} of the config file is not started: it was removed through the admin API at ${at}`
          : `module ${module} runs as deployed through the admin API at ${at}`,
      );
    }
    desired.collectGarbage();
    const config = { ...fileConfig, modules: startSet.modules };
    const host = new Host(config, logger);
    const admin = await startAdmin({ host, config, desired, configModules: new Set(fileConfig.modules.map((m) => m.name)), logger, logTail });
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      (async () => {
        await admin?.close();
        await host.stop();
      })().then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (e) => fail(e),
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    await host.start(startSet.sources);
    admin?.open();
    // startMs: from the process's start to every module ready (the warm-start figure of npm run bench).
    logger.info({ modules: config.modules.map((m) => m.name), startMs: Math.round(performance.now()) }, 'host started');
  } catch (e) {
    fail(e);
  }
}
