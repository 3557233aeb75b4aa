// The `edgehost` command: starts the host, or talks to a running host's admin
// API (ls, deploy, rm, run), or scaffolds a module (new). One file per command
// in commands/; this file only dispatches. Errors print as
// `edgehost: CODE: message` (the API's own code and message when it refused).
import { HostError } from '../errors.ts';
import type { Command } from './command.ts';

/** Each command's file is loaded only when it runs: `edgehost ls` does not load what `new` or `start` need. */
const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  start: { summary: 'start the host (the same flags as npm start; --help lists them)', load: async () => (await import('./commands/start.ts')).start },
  ls: { summary: 'list the modules of the running host', load: async () => (await import('./commands/ls.ts')).ls },
  deploy: { summary: 'add or replace a module (component + entry)', load: async () => (await import('./commands/deploy.ts')).deploy },
  rm: { summary: 'stop and remove a module', load: async () => (await import('./commands/rm.ts')).rm },
  run: { summary: 'run a component once under limits and print its output', load: async () => (await import('./commands/run.ts')).run },
  new: { summary: 'scaffold a new module for a world', load: async () => (await import('./commands/new.ts')).scaffoldCommand },
};

function help(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `Usage: edgehost <command> [options]

${rows.join('\n')}

edgehost <command> --help shows a command's options.
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' && args[0] && Object.hasOwn(commands, args[0]) ? await commands[args[0]].load() : undefined;
    process.stdout.write(topic ? `${topic.usage}\n` : help());
    return 0;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!entry) {
    process.stderr.write(`edgehost: EH_CLI_USAGE: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  try {
    return await (await entry.load()).run(args);
  } catch (e) {
    if (e instanceof HostError) {
      process.stderr.write(`edgehost: ${e.code}: ${e.message}\n`);
      return e.code === 'EH_CLI_USAGE' ? 2 : 1;
    }
    process.stderr.write(`edgehost: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
