// The wasi:cli interfaces of a run-once command: its arguments, the
// environment it was given, stdin from the request, stdout and stderr into
// the run's capture, and exit. They replace the module defaults of
// host/sandbox/wasi (no arguments, empty stdin, output into the log) for a
// run only; everything else (clocks, random, the denied network, the
// filesystem) is the sandbox's own.
import { ModuleExit } from '../sandbox/wasi/cli.ts';
import { InputStream, MAX_STREAM_CHUNK, OutputStream } from '../sandbox/wasi/io.ts';
import type { CaptureWriter } from './capture.ts';

export interface RunStdio {
  /** argv as the program sees it: the program name first. */
  args: string[];
  env: [string, string][];
  stdin: Uint8Array;
  capture: CaptureWriter;
  /** Called on every output write: the worker records the guest's memory there. */
  onWrite?: () => void;
}

export function runStdio(opts: RunStdio): Record<string, Record<string, unknown>> {
  let offset = 0;
  const stdin = new InputStream({
    read(max) {
      if (offset >= opts.stdin.length) return undefined;
      const end = Math.min(opts.stdin.length, offset + Math.min(max, MAX_STREAM_CHUNK));
      const chunk = opts.stdin.subarray(offset, end);
      offset = end;
      return chunk;
    },
  });
  const output = (stream: 'stdout' | 'stderr') => {
    const sink = opts.capture.sink(stream);
    return new OutputStream((bytes) => {
      sink(bytes);
      opts.onWrite?.();
    });
  };
  const stdout = output('stdout');
  const stderr = output('stderr');
  class TerminalInput {}
  class TerminalOutput {}
  return {
    'wasi:cli/environment': {
      getEnvironment: () => opts.env,
      getArguments: () => opts.args,
      // No working directory: nothing about the host leaks.
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit(status: { tag: 'ok' | 'err' }) {
        throw new ModuleExit(status.tag === 'ok' ? 0 : 1);
      },
      exitWithCode(code: number) {
        throw new ModuleExit(code);
      },
    },
    'wasi:cli/stdin': { getStdin: () => stdin },
    'wasi:cli/stdout': { getStdout: () => stdout },
    'wasi:cli/stderr': { getStderr: () => stderr },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
  };
}
