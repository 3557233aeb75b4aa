// /v1/modules: list, deploy (add or replace) and remove modules while the
// host runs. A deploy is checked completely before the running module is
// touched: the entry (the config file's rules and messages), the component
// (it transpiles, it fits the world) and the link-time gate (link-gate.ts).
// Only a change that took effect is recorded in the desired state, and it is
// recorded before the answer leaves.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, resolve } from 'node:path';
import { loadComponent } from '../components/load.ts';
import { loadModuleEntry } from '../config/load.ts';
import { HostError } from '../errors.ts';
import type { ModuleRuntime } from '../runtime/module-runtime.ts';
import type { AdminContext } from './context.ts';
import { AdminError, onlyParts, readForm, sendJson } from './http.ts';
import { checkImportsGranted } from './link-gate.ts';

const DEPLOY_EXAMPLE = 'curl -X PUT -H "Authorization: Bearer $TOKEN" -F component=@probe.wasm -F module=@entry.json http://127.0.0.1:9090/v1/modules/probe';

/** What GET /v1/modules shows of a module. */
export function describe(ctx: AdminContext, m: ModuleRuntime) {
  const info = m.info();
  const queue = ctx.host.bus.subscriber(m.name)?.stats();
  const deployed = ctx.desired.deployment(m.name);
  return {
    ...info,
    source: deployed ? ('api' as const) : info.source,
    ...(deployed ? { deployedAt: deployed.at } : {}),
    queueDepth: queue ? queue.queued + queue.inFlight : 0,
    ...(queue
      ? { queue: { queued: queue.queued, inFlight: queue.inFlight, delivered: queue.delivered, dropped: queue.dropped, deadLettered: queue.deadLettered } }
      : {}),
  };
}

export function list(ctx: AdminContext, res: ServerResponse): void {
  const modules = [...ctx.host.modules.values()].sort((a, b) => a.name.localeCompare(b.name)).map((m) => describe(ctx, m));
  sendJson(res, 200, { modules });
}

export function get(ctx: AdminContext, name: string, res: ServerResponse): void {
  const m = ctx.host.modules.get(name);
  if (!m) throw new HostError('EH_MODULE_NOT_FOUND', `no module named ${name}`);
  sendJson(res, 200, { module: describe(ctx, m) });
}

export async function deploy(ctx: AdminContext, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req, ctx.config.admin.maxUploadMb * 1024 * 1024, DEPLOY_EXAMPLE);
  onlyParts(form, ['component', 'module']);
  const bytes = await form.bytes('component');
  if (!bytes) throw new AdminError(400, 'EH_ADMIN_REQUEST', `part "component" is missing: it carries the component's bytes, e.g. ${DEPLOY_EXAMPLE}`);
  const entry = await form.json('module');
  if (entry === undefined)
    throw new AdminError(
      400,
      'EH_ADMIN_REQUEST',
      `part "module" is missing: it carries the module's entry (as in config/edgehost.json), e.g. ${DEPLOY_EXAMPLE}`,
    );
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new AdminError(400, 'EH_ADMIN_REQUEST', 'part "module" must be a JSON object: the module\'s entry, as in config/edgehost.json');
  }
  const stored = await ctx.desired.storeComponent(bytes);
  try {
    // The uploaded bytes are the component, whatever path the entry names.
    const raw = { ...(entry as Record<string, unknown>), component: stored.path };
    const spec = loadModuleEntry(name, raw, { base: dirname(ctx.config.file), where: `modules.${name}` });
    const component = await loadComponent(spec, resolve(ctx.config.cacheDir));
    checkImportsGranted(spec, component.imports);
    const running = ctx.host.modules.get(name);
    if (running) {
      await ctx.host.replaceModule(spec);
    } else {
      const added = await ctx.host.addModule(spec, 'api');
      if (added.state !== 'ready') {
        // A new module that does not start is taken out again, as a replacement is rolled back.
        const why = added.lastError ? `${added.lastError.code}: ${added.lastError.message}` : `it is ${added.state}`;
        await ctx.host.removeModule(name, { keepQueue: true }).catch(() => {});
        throw new HostError('EH_DEPLOY_FAILED', `module ${name}: the component did not start: ${why}. Nothing was added.`);
      }
    }
    await ctx.desired.recordDeploy(name, entry as Record<string, unknown>, stored.digest);
    const module = ctx.host.modules.get(name)!;
    ctx.logger.info({ module: name, digest: stored.digest, action: running ? 'replaced' : 'added' }, `module ${name} deployed through the admin API`);
    sendJson(res, running ? 200 : 201, { action: running ? 'replaced' : 'added', module: describe(ctx, module) });
  } finally {
    ctx.desired.release(stored.digest);
  }
}

export async function remove(ctx: AdminContext, name: string, url: URL, res: ServerResponse): Promise<void> {
  const keep = url.searchParams.get('keep-queue');
  const keepQueue = keep !== null && keep !== 'false' && keep !== '0';
  const timeoutText = url.searchParams.get('drain-timeout-ms');
  const drainTimeoutMs = timeoutText === null ? undefined : Number(timeoutText);
  if (drainTimeoutMs !== undefined && !(Number.isInteger(drainTimeoutMs) && drainTimeoutMs >= 0)) {
    throw new AdminError(400, 'EH_ADMIN_REQUEST', `drain-timeout-ms: expected a whole number of milliseconds, got "${timeoutText}"`);
  }
  const result = await ctx.host.removeModule(name, { keepQueue, ...(drainTimeoutMs !== undefined ? { drainTimeoutMs } : {}) });
  await ctx.desired.recordRemove(name, ctx.configModules.has(name));
  ctx.logger.info({ module: name, ...result }, `module ${name} removed through the admin API`);
  sendJson(res, 200, { removed: name, ...result });
}
