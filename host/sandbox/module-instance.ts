import { EventEmitter } from 'node:events';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { ResolvedModule } from '../config/load.ts';
import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { CallClock } from './call-clock.ts';
import type { MainToWorker, WireMessage, WorkerInit, WorkerToMain } from './protocol.ts';

// Guests that wait on host I/O are suspended through JSPI. Node 24 has it
// behind a flag; setting it here applies to every worker created afterwards
// (the main thread runs no WebAssembly), so no command-line flag is needed.
if (typeof (WebAssembly as { Suspending?: unknown }).Suspending !== 'function') v8.setFlagsFromString('--experimental-wasm-jspi');

/** Why an instance ended. */
export interface InstanceExit {
  code: ErrorCode | 'stopped';
  error: string;
}

export interface ModuleInstanceEvents {
  publish: [messages: { topic: string; payload: Uint8Array }[], seq: number];
  subscribe: [filter: string];
  unsubscribe: [filter: string];
  exit: [exit: InstanceExit];
}

/**
 * The main thread's handle on one running instance of a module: a worker
 * thread, the messages to and from it, and the watchdog that terminates it
 * when a call runs past its deadline.
 */
export class ModuleInstance extends EventEmitter<ModuleInstanceEvents> {
  readonly module: ResolvedModule;
  readonly #worker: Worker;
  readonly #clock = new CallClock();
  readonly #logger: Logger;
  readonly #deliveries = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #nextDelivery = 1;
  #watchdog: NodeJS.Timeout | undefined;
  #exit: InstanceExit | undefined;
  #ready: Promise<number>;
  #stopping = false;

  constructor(module: ResolvedModule, componentJs: string, logger: Logger, logLevel: string) {
    super();
    this.module = module;
    this.#logger = logger;
    const env = module.grants.environment as string[];
    const init: WorkerInit = {
      moduleName: module.name,
      componentJs,
      imports: module.worldSpec.imports,
      grants: module.grants as Record<string, unknown>,
      env: env.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]),
      config: Object.entries(module.config).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
      limits: module.limits,
      logLevel,
      clock: this.#clock.buffer,
    };
    this.#worker = new Worker(new URL('./worker.ts', import.meta.url), {
      workerData: init,
      // The worker sees no host environment at all; granted variables reach the guest through WASI only.
      env: {},
      resourceLimits: { maxOldGenerationSizeMb: module.limits.workerHeapMb },
    });
    this.#ready = new Promise((resolve, reject) => {
      const onMessage = (m: WorkerToMain) => {
        if (m.t === 'ready') resolve(m.instantiateMs);
        else if (m.t === 'init-failed') reject(Object.assign(new Error(m.error), { code: m.code }));
      };
      this.#worker.on('message', onMessage);
      this.once('exit', (exit) => reject(Object.assign(new Error(exit.error), { code: exit.code })));
    });
    this.#ready.catch(() => {});
    this.#worker.on('message', (m: WorkerToMain) => this.#onMessage(m));
    this.#worker.on('error', (e) => this.#end({ code: 'EH_MODULE_TRAP', error: e.message }));
    this.#worker.on('exit', (code) =>
      this.#end(this.#stopping ? { code: 'stopped', error: 'stopped' } : { code: 'EH_MODULE_TRAP', error: `worker exited with code ${code}` }),
    );
    const deadline = module.limits.callDeadlineMs;
    this.#watchdog = setInterval(() => this.#checkDeadline(deadline), Math.max(10, Math.min(100, deadline / 5)));
    this.#watchdog.unref();
  }

  /** Resolves with the instantiation time once init returned ok; rejects if the start failed. */
  ready(): Promise<number> {
    return this.#ready;
  }

  get exited(): InstanceExit | undefined {
    return this.#exit;
  }

  /** Runs the module's message handler on a batch; rejects if it returned an error or the instance died. */
  deliver(messages: WireMessage[]): Promise<void> {
    if (this.#exit) return Promise.reject(new Error(`module ${this.module.name} is not running`));
    const id = this.#nextDelivery++;
    return new Promise((resolve, reject) => {
      this.#deliveries.set(id, { resolve, reject });
      this.#send({ t: 'deliver', id, messages });
    });
  }

  /** Tells the module its publishes up to `seq` are committed (releases output held for them). */
  committed(seq: number): void {
    if (!this.#exit) this.#send({ t: 'published', seq });
  }

  /** Asks the module to finish its current call and close; terminates it after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#exit) return;
    this.#stopping = true;
    const ended = new Promise<void>((resolve) => this.once('exit', () => resolve()));
    this.#send({ t: 'stop' });
    const timer = setTimeout(() => {
      this.#logger.warn({ module: this.module.name, timeoutMs }, 'module did not stop in time; terminating it');
      this.#end({ code: 'stopped', error: 'terminated after the shutdown timeout' });
    }, timeoutMs);
    await ended;
    clearTimeout(timer);
  }

  /** Ends the instance at once. */
  terminate(exit: InstanceExit): void {
    this.#end(exit);
  }

  #send(m: MainToWorker) {
    this.#worker.postMessage(m);
  }

  #onMessage(m: WorkerToMain) {
    switch (m.t) {
      case 'publish':
        this.emit('publish', m.messages, m.seq);
        break;
      case 'subscribe':
        this.emit('subscribe', m.filter);
        break;
      case 'unsubscribe':
        this.emit('unsubscribe', m.filter);
        break;
      case 'delivered': {
        const pending = this.#deliveries.get(m.id);
        this.#deliveries.delete(m.id);
        if (m.error === undefined) pending?.resolve();
        else pending?.reject(new Error(m.error));
        break;
      }
      case 'fatal':
        this.#end({ code: m.code, error: m.error });
        break;
      case 'stopped':
        this.#end({ code: 'stopped', error: 'stopped' });
        break;
    }
  }

  #checkDeadline(deadline: number) {
    const ran = this.#clock.runningMs();
    if (ran <= deadline) return;
    this.#end({ code: 'EH_MODULE_DEADLINE', error: `a call ran ${Math.round(ran)} ms, past the module's deadline of ${deadline} ms (limits.callDeadlineMs)` });
  }

  #end(exit: InstanceExit) {
    if (this.#exit) return;
    this.#exit = exit;
    clearInterval(this.#watchdog);
    void this.#worker.terminate();
    for (const pending of this.#deliveries.values()) pending.reject(new Error(`module ${this.module.name} ended: ${exit.error}`));
    this.#deliveries.clear();
    this.emit('exit', exit);
  }
}
