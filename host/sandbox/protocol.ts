// The whole protocol between the main thread and a module's worker, in one
// place (as preview2-shim keeps its I/O calls in one table): read this file to
// know everything that crosses the boundary.

/** A bus message as it crosses the boundary. */
export interface WireMessage {
  topic: string;
  payload: Uint8Array;
  publishedAt: number;
}

/** Main thread -> worker. */
export type MainToWorker =
  /** Run the message handler on a batch; answered by `delivered` with the same id. */
  | { t: 'deliver'; id: number; messages: WireMessage[] }
  /** Publishes up to `seq` are committed by the bus (durable queues included). */
  | { t: 'published'; seq: number }
  /** Stop taking new work, finish the current call, flush, then answer `stopped`. */
  | { t: 'stop' };

/** Worker -> main thread. */
export type WorkerToMain =
  /** The component is instantiated and `lifecycle.init` returned ok. */
  | { t: 'ready'; instantiateMs: number }
  /** Instantiation or init failed; the worker ends after this. */
  | { t: 'init-failed'; code: 'EH_MODULE_INIT' | 'EH_WORLD_MISMATCH' | 'EH_COMPONENT_INVALID'; error: string }
  /** Messages the guest published, in order. */
  | { t: 'publish'; messages: { topic: string; payload: Uint8Array }[]; seq: number }
  | { t: 'subscribe'; filter: string }
  | { t: 'unsubscribe'; filter: string }
  /** Answer to `deliver`: no error = the batch is acknowledged. */
  | { t: 'delivered'; id: number; error?: string }
  /** The instance is unusable (trap, exit, host-function bug); the worker ends after this. */
  | { t: 'fatal'; code: 'EH_MODULE_TRAP' | 'EH_MODULE_EXIT' | 'EH_MODULE_MEMORY'; error: string; exitCode?: number }
  /** Answer to `stop`. */
  | { t: 'stopped' };

/** What the main thread hands a worker when it starts it (structured-cloned). */
export interface WorkerInit {
  moduleName: string;
  /** Absolute path of the transpiled component's JS entry. */
  componentJs: string;
  /** Platform interfaces the module's world imports, e.g. "edgehost:platform/pubsub". */
  imports: string[];
  /** Grants by capability name, already validated. */
  grants: Record<string, unknown>;
  /** Environment variables the module may see (already filtered from the host's environment). */
  env: [string, string][];
  config: [string, string][];
  limits: import('../config/schema.ts').ModuleLimits;
  logLevel: string;
  /** Shared with the main thread's watchdog: see `call-clock.ts`. */
  clock: SharedArrayBuffer;
}
