import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The worlds are read from wit/ itself, so the WIT files stay the one source of
// truth for what each role imports and exports. This is a reader for the
// subset of WIT that wit/ uses (interfaces with funcs, worlds importing and
// exporting interfaces by name), not a general WIT parser.

export const witDir = new URL('../../wit/', import.meta.url).pathname;

export interface WitPackage {
  /** e.g. "edgehost:platform" */
  name: string;
  version: string;
  /** interface name -> function names (kebab-case, as in WIT) */
  interfaces: Map<string, string[]>;
  worlds: Map<string, World>;
}

export interface World {
  name: string;
  /** Fully qualified, without version: "edgehost:platform/pubsub" */
  imports: string[];
  exports: string[];
}

export function readWitPackage(dir: string = witDir): WitPackage {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.wit'))
    .sort();
  const source = files.map((f) => stripComments(readFileSync(join(dir, f), 'utf8'))).join('\n');
  const pkg = /package\s+([a-z0-9-]+:[a-z0-9-]+)@([0-9.]+)\s*;/.exec(source);
  if (!pkg) throw new Error(`no "package" declaration in ${dir}`);
  const [, name, version] = pkg;
  const interfaces = new Map<string, string[]>();
  const worlds = new Map<string, World>();
  for (const block of blocks(source, 'interface')) {
    const funcs = [...block.body.matchAll(/^\s*([a-z][a-z0-9-]*)\s*:\s*func\b/gm)].map((m) => m[1]);
    interfaces.set(block.name, funcs);
  }
  for (const block of blocks(source, 'world')) {
    const q = (i: string) => (i.includes(':') ? i.replace(/@.*$/, '') : `${name}/${i}`);
    worlds.set(block.name, {
      name: block.name,
      imports: [...block.body.matchAll(/^\s*import\s+([^;]+);/gm)].map((m) => q(m[1].trim())),
      exports: [...block.body.matchAll(/^\s*export\s+([^;]+);/gm)].map((m) => q(m[1].trim())),
    });
  }
  return { name, version, interfaces, worlds };
}

function stripComments(s: string): string {
  return s.replace(/\/\/[^\n]*/g, '');
}

function* blocks(source: string, keyword: string): Generator<{ name: string; body: string }> {
  const re = new RegExp(`\\b${keyword}\\s+([a-z][a-z0-9-]*)\\s*\\{`, 'g');
  for (let m = re.exec(source); m; m = re.exec(source)) {
    let depth = 1;
    let i = re.lastIndex;
    while (i < source.length && depth > 0) {
      if (source[i] === '{') depth++;
      else if (source[i] === '}') depth--;
      i++;
    }
    yield { name: m[1], body: source.slice(re.lastIndex, i - 1) };
  }
}

let cached: WitPackage | undefined;
/** The edgehost:platform package, read once. */
export function platform(): WitPackage {
  cached ??= readWitPackage();
  return cached;
}
