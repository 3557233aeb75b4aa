import { join, resolve } from 'node:path';
import { Bus, type BusMessage, DurableStore } from './bus/bus.ts';
import { capabilityFor } from './capabilities/index.ts';
import { type TranspileOptions, transpileCached } from './components/transpile-cache.ts';
import { platform } from './components/wit.ts';
import { checkWorld, describeMismatch } from './components/world-check.ts';
import type { ResolvedConfig, ResolvedModule } from './config/load.ts';
import { HostError } from './errors.ts';
import { throttledLog } from './log-throttle.ts';
import type { Logger } from './logger.ts';
import { ModuleSupervisor } from './supervisor.ts';

/** The host: one bus, and one supervisor per module. */
export class Host {
  readonly config: ResolvedConfig;
  readonly bus: Bus;
  readonly supervisors = new Map<string, ModuleSupervisor>();
  readonly #logger: Logger;
  readonly #store: DurableStore | undefined;

  constructor(config: ResolvedConfig, logger: Logger) {
    this.config = config;
    this.#logger = logger;
    if (config.modules.some((m) => m.delivery.durable)) {
      this.#store = new DurableStore(join(resolve(config.dataDir), 'queues.sqlite'));
    }
    const overflowWarnings = new Map<string, () => void>();
    this.bus = new Bus({
      onOverflow: (subscriber) => {
        let warn = overflowWarnings.get(subscriber);
        if (!warn) {
          const capacity = this.supervisors.get(subscriber)?.module.delivery.capacity;
          warn = throttledLog(1000, (suppressed) =>
            logger.warn(
              { module: subscriber, capacity, droppedSinceLastWarning: suppressed },
              `queue of module ${subscriber} is full (${capacity} messages); dropping per its delivery.overflow policy`,
            ),
          );
          overflowWarnings.set(subscriber, warn);
        }
        warn();
      },
      store: this.#store,
      onDeadLetter: (module, message, reason, attempts) => this.#deadLetter(module, message, reason, attempts),
    });
  }

  /**
   * Loads every component (transpiling through the cache and checking its
   * world) before starting any, so a bad component stops the host at once with
   * its name and what does not match, then starts all modules.
   */
  async start(): Promise<void> {
    // Transpiling runs in worker threads: cache misses load in parallel.
    const loaded = await Promise.all(this.config.modules.map(async (m) => [m, await this.#load(m)] as const));
    for (const [module, componentJs] of loaded) {
      this.supervisors.set(module.name, new ModuleSupervisor(module, componentJs, this.bus, this.#logger, this.config.logLevel));
    }
    await Promise.all([...this.supervisors.values()].map((s) => s.start()));
  }

  /** Stops intake, lets queued calls finish, then commits and closes the durable queues. */
  async stop(): Promise<void> {
    await Promise.all([...this.supervisors.values()].map((s) => s.stop(this.config.shutdownTimeoutMs)));
    this.#store?.close();
  }

  #deadLetter(module: string, message: BusMessage, reason: string, attempts: number) {
    const fields = { code: 'EH_DEAD_LETTER', module, topic: message.topic, attempts, reason };
    // A dead letter that fails again is not re-posted: that would loop forever.
    if (message.topic.startsWith('deadletter/')) {
      this.#logger.error(fields, `module ${module} failed a dead letter from ${message.topic}; dropping it`);
      return;
    }
    const topic = `deadletter/${module}`;
    this.#logger.warn(fields, `module ${module} failed a message from ${message.topic} ${attempts} times (${reason}); moved it to ${topic}`);
    this.bus.publish(topic, message.payload);
  }

  async #load(module: ResolvedModule): Promise<string> {
    const transpiled = await transpileCached(module.componentPath, resolve(this.config.cacheDir), transpileOptions(module));
    this.#logger.info(
      { module: module.name, cache: transpiled.cacheHit ? 'hit' : 'miss', key: transpiled.key, ms: Math.round(transpiled.ms) },
      transpiled.cacheHit ? 'component loaded from the transpile cache' : 'component transpiled',
    );
    const mismatch = checkWorld(module.worldSpec, transpiled.imports, transpiled.exports);
    if (mismatch) {
      throw new HostError(
        'EH_WORLD_MISMATCH',
        `modules.${module.name}: ${describeMismatch(module.componentPath, module.worldSpec, mismatch, transpiled.imports, transpiled.exports)}`,
      );
    }
    return transpiled.jsPath;
  }
}

/**
 * Functions that wait on host I/O suspend the guest through JSPI; then every
 * export of that world must be callable asynchronously too.
 */
export function transpileOptions(module: ResolvedModule): TranspileOptions {
  const { version, interfaces } = platform();
  const asyncImports: string[] = [];
  for (const iface of module.worldSpec.imports) {
    for (const fn of capabilityFor(iface)?.asyncFunctions ?? []) asyncImports.push(`${iface}@${version}#${fn}`);
  }
  if (asyncImports.length === 0) return { asyncImports, asyncExports: [] };
  const asyncExports = module.worldSpec.exports.flatMap((iface) => (interfaces.get(iface.split('/')[1]) ?? []).map((fn) => `${iface}@${version}#${fn}`));
  return { asyncImports, asyncExports };
}
