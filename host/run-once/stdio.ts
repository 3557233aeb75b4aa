// The wasi:cli interfaces of a run-once command: its arguments, the
// environment it was given, stdin from the request, stdout and stderr into
// the run's capture, and exit. They replace the module defaults of
// host/sandbox/wasi (no arguments, empty stdin, output into the log) for a
// run only; everything else (clocks, random, the denied network, the
// filesystem) is the sandbox's own.
import { cliInterfaces } from '../sandbox/wasi/cli.ts';
import { bytesSource, InputStream, OutputStream } from '../sandbox/wasi/io.ts';
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
  const output = (stream: 'stdout' | 'stderr') => {
    const sink = opts.capture.sink(stream);
    return new OutputStream((bytes) => {
      sink(bytes);
      opts.onWrite?.();
    });
  };
  return cliInterfaces({
    env: opts.env,
    args: opts.args,
    stdin: new InputStream(bytesSource(opts.stdin)),
    stdout: output('stdout'),
    stderr: output('stderr'),
  });
}
