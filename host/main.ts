// edgehost: runs the modules of the host config, each in its own sandbox (`npm start`).
// Node's compile cache keeps the host's TypeScript stripped and compiled between starts
// (in the OS temp folder, or NODE_COMPILE_CACHE): a warm start does not parse it again.
// It must be on before the host's modules load, hence the import after it.
import module from 'node:module';

module.enableCompileCache?.();
const { runHost } = await import('./start.ts');
await runHost(process.argv.slice(2));
