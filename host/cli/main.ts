// The `edgehost` command: starts the host, or talks to a running host's admin
// API (ls, deploy, rm, run), or scaffolds a module (new). One file per command
// in commands/; this file only dispatches. Errors print as
// `edgehost: CODE: message` (the API's own code and message when it refused).
import { HostError } from '../errors.ts';
import type { Command } from './command.ts';
import { deploy } from './commands/deploy.ts';
import { ls } from './commands/ls.ts';
import { scaffoldCommand } from './commands/new.ts';
import { rm } from './commands/rm.ts';
import { run } from './commands/run.ts';
import { start } from './commands/start.ts';

const commands: Record<string, Command> = { start, ls, deploy, rm, run, new: scaffoldCommand };

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
    const topic = name === 'help' && args[0] ? commands[args[0]] : undefined;
    process.stdout.write(topic ? `${topic.usage}\n` : help());
    return 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    process.stderr.write(`edgehost: EH_CLI_USAGE: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  try {
    return await command.run(args);
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
