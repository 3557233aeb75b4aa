import type { Logger } from '../../log-forwarding.ts';
import { InputStream, OutputStream } from './io.ts';

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

export function createCli(env: [string, string][], logger: Logger) {
  const out = lineSink((line) => logger.info({ stream: 'stdout' }, line));
  // The last stderr lines are kept to explain a trap that follows them (a runtime panic).
  const recentStderr: string[] = [];
  const err = lineSink((line) => {
    recentStderr.push(line);
    if (recentStderr.length > 8) recentStderr.shift();
    logger.warn({ stream: 'stderr' }, line);
  });
  const stdout = new OutputStream(out.sink);
  const stderr = new OutputStream(err.sink);
  const stdin = new InputStream();
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
    interfaces: {
      // Only granted variables, no arguments, no working directory: nothing about the host leaks.
      'wasi:cli/environment': {
        getEnvironment: () => env,
        getArguments: () => [],
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
    },
  };
}
