// Runs a wasi:cli/command component once, in this thread, under the host's own WASI
// (host/sandbox/wasi, not the preview2-shim defaults): the component is transpiled through
// the host's transpile cache, instantiated with the import object createWasi builds, and its
// wasi:cli/run#run is called. What a run-once needs, without the worker around it.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { transpileCached } from '../../host/components/transpile-cache.ts';
import { createLogger } from '../../host/logger.ts';
import { ModuleExit } from '../../host/sandbox/wasi/cli.ts';
import { createWasi } from '../../host/sandbox/wasi/index.ts';
import { testCacheDir } from '../support/paths.ts';

export interface CommandRun {
  args?: string[];
  env?: [string, string][];
  stdin?: Uint8Array | string;
  maxBytes?: number;
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  capture: NonNullable<ReturnType<typeof createWasi>['capture']>;
  ms: number;
}

const unversioned = (name: string) => name.replace(/@[^@/]*$/, '');

export async function runCommand(componentPath: string, run: CommandRun = {}): Promise<CommandResult> {
  const transpiled = await transpileCached(componentPath, testCacheDir, { asyncImports: [], asyncExports: [] });
  const denials: string[] = [];
  const wasi = createWasi({
    env: run.env ?? [],
    logger: createLogger('silent'),
    denied: (capability, target) => {
      denials.push(`${capability} ${target}`);
      return `${capability}: ${target} denied`;
    },
    args: run.args,
    stdin: typeof run.stdin === 'string' ? new TextEncoder().encode(run.stdin) : run.stdin,
    capture: { maxBytes: run.maxBytes ?? 1024 * 1024 },
  });
  const imports = new Proxy(wasi.interfaces, {
    get: (target, key) => (typeof key === 'string' ? (target[key] ?? target[unversioned(key)]) : undefined),
  });
  const dir = dirname(transpiled.jsPath);
  const { instantiate } = await import(transpiled.jsPath);
  const started = performance.now();
  const instance = await instantiate((file: string) => WebAssembly.compile(readFileSync(join(dir, file))), imports);
  const runExport = Object.entries(instance as Record<string, { run?: () => unknown }>).find(([k]) => unversioned(k) === 'wasi:cli/run')?.[1];
  if (!runExport?.run) throw new Error(`${componentPath} does not export wasi:cli/run`);
  let exitCode: number;
  try {
    await runExport.run();
    exitCode = 0; // run returned ok without calling exit
  } catch (e) {
    if (e instanceof ModuleExit) exitCode = e.exitCode;
    else if (wasi.exitCode() !== undefined) exitCode = wasi.exitCode()!;
    else if (e && typeof e === 'object' && 'payload' in e)
      exitCode = 1; // run returned err
    else throw e; // a trap
  }
  const ms = performance.now() - started;
  const capture = wasi.capture!;
  return { exitCode, stdout: capture.stdout.text(), stderr: capture.stderr.text(), capture, ms };
}
