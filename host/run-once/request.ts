// What a run-once request may ask for, checked before anything runs. The
// limits a request gives are bounded by admin.run (the host's ceiling); the
// grants use the same schema as a module's, so "granted" means the same thing
// in a run as in a deployment.
import { z } from 'zod';
import type { RunOnceOptions } from '../config/schema.ts';
import { grants } from '../config/schema.ts';
import { HostError } from '../errors.ts';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name');

const message = z
  .object({
    topic: z.string().min(1),
    /** UTF-8 text; or payloadBase64 for bytes. */
    payload: z.string().optional(),
    payloadBase64: z.string().optional(),
  })
  .strict()
  .refine((m) => (m.payload === undefined) !== (m.payloadBase64 === undefined), 'give exactly one of payload and payloadBase64');

export const runRequest = z
  .object({
    // --- both kinds
    /** Wall-clock deadline of the whole run. */
    deadlineMs: z.number().int().positive().optional(),
    /** Cap on the guest's linear memory. */
    maxMemoryMb: z.number().int().positive().optional(),
    /** Cap on each of stdout and stderr. */
    maxOutputBytes: z.number().int().positive().optional(),
    /** The module grant schema; a command may use `environment` and `filesystem`. */
    grants: z.unknown().optional(),
    // --- wasi:cli/command
    /** Arguments after the program name. */
    args: z
      .array(z.string().max(64 * 1024))
      .max(4096)
      .optional(),
    /** argv[0]; default: the uploaded file's name. */
    program: z.string().max(4096).optional(),
    /** Environment variables given to the program (besides host ones named in grants.environment). */
    env: z.record(envName, z.string().max(64 * 1024)).optional(),
    /** stdin as text (or send a "stdin" part). */
    stdin: z.string().optional(),
    // --- a platform world
    /** Run as a module of this world instead of as a command (detected when absent). */
    world: z.string().optional(),
    /** Folder of the WIT package that defines `world` (relative to the config file). */
    wit: z.string().optional(),
    config: z.record(z.string(), z.unknown()).optional(),
    subscriptions: z.array(z.string()).optional(),
    /** Published on the run's own bus after init, in order. */
    messages: z.array(message).max(10_000).optional(),
    /** Keep the module running this long after the messages are handled (its timers fire meanwhile). */
    runMs: z.number().int().min(0).optional(),
  })
  .strict();
export type RunRequest = z.infer<typeof runRequest>;

const COMMAND_ONLY = ['args', 'program', 'env', 'stdin'] as const;
const MODULE_ONLY = ['world', 'wit', 'config', 'subscriptions', 'messages', 'runMs'] as const;

export interface RunLimits {
  deadlineMs: number;
  maxMemoryMb: number;
  maxOutputBytes: number;
}

const keyPath = (path: readonly PropertyKey[]) =>
  path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .slice(1) || '(top level)';

/** Parses the request JSON (absent: all defaults); throws EH_RUN_INVALID naming the field. */
export function parseRunRequest(raw: unknown): RunRequest {
  const parsed = runRequest.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const reason = i.code === 'unrecognized_keys' ? `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
      return `run request: ${keyPath(i.path)}: ${reason}`;
    });
    throw new HostError('EH_RUN_INVALID', `invalid run request\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}

/** The request's limits, each at its default or what was asked, refused past the host's ceiling. */
export function runLimits(req: RunRequest, opts: RunOnceOptions): RunLimits {
  const pick = (key: keyof RunLimits, asked: number | undefined, def: number, max: number, ceilingKey: string) => {
    if (asked === undefined) return Math.min(def, max);
    if (asked > max) throw new HostError('EH_RUN_INVALID', `run request: ${key}: ${asked} is more than this host allows (${max}, admin.run.${ceilingKey})`);
    return asked;
  };
  return {
    deadlineMs: pick('deadlineMs', req.deadlineMs, opts.defaultDeadlineMs, opts.maxDeadlineMs, 'maxDeadlineMs'),
    maxMemoryMb: pick('maxMemoryMb', req.maxMemoryMb, opts.defaultMemoryMb, opts.maxMemoryMb, 'maxMemoryMb'),
    maxOutputBytes: pick('maxOutputBytes', req.maxOutputBytes, opts.defaultOutputBytes, opts.maxOutputBytes, 'maxOutputBytes'),
  };
}

/** Refuses fields that do not apply to the kind of component being run. */
export function checkKind(req: RunRequest, kind: 'command' | 'module'): void {
  const wrong = (kind === 'command' ? MODULE_ONLY : COMMAND_ONLY).filter((k) => req[k] !== undefined);
  if (wrong.length === 0) return;
  const what = kind === 'command' ? 'the component is a wasi:cli/command' : 'the component runs as a module of a platform world';
  throw new HostError('EH_RUN_INVALID', `run request: ${wrong.join(', ')}: ${what}, which takes no ${wrong.join(' or ')}`);
}

/** The request's grants through the module grant schema (defaults filled in). */
export function parseGrants(raw: unknown): Record<string, unknown> {
  const parsed = grants.safeParse(raw ?? {});
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    const reason = i.code === 'unrecognized_keys' ? `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
    throw new HostError('EH_RUN_INVALID', `run request: grants${i.path.length ? `.${keyPath(i.path)}` : ''}: ${reason}`);
  }
  return parsed.data as Record<string, unknown>;
}
