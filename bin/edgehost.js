#!/usr/bin/env node
// The `edgehost` command (package.json "bin"). The CLI is TypeScript run by
// Node 24's type stripping; under an older Node (Debian's is 20) this shim
// runs it again with the Node 24 that `npm install` put in node_modules/.bin.
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import module from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(realpathSync(fileURLToPath(import.meta.url))), '..');
const entry = join(root, 'host', 'cli', 'main.ts');
const major = Number(process.versions.node.split('.')[0]);

if (major >= 24) {
  // The CLI is loaded from TypeScript on every call: Node's compile cache (in the OS temp folder,
  // or NODE_COMPILE_CACHE) keeps the stripped and compiled code, so a call starts in about a third of the time.
  module.enableCompileCache?.();
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name !== 'ExperimentalWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
  });
  await import(entry);
} else {
  const node = join(root, 'node_modules', '.bin', 'node');
  if (!existsSync(node)) {
    process.stderr.write(`edgehost: needs Node 24 or newer (this is ${process.version}); run "npm install" in ${root} first, which installs it\n`);
    process.exit(1);
  }
  const child = spawn(node, ['--disable-warning=ExperimentalWarning', entry, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}
