// Fakes of the two contexts a capability runs in, for testing one half of a
// capability on its own: the worker half's WorkerContext, and the service
// half's HostServices + ModuleHandle. Integration tests use the real host.
import { Bus } from '../../host/bus/bus.ts';
import type { CapabilityOps, Channel, HostServices, ModuleHandle, OpHandlers, WorkerContext } from '../../host/capabilities/capability.ts';
import { moduleLimits } from '../../host/config/schema.ts';
import { createLogger, type Logger } from '../../host/logger.ts';
import { noMetrics } from '../../host/metrics/recorder.ts';
import * as io from '../../host/sandbox/wasi/io.ts';
import { WorkerMetrics } from '../../host/sandbox/worker-metrics.ts';

export interface Denial {
  target: string;
  allowWith: string;
}

const silent = createLogger('silent');

/**
 * A WorkerContext that records what a worker half sends to its service
 * (`sent`), the handlers it registers, denials and startup work; `overrides`
 * replace any member (callGuest, logger, allow...).
 */
export function fakeWorkerContext<Ops extends CapabilityOps>(moduleName: string, overrides: Partial<WorkerContext<Ops>> = {}) {
  const denials: Denial[] = [];
  const sent: { op: string; args: unknown; kind: 'request' | 'notify' }[] = [];
  const startup: Promise<unknown>[] = [];
  const closers: (() => void | Promise<void>)[] = [];
  const beforeOutput: (() => void)[] = [];
  let handlers: OpHandlers<Ops['toWorker']> | undefined;
  const service: Channel<Ops['toService']> = {
    request: (op, args) => {
      sent.push({ op, args, kind: 'request' });
      return Promise.resolve(undefined as never);
    },
    notify: (op, args) => {
      sent.push({ op, args, kind: 'notify' });
    },
    append: (op, item) => {
      const last = sent[sent.length - 1];
      if (last && last.kind === 'notify' && last.op === op) (last.args as unknown[]).push(item);
      else sent.push({ op, args: [item], kind: 'notify' });
    },
  };
  const ctx: WorkerContext<Ops> = {
    moduleName,
    logger: silent,
    config: new Map(),
    limits: moduleLimits.parse({}) as Record<string, number>,
    dataDir: '/nonexistent',
    service,
    handle(h) {
      handlers = h;
    },
    denied(target, allowWith) {
      denials.push({ target, allowWith });
      return `capability: ${target} is not granted to module "${moduleName}"; to allow it: ${allowWith}`;
    },
    callGuest: () => Promise.resolve(),
    waitFor: (p) => p,
    whenStarted(work) {
      startup.push(work);
    },
    onClose(fn) {
      closers.push(fn);
    },
    beforeOutput(fn) {
      beforeOutput.push(fn);
    },
    allow: () => true,
    metrics: new WorkerMetrics(),
    io,
    ...overrides,
  };
  return {
    ctx,
    denials,
    sent,
    startup,
    handlers: () => handlers!,
    close: () => Promise.all(closers.map((f) => f())),
    /** What the worker does when a guest call ends, before its output would leave (commits). */
    endCall: () => {
      for (const f of beforeOutput) f();
    },
  };
}

/**
 * HostServices and a ModuleHandle for testing a service half: `worker` stands
 * in for the module's worker half (its ops are answered by `toWorker`), and
 * `commits` counts the durable commits the service asked for.
 */
export function fakeService<Ops extends CapabilityOps>(
  moduleName: string,
  opts: {
    toWorker?: Partial<OpHandlers<Ops['toWorker']>>;
    logger?: Logger;
    entry?: Record<string, unknown>;
    bus?: Bus;
    /** Host-wide shared state (HostServices.shared): pass the same map to fakes that stand for modules of one host. */
    shared?: Map<string, unknown>;
    limits?: Record<string, number>;
  } = {},
) {
  const denials: Denial[] = [];
  let commits = 0;
  let ready = true;
  const bus = opts.bus ?? new Bus();
  const shared = opts.shared ?? new Map<string, unknown>();
  const host: HostServices = {
    logger: opts.logger ?? silent,
    bus,
    dataDir: '/nonexistent',
    commit: () => {
      commits++;
      bus.commit();
    },
    budgets: { socketInputBytes: 32 * 1024 * 1024 },
    metrics: noMetrics,
    shared: <T>(key: string, create: () => T): T => {
      if (!shared.has(key)) shared.set(key, create());
      return shared.get(key) as T;
    },
  };
  const toWorker = (opts.toWorker ?? {}) as Record<string, (args: unknown) => unknown>;
  const worker: Channel<Ops['toWorker']> = {
    request: async (op, args) => (await toWorker[op]?.(args)) as never,
    notify: (op, args) => {
      void toWorker[op]?.(args);
    },
    append: (op, item) => {
      void toWorker[op]?.([item]);
    },
  };
  const module: ModuleHandle<Ops> = {
    name: moduleName,
    logger: host.logger,
    limits: moduleLimits.parse(opts.limits ?? {}) as Record<string, number>,
    entry: opts.entry ?? {},
    worker: () => (ready ? Promise.resolve(worker) : Promise.reject(new Error('not ready'))),
    readyWorker: () => (ready ? worker : undefined),
    denied(target, allowWith) {
      denials.push({ target, allowWith });
      return `capability: ${target} is not granted to module "${moduleName}"; to allow it: ${allowWith}`;
    },
  };
  return {
    host,
    module,
    denials,
    commits: () => commits,
    setReady(value: boolean) {
      ready = value;
    },
  };
}
