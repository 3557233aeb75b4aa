// The link-time gate of a deploy through the admin API: a component is linked
// only to what its entry lets it use. Two checks, both before the running
// module is touched:
//
//  1. Every import is in the declared world (the world check of
//     host/components/world-check.ts, EH_WORLD_MISMATCH).
//  2. Every import of a platform capability that is granted per module (one
//     with a grant key: pubsub, outbound-http, socket) comes with a grant that
//     is not empty. Deny-by-default would refuse every call it makes, so a
//     component that needs what it was not given is refused now, with the
//     import and the key to set, instead of failing call by call later.
//
// WASI imports need no grant: language runtimes import wasi:filesystem and
// friends whether they use them or not, and the sandbox answers them with
// nothing (no preopens, no sockets) unless a grant (grants.filesystem) says otherwise.
// Nor do capabilities marked `linkWithoutGrant` (metrics, key-value), for the same reason.
import type { AnyCapability } from '../capabilities/index.ts';
import { capabilityFor } from '../capabilities/index.ts';
import type { ResolvedModule } from '../config/load.ts';
import { HostError } from '../errors.ts';

/**
 * The keys of a grant that grant something: those whose default is an empty
 * list (allowedHosts, publish/subscribe, listen, mounts). Other keys (timeouts,
 * sizes) only shape what those allow.
 */
function grantingKeys(cap: AnyCapability): string[] {
  const empty = cap.grant.parse({}) as Record<string, unknown>;
  return Object.keys(empty).filter((k) => Array.isArray(empty[k]) && (empty[k] as unknown[]).length === 0);
}

/** Whether a grant allows nothing: every granting key is empty (or, without such keys, it is the default). */
function grantsNothing(cap: AnyCapability, grant: unknown): boolean {
  const value = (grant ?? {}) as Record<string, unknown>;
  const keys = grantingKeys(cap);
  if (keys.length === 0) return JSON.stringify(grant ?? cap.grant.parse({})) === JSON.stringify(cap.grant.parse({}));
  return keys.every((k) => !Array.isArray(value[k]) || value[k].length === 0);
}

/** What to set, by the grant schema's own keys: `grants.outboundHttp.allowedHosts`. */
function keysToSet(cap: AnyCapability): string {
  const keys = grantingKeys(cap).map((k) => `grants.${cap.grantKey}.${k}`);
  return keys.length > 0 ? keys.join(' or ') : `grants.${cap.grantKey}`;
}

/** Throws EH_IMPORT_NOT_GRANTED naming every import the entry grants nothing for. */
export function checkImportsGranted(spec: ResolvedModule, imports: readonly string[], where = `modules.${spec.name}`): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const iface of imports) {
    if (iface.startsWith('wasi:')) continue;
    const cap = capabilityFor(iface);
    if (!cap?.grantKey || cap.linkWithoutGrant || seen.has(cap.name)) continue;
    seen.add(cap.name);
    const grant = (spec.grants as Record<string, unknown>)[cap.grantKey];
    if (!grantsNothing(cap, grant)) continue;
    problems.push(
      `${where}.grants.${cap.grantKey}: the component imports ${iface}, but the entry grants nothing of it, so every call would be denied; set ${keysToSet(cap)}, or deploy a component that does not import it`,
    );
  }
  if (problems.length > 0) throw new HostError('EH_IMPORT_NOT_GRANTED', `component not linked\n  ${problems.join('\n  ')}`);
}
