// The whole protocol between the main thread and a module's worker, in one
// table (as preview2-shim keeps its I/O calls in one table of constants): read
// this file to know everything that crosses the boundary.
//
// What capabilities say to each other (a batch to deliver, socket events, a
// publish) travels as `request`/`notify`/`reply` with the capability's name and
// op; the ops of each capability are typed in its declaration
// (host/capabilities/<name>/index.ts). Messages are queued and cross in one
// postMessage per turn of the event loop (see link.ts), in order.
//
// Set EDGEHOST_TRACE_PROTOCOL=1 (or pass --trace-protocol) to log every crossing.
import type { ErrorCode } from '../errors.ts';
import type { ForwardedLine } from '../log-forwarding.ts';
import type { WorkerMetricsSnapshot } from './worker-metrics.ts';

/** Main thread -> worker. */
export interface ToWorker {
  /** A capability's service asks its worker half; answered by a `reply` with the same id. */
  request: { id: number; cap: string; op: string; args: unknown };
  /** A capability's service tells its worker half; no answer. */
  notify: { cap: string; op: string; args: unknown };
  /** The answer to a worker `request`. */
  reply: { id: number; value?: unknown; error?: string };
  /** Finish the current call, run close hooks, then answer `stopped` and end. */
  stop: { why: 'stop' | 'replace' };
}

/** Worker -> main thread. */
export interface ToMain {
  /** The component is instantiated, `lifecycle.init` returned ok and startup work (listeners) succeeded. */
  ready: { instantiateMs: number };
  /** Instantiation or init failed; the worker ends after this. */
  'init-failed': { code: Extract<ErrorCode, 'EH_MODULE_INIT' | 'EH_COMPONENT_INVALID' | 'EH_GUEST_TYPE'>; error: string; detail?: string };
  /** The instance is unusable (trap, exit, memory); the worker ends after this. */
  fatal: {
    code: Extract<ErrorCode, 'EH_MODULE_TRAP' | 'EH_MODULE_EXIT' | 'EH_MODULE_MEMORY' | 'EH_GUEST_TYPE' | 'EH_COMMIT_FAILED'>;
    error: string;
    exitCode?: number;
  };
  /** The answer to `stop`. */
  stopped: Record<never, never>;
  /** A capability's worker half asks its service; answered by a `reply` with the same id. */
  request: { id: number; cap: string; op: string; args: unknown };
  /** A capability's worker half tells its service; no answer. */
  notify: { cap: string; op: string; args: unknown };
  /** The answer to a main `request`. */
  reply: { id: number; value?: unknown; error?: string };
  /** A log line of the module (the guest's own, or its host functions'); the main thread writes it. */
  log: ForwardedLine;
  /** What the instance counted about itself since it started (at most once a second, and last thing before it ends). */
  metrics: WorkerMetricsSnapshot;
}

/** One message of a table: `{ t: kind, ...payload }`. */
export type Message<Table> = { [K in keyof Table]: { t: K } & Table[K] }[keyof Table];

/** A handler for every kind of a table: a kind without one fails typecheck. */
export type Dispatcher<Table> = { [K in keyof Table]: (message: Table[K]) => void };

/** Routes a message to its handler. */
export function dispatch<Table>(handlers: Dispatcher<Table>, message: Message<Table>): void {
  const m = message as { t: keyof Table } & Table[keyof Table];
  handlers[m.t](m);
}

/** What the main thread hands a worker when it starts it (structured-cloned; compiled modules are shared, not copied). */
export interface WorkerInit {
  moduleName: string;
  /** Which instance of the module this is (1, 2, ... across restarts). */
  instance: number;
  /** Absolute path of the transpiled component's JS entry. */
  componentJs: string;
  /** The component's core modules, compiled once on the main thread. */
  coreModules: Record<string, WebAssembly.Module>;
  /** Platform and WASI interfaces the module's world imports, without version. */
  imports: string[];
  /** Capability name -> its validated grant, for the capabilities the world imports. */
  grants: Record<string, unknown>;
  /** Environment variables the module may see (already filtered from the host's environment). */
  env: [string, string][];
  config: [string, string][];
  limits: Record<string, number>;
  /** The host's data directory (absolute), for capabilities that keep the module's state on disk (key-value). */
  dataDir: string;
  logLevel: string;
  /** Log every crossing of this protocol. */
  trace: boolean;
  /** Shared with the main thread's watchdog: see `call-clock.ts`. */
  clock: SharedArrayBuffer;
  /** Where V8 may keep compiled code of the component's JavaScript across instances. */
  compileCacheDir?: string;
  /** Count calls, refusals and limit hits for the host's metrics. */
  metrics: boolean;
}

/** The workerData of a thread started ahead of need (standby.ts): its WorkerInit comes as its first message. */
export interface StandbyData {
  standby: {
    /** Modules to load while it waits: the capabilities' worker halves. */
    preload: string[];
    compileCacheDir: string;
  };
}
