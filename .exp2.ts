import { wasiWorld, wasiPackage, platform } from './host/components/wit.ts';
console.log(wasiWorld('wasi:http/proxy@0.2.12'));
const h = wasiPackage('wasi:http');
console.log([...h.definitions.keys()], [...h.opaque.keys()], h.definitions.get('incoming-handler'));
console.log(wasiWorld('wasi:cli/command'));
for (const p of ['cli','clocks','filesystem','io','random','sockets']) { const k = wasiPackage('wasi:'+p); console.log(p, [...k.definitions.keys()].length, [...k.opaque.keys()]); }
console.log([...platform().worlds.keys()]);
