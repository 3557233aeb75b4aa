// The contract every host capability follows. Like Spin's factors, a capability
// is described in phases, each in its own file of the capability's folder:
//
//   index.ts    the declaration: WIT interface, grant schema, limits keys,
//               command-line flags, error codes and config-time checks. Pure
//               data and validation (no I/O), read on the main thread when the
//               config is loaded, and by `--help`.
//   worker.ts   the worker half: the host functions the guest calls, built for
//               one module instance inside its worker thread.
//   service.ts  the main-thread half (optional): state that must outlive an
//               instance or be shared across modules (bus subscriptions,
//               listeners, timers, connection pools), built once per module.
//
// The two halves talk through one typed request/notify channel (`Ops`), which
// rides the host/worker protocol (host/sandbox/protocol.ts). This file imports
// only types, and nothing from host/config: the config schema is built from the
// capability list, never the other way round.
import type { z } from 'zod';
import type { Logger } from '../log-forwarding.ts';

// ---------------------------------------------------------------------------
// The declaration (index.ts)

/** A module config entry before validation (flags are applied to it). */
export type RawModule = Record<string, unknown>;

/** A command-line flag a capability gives every module that has it: `--<module>-<suffix>`. */
export interface CapabilityFlag {
  /** `allowed-host` gives `--gateway-allowed-host` for a module named `gateway`. */
  suffix: string;
  /** Placeholder for `--help`: `<host>`. */
  value: string;
  /** A value for the example line of `--help`. */
  example?: string;
  multiple: boolean;
  /** One line for `--help`; `<module>` is replaced by the module's name. */
  help: string;
  /**
   * Writes the values into the module's raw entry; returns the key paths it
   * set, relative to the module (`grants.outboundHttp.allowedHosts`), so a
   * config error can name the flag the value came from.
   */
  apply(entry: RawModule, values: string[]): string[];
}

/** The object at `key` of a raw module entry, created when missing: where a flag writes its values. */
export function section(entry: RawModule, key: string): RawModule {
  const value = entry[key];
  if (value && typeof value === 'object' && !Array.isArray(value)) return value as RawModule;
  const created: RawModule = {};
  entry[key] = created;
  return created;
}

/** What a capability may check about a module at config time (no I/O). */
export interface ModuleCheckInput {
  name: string;
  world: string;
  /** Interfaces the module's world imports, without versions. */
  imports: string[];
  exports: string[];
  /** The module's validated entry (`subscriptions`, `config`, `delivery`...). */
  entry: Readonly<Record<string, unknown>>;
}

export interface Capability<Grant = unknown, Ops extends CapabilityOps = NoOps> {
  /** Kebab-case, as in logs, errors and the protocol: "outbound-http". */
  name: string;
  /**
   * Interfaces this capability answers, without version. The first is the one
   * a world imports to have it (`edgehost:platform/outbound-http`); WASI ones
   * (`wasi:filesystem/types`) replace the sandbox's deny-all answer when granted.
   */
  interfaces: string[];
  /** Exported interface a world must provide to receive this capability's events. */
  handlerExport?: string;
  /** Functions (`iface#func` without version) that suspend the guest while the host waits (JSPI). */
  asyncFunctions?: string[];
  /** Key under `modules.<name>.grants`, or undefined when nothing is granted (every module that imports it may use it). */
  grantKey?: string;
  /** Grant schema; its default (from `{}`) grants nothing. */
  grant: z.ZodType<Grant>;
  /**
   * Links a component without a grant (the link-time gate, host/admin/link-gate.ts,
   * passes it): for a capability that every component of a world imports
   * whether it uses it or not, and whose refusal leaves the module all it
   * needs to run (metrics, key-value). Its calls are still denied.
   */
  linkWithoutGrant?: boolean;
  /** Keys this capability adds under `modules.<name>.limits`, with their defaults. */
  limits?: z.ZodRawShape;
  flags?: CapabilityFlag[];
  /** Error codes this capability reports, with what they mean (merged into the catalogue, listed in docs/errors.md). */
  errors?: Record<string, string>;
  /** Makes paths in a grant absolute against the config file's folder (no I/O). */
  resolveGrant?(grant: Grant, base: string): Grant;
  /** Config-time problems with the grant for this module (messages relative to `modules.<name>.`). */
  check?(module: ModuleCheckInput, grant: Grant): string[];
  /**
   * Config-time problems between modules (two modules claiming the same HTTP
   * route), given every enabled module whose world has this capability, with
   * its grant. Each message is whole: it names the modules and the keys.
   */
  checkAll?(modules: { name: string; grant: Grant }[]): string[];
  /**
   * URL of the worker half (`worker.ts`, exporting `create`), imported only
   * inside the workers of modules that import the capability: a URL rather
   * than a function, because the worker, not the main thread, loads it.
   */
  worker: string;
  /** The main-thread half, loaded only when a module imports the capability. */
  loadService?(): Promise<ServiceHalf<Grant, Ops>>;
}

// ---------------------------------------------------------------------------
// The channel between the halves

/** One operation: what its sender passes and what the receiver answers. */
export interface Op<Args = unknown, Result = void> {
  args: Args;
  result: Result;
}

/**
 * A capability's operations, by direction. `toService` ops are sent by the
 * worker half, `toWorker` ops by the service. Each is either awaited (`request`)
 * or not (`notify`); the receiver handles both the same way.
 */
export interface CapabilityOps {
  toService: Record<string, Op<unknown, unknown>>;
  toWorker: Record<string, Op<unknown, unknown>>;
}

export interface NoOps {
  toService: Record<never, Op>;
  toWorker: Record<never, Op>;
}

/** Handlers for every op of one direction: a missing one fails typecheck. */
export type OpHandlers<T extends Record<string, Op<unknown, unknown>>> = {
  [K in keyof T]: (args: T[K]['args']) => T[K]['result'] | Promise<T[K]['result']>;
};

/** Turns the items appended to one op into its args, and the buffers to transfer with them. */
export type Packer<I, Args> = (items: I[]) => { args: Args; transfer: Transferable[] };

/** One side of a capability's channel. */
export interface Channel<Out extends Record<string, Op<unknown, unknown>>> {
  /** Sends an op and resolves with the other half's answer (rejects with its error). */
  request<K extends keyof Out & string>(op: K, args: Out[K]['args'], transfer?: Transferable[]): Promise<Out[K]['result']>;
  /** Sends an op nobody answers; the other half still handles it, in order. */
  notify<K extends keyof Out & string>(op: K, args: Out[K]['args'], transfer?: Transferable[]): void;
  /**
   * Like notify for many small items: consecutive appends of one op cross as
   * one op, whose args `pack` makes from their list when the turn's messages
   * leave (with the buffers to transfer rather than copy).
   */
  append<K extends keyof Out & string, I>(op: K, item: I, pack: Packer<I, Out[K]['args']>): void;
}

// ---------------------------------------------------------------------------
// The worker half (worker.ts)

/** What host functions can use inside a module's worker. */
export interface WorkerContext<Ops extends CapabilityOps = NoOps> {
  readonly moduleName: string;
  readonly logger: Logger;
  /** The module's own config, values as strings (non-strings as JSON text). */
  readonly config: ReadonlyMap<string, string>;
  /** The module's limits (core keys and every capability's). */
  readonly limits: Readonly<Record<string, number>>;
  /** Absolute data directory of the host (`--data-dir`), for state a capability keeps on disk in the module's thread. */
  readonly dataDir: string;
  /** To this capability's service half. */
  readonly service: Channel<Ops['toService']>;
  /** Answers the service half's ops; call once, from `create`. */
  handle(handlers: OpHandlers<Ops['toWorker']>): void;
  /**
   * Records a refused call: logs one warning per distinct target (naming the
   * module, the capability, the target and the flag or key that would allow it)
   * and returns the text the guest gets in its `denied` error.
   */
  denied(target: string, allowWith: string): string;
  /** Queues a call into the guest; calls never overlap, and run in queue order. */
  callGuest(iface: string, fn: string, args: unknown[]): Promise<unknown>;
  /** Wraps host I/O the guest waits on, so that time does not count against the call deadline. */
  waitFor<T>(work: Promise<T>): Promise<T>;
  /**
   * Startup work begun during `lifecycle.init` (binding a listener) that must
   * succeed before the module counts as ready; a rejection fails the start.
   */
  whenStarted(work: Promise<unknown>): void;
  /** Runs when the instance ends cleanly (stop, replace, sleep), before the worker exits. */
  onClose(fn: () => void | Promise<void>): void;
  /**
   * Runs before anything the guest produced during a call leaves the worker:
   * when the call ends (returns, fails or traps; before the batch of its sends
   * and publishes crosses to the main thread), and before the guest waits on
   * host I/O (`waitFor`), when the event loop could send it meanwhile. For
   * making a call's writes durable before what acknowledges them leaves. If
   * `fn` throws, nothing the call produced leaves: the instance ends with
   * `EH_COMMIT_FAILED` and is restarted.
   */
  beforeOutput(fn: () => void): void;
  /** Checks a per-module rate limit (`limits.<key>` per second); logs the first refusal of each burst. */
  allow(limitKey: string): boolean;
  /** What the instance counts about itself, reported as the host's metrics (guest metrics go here too). */
  readonly metrics: import('../sandbox/worker-metrics.ts').WorkerMetrics;
  /** The worker's wasi:io stream classes, for capabilities that hand out streams (files). */
  readonly io: typeof import('../sandbox/wasi/io.ts');
}

export interface WorkerHalf<Grant, Ops extends CapabilityOps = NoOps> {
  /** Builds the import objects (by interface name, without version) for one module instance. */
  create(ctx: WorkerContext<Ops>, grant: Grant): Record<string, Record<string, unknown>>;
}

// ---------------------------------------------------------------------------
// The main-thread half (service.ts)

/** What the host lets all modules together hold (`budgets` in the host config). */
export interface HostBudgets {
  /** Bytes received on all modules' sockets and not yet handled by their modules; past it, every connection stops reading. */
  socketInputBytes: number;
}

/** The host-wide things a service may use. */
export interface HostServices {
  readonly logger: Logger;
  readonly bus: import('../bus/bus.ts').Bus;
  /** Absolute data directory (durable state). */
  readonly dataDir: string;
  /**
   * State shared by all modules' bindings of a capability in this host (a budget
   * over all connections, one listener that several modules' routes use):
   * created by `create` the first time `key` is asked for, the same object for
   * the life of the host after. Prefix keys with the capability's name
   * ("http-server:listeners").
   */
  shared<T>(key: string, create: () => T): T;
  /** Budgets over all modules of the host (`budgets` in the host config). */
  readonly budgets: Readonly<HostBudgets>;
  /** Where services count what happens on the main thread (requests, bytes), for GET /metrics. */
  readonly metrics: import('../metrics/recorder.ts').MetricsRecorder;
  /**
   * Makes everything published so far durable (commits the bus's durable
   * queues). Call before output that acknowledges input leaves the host: an
   * MQTT PUBACK must never get ahead of the message it acknowledges.
   */
  commit(): void;
}

/** The service's view of one module, which outlives the module's instances. */
export interface ModuleHandle<Ops extends CapabilityOps = NoOps> {
  readonly name: string;
  readonly logger: Logger;
  readonly limits: Readonly<Record<string, number>>;
  /** Declared subscriptions and other entry keys a service may need (read-only). */
  readonly entry: Readonly<Record<string, unknown>>;
  /**
   * The current instance's worker half, once it is ready: waits while it
   * starts, wakes a module in idle sleep, rejects when the module cannot run
   * (stopped, failed).
   */
  worker(): Promise<Channel<Ops['toWorker']>>;
  /** The current instance's worker half when one is ready now, else undefined. */
  readyWorker(): Channel<Ops['toWorker']> | undefined;
  /** Logs a refused request like the worker's `denied` (once per target). */
  denied(target: string, allowWith: string): string;
}

/** The per-module part of a service, created when the module is added, closed when it is removed. */
export interface ServiceBinding<Ops extends CapabilityOps = NoOps> {
  /** Answers the worker half's ops; `instance` counts up from 1 for each instance of the module. */
  handlers: OpHandlers<Ops['toService']>;
  /** A new instance is starting (its `init` has not run yet). */
  instanceStarting?(instance: number): void;
  /** The instance is ready: deliveries may start. */
  instanceReady?(instance: number): void;
  /**
   * The instance ended; `why` says whether it is coming back as the same module.
   * After `sleep` (idle sleep) the module has no instance until something wakes
   * it through `ModuleHandle.worker()`: keep what it set up (queues, listeners,
   * timers) and let the next instance take it over.
   */
  instanceEnded?(instance: number, why: 'crash' | 'stop' | 'replace' | 'sleep'): void;
  /** Whether the module must not go to idle sleep now (it has open connections, requests in progress). */
  keepsAwake?(): boolean;
  /** Stop taking new work (close listeners, stop timers, pause deliveries), at shutdown or removal. */
  stopIntake?(): void;
  /**
   * Removal that loses nothing: take no new work, but finish what is already
   * queued for the module; resolves when that is done. Bindings without it get
   * `stopIntake` instead.
   */
  drain?(): Promise<void>;
  /**
   * The module was replaced by an entry with this grant: keep what still
   * applies (a queue, a listener) and drop the rest. Without it, the binding
   * is closed and bound again.
   */
  update?(grant: unknown, entry: Readonly<Record<string, unknown>>): void;
  /** Bytes the host holds on the module's behalf (queues, unsent output, pending I/O), by what holds them. */
  held?(): Record<string, number>;
  /** Other current values worth a metric (open connections), by name. */
  gauges?(): Record<string, number>;
  /** The module is removed or the host stops: release everything. */
  close?(): void | Promise<void>;
}

export interface ServiceHalf<Grant, Ops extends CapabilityOps = NoOps> {
  /** Called once per module that imports the capability. */
  bind(host: HostServices, module: ModuleHandle<Ops>, grant: Grant): ServiceBinding<Ops>;
}

// ---------------------------------------------------------------------------
// Results the host functions return

/** jco maps these to `result<T, E>`. */
export const ok = <T>(val: T) => ({ tag: 'ok' as const, val });
export const err = <E>(val: E) => ({ tag: 'err' as const, val });
export const hostError = {
  denied: (val: string) => err({ tag: 'denied' as const, val }),
  invalid: (val: string) => err({ tag: 'invalid' as const, val }),
  limited: (val: string) => err({ tag: 'limited' as const, val }),
  failed: (val: string) => err({ tag: 'failed' as const, val }),
  full: (val: string) => err({ tag: 'full' as const, val }),
};

/** Defines a capability with its types checked and inferred. */
export function defineCapability<Grant, Ops extends CapabilityOps = NoOps>(c: Capability<Grant, Ops>): Capability<Grant, Ops> {
  return c;
}
