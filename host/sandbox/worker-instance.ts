// One module instance, inside its worker thread: instantiates the component
// with the host functions of the capabilities its world imports, runs calls
// into the guest one at a time, and ends the thread when the guest can no
// longer be trusted (a trap, an exit, its memory over the limit).
import type { MessagePort } from 'node:worker_threads';
import type { CapabilityOps, OpHandlers, WorkerContext, WorkerHalf } from '../capabilities/capability.ts';
import { type ForwardedLine, forwardingLogger, type Logger, type LogLevel } from '../log-forwarding.ts';
import { throttledLog } from '../log-throttle.ts';
import { CallClock } from './call-clock.ts';
import { type ComponentCode, loadComponentCode } from './component-code.ts';
import { diagnoseGuestFailure } from './guest-failure.ts';
import { errorText, Link, type OpTable } from './link.ts';
import { type Dispatcher, dispatch, type Message, type ToMain, type ToWorker, type WorkerInit } from './protocol.ts';
import { ModuleExit } from './wasi/cli.ts';
import { createWasi } from './wasi/index.ts';
import * as io from './wasi/io.ts';
import { WorkerMetrics } from './worker-metrics.ts';

const unversioned = (name: string) => name.replace(/@[^@/]*$/, '');

/** A capability as a worker loads it: its name, the interfaces it answers and its worker half's module. */
export interface WorkerCapability {
  name: string;
  interfaces: string[];
  worker: string;
}

class MemoryLimitExceeded extends Error {}

type GuestFunction = (...args: unknown[]) => unknown;

export class WorkerInstance {
  readonly #init: WorkerInit & { capabilities: WorkerCapability[] };
  readonly #port: MessagePort;
  readonly #link: Link<ToMain>;
  readonly logger: Logger;
  readonly #clock: CallClock;
  readonly #maxMemoryBytes: number;
  readonly #memories = new Set<WebAssembly.Memory>();
  readonly #exports: Record<string, Record<string, GuestFunction>> = {};
  readonly #closers: (() => void | Promise<void>)[] = [];
  /** Run before a call's output leaves the worker (see WorkerContext.beforeOutput). */
  readonly #beforeOutput: (() => void)[] = [];
  readonly #startup: Promise<unknown>[] = [];
  readonly #deniedTargets = new Set<string>();
  readonly #limiters = new Map<string, () => boolean>();
  /** What this instance counts about itself, for the host's metrics. */
  readonly metrics: WorkerMetrics;
  readonly #wasi: ReturnType<typeof createWasi>;
  /** Calls into the guest run one after another, in the order they were queued. */
  #code: ComponentCode | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #stopping = false;
  #ended = false;

  constructor(init: WorkerInit & { capabilities: WorkerCapability[] }, port: MessagePort) {
    this.#init = init;
    this.#port = port;
    const trace = init.trace
      ? (direction: 'out' | 'in', m: unknown) => this.#traceLine(direction, m as { t: string; cap?: string; op?: string; id?: number })
      : undefined;
    this.#link = new Link<ToMain>(port, trace);
    this.logger = forwardingLogger(init.logLevel as LogLevel, (line) => this.#forwardLog(line));
    this.#clock = new CallClock(init.clock);
    this.metrics = new WorkerMetrics(init.metrics);
    this.#maxMemoryBytes = init.limits.maxMemoryMb * 1024 * 1024;
    this.#wasi = createWasi({
      env: init.env,
      logger: this.logger,
      denied: (cap, target, allowWith) => this.#denied(cap, target, allowWith),
      // stdout and stderr lines share the guest's log budget.
      allowLine: () => this.#allow('logLinesPerSecond'),
    });
    const handlers: Dispatcher<ToWorker> = {
      request: (m) => this.#link.receive({ t: 'request', ...m }, (id, value, error) => this.#send({ t: 'reply', id, value, error })),
      notify: (m) => this.#link.receive({ t: 'notify', ...m }, () => {}),
      reply: (m) => this.#link.settle(m.id, m.value, m.error),
      stop: () => void this.stop(),
    };
    port.on('message', (batch: Message<ToWorker>[]) => {
      for (const m of batch) dispatch(handlers, m);
    });
  }

  /** Instantiates the component, runs `lifecycle.init`, waits for startup work, then reports ready. */
  async run(): Promise<void> {
    const started = performance.now();
    try {
      await this.#instantiate();
    } catch (e) {
      this.logger.error({ err: e }, 'instantiation failed');
      this.#end({ t: 'init-failed', code: 'EH_COMPONENT_INVALID', error: errorText(e) }, 1);
      return;
    }
    try {
      // A world without lifecycle (a standard wasi:http/proxy component) has no init to run.
      if (this.#exports['edgehost:platform/lifecycle']) await this.callGuest('edgehost:platform/lifecycle', 'init', []);
      await Promise.all(this.#startup);
    } catch (e) {
      if (this.#ended) return;
      const diagnosis = diagnoseGuestFailure(e, 'edgehost:platform/lifecycle#init', this.#wasi.recentStderr());
      this.#end(
        diagnosis?.code === 'EH_GUEST_TYPE'
          ? { t: 'init-failed', code: 'EH_GUEST_TYPE', error: diagnosis.message, detail: diagnosis.detail }
          : { t: 'init-failed', code: 'EH_MODULE_INIT', error: diagnosis?.message ?? errorText(e) },
        1,
      );
      return;
    }
    this.#send({ t: 'ready', instantiateMs: Math.round(performance.now() - started) });
    this.#link.flush();
    void this.#code?.keepCache();
    // Counts of the last calls go within a second even when no call follows them.
    if (this.metrics.enabled) {
      setInterval(() => {
        const snapshot = this.metrics.due();
        if (!snapshot) return;
        this.#send({ t: 'metrics', ...snapshot });
        this.#link.flush();
      }, 1000).unref();
    }
  }

  /** Queues a call into the guest; rejects with the guest's error, and ends the instance if the guest is broken. */
  callGuest(iface: string, fn: string, args: unknown[]): Promise<unknown> {
    if (this.#stopping) return Promise.reject(new Error(`module ${this.#init.moduleName} is stopping`));
    const run = async () => {
      const target = this.#exports[iface]?.[fn];
      if (!target) {
        this.#fatal(new Error(`module ${this.#init.moduleName} does not export ${iface}#${fn}`), `${iface}#${fn}`);
      }
      this.#clock.start();
      const started = performance.now();
      try {
        return await target(...args);
      } catch (e) {
        this.metrics.count('failures', isGuestErr(e) ? 'err' : 'trap');
        // Out of memory at its cap, the guest's heap is full: only a new instance gets it back.
        if (this.#outOfMemory(e)) {
          this.#fatal(
            new MemoryLimitExceeded(`ran out of linear memory at its limit of ${this.#init.limits.maxMemoryMb} MiB (limits.maxMemoryMb) in ${iface}#${fn}`),
            `${iface}#${fn}`,
          );
        }
        // A guest `err` result is an answer; anything else means the instance cannot be trusted.
        if (!isGuestErr(e)) this.#fatal(e, `${iface}#${fn}`);
        throw e;
      } finally {
        this.#clock.stop();
        const ended = performance.now();
        this.metrics.call(`${iface}#${fn}`, (ended - started) / 1000);
        const used = this.#memoryBytes();
        this.metrics.memory(used);
        if (used > this.#maxMemoryBytes) {
          this.#fatal(
            new MemoryLimitExceeded(
              `linear memory is ${Math.round(used / 1048576)} MiB, over the module's limit of ${this.#init.limits.maxMemoryMb} MiB (limits.maxMemoryMb)`,
            ),
            `${iface}#${fn}`,
          );
        }
        // Writes the call made are committed first: what the call produced may
        // acknowledge them, and must not leave unless they are durable.
        this.#runBeforeOutput(`${iface}#${fn}`);
        // What the call produced (publishes, socket writes, the reply to the
        // request that caused it) leaves now: a later call that hangs must not strand it.
        // The metrics go with it, at most once a second.
        const snapshot = this.metrics.due(ended);
        if (snapshot) this.#send({ t: 'metrics', ...snapshot });
        this.#link.flush();
      }
    };
    const result = this.#queue.then(run);
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Finishes queued calls, runs close hooks, answers `stopped` and ends the thread. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    await this.#queue;
    this.#stopping = true;
    for (const close of this.#closers) {
      try {
        await close();
      } catch (e) {
        this.logger.error({ err: e }, 'error while closing');
      }
    }
    this.#wasi.flush();
    this.#end({ t: 'stopped' }, 0);
  }

  #contextFor<Ops extends CapabilityOps>(capability: string): WorkerContext<Ops> {
    return {
      moduleName: this.#init.moduleName,
      logger: this.logger,
      config: new Map(this.#init.config),
      limits: this.#init.limits,
      dataDir: this.#init.dataDir,
      service: this.#link.channel(capability),
      handle: (handlers: OpHandlers<Ops['toWorker']>) => this.#link.handle(capability, handlers as unknown as OpTable),
      denied: (target, allowWith) => this.#denied(capability, target, allowWith),
      callGuest: (iface, fn, args) => this.callGuest(iface, fn, args),
      waitFor: async (work) => {
        // While the guest waits, the event loop turns and sends what the call produced so far.
        this.#runBeforeOutput('a wait on host I/O');
        this.#clock.pause();
        try {
          return await work;
        } finally {
          this.#clock.resume();
        }
      },
      whenStarted: (work) => {
        this.#startup.push(work);
      },
      onClose: (fn) => {
        this.#closers.push(fn);
      },
      beforeOutput: (fn) => {
        this.#beforeOutput.push(fn);
      },
      allow: (key) => this.#allow(key),
      metrics: this.metrics,
      io,
    };
  }

  async #instantiate(): Promise<void> {
    const importObject: Record<string, unknown> = { ...this.#wasi.interfaces, 'edgehost:platform/types': {} };
    const wanted = new Set(this.#init.imports);
    for (const capability of this.#init.capabilities) {
      const half = (await import(capability.worker)) as WorkerHalf<unknown, CapabilityOps>;
      const interfaces = half.create(this.#contextFor(capability.name), this.#init.grants[capability.name]);
      for (const [name, functions] of Object.entries(interfaces)) if (wanted.has(name) || name.startsWith('wasi:')) importObject[name] = functions;
    }
    // jco asks for interfaces by name, sometimes with a version: answer both spellings.
    const imports = new Proxy(importObject, {
      get: (target, key) => (typeof key === 'string' ? (target[key] ?? target[unversioned(key)]) : undefined),
    });
    this.#code = await loadComponentCode(this.#init.componentJs);
    const { instantiate } = this.#code;
    const core = this.#init.coreModules;
    const getCoreModule = (name: string) => {
      const module = core[name];
      if (!module) throw new Error(`the transpiled component asks for core module ${name}, which was not compiled`);
      return module;
    };
    // Core instances are created through this hook so their memories can be measured after each call.
    const instantiateCore = async (module: WebAssembly.Module, coreImports?: WebAssembly.Imports) => {
      const instance = await WebAssembly.instantiate(module, coreImports);
      for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) this.#memories.add(value);
      return instance;
    };
    const instance = await instantiate(getCoreModule, imports, instantiateCore);
    for (const [key, value] of Object.entries(instance as Record<string, unknown>)) {
      if (key.includes(':')) this.#exports[unversioned(key)] = value as Record<string, GuestFunction>;
    }
  }

  /**
   * Whether a failed call failed for want of memory: the guest says so
   * (QuickJS's "out of memory"), or its memory stands exactly at the cap,
   * where the allocation that failed could not grow it.
   */
  #outOfMemory(e: unknown): boolean {
    if (/out of memory/i.test(errorText(e))) return true;
    return this.#memoryBytes() >= this.#maxMemoryBytes && this.#maxMemoryBytes > 0;
  }

  #memoryBytes(): number {
    let total = 0;
    for (const m of this.#memories) total += m.buffer.byteLength;
    return total;
  }

  #denied(capability: string, target: string, allowWith: string): string {
    const text = `${capability}: ${target} is not granted to module "${this.#init.moduleName}"; to allow it: ${allowWith}`;
    // One warning per target, not per attempt: a module retrying a refused call must not flood the log.
    this.metrics.count('denied', capability);
    const key = `${capability}\u0000${target}`;
    if (!this.#deniedTargets.has(key)) {
      this.#deniedTargets.add(key);
      this.logger.warn({ code: 'EH_DENIED', capability, target, allowWith }, text);
    }
    return text;
  }

  /** A token bucket per limit: a burst of one second's worth, refilled continuously; 0 means no limit. */
  #allow(key: string): boolean {
    let limiter = this.#limiters.get(key);
    if (!limiter) {
      const perSecond = this.#init.limits[key] ?? 0;
      let tokens = perSecond;
      let last = performance.now();
      const warn = throttledLog(1000, (suppressed) =>
        this.logger.warn(
          { code: 'EH_LIMIT', limit: `limits.${key}`, perSecond, refusedSinceLastWarning: suppressed, linearMemoryBytes: this.#memoryBytes() },
          `module ${this.#init.moduleName} hit its rate limit of ${perSecond}/s (limits.${key}); refusing with "limited"`,
        ),
      );
      limiter = () => {
        if (perSecond === 0) return true;
        const now = performance.now();
        tokens = Math.min(perSecond, tokens + ((now - last) * perSecond) / 1000);
        last = now;
        if (tokens >= 1) {
          tokens -= 1;
          return true;
        }
        this.metrics.count('limits', `limits.${key}`);
        warn();
        return false;
      };
      this.#limiters.set(key, limiter);
    }
    return limiter();
  }

  /** Runs the beforeOutput hooks; if one fails, the call's output must not leave: the instance ends without it. */
  #runBeforeOutput(during: string): void {
    for (const fn of this.#beforeOutput) {
      try {
        fn();
      } catch (e) {
        this.#abandon(e, during);
      }
    }
  }

  /**
   * Ends the instance without sending anything it has queued: what the current
   * call produced may acknowledge writes that could not be made durable.
   */
  #abandon(e: unknown, during: string): never {
    this.#ended = true;
    const error = `what the module wrote could not be committed (${errorText(e)}), at the end of ${during}; nothing the call produced was sent`;
    this.#link.close(new Error(error));
    this.#port.postMessage([{ t: 'fatal', code: 'EH_COMMIT_FAILED', error } satisfies Message<ToMain>]);
    this.#port.close();
    process.exit(1);
  }

  #fatal(e: unknown, during: string): never {
    // What the guest wrote is committed, and close hooks run, so that what it
    // did before it died (its accepted publishes) leaves with this batch.
    if (!this.#ended) this.#runBeforeOutput(during);
    for (const close of this.#closers) {
      try {
        void close();
      } catch {
        // the instance is going away; nothing more to save
      }
    }
    this.#wasi.flush();
    if (e instanceof ModuleExit) {
      this.#end({ t: 'fatal', code: 'EH_MODULE_EXIT', error: e.message, exitCode: e.exitCode }, 1);
    } else if (e instanceof MemoryLimitExceeded) {
      this.#end({ t: 'fatal', code: 'EH_MODULE_MEMORY', error: e.message }, 1);
    } else {
      const diagnosis = diagnoseGuestFailure(e, during, this.#wasi.recentStderr());
      this.#end({ t: 'fatal', code: diagnosis?.code ?? 'EH_MODULE_TRAP', error: diagnosis?.message ?? errorText(e) }, 1);
    }
    // Unreachable: #end exits the thread. Thrown so callers' types see `never`.
    throw e;
  }

  /** Sends the last message, with everything still queued before it, and ends this thread only. */
  #end(last: Message<ToMain>, exitCode: number): void {
    if (this.#ended) return;
    this.#ended = true;
    // The last counts go too (the trap that ends it among them).
    this.#send({ t: 'metrics', ...this.metrics.snapshot });
    this.#send(last);
    this.#link.flush();
    this.#port.close();
    process.exit(exitCode);
  }

  #send(m: Message<ToMain>): void {
    this.#link.send(m);
  }

  #forwardLog(line: ForwardedLine): void {
    this.#link.send({ t: 'log', ...line });
  }

  #traceLine(direction: 'out' | 'in', m: { t: string; cap?: string; op?: string; id?: number }): void {
    // Log lines are not traced: tracing would then trace itself.
    if (m.t === 'log') return;
    this.logger.info({ trace: 'protocol', from: direction === 'out' ? 'worker' : 'main', t: m.t, cap: m.cap, op: m.op, id: m.id }, 'protocol');
  }
}

function isGuestErr(e: unknown): boolean {
  return !!e && typeof e === 'object' && Object.hasOwn(e, 'payload');
}
