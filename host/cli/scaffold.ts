// What `edgehost new <name> --world <world>` writes: a module that builds and
// starts with no edits, generated from the world's WIT (wit/worlds.wit), so a
// new export in the WIT gets its stub here without a template to update.
//
//   modules/<name>/module.json          the world and config defaults (read by the build and the guest)
//   modules/<name>/src/index.ts         a typed stub for every function of every interface the world exports
//   modules/<name>/deploy.json          a module entry to deploy it with: grants for what the world imports
//   modules/<name>/README.md            build, test, deploy
//   test/modules/<name>/module.test.ts  starts it in a real host and delivers it a message
import { join, relative } from 'node:path';
import { capabilitiesOf } from '../capabilities/index.ts';
import { jsName, platform, resolveType, WASI_VERSION, type WitFunction, type WitInterface, type WitType, type World } from '../components/wit.ts';

export interface ScaffoldOptions {
  name: string;
  world: World;
  /** Where modules/ and test/ are written (the repository, or another folder). */
  root: string;
  /** The edgehost repository: where modules/shared and test/support are. */
  repo: string;
}

const pascal = (witName: string) => witName.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());

const TYPED_ARRAYS: Record<string, string> = {
  u8: 'Uint8Array',
  s8: 'Int8Array',
  u16: 'Uint16Array',
  s16: 'Int16Array',
  u32: 'Uint32Array',
  s32: 'Int32Array',
  f32: 'Float32Array',
  f64: 'Float64Array',
};

/** A WIT type as componentize-qjs guests see it (build/guest-types: u64 as number, none as null); named types are collected for import. */
function tsType(t: WitType, named: Set<string>): string {
  switch (t.kind) {
    case 'primitive':
      return t.name === 'bool' ? 'boolean' : t.name === 'string' || t.name === 'char' ? 'string' : 'number';
    case 'list':
      if (t.element.kind === 'primitive' && TYPED_ARRAYS[t.element.name]) return TYPED_ARRAYS[t.element.name];
      return `Array<${tsType(t.element, named)}>`;
    case 'option':
      return `${tsType(t.some, named)} | null`;
    case 'tuple':
      return `[${t.elements.map((e) => tsType(e, named)).join(', ')}]`;
    case 'result':
      return t.ok ? tsType(t.ok, named) : 'void';
    case 'named': {
      const name = pascal(t.name);
      named.add(name);
      return name;
    }
  }
}

/** A placeholder that fits a function's result: nothing for `result<_, E>` and no result. */
function returnStub(f: WitFunction, iface: WitInterface): string | undefined {
  if (!f.result) return undefined;
  const r = resolveType([platform()], iface, f.result);
  if ('kind' in r && r.kind === 'result' && !(r as { ok?: WitType }).ok) return undefined;
  return `throw new Error('${iface.name}.${f.name}: not implemented yet');`;
}

function docComment(docs: string | undefined, indent: string): string {
  if (!docs) return '';
  const lines = docs.trim().split('\n');
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`;
}

/** The body of a stub: init says it started; a function given a list logs how many; the rest is left to fill in. */
function body(name: string, iface: WitInterface, f: WitFunction, params: { name: string; type: string }[]): string[] {
  if (f.name === 'init' && params.length === 0) return [`console.info('${name}: started');`];
  const list = params.find((p) => p.type.startsWith('Array<') || p.type.endsWith('Array'));
  const lines = list ? [`console.debug(\`${name}: ${f.name} with \${${list.name}.length} ${list.name}\`);`] : [`// TODO: ${iface.name}.${f.name}`];
  const ret = returnStub(f, iface);
  return ret ? [...lines, ret] : lines;
}

function guestSource(opts: ScaffoldOptions, shared: string): string {
  const pkg = platform();
  const imports: string[] = [];
  const exports: string[] = [];
  for (const qualified of opts.world.exports) {
    if (qualified === 'wasi:http/incoming-handler') {
      imports.push(`import { Fields, type IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam } from 'wasi:http/types@${WASI_VERSION}';`);
      imports.push(`import { encodeUtf8 } from '${shared.replace(/guest\.ts$/, 'utf8.ts')}';`);
      exports.push(httpHandlerStub(opts.name));
      continue;
    }
    const ifaceName = qualified.slice(qualified.indexOf('/') + 1);
    const iface = pkg.definitions.get(ifaceName);
    if (!iface) continue;
    const named = new Set<string>();
    const members: string[] = [];
    for (const f of iface.functions) {
      const params = f.params.map((p) => ({ name: jsName(p.name), type: tsType(p.type, named) }));
      const result = f.result ? tsType(f.result, named) : 'void';
      const lines = body(opts.name, iface, f, params);
      const used = lines.join('\n');
      const signature = params.map((p) => `${used.includes(`\${${p.name}`) ? p.name : `_${p.name}`}: ${p.type}`).join(', ');
      members.push(`${docComment(f.docs, '  ')}  ${jsName(f.name)}(${signature}): ${result} {\n${lines.map((l) => `    ${l}`).join('\n')}\n  },`);
    }
    if (named.size > 0) imports.push(`import type { ${[...named].sort().join(', ')} } from '${qualified}@${pkg.version}';`);
    exports.push(`${docComment(iface.docs, '')}export const ${jsName(ifaceName)} = {\n${members.join('\n')}\n};`);
  }
  return [
    `// ${opts.name}: a module of world "${opts.world.name}" (wit/worlds.wit), generated by \`edgehost new\`.`,
    '// Every export of the world has a stub below; fill them in. The host calls them one at a time.',
    ...imports,
    `import { installConsole } from '${shared}';`,
    '',
    '// console.* goes to the host log, tagged with the module name.',
    'installConsole();',
    '',
    exports.join('\n\n'),
    '',
  ].join('\n');
}

/** wasi:http/incoming-handler is not in the platform's WIT: its stub answers every request with a line of text. */
function httpHandlerStub(name: string): string {
  return `/** Called for each HTTP request routed to this module (grants.http.routes); route on request.pathWithQuery(). */
export const incomingHandler = {
  handle(request: IncomingRequest, out: ResponseOutparam): void {
    const body = encodeUtf8(\`${name}: \${request.method().tag.toUpperCase()} \${request.pathWithQuery() ?? '/'}\\n\`);
    const response = new OutgoingResponse(
      Fields.fromList([
        ['content-type', encodeUtf8('text/plain; charset=utf-8')],
        ['content-length', encodeUtf8(String(body.length))],
      ]),
    );
    response.setStatusCode(200);
    const outgoing = response.body();
    ResponseOutparam.set(out, { tag: 'ok', val: response });
    const stream = outgoing.write();
    // Up to 4096 bytes at a time: write larger bodies in pieces.
    stream.blockingWriteAndFlush(body);
    // The stream is a child of the body: dropped before the body is finished.
    stream[Symbol.dispose]();
    OutgoingBody.finish(outgoing, undefined);
  },
};`;
}

/** A module entry that grants what the world imports, so the link-time gate lets it in. */
export function deployEntry(name: string, world: World): Record<string, unknown> {
  const entry: Record<string, unknown> = { world: world.name, grants: {}, subscriptions: [], config: {} };
  for (const cap of capabilitiesOf(world.imports)) {
    // WASI capabilities (the filesystem) need no grant: without one the sandbox answers them with nothing.
    if (!cap.grantKey || cap.interfaces.every((i) => i.startsWith('wasi:'))) continue;
    for (const flag of cap.flags ?? []) if (flag.example !== undefined) flag.apply(entry, [flag.example]);
    const grants = entry.grants as Record<string, unknown>;
    if (grants[cap.grantKey] === undefined && cap.grantKey === 'pubsub') {
      // Its own topic space: what it publishes and what it receives.
      grants.pubsub = { publish: [`${name}/#`], subscribe: [`${name}/#`] };
      entry.subscriptions = [`${name}/#`];
    }
  }
  return entry;
}

function testSource(opts: ScaffoldOptions, support: string): string {
  const n = opts.name;
  return `// ${n}: starts in a real host (in this process) with the entry of modules/${n}/deploy.json and
// handles a message published to its topics. Generated by \`edgehost new\`; needs \`npm run build\` first.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startHost } from '${support}';

const root = new URL('../../../', import.meta.url).pathname;
const entry = JSON.parse(readFileSync(\`\${root}modules/${n}/deploy.json\`, 'utf8'));

test('${n} starts and handles a message', async () => {
  const h = await startHost({ '${n}': { ...entry, component: \`\${root}build/modules/${n}.wasm\` } });
  try {
    assert.equal(h.host.modules.get('${n}')?.state, 'ready');
    const queue = h.host.bus.subscriber('${n}');
    assert.ok(queue, 'the module has a queue on the bus');
    h.host.bus.publish('${n}/hello', new TextEncoder().encode('hello'));
    await queue.idle();
    assert.equal(queue.stats().delivered, 1);
    assert.equal(queue.stats().failedDeliveries, 0);
  } finally {
    await h.stop();
  }
});
`;
}

function readme(opts: ScaffoldOptions, entry: Record<string, unknown>): string {
  const n = opts.name;
  return `# ${n}

A module of world \`${opts.world.name}\`, generated by \`edgehost new ${n} --world ${opts.world.name}\`.

- \`src/index.ts\`: one stub per function the world exports. [docs/writing-a-module.md](../../docs/writing-a-module.md)
  says what each may do.
- \`module.json\`: the world and the defaults of the module's config.
- \`deploy.json\`: the entry to deploy it with. It grants ${Object.keys(entry.grants as object).join(' and ') || 'nothing'};
  adjust the grants to what the module really needs.

\`\`\`sh
npm run build                                       # -> build/modules/${n}.wasm
npm exec -- node --test test/modules/${n}/module.test.ts
npm exec -- edgehost deploy ${n} build/modules/${n}.wasm --module modules/${n}/deploy.json
\`\`\`
`;
}

/** Every file to write, by absolute path. */
export function scaffold(opts: ScaffoldOptions): Map<string, string> {
  const moduleDir = join(opts.root, 'modules', opts.name);
  const testDir = join(opts.root, 'test', 'modules', opts.name);
  const rel = (from: string, to: string) => {
    const r = relative(from, to);
    return r.startsWith('.') ? r : `./${r}`;
  };
  const shared = rel(join(moduleDir, 'src'), join(opts.repo, 'modules', 'shared', 'guest.ts'));
  const support = rel(testDir, join(opts.repo, 'test', 'support', 'in-process-host.ts'));
  const entry = deployEntry(opts.name, opts.world);
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  return new Map([
    [join(moduleDir, 'module.json'), json({ world: opts.world.name, config: {} })],
    [join(moduleDir, 'src', 'index.ts'), guestSource(opts, shared)],
    [join(moduleDir, 'deploy.json'), json(entry)],
    [join(moduleDir, 'README.md'), readme(opts, entry)],
    [join(testDir, 'module.test.ts'), testSource(opts, support)],
  ]);
}
