// Building QuickJS guests that use wasi:http: componentize-qjs cannot pre-initialise them under
// the standard names, so they are built from relabelled WIT and given the standard names back
// afterwards. Shared by scripts/build-examples.ts (the wasi:http/proxy test guests) and
// scripts/build-modules.ts (platform modules whose world includes wasi:http, and test worlds).

/** The WASI release of jco's WIT, which componentize-qjs guests import. */
export const WASI_VERSION = '0.2.12';
/** The WASI packages relabelled together: wasi:http and the wasi:io its resources come from. */
export const RELABELLED_PACKAGES = ['io', 'http'] as const;

type Jco = typeof import('@bytecodealliance/jco');
let jcoApi: Promise<Jco> | undefined;
const loadJco = () => (jcoApi ??= import('@bytecodealliance/jco'));

/**
 * componentize-qjs pre-initialises a guest (Wizer) in a wasmtime linker that has WASI 0.2 but no
 * wasi:http, and stubs what it lacks with resources of its own: `wasi:http/types@0.2.12` then
 * fails to link ("instance export `io-error` has the wrong type: mismatched resource types"),
 * because its resources come from the real wasi:io. Relabelled with a prerelease version that
 * matches nothing in that linker, wasi:http and the wasi:io it uses are stubbed together and
 * consistently; standardWasiNames puts the standard names back afterwards.
 */
export const RELABEL_SUFFIX = '-probe';
/** `text` (WIT, or a guest's source) with wasi:io and wasi:http named at the relabelled version. */
export const relabel = (text: string) =>
  text.replace(new RegExp(`\\b(wasi:(?:io|http)(?:/[\\w-]+)?)@${WASI_VERSION.replace(/\./g, '\\.')}(?![\\w-])`, 'g'), `$1@${WASI_VERSION}${RELABEL_SUFFIX}`);

/**
 * Gives a component built from relabelled WIT its standard WASI names back. What
 * componentize-qjs writes is a wrapper component: it imports WASI instances, instantiates the
 * guest (a nested component) with them, and re-exports the guest's exports (plus `init`, the
 * entry point Wizer already ran). Only that wrapper changes, the nested components stay as built:
 *   - a relabelled import that also exists under its real name (wasi:io/*, which the QuickJS
 *     runtime imports itself) is dropped, and what used it (the guest's instantiation, the
 *     types wasi:http/types refers to) uses the real one: wasi:http's streams are then the same
 *     resources as stdout's, as in any wasi:http host;
 *   - any other relabelled import or export (wasi:http/*) is renamed;
 *   - the `init` export is dropped.
 * Done on the text format with jco's print and parse (wasm-tools); it checks the shape it
 * expects and fails rather than guess.
 */
export async function standardWasiNames(component: Uint8Array): Promise<Uint8Array> {
  const jco = await loadJco();
  const lines = (await jco.print(component)).split('\n');
  const fail = (why: string): never => {
    throw new Error(`cannot restore standard WASI names: ${why} (componentize-qjs's wrapper changed shape?)`);
  };
  const firstNested = lines.findIndex((l) => /^ {2}\(component\b/.test(l));
  const lastNested = lines.findLastIndex((l) => /^ {2}\(component\b/.test(l));
  if (firstNested < 0) fail('no nested component');
  const postStart = lines.findIndex((l, i) => i > lastNested && /^ {2}\)$/.test(l)) + 1;
  if (postStart <= 0) fail('the last nested component does not close');

  // Instance imports of the wrapper: name -> instance index.
  const importRe = /^ {2}\(import "([^"]+)" \(instance \(;(\d+);\) (.*)$/;
  const imports = new Map<string, number>();
  for (const l of lines.slice(0, firstNested)) {
    const m = importRe.exec(l);
    if (m) imports.set(m[1], Number(m[2]));
  }
  const mergedInto = new Map<number, number>();
  for (const [name, index] of imports) {
    const real = name.endsWith(RELABEL_SUFFIX) ? imports.get(name.slice(0, -RELABEL_SUFFIX.length)) : undefined;
    if (real !== undefined) mergedInto.set(index, real);
  }
  const dropped = [...mergedInto.keys()];
  const instance = (i: number) => mergedInto.get(i) ?? i - dropped.filter((d) => d < i).length;
  const standard = (name: string) => (name.endsWith(RELABEL_SUFFIX) ? name.slice(0, -RELABEL_SUFFIX.length) : name);
  const aliasRef = (l: string) => l.replace(/^( {2}\(alias export )(\d+) /, (_, head: string, n: string) => `${head}${instance(Number(n))} `);

  const out: string[] = [];
  for (const l of lines.slice(0, firstNested)) {
    const m = importRe.exec(l);
    if (m && mergedInto.has(Number(m[2]))) continue;
    out.push(m ? `  (import "${standard(m[1])}" (instance (;${instance(Number(m[2]))};) ${m[3]}` : aliasRef(l));
  }
  for (let i = firstNested; i < postStart; i++) out.push(lines[i]);
  let initDropped = 0;
  for (const l of lines.slice(postStart)) {
    if (/^ {2}\(alias export \d+ "init" \(func /.test(l) || /^ {2}\(export \(;\d+;\) "init" \(func /.test(l)) {
      initDropped++;
      continue;
    }
    out.push(
      aliasRef(l)
        .replace(/^( +\(with "[^"]+" \(instance )(\d+)\)\)$/, (_, head: string, n: string) => `${head}${instance(Number(n))}))`)
        .replace(
          /^( {2}\(export \(;\d+;\) )"([^"]+)" \(instance (\d+)\)\)$/,
          (_, head: string, name: string, n: string) => `${head}"${standard(name)}" (instance ${instance(Number(n))}))`,
        ),
    );
  }
  if (initDropped !== 0 && initDropped !== 2) fail('an `init` export without its alias');
  const bytes = await jco.parse(out.join('\n'));
  const wit = await jco.componentWit(bytes);
  if (wit.includes(RELABEL_SUFFIX)) fail(`relabelled names left:\n${wit}`);
  return bytes;
}
