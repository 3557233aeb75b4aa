import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { platform } from '../../components/wit.ts';
import { moduleName } from '../../config/schema.ts';
import { HostError } from '../../errors.ts';
import { type Command, parse, usageError } from '../command.ts';
import { scaffold } from '../scaffold.ts';

const repo = new URL('../../../', import.meta.url).pathname;
const worlds = () => [...platform().worlds.keys()];

const usage = () => `Usage: edgehost new <name> --world <${worlds().join('|')}> [--root <dir>]

Scaffolds a module that builds and starts with no edits:
  modules/<name>/module.json, src/index.ts (a typed stub for every export of the world),
  deploy.json (an entry to deploy it with), README.md, and test/modules/<name>/module.test.ts.
Then: npm run build, and edgehost deploy <name> build/modules/<name>.wasm --module modules/<name>/deploy.json

  --world <world>   The world it targets (wit/worlds.wit)
  --root <dir>      Where modules/ and test/ are (default: this edgehost checkout)`;

export const scaffoldCommand: Command = {
  get usage() {
    return usage();
  },
  async run(args) {
    const { values, positionals } = parse(args, { world: { type: 'string' }, root: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, usage());
    if (values.help) {
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    const [name, ...rest] = positionals;
    if (!name) throw usageError('new needs a module name', usage());
    if (rest.length > 0) throw usageError(`unexpected argument "${rest[0]}"`, usage());
    const valid = moduleName.safeParse(name);
    if (!valid.success) throw usageError(`"${name}": ${valid.error.issues[0].message}`, usage());
    if (!values.world) throw usageError('--world is required', usage());
    const world = platform().worlds.get(values.world);
    if (!world) throw usageError(`no world "${values.world}"; the worlds are ${worlds().join(', ')}`, usage());
    const root = resolve(values.root ?? repo);
    const files = scaffold({ name, world, root, repo });
    const taken = [...files.keys()].filter((f) => existsSync(f));
    if (taken.length > 0) throw new HostError('EH_CLI_USAGE', `not overwriting what exists: ${taken.map((f) => relative(process.cwd(), f)).join(', ')}`);
    for (const [file, text] of files) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      process.stdout.write(`created ${relative(process.cwd(), file) || file}\n`);
    }
    const at = (p: string) => relative(process.cwd(), resolve(root, p)) || '.';
    const build =
      root === resolve(repo) ? 'npm run build' : `npm exec -- node scripts/build-modules.ts --modules ${at('modules')} --out ${at('build/modules')}`;
    process.stdout.write(
      `\nNext:\n  ${build}\n  npm exec -- node --test ${at(`test/modules/${name}/module.test.ts`)}\n  npm exec -- edgehost deploy ${name} ${at(`build/modules/${name}.wasm`)} --module ${at(`modules/${name}/deploy.json`)}\n`,
    );
    return 0;
  },
};
