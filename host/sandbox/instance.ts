// The main thread's handle on one running instance of a module: its worker
// thread, the link to it, and the watchdog that terminates it when a call runs
// past its deadline.
import { EventEmitter } from 'node:events';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { CallClock } from './call-clock.ts';
import { Link, type OpTable } from './link.ts';
import { type Dispatcher, dispatch, type Message, type ToMain, type ToWorker, type WorkerInit } from './protocol.ts';
import { type StandbyWorker, workerLimits } from './standby.ts';
import type { WorkerCapability } from './worker-instance.ts';
import type { WorkerMetricsSnapshot } from './worker-metrics.ts';

// Guests that wait on host I/O are suspended through JSPI. Node 24 has it
// behind a flag; setting it here applies to every worker created afterwards
// (the main thread runs no WebAssembly), so no command-line flag is needed.
if (typeof (WebAssembly as { Suspending?: unknown }).Suspending !== 'function') v8.setFlagsFromString('--experimental-wasm-jspi');

/** Why an instance ended. `phase` says whether it had become ready. */
export interface InstanceExit {
  code: ErrorCode | 'stopped';
  error: string;
  detail?: string;
  phase: 'start' | 'running';
}

export interface InstanceOptions {
  /** The worker's entry point (bundled JavaScript, see worker-bundle.ts). */
  entry: URL;
  init: Omit<WorkerInit, 'clock'> & { capabilities: WorkerCapability[] };
  logger: Logger;
  /** Heap of the worker's JavaScript (glue and host functions), not the guest's linear memory. */
  heapMb: number;
  callDeadlineMs: number;
  /** Incoming ops of each capability, by capability name. */
  ops: Map<string, OpTable>;
  /** What the host holds for the module (queues, unsent bytes): added to its limit lines. */
  held?: () => Record<string, number>;
  /** A thread started ahead of need, taken when it fits. */
  standby?: StandbyWorker;
}

export class Instance extends EventEmitter<{ exit: [InstanceExit] }> {
  readonly number: number;
  readonly link: Link<ToWorker>;
  readonly #worker: Worker;
  readonly #clock = new CallClock();
  readonly #logger: Logger;
  readonly #ready: Promise<number>;
  #readyAt: number | undefined;
  /** The latest of what the instance counted about itself. */
  metrics: WorkerMetricsSnapshot | undefined;
  /** When a message last crossed either way (performance.now()). */
  #lastActivity = performance.now();
  #watchdog: NodeJS.Timeout | undefined;
  #exit: InstanceExit | undefined;
  #stopping = false;

  constructor(opts: InstanceOptions) {
    super();
    this.number = opts.init.instance;
    this.#logger = opts.logger;
    const trace = opts.init.trace
      ? (direction: 'out' | 'in', m: unknown) => {
          const { t, cap, op, id } = m as { t: string; cap?: string; op?: string; id?: number };
          if (t !== 'log') this.#logger.info({ trace: 'protocol', from: direction === 'out' ? 'main' : 'worker', t, cap, op, id }, 'protocol');
        }
      : undefined;
    const init = { ...opts.init, clock: this.#clock.buffer };
    const spare = opts.standby?.take(opts.heapMb);
    if (spare) {
      // A thread already booted: it takes its init as its first message.
      spare.ref();
      spare.postMessage(init);
      this.#worker = spare;
    } else {
      this.#worker = new Worker(opts.entry, {
        workerData: init,
        // The worker sees no host environment at all; granted variables reach the guest through WASI only.
        env: {},
        resourceLimits: workerLimits(opts.heapMb),
      });
    }
    this.link = new Link<ToWorker>(this.#worker, trace);
    for (const [cap, table] of opts.ops) this.link.handle(cap, table);

    let settleReady: { resolve: (ms: number) => void; reject: (e: Error) => void } | undefined;
    this.#ready = new Promise((resolve, reject) => {
      settleReady = { resolve, reject };
    });
    this.#ready.catch(() => {});
    const handlers: Dispatcher<ToMain> = {
      ready: (m) => {
        this.#readyAt = Date.now();
        settleReady?.resolve(m.instantiateMs);
      },
      'init-failed': (m) => this.#end({ code: m.code, error: m.error, detail: m.detail, phase: 'start' }),
      fatal: (m) => this.#end({ code: m.code, error: m.error, phase: this.#readyAt ? 'running' : 'start' }),
      stopped: () => this.#end({ code: 'stopped', error: 'stopped', phase: 'running' }),
      request: (m) => this.link.receive({ t: 'request', ...m }, (id, value, error) => this.link.send({ t: 'reply', id, value, error })),
      notify: (m) => this.link.receive({ t: 'notify', ...m }, () => {}),
      reply: (m) => this.link.settle(m.id, m.value, m.error),
      metrics: (m) => {
        const { t: _, ...snapshot } = m as typeof m & { t: string };
        this.metrics = snapshot;
      },
      // A limit line shows, next to the guest's own memory, what the host holds for the module.
      log: (m) => this.#logger[m.level](m.fields.code === 'EH_LIMIT' && opts.held ? { ...m.fields, hostHeld: opts.held() } : m.fields, m.msg),
    };
    this.#worker.on('message', (batch: Message<ToMain>[]) => {
      this.#lastActivity = performance.now();
      for (const m of batch) dispatch(handlers, m);
    });
    this.#worker.on('error', (e) => this.#end({ code: 'EH_MODULE_TRAP', error: e.message, phase: this.#readyAt ? 'running' : 'start' }));
    this.#worker.on('exit', (code) =>
      this.#end(
        this.#stopping
          ? { code: 'stopped', error: 'stopped', phase: 'running' }
          : { code: 'EH_MODULE_TRAP', error: `worker exited with code ${code}`, phase: this.#readyAt ? 'running' : 'start' },
      ),
    );
    this.once('exit', (exit) => settleReady?.reject(Object.assign(new Error(exit.error), { code: exit.code })));
    const deadline = opts.callDeadlineMs;
    this.#watchdog = setInterval(() => this.#checkDeadline(deadline), Math.max(10, Math.min(100, deadline / 5)));
    this.#watchdog.unref();
  }

  /** Resolves with the instantiation time once init returned ok; rejects if the start failed. */
  ready(): Promise<number> {
    return this.#ready;
  }

  /** When the instance became ready (ms since the epoch), if it did. */
  get readyAt(): number | undefined {
    return this.#readyAt;
  }

  get exited(): InstanceExit | undefined {
    return this.#exit;
  }

  /** Milliseconds since anything crossed between the main thread and this instance, or 0 while it works on something. */
  idleMs(): number {
    if (this.link.pendingRequests > 0 || this.#clock.inCall()) return 0;
    return performance.now() - this.#lastActivity;
  }

  /** Milliseconds the guest has been running in its current call (0 when idle). */
  busyMs(): number {
    return this.#clock.runningMs();
  }

  /** Asks the instance to finish its current call and close; terminates it after `timeoutMs`. */
  async stop(timeoutMs: number, why: 'stop' | 'replace' = 'stop'): Promise<void> {
    if (this.#exit) return;
    this.#stopping = true;
    const ended = new Promise<void>((resolve) => this.once('exit', () => resolve()));
    this.link.send({ t: 'stop', why });
    this.link.flush();
    const timer = setTimeout(() => {
      this.#logger.warn({ timeoutMs }, 'module did not stop in time; terminating it');
      this.#end({ code: 'stopped', error: 'terminated after the stop timeout', phase: 'running' });
    }, timeoutMs);
    await ended;
    clearTimeout(timer);
  }

  /** Ends the instance at once. */
  terminate(exit: Omit<InstanceExit, 'phase'>): void {
    this.#end({ ...exit, phase: this.#readyAt ? 'running' : 'start' });
  }

  #checkDeadline(deadline: number) {
    const ran = this.#clock.runningMs();
    if (ran <= deadline) return;
    this.#end({
      code: 'EH_MODULE_DEADLINE',
      error: `a call ran ${Math.round(ran)} ms, past the module's deadline of ${deadline} ms (limits.callDeadlineMs)`,
      phase: this.#readyAt ? 'running' : 'start',
    });
  }

  #end(exit: InstanceExit) {
    if (this.#exit) return;
    this.#exit = exit;
    clearInterval(this.#watchdog);
    void this.#worker.terminate();
    this.link.close(new Error(`module instance ended: ${exit.error}`));
    this.emit('exit', exit);
  }
}
