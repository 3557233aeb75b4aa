import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { filterCovers, topicFilterProblem } from '../../packages/mqtt-topic/topic.ts';
import { capabilities, capabilityFor } from '../capabilities/index.ts';
import { platform, readWitPackage, type World, witDir } from '../components/wit.ts';
import { HostError } from '../errors.ts';
import type { CliOptions } from './cli.ts';
import { type HostConfig, hostConfig, type ModuleConfig } from './schema.ts';

export interface ResolvedModule extends ModuleConfig {
  name: string;
  /** Absolute path of the component. */
  componentPath: string;
  worldSpec: World;
  /** Platform capabilities the world imports, by interface. */
  capabilityInterfaces: string[];
}

export interface ResolvedConfig extends Omit<HostConfig, 'modules'> {
  file: string;
  modules: ResolvedModule[];
}

type Raw = Record<string, any>;

/** Reads, overrides and validates the host config; every problem names the file, the key and the reason. */
export function loadConfig(cli: CliOptions, cwd = process.cwd()): ResolvedConfig {
  const file = resolve(cwd, cli.config);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new HostError(
      'EH_CONFIG_FILE',
      `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Pass an existing file with --config.`,
    );
  }
  let raw: Raw;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new HostError('EH_CONFIG_FILE', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  const fromFlags = applyOverrides(raw, cli, file);
  const parsed = hostConfig.safeParse(raw);
  if (!parsed.success) throw invalid(file, parsed.error.issues, fromFlags);
  return resolveModules(file, parsed.data);
}

/** Applies command-line overrides to the raw config; returns key path -> flag, to name the flag in errors. */
function applyOverrides(raw: Raw, cli: CliOptions, file: string): Map<string, string> {
  const fromFlags = new Map<string, string>();
  const moduleNamed = (name: string, flag: string): Raw => {
    const m = raw?.modules?.[name];
    if (!m || typeof m !== 'object') {
      throw new HostError('EH_CLI_USAGE', `${flag} applies to the module named "${name}", but ${file} has no modules.${name}`);
    }
    return m;
  };
  const set = (obj: Raw, keys: string[], value: unknown, path: string, flag: string) => {
    let o = obj;
    for (const k of keys.slice(0, -1)) o = o[k] && typeof o[k] === 'object' ? o[k] : (o[k] = {});
    o[keys[keys.length - 1]] = value;
    fromFlags.set(path, flag);
  };
  if (cli.logLevel !== undefined) set(raw, ['logLevel'], cli.logLevel, 'logLevel', '--log-level');
  if (cli.dataDir !== undefined) set(raw, ['dataDir'], cli.dataDir, 'dataDir', '--data-dir');
  if (cli.gatewayAllowedHosts) {
    const flag = '--gateway-allowed-host';
    set(
      moduleNamed('gateway', flag),
      ['grants', 'outboundHttp', 'allowedHosts'],
      cli.gatewayAllowedHosts,
      'modules.gateway.grants.outboundHttp.allowedHosts',
      flag,
    );
  }
  if (cli.gatewayUrl !== undefined) {
    set(moduleNamed('gateway', '--gateway-url'), ['config', 'url'], cli.gatewayUrl, 'modules.gateway.config.url', '--gateway-url');
  }
  if (cli.serverSocketAddresses) {
    const flag = '--server-socket-address';
    const server = moduleNamed('server', flag);
    set(server, ['grants', 'socket', 'listen'], cli.serverSocketAddresses, 'modules.server.grants.socket.listen', flag);
    // The module is told where to listen by the same flag that grants it.
    set(server, ['config', 'listen'], cli.serverSocketAddresses, 'modules.server.config.listen', flag);
  }
  return fromFlags;
}

function keyPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(top level)';
}

function invalid(file: string, issues: z.core.$ZodIssue[], fromFlags: Map<string, string>): HostError {
  const lines = issues.map((issue) => {
    const path = keyPath(issue.path);
    let reason = issue.message;
    if (issue.code === 'unrecognized_keys') {
      reason = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove ${issue.keys.length > 1 ? 'them' : 'it'} or fix the spelling`;
    }
    const flag = [...fromFlags].find(([p]) => path.startsWith(p))?.[1];
    return `${file}: ${path}: ${reason}${flag ? ` (from ${flag})` : ''}`;
  });
  return new HostError('EH_CONFIG_INVALID', `invalid config\n  ${lines.join('\n  ')}`);
}

function resolveModules(file: string, config: HostConfig): ResolvedConfig {
  const base = dirname(file);
  const problems: string[] = [];
  const modules: ResolvedModule[] = [];
  for (const [name, m] of Object.entries(config.modules)) {
    const key = `modules.${name}`;
    if (!m.enabled) continue;
    const dir = m.wit ? resolve(base, m.wit) : witDir;
    let world: World | undefined;
    try {
      // The host's own package is read once; a module's own WIT folder is read for it.
      const pkg = m.wit ? readWitPackage(dir) : platform();
      world = pkg.worlds.get(m.world);
      if (!world) problems.push(`${file}: ${key}.world: no world "${m.world}" in ${dir} (worlds there: ${[...pkg.worlds.keys()].join(', ')})`);
    } catch (e) {
      problems.push(`${file}: ${key}.wit: cannot read WIT from ${dir}: ${(e as Error).message}`);
    }
    const componentPath = resolve(base, m.component);
    if (!existsSync(componentPath)) {
      throw new HostError(
        'EH_COMPONENT_NOT_FOUND',
        `${file}: ${key}.component: ${componentPath} does not exist. Run "npm run build" to build the reference modules, or fix the path (it is relative to the config file).`,
      );
    }
    if (!world) continue;
    const capabilityInterfaces = world.imports.filter((i) => capabilityFor(i));
    // A grant for a capability the world cannot use is a mistake worth stopping for: it would silently do nothing.
    for (const [grantKey, value] of Object.entries(m.grants)) {
      if (grantKey === 'environment') continue;
      const cap = capabilityInterfaces.map(capabilityFor).find((c) => c?.grantKey === grantKey);
      const isEmpty = JSON.stringify(value) === JSON.stringify(capabilityByKey(grantKey)?.grant.parse({}));
      if (!cap && !isEmpty) problems.push(`${file}: ${key}.grants.${grantKey}: world "${m.world}" does not import this capability; remove the grant`);
    }
    const subscribeGrant = (m.grants.pubsub as { subscribe: string[] }).subscribe;
    m.subscriptions.forEach((filter, i) => {
      const problem = topicFilterProblem(filter);
      if (problem) problems.push(`${file}: ${key}.subscriptions[${i}]: ${problem}`);
      else if (!subscribeGrant.some((g) => filterCovers(g, filter))) {
        problems.push(`${file}: ${key}.subscriptions[${i}]: "${filter}" is not covered by ${key}.grants.pubsub.subscribe; add it there`);
      }
    });
    modules.push({ ...m, name, componentPath, worldSpec: world, capabilityInterfaces });
  }
  if (problems.length > 0) throw new HostError('EH_CONFIG_INVALID', `invalid config\n  ${problems.join('\n  ')}`);
  if (modules.length === 0) throw new HostError('EH_CONFIG_INVALID', `${file}: modules: no enabled module; add one`);
  const { modules: _, ...rest } = config;
  return { ...rest, file, modules };
}

function capabilityByKey(grantKey: string) {
  return capabilities.find((c) => c.grantKey === grantKey);
}
