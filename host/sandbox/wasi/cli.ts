import type { Logger } from '../../log-forwarding.ts';
import { budgetedLines } from '../../log-throttle.ts';
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

/**
 * Turns a byte stream into log lines, so guest stdout/stderr end up in the host
 * log with the module's name. Works on bytes: of each line at most MAX_LINE
 * bytes are kept (a longer line is written in MAX_LINE pieces), and a line is
 * decoded only when `write` asks for its text, so output the log budget drops
 * costs no decoding.
 */
function lineSink(write: (text: () => string) => void) {
  const decoder = new TextDecoder();
  let kept: Uint8Array[] = [];
  let keptBytes = 0;
  const emit = () => {
    const parts = kept;
    const size = keptBytes;
    kept = [];
    keptBytes = 0;
    write(() => {
      const line = new Uint8Array(size);
      let at = 0;
      for (const p of parts) {
        line.set(p, at);
        at += p.length;
      }
      return decoder.decode(line);
    });
  };
  const sink = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length) {
      const nl = bytes.indexOf(10, start);
      const end = nl === -1 ? bytes.length : nl;
      while (start < end) {
        const take = Math.min(MAX_LINE - keptBytes, end - start);
        kept.push(bytes.slice(start, start + take));
        keptBytes += take;
        start += take;
        if (keptBytes === MAX_LINE) emit();
      }
      if (nl === -1) break;
      emit();
      start = nl + 1;
    }
  };
  const flush = () => {
    if (keptBytes > 0) emit();
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
  /** Whether one more stdout/stderr line may be logged now (the module's log budget); without it, all are. */
  allowLine?: () => boolean;
}

export function createCli(env: [string, string][], logger: Logger, options: CliOptions = {}) {
  const capture = options.capture ? { stdout: new ByteCapture(options.capture.maxBytes), stderr: new ByteCapture(options.capture.maxBytes) } : undefined;
  // stdout and stderr lines are logged within the module's log budget.
  const budgeted = budgetedLines(options.allowLine ?? (() => true), (suppressed) =>
    logger.warn(
      { code: 'EH_LIMIT', limit: 'limits.logLinesPerSecond', suppressed },
      `${suppressed} stdout/stderr lines were dropped (limits.logLinesPerSecond)`,
    ),
  );
  const out = lineSink((text) => budgeted(() => logger.info({ stream: 'stdout' }, text())));
  // The last stderr lines are kept to explain a trap that follows them (a runtime panic).
  const recentStderr: (() => string)[] = [];
  // A Rust panic of the guest's runtime (a few lines, from "thread '…' panicked at" to the
  // RUST_BACKTRACE note) goes to the debug level: the host reports it once, in the
  // author's terms (guest-failure.ts), and the raw text stays there for whoever needs it.
  let inPanic = false;
  const err = lineSink((text) => {
    recentStderr.push(text);
    if (recentStderr.length > 8) recentStderr.shift();
    const line = text();
    if (/^thread '.*' .*panicked at /.test(line)) inPanic = true;
    const level = inPanic || (line === '' && !inPanic) ? 'debug' : 'warn';
    if (inPanic && line.startsWith('note: run with `RUST_BACKTRACE')) inPanic = false;
    budgeted(() => logger[level]({ stream: 'stderr' }, line));
  });
  const stdout = new OutputStream(capture?.stdout.write ?? out.sink);
  const stderr = new OutputStream(capture?.stderr.write ?? err.sink);
  const stdin = new InputStream(options.stdin ? bytesSource(options.stdin) : undefined);
  let exitCode: number | undefined;
  return {
    flush() {
      out.flush();
      err.flush();
    },
    recentStderr() {
      err.flush();
      return recentStderr.map((text) => text());
    },
    capture,
    /** The code the guest passed to wasi:cli/exit (`exit(ok)` is 0, `exit(err)` is 1), if it called it. */
    exitCode: () => exitCode,
    // Only granted variables, no working directory, arguments only when a run-once passes them.
    interfaces: cliInterfaces({ env, args: [...(options.args ?? [])], stdin, stdout, stderr, onExit: (code) => (exitCode = code) }),
  };
}

/** The streams and values a guest's wasi:cli interfaces hand out. */
export interface CliIo {
  env: [string, string][];
  args: readonly string[];
  stdin: InputStream;
  stdout: OutputStream;
  stderr: OutputStream;
  /** Told the code of a wasi:cli/exit before the guest unwinds (`exit(ok)` is 0, `exit(err)` is 1). */
  onExit?: (code: number) => void;
}

/**
 * The wasi:cli interfaces over `io`, for a module and for a run-once alike: the guest sees
 * what it is handed and nothing of the host (no working directory, no terminal).
 */
export function cliInterfaces(io: CliIo) {
  class TerminalInput {}
  class TerminalOutput {}
  const exit = (code: number): never => {
    io.onExit?.(code);
    throw new ModuleExit(code);
  };
  return {
    'wasi:cli/environment': {
      getEnvironment: () => io.env,
      getArguments: () => io.args,
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit: (status: { tag: 'ok' | 'err' }) => exit(status.tag === 'ok' ? 0 : 1),
      exitWithCode: (code: number) => exit(code),
    },
    'wasi:cli/stdin': { getStdin: () => io.stdin },
    'wasi:cli/stdout': { getStdout: () => io.stdout },
    'wasi:cli/stderr': { getStderr: () => io.stderr },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
  };
}
