import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { HostError } from '../../errors.ts';
import { call, clientHelp, clientOptions, filePart, findAdmin } from '../client.ts';
import { type Command, parse, printJson, usageError } from '../command.ts';

const usage = `Usage: edgehost deploy <name> <component.wasm> --module <entry.json> [options]

Deploys a module while the host runs: adds it, or replaces the running module of that name
(its queue is kept; messages in flight are delivered to the new component). The entry has the
schema of a module in config/edgehost.json (world, grants, config, subscriptions, limits,
delivery, restart); its "component" is the uploaded file. The host checks the entry, the
component's world and its imports against the grants before it touches the running module.
The deployment is recorded under the host's data dir and survives restarts.

  --module <entry.json>   The module's entry (required)

${clientHelp}`;

export const deploy: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { ...clientOptions, module: { type: 'string' } }, usage);
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    const [name, componentPath, ...rest] = positionals;
    if (!name || !componentPath) throw usageError('deploy needs a module name and a component file', usage);
    if (rest.length > 0) throw usageError(`unexpected argument "${rest[0]}"`, usage);
    if (!values.module) throw usageError('--module <entry.json> is required: the module entry to deploy the component with', usage);
    let entryText: string;
    try {
      entryText = readFileSync(values.module, 'utf8');
    } catch (e) {
      throw new HostError('EH_CLI_USAGE', `cannot read the module entry ${values.module}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const form = new FormData();
    form.set('component', filePart(componentPath, 'the component'), basename(componentPath));
    form.set('module', new Blob([entryText], { type: 'application/json' }), basename(values.module));
    const { json } = await call(findAdmin(values), 'PUT', `/v1/modules/${encodeURIComponent(name)}`, form);
    if (values.json) {
      printJson(json);
      return 0;
    }
    const m = json.module as { name: string; state: string; digest: string; world: string };
    process.stdout.write(`${json.action} module ${m.name} (world ${m.world}, component ${m.digest.slice(0, 12)}): ${m.state}\n`);
    return 0;
  },
};
