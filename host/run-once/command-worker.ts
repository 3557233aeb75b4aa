// A run-once command inside its own worker thread: instantiates a
// wasi:cli/command component with the sandbox's WASI (stdio, arguments and
// environment from the request; the filesystem only if granted; no network),
// calls wasi:cli/run#run once, answers how it ended and exits. The main
// thread terminates the worker at the run's deadline; the guest's memories
// cannot grow past the cap compiled into them.
import module from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type { CapabilityOps, WorkerContext, WorkerHalf } from '../capabilities/capability.ts';
import type { Logger } from '../logger.ts';
import { errorText } from '../sandbox/link.ts';
import { ModuleExit } from '../sandbox/wasi/cli.ts';
import { createWasi } from '../sandbox/wasi/index.ts';
import * as io from '../sandbox/wasi/io.ts';
import { CaptureWriter } from './capture.ts';
import type { CommandDone, CommandInit } from './command-protocol.ts';
import { runStdio } from './stdio.ts';

const init = workerData as CommandInit;
const unversioned = (name: string) => name.replace(/@[^@/]*$/, '');
const denials: string[] = [];
const closers: (() => void | Promise<void>)[] = [];
// Host functions' own log lines have nowhere to go in a run: what matters reaches the answer.
// (A logger of its own, not host/logger.ts: that one loads pino, about 30 MB in every run's worker.)
const silent = () => {};
const logger: Logger = {
  trace: silent,
  debug: silent,
  info: silent,
  warn: silent,
  error: silent,
  fatal: silent,
  child: () => logger,
  isLevelEnabled: () => false,
};
const denied = (capability: string, target: string, allowWith: string) => {
  const text = `${capability}: ${target} is not granted to this run; to allow it: ${allowWith}`;
  if (!denials.includes(text)) denials.push(text);
  return text;
};

const capture = new CaptureWriter(init.capture);
const memories = new Set<WebAssembly.Memory>();
const recordMemory = () => {
  let total = 0;
  for (const m of memories) total += m.buffer.byteLength;
  capture.memory(total);
};

function finish(done: CommandDone): void {
  recordMemory();
  for (const close of closers) {
    try {
      void close();
    } catch {
      // the run is over; nothing to save
    }
  }
  parentPort!.postMessage(done);
  parentPort!.close();
}

async function instantiate(): Promise<Record<string, unknown>> {
  const wasi = createWasi({ env: init.env, logger, denied });
  const imports: Record<string, unknown> = {
    ...wasi.interfaces,
    ...runStdio({ args: init.args, env: init.env, stdin: init.stdin, capture, onWrite: recordMemory }),
  };
  for (const granted of init.grants) {
    const half = (await import(granted.worker)) as WorkerHalf<unknown, CapabilityOps>;
    const ctx = {
      moduleName: 'run',
      logger,
      config: new Map(),
      limits: init.limits,
      denied: (target: string, allowWith: string) => denied(granted.name, target, allowWith),
      onClose: (fn: () => void | Promise<void>) => closers.push(fn),
      io,
    } as unknown as WorkerContext<CapabilityOps>;
    Object.assign(imports, half.create(ctx, granted.grant));
  }
  const proxy = new Proxy(imports, { get: (target, key) => (typeof key === 'string' ? (target[key] ?? target[unversioned(key)]) : undefined) });
  const { instantiate } = await import(init.componentJs);
  const getCoreModule = (name: string) => {
    const module = init.coreModules[name];
    if (!module) throw new Error(`the transpiled component asks for core module ${name}, which was not compiled`);
    return module;
  };
  const instantiateCore = async (module: WebAssembly.Module, coreImports?: WebAssembly.Imports) => {
    const instance = await WebAssembly.instantiate(module, coreImports);
    for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) memories.add(value);
    return instance;
  };
  return (await instantiate(getCoreModule, proxy, instantiateCore)) as Record<string, unknown>;
}

let instance: Record<string, unknown>;
try {
  instance = await instantiate();
} catch (e) {
  finish({ t: 'invalid', error: `the component failed to instantiate: ${errorText(e)}` });
  process.exit(0);
}
// Everything this worker loads is loaded: write it to the compile cache now (a run may end by termination).
module.flushCompileCache?.();
const run = Object.entries(instance).find(([k]) => unversioned(k) === 'wasi:cli/run')?.[1] as { run?: () => unknown } | undefined;
if (typeof run?.run !== 'function') {
  finish({ t: 'invalid', error: 'the component does not export wasi:cli/run' });
  process.exit(0);
}
try {
  await run.run();
  // run returned ok without calling exit.
  finish({ t: 'exited', exitCode: 0, denials });
} catch (e) {
  if (e instanceof ModuleExit) finish({ t: 'exited', exitCode: e.exitCode, denials });
  // run returned err: the command failed without a code of its own.
  else if (e && typeof e === 'object' && Object.hasOwn(e, 'payload')) finish({ t: 'exited', exitCode: 1, denials });
  else finish({ t: 'trapped', error: errorText(e), denials });
}
