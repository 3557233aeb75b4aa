import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { HostError } from '../../errors.ts';
import type { RunResult } from '../../run-once/result.ts';
import { call, clientHelp, clientOptions, filePart, findAdmin } from '../client.ts';
import { type Command, intOption, parse, printJson, usageError } from '../command.ts';

const usage = `Usage: edgehost run <component.wasm> [--stdin FILE] [--arg A]... [--env K=V]... [limits] [options] [-- args...]

Runs a component once on the host and prints what it wrote: its stdout here on stdout, its
stderr on stderr, and exits with its exit status. A wasi:cli/command (from any language) gets
the arguments, environment and stdin given here; a component of a platform world runs as a
module for one call (see --request). It gets no network and no filesystem unless the request
grants them (the module grant schema), and it is stopped at its limits.

  --stdin <file>            stdin for the program ("-" reads this command's stdin)
  --arg <value>             an argument (repeatable, in order; --arg=--x for one that starts
                            with a dash); arguments after -- follow them
  --env <name=value>        an environment variable (repeatable)
  --deadline-ms <n>         wall-clock deadline (default: the host's, 10000)
  --max-memory-mb <n>       linear memory cap (default: the host's, 64)
  --max-output-bytes <n>    cap on each of stdout and stderr (default: the host's, 1 MiB)
  --request <file.json>     the whole request: grants, and for a platform world its world,
                            config, subscriptions, messages and runMs; flags above override it
  --verbose                 also print how it ended, its duration and peak memory

Exit status: the program's own; 124 when a limit stopped it; 125 when it trapped; 1 when the
host refused the request.

${clientHelp}`;

export const run: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parse(
      args,
      {
        ...clientOptions,
        stdin: { type: 'string' },
        arg: { type: 'string', multiple: true },
        env: { type: 'string', multiple: true },
        'deadline-ms': { type: 'string' },
        'max-memory-mb': { type: 'string' },
        'max-output-bytes': { type: 'string' },
        request: { type: 'string' },
        verbose: { type: 'boolean' },
      },
      usage,
    );
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    const [componentPath, ...rest] = positionals;
    if (!componentPath) throw usageError('run needs a component file', usage);
    let request: Record<string, unknown> = {};
    if (values.request) {
      try {
        request = JSON.parse(readFileSync(values.request, 'utf8'));
      } catch (e) {
        throw new HostError('EH_CLI_USAGE', `cannot read the request ${values.request}: ${(e as Error).message}`);
      }
    }
    if (values.arg || rest.length > 0) request.args = [...(values.arg ?? []), ...rest];
    if (values.env) {
      const env: Record<string, string> = { ...(request.env as Record<string, string> | undefined) };
      for (const kv of values.env) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw usageError(`--env needs name=value, got "${kv}"`, usage);
        env[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      request.env = env;
    }
    const limits = { deadlineMs: 'deadline-ms', maxMemoryMb: 'max-memory-mb', maxOutputBytes: 'max-output-bytes' } as const;
    for (const [key, flag] of Object.entries(limits)) {
      const n = intOption(values[flag], `--${flag}`, usage);
      if (n !== undefined) request[key] = n;
    }
    const form = new FormData();
    form.set('component', filePart(componentPath, 'the component'), basename(componentPath));
    form.set('request', new Blob([JSON.stringify(request)], { type: 'application/json' }), 'request.json');
    if (values.stdin !== undefined) form.set('stdin', values.stdin === '-' ? new Blob([readFileSync(0)]) : filePart(values.stdin, 'stdin'), 'stdin');
    const { json } = await call(findAdmin(values), 'POST', '/v1/run', form);
    const result = json as unknown as RunResult;
    if (values.json) printJson(result);
    else {
      process.stdout.write(result.stdout);
      for (const m of result.published ?? []) process.stdout.write(`published ${m.topic} ${m.payload}\n`);
      process.stderr.write(result.stderr);
      for (const f of result.failed ?? []) process.stderr.write(`edgehost: message on ${f.topic} failed: ${f.reason}\n`);
      for (const d of result.denied) process.stderr.write(`edgehost: denied: ${d}\n`);
      if (result.outcome !== 'exited' || values.verbose) process.stderr.write(`edgehost: ${summary(result)}\n`);
    }
    if (result.outcome === 'exited') return result.exitCode ?? 0;
    return result.outcome === 'stopped' ? 124 : 125;
  },
};

function summary(r: RunResult): string {
  const how =
    r.outcome === 'exited'
      ? `exited with status ${r.exitCode}`
      : r.outcome === 'stopped'
        ? `stopped${r.limit ? ` by its ${r.limit} limit` : ''}: ${r.error}`
        : `trapped${r.limit ? ` at its ${r.limit} limit` : ''}: ${r.error}`;
  const memory = r.peakMemoryBytes === null ? '' : `, peak memory ${(r.peakMemoryBytes / 1048576).toFixed(1)} MiB`;
  const cut = [r.stdoutTruncated ? `stdout cut at the cap (${r.stdoutBytes} bytes written)` : '', r.stderrTruncated ? 'stderr cut at the cap' : '']
    .filter(Boolean)
    .join(', ');
  return `${how} after ${r.durationMs} ms${memory}${cut ? `; ${cut}` : ''}`;
}
