// One module while it is part of the host: its lifecycle, its instances (one
// worker each, one at a time), its supervision (restart with backoff, give up
// when it crash-loops), and the per-module bindings of the capabilities its
// world imports, which outlive its instances. The host adds, replaces and
// removes modules through this class.
//
// States:
//   loading     the component is being transpiled and compiled (the host's part, before this object exists)
//   starting    an instance is instantiating and running init
//   ready       an instance is ready: deliveries, connections and timers reach it
//   restarting  the instance ended unexpectedly; a new one starts after a backoff
//   sleeping    idle sleep: no instance; queues, listeners and timers wait, and the next
//               message, connection or timer wakes it
//   draining    being removed or stopped: no new work; queued work finishes
//   stopped     no instance, on purpose
//   failed      crashed too often, or cannot start; not restarted
import { EventEmitter } from 'node:events';
import type { Channel, HostServices, ModuleHandle, ServiceBinding } from '../capabilities/capability.ts';
import type { AnyCapability } from '../capabilities/index.ts';
import type { LoadedComponent } from '../components/load.ts';
import type { ResolvedModule } from '../config/load.ts';
import { HostError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { Instance, type InstanceExit } from '../sandbox/instance.ts';
import type { OpTable } from '../sandbox/link.ts';
import type { StandbyWorker } from '../sandbox/standby.ts';
import type { WorkerBundle } from '../sandbox/worker-bundle.ts';
import type { WorkerMetricsSnapshot } from '../sandbox/worker-metrics.ts';

export type ModuleState = 'loading' | 'starting' | 'ready' | 'restarting' | 'sleeping' | 'draining' | 'stopped' | 'failed';

/** Where a module's entry came from. */
export type ModuleSource = 'config' | 'api';

export interface RuntimeOptions {
  host: HostServices;
  /** The bundled worker code. */
  bundle: WorkerBundle;
  /** A thread started ahead of need, for wake-ups and restarts. */
  standby?: StandbyWorker;
  logLevel: string;
  trace: boolean;
  /** Whether the module's workers count what they do (GET /metrics). */
  metrics?: boolean;
}

/** What `GET /v1/modules` and the dashboard show of a module. */
export interface ModuleInfo {
  name: string;
  world: string;
  state: ModuleState;
  digest: string;
  source: ModuleSource;
  restarts: number;
  /** When the current instance became ready (ISO 8601), if it is. */
  readySince?: string;
  lastError?: { code: string; message: string; at: string };
}

export interface RemoveOptions {
  /**
   * false (the default): stop intake and deliver what is queued first (up to
   * `drainTimeoutMs`). true: stop at once; the durable part of the queue stays
   * on disk for a later module of the same name, the in-memory part is dropped.
   */
  keepQueue?: boolean;
  drainTimeoutMs?: number;
}

interface Bound {
  capability: AnyCapability;
  binding: ServiceBinding;
  grant: unknown;
}

/** Codes of start failures that retrying cannot fix. */
const PERMANENT = new Set(['EH_GUEST_TYPE', 'EH_COMPONENT_INVALID', 'EH_WORLD_MISMATCH']);

export class ModuleRuntime extends EventEmitter<{ state: [state: ModuleState] }> {
  spec: ResolvedModule;
  component: LoadedComponent;
  readonly source: ModuleSource;
  restarts = 0;
  lastError: ModuleInfo['lastError'];
  readonly logger: Logger;
  #state: ModuleState = 'loading';
  readonly #opts: RuntimeOptions;
  readonly #bound = new Map<string, Bound>();
  #instance: Instance | undefined;
  #instanceNumber = 0;
  /** Channels of the ready instance, by capability. */
  #channels = new Map<string, Channel<Record<string, never>>>();
  #crashes: number[] = [];
  #startFailures = 0;
  #backoffMs: number;
  #restartTimer: NodeJS.Timeout | undefined;
  /** Settled at the end of each start attempt (ready, or failed to start). */
  #attempt: { promise: Promise<void>; resolve: () => void } | undefined;
  #replacing = false;
  /** Instances asked to stop, and why: their exit is not a crash. */
  readonly #stopRequested = new WeakMap<Instance, 'stop' | 'replace' | 'sleep'>();
  #idleCheck: NodeJS.Timeout | undefined;
  /** Times the module woke from idle sleep. */
  wakes = 0;
  /** What ended instances counted about themselves, added up (the current one's comes from its worker). */
  readonly #retiredMetrics: WorkerMetricsSnapshot = { calls: {}, failures: {}, denied: {}, limits: {}, memoryBytes: 0, guest: {} };

  constructor(spec: ResolvedModule, component: LoadedComponent, opts: RuntimeOptions & { source?: ModuleSource }) {
    super();
    this.spec = spec;
    this.component = component;
    this.source = opts.source ?? 'config';
    this.#opts = opts;
    this.logger = opts.host.logger.child({ module: spec.name });
    this.#backoffMs = spec.restart.initialBackoffMs;
  }

  get name(): string {
    return this.spec.name;
  }

  get state(): ModuleState {
    return this.#state;
  }

  /** Bytes the host holds for this module outside its instance (queues, unsent output, pending I/O), by what holds them. */
  held(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { binding } of this.#bound.values()) Object.assign(out, binding.held?.() ?? {});
    return out;
  }

  /** Current values the module's bindings report (open connections...), by name. */
  gauges(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { binding } of this.#bound.values()) Object.assign(out, binding.gauges?.() ?? {});
    return out;
  }

  /** What the module's instances counted about themselves, the current one's included (for the host's metrics). */
  workerMetrics(): WorkerMetricsSnapshot {
    const current = this.#instance && !this.#instance.exited ? this.#instance.metrics : undefined;
    // Without a running instance (sleeping, stopped), the module holds no linear memory.
    return current ? addSnapshots(this.#retiredMetrics, current, this.#maxGuestSeries()) : { ...this.#retiredMetrics, memoryBytes: 0 };
  }

  /** The series the module may report (grants.metrics.maxSeries), over all its instances. */
  #maxGuestSeries(): number {
    return (this.spec.grants as { metrics?: { maxSeries?: number } }).metrics?.maxSeries ?? 0;
  }

  /** Whether a worker thread of this module is alive (starting, ready or finishing its calls). */
  get hasWorker(): boolean {
    return this.#instance !== undefined && this.#instance.exited === undefined;
  }

  info(): ModuleInfo {
    const readyAt = this.#state === 'ready' ? this.#instance?.readyAt : undefined;
    return {
      name: this.name,
      world: this.spec.world,
      state: this.#state,
      digest: this.component.digest,
      source: this.source,
      restarts: this.restarts,
      ...(readyAt ? { readySince: new Date(readyAt).toISOString() } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Binds the module's services and starts its first instance; resolves when that attempt ends, ready or not. */
  async start(): Promise<void> {
    await this.#bindAll();
    await this.#spawn();
  }

  /** Stops new work from reaching the module (listeners, timers, deliveries); its current calls go on. */
  stopIntake(): void {
    this.#setState('draining');
    clearTimeout(this.#restartTimer);
    clearInterval(this.#idleCheck);
    for (const { binding } of this.#bound.values()) binding.stopIntake?.();
  }

  /** Stops the instance (letting queued calls finish within `timeoutMs`) and releases the module's services. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#state !== 'draining') this.stopIntake();
    await this.#stopInstance('stop', timeoutMs);
    await this.#closeBindings();
    this.#setState('stopped');
  }

  /**
   * Runs `spec`/`component` in place of the current ones, keeping the
   * module's queue, subscriptions and listeners. The current instance
   * finishes its calls first; messages it had not acknowledged are delivered
   * to the new one. If the new instance fails to start, the previous
   * component is started again and this rejects with why.
   */
  async replace(spec: ResolvedModule, component: LoadedComponent, stopTimeoutMs: number): Promise<void> {
    const previous = { spec: this.spec, component: this.component };
    this.#replacing = true;
    try {
      clearTimeout(this.#restartTimer);
      await this.#stopInstance('replace', stopTimeoutMs);
      await this.#rebind(spec);
      this.spec = spec;
      this.component = component;
      this.#resetSupervision();
      await this.#spawn();
      if (this.#state === 'ready') {
        this.logger.info({ digest: component.digest }, `module ${this.name} replaced`);
        return;
      }
      const why = this.lastError?.message ?? 'it did not start';
      this.logger.error({ code: 'EH_DEPLOY_FAILED' }, `the new component of module ${this.name} did not start (${why}); starting the previous one again`);
      clearTimeout(this.#restartTimer);
      await this.#stopInstance('replace', stopTimeoutMs);
      await this.#rebind(previous.spec);
      this.spec = previous.spec;
      this.component = previous.component;
      this.#resetSupervision();
      await this.#spawn();
      throw new HostError('EH_DEPLOY_FAILED', `module ${this.name}: the new component did not start: ${why}. The previous component runs again.`);
    } finally {
      this.#replacing = false;
    }
  }

  /** Stops and releases the module (see RemoveOptions); resolves with how many queued messages were left behind. */
  async remove(opts: RemoveOptions, stopTimeoutMs: number): Promise<{ drained: boolean; leftQueued: number }> {
    const queue = () => this.#opts.host.bus.subscriber(this.name)?.stats();
    let drained = true;
    this.#setState('draining');
    clearTimeout(this.#restartTimer);
    if (opts.keepQueue) {
      drained = false;
      for (const { binding } of this.#bound.values()) binding.stopIntake?.();
    } else {
      // New work stops; work already queued (a module's bus queue) is finished first.
      const drains: Promise<void>[] = [];
      for (const { binding } of this.#bound.values()) {
        if (binding.drain) drains.push(binding.drain());
        else binding.stopIntake?.();
      }
      const timeout = new Promise<false>((resolve) => setTimeout(resolve, opts.drainTimeoutMs ?? 30_000, false).unref());
      drained = await Promise.race([Promise.all(drains).then(() => true as const), timeout]);
      for (const { binding } of this.#bound.values()) binding.stopIntake?.();
    }
    const stats = queue();
    const leftQueued = (stats?.queued ?? 0) + (stats?.inFlight ?? 0);
    await this.#stopInstance('stop', stopTimeoutMs);
    const durable = this.spec.delivery.durable;
    await this.#closeBindings();
    this.#setState('stopped');
    if (leftQueued > 0) {
      this.logger.warn(
        { leftQueued, durable },
        durable
          ? `module ${this.name} removed with ${leftQueued} messages queued; they stay on disk for a later module named ${this.name}`
          : `module ${this.name} removed with ${leftQueued} messages queued in memory; they are dropped`,
      );
    }
    this.logger.info({ drained }, `module ${this.name} removed`);
    return { drained, leftQueued };
  }

  async #stopInstance(why: 'stop' | 'replace' | 'sleep', timeoutMs: number): Promise<void> {
    const instance = this.#instance;
    if (!instance || instance.exited) return;
    this.#stopRequested.set(instance, why);
    await instance.stop(timeoutMs, why === 'sleep' ? 'stop' : why);
  }

  /** The ready instance's channel to a capability's worker half. */
  #readyChannel(cap: string): Channel<Record<string, never>> | undefined {
    if (this.#state !== 'ready' && this.#state !== 'draining') return undefined;
    return this.#channels.get(cap);
  }

  #handle(capability: AnyCapability): ModuleHandle {
    const module = this;
    const deniedTargets = new Set<string>();
    return {
      get name() {
        return module.name;
      },
      logger: this.logger,
      get limits() {
        return module.spec.limits;
      },
      get entry() {
        return module.spec as unknown as Record<string, unknown>;
      },
      readyWorker: () => this.#readyChannel(capability.name),
      worker: () => this.#whenReady().then(() => this.#readyChannel(capability.name)!),
      denied: (target, allowWith) => {
        const text = `${capability.name}: ${target} is not granted to module "${this.name}"; to allow it: ${allowWith}`;
        // Denials decided on the main thread count with those the worker decided.
        this.#retiredMetrics.denied[capability.name] = (this.#retiredMetrics.denied[capability.name] ?? 0) + 1;
        if (!deniedTargets.has(target)) {
          deniedTargets.add(target);
          this.logger.warn({ code: 'EH_DENIED', capability: capability.name, target, allowWith }, text);
        }
        return text;
      },
    };
  }

  async #whenReady(): Promise<void> {
    for (;;) {
      if (this.#state === 'ready') return;
      if (this.#state === 'sleeping') this.#wake();
      if (this.#state === 'failed' || this.#state === 'stopped') throw new Error(`module ${this.name} is ${this.#state}`);
      await new Promise<void>((resolve) => this.once('state', () => resolve()));
    }
  }

  #grantOf(capability: AnyCapability, spec: ResolvedModule): unknown {
    return capability.grantKey ? (spec.grants as Record<string, unknown>)[capability.grantKey] : {};
  }

  async #bindAll(): Promise<void> {
    for (const capability of this.spec.capabilities) await this.#bind(capability, this.spec);
  }

  async #bind(capability: AnyCapability, spec: ResolvedModule): Promise<void> {
    if (!capability.loadService) return;
    const half = await capability.loadService();
    const grant = this.#grantOf(capability, spec);
    this.#bound.set(capability.name, { capability, grant, binding: half.bind(this.#opts.host, this.#handle(capability), grant) });
  }

  /** Brings the bindings in line with `spec`: kept (updated) where the capability stays, closed or created where it changes. */
  async #rebind(spec: ResolvedModule): Promise<void> {
    const wanted = new Set(spec.capabilities.map((c) => c.name));
    for (const [name, b] of this.#bound) {
      if (wanted.has(name)) continue;
      await b.binding.close?.();
      this.#bound.delete(name);
    }
    for (const capability of spec.capabilities) {
      const b = this.#bound.get(capability.name);
      const grant = this.#grantOf(capability, spec);
      if (b?.binding.update) {
        b.binding.update(grant, spec as unknown as Record<string, unknown>);
        b.grant = grant;
      } else {
        if (b) {
          await b.binding.close?.();
          this.#bound.delete(capability.name);
        }
        // The spec is read through the handle: make the new one visible before binding.
        const current = this.spec;
        this.spec = spec;
        try {
          await this.#bind(capability, spec);
        } finally {
          this.spec = current;
        }
      }
    }
  }

  async #closeBindings(): Promise<void> {
    for (const { binding } of this.#bound.values()) {
      try {
        await binding.close?.();
      } catch (e) {
        this.logger.error({ err: e }, 'error while releasing the module');
      }
    }
    this.#bound.clear();
  }

  /** Starts an instance; resolves when it is ready or its start failed. */
  #spawn(): Promise<void> {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    this.#attempt = { promise, resolve };
    const n = ++this.#instanceNumber;
    const spec = this.spec;
    this.#setState('starting');
    const ops = new Map<string, OpTable>();
    for (const [name, { binding }] of this.#bound) {
      ops.set(name, binding.handlers as OpTable);
      binding.instanceStarting?.(n);
    }
    const env = spec.grants.environment as string[];
    const instance = new Instance({
      entry: this.#opts.bundle.entry,
      init: {
        moduleName: spec.name,
        instance: n,
        componentJs: this.component.jsPath,
        coreModules: this.component.coreModules,
        imports: spec.worldSpec.imports,
        capabilities: spec.capabilities.map((c) => ({ name: c.name, interfaces: c.interfaces, worker: this.#opts.bundle.workerHalf(c.worker) })),
        grants: Object.fromEntries(spec.capabilities.map((c) => [c.name, this.#grantOf(c, spec)])),
        env: env.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]),
        config: Object.entries(spec.config).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
        limits: spec.limits,
        dataDir: this.#opts.host.dataDir,
        logLevel: this.#opts.logLevel,
        trace: this.#opts.trace,
        compileCacheDir: this.#opts.bundle.compileCacheDir,
        metrics: this.#opts.metrics ?? true,
      },
      logger: this.logger,
      heapMb: spec.limits.workerHeapMb,
      callDeadlineMs: spec.limits.callDeadlineMs,
      ops,
      held: () => this.held(),
      standby: this.#opts.standby,
    });
    this.#instance = instance;
    instance.on('exit', (exit) => this.#onExit(instance, exit));
    instance.ready().then(
      (instantiateMs) => {
        if (this.#instance !== instance || this.#state !== 'starting') return;
        this.#startFailures = 0;
        this.#channels = new Map(spec.capabilities.map((c) => [c.name, instance.link.channel(c.name)]));
        this.#setState('ready');
        this.logger.info({ world: spec.world, instantiateMs, restarts: this.restarts }, `module ${this.name} ready`);
        for (const { binding } of this.#bound.values()) binding.instanceReady?.(n);
        this.#watchIdle(instance);
        this.#settleAttempt();
      },
      () => {
        // Reported through the exit event.
      },
    );
    return promise;
  }

  #onExit(instance: Instance, exit: InstanceExit) {
    if (instance.metrics) {
      const retired = addSnapshots(this.#retiredMetrics, instance.metrics, this.#maxGuestSeries());
      // A gauge tells the state of the instance that set it: gone with it, until the next one sets it.
      for (const [key, g] of Object.entries(retired.guest)) if (g.type === 'gauge') delete retired.guest[key];
      Object.assign(this.#retiredMetrics, retired);
    }
    if (this.#instance !== instance) return;
    this.#channels = new Map();
    clearInterval(this.#idleCheck);
    const stopped =
      this.#stopRequested.get(instance) ?? (this.#state === 'draining' || this.#state === 'stopped' || exit.code === 'stopped' ? 'stop' : undefined);
    for (const { binding } of this.#bound.values()) binding.instanceEnded?.(instance.number, stopped ?? 'crash');
    if (stopped === 'sleep') {
      this.#setState('sleeping');
      this.logger.info(`module ${this.name} asleep: its worker is freed`);
    }
    if (stopped) {
      this.#settleAttempt();
      return;
    }
    const code = exit.code as string;
    this.lastError = { code, message: exit.error, at: new Date().toISOString() };
    if (exit.phase === 'start') {
      this.logger.error({ code, ...(exit.detail ? { detail: exit.detail } : {}) }, `module ${this.name} failed to start: ${exit.error}`);
      // A replacement that does not start is not retried: replace() goes back to the previous component.
      if (this.#replacing) {
        this.#setState('restarting');
        this.#settleAttempt();
        return;
      }
      this.#startFailures++;
      const { maxStartFailures } = this.spec.restart;
      if (PERMANENT.has(code) || this.#startFailures >= maxStartFailures) {
        const reason = PERMANENT.has(code) ? 'retrying cannot fix this' : `${this.#startFailures} starts in a row failed (restart.maxStartFailures)`;
        return this.#fail(`module ${this.name} cannot start (${reason}); not restarting it (the other modules keep running). Fix it and deploy it again.`);
      }
    } else {
      this.logger.error({ code, ...(code === 'EH_MODULE_MEMORY' ? { hostHeld: this.held() } : {}) }, `module ${this.name} stopped: ${exit.error}`);
      const now = Date.now();
      const { maxCrashes, windowMs } = this.spec.restart;
      this.#crashes = this.#crashes.filter((t) => now - t < windowMs);
      this.#crashes.push(now);
      if (this.#crashes.length > maxCrashes) {
        return this.#fail(`module ${this.name} crashed ${this.#crashes.length} times in ${windowMs} ms; not restarting it (the other modules keep running)`, {
          crashes: this.#crashes.length,
          windowMs,
        });
      }
      // A module that ran cleanly for a whole window starts again from the shortest backoff.
      if (this.#crashes.length === 1) this.#backoffMs = this.spec.restart.initialBackoffMs;
    }
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.spec.restart.maxBackoffMs, this.#backoffMs * 2);
    this.#setState('restarting');
    this.logger.info({ delayMs: delay }, `restarting module ${this.name} in ${delay} ms`);
    this.#settleAttempt();
    this.#restartTimer = setTimeout(() => {
      if (this.#state !== 'restarting') return;
      this.restarts++;
      void this.#spawn();
    }, delay);
  }

  /** Puts the module to sleep once its instance has had nothing to do for `idle.afterMs`. */
  #watchIdle(instance: Instance) {
    const afterMs = this.spec.idle?.afterMs;
    if (afterMs === undefined) return;
    clearInterval(this.#idleCheck);
    this.#idleCheck = setInterval(
      () => {
        if (this.#instance !== instance || this.#state !== 'ready') return clearInterval(this.#idleCheck);
        if (instance.idleMs() < afterMs) return;
        for (const { binding } of this.#bound.values()) if (binding.keepsAwake?.()) return;
        clearInterval(this.#idleCheck);
        this.logger.info(
          { idleMs: Math.round(instance.idleMs()) },
          `module ${this.name} is idle: putting it to sleep until a message, connection or timer wakes it`,
        );
        void this.#stopInstance('sleep', 5000);
      },
      Math.min(1000, Math.max(10, afterMs / 4)),
    );
    this.#idleCheck.unref();
  }

  /** Starts an instance for a sleeping module; what woke it waits in #whenReady. */
  #wake() {
    this.wakes++;
    const started = performance.now();
    this.logger.info(`waking module ${this.name}`);
    void this.#spawn().then(() => {
      if (this.#state === 'ready') this.logger.info({ wakeMs: Math.round(performance.now() - started) }, `module ${this.name} woke`);
    });
  }

  #fail(message: string, fields: Record<string, unknown> = {}) {
    this.#setState('failed');
    this.logger.error({ code: 'EH_MODULE_FAILED', ...fields }, message);
    this.#settleAttempt();
  }

  #resetSupervision() {
    this.#crashes = [];
    this.#startFailures = 0;
    this.#backoffMs = this.spec.restart.initialBackoffMs;
    this.lastError = undefined;
  }

  #settleAttempt() {
    this.#attempt?.resolve();
    this.#attempt = undefined;
  }

  #setState(state: ModuleState) {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('state', state);
  }
}

/**
 * Two snapshots' counts added up; memory and guest gauges are the later one's.
 * Guest series new in `b` are taken while there are fewer than `maxGuestSeries`:
 * instances that each report other series cannot add up past the module's budget.
 */
function addSnapshots(a: WorkerMetricsSnapshot, b: WorkerMetricsSnapshot, maxGuestSeries: number): WorkerMetricsSnapshot {
  const add = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const calls = { ...a.calls };
  for (const [fn, h] of Object.entries(b.calls)) {
    const old = calls[fn];
    calls[fn] = old ? { buckets: old.buckets.map((n, i) => n + (h.buckets[i] ?? 0)), sum: old.sum + h.sum, count: old.count + h.count } : h;
  }
  const guest = { ...a.guest };
  let series = Object.keys(guest).length;
  for (const [key, g] of Object.entries(b.guest)) {
    const old = guest[key];
    if (old) guest[key] = g.type === 'counter' ? { ...g, value: old.value + g.value } : g;
    else if (series < maxGuestSeries) {
      guest[key] = g;
      series++;
    }
  }
  return { calls, failures: add(a.failures, b.failures), denied: add(a.denied, b.denied), limits: add(a.limits, b.limits), memoryBytes: b.memoryBytes, guest };
}
