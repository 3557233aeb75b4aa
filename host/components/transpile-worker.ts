// Transpiling a component takes hundreds of milliseconds of CPU: it runs here,
// in a throwaway worker, so the host's event loop keeps serving other modules.

import { parentPort, workerData } from 'node:worker_threads';
import { transpile } from '@bytecodealliance/jco';

const { bytes, asyncImports, asyncExports } = workerData as { bytes: Uint8Array; asyncImports: string[]; asyncExports: string[] };
try {
  const jspi = asyncImports.length + asyncExports.length > 0;
  const result = await transpile(bytes, {
    name: 'component',
    instantiation: 'async',
    noTypescript: true,
    ...(jspi ? { asyncMode: 'jspi', asyncImports, asyncExports } : {}),
  } as Parameters<typeof transpile>[1]);
  const files = Object.entries(result.files as Record<string, Uint8Array>).filter(([name]) => !name.endsWith('.d.ts'));
  parentPort!.postMessage({ ok: true, files, imports: result.imports, exports: result.exports.map(([name]: [string, string]) => name) });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
}
