// The host: one bus with its durable store, and the modules running on it.
// Modules come and go while it runs (addModule, replaceModule, removeModule);
// the config file is only the set it starts with.
import { dirname, join, resolve } from 'node:path';
import type { Bridge, BridgeInfo } from './bridge/bridge.ts';
import { bridgeId } from './bridge/loops.ts';
import { Bus, type BusMessage, DurableStore } from './bus/bus.ts';
import type { HostServices } from './capabilities/capability.ts';
import { capabilities } from './capabilities/index.ts';
import { type LoadedComponent, loadComponent } from './components/load.ts';
import type { ResolvedConfig, ResolvedModule } from './config/load.ts';
import { moduleLimits } from './config/schema.ts';
import { HostError } from './errors.ts';
import { throttledLog } from './log-throttle.ts';
import type { Logger } from './logger.ts';
import { HostMetrics } from './metrics/host-metrics.ts';
import { noMetrics } from './metrics/recorder.ts';
import { type ModuleInfo, ModuleRuntime, type ModuleSource, type RemoveOptions } from './runtime/module-runtime.ts';
import { StandbyWorker } from './sandbox/standby.ts';
import { type WorkerBundle, workerBundle } from './sandbox/worker-bundle.ts';

export class Host {
  readonly config: ResolvedConfig;
  readonly bus: Bus;
  readonly modules = new Map<string, ModuleRuntime>();
  /** Connections of the bus to external MQTT brokers (config `bridges`), by name. */
  readonly bridges = new Map<string, Bridge>();
  readonly services: HostServices;
  /** GET /metrics; undefined when the config turns metrics off. */
  readonly metrics: HostMetrics | undefined;
  readonly #logger: Logger;
  readonly #store: DurableStore;
  /** Names being added, replaced or removed: one change per module at a time. */
  readonly #changing = new Set<string>();
  #stopping = false;
  /** Started once a module with idle sleep is added: what it wakes into. */
  #standby: StandbyWorker | undefined;

  constructor(config: ResolvedConfig, logger: Logger) {
    this.config = config;
    this.#logger = logger;
    const dataDir = resolve(config.dataDir);
    this.#store = new DurableStore(join(dataDir, 'queues.sqlite'));
    const overflowWarnings = new Map<string, () => void>();
    this.bus = new Bus({
      onOverflow: (subscriber) => {
        let warn = overflowWarnings.get(subscriber);
        if (!warn) {
          const bridge = [...this.bridges.values()].find((b) => bridgeId(b.spec.name) === subscriber);
          const capacity = bridge ? bridge.spec.delivery.capacity : this.modules.get(subscriber)?.spec.delivery.capacity;
          warn = throttledLog(1000, (suppressed) =>
            bridge
              ? logger.warn(
                  { bridge: bridge.spec.name, capacity, droppedSinceLastWarning: suppressed },
                  `out queue of bridge ${bridge.spec.name} is full (${capacity} messages); dropping per bridges.${bridge.spec.name}.delivery.overflow`,
                )
              : logger.warn(
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
    this.metrics = config.metrics ? new HostMetrics({ modules: () => [...this.modules.values()], bus: this.bus, bridges: () => this.bridgeList() }) : undefined;
    const metrics = this.metrics;
    if (metrics) this.#store.onCommit = (seconds) => metrics.durableCommit(seconds);
    const shared = new Map<string, unknown>();
    this.services = {
      logger,
      bus: this.bus,
      dataDir,
      commit: () => this.bus.commit(),
      budgets: config.budgets,
      metrics: this.metrics ?? noMetrics,
      shared: <T>(key: string, create: () => T): T => {
        if (!shared.has(key)) shared.set(key, create());
        return shared.get(key) as T;
      },
    };
  }

  /**
   * Loads every component of the config (transpiling through the cache and
   * checking its world) before starting any, so a bad component stops the host
   * at once with its name and what does not match, then starts them all.
   * `sources` says where each came from (default: the config file).
   * Bridges come first, so their out queues take what modules publish from the start;
   * they connect in the background: a broker that cannot be reached does not hold the host.
   */
  async start(sources: ReadonlyMap<string, ModuleSource> = new Map()): Promise<void> {
    const ownClientIds = new Set(this.config.bridges.map((b) => b.clientId));
    // Loaded only when there are bridges: MQTT.js alone is about 200 ms of a start.
    const { Bridge } = this.config.bridges.length > 0 ? await import('./bridge/bridge.ts') : { Bridge: undefined as never };
    for (const spec of this.config.bridges) {
      this.bridges.set(spec.name, new Bridge(spec, { bus: this.bus, logger: this.#logger, commit: () => this.bus.commit(), ownClientIds }));
    }
    for (const bridge of this.bridges.values()) bridge.start();
    const [loaded] = await Promise.all([Promise.all(this.config.modules.map(async (m) => [m, await this.#load(m)] as const)), this.workerBundle()]);
    await Promise.all(loaded.map(([spec, component]) => this.#run(spec, component, sources.get(spec.name) ?? 'config')));
  }

  /** Adds and starts a module; rejects if the name is taken or the component does not fit. Resolves after its first start attempt. */
  async addModule(spec: ResolvedModule, source: ModuleSource = 'api'): Promise<ModuleRuntime> {
    return this.#exclusive(spec.name, async () => {
      if (this.modules.has(spec.name)) throw new HostError('EH_MODULE_EXISTS', `a module named ${spec.name} is already running; replace it instead`);
      return this.#run(spec, await this.#load(spec), source);
    });
  }

  /**
   * Replaces a running module's component and entry. The new component is
   * loaded and checked before the running module is touched; see
   * ModuleRuntime.replace for what is kept.
   */
  async replaceModule(spec: ResolvedModule): Promise<void> {
    return this.#exclusive(spec.name, async () => {
      const runtime = this.modules.get(spec.name);
      if (!runtime) throw new HostError('EH_MODULE_NOT_FOUND', `no module named ${spec.name}; add it instead`);
      if (spec.delivery.durable !== runtime.spec.delivery.durable) {
        throw new HostError(
          'EH_CONFIG_INVALID',
          `modules.${spec.name}.delivery.durable: cannot change from ${runtime.spec.delivery.durable} to ${spec.delivery.durable} on a running module; remove it (keeping nothing) and add it again`,
        );
      }
      const component = await this.#load(spec);
      await runtime.replace(spec, component, this.config.shutdownTimeoutMs);
    });
  }

  /** Stops a module and forgets it; see RemoveOptions for what happens to its queue. */
  async removeModule(name: string, opts: RemoveOptions = {}): Promise<{ drained: boolean; leftQueued: number }> {
    return this.#exclusive(name, async () => {
      const runtime = this.modules.get(name);
      if (!runtime) throw new HostError('EH_MODULE_NOT_FOUND', `no module named ${name}`);
      const result = await runtime.remove(opts, this.config.shutdownTimeoutMs);
      this.modules.delete(name);
      return result;
    });
  }

  list(): ModuleInfo[] {
    return [...this.modules.values()].map((m) => m.info());
  }

  bridgeList(): BridgeInfo[] {
    return [...this.bridges.values()].map((b) => b.info());
  }

  /**
   * Stops intake everywhere, lets queued calls finish, lets the bridges send what the
   * modules published meanwhile, then commits and closes the durable queues.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    const runtimes = [...this.modules.values()];
    for (const m of runtimes) m.stopIntake();
    await Promise.all(runtimes.map((m) => m.stop(this.config.shutdownTimeoutMs)));
    this.#standby?.close();
    await Promise.all([...this.bridges.values()].map((b) => b.stop(this.config.shutdownTimeoutMs)));
    this.#store.close();
  }

  /** The JavaScript workers run, bundled once (see host/sandbox/worker-bundle.ts). */
  workerBundle(): Promise<WorkerBundle> {
    return workerBundle(
      capabilities.map((c) => c.worker),
      join(dirname(resolve(this.config.cacheDir)), 'worker'),
    );
  }

  async #run(spec: ResolvedModule, component: LoadedComponent, source: ModuleSource): Promise<ModuleRuntime> {
    const bundle = await this.workerBundle();
    if (spec.idle && !this.#standby) this.#standby = new StandbyWorker(bundle, moduleLimits.parse({}).workerHeapMb as number);
    const runtime = new ModuleRuntime(spec, component, {
      host: this.services,
      bundle,
      standby: this.#standby,
      logLevel: this.config.logLevel,
      trace: this.config.traceProtocol,
      metrics: this.config.metrics,
      source,
    });
    this.modules.set(spec.name, runtime);
    await runtime.start();
    return runtime;
  }

  async #load(spec: ResolvedModule): Promise<LoadedComponent> {
    const component = await loadComponent(spec, resolve(this.config.cacheDir));
    this.#logger.info(
      { module: spec.name, cache: component.cacheHit ? 'hit' : 'miss', key: component.key, ms: Math.round(component.ms) },
      component.cacheHit ? 'component loaded from the transpile cache' : 'component transpiled',
    );
    return component;
  }

  async #exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    if (this.#stopping) throw new HostError('EH_HOST_STOPPING', 'the host is stopping');
    if (this.#changing.has(name)) throw new HostError('EH_MODULE_BUSY', `module ${name} is being changed; try again when that finished`);
    this.#changing.add(name);
    try {
      return await work();
    } finally {
      this.#changing.delete(name);
    }
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
}
