import type { Logger } from '../../log-forwarding.ts';
import { ByteCapture } from './capture.ts';
import { bytesSource, InputStream, OutputStream } from './io.ts';

/** Thrown by wasi:cli/exit: unwinds the guest; the worker then ends that module only. */
export class ModuleExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`module called wasi:cli/exit with code ${exitCode}`);
    this.exitCode = exitCode;
  }
}

const MAX_LINE = 8 * 1024;

/** Turns a byte stream into log lines, so guest stdout/stderr end up in the host log with the module's name. */
function lineSink(write: (line: string) => void) {
  let pending = '';
  const decoder = new TextDecoder();
  const sink = (bytes: Uint8Array) => {
    pending += decoder.decode(bytes, { stream: true });
    let nl = pending.indexOf('\n');
    while (nl !== -1) {
      write(pending.slice(0, Math.min(nl, MAX_LINE)));
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
    if (pending.length > MAX_LINE) {
      write(pending.slice(0, MAX_LINE));
      pending = '';
    }
  };
  const flush = () => {
    if (pending) write(pending);
    pending = '';
  };
  return { sink, flush };
}

/**
 * What a run-once adds to a module's stdio; each part defaults to a module's behaviour
 * (no arguments, stdin at end of stream, stdout/stderr into the log).
 */
export interface CliOptions {
  /** What wasi:cli/environment#get-arguments returns: argv, by convention the program name first. */
  args?: readonly string[];
  /** The bytes stdin yields, then end of stream. */
  stdin?: Uint8Array;
  /** Keep stdout and stderr, each in its own buffer of at most `maxBytes`, instead of logging them. */
  capture?: { maxBytes: number };
}

export function createCli(env: [string, string][], logger: Logger, options: CliOptions = {}) {
  const capture = options.capture ? { stdout: new ByteCapture(options.capture.maxBytes), stderr: new ByteCapture(options.capture.maxBytes) } : undefined;
  const out = lineSink((line) => logger.info({ stream: 'stdout' }, line));
  // The last stderr lines are kept to explain a trap that follows them (a runtime panic).
  const recentStderr: string[] = [];
  const err = lineSink((line) => {
    recentStderr.push(line);
    if (recentStderr.length > 8) recentStderr.shift();
    logger.warn({ stream: 'stderr' }, line);
  });
  const stdout = new OutputStream(capture?.stdout.write ?? out.sink);
  const stderr = new OutputStream(capture?.stderr.write ?? err.sink);
  const stdin = new InputStream(options.stdin ? bytesSource(options.stdin) : undefined);
  const args = [...(options.args ?? [])];
  let exitCode: number | undefined;
  class TerminalInput {}
  class TerminalOutput {}
  return {
    flush() {
      out.flush();
      err.flush();
    },
    recentStderr() {
      err.flush();
      return [...recentStderr];
    },
    capture,
    /** The code the guest passed to wasi:cli/exit (`exit(ok)` is 0, `exit(err)` is 1), if it called it. */
    exitCode: () => exitCode,
    interfaces: {
      // Only granted variables, no working directory, arguments only when a run-once passes
      // them: nothing about the host leaks.
      'wasi:cli/environment': {
        getEnvironment: () => env,
        getArguments: () => args,
        initialCwd: () => undefined,
      },
      'wasi:cli/exit': {
        exit(status: { tag: 'ok' | 'err' }) {
          exitCode = status.tag === 'ok' ? 0 : 1;
          throw new ModuleExit(exitCode);
        },
        exitWithCode(code: number) {
          exitCode = code;
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
    },
  };
}
