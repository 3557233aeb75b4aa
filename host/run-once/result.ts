// The answer of a run, whatever ran: a command or a module of a platform world.

export type RunLimit = 'deadline' | 'memory';

export interface RunResult {
  kind: 'command' | 'module';
  /** The platform world a module ran as (kind "module"). */
  world?: string;
  /** How it ended: its own exit, a trap (or a failed call), or a limit that stopped it. */
  outcome: 'exited' | 'trapped' | 'stopped';
  /** The exit code, when it exited (a module that ran to the end exits 0). */
  exitCode: number | null;
  /** Why it trapped or was stopped. */
  error?: string;
  /** The limit that stopped it, if one did. */
  limit: RunLimit | null;
  stdout: string;
  stderr: string;
  /** Bytes written to each stream, kept or not; past the cap the text ends with a marker. */
  stdoutBytes: number;
  stderrBytes: number;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
  /** The largest the guest's linear memory grew to (null for module runs: the module runtime does not report it). */
  peakMemoryBytes: number | null;
  /** Calls the run made that its grants did not allow (one line per target). */
  denied: string[];
  /** Module runs: what it published, in order (payloads as UTF-8 text). */
  published?: { topic: string; payload: string }[];
  /** Module runs: messages of the request its handler refused, with why. */
  failed?: { topic: string; reason: string }[];
  /** Module runs: its log lines (the logging interface and host functions), oldest first. */
  log?: { level: string; msg: string }[];
}

/** A run that failed for want of memory: it ended badly with its memory at (or just under) the cap. */
export function hitMemoryCap(peakBytes: number, capBytes: number): boolean {
  const slack = Math.max(1024 * 1024, capBytes / 10);
  return peakBytes >= capBytes - slack;
}
