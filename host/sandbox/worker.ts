// Entry point of a module's worker thread: one module instance per worker, so
// a module stuck in a loop blocks only its own thread, and terminating the
// worker discards the instance without touching anyone else.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { ModuleContext } from '../capabilities/capability.ts';
import { capabilityFor } from '../capabilities/index.ts';
import { throttledLog } from '../log-throttle.ts';
import { createLogger, type LogLevel } from '../logger.ts';
import { CallClock } from './call-clock.ts';
import type { MainToWorker, WorkerInit, WorkerToMain } from './protocol.ts';
import { ModuleExit } from './wasi/cli.ts';
import { createWasi } from './wasi/index.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const logger = createLogger(init.logLevel as LogLevel, { module: init.moduleName });
const clock = new CallClock(init.clock);
const unversioned = (name: string) => name.replace(/@[^@/]*$/, '');

const post = (message: WorkerToMain, transfer?: Transferable[]) => port.postMessage(message, transfer as never);
const handlers = new Map<string, (m: MainToWorker) => void>();
const closers: (() => void | Promise<void>)[] = [];
const intakeStoppers: (() => void)[] = [];
const afterCallHooks: (() => void)[] = [];
const startup: Promise<unknown>[] = [];
const deniedTargets = new Set<string>();

const guestExports: Record<string, Record<string, (...args: unknown[]) => unknown>> = {};
/** Linear memories of the component's core instances, for the memory limit. */
const memories = new Set<WebAssembly.Memory>();
const maxMemoryBytes = init.limits.maxMemoryMb * 1024 * 1024;
let publishedSeq = 0;
let committedSeq = 0;
const waitingForCommit: { seq: number; fn: () => void }[] = [];
let queue: Promise<unknown> = Promise.resolve();
let stopping = false;

function denied(capability: string, target: string, allowWith: string): string {
  const text = `${capability}: ${target} is not granted to module "${init.moduleName}"; to allow it: ${allowWith}`;
  // One warning per target, not per attempt: a module retrying a refused call must not flood the log.
  const key = `${capability}\u0000${target}`;
  if (!deniedTargets.has(key)) {
    deniedTargets.add(key);
    logger.warn({ code: 'EH_DENIED', capability, target, allowWith }, text);
  }
  return text;
}

function memoryBytes(): number {
  let total = 0;
  for (const m of memories) total += m.buffer.byteLength;
  return total;
}

/** A token bucket per limit: a burst of one second's worth, refilled continuously. */
function rateLimiter(name: 'publish' | 'http', perSecond: number, key: string) {
  let tokens = perSecond;
  let last = performance.now();
  const warn = throttledLog(1000, (suppressed) =>
    logger.warn(
      { code: 'EH_LIMIT', limit: key, perSecond, refusedSinceLastWarning: suppressed },
      `module ${init.moduleName} hit its ${name} rate limit of ${perSecond}/s (${key}); refusing with "limited"`,
    ),
  );
  return () => {
    if (perSecond === 0) return true;
    const now = performance.now();
    tokens = Math.min(perSecond, tokens + ((now - last) * perSecond) / 1000);
    last = now;
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    warn();
    return false;
  };
}
const limiters = {
  publish: rateLimiter('publish', init.limits.publishPerSecond, 'limits.publishPerSecond'),
  http: rateLimiter('http', init.limits.httpRequestsPerSecond, 'limits.httpRequestsPerSecond'),
};

/** A JS error that is not a guest `err` result means the instance cannot be trusted any more. */
function isFatal(e: unknown): boolean {
  return !(e && typeof e === 'object' && Object.hasOwn(e, 'payload'));
}

function fatal(e: unknown): never {
  // What the guest published before it died was accepted (publish returned ok): hand it on.
  for (const close of closers) {
    try {
      void close();
    } catch {
      // the instance is going away; nothing more to save
    }
  }
  wasi.flush();
  if (e instanceof ModuleExit) {
    post({ t: 'fatal', code: 'EH_MODULE_EXIT', error: e.message, exitCode: e.exitCode });
  } else if (e instanceof MemoryLimitExceeded) {
    post({ t: 'fatal', code: 'EH_MODULE_MEMORY', error: e.message });
  } else {
    post({ t: 'fatal', code: 'EH_MODULE_TRAP', error: e instanceof Error ? e.message : String(e) });
  }
  // Ends this thread only; the main thread sees the exit and restarts the module.
  process.exit(1);
}

function callGuest(iface: string, fn: string, args: unknown[]): Promise<unknown> {
  if (stopping) return Promise.reject(new Error(`module ${init.moduleName} is stopping`));
  const run = async () => {
    const target = guestExports[iface]?.[fn];
    if (!target) throw new Error(`module ${init.moduleName} does not export ${iface}#${fn}`);
    clock.start();
    try {
      return await target(...args);
    } catch (e) {
      if (isFatal(e)) fatal(e);
      throw e;
    } finally {
      clock.stop();
      for (const hook of afterCallHooks) hook();
      const used = memoryBytes();
      if (used > maxMemoryBytes) {
        fatal(
          new MemoryLimitExceeded(
            `linear memory is ${Math.round(used / 1048576)} MiB, over the module's limit of ${init.limits.maxMemoryMb} MiB (limits.maxMemoryMb)`,
          ),
        );
      }
    }
  };
  const result = queue.then(run);
  queue = result.catch(() => {});
  return result;
}

const ctx: ModuleContext = {
  moduleName: init.moduleName,
  logger,
  config: new Map(init.config),
  limits: init.limits,
  denied,
  callGuest,
  async waitFor<T>(work: Promise<T>): Promise<T> {
    clock.pause();
    try {
      return await work;
    } finally {
      clock.resume();
    }
  },
  post,
  on(type, handler) {
    handlers.set(type, handler as (m: MainToWorker) => void);
  },
  onClose(fn) {
    closers.push(fn);
  },
  whenStarted(work) {
    startup.push(work);
  },
  afterCall(fn) {
    afterCallHooks.push(fn);
  },
  onStopIntake(fn) {
    intakeStoppers.push(fn);
  },
  publishAccepted() {
    return ++publishedSeq;
  },
  afterPublished(fn) {
    if (committedSeq >= publishedSeq) fn();
    else waitingForCommit.push({ seq: publishedSeq, fn });
  },
  allow(limit) {
    return limiters[limit]();
  },
};

class MemoryLimitExceeded extends Error {}

const wasi = createWasi({ env: init.env, logger, denied });

async function stop() {
  // New work stops first (listeners, timers); what is already queued for the guest still runs.
  for (const stopIntake of intakeStoppers) stopIntake();
  await queue;
  stopping = true;
  for (const close of closers) {
    try {
      await close();
    } catch (e) {
      logger.error({ err: e }, 'error while closing');
    }
  }
  wasi.flush();
  post({ t: 'stopped' });
  process.exit(0);
}

port.on('message', (m: MainToWorker) => {
  if (m.t === 'stop') void stop();
  else if (m.t === 'published') {
    committedSeq = m.seq;
    while (waitingForCommit.length > 0 && waitingForCommit[0].seq <= committedSeq) waitingForCommit.shift()!.fn();
  } else handlers.get(m.t)?.(m);
});

async function instantiate() {
  const importObject: Record<string, unknown> = { ...wasi.interfaces, 'edgehost:platform/types': {} };
  for (const iface of init.imports) {
    const capability = capabilityFor(iface);
    if (!capability) continue;
    const host = await capability.loadHost();
    const grant = capability.grantKey ? init.grants[capability.grantKey] : {};
    importObject[iface] = host.create(ctx, grant);
  }
  // jco asks for interfaces by name, sometimes with a version: answer both spellings.
  const imports = new Proxy(importObject, {
    get: (target, key) => (typeof key === 'string' ? (target[key] ?? target[unversioned(key)]) : undefined),
  });
  const dir = dirname(init.componentJs);
  const { instantiate } = await import(init.componentJs);
  // Core instances are created through this hook so their memories can be measured after each call.
  const instantiateCore = async (module: WebAssembly.Module, coreImports?: WebAssembly.Imports) => {
    const instance = await WebAssembly.instantiate(module, coreImports);
    for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) memories.add(value);
    return instance;
  };
  const instance = await instantiate((name: string) => WebAssembly.compile(readFileSync(join(dir, name))), imports, instantiateCore);
  for (const [key, value] of Object.entries(instance as Record<string, unknown>)) {
    if (key.includes(':')) guestExports[unversioned(key)] = value as Record<string, (...args: unknown[]) => unknown>;
  }
}

const started = performance.now();
try {
  await instantiate();
} catch (e) {
  logger.error({ err: e }, 'instantiation failed');
  post({ t: 'init-failed', code: 'EH_COMPONENT_INVALID', error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
}
try {
  await callGuest('edgehost:platform/lifecycle', 'init', []);
  await Promise.all(startup);
  post({ t: 'ready', instantiateMs: Math.round(performance.now() - started) });
} catch (e) {
  const payload = e && typeof e === 'object' && 'payload' in e ? (e as { payload: unknown }).payload : undefined;
  const error = payload !== undefined ? String(payload) : e instanceof Error ? e.message : String(e);
  post({ t: 'init-failed', code: 'EH_MODULE_INIT', error });
  process.exit(1);
}
