import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkImportsGranted } from '../../../host/admin/link-gate.ts';
import { deployEntry, scaffold } from '../../../host/cli/scaffold.ts';
import { jsName, platform } from '../../../host/components/wit.ts';
import { loadModuleEntry } from '../../../host/config/load.ts';
import { root, tempDir } from '../../support/paths.ts';

for (const world of platform().worlds.values()) {
  test(`world ${world.name}: a stub for every function of every export, and an entry the link-time gate lets in`, () => {
    const dir = tempDir();
    const files = scaffold({ name: 'probe', world, root: dir, repo: root });
    assert.deepEqual([...files.keys()].map((f) => f.slice(dir.length + 1)).sort(), [
      'modules/probe/README.md',
      'modules/probe/deploy.json',
      'modules/probe/module.json',
      'modules/probe/src/index.ts',
      'test/modules/probe/module.test.ts',
    ]);
    const source = files.get(join(dir, 'modules/probe/src/index.ts'))!;
    for (const iface of world.exports) {
      if (iface === 'wasi:http/incoming-handler') {
        assert.match(source, /export const incomingHandler = \{\n(.*\n)* {2}handle\(request: IncomingRequest, out: ResponseOutparam\): void \{/);
        continue;
      }
      const name = iface.slice(iface.indexOf('/') + 1);
      assert.ok(source.includes(`export const ${jsName(name)} = {`), `exports ${jsName(name)}`);
      for (const f of platform().definitions.get(name)!.functions)
        assert.match(source, new RegExp(`\\n {2}${jsName(f.name)}\\(`), `${name}.${f.name} has a stub`);
    }
    assert.deepEqual(JSON.parse(files.get(join(dir, 'modules/probe/module.json'))!), { world: world.name, config: {} });

    const entry = JSON.parse(files.get(join(dir, 'modules/probe/deploy.json'))!);
    assert.deepEqual(entry, deployEntry('probe', world));
    writeFileSync(join(dir, 'probe.wasm'), '');
    const spec = loadModuleEntry('probe', { ...entry, component: 'probe.wasm' }, { base: dir, where: 'modules.probe' });
    // A guest built against the world imports every interface of it.
    assert.doesNotThrow(() => checkImportsGranted(spec, world.imports));
  });
}

test("the generated test and guest import the repository's helpers by relative path, wherever the root is", () => {
  const world = platform().worlds.get([...platform().worlds.keys()][0])!;
  const files = scaffold({ name: 'probe', world, root, repo: root });
  assert.match(files.get(join(root, 'modules/probe/src/index.ts'))!, /from '\.\.\/\.\.\/shared\/guest\.ts';/);
  assert.match(files.get(join(root, 'test/modules/probe/module.test.ts'))!, /from '\.\.\/\.\.\/support\/in-process-host\.ts';/);
});
