// The seams the host core promises, checked on the source itself: host code
// names no reference module, guests import nothing from the host, and no
// import cycle exists anywhere (type-only imports included: a cycle of types is
// still a design that cannot be split).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { root } from '../support/paths.ts';

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The source without comments (strings are kept: they are what is checked). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/[^\n]*/g, '$1');
}

/** Relative imports and re-exports of a file, resolved to absolute paths. */
function importsOf(file: string): string[] {
  const text = code(readFileSync(file, 'utf8'));
  const specs = [...text.matchAll(/(?:import|export)\s[^'"`;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]);
  return specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s));
}

test('no host code names a reference module (telemetry, gateway, server): capabilities and flags work for any name', () => {
  const offenders: string[] = [];
  for (const file of files(join(root, 'host'))) {
    const text = code(readFileSync(file, 'utf8'));
    for (const m of text.matchAll(/(['"`])((?:(?!\1)[^\\\n]|\\.)*)\1/g)) {
      // "http-server" is a capability's name, not the server module's.
      const text = m[2].replaceAll('http-server', '');
      if (/\b(telemetry|gateway|server)\b/.test(text) && !/^(?:node:|\.)/.test(text)) offenders.push(`${relative(root, file)}: ${m[0]}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('no guest imports anything from host/', () => {
  const host = join(root, 'host');
  const offenders: string[] = [];
  for (const file of [...files(join(root, 'modules')), ...files(join(root, 'test/fixtures/guests'))]) {
    for (const target of importsOf(file)) if (target.startsWith(`${host}/`)) offenders.push(`${relative(root, file)} imports ${relative(root, target)}`);
  }
  assert.deepEqual(offenders, []);
});

test('there is no import cycle in host/, packages/ or modules/', () => {
  const all = ['host', 'packages', 'modules'].flatMap((d) => files(join(root, d)));
  const graph = new Map(all.map((f) => [f, importsOf(f).filter((t) => all.includes(t))]));
  const cycles: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'visiting');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'visiting') cycles.push([...stack.slice(stack.indexOf(t)), t].map((x) => relative(root, x)).join(' -> '));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of all) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});
