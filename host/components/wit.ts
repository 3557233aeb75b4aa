import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The one WIT reader of edgehost: the host reads its worlds from wit/ with it (so the WIT files
// stay the one source of truth for what each role imports and exports), and
// scripts/build-modules.ts reads worlds and function signatures with it to check guests.
//
// It reads the subset of WIT that edgehost's packages use, from the .wit files directly in one
// folder (one package; `deps/` is not read):
//
//   package ns:name[@version];                 in one file, or the same in several
//   interface name {
//     use iface.{a, b as c};                   iface: a local interface or ns:pkg/iface[@version]
//     type name = T;
//     record name { field: T, ... }
//     variant name { case, case(T), ... }
//     enum name { case, ... }
//     flags name { flag, ... }
//     name: func(param: T, ...) [-> T];
//   }
//   world name {
//     import iface;                            iface: a local interface or ns:pkg/iface[@version]
//     export iface;
//     include world;                           world: a local world or wasi:pkg/world[@version]
//   }
//
//   T: bool, s8, s16, s32, s64, u8, u16, u32, u64, f32, f64, char, string, list<T>, option<T>,
//      result, result<T>, result<_, E>, result<T, E>, tuple<T, ...>, or a type defined in, or
//      used into, the interface.
//
// Comments (`//`, `/* */`) are skipped; `///` doc comments are kept on the item they precede.
// Anything else (resources, own/borrow handles, async functions, streams and futures, feature
// gates such as @since, `include ... with`, world-level functions and types, inline interfaces,
// nested package blocks, named results) is a WitSyntaxError naming the file, line and column and
// what was found: the reader never guesses.
//
// The standard WASI packages (jco's copy of their WIT, `wasiPackage`, `wasiWorld`) are read the
// same way, except that an interface the reader cannot read (wasi:http/types is made of
// resources) is kept as opaque, with the reason, instead of failing the package: their worlds are
// what the host needs (a module may target `wasi:http/proxy`), and the build reads the handful of
// WASI interfaces a platform world exports (`wasi:http/incoming-handler`).

export const witDir = new URL('../../wit/', import.meta.url).pathname;

/** The WASI release whose WIT jco ships and its componentize and transpile use. */
export const WASI_VERSION = '0.2.12';
/** jco's copy of the WASI WIT packages (wasi-cli/, wasi-http/, ...). */
export const wasiWitDir = new URL(`../lib/wit/builtin/${WASI_VERSION}/`, import.meta.resolve('@bytecodealliance/jco')).pathname;

export interface WitPackage {
  /** e.g. "edgehost:platform" */
  name: string;
  /** e.g. "0.1.0"; empty when the package declaration has none */
  version: string;
  /** interface name -> function names (kebab-case, as in WIT) */
  interfaces: Map<string, string[]>;
  worlds: Map<string, World>;
  /** interface name -> everything the reader knows about it */
  definitions: Map<string, WitInterface>;
  /** Interfaces of a WASI package the reader cannot read, with the reason (see `wasiPackage`). */
  opaque: Map<string, string>;
}

export interface World {
  /** As declared ("gateway"), or qualified for a WASI world ("wasi:http/proxy") */
  name: string;
  /** Fully qualified, without version: "edgehost:platform/pubsub"; those of included worlds too */
  imports: string[];
  exports: string[];
  docs?: string;
}

export interface WitInterface {
  /** As in WIT: "timer-handler" */
  name: string;
  /** Its package: "edgehost:platform" */
  package: string;
  /** "edgehost:platform/timer-handler" */
  qualifiedName: string;
  functions: WitFunction[];
  /** Types defined in the interface, by name */
  types: Map<string, WitTypeDef>;
  /** Types brought in by `use`, by local name */
  uses: Map<string, WitUse>;
  docs?: string;
}

export interface WitFunction {
  /** As in WIT: "on-tick" */
  name: string;
  params: WitParam[];
  /** Absent for a function that returns nothing */
  result?: WitType;
  docs?: string;
}

export interface WitParam {
  name: string;
  type: WitType;
}

export interface WitUse {
  /** The interface it comes from, fully qualified without version: "edgehost:platform/types" */
  from: string;
  /** Its name there */
  name: string;
}

export type Primitive = 'bool' | 's8' | 's16' | 's32' | 's64' | 'u8' | 'u16' | 'u32' | 'u64' | 'f32' | 'f64' | 'char' | 'string';

export type WitType =
  | { kind: 'primitive'; name: Primitive }
  | { kind: 'list'; element: WitType }
  | { kind: 'option'; some: WitType }
  | { kind: 'result'; ok?: WitType; err?: WitType }
  | { kind: 'tuple'; elements: WitType[] }
  /** A type defined in, or used into, the interface the reference appears in */
  | { kind: 'named'; name: string };

export type WitTypeDef = { name: string; docs?: string } & (
  | { kind: 'alias'; type: WitType }
  | { kind: 'record'; fields: { name: string; type: WitType; docs?: string }[] }
  | { kind: 'variant'; cases: { name: string; type?: WitType; docs?: string }[] }
  | { kind: 'enum'; cases: string[] }
  | { kind: 'flags'; flags: string[] }
);

/** WIT the reader does not understand, or that refers to something that does not exist. */
export class WitSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WitSyntaxError';
  }
}

const PRIMITIVES = new Set<string>(['bool', 's8', 's16', 's32', 's64', 'u8', 'u16', 'u32', 'u64', 'f32', 'f64', 'char', 'string']);

/** Constructs of full WIT that this reader deliberately does not read, and what to say about them. */
const UNSUPPORTED: Record<string, string> = {
  resource: 'resources are not supported',
  own: 'resource handles (own<...>) are not supported',
  borrow: 'resource handles (borrow<...>) are not supported',
  async: 'async functions are not supported',
  stream: 'streams are not supported',
  future: 'futures are not supported',
  static: 'static functions (of resources) are not supported',
  constructor: 'constructors (of resources) are not supported',
  float32: 'float32 is the old name of f32: write f32',
  float64: 'float64 is the old name of f64: write f64',
  'error-context': 'error-context is not supported',
};

// ---------------------------------------------------------------------------------------------
// tokens

interface Token {
  kind: 'id' | 'punct' | 'version' | 'gate' | 'eof';
  text: string;
  line: number;
  col: number;
  /** `///` lines right before the token */
  docs?: string;
  /** An identifier written with `%` (`%type`): a name, never a keyword */
  escaped?: boolean;
}

/** An identifier: a kebab-case label, optionally %-escaped (`%type`). */
const ID = /%?[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*/y;
const VERSION = /@(\d+\.\d+\.\d+(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)/y;
/** A feature gate with its arguments, one token: `@since(version = 0.2.0)`, `@unstable(feature = x)`. */
const GATE = /@[A-Za-z-]+(?:\([^)]*\))?/y;
const GATE_UNSUPPORTED = 'feature gates (@since, @unstable, @deprecated) and malformed versions are not supported';
const PUNCT = ['->', '{', '}', '(', ')', '<', '>', ',', ';', ':', '=', '.', '/', '_'];

function tokenize(source: string, file: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  let docs: string[] = [];
  const fail = (message: string, at = i): never => {
    throw new WitSyntaxError(`${file}:${line}:${at - lineStart + 1}: ${message}`);
  };
  while (i < source.length) {
    const c = source[i];
    if (c === '\n') {
      line++;
      lineStart = ++i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (source.startsWith('//', i)) {
      const end = source.indexOf('\n', i);
      const text = source.slice(i, end < 0 ? source.length : end);
      if (text.startsWith('///') && !text.startsWith('////')) docs.push(text.slice(3).replace(/^ /, ''));
      i = end < 0 ? source.length : end;
      continue;
    }
    if (source.startsWith('/*', i)) {
      // Block comments nest in WIT.
      let depth = 0;
      do {
        if (i >= source.length) fail('unterminated block comment');
        if (source.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (source.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else {
          if (source[i] === '\n') {
            line++;
            lineStart = i + 1;
          }
          i++;
        }
      } while (depth > 0);
      continue;
    }
    const col = i - lineStart + 1;
    const doc = docs.length ? docs.join('\n') : undefined;
    docs = [];
    if (c === '@') {
      VERSION.lastIndex = i;
      const v = VERSION.exec(source);
      if (v) {
        tokens.push({ kind: 'version', text: v[1], line, col });
        i = VERSION.lastIndex;
        continue;
      }
      // Read as one token: where it stands, the parser says it is not supported (and a WASI
      // package's interface holding one is kept opaque).
      GATE.lastIndex = i;
      const gate = GATE.exec(source) ?? fail(`"@": ${GATE_UNSUPPORTED}`);
      tokens.push({ kind: 'gate', text: gate[0], line, col, docs: doc });
      i = GATE.lastIndex;
      continue;
    }
    ID.lastIndex = i;
    const id = ID.exec(source);
    if (id) {
      const escaped = id[0].startsWith('%');
      tokens.push({ kind: 'id', text: escaped ? id[0].slice(1) : id[0], line, col, docs: doc, escaped });
      i = ID.lastIndex;
      continue;
    }
    const p = PUNCT.find((s) => source.startsWith(s, i));
    if (p) {
      tokens.push({ kind: 'punct', text: p, line, col, docs: doc });
      i += p.length;
      continue;
    }
    fail(`unexpected character ${JSON.stringify(c)}`);
  }
  tokens.push({ kind: 'eof', text: 'end of file', line, col: i - lineStart + 1 });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// parser: one file

interface PackageDecl {
  name: string;
  version: string;
  where: string;
}

interface ParsedInterface extends Omit<WitInterface, 'package' | 'qualifiedName' | 'uses'> {
  /** local name -> { from: as written (local or qualified, version stripped), name } */
  uses: Map<string, WitUse>;
  where: string;
}

interface ParsedWorld {
  name: string;
  docs?: string;
  /** as written, version stripped: "logging" or "wasi:cli/environment" */
  imports: string[];
  exports: string[];
  /** as written, version stripped: "other" or "wasi:http/proxy" */
  includes: string[];
  where: string;
}

interface ParsedFile {
  pkg?: PackageDecl;
  interfaces: ParsedInterface[];
  /** Interfaces skipped in lenient mode, with why they could not be read */
  opaque: { name: string; reason: string; where: string }[];
  worlds: ParsedWorld[];
}

/** Whether a gate token switches its item off: `@unstable(...)` (features are not enabled). */
const isUnstable = (t: Token) => t.kind === 'gate' && t.text.startsWith('@unstable');

/** Whether `t` is the keyword `word` (not a %-escaped name). */
const isKeyword = (t: Token, word: string) => t.kind === 'id' && !t.escaped && t.text === word;

/** The reason a keyword `t` is not read, if it is one of the unsupported constructs. */
const unsupported = (t: Token) => (t.kind === 'id' && !t.escaped && Object.hasOwn(UNSUPPORTED, t.text) ? UNSUPPORTED[t.text] : undefined);

class Parser {
  private pos = 0;
  private readonly tokens: Token[];
  private readonly file: string;
  /** Keep an interface the reader cannot read as opaque instead of failing (WASI packages). */
  private readonly lenient: boolean;

  constructor(source: string, file: string, lenient = false) {
    this.file = file;
    this.lenient = lenient;
    this.tokens = tokenize(source, file);
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  where(t: Token = this.peek()): string {
    return `${this.file}:${t.line}:${t.col}`;
  }

  fail(message: string, t: Token = this.peek()): never {
    throw new WitSyntaxError(`${this.where(t)}: ${message}`);
  }

  /** The error for token `t` where `expected` was due: names a known unsupported construct. */
  unexpected(t: Token, expected: string): never {
    if (t.kind === 'gate') this.fail(`"${t.text.replace(/\(.*$/s, '')}": ${GATE_UNSUPPORTED}`, t);
    const why = unsupported(t);
    if (why) this.fail(`${why} (edgehost's WIT reader, host/components/wit.ts, reads a subset of WIT)`, t);
    this.fail(`expected ${expected}, found ${t.kind === 'eof' ? 'the end of the file' : `"${t.text}"`}`, t);
  }

  private isPunct(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'punct' && t.text === text;
  }

  private punct(text: string): Token {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== text) this.unexpected(t, `"${text}"`);
    return t;
  }

  private optional(text: string): boolean {
    if (!this.isPunct(text)) return false;
    this.pos++;
    return true;
  }

  private id(what: string): Token {
    const t = this.next();
    if (t.kind !== 'id') this.unexpected(t, what);
    return t;
  }

  private keyword(word: string): void {
    const t = this.next();
    if (!isKeyword(t, word)) this.unexpected(t, `"${word}"`);
  }

  /** Items separated by commas (a trailing comma allowed) up to `close`, which is consumed. */
  private list<T>(close: string, item: () => T): T[] {
    const out: T[] = [];
    while (!this.isPunct(close)) {
      out.push(item());
      if (!this.optional(',')) break;
    }
    this.punct(close);
    return out;
  }

  parseFile(): ParsedFile {
    const out: ParsedFile = { interfaces: [], opaque: [], worlds: [] };
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return out;
      // A WASI package may gate an item: an unstable one is not there (its feature is off).
      if (this.lenient && t.kind === 'gate') {
        this.next();
        if (!isUnstable(t)) continue;
        const item = this.next();
        if (!isKeyword(item, 'interface') && !isKeyword(item, 'world')) this.unexpected(item, '"interface" or "world"');
        const name = this.id(`a ${item.text} name`).text;
        if (item.text === 'interface') out.opaque.push({ name, reason: `${this.where(t)}: ${t.text}: not enabled`, where: this.where(item) });
        this.skipBlock();
        continue;
      }
      if (t.kind !== 'id') this.unexpected(t, '"package", "interface" or "world"');
      if (isKeyword(t, 'package')) {
        this.next();
        if (out.pkg) this.fail('a second package declaration in one file', t);
        const ns = this.id('a package namespace').text;
        this.punct(':');
        const name = this.id('a package name').text;
        const version = this.peek().kind === 'version' ? this.next().text : '';
        if (this.isPunct('{')) this.fail('nested package blocks ("package a:b { ... }") are not supported');
        this.punct(';');
        out.pkg = { name: `${ns}:${name}`, version, where: this.where(t) };
      } else if (isKeyword(t, 'interface')) {
        this.next();
        if (!this.lenient) {
          out.interfaces.push(this.parseInterface(t));
          continue;
        }
        const start = this.pos;
        try {
          out.interfaces.push(this.parseInterface(t));
        } catch (e) {
          if (!(e instanceof WitSyntaxError)) throw e;
          this.pos = start;
          out.opaque.push({ name: this.id('an interface name').text, reason: e.message, where: this.where(t) });
          this.skipBlock();
        }
      } else if (isKeyword(t, 'world')) {
        this.next();
        out.worlds.push(this.parseWorld(t));
      } else if (isKeyword(t, 'use')) {
        this.fail('top-level "use" is not supported: "use" inside the interface that needs the types', t);
      } else {
        this.unexpected(t, '"package", "interface" or "world"');
      }
    }
  }

  /** Skips a `{ ... }` block, nested blocks included. */
  private skipBlock(): void {
    this.punct('{');
    for (let depth = 1; depth > 0; ) {
      const t = this.next();
      if (t.kind === 'eof') this.unexpected(t, '"}"');
      if (t.kind === 'punct' && t.text === '{') depth++;
      else if (t.kind === 'punct' && t.text === '}') depth--;
    }
  }

  /** `name` or `ns:pkg/name[@version]`, version dropped. */
  private interfaceRef(): string {
    const first = this.id('an interface name').text;
    if (!this.isPunct(':')) return first;
    this.next();
    const pkg = this.id('a package name').text;
    this.punct('/');
    const iface = this.id('an interface name').text;
    if (this.peek().kind === 'version') this.next();
    return `${first}:${pkg}/${iface}`;
  }

  private parseInterface(start: Token): ParsedInterface {
    const nameTok = this.id('an interface name');
    const iface: ParsedInterface = { name: nameTok.text, functions: [], types: new Map(), uses: new Map(), docs: start.docs, where: this.where(start) };
    this.punct('{');
    const defined = new Set<string>();
    const define = (name: Token) => {
      if (defined.has(name.text)) this.fail(`"${name.text}" is defined twice in interface ${iface.name}`, name);
      defined.add(name.text);
    };
    while (!this.isPunct('}')) {
      const t = this.next();
      if (t.kind !== 'id') this.unexpected(t, 'a type, "use" or a function');
      if (isKeyword(t, 'use')) {
        const from = this.interfaceRef();
        this.punct('.');
        this.punct('{');
        this.list('}', () => {
          const name = this.id('a type name');
          let local = name;
          if (isKeyword(this.peek(), 'as')) {
            this.next();
            local = this.id('a local type name');
          }
          define(local);
          iface.uses.set(local.text, { from, name: name.text });
        });
        this.punct(';');
      } else if (isKeyword(t, 'type')) {
        const name = this.id('a type name');
        define(name);
        this.punct('=');
        iface.types.set(name.text, { kind: 'alias', name: name.text, type: this.type(), docs: t.docs });
        this.punct(';');
      } else if (isKeyword(t, 'record')) {
        const name = this.id('a record name');
        define(name);
        this.punct('{');
        const fields = this.list('}', () => {
          const f = this.id('a field name');
          this.punct(':');
          return { name: f.text, type: this.type(), docs: f.docs };
        });
        iface.types.set(name.text, { kind: 'record', name: name.text, fields, docs: t.docs });
      } else if (isKeyword(t, 'variant')) {
        const name = this.id('a variant name');
        define(name);
        this.punct('{');
        const cases = this.list('}', () => {
          const c = this.id('a case name');
          if (!this.optional('(')) return { name: c.text, docs: c.docs };
          const type = this.type();
          this.punct(')');
          return { name: c.text, type, docs: c.docs };
        });
        iface.types.set(name.text, { kind: 'variant', name: name.text, cases, docs: t.docs });
      } else if (isKeyword(t, 'enum') || isKeyword(t, 'flags')) {
        const name = this.id(`a ${t.text} name`);
        define(name);
        this.punct('{');
        const names = this.list('}', () => this.id('a case name').text);
        iface.types.set(
          name.text,
          t.text === 'enum' ? { kind: 'enum', name: name.text, cases: names, docs: t.docs } : { kind: 'flags', name: name.text, flags: names, docs: t.docs },
        );
      } else if (this.isPunct(':') && !unsupported(t)) {
        this.next();
        iface.functions.push(this.func(t));
        define(t);
      } else {
        this.unexpected(t, 'a type, "use" or a function');
      }
    }
    this.punct('}');
    return iface;
  }

  /** After `name:`: `func(params) [-> T];` */
  private func(name: Token): WitFunction {
    this.keyword('func');
    this.punct('(');
    const seen = new Set<string>();
    const params = this.list(')', () => {
      const p = this.id('a parameter name');
      if (seen.has(p.text)) this.fail(`parameter "${p.text}" appears twice`, p);
      seen.add(p.text);
      this.punct(':');
      return { name: p.text, type: this.type() };
    });
    let result: WitType | undefined;
    if (this.optional('->')) {
      if (this.isPunct('(')) this.fail('named results ("-> (a: T, ...)") are not supported: return a record or a tuple');
      result = this.type();
    }
    this.punct(';');
    return { name: name.text, params, result, docs: name.docs };
  }

  private type(): WitType {
    const t = this.next();
    if (t.kind !== 'id') this.unexpected(t, 'a type');
    if (t.escaped) return { kind: 'named', name: t.text };
    if (PRIMITIVES.has(t.text)) return { kind: 'primitive', name: t.text as Primitive };
    switch (t.text) {
      case 'list': {
        this.punct('<');
        const element = this.type();
        if (this.isPunct(',')) this.fail('fixed-size lists ("list<T, N>") are not supported');
        this.punct('>');
        return { kind: 'list', element };
      }
      case 'option': {
        this.punct('<');
        const some = this.type();
        this.punct('>');
        return { kind: 'option', some };
      }
      case 'tuple': {
        this.punct('<');
        const elements = this.list('>', () => this.type());
        if (elements.length === 0) this.fail('a tuple needs at least one type', t);
        return { kind: 'tuple', elements };
      }
      case 'result': {
        if (!this.optional('<')) return { kind: 'result' };
        let ok: WitType | undefined;
        if (!this.optional('_')) ok = this.type();
        let err: WitType | undefined;
        if (this.optional(',')) err = this.type();
        else if (!ok) this.fail('"result<_>" needs an error type: "result<_, E>", or write "result"');
        this.punct('>');
        return { kind: 'result', ok, err };
      }
      default:
        if (unsupported(t)) this.unexpected(t, 'a type');
        return { kind: 'named', name: t.text };
    }
  }

  private parseWorld(start: Token): ParsedWorld {
    const name = this.id('a world name');
    const world: ParsedWorld = { name: name.text, imports: [], exports: [], includes: [], docs: start.docs, where: this.where(start) };
    this.punct('{');
    while (!this.isPunct('}')) {
      let t = this.next();
      let unstable = false;
      // In a WASI package: an item gated as unstable is left out, @since and @deprecated are kept.
      while (this.lenient && t.kind === 'gate') {
        unstable ||= isUnstable(t);
        t = this.next();
      }
      if (unstable) {
        while (!this.isPunct(';') && this.peek().kind !== 'eof') this.next();
        this.punct(';');
        continue;
      }
      if (isKeyword(t, 'include')) {
        world.includes.push(this.interfaceRef());
        if (isKeyword(this.peek(), 'with')) this.fail('"include ... with { ... }" (renaming) is not supported', this.peek());
        this.punct(';');
        continue;
      }
      if (!isKeyword(t, 'import') && !isKeyword(t, 'export')) {
        if (['use', 'type', 'record', 'variant', 'enum', 'flags'].some((k) => isKeyword(t, k))) {
          this.fail(`"${t.text}" in a world is not supported: define types in an interface`, t);
        }
        this.unexpected(t, '"import", "export" or "include"');
      }
      if (this.peek().kind === 'id' && this.isPunct(':', 1) && this.peek(2).kind === 'id' && !this.isPunct('/', 3)) {
        this.fail(`world-level functions and inline interfaces ("${t.text} name: ...") are not supported: ${t.text} an interface`, this.peek());
      }
      const ref = this.interfaceRef();
      this.punct(';');
      (t.text === 'import' ? world.imports : world.exports).push(ref);
    }
    this.punct('}');
    return world;
  }
}

// ---------------------------------------------------------------------------------------------
// package

/** Reads the package in the .wit files directly in `dir`. Throws a WitSyntaxError on WIT it does not read. */
export function readWitPackage(dir: string = witDir): WitPackage {
  return readPackage(dir, false);
}

function readPackage(dir: string, lenient: boolean): WitPackage {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.wit'))
    .sort();
  if (files.length === 0) throw new WitSyntaxError(`no .wit files in ${dir}`);
  const parsed = files.map((f) => new Parser(readFileSync(join(dir, f), 'utf8'), join(dir, f), lenient).parseFile());
  return assemble(dir, parsed);
}

/** Reads one package from WIT text (for tests and tools); `file` is used in error messages. */
export function parseWit(source: string, file = '<wit>'): WitPackage {
  return assemble(file, [new Parser(source, file).parseFile()]);
}

const wasiPackages = new Map<string, WitPackage>();

/**
 * A standard WASI package ("wasi:http", a version is ignored) from jco's copy of the WASI WIT
 * (`wasiWitDir`), read once: its worlds, with includes resolved, and the interfaces the reader
 * can read; the others (resources) are listed in `opaque` with the reason.
 */
export function wasiPackage(name: string): WitPackage {
  const bare = unversioned(name);
  let pkg = wasiPackages.get(bare);
  if (!pkg) {
    const m = /^wasi:([a-z][a-z0-9-]*)$/.exec(bare);
    const dir = m ? join(wasiWitDir, `wasi-${m[1]}`) : '';
    if (!m || !existsSync(dir)) throw new WitSyntaxError(`no WASI package ${bare} in ${wasiWitDir}`);
    pkg = readPackage(dir, true);
    wasiPackages.set(bare, pkg);
  }
  return pkg;
}

/** A standard WASI world by its qualified name ("wasi:http/proxy", a version is ignored), or undefined when there is none. */
export function wasiWorld(qualified: string): World | undefined {
  const q = unversioned(qualified);
  const slash = q.indexOf('/');
  if (!q.startsWith('wasi:') || slash < 0) return undefined;
  let pkg: WitPackage;
  try {
    pkg = wasiPackage(q.slice(0, slash));
  } catch {
    return undefined;
  }
  const world = pkg.worlds.get(q.slice(slash + 1));
  return world && { ...world, name: q };
}

function assemble(where: string, parsed: ParsedFile[]): WitPackage {
  let pkg: PackageDecl | undefined;
  for (const p of parsed) {
    if (!p.pkg) continue;
    if (pkg && (pkg.name !== p.pkg.name || pkg.version !== p.pkg.version)) {
      throw new WitSyntaxError(
        `${p.pkg.where}: package ${p.pkg.name}@${p.pkg.version} differs from ${pkg.name}@${pkg.version} (${pkg.where}): one folder holds one package`,
      );
    }
    pkg ??= p.pkg;
  }
  if (!pkg) throw new WitSyntaxError(`no "package" declaration in ${where}`);
  const { name, version } = pkg;
  const qualify = (ref: string) => (ref.includes(':') ? ref : `${name}/${ref}`);

  const definitions = new Map<string, WitInterface>();
  const opaque = new Map<string, string>();
  const seen = new Map<string, string>();
  const claim = (item: string, at: string) => {
    const before = seen.get(item);
    if (before) throw new WitSyntaxError(`${at}: ${item} is already defined at ${before}`);
    seen.set(item, at);
  };
  for (const file of parsed) {
    for (const i of file.interfaces) {
      claim(`interface ${i.name}`, i.where);
      const uses = new Map([...i.uses].map(([local, u]) => [local, { from: qualify(u.from), name: u.name }]));
      definitions.set(i.name, { name: i.name, package: name, qualifiedName: `${name}/${i.name}`, functions: i.functions, types: i.types, uses, docs: i.docs });
    }
    for (const o of file.opaque) {
      claim(`interface ${o.name}`, o.where);
      opaque.set(o.name, o.reason);
    }
  }
  const declared = new Map<string, ParsedWorld>();
  for (const file of parsed) {
    for (const w of file.worlds) {
      claim(`world ${w.name}`, w.where);
      for (const ref of [...w.imports, ...w.exports]) {
        if (!ref.includes(':') && !definitions.has(ref) && !opaque.has(ref))
          throw new WitSyntaxError(`${w.where}: world ${w.name} refers to interface "${ref}", which ${where} does not define`);
      }
      declared.set(w.name, w);
    }
  }
  const worlds = new Map<string, World>();
  /** A world with the imports and exports of the worlds it includes (local, or WASI worlds), each once. */
  const flatten = (w: ParsedWorld, path: string[]): World => {
    const done = worlds.get(w.name);
    if (done) return done;
    if (path.includes(w.name)) throw new WitSyntaxError(`${w.where}: world ${w.name} includes itself (${[...path, w.name].join(' -> ')})`);
    const imports = new Set(w.imports.map(qualify));
    const exports = new Set(w.exports.map(qualify));
    for (const ref of w.includes) {
      const local = ref.includes(':') ? undefined : declared.get(ref);
      const included = local ? flatten(local, [...path, w.name]) : ref.startsWith('wasi:') ? wasiWorld(ref) : undefined;
      if (!included) {
        throw new WitSyntaxError(
          `${w.where}: world ${w.name} includes "${ref}", which is ${ref.includes(':') ? "not a WASI world in jco's WASI WIT (only those are read from other packages)" : `not a world of ${where}`}`,
        );
      }
      for (const i of included.imports) imports.add(i);
      for (const e of included.exports) exports.add(e);
    }
    const world: World = { name: w.name, imports: [...imports], exports: [...exports], docs: w.docs };
    worlds.set(w.name, world);
    return world;
  };
  for (const w of declared.values()) flatten(w, []);
  const result: WitPackage = {
    name,
    version,
    interfaces: new Map([...definitions].map(([n, d]) => [n, d.functions.map((f) => f.name)])),
    worlds,
    definitions,
    opaque,
  };
  for (const iface of definitions.values()) checkReferences(result, iface);
  return result;
}

/** Every named type an interface refers to exists: defined there, or used from an interface of this package that defines it. */
function checkReferences(pkg: WitPackage, iface: WitInterface): void {
  const where = `interface ${iface.name} (${pkg.name})`;
  for (const [local, use] of iface.uses) {
    if (!use.from.startsWith(`${pkg.name}/`)) continue; // another package: not read here
    if (pkg.opaque.has(use.from.slice(pkg.name.length + 1))) continue; // kept opaque: its types are not read
    const from = pkg.definitions.get(use.from.slice(pkg.name.length + 1));
    if (!from) throw new WitSyntaxError(`${where}: "use ${use.from}" names an interface this package does not define`);
    if (!from.types.has(use.name) && !from.uses.has(use.name)) {
      throw new WitSyntaxError(`${where}: "use" of ${use.name}${local !== use.name ? ` as ${local}` : ''}: interface ${from.name} has no type ${use.name}`);
    }
  }
  const visit = (t: WitType | undefined, context: string) => {
    if (!t) return;
    if (t.kind === 'named' && !iface.types.has(t.name) && !iface.uses.has(t.name)) {
      throw new WitSyntaxError(`${where}: ${context} refers to type "${t.name}", which is neither defined in nor used into the interface`);
    }
    if (t.kind === 'list') visit(t.element, context);
    else if (t.kind === 'option') visit(t.some, context);
    else if (t.kind === 'result') {
      visit(t.ok, context);
      visit(t.err, context);
    } else if (t.kind === 'tuple') for (const e of t.elements) visit(e, context);
  };
  for (const def of iface.types.values()) {
    if (def.kind === 'alias') visit(def.type, `type ${def.name}`);
    else if (def.kind === 'record') for (const f of def.fields) visit(f.type, `record ${def.name}`);
    else if (def.kind === 'variant') for (const c of def.cases) visit(c.type, `variant ${def.name}`);
  }
  for (const f of iface.functions) {
    for (const p of f.params) visit(p.type, `function ${f.name}`);
    visit(f.result, `function ${f.name}`);
  }
}

// ---------------------------------------------------------------------------------------------
// queries

const unversioned = (name: string) => name.replace(/@[^@/]*$/, '');

/** The interface `qualified` ("ns:pkg/name", a version is ignored), if one of `packages` defines it. */
export function findInterface(packages: Iterable<WitPackage>, qualified: string): WitInterface | undefined {
  const q = unversioned(qualified);
  const slash = q.indexOf('/');
  for (const p of packages) if (p.name === q.slice(0, slash)) return p.definitions.get(q.slice(slash + 1));
  return undefined;
}

/**
 * What `type`, written in `iface`, is once aliases and `use` are followed: a structural type, or
 * the record/variant/enum/flags definition it names. A name from a package not among `packages`
 * stays a `named` type.
 */
export function resolveType(packages: Iterable<WitPackage>, iface: WitInterface, type: WitType): WitType | WitTypeDef {
  let current: WitInterface = iface;
  let t: WitType = type;
  for (let hops = 0; hops < 64 && t.kind === 'named'; hops++) {
    const def = current.types.get(t.name);
    if (def) {
      if (def.kind !== 'alias') return def;
      t = def.type;
      continue;
    }
    const use = current.uses.get(t.name);
    const from = use && findInterface(packages, use.from);
    if (!use || !from) return t;
    current = from;
    t = { kind: 'named', name: use.name };
  }
  return t;
}

/** A type as WIT text: "list<u8>", "result<_, string>", "timer-id". */
export function formatType(t: WitType): string {
  switch (t.kind) {
    case 'primitive':
      return t.name;
    case 'named':
      return t.name;
    case 'list':
      return `list<${formatType(t.element)}>`;
    case 'option':
      return `option<${formatType(t.some)}>`;
    case 'tuple':
      return `tuple<${t.elements.map(formatType).join(', ')}>`;
    case 'result':
      if (!t.ok && !t.err) return 'result';
      if (!t.err) return `result<${formatType(t.ok as WitType)}>`;
      return `result<${t.ok ? formatType(t.ok) : '_'}, ${formatType(t.err)}>`;
  }
}

/** A function as WIT text: "on-tick: func(id: timer-id)". */
export function formatFunction(f: WitFunction): string {
  const params = f.params.map((p) => `${p.name}: ${formatType(p.type)}`).join(', ');
  return `${f.name}: func(${params})${f.result ? ` -> ${formatType(f.result)}` : ''}`;
}

/** The JavaScript name of a WIT name, as jco and componentize-qjs spell it: "timer-handler" -> "timerHandler". */
export function jsName(witName: string): string {
  const [first, ...rest] = witName.split('-');
  return first.toLowerCase() + rest.map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()).join('');
}

let cached: WitPackage | undefined;
/** The edgehost:platform package, read once. */
export function platform(): WitPackage {
  cached ??= readWitPackage();
  return cached;
}
