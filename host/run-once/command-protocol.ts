// Everything that crosses between the main thread and a run-once command's
// worker: what the worker is started with, and the one message it answers.
import type { CaptureBuffers } from './capture.ts';

export interface CommandInit {
  /** The transpiled component's JS entry. */
  componentJs: string;
  /** Its core modules, compiled with memories capped at the run's limit. */
  coreModules: Record<string, WebAssembly.Module>;
  args: string[];
  env: [string, string][];
  stdin: Uint8Array;
  capture: CaptureBuffers;
  /** Capabilities answering WASI interfaces (filesystem) that the run was granted, with their grants. */
  grants: { name: string; worker: string; grant: unknown }[];
  limits: Record<string, number>;
}

/** The worker's answer, once: how the program ended, and what it was refused. */
export type CommandDone =
  | { t: 'exited'; exitCode: number; denials: string[] }
  | { t: 'trapped'; error: string; denials: string[] }
  | { t: 'invalid'; error: string };
