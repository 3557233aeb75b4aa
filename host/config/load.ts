import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { isLoopback, parseAdminAddress } from '../admin/address.ts';
import { applyBridgeFlag, type ResolvedBridge, resolveBridges } from '../bridge/config.ts';
import type { RawModule } from '../capabilities/capability.ts';
import { type AnyCapability, capabilities, capabilitiesOf } from '../capabilities/index.ts';
import { platform, readWitPackage, type WitPackage, type World, wasiWorld, witDir } from '../components/wit.ts';
import { HostError } from '../errors.ts';
import type { CliOptions } from './cli.ts';
import { applyModuleFlags } from './flags.ts';
import { type HostConfig, hostConfig, type ModuleConfig, moduleConfig, moduleName } from './schema.ts';

export interface ResolvedModule extends ModuleConfig {
  name: string;
  /** Absolute path of the component. */
  componentPath: string;
  worldSpec: World;
  /** The capabilities the world imports, in list order. */
  capabilities: AnyCapability[];
  /** Their interfaces, as the world imports them. */
  capabilityInterfaces: string[];
}

export interface ResolvedConfig extends Omit<HostConfig, 'modules' | 'bridges'> {
  file: string;
  modules: ResolvedModule[];
  bridges: ResolvedBridge[];
}

type Raw = Record<string, unknown>;

/** Reads, overrides and validates the host config; every problem names the file, the key and the reason. */
export function loadConfig(cli: CliOptions, cwd = process.cwd()): ResolvedConfig {
  const file = resolve(cwd, cli.config);
  const raw = readRawConfig(file);
  const fromFlags = new Map<string, string>();
  const set = (key: 'logLevel' | 'logFormat' | 'dataDir', value: string | undefined, flag: string) => {
    if (value === undefined) return;
    raw[key] = value;
    fromFlags.set(key, flag);
  };
  set('logLevel', cli.logLevel, '--log-level');
  set('logFormat', cli.logFormat, '--log-format');
  set('dataDir', cli.dataDir, '--data-dir');
  setAdmin(raw, 'address', cli.adminAddress, '--admin-address', fromFlags);
  setAdmin(raw, 'tokenFile', cli.adminTokenFile, '--admin-token-file', fromFlags);
  if (cli.traceProtocol) raw.traceProtocol = true;
  if (cli.bridge !== undefined) fromFlags.set(applyBridgeFlag(raw, cli.bridge), '--bridge');
  const rawModules = (raw.modules && typeof raw.modules === 'object' ? raw.modules : {}) as Record<string, RawModule>;
  for (const [path, flag] of applyModuleFlags(cli.moduleFlags, rawModules, worldImports(rawModules, dirname(file)), file)) fromFlags.set(path, flag);
  const parsed = hostConfig.safeParse(raw);
  if (!parsed.success) throw invalid(file, parsed.error.issues, fromFlags);
  const config = parsed.data as HostConfig;
  const problems: string[] = [];
  const modules: ResolvedModule[] = [];
  for (const [name, m] of Object.entries(config.modules)) {
    if (!m.enabled) continue;
    const resolved = resolveModule(name, m, { base: dirname(file), where: `${file}: modules.${name}`, problems });
    if (resolved) modules.push(resolved);
  }
  const adminProblem = checkAdmin(config, fromFlags);
  if (adminProblem) problems.push(`${file}: ${adminProblem}`);
  // Checks between modules (two modules claiming one route), once each module is valid on its own.
  if (problems.length === 0) {
    for (const cap of capabilities) {
      const users = modules.filter((m) => m.capabilities.includes(cap));
      const grants = users.map((m) => ({ name: m.name, grant: cap.grantKey ? (m.grants as Record<string, unknown>)[cap.grantKey] : {} }));
      for (const problem of users.length > 0 ? (cap.checkAll?.(grants) ?? []) : []) problems.push(`${file}: ${problem}`);
    }
  }
  const bridges = resolveBridges(config.bridges, { base: dirname(file), where: `${file}: `, problems });
  if (problems.length > 0) throw new HostError('EH_CONFIG_INVALID', `invalid config\n  ${problems.join('\n  ')}`);
  if (modules.length === 0) throw new HostError('EH_CONFIG_INVALID', `${file}: modules: no enabled module; add one`);
  const { modules: _, bridges: __, ...rest } = config;
  return { ...rest, file, modules, bridges };
}

/** A flag's value into `admin.<key>` of the raw config (created when missing). */
function setAdmin(raw: Raw, key: string, value: string | undefined, flag: string, fromFlags: Map<string, string>) {
  if (value === undefined) return;
  const admin = raw.admin && typeof raw.admin === 'object' && !Array.isArray(raw.admin) ? (raw.admin as Raw) : {};
  admin[key] = value;
  raw.admin = admin;
  fromFlags.set(`admin.${key}`, flag);
}

/**
 * The admin API accepts deploys: reachable from other machines, it must not
 * rely on a token the host made up and wrote to its own disk.
 */
function checkAdmin(config: HostConfig, fromFlags: Map<string, string>): string | undefined {
  const address = parseAdminAddress(config.admin.address);
  if (!address || isLoopback(address.host) || config.admin.tokenFile) return undefined;
  const flag = fromFlags.get('admin.address');
  return `admin.address: ${address.text} is not a loopback address${flag ? ` (from ${flag})` : ''}: the admin API deploys code, so listening there needs a token you chose. Pass --admin-token-file <file> (admin.tokenFile), or listen on 127.0.0.1`;
}

/**
 * Validates one module entry on its own (a deploy through the admin API):
 * the same checks and the same messages as in a config file, with `where`
 * naming the source instead of the file.
 */
export function loadModuleEntry(name: string, raw: unknown, opts: { base: string; where: string }): ResolvedModule {
  const nameOk = moduleName.safeParse(name);
  if (!nameOk.success) throw new HostError('EH_CONFIG_INVALID', `invalid module\n  ${opts.where}: name "${name}": ${nameOk.error.issues[0].message}`);
  const parsed = moduleConfig.safeParse(raw);
  // Key paths continue `where` (modules.probe.grants...), as they continue the file's modules.<name> in a config file.
  if (!parsed.success) throw invalid(opts.where, parsed.error.issues, new Map(), '', true);
  const problems: string[] = [];
  const resolved = resolveModule(name, parsed.data as ModuleConfig, { ...opts, problems });
  if (problems.length > 0 || !resolved) throw new HostError('EH_CONFIG_INVALID', `invalid module\n  ${problems.join('\n  ')}`);
  return resolved;
}

/** The file as JSON, not validated yet (flags are applied to it first; `--help` reads module names from it). */
export function readRawConfig(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new HostError(
      'EH_CONFIG_FILE',
      `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Pass an existing file with --config.`,
    );
  }
  try {
    const raw = JSON.parse(text);
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('the top level is not an object');
    return raw as Raw;
  } catch (e) {
    throw new HostError('EH_CONFIG_FILE', `${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Module name -> the interfaces its world imports, for the modules whose world can be read (the rest fail validation later). */
export function worldImports(rawModules: Record<string, RawModule>, base: string): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const [name, m] of Object.entries(rawModules)) {
    if (!m || typeof m !== 'object' || typeof m.world !== 'string') continue;
    try {
      const world = findWorld(m.world, () => (typeof m.wit === 'string' ? readWitPackage(resolve(base, m.wit)) : platform()));
      if (world) out.set(name, world.imports);
    } catch {
      // reported by validation
    }
  }
  return out;
}

/** A module's world: a standard WASI world by qualified name ("wasi:http/proxy"), else a world of its package. */
function findWorld(name: string, pkg: () => WitPackage): World | undefined {
  return name.startsWith('wasi:') ? wasiWorld(name) : pkg().worlds.get(name);
}

function keyPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(top level)';
}

function invalid(where: string, issues: z.core.$ZodIssue[], fromFlags: Map<string, string>, header = 'invalid config', continuePath = false): HostError {
  const lines = issues.map((issue) => {
    const path = keyPath(issue.path);
    if (continuePath) {
      const reason =
        issue.code === 'unrecognized_keys'
          ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove ${issue.keys.length > 1 ? 'them' : 'it'} or fix the spelling`
          : issue.message;
      const at = issue.path.length === 0 ? where : `${where}${path.startsWith('[') ? '' : '.'}${path}`;
      return `${at}: ${reason}`;
    }
    let reason = issue.message;
    // A bad name under `modules` or `bridges`: say what names look like, not "Invalid key in record".
    if (issue.code === 'invalid_key' && issue.issues[0]) reason = `bad name: ${issue.issues[0].message}`;
    if (issue.code === 'unrecognized_keys') {
      reason = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove ${issue.keys.length > 1 ? 'them' : 'it'} or fix the spelling`;
    }
    const flag = [...fromFlags].find(([p]) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`))?.[1];
    return `${where}: ${path}: ${reason}${flag ? ` (from ${flag})` : ''}`;
  });
  return new HostError('EH_CONFIG_INVALID', `${header || 'invalid module'}\n  ${lines.join('\n  ')}`);
}

function resolveModule(name: string, m: ModuleConfig, opts: { base: string; where: string; problems: string[] }): ResolvedModule | undefined {
  const { base, where, problems } = opts;
  const dir = m.wit ? resolve(base, m.wit) : witDir;
  let world: World | undefined;
  try {
    // The host's own package is read once; a module's own WIT folder is read for it.
    let pkg: WitPackage | undefined;
    world = findWorld(m.world, () => (pkg = m.wit ? readWitPackage(dir) : platform()));
    if (!world && pkg) problems.push(`${where}.world: no world "${m.world}" in ${dir} (worlds there: ${[...pkg.worlds.keys()].join(', ')})`);
    if (!world && !pkg) problems.push(`${where}.world: no standard WASI world "${m.world}" (read from jco's WASI WIT; e.g. wasi:http/proxy)`);
  } catch (e) {
    problems.push(`${where}.wit: cannot read WIT from ${dir}: ${(e as Error).message}`);
  }
  const componentPath = resolve(base, m.component);
  if (!existsSync(componentPath)) {
    throw new HostError(
      'EH_COMPONENT_NOT_FOUND',
      `${where}.component: ${componentPath} does not exist. Run "npm run build" to build the reference modules, or fix the path (it is relative to the config file).`,
    );
  }
  if (!world) return undefined;
  const caps = capabilitiesOf(world.imports);
  // A grant for a capability the world cannot use is a mistake worth stopping for: it would silently do nothing.
  for (const [grantKey, value] of Object.entries(m.grants)) {
    if (grantKey === 'environment') continue;
    const cap = caps.find((c) => c.grantKey === grantKey);
    const isEmpty = JSON.stringify(value) === JSON.stringify(capabilities.find((c) => c.grantKey === grantKey)?.grant.parse({}));
    if (!cap && !isEmpty) problems.push(`${where}.grants.${grantKey}: world "${m.world}" does not import this capability; remove the grant`);
  }
  for (const cap of caps) {
    if (cap.resolveGrant && cap.grantKey) (m.grants as Record<string, unknown>)[cap.grantKey] = cap.resolveGrant(m.grants[cap.grantKey], base);
  }
  const input = { name, world: world.name, imports: world.imports, exports: world.exports, entry: m as unknown as Raw };
  for (const cap of caps) {
    const grant = cap.grantKey ? m.grants[cap.grantKey] : {};
    for (const problem of cap.check?.(input, grant) ?? []) problems.push(`${where}.${problem}`);
  }
  const capabilityInterfaces = world.imports.filter((i) => caps.some((c) => c.interfaces.includes(i)));
  return { ...m, name, componentPath, worldSpec: world, capabilities: caps, capabilityInterfaces };
}
