import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, tempDir, testCacheDir } from './paths.ts';

/** Resolves the waiters whose condition holds; returns the rest. */
export function settle<W>(waiters: W[], holds: (w: W) => boolean, resolve: (w: W) => void): W[] {
  const rest: W[] = [];
  for (const w of waiters) {
    if (holds(w)) resolve(w);
    else rest.push(w);
  }
  return rest;
}

export interface LogLine {
  level: number;
  msg: string;
  module?: string;
  code?: string;
  [key: string]: unknown;
}

/** Writes a host config to a fresh temp dir; component paths should be absolute. */
export function writeConfig(config: Record<string, unknown>): string {
  const file = join(tempDir(), 'edgehost.json');
  writeFileSync(file, JSON.stringify({ cacheDir: testCacheDir, ...config }, null, 2));
  return file;
}

/**
 * The host as a user runs it: `node host/main.ts` in a child process, its
 * JSON log lines parsed as they arrive so tests can await specific lines.
 */
export class HostProcess {
  readonly child: ChildProcess;
  /** The arguments it was started with (including the --data-dir and --admin-address added here). */
  readonly args: string[];
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    // Each host gets its own data dir unless the test shares one on purpose:
    // durable queues left by another test would otherwise be redelivered here.
    if (!args.includes('--data-dir') && !args.includes('--help')) args = [...args, '--data-dir', tempDir()];
    // Hosts of parallel tests must not race for the default admin port: each gets a free one (logged, and in <data-dir>/admin-address).
    if (!args.includes('--admin-address') && !args.includes('--help')) args = [...args, '--admin-address', '127.0.0.1:0'];
    this.args = args;
    this.child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(root, 'host/main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text);
        } catch {
          line = { level: 30, msg: text };
        }
        this.lines.push(line);
        this.#waiters = settle(
          this.#waiters,
          (w) => w.match(line),
          (w) => w.resolve(line),
        );
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs = 30_000, what = 'log line'): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}\n--- stdout ---\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}\n--- stderr ---\n${this.stderr}`,
            ),
          ),
        timeoutMs,
      );
      const onExit = () =>
        reject(
          new Error(
            `host exited while waiting for ${what}\n--- stderr ---\n${this.stderr}\n--- stdout ---\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}`,
          ),
        );
      this.child.once('exit', onExit);
      this.#waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          this.child.off('exit', onExit);
          resolve(l);
        },
      });
    });
  }

  /** Waits until every named module has logged that it is ready. */
  async ready(modules: string[], timeoutMs = 60_000): Promise<void> {
    await Promise.all(modules.map((m) => this.waitForLog((l) => l.msg === `module ${m} ready`, timeoutMs, `module ${m} ready`)));
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<{ code: number | null; ms: number }> {
    const started = Date.now();
    this.child.kill(signal);
    const { code } = await this.exited;
    return { code, ms: Date.now() - started };
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
