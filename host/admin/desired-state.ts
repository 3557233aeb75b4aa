// What the admin API was asked to run, kept under the data dir so that a
// restart (clean or SIGKILL) runs exactly that: the config file is the
// starting point, and deployments.json records every change made on top of it.
//
//   <data-dir>/deployments.json         { version, deployed: { name: { digest, entry, at } }, removed: { name: { at } } }
//   <data-dir>/components/<sha256>.wasm the components deployed, by content
//
// A deployment replaces the config file's module of the same name, or adds
// one. A config-file module removed through the API is recorded in `removed`
// and stays removed after a restart (until it is deployed again); removing a
// module that only the API deployed just forgets it. The file is written
// atomically (temp file, fsync, rename, fsync of the folder) before the API
// answers, so an acknowledged change survives a crash.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { loadModuleEntry, type ResolvedConfig, type ResolvedModule } from '../config/load.ts';
import { HostError } from '../errors.ts';
import type { ModuleSource } from '../runtime/module-runtime.ts';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 digest in hex');

const stateFile = z
  .object({
    version: z.literal(1),
    deployed: z.record(z.string(), z.object({ digest: sha256, entry: z.record(z.string(), z.unknown()), at: z.string() }).strict()),
    removed: z.record(z.string(), z.object({ at: z.string() }).strict()),
  })
  .strict();
type StateFile = z.infer<typeof stateFile>;

export interface Deployment {
  digest: string;
  /** The module entry as it was submitted, without `component`. */
  entry: Record<string, unknown>;
  /** When it was deployed (ISO 8601). */
  at: string;
}

/** The modules the host runs at start: the config file's, with the recorded changes applied. */
export interface StartSet {
  modules: ResolvedModule[];
  sources: Map<string, ModuleSource>;
  /** One line per change applied, for the start log. */
  applied: { module: string; change: 'deployed' | 'removed'; at: string }[];
}

export class DesiredState {
  readonly file: string;
  readonly componentsDir: string;
  #state: StateFile;
  /** Digests stored for a deploy still being checked: not garbage yet. */
  readonly #pending = new Map<string, number>();
  #writing: Promise<void> = Promise.resolve();

  private constructor(dataDir: string, state: StateFile) {
    this.file = join(dataDir, 'deployments.json');
    this.componentsDir = join(dataDir, 'components');
    this.#state = state;
  }

  /** Reads `<dataDir>/deployments.json` (an absent file is an empty state). */
  static open(dataDir: string): DesiredState {
    const dir = resolve(dataDir);
    mkdirSync(join(dir, 'components'), { recursive: true });
    const file = join(dir, 'deployments.json');
    let state: StateFile = { version: 1, deployed: {}, removed: {} };
    if (existsSync(file)) {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new HostError('EH_STATE_INVALID', `${file} cannot be read: ${(e as Error).message}. Fix it, or remove it to start from the config file alone.`);
      }
      const parsed = stateFile.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new HostError(
          'EH_STATE_INVALID',
          `${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}. Fix it, or remove it to start from the config file alone.`,
        );
      }
      state = parsed.data;
    }
    return new DesiredState(dir, state);
  }

  componentPath(digest: string): string {
    return join(this.componentsDir, `${digest}.wasm`);
  }

  deployment(name: string): Deployment | undefined {
    return Object.hasOwn(this.#state.deployed, name) ? this.#state.deployed[name] : undefined;
  }

  /** Whether the API deployed (or replaced) this module. */
  isDeployed(name: string): boolean {
    return this.deployment(name) !== undefined;
  }

  /**
   * Stores a component by its digest (once) and keeps it from garbage
   * collection until `release`; resolves with its digest and path.
   */
  async storeComponent(bytes: Uint8Array): Promise<{ digest: string; path: string }> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    this.#pending.set(digest, (this.#pending.get(digest) ?? 0) + 1);
    const path = this.componentPath(digest);
    if (!existsSync(path)) {
      const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        await writeDurably(tmp, bytes);
        await rename(tmp, path);
      } catch (e) {
        await rm(tmp, { force: true });
        this.release(digest);
        throw e;
      }
    }
    return { digest, path };
  }

  /** The deploy that stored `digest` is over (done or refused): garbage-collect it if nothing refers to it. */
  release(digest: string): void {
    const n = (this.#pending.get(digest) ?? 1) - 1;
    if (n > 0) this.#pending.set(digest, n);
    else this.#pending.delete(digest);
    this.collectGarbage();
  }

  /** Records a deploy (add or replace) and writes the file. */
  async recordDeploy(name: string, entry: Record<string, unknown>, digest: string): Promise<void> {
    const { component: _, ...rest } = entry;
    this.#state.deployed[name] = { digest, entry: rest, at: new Date().toISOString() };
    delete this.#state.removed[name];
    await this.#save();
  }

  /**
   * Records a removal and writes the file. A module of the config file is
   * remembered as removed; one only the API knew is just forgotten.
   */
  async recordRemove(name: string, inConfigFile: boolean): Promise<void> {
    delete this.#state.deployed[name];
    if (inConfigFile) this.#state.removed[name] = { at: new Date().toISOString() };
    else delete this.#state.removed[name];
    await this.#save();
    this.collectGarbage();
  }

  /** Deletes stored components no deployment refers to. */
  collectGarbage(): void {
    const used = new Set([...Object.values(this.#state.deployed).map((d) => d.digest), ...this.#pending.keys()]);
    for (const name of readdirSync(this.componentsDir)) {
      const m = /^([0-9a-f]{64})\.wasm$/.exec(name);
      if (m && !used.has(m[1])) rmSync(join(this.componentsDir, name), { force: true });
    }
  }

  /**
   * The modules to start: the config file's, minus those removed through the
   * API, with the API's deployments in place of (or beside) them. Each
   * deployment is validated again, as the config file is; one that no longer
   * validates stops the start (EH_STATE_INVALID) rather than run a set nobody asked for.
   */
  startSet(config: ResolvedConfig): StartSet {
    const base = dirname(config.file);
    const sources = new Map<string, ModuleSource>();
    const applied: StartSet['applied'] = [];
    const byName = new Map(config.modules.map((m) => [m.name, m]));
    for (const [name, { at }] of Object.entries(this.#state.removed)) {
      if (byName.delete(name)) applied.push({ module: name, change: 'removed', at });
    }
    for (const m of byName.keys()) sources.set(m, 'config');
    for (const [name, d] of Object.entries(this.#state.deployed)) {
      const path = this.componentPath(d.digest);
      if (!existsSync(path)) {
        throw new HostError(
          'EH_STATE_INVALID',
          `${this.file}: deployed.${name}: its component ${path} is missing. Deploy the module again, or remove its entry.`,
        );
      }
      let spec: ResolvedModule;
      try {
        spec = loadModuleEntry(name, { ...d.entry, component: path }, { base, where: `${this.file}: deployed.${name}` });
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        throw new HostError('EH_STATE_INVALID', `the module ${name} deployed through the admin API at ${d.at} no longer validates: ${why}`, { cause: e });
      }
      byName.set(name, spec);
      sources.set(name, 'api');
      applied.push({ module: name, change: 'deployed', at: d.at });
    }
    return { modules: [...byName.values()], sources, applied };
  }

  /** Writes the state atomically; writes are serialized, each one the whole current state. */
  #save(): Promise<void> {
    const text = `${JSON.stringify(this.#state, null, 2)}\n`;
    const write = this.#writing.then(async () => {
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeDurably(tmp, text);
      await rename(tmp, this.file);
      await syncDir(dirname(this.file));
    });
    this.#writing = write.catch(() => {});
    return write;
  }
}

async function writeDurably(path: string, data: string | Uint8Array): Promise<void> {
  await writeFile(path, data, { mode: 0o600 });
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a rename in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
