// `edgehost new probe --world gateway` writes a module that builds, passes its
// own generated test, and deploys to a running host, all with no edits. It is
// scaffolded into a temporary root (modules/ and test/ there) and built with
// the script `npm run build` runs, pointed at that folder, so the checkout is
// left as it was.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminOf, cli } from '../support/admin.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { driver } from '../support/modules.ts';
import { root, tempDir } from '../support/paths.ts';

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

test('edgehost new probe --world gateway, then the build, then a deploy work with no edits', async () => {
  const dir = tempDir();
  const created = await cli(['new', 'probe', '--world', 'gateway', '--root', dir]);
  assert.equal(created.code, 0, created.stderr);
  for (const file of ['modules/probe/module.json', 'modules/probe/src/index.ts', 'modules/probe/deploy.json', 'test/modules/probe/module.test.ts']) {
    assert.ok(existsSync(join(dir, file)), `created ${file}`);
  }
  const source = readFileSync(join(dir, 'modules/probe/src/index.ts'), 'utf8');
  for (const stub of [
    'export const lifecycle',
    'init(): void',
    'export const messageHandler',
    'handle(messages: Array<Message>): void',
    'export const timerHandler',
    'onTick(_id: TimerId): void',
  ]) {
    assert.ok(source.includes(stub), `src/index.ts has ${stub}`);
  }
  const again = await cli(['new', 'probe', '--world', 'gateway', '--root', dir]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /^edgehost: EH_CLI_USAGE: not overwriting what exists: /);

  const built = await run(['scripts/build-modules.ts', '--modules', join(dir, 'modules'), '--out', join(dir, 'build/modules')]);
  assert.equal(built.code, 0, built.output);
  assert.match(built.output, /1 built, 0 up to date, 0 failed/);

  const generated = await run(['--test', join(dir, 'test/modules/probe/module.test.ts')]);
  assert.equal(generated.code, 0, generated.output);

  const host = new HostProcess(['--config', writeConfig({ modules: { idle: driver(['idle/#'], []) } })]);
  try {
    const admin = await adminOf(host);
    const at = ['--data-dir', admin.dataDir];
    const deployed = await cli(['deploy', 'probe', join(dir, 'build/modules/probe.wasm'), '--module', join(dir, 'modules/probe/deploy.json'), ...at]);
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.match(deployed.stdout, /^added module probe \(world gateway, component [0-9a-f]{12}\): ready\n$/);
    await host.waitForLog((l) => l.module === 'probe' && l.msg === 'probe: started', 10_000, 'the stub init logging');
    const ls = await cli(['ls', ...at]);
    assert.match(ls.stdout, /^probe\s+gateway\s+ready\s+api\s/m);
  } finally {
    host.kill();
  }
});
