import type { z } from 'zod';
import type { ModuleLimits } from '../config/schema.ts';
import type { Logger } from '../logger.ts';
import type { MainToWorker, WorkerToMain } from '../sandbox/protocol.ts';

/**
 * One host capability: the WIT interface it implements, the grant that scopes
 * it, and (in `host.ts` beside it) the host functions. Like Spin's factors, a
 * capability is described in three phases: the grant schema is checked on the
 * main thread when the config is loaded (no I/O); the host functions are built
 * inside the module's worker when an instance starts; both read the same grant.
 */
export interface Capability<Grant = unknown> {
  /** Kebab-case name, as in logs and errors: "outbound-http". */
  name: string;
  /** Key under `modules.<name>.grants` in the host config, or undefined when the capability needs no grant. */
  grantKey?: string;
  /** The WIT interface it implements, without version: "edgehost:platform/outbound-http". */
  interface: string;
  /** Exported interface a world must provide to receive this capability's events. */
  handlerExport?: string;
  /** Functions that suspend the guest while the host waits on I/O (JSPI). */
  asyncFunctions?: string[];
  /** Grant schema; its default is what a module gets when its config says nothing: nothing. */
  grant: z.ZodType<Grant>;
  /** Loads the worker-side half, kept apart so the main thread never imports I/O clients it does not use. */
  loadHost(): Promise<CapabilityHost<Grant>>;
}

/** The worker-side half of a capability. */
export interface CapabilityHost<Grant> {
  /** Builds the import object for the capability's interface for one module instance. */
  create(ctx: ModuleContext, grant: Grant): Record<string, unknown>;
}

/** What host functions can use inside a module's worker. */
export interface ModuleContext {
  readonly moduleName: string;
  readonly logger: Logger;
  /** The module's own config, values as strings (non-strings as JSON text). */
  readonly config: ReadonlyMap<string, string>;
  readonly limits: ModuleLimits;
  /**
   * Records a refused call: logs one warning per distinct target (naming the
   * module, the capability, the target and the flag or key that would allow it)
   * and returns the text the guest gets in its `denied` error.
   */
  denied(capability: string, target: string, allowWith: string): string;
  /** Queues a call into the guest; calls never overlap, and run in queue order. */
  callGuest(iface: string, fn: string, args: unknown[]): Promise<unknown>;
  /** Wraps host I/O the guest waits on, so that time does not count against the call deadline. */
  waitFor<T>(work: Promise<T>): Promise<T>;
  /** Sends a message to the main thread. */
  post(message: WorkerToMain, transfer?: Transferable[]): void;
  /** Handles one kind of message from the main thread. */
  on<T extends MainToWorker['t']>(type: T, handler: (message: Extract<MainToWorker, { t: T }>) => void): void;
  /** Runs at shutdown (SIGTERM, restart) before the worker ends. */
  onClose(fn: () => void | Promise<void>): void;
  /**
   * Startup work begun during `lifecycle.init` (binding a listener) that must
   * succeed before the module counts as ready; a rejection fails the start.
   */
  whenStarted(work: Promise<unknown>): void;
  /**
   * Runs after every call into the guest returns, before anything else can
   * happen in the worker: what a call produced leaves with it, so a later call
   * that hangs or traps cannot strand it.
   */
  afterCall(fn: () => void): void;
  /** Runs first at shutdown: stop taking new work (close listeners, stop timers). */
  onStopIntake(fn: () => void): void;
  /** Counts one publish the guest made; returns its sequence number. */
  publishAccepted(): number;
  /**
   * Runs `fn` once every publish the guest made so far is committed by the bus
   * (at once if none is pending). Output that acknowledges input, such as an
   * MQTT PUBACK, goes through here: a peer never sees an acknowledgement for a
   * message the host could still lose in a crash.
   */
  afterPublished(fn: () => void): void;
  /** Checks a per-module rate limit; logs the first refusal of each burst. */
  allow(limit: 'publish' | 'http'): boolean;
}

/** Helpers for the result-returning host functions: jco maps these to `result<T, E>`. */
export const ok = <T>(val: T) => ({ tag: 'ok' as const, val });
export const err = <E>(val: E) => ({ tag: 'err' as const, val });
export const hostError = {
  denied: (val: string) => err({ tag: 'denied' as const, val }),
  invalid: (val: string) => err({ tag: 'invalid' as const, val }),
  limited: (val: string) => err({ tag: 'limited' as const, val }),
  failed: (val: string) => err({ tag: 'failed' as const, val }),
};
