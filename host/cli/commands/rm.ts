import { call, clientHelp, clientOptions, findAdmin } from '../client.ts';
import { type Command, intOption, parse, printJson, usageError } from '../command.ts';

const usage = `Usage: edgehost rm <name> [--keep-queue] [--drain-timeout-ms N] [options]

Stops a module and removes it. By default what is queued for it is delivered first (up to
--drain-timeout-ms, default 30000). With --keep-queue it stops at once and its durable queue
stays on disk for a later module of the same name. A module of the config file that is
removed stays removed after a restart, until it is deployed again.

${clientHelp}`;

export const rm: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { ...clientOptions, 'keep-queue': { type: 'boolean' }, 'drain-timeout-ms': { type: 'string' } }, usage);
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    const [name, ...rest] = positionals;
    if (!name) throw usageError('rm needs a module name', usage);
    if (rest.length > 0) throw usageError(`unexpected argument "${rest[0]}"`, usage);
    const query = new URLSearchParams();
    if (values['keep-queue']) query.set('keep-queue', '');
    const timeout = intOption(values['drain-timeout-ms'], '--drain-timeout-ms', usage);
    if (timeout !== undefined) query.set('drain-timeout-ms', String(timeout));
    const q = query.toString();
    const { json } = await call(findAdmin(values), 'DELETE', `/v1/modules/${encodeURIComponent(name)}${q ? `?${q}` : ''}`);
    if (values.json) {
      printJson(json);
      return 0;
    }
    const left = Number(json.leftQueued);
    process.stdout.write(
      `removed module ${name}${json.drained ? ' (its queue was delivered first)' : ''}${left > 0 ? `; ${left} messages were left queued` : ''}\n`,
    );
    return 0;
  },
};
