// Runs a component of a platform world (telemetry, gateway, server or a world
// of its own WIT) for one call: it starts as a module would (instantiate,
// lifecycle.init), gets the request's messages through its message-handler,
// optionally keeps running for `runMs` (so its timers fire), then stops. It
// runs on a bus of its own: what it publishes is collected into the answer
// and reaches no other module, and nothing it subscribes to sees the host's
// traffic. Its capabilities are the real ones, bound to that bus and to its
// grants, so an outbound HTTP request goes out only to a granted host.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Bus, type BusMessage } from '../bus/bus.ts';
import type { HostBudgets, HostServices } from '../capabilities/capability.ts';
import type { LoadedComponent } from '../components/load.ts';
import type { ResolvedModule } from '../config/load.ts';
import { noMetrics } from '../metrics/recorder.ts';
import { ModuleRuntime } from '../runtime/module-runtime.ts';
import type { WorkerBundle } from '../sandbox/worker-bundle.ts';
import { TRUNCATION_MARKER } from './capture.ts';
import type { RunLimit, RunResult } from './result.ts';

export interface ModuleRun {
  spec: ResolvedModule;
  component: LoadedComponent;
  messages: { topic: string; payload: Uint8Array }[];
  /** How long it keeps running once the messages are handled. */
  runMs: number;
  deadlineMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
  /** The host's worker code and budgets: a run is a module like any other. */
  bundle: WorkerBundle;
  budgets: Readonly<HostBudgets>;
}

const levelNames: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Everything the run's module logs, sorted into stdout, stderr, log lines and denials, each bounded. */
class RunLog {
  stdout = '';
  stderr = '';
  stdoutBytes = 0;
  stderrBytes = 0;
  readonly truncated = { stdout: false, stderr: false };
  readonly lines: { level: string; msg: string }[] = [];
  readonly denied: string[] = [];
  #logBytes = 0;
  readonly #max: number;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  write(text: string): void {
    const line = JSON.parse(text) as { level: number; msg: string; stream?: string; code?: string };
    if (line.stream === 'stdout' || line.stream === 'stderr') {
      const s = line.stream;
      const add = `${line.msg}\n`;
      this[`${s}Bytes`] += Buffer.byteLength(add);
      if (this.truncated[s]) return;
      if (this[s].length + add.length <= this.#max) this[s] += add;
      else {
        this[s] = (this[s] + add).slice(0, Math.max(0, this.#max - TRUNCATION_MARKER.length)) + TRUNCATION_MARKER;
        this.truncated[s] = true;
      }
      return;
    }
    if (line.code === 'EH_DENIED') {
      const text = denial(line as unknown as { capability: string; target: string; allowWith: string });
      if (!this.denied.includes(text)) this.denied.push(text);
    }
    this.#logBytes += line.msg.length;
    if (this.#logBytes <= this.#max) this.lines.push({ level: levelNames[line.level] ?? String(line.level), msg: line.msg });
  }
}

/**
 * A denial as the run's client needs it: the key of the run request to set
 * ("grants.outboundHttp.allowedHosts"), not the host flag a module would use.
 */
function denial(line: { capability: string; target: string; allowWith: string }): string {
  const key = /\(or modules\.[a-z0-9-]+\.([^)]+)\)/.exec(line.allowWith)?.[1];
  return `${line.capability}: ${line.target} is not granted to this run; to allow it: ${key ? `${key} in the run request` : line.allowWith}`;
}

/** A bus that remembers what one publisher published, in order. */
class CollectingBus extends Bus {
  readonly collected: BusMessage[] = [];
  #publisher = '';
  watch(publisher: string) {
    this.#publisher = publisher;
  }
  override publish(topic: string, payload: Uint8Array, publisher?: string): BusMessage {
    const m = super.publish(topic, payload, publisher);
    if (publisher === this.#publisher) this.collected.push(m);
    return m;
  }
}

export async function runModule(run: ModuleRun): Promise<RunResult> {
  const started = performance.now();
  const log = new RunLog(run.maxOutputBytes);
  const failed: { topic: string; reason: string }[] = [];
  const bus = new CollectingBus({ onDeadLetter: (_id, message, reason) => failed.push({ topic: message.topic, reason }) });
  bus.watch(run.spec.name);
  const dataDir = mkdtempSync(join(tmpdir(), 'edgehost-run-'));
  const logger = pino({ level: 'debug', base: undefined, timestamp: false }, { write: (text: string) => log.write(text) });
  const shared = new Map<string, unknown>();
  const services: HostServices = {
    logger,
    bus,
    dataDir,
    commit: () => bus.commit(),
    budgets: run.budgets,
    metrics: noMetrics,
    shared: <T>(key: string, create: () => T): T => {
      if (!shared.has(key)) shared.set(key, create());
      return shared.get(key) as T;
    },
  };
  const runtime = new ModuleRuntime(run.spec, run.component, {
    host: services,
    logLevel: 'debug',
    trace: false,
    source: 'api',
    bundle: run.bundle,
    metrics: false,
  });

  let ended: { outcome: RunResult['outcome']; error?: string; limit?: RunLimit } | undefined;
  let wake: () => void = () => {};
  const over = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const end = (how: NonNullable<typeof ended>) => {
    ended ??= how;
    wake();
  };
  const crashed = () => {
    const e = runtime.lastError;
    const limit: RunLimit | undefined = e?.code === 'EH_MODULE_DEADLINE' ? 'deadline' : e?.code === 'EH_MODULE_MEMORY' ? 'memory' : undefined;
    end({ outcome: limit ? 'stopped' : 'trapped', error: e ? `${e.code}: ${e.message}` : `the module is ${runtime.state}`, limit });
  };
  runtime.on('state', (state) => {
    if (state === 'restarting' || state === 'failed') crashed();
  });
  const deadline = setTimeout(() => end({ outcome: 'stopped', limit: 'deadline', error: `stopped at its deadline of ${run.deadlineMs} ms` }), run.deadlineMs);
  const abort = () => end({ outcome: 'stopped', error: 'the request was cancelled' });
  run.signal?.addEventListener('abort', abort);
  try {
    await Promise.race([
      runtime.start().catch((e: unknown) => end({ outcome: 'trapped', error: `the module could not start: ${(e as Error).message}` })),
      over,
    ]);
    if (!ended && runtime.state !== 'ready') crashed();
    if (!ended) {
      for (const m of run.messages) bus.publish(m.topic, m.payload);
      const subscriber = bus.subscriber(run.spec.name);
      if (subscriber) await Promise.race([subscriber.idle(), over]);
      if (!ended && run.runMs > 0) await Promise.race([new Promise((r) => setTimeout(r, run.runMs)), over]);
      if (!ended) {
        const stats = subscriber?.stats();
        const reached = (stats?.delivered ?? 0) + (stats?.deadLettered ?? 0);
        if (reached < run.messages.length) {
          failed.push({ topic: '*', reason: `${run.messages.length - reached} of the messages matched none of the module's subscriptions` });
        }
        end({ outcome: 'exited' });
      }
    }
  } finally {
    clearTimeout(deadline);
    run.signal?.removeEventListener('abort', abort);
    // A module stuck in a call is terminated after this: nothing of the run outlives it.
    await runtime.stop(200);
    rmSync(dataDir, { recursive: true, force: true });
  }
  const how = ended!;
  return {
    kind: 'module',
    world: run.spec.world,
    outcome: how.outcome,
    exitCode: how.outcome === 'exited' ? 0 : null,
    ...(how.error ? { error: how.error } : {}),
    limit: how.limit ?? null,
    stdout: log.stdout,
    stderr: log.stderr,
    stdoutBytes: log.stdoutBytes,
    stderrBytes: log.stderrBytes,
    stdoutTruncated: log.truncated.stdout,
    stderrTruncated: log.truncated.stderr,
    durationMs: Math.round(performance.now() - started),
    peakMemoryBytes: null,
    denied: log.denied,
    published: bus.collected.map((m) => ({ topic: m.topic, payload: new TextDecoder().decode(m.payload) })),
    failed,
    log: log.lines,
  };
}
