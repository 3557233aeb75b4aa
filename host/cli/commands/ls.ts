import { call, clientHelp, clientOptions, findAdmin } from '../client.ts';
import { type Command, parse, printJson, usageError } from '../command.ts';

const usage = `Usage: edgehost ls [options]

Lists the host's modules: name, world, state, where it came from (config file or API),
restarts, messages queued for it, when it became ready, and its component's digest.

${clientHelp}`;

interface Row {
  name: string;
  world: string;
  state: string;
  source: string;
  restarts: number;
  queueDepth: number;
  readySince?: string;
  digest: string;
  lastError?: { code: string; message: string };
}

/** Columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export const ls: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parse(args, clientOptions, usage);
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}"`, usage);
    const { json } = await call(findAdmin(values), 'GET', '/v1/modules');
    if (values.json) {
      printJson(json);
      return 0;
    }
    const rows = (json.modules as Row[]).map((m) => [
      m.name,
      m.world,
      m.state,
      m.source,
      String(m.restarts),
      String(m.queueDepth),
      m.readySince ? m.readySince.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-',
      m.digest.slice(0, 12),
    ]);
    process.stdout.write(table(['NAME', 'WORLD', 'STATE', 'SOURCE', 'RESTARTS', 'QUEUED', 'READY SINCE', 'DIGEST'], rows));
    for (const m of json.modules as Row[])
      if (m.lastError && m.state !== 'ready') process.stdout.write(`${m.name}: ${m.lastError.code}: ${m.lastError.message}\n`);
    return 0;
  },
};
