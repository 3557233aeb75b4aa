// The host in this process (real workers, real components, real sockets), for
// tests that drive its API directly: addModule, replaceModule, removeModule.
import { dirname } from 'node:path';
import pino from 'pino';
import { parseCli } from '../../host/config/cli.ts';
import { loadConfig, loadModuleEntry, type ResolvedModule } from '../../host/config/load.ts';
import { Host } from '../../host/host.ts';
import { type LogLine, settle, writeConfig } from './host-process.ts';
import { tempDir } from './paths.ts';

export interface InProcessHost {
  host: Host;
  lines: LogLine[];
  /** Validates a module entry as a deploy would (component paths absolute or relative to the config file). */
  entry(name: string, raw: Record<string, unknown>): ResolvedModule;
  waitForLog(match: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  stop(): Promise<void>;
}

export async function startHost(modules: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<InProcessHost> {
  const file = writeConfig({ modules, ...extra });
  const config = loadConfig(parseCli(['--config', file, '--data-dir', tempDir()]));
  const lines: LogLine[] = [];
  let waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(text: string) {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        waiters = settle(
          waiters,
          (w) => w.match(line),
          (w) => w.resolve(line),
        );
      },
    },
  );
  const host = new Host(config, logger);
  await host.start();
  let stopped: Promise<void> | undefined;
  return {
    host,
    lines,
    entry: (name, raw) => loadModuleEntry(name, raw, { base: dirname(file), where: `test entry modules.${name}` }),
    waitForLog(match, timeoutMs = 20_000, what = 'log line') {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
    stop: () => {
      stopped ??= host.stop();
      return stopped;
    },
  };
}
