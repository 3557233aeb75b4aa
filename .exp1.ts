import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from './host/logger.ts';
import { createWasi } from './host/sandbox/wasi/index.ts';
import { Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam } from './test/examples/http-host.ts';
const dir = process.argv[2];
const wasi = createWasi({ env: [], logger: createLogger('silent'), denied: (c, t) => `${c}: ${t} denied` });
const interfaces: Record<string, Record<string, unknown>> = { ...wasi.interfaces, 'wasi:http/types': { ...wasi.interfaces['wasi:http/types'], Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam } };
const unv = (n: string) => n.replace(/@[^@/]*$/, '');
const imports = new Proxy(interfaces, { get: (t, k) => (typeof k === 'string' ? (t[k] ?? t[unv(k)]) : undefined) });
const { instantiate } = await import(join(dir, 'component.js'));
const inst = await instantiate((f: string) => WebAssembly.compile(readFileSync(join(dir, f))), imports);
const h = inst['wasi:http/incoming-handler@0.2.12'];
for (let round = 0; round < 3; round++) {
  const t0 = performance.now();
  const N = 2000;
  for (let i = 0; i < N; i++) { const out = new ResponseOutparam(); await h.handle(new IncomingRequest({ tag: 'get' }, '/x'), out); if (i === 0 && round === 0) console.log(out.result?.val.sentBody?.text()); }
  console.log(dir, 'us/call', ((performance.now() - t0) * 1000 / N).toFixed(1));
}
