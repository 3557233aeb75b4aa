// Runs a wasi:cli/command component once, in a worker of its own that
// nothing else shares, and gives back how it ended. The main thread holds the
// deadline (it terminates the worker), the capture (shared memory the worker
// writes, read here even after a termination) and the answer.
import { Worker } from 'node:worker_threads';
import { createCaptureBuffers, readCapture } from './capture.ts';
import type { CommandDone, CommandInit } from './command-protocol.ts';
import { hitMemoryCap, type RunLimit, type RunResult } from './result.ts';

export interface CommandRun {
  componentJs: string;
  coreModules: Record<string, WebAssembly.Module>;
  /** argv, the program name first. */
  args: string[];
  env: [string, string][];
  stdin: Uint8Array;
  grants: CommandInit['grants'];
  /** Limits the granted capabilities read (filesystemQuotaMb). */
  limits: Record<string, number>;
  deadlineMs: number;
  maxMemoryMb: number;
  maxOutputBytes: number;
  /** Aborts the run (the client went away): the worker is terminated. */
  signal?: AbortSignal;
  /** Node's compile cache for the run's worker (see workerEntry). */
  compileCacheDir?: string;
}

/**
 * The run's worker entry: a few lines of JavaScript that turn Node's compile
 * cache on, then load the TypeScript worker. With the stripped code cached, a
 * worker does not load Node's TypeScript stripper: about 24 MB less resident
 * memory for each run at a time, and a faster start.
 */
function workerEntry(compileCacheDir: string | undefined): URL {
  const worker = new URL('./command-worker.ts', import.meta.url);
  if (!compileCacheDir) return worker;
  const code = `import module from 'node:module';\nmodule.enableCompileCache(${JSON.stringify(compileCacheDir)});\nawait import(${JSON.stringify(worker.href)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** Heap for the worker's JavaScript (glue, stdin): the guest's own memory is capped in its modules. */
const heapMb = (stdinBytes: number) => 64 + Math.ceil((2 * stdinBytes) / (1024 * 1024));

export function runCommand(run: CommandRun): Promise<RunResult> {
  const capture = createCaptureBuffers(run.maxOutputBytes);
  const init: CommandInit = {
    componentJs: run.componentJs,
    coreModules: run.coreModules,
    args: run.args,
    env: run.env,
    stdin: run.stdin,
    capture,
    grants: run.grants,
    limits: run.limits,
  };
  const started = performance.now();
  const worker = new Worker(workerEntry(run.compileCacheDir), {
    workerData: init,
    // The worker sees no host environment: the run's environment reaches the guest through WASI only.
    env: {},
    resourceLimits: { maxOldGenerationSizeMb: heapMb(run.stdin.length) },
  });
  return new Promise<RunResult>((resolve) => {
    let settled = false;
    const end = (how: { outcome: RunResult['outcome']; exitCode?: number; error?: string; limit?: RunLimit; denied?: string[] }) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      run.signal?.removeEventListener('abort', abort);
      void worker.terminate();
      const durationMs = Math.round(performance.now() - started);
      const out = readCapture(capture);
      const capBytes = run.maxMemoryMb * 1024 * 1024;
      const failed = how.outcome === 'trapped' || (how.exitCode !== undefined && how.exitCode !== 0);
      const limit = how.limit ?? (failed && hitMemoryCap(out.peakMemoryBytes, capBytes) ? 'memory' : null);
      resolve({
        kind: 'command',
        outcome: how.outcome,
        exitCode: how.exitCode ?? null,
        ...(how.error ? { error: how.error } : {}),
        limit,
        stdout: out.stdout.text,
        stderr: out.stderr.text,
        stdoutBytes: out.stdout.bytes,
        stderrBytes: out.stderr.bytes,
        stdoutTruncated: out.stdout.truncated,
        stderrTruncated: out.stderr.truncated,
        durationMs,
        peakMemoryBytes: out.peakMemoryBytes,
        denied: how.denied ?? [],
      });
    };
    const deadline = setTimeout(() => end({ outcome: 'stopped', limit: 'deadline', error: `stopped at its deadline of ${run.deadlineMs} ms` }), run.deadlineMs);
    const abort = () => end({ outcome: 'stopped', error: 'the request was cancelled' });
    run.signal?.addEventListener('abort', abort);
    worker.on('message', (m: CommandDone) => {
      if (m.t === 'exited') end({ outcome: 'exited', exitCode: m.exitCode, denied: m.denials });
      else if (m.t === 'trapped') end({ outcome: 'trapped', error: m.error, denied: m.denials });
      else end({ outcome: 'trapped', error: m.error });
    });
    worker.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') end({ outcome: 'stopped', limit: 'memory', error: `the run's JavaScript heap ran out (${e.message})` });
      else end({ outcome: 'trapped', error: e.message });
    });
    worker.on('exit', (code) => end({ outcome: 'trapped', error: `the run's worker exited with code ${code} before answering` }));
  });
}
