// The checks scripts/build-modules.ts runs on a guest before componentizing it, so that a mistake
// is reported at build time, in the module author's terms, rather than as a trap in QuickJS:
//
// 1. Export shape: the bundle is loaded in a bare V8 context (no Node or Web APIs, WIT imports
//    replaced by stubs that throw if called), and every interface the world exports must be there,
//    as an object with a function of the right JavaScript name and at most the WIT parameters.
// 2. Type check: the guest's sources against the declarations `jco guest-types` generated for its
//    world (build/guest-types/<world>/), plus a generated file that types the guest's exports
//    against the world's and checks that exports whose WIT result is `result<_, E>` return nothing.
//    tsc runs in a child process (TypeScript 7 is a native program); this module writes its input
//    and explains its output.

import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import vm from 'node:vm';
import { transform } from 'esbuild';
import {
  findInterface,
  formatFunction,
  formatType,
  jsName,
  resolveType,
  type WitFunction,
  type WitInterface,
  type WitPackage,
  type WitType,
  type WitTypeDef,
  type World,
} from '../host/components/wit.ts';

/** One finding, as the build prints it: `file:line:col: message` and a line saying what to do. */
export interface Problem {
  file: string;
  line?: number;
  col?: number;
  message: string;
  fix?: string;
}

/** A path for messages: relative to `cwd` when under it, else absolute. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

export function formatProblem(p: Problem, cwd = process.cwd()): string {
  const at = `${displayPath(p.file, cwd)}${p.line ? `:${p.line}${p.col ? `:${p.col}` : ''}` : ''}`;
  return `${at}: ${p.message}${p.fix ? `\n  fix: ${p.fix}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// what a world expects a guest to export

export interface ExpectedFunction {
  wit: WitFunction;
  /** "onTick" */
  jsName: string;
  /** "onTick(id: u32)": JavaScript name, WIT parameter types with aliases resolved */
  signature: string;
  /** A TypeScript skeleton: "onTick(id: number): void {}" */
  skeleton: string;
  /** Returns nothing in JavaScript although WIT has a result: `result<_, E>` (ok is returning, err is throwing). */
  resultByThrowing: boolean;
}

export interface ExpectedExport {
  iface: WitInterface;
  /** "edgehost:platform/timer-handler" */
  qualifiedName: string;
  /** "timerHandler" */
  jsName: string;
  functions: ExpectedFunction[];
}

/** The exports `world` asks of a guest; every exported interface must be defined in one of `packages`. */
export function expectedExports(world: World, packages: WitPackage[]): ExpectedExport[] {
  return world.exports.map((q) => {
    const iface = findInterface(packages, q);
    if (!iface) throw new Error(`world "${world.name}" exports ${q}, whose WIT the build does not read (it reads ${packages.map((p) => p.name).join(', ')})`);
    return {
      iface,
      qualifiedName: q,
      jsName: jsName(iface.name),
      functions: iface.functions.map((f) => ({
        wit: f,
        jsName: jsName(f.name),
        signature: `${jsName(f.name)}(${f.params.map((p) => `${jsName(p.name)}: ${witTypeName(packages, iface, p.type)}`).join(', ')})`,
        skeleton: `${jsName(f.name)}(${f.params.map((p) => `${jsName(p.name)}: ${tsTypeName(packages, iface, p.type)}`).join(', ')}): ${tsReturn(packages, iface, f.result)} {}`,
        resultByThrowing: f.result?.kind === 'result' && !f.result.ok,
      })),
    };
  });
}

/** A WIT type for messages: aliases of primitives resolved ("timer-id" -> "u32"), other names kept. */
function witTypeName(packages: WitPackage[], iface: WitInterface, t: WitType): string {
  const r = resolveType(packages, iface, t);
  if ('fields' in r || 'cases' in r || 'flags' in r) return (r as WitTypeDef).name;
  return formatType(r as WitType);
}

const pascal = (name: string) => jsName(name).replace(/^[a-z]/, (c) => c.toUpperCase());

/** The TypeScript type a QuickJS guest sees for a WIT type (for skeletons in messages). */
function tsTypeName(packages: WitPackage[], iface: WitInterface, t: WitType): string {
  const r = resolveType(packages, iface, t);
  if ('fields' in r || 'cases' in r || 'flags' in r) {
    const def = r as WitTypeDef;
    return def.kind === 'enum' ? def.cases.map((c) => `'${c}'`).join(' | ') : pascal(def.name);
  }
  const s = r as WitType;
  switch (s.kind) {
    case 'primitive':
      return s.name === 'bool' ? 'boolean' : s.name === 'string' || s.name === 'char' ? 'string' : 'number';
    case 'list':
      return formatType(s.element) === 'u8' ? 'Uint8Array' : `${tsTypeName(packages, iface, s.element)}[]`;
    case 'option':
      return `${tsTypeName(packages, iface, s.some)} | null`;
    case 'tuple':
      return `[${s.elements.map((e) => tsTypeName(packages, iface, e)).join(', ')}]`;
    case 'result':
      return `{ tag: 'ok' | 'err'; val?: unknown }`;
    case 'named':
      return pascal(s.name);
  }
}

function tsReturn(packages: WitPackage[], iface: WitInterface, t: WitType | undefined): string {
  if (!t) return 'void';
  if (t.kind === 'result') return t.ok ? tsTypeName(packages, iface, t.ok) : 'void';
  return tsTypeName(packages, iface, t);
}

// ---------------------------------------------------------------------------------------------
// 1. export shape

const describeValue = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);

/** Where `exportName` (and, within it, `member`) is defined in `source`, best effort. */
export function locate(source: string, exportName: string, member?: string): { line: number; col: number } | undefined {
  const lines = source.split('\n');
  const decl = new RegExp(`\\bexport\\s+(?:const|let|var|function|class)\\s+(${exportName})\\b`);
  const listed = new RegExp(`\\bexport\\s*\\{[^}]*\\b(${exportName})\\b`);
  let at = lines.findIndex((l) => decl.test(l));
  if (at < 0) at = lines.findIndex((l) => listed.test(l));
  if (at < 0) return undefined;
  const m = decl.exec(lines[at]) ?? listed.exec(lines[at]);
  const found = { line: at + 1, col: (m?.index ?? 0) + 1 };
  if (!member) return found;
  const def = new RegExp(`^\\s*(?:async\\s+)?(${member})\\s*(?:\\(|:|=)`);
  for (let i = at + 1; i < lines.length; i++) {
    if (/^(?:export\s|\}\s*;?\s*$)/.test(lines[i])) break; // the next export, or the end of this one
    if (def.test(lines[i])) return { line: i + 1, col: lines[i].search(/\S/) + 1 };
  }
  return found;
}

/**
 * Loads the guest's ES module bundle in a fresh V8 context with no Node or Web APIs, as
 * componentize-qjs does at build time (it pre-initialises the module with no host): WIT imports
 * are stubs that throw when called. Returns the module's exports.
 */
export async function loadGuestExports(bundle: string, filename: string): Promise<Record<string, unknown>> {
  const cjs = await transform(bundle, { format: 'cjs', loader: 'js', target: 'es2022', logLevel: 'silent' });
  const stubs = (specifier: string) =>
    new Proxy(
      {},
      {
        get(_target, key) {
          if (typeof key !== 'string' || key === '__esModule' || key === 'then') return undefined;
          return function witImportStub() {
            throw new Error(
              `${specifier} ${key}() was called while the module was loading; WIT imports can be called from lifecycle.init on, not at the top level`,
            );
          };
        },
      },
    );
  const module = { exports: {} as Record<string, unknown> };
  const context = vm.createContext({ __edgehostRequire: stubs, __edgehostModule: module });
  // V8 gives every context a `console` and `WebAssembly`; QuickJS has neither.
  vm.runInContext('delete globalThis.console; delete globalThis.WebAssembly;', context);
  vm.runInContext(`(function (require, module, exports) {\n${cjs.code}\n})(__edgehostRequire, __edgehostModule, __edgehostModule.exports);`, context, {
    filename,
    timeout: 5000,
  });
  return module.exports;
}

/** Compares a guest's exports with what its world expects. `entry` and `source` locate the findings. */
export function checkExportShape(guestExports: Record<string, unknown>, expected: ExpectedExport[], worldName: string, entry: string): Problem[] {
  const source = readFileSync(entry, 'utf8');
  const problems: Problem[] = [];
  const at = (exportName: string, member?: string) => ({ file: entry, ...locate(source, exportName, member) });
  const exported = Object.keys(guestExports);
  for (const e of expected) {
    const witIface = e.iface.name;
    const value = guestExports[e.jsName];
    const members = e.functions.map((f) => f.signature).join(', ');
    if (value === undefined) {
      problems.push({
        ...at(e.jsName),
        message: `world "${worldName}" exports ${witIface}: export ${e.jsName}, an object with ${members} (found no export ${e.jsName}; the module exports ${exported.length ? exported.join(', ') : 'nothing'})`,
        fix: `add: export const ${e.jsName} = { ${e.functions.map((f) => f.skeleton).join(', ')} };`,
      });
      continue;
    }
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
      problems.push({
        ...at(e.jsName),
        message: `world "${worldName}" exports ${witIface}: export ${e.jsName} must be an object with ${members} (found ${describeValue(value)})`,
        fix: `export const ${e.jsName} = { ${e.functions.map((f) => f.skeleton).join(', ')} };`,
      });
      continue;
    }
    const obj = value as Record<string, unknown>;
    const expectedNames = new Set(e.functions.map((f) => f.jsName));
    const strays = memberNames(obj).filter((n) => !expectedNames.has(n) && typeof obj[n] === 'function');
    for (const f of e.functions) {
      const fn = obj[f.jsName];
      const what = `world "${worldName}" exports ${witIface}.${f.wit.name}`;
      if (typeof fn !== 'function') {
        const found =
          fn === undefined
            ? strays.length
              ? strays.map((s) => `${e.jsName}.${s}`).join(', ')
              : `no ${e.jsName}.${f.jsName}`
            : `${e.jsName}.${f.jsName} is ${describeValue(fn)}`;
        const missing = e.functions.filter((x) => typeof obj[x.jsName] !== 'function');
        problems.push({
          ...at(e.jsName, fn === undefined && strays.length === 1 && missing.length === 1 ? strays[0] : f.jsName),
          message: `${what}: export ${e.jsName} with a function ${f.signature} (found ${found})`,
          fix:
            fn === undefined && strays.length === 1 && missing.length === 1
              ? `rename ${e.jsName}.${strays[0]} to ${f.jsName} (WIT ${f.wit.name} is ${f.jsName} in JavaScript)`
              : `add to ${e.jsName}: ${f.skeleton}`,
        });
        continue;
      }
      const fnc = fn as (...args: unknown[]) => unknown;
      if (fnc.constructor?.name === 'AsyncFunction' || fnc.constructor?.name === 'AsyncGeneratorFunction') {
        problems.push({
          ...at(e.jsName, f.jsName),
          message: `${what}: ${e.jsName}.${f.jsName} is async, but guests are built synchronous: the host takes the call as done when the function returns, and the Promise is dropped`,
          fix: `make ${f.jsName} a plain function (no async/await)`,
        });
      } else if (fnc.length > f.wit.params.length) {
        const n = f.wit.params.length;
        problems.push({
          ...at(e.jsName, f.jsName),
          message: `${what}: ${e.jsName}.${f.jsName} takes ${fnc.length} parameters, but the host passes ${n === 0 ? 'none' : n === 1 ? 'one' : n}: ${f.signature} (WIT ${formatFunction(f.wit)})`,
          fix: `declare ${f.jsName} with the WIT parameters: ${f.skeleton}`,
        });
      }
    }
  }
  return problems;
}

/** Own and prototype (class instance) member names, without Object.prototype's. */
function memberNames(obj: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = obj; o && o !== Object.prototype && Object.getPrototypeOf(o) !== null; o = Object.getPrototypeOf(o)) {
    for (const n of Object.getOwnPropertyNames(o)) if (n !== 'constructor') names.add(n);
  }
  for (const n of Object.getOwnPropertyNames(obj)) names.add(n);
  return [...names];
}

// ---------------------------------------------------------------------------------------------
// 2. type check

/** What a line of the generated exports check stands for, to explain an error found there. */
export type CheckLine = { kind: 'export'; exp: ExpectedExport } | { kind: 'returns'; exp: ExpectedExport; fn: ExpectedFunction };

/**
 * The generated file that types the guest's exports against the world's declarations, one line
 * per check. `worldModule` is the world's module in the generated declarations
 * ("edgehost:platform/telemetry@0.1.0"); `entryImport` the guest's entry, relative to the file.
 */
export function exportsCheckSource(expected: ExpectedExport[], worldModule: string, entryImport: string): { text: string; lines: Map<number, CheckLine> } {
  const out = [
    '// Generated by scripts/build-modules.ts: the exports of a guest, typed against its world.',
    `import type * as Guest from ${JSON.stringify(entryImport)};`,
    `import type * as World from ${JSON.stringify(worldModule)};`,
    'type Returns<F> = F extends (...args: never[]) => infer R ? R : never;',
    'type ReturnsNothing<R> = [R] extends [void | undefined] ? true : false;',
    'declare const guest: typeof Guest;',
  ];
  const lines = new Map<number, CheckLine>();
  for (const exp of expected) {
    out.push(`export const ${exp.jsName}: typeof World.${exp.jsName} = guest.${exp.jsName};`);
    lines.set(out.length, { kind: 'export', exp });
    for (const fn of exp.functions) {
      if (!fn.resultByThrowing) continue;
      out.push(`export const ${exp.jsName}_${fn.jsName}_returnsNothing: ReturnsNothing<Returns<typeof guest.${exp.jsName}.${fn.jsName}>> = true;`);
      lines.set(out.length, { kind: 'returns', exp, fn });
    }
  }
  return { text: `${out.join('\n')}\n`, lines };
}

/** The compiler options the build checks guests with (modules/tsconfig.json has the same). */
export const guestCompilerOptions = {
  target: 'es2022',
  lib: ['es2023', 'esnext.disposable'],
  types: [],
  module: 'preserve',
  moduleResolution: 'bundler',
  resolveJsonModule: true,
  allowImportingTsExtensions: true,
  verbatimModuleSyntax: true,
  erasableSyntaxOnly: true,
  strict: true,
  noEmit: true,
  skipLibCheck: true,
};

export interface Diagnostic {
  /** Absolute; absent for errors about the whole program */
  file?: string;
  line?: number;
  col?: number;
  code: string;
  /** The message with its indented continuation lines */
  text: string;
}

/** tsc's `--pretty false` output: diagnostics, and (with `--listFiles`) the files of the program. */
export function parseTscOutput(output: string, cwd: string): { diagnostics: Diagnostic[]; files: string[] } {
  const diagnostics: Diagnostic[] = [];
  const files: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.trim()) continue;
    const located = /^(.+)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    const global = /^error (TS\d+): (.*)$/.exec(line);
    const last = diagnostics[diagnostics.length - 1];
    if (located) diagnostics.push({ file: resolve(cwd, located[1]), line: Number(located[2]), col: Number(located[3]), code: located[4], text: located[5] });
    else if (global) diagnostics.push({ code: global[1], text: global[2] });
    else if (/^\s/.test(line) && last) last.text += `\n${line.replace(/^\s+/, (s) => '  '.repeat(Math.ceil(s.length / 2)))}`;
    else if (isAbsolute(line.trim())) files.push(line.trim());
    else if (last) last.text += `\n  ${line}`;
  }
  return { diagnostics, files };
}

/** What to do about a TypeScript error that new module authors meet, if it is one of those. */
function hintFor(d: Diagnostic, world: World): string | undefined {
  const t = d.text;
  if (/'bigint'/.test(t) && /'number'/.test(t)) {
    return 'WIT integers (u8 to u64, s8 to s64) are plain numbers in QuickJS guests, never BigInt: write 1000, not 1000n (a BigInt traps the module when the call is made)';
  }
  const mod = /Cannot find module '([^']+)'/.exec(t)?.[1];
  if (mod && /^[a-z-]+:[a-z-]+\//.test(mod)) {
    const imports = world.imports.filter((i) => i.startsWith('edgehost:'));
    return `world "${world.name}" does not import ${mod.replace(/@[^@/]*$/, '')}; it imports ${imports.join(', ')}. Import only those, or set another world in module.json`;
  }
  if (mod?.startsWith('node:'))
    return 'guests have no Node APIs: modules/shared has a UTF-8 codec, a console and config getters; the host interfaces are in wit/';
  return missingApiHint(/Cannot find name '([^']+)'/.exec(t)?.[1]);
}

/** What to use instead of a Node or Web API that QuickJS guests do not have, if `name` is one. */
export function missingApiHint(name: string | undefined): string | undefined {
  const apis: Record<string, string> = {
    TextEncoder: 'use encodeUtf8 from modules/shared/utf8.ts',
    TextDecoder: 'use decodeUtf8 (or decodeUtf8Strict) from modules/shared/utf8.ts',
    setTimeout: 'use after() from edgehost:platform/timer and handle the tick in timerHandler.onTick',
    setInterval: 'use every() from edgehost:platform/timer and handle the ticks in timerHandler.onTick',
    fetch: 'use send() from edgehost:platform/outbound-http (world "gateway")',
    console: 'call installConsole() from modules/shared/guest.ts first, or use log() from edgehost:platform/logging',
    process: 'read settings with readConfig() from modules/shared/guest.ts (the host gives no environment)',
    Buffer: 'use Uint8Array, and modules/shared/utf8.ts for text',
    URL: 'parse the URL text yourself (QuickJS has no URL)',
    performance: 'use nowMs() from edgehost:platform/timer',
  };
  if (name && Object.hasOwn(apis, name)) return `QuickJS guests have no Node or Web APIs: ${apis[name]}`;
  return undefined;
}

/** Turns tsc's diagnostics for one guest into problems in the author's terms. */
export function explainDiagnostics(
  diagnostics: Diagnostic[],
  ctx: { entry: string; checkFile: string; lines: Map<number, CheckLine>; world: World },
): Problem[] {
  const source = readFileSync(ctx.entry, 'utf8');
  return diagnostics.map((d) => {
    const check = d.file === ctx.checkFile && d.line ? ctx.lines.get(d.line) : undefined;
    if (check?.kind === 'export') {
      const { exp } = check;
      return {
        file: ctx.entry,
        ...locate(source, exp.jsName),
        message: `error ${d.code}: export ${exp.jsName} does not fit WIT interface ${exp.iface.name} of world "${ctx.world.name}": ${d.text}`,
        fix: `give ${exp.jsName} the functions the WIT declares, with its parameter and result types: ${exp.functions.map((f) => f.skeleton).join(', ')}`,
      };
    }
    if (check?.kind === 'returns') {
      const { exp, fn } = check;
      return {
        file: ctx.entry,
        ...locate(source, exp.jsName, fn.jsName),
        message: `${exp.jsName}.${fn.jsName} returns a value; for WIT ${formatFunction(fn.wit)} a QuickJS guest returns nothing (ok) or throws (err), and a returned value is ignored: { tag: 'err', ... } would count as ok`,
        fix: `end ${fn.jsName} without a value for ok; for err, throw new Error('why') (its message becomes the error string)`,
      };
    }
    if (d.file === ctx.checkFile) return { file: ctx.entry, message: `error ${d.code} in the exports check: ${d.text}` };
    return { file: d.file ?? ctx.entry, line: d.line, col: d.col, message: `error ${d.code}: ${d.text}`, fix: hintFor(d, ctx.world) };
  });
}
