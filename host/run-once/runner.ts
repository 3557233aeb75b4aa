// Run-once: admission (queue.ts), then one component run under limits, as a
// wasi:cli/command (command.ts) or as a module of a platform world for one
// call (module-run.ts). A run's files (the uploaded component) live in a
// temporary folder removed when it ends; its worker ends with it. What stays
// is the transpile cache entry, addressed by content like every component's.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { HostBudgets } from '../capabilities/capability.ts';
import { capabilities } from '../capabilities/index.ts';
import { loadComponent } from '../components/load.ts';
import { capMemories, MemoryCapTooSmall } from '../components/memory-cap.ts';
import { transpileCached } from '../components/transpile-cache.ts';
import { platform } from '../components/wit.ts';
import { checkWorld } from '../components/world-check.ts';
import { loadModuleEntry } from '../config/load.ts';
import type { RunOnceOptions } from '../config/schema.ts';
import { moduleLimits } from '../config/schema.ts';
import { HostError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { WorkerBundle } from '../sandbox/worker-bundle.ts';
import { runCommand } from './command.ts';
import { runModule } from './module-run.ts';
import { RunQueue, type Ticket } from './queue.ts';
import { checkKind, parseGrants, parseRunRequest, type RunLimits, type RunRequest, runLimits } from './request.ts';
import type { RunResult } from './result.ts';

export interface RunInput {
  component: Uint8Array;
  /** The request JSON (undefined: defaults). */
  request: unknown;
  /** stdin bytes from a part of their own (else the request's `stdin` text). */
  stdin?: Uint8Array;
  /** The uploaded file's name: argv[0] unless the request gives `program`. */
  fileName?: string;
  signal?: AbortSignal;
}

/** Capabilities a command may be granted: those answering WASI interfaces only (the filesystem). */
const commandCapabilities = capabilities.filter((c) => c.grantKey && c.interfaces.every((i) => i.startsWith('wasi:')));

export class RunOnce {
  readonly queue: RunQueue;
  readonly #options: RunOnceOptions;
  readonly #cacheDir: string;
  /** Relative paths in a request (mounts, wit) resolve against this: the config file's folder. */
  readonly #base: string;
  readonly #logger: Logger;
  #count = 0;

  readonly #bundle: () => Promise<WorkerBundle>;
  readonly #budgets: Readonly<HostBudgets>;

  constructor(opts: {
    options: RunOnceOptions;
    cacheDir: string;
    base: string;
    logger: Logger;
    bundle: () => Promise<WorkerBundle>;
    budgets: Readonly<HostBudgets>;
  }) {
    this.#bundle = opts.bundle;
    this.#budgets = opts.budgets;
    this.#options = opts.options;
    this.queue = new RunQueue({ concurrency: opts.options.concurrency, queue: opts.options.queue });
    this.#cacheDir = opts.cacheDir;
    this.#base = opts.base;
    this.#logger = opts.logger;
  }

  /** Takes a place for a run, or throws RunBusy (EH_RUN_BUSY): call before reading the upload. */
  reserve(): Ticket {
    return this.queue.reserve();
  }

  /** Runs once with a ticket from `reserve` whose turn has come; the caller releases it. */
  async run(input: RunInput): Promise<RunResult> {
    const req = parseRunRequest(input.request);
    const limits = runLimits(req, this.#options);
    const id = `run-${++this.#count}`;
    const dir = mkdtempSync(join(tmpdir(), 'edgehost-run-'));
    try {
      const path = join(dir, 'component.wasm');
      writeFileSync(path, input.component);
      let result: RunResult;
      try {
        result = await this.#run(id, path, req, limits, input);
      } catch (e) {
        // The temporary path means nothing to the client: name what it sent.
        if (e instanceof HostError && e.message.includes(path)) throw new HostError(e.code, e.message.replaceAll(path, 'the uploaded component'), { cause: e });
        throw e;
      }
      this.#logger.info(
        {
          run: id,
          kind: result.kind,
          world: result.world,
          outcome: result.outcome,
          exitCode: result.exitCode,
          limit: result.limit,
          durationMs: result.durationMs,
        },
        `run-once ${id} ${result.outcome}${result.limit ? ` (${result.limit} limit)` : ''}`,
      );
      return result;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async #run(id: string, path: string, req: RunRequest, limits: RunLimits, input: RunInput): Promise<RunResult> {
    if (req.world !== undefined) return this.#module(id, path, req.world, req, limits, input);
    const transpiled = await transpileCached(path, this.#cacheDir, { asyncImports: [], asyncExports: [] });
    const exports = transpiled.exports.map((e) => e.replace(/@[^@/]*$/, ''));
    if (!exports.includes('wasi:cli/run')) {
      const imports = transpiled.imports.map((i) => i.replace(/@[^@/]*$/, ''));
      const fits = [...platform().worlds.values()].find((w) => !checkWorld(w, imports, exports));
      if (!fits) {
        throw new HostError(
          'EH_RUN_INVALID',
          'the component exports neither wasi:cli/run (a command) nor fits a platform world; give "world" in the request to run it as a module of that world',
        );
      }
      return this.#module(id, path, fits.name, req, limits, input);
    }
    checkKind(req, 'command');
    const grants = parseGrants(req.grants);
    const granted: { name: string; worker: string; grant: unknown }[] = [];
    for (const [key, value] of Object.entries(grants)) {
      if (key === 'environment') continue;
      const cap = capabilities.find((c) => c.grantKey === key);
      if (!cap || JSON.stringify(value) === JSON.stringify(cap.grant.parse({}))) continue;
      if (!commandCapabilities.includes(cap)) {
        throw new HostError('EH_RUN_INVALID', `run request: grants.${key}: a wasi:cli/command has no ${cap.name} capability (only WASI); remove the grant`);
      }
      granted.push({ name: cap.name, worker: cap.worker, grant: cap.resolveGrant ? cap.resolveGrant(value, this.#base) : value });
    }
    const env: [string, string][] = Object.entries(req.env ?? {});
    for (const name of grants.environment as string[]) {
      const value = process.env[name];
      if (value !== undefined && !env.some(([k]) => k === name)) env.push([name, value]);
    }
    const stdin = input.stdin ?? new TextEncoder().encode(req.stdin ?? '');
    if (input.stdin && req.stdin !== undefined) throw new HostError('EH_RUN_INVALID', 'run request: stdin: given both as a part and in the request; give one');
    const coreModules = await this.#compile(dirname(transpiled.jsPath), limits.maxMemoryMb);
    return runCommand({
      componentJs: transpiled.jsPath,
      coreModules,
      args: [req.program ?? input.fileName ?? 'command', ...(req.args ?? [])],
      env,
      stdin,
      grants: granted,
      limits: moduleLimits.parse({}) as Record<string, number>,
      deadlineMs: limits.deadlineMs,
      maxMemoryMb: limits.maxMemoryMb,
      maxOutputBytes: limits.maxOutputBytes,
      signal: input.signal,
      compileCacheDir: join(this.#cacheDir, 'node-compile-cache'),
    });
  }

  async #module(id: string, path: string, world: string, req: RunRequest, limits: RunLimits, input: RunInput): Promise<RunResult> {
    checkKind(req, 'module');
    const raw = {
      component: path,
      world,
      ...(req.wit !== undefined ? { wit: req.wit } : {}),
      grants: req.grants ?? {},
      config: req.config ?? {},
      subscriptions: req.subscriptions ?? [],
      limits: { maxMemoryMb: limits.maxMemoryMb, callDeadlineMs: limits.deadlineMs },
      // A message the handler refuses is reported, not retried.
      delivery: { maxAttempts: 1, retryInitialMs: 1, lingerMs: 0 },
      restart: { maxStartFailures: 1 },
    };
    const spec = loadModuleEntry(id, raw, { base: this.#base, where: 'run request: module' });
    const component = await loadComponent(spec, this.#cacheDir);
    const messages = (req.messages ?? []).map((m) => ({
      topic: m.topic,
      payload: m.payload !== undefined ? new TextEncoder().encode(m.payload) : new Uint8Array(Buffer.from(m.payloadBase64!, 'base64')),
    }));
    return runModule({
      spec,
      component,
      messages,
      runMs: Math.min(req.runMs ?? 0, limits.deadlineMs),
      deadlineMs: limits.deadlineMs,
      maxOutputBytes: limits.maxOutputBytes,
      signal: input.signal,
      bundle: await this.#bundle(),
      budgets: this.#budgets,
    });
  }

  /** Compiles the command's core modules with their memories capped: a fresh compile per run, shared by nothing else. */
  async #compile(dir: string, maxMemoryMb: number): Promise<Record<string, WebAssembly.Module>> {
    const names = (await readdir(dir)).filter((n) => n.endsWith('.wasm'));
    try {
      const modules = await Promise.all(
        names.map(async (n) => [n, await WebAssembly.compile(capMemories(await readFile(join(dir, n)), maxMemoryMb * 1024 * 1024))] as const),
      );
      return Object.fromEntries(modules);
    } catch (e) {
      if (e instanceof MemoryCapTooSmall) throw new HostError('EH_RUN_INVALID', `run request: maxMemoryMb: ${e.message}`);
      throw e;
    }
  }
}
