// The WIT reader (host/components/wit.ts): what it reads from wit/ and test/fixtures/wit, the
// signatures the build's export check relies on, and the errors it gives for WIT it does not read.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  findInterface,
  formatFunction,
  formatType,
  jsName,
  parseWit,
  platform,
  readWitPackage,
  resolveType,
  type WitInterface,
  WitSyntaxError,
  wasiPackage,
  wasiWorld,
} from '../../../host/components/wit.ts';
import { tempDir, testWit } from '../../support/paths.ts';

const iface = (name: string): WitInterface => {
  const i = platform().definitions.get(name);
  assert.ok(i, `interface ${name}`);
  return i;
};
const fn = (ifaceName: string, name: string) => {
  const f = iface(ifaceName).functions.find((x) => x.name === name);
  assert.ok(f, `${ifaceName}.${name}`);
  return f;
};

/** Asserts that reading `source` fails with a WitSyntaxError whose message matches every pattern. */
function rejects(source: string, ...patterns: RegExp[]) {
  assert.throws(
    () => parseWit(source, 'test.wit'),
    (e: unknown) => {
      assert.ok(e instanceof WitSyntaxError, `expected a WitSyntaxError, got ${String(e)}`);
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
}

describe('the platform package (wit/)', () => {
  test('keeps the API the host uses: name, version, function names per interface, worlds with qualified unversioned names', () => {
    const p = platform();
    assert.equal(p.name, 'edgehost:platform');
    assert.equal(p.version, '0.1.0');
    assert.deepEqual(p.interfaces.get('timer'), ['after', 'every', 'cancel', 'now-ms']);
    assert.deepEqual(p.interfaces.get('types'), []);
    assert.deepEqual(p.worlds.get('telemetry'), {
      name: 'telemetry',
      imports: [
        'edgehost:platform/logging',
        'edgehost:platform/config',
        'edgehost:platform/pubsub',
        'edgehost:platform/timer',
        'edgehost:platform/key-value',
        'edgehost:platform/metrics',
        'wasi:filesystem/preopens',
        'wasi:filesystem/types',
      ],
      exports: ['edgehost:platform/lifecycle', 'edgehost:platform/message-handler', 'edgehost:platform/timer-handler'],
      docs: 'A sensor reader: publishes readings on a timer.',
    });
    assert.deepEqual([...p.worlds.keys()], ['telemetry', 'gateway', 'server', 'http-service']);
  });

  test('reads function signatures: parameter names and types, and the result type', () => {
    assert.equal(formatFunction(fn('lifecycle', 'init')), 'init: func() -> result<_, string>');
    assert.equal(formatFunction(fn('pubsub', 'publish')), 'publish: func(topic: string, payload: list<u8>) -> result<_, host-error>');
    assert.equal(formatFunction(fn('socket', 'listen')), 'listen: func(address: string, websocket-subprotocol: option<string>) -> result<_, host-error>');
    assert.equal(formatFunction(fn('config', 'get-all')), 'get-all: func() -> list<tuple<string, string>>');
    assert.equal(formatFunction(fn('timer-handler', 'on-tick')), 'on-tick: func(id: timer-id)');
    assert.equal(fn('timer', 'cancel').result, undefined);
    assert.match(fn('timer', 'now-ms').docs ?? '', /Milliseconds since the Unix epoch/);
  });

  test('reads records, variants and enums, and follows aliases through "use" to what a type is', () => {
    const onTickId = fn('timer-handler', 'on-tick').params[0].type;
    assert.deepEqual(resolveType([platform()], iface('timer-handler'), onTickId), { kind: 'primitive', name: 'u32' });

    const message = resolveType([platform()], iface('message-handler'), { kind: 'named', name: 'message' });
    assert.equal(message.kind, 'record');
    assert.deepEqual(message.kind === 'record' && message.fields.map((f) => `${f.name}: ${formatType(f.type)}`), [
      'topic: string',
      'payload: list<u8>',
      'published-at: timestamp-ms',
    ]);
    assert.deepEqual(resolveType([platform()], iface('pubsub'), { kind: 'named', name: 'timestamp-ms' }), { kind: 'primitive', name: 'u64' });

    const event = iface('socket-handler').types.get('event');
    assert.equal(event?.kind, 'variant');
    assert.deepEqual(event?.kind === 'variant' && event.cases.map((c) => (c.type ? `${c.name}(${formatType(c.type)})` : c.name)), [
      'opened(connection-info)',
      'data(tuple<connection-id, list<u8>>)',
      'closed(connection-id)',
    ]);
    const error = iface('outbound-http').types.get('error');
    assert.ok(error?.kind === 'variant' && error.cases.some((c) => c.name === 'timeout' && c.type === undefined));
    assert.deepEqual(iface('logging').types.get('level'), {
      kind: 'enum',
      name: 'level',
      cases: ['trace', 'debug', 'info', 'warn', 'error'],
      docs: "Severity, in increasing order. Lines below the host's `--log-level` are dropped.",
    });
  });
});

test('a world importing other packages by qualified, versioned name (the probe fixture) keeps the names without version', () => {
  const probe = readWitPackage(testWit);
  assert.equal(probe.name, 'edgehost:test');
  const world = probe.worlds.get('probe');
  assert.ok(world);
  assert.ok(world.imports.includes('edgehost:platform/socket'));
  assert.ok(world.imports.includes('wasi:http/types'), 'the -probe prerelease version is dropped too');
  assert.ok(world.exports.includes('edgehost:platform/timer-handler'));
  assert.equal(findInterface([platform(), probe], 'edgehost:platform/lifecycle@0.1.0'), iface('lifecycle'));
  assert.equal(findInterface([platform(), probe], 'wasi:cli/environment'), undefined);
});

test('the .wit files of a folder are one package: the declaration may be in any one of them', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'deps'));
  writeFileSync(join(dir, 'a.wit'), 'interface a { use b.{t}; f: func(x: t); }\nworld w { export a; }\n');
  writeFileSync(join(dir, 'b.wit'), 'package my:pkg;\ninterface b { type t = u8; }\n');
  writeFileSync(join(dir, 'deps', 'ignored.wit'), 'this is not read');
  const p = readWitPackage(dir);
  assert.equal(p.name, 'my:pkg');
  assert.equal(p.version, '');
  assert.deepEqual(p.worlds.get('w')?.exports, ['my:pkg/a']);
  assert.deepEqual(resolveType([p], p.definitions.get('a') as WitInterface, { kind: 'named', name: 't' }), { kind: 'primitive', name: 'u8' });
});

test('reads flags, tuples, bare and ok-only results, %-escaped names, "use ... as" and nested block comments', () => {
  const p = parseWit(`
    package a:b@1.2.3-rc.1;
    /* outer /* nested */ still a comment */
    interface i {
      use j.{thing as other};
      flags perms { read, write, }
      %type: func(%record: tuple<u8, string>, p: perms) -> result;
      g: func(o: other) -> result<u32>;
    }
    interface j { type thing = option<list<u8>>; }
    world w { import j; export i; }
  `);
  assert.equal(p.version, '1.2.3-rc.1');
  const i = p.definitions.get('i') as WitInterface;
  assert.deepEqual(i.types.get('perms'), { kind: 'flags', name: 'perms', flags: ['read', 'write'], docs: undefined });
  assert.deepEqual(i.functions.map(formatFunction), ['type: func(record: tuple<u8, string>, p: perms) -> result', 'g: func(o: other) -> result<u32>']);
  assert.deepEqual(resolveType([p], i, { kind: 'named', name: 'other' }), {
    kind: 'option',
    some: { kind: 'list', element: { kind: 'primitive', name: 'u8' } },
  });
});

describe('WIT it does not read is an error naming the file, line and column, never a misreading', () => {
  const pkg = 'package a:b;\n';
  test('resources and handles', () => {
    rejects(`${pkg}interface i {\n  resource r;\n}`, /^test\.wit:3:3: resources are not supported/);
    rejects(`${pkg}interface i { f: func(x: borrow<r>); }`, /test\.wit:2:26: resource handles \(borrow<\.\.\.>\) are not supported/);
  });
  test('async functions, streams and futures', () => {
    rejects(`${pkg}interface i { f: async func(); }`, /test\.wit:2:18: async functions are not supported/);
    rejects(`${pkg}interface i { f: func() -> stream<u8>; }`, /streams are not supported/);
    rejects(`${pkg}interface i { f: func(x: future<u8>); }`, /futures are not supported/);
  });
  test('feature gates', () => {
    rejects(`${pkg}@since(version = 0.2.0)\ninterface i {}`, /test\.wit:2:1: "@since": feature gates/);
    rejects(`${pkg}world w {\n  @unstable(feature = x)\n  import i;\n}\ninterface i {}`, /test\.wit:3:3: "@unstable": feature gates/);
  });
  test('include of a missing world, include with renames, world-level functions and inline interfaces, types in worlds', () => {
    rejects(`${pkg}world w { include other; }`, /test\.wit:2:1: world w includes "other", which is not a world of test\.wit/);
    rejects(`${pkg}world w { include a:b/c; }`, /includes "a:b\/c", which is not a WASI world in jco's WASI WIT/);
    rejects(`${pkg}world v {}\nworld w { include v with { x as y }; }`, /test\.wit:3:21: "include \.\.\. with \{ \.\.\. \}" \(renaming\) is not supported/);
    rejects(`${pkg}world v { include w; }\nworld w { include v; }`, /world v includes itself \(v -> w -> v\)/);
    rejects(`${pkg}world w { import f: func(); }`, /world-level functions and inline interfaces/);
    rejects(`${pkg}world w { export x: interface { f: func(); } }`, /world-level functions and inline interfaces/);
    rejects(`${pkg}world w { type t = u8; }`, /"type" in a world is not supported/);
  });
  test('named results, nested packages, a top-level use', () => {
    rejects(`${pkg}interface i { f: func() -> (a: u8, b: u8); }`, /named results/);
    rejects('package a:b { interface i {} }', /nested package blocks/);
    rejects(`${pkg}use a:c/d.{t};`, /top-level "use" is not supported/);
  });
  test('references to things that do not exist', () => {
    rejects(`${pkg}interface i { f: func(x: nope); }`, /interface i \(a:b\): function f refers to type "nope"/);
    rejects(`${pkg}world w { export missing; }`, /world w refers to interface "missing", which test\.wit does not define/);
    rejects(`${pkg}interface i { use j.{t}; }\ninterface j {}`, /interface j has no type t/);
    rejects(`${pkg}interface i { use k.{t}; }`, /"use a:b\/k" names an interface this package does not define/);
  });
  test('duplicates, a missing or conflicting package, stray characters', () => {
    rejects(`${pkg}interface i { type t = u8; type t = u16; }`, /"t" is defined twice in interface i/);
    rejects(`${pkg}interface i {}\ninterface i {}`, /test\.wit:3:1: interface i is already defined at test\.wit:2:1/);
    rejects('interface i {}', /no "package" declaration in test\.wit/);
    rejects(`${pkg}interface i { f: func(x: u8) -> u8 }`, /test\.wit:2:36: expected ";", found "}"/);
    rejects(`${pkg}interface i { f: func(x: u8#); }`, /unexpected character "#"/);
    rejects(`${pkg}/* never closed`, /unterminated block comment/);
  });
});

test('a world includes the imports and exports of local worlds and of WASI worlds, each once', () => {
  const p = parseWit(`
    package a:b;
    interface i {}
    interface j {}
    world base { import i; export j; }
    world w { include base; include wasi:http/proxy@0.2.12; import i; }
  `);
  const w = p.worlds.get('w');
  assert.ok(w);
  assert.deepEqual(w.exports, ['a:b/j', 'wasi:http/incoming-handler']);
  assert.deepEqual(
    w.imports.filter((x) => x.startsWith('a:b/')),
    ['a:b/i'],
  );
  assert.ok(w.imports.includes('wasi:http/outgoing-handler'));
});

describe("the standard WASI packages (jco's copy of their WIT)", () => {
  test('wasi:http/proxy is read with its included world: the imports of wasi:http/imports and the incoming handler', () => {
    assert.deepEqual(wasiWorld('wasi:http/proxy@0.2.12'), {
      name: 'wasi:http/proxy',
      imports: [
        'wasi:clocks/monotonic-clock',
        'wasi:clocks/wall-clock',
        'wasi:random/random',
        'wasi:cli/stdout',
        'wasi:cli/stderr',
        'wasi:cli/stdin',
        'wasi:http/outgoing-handler',
      ],
      exports: ['wasi:http/incoming-handler'],
      docs: undefined,
    });
    assert.equal(wasiWorld('wasi:http/nope'), undefined);
    assert.equal(wasiWorld('wasi:nope/proxy'), undefined);
    assert.equal(wasiWorld('edgehost:platform/gateway'), undefined);
  });

  test('an interface made of resources is kept opaque with the reason; a readable one is read, its uses of the opaque one kept as names', () => {
    const http = wasiPackage('wasi:http');
    assert.match(http.opaque.get('types') ?? '', /package\.wit:\d+:\d+: resource handles \(borrow<\.\.\.>\) are not supported/);
    const handler = findInterface([http], 'wasi:http/incoming-handler@0.2.12');
    assert.ok(handler);
    assert.deepEqual(handler.functions.map(formatFunction), ['handle: func(request: incoming-request, response-out: response-outparam)']);
    assert.equal(findInterface([http], 'wasi:http/types'), undefined);
  });

  test('every package jco ships is read; items gated @unstable are left out', () => {
    for (const name of ['cli', 'clocks', 'filesystem', 'http', 'io', 'random', 'sockets']) assert.ok(wasiPackage(`wasi:${name}`).worlds.size > 0, name);
    const clocks = wasiPackage('wasi:clocks');
    assert.deepEqual(clocks.worlds.get('imports')?.imports, ['wasi:clocks/monotonic-clock', 'wasi:clocks/wall-clock']);
    assert.match(clocks.opaque.get('timezone') ?? '', /@unstable\(feature = clocks-timezone\): not enabled/);
    assert.ok(wasiWorld('wasi:cli/command')?.exports.includes('wasi:cli/run'));
  });
});

test('jsName spells WIT names the way jco and componentize-qjs do', () => {
  assert.equal(jsName('timer-handler'), 'timerHandler');
  assert.equal(jsName('on-tick'), 'onTick');
  assert.equal(jsName('get-all'), 'getAll');
  assert.equal(jsName('init'), 'init');
  assert.equal(jsName('HTTP-request'), 'httpRequest');
});
