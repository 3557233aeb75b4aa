import type { Bus, BusMessage, Subscriber } from './bus/bus.ts';
import type { ResolvedModule } from './config/load.ts';
import type { Logger } from './logger.ts';
import { type InstanceExit, ModuleInstance } from './sandbox/module-instance.ts';

export type ModuleState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';

/**
 * Keeps one module running: starts an instance, restarts it with exponential
 * backoff when it traps, exits or overruns its deadline, and gives up (state
 * "failed") when it crashes more than `restart.maxCrashes` times within
 * `restart.windowMs`. The module's bus subscriber outlives its instances, so
 * messages queue while it restarts instead of being lost.
 */
export class ModuleSupervisor {
  readonly module: ResolvedModule;
  readonly subscriber: Subscriber;
  state: ModuleState = 'starting';
  restarts = 0;
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #componentJs: string;
  readonly #logLevel: string;
  #instance: ModuleInstance | undefined;
  #crashes: number[] = [];
  #backoffMs: number;
  #restartTimer: NodeJS.Timeout | undefined;
  #firstStart: { resolve: () => void } | undefined;

  constructor(module: ResolvedModule, componentJs: string, bus: Bus, logger: Logger, logLevel: string) {
    this.module = module;
    this.#bus = bus;
    this.#logger = logger.child({ module: module.name });
    this.#componentJs = componentJs;
    this.#logLevel = logLevel;
    this.#backoffMs = module.restart.initialBackoffMs;
    this.subscriber = bus.addSubscriber(module.name, module.delivery, (batch) => this.#deliver(batch));
    for (const filter of module.subscriptions) this.subscriber.subscribe(filter);
    this.subscriber.pause();
  }

  /** Starts the module; resolves after its first start attempt, whether it succeeded or not. */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.#firstStart = { resolve };
      this.#spawn();
    });
  }

  async stop(timeoutMs: number): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.#restartTimer);
    this.subscriber.pause();
    await this.#instance?.stop(timeoutMs);
  }

  #deliver(batch: BusMessage[]): Promise<void> {
    const instance = this.#instance;
    if (!instance || this.state !== 'running') return Promise.reject(new Error(`module ${this.module.name} is not running`));
    return instance.deliver(batch).catch((e: Error) => {
      this.#logger.warn(
        { messages: batch.length, reason: e.message },
        `module ${this.module.name} did not handle a batch of ${batch.length} messages (${e.message}); it will be retried, or dead-lettered after delivery.maxAttempts`,
      );
      throw e;
    });
  }

  #spawn() {
    const instance = new ModuleInstance(this.module, this.#componentJs, this.#logger, this.#logLevel);
    this.#instance = instance;
    instance.on('publish', (messages, seq) => {
      for (const m of messages) this.#bus.publish(m.topic, m.payload, this.module.name);
      // On disk before the module hears back: it may now acknowledge these messages to its peers.
      this.#bus.commit();
      instance.committed(seq);
    });
    instance.on('subscribe', (filter) => this.subscriber.subscribe(filter));
    instance.on('unsubscribe', (filter) => this.subscriber.unsubscribe(filter));
    instance.on('exit', (exit) => this.#onExit(instance, exit));
    instance.ready().then(
      (instantiateMs) => {
        if (this.#instance !== instance || this.state === 'stopped') return;
        this.state = 'running';
        this.#logger.info({ world: this.module.world, instantiateMs, restarts: this.restarts }, `module ${this.module.name} ready`);
        this.subscriber.resume();
        this.#settleFirstStart();
      },
      (e: Error & { code?: string }) => {
        if (e.code === 'EH_MODULE_INIT' || e.code === 'EH_COMPONENT_INVALID') {
          this.#logger.error({ code: e.code }, `module ${this.module.name} failed to start: ${e.message}`);
          instance.terminate({ code: e.code, error: e.message });
        }
      },
    );
  }

  #onExit(instance: ModuleInstance, exit: InstanceExit) {
    if (this.#instance !== instance) return;
    this.subscriber.pause();
    if (this.state === 'stopped' || exit.code === 'stopped') return;
    if (exit.code !== 'EH_MODULE_INIT' && exit.code !== 'EH_COMPONENT_INVALID') {
      this.#logger.error({ code: exit.code }, `module ${this.module.name} stopped: ${exit.error}`);
    }
    const now = Date.now();
    const { maxCrashes, windowMs, maxBackoffMs, initialBackoffMs } = this.module.restart;
    this.#crashes = this.#crashes.filter((t) => now - t < windowMs);
    this.#crashes.push(now);
    if (this.#crashes.length > maxCrashes) {
      this.state = 'failed';
      this.#logger.error(
        { code: 'EH_MODULE_FAILED', crashes: this.#crashes.length, windowMs },
        `module ${this.module.name} crashed ${this.#crashes.length} times in ${windowMs} ms; not restarting it (the other modules keep running)`,
      );
      this.#settleFirstStart();
      return;
    }
    // A module that ran cleanly for a whole window starts again from the shortest backoff.
    if (this.#crashes.length === 1) this.#backoffMs = initialBackoffMs;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(maxBackoffMs, this.#backoffMs * 2);
    this.state = 'restarting';
    this.#logger.info({ delayMs: delay }, `restarting module ${this.module.name} in ${delay} ms`);
    this.#settleFirstStart();
    this.#restartTimer = setTimeout(() => {
      if (this.state !== 'restarting') return;
      this.restarts++;
      this.#spawn();
    }, delay);
  }

  #settleFirstStart() {
    this.#firstStart?.resolve();
    this.#firstStart = undefined;
  }
}
