// The one list of host capabilities. The host builds each module's imports,
// services, grants, limits and flags from the capabilities its world imports;
// adding a capability is its folder plus one line here.
import type { Capability } from './capability.ts';
import { config } from './config/index.ts';
import { filesystem } from './filesystem/index.ts';
import { httpServer } from './http-server/index.ts';
import { keyValue } from './key-value/index.ts';
import { logging } from './logging/index.ts';
import { metrics } from './metrics/index.ts';
import { outboundHttp } from './outbound-http/index.ts';
import { pubsub } from './pubsub/index.ts';
import { socket } from './socket/index.ts';
import { timer } from './timer/index.ts';

// biome-ignore lint/suspicious/noExplicitAny: each capability has its own grant and ops types; the list holds them all.
export type AnyCapability = Capability<any, any>;

export const capabilities: readonly AnyCapability[] = [logging, config, pubsub, outboundHttp, socket, timer, filesystem, httpServer, keyValue, metrics];

const unversioned = (name: string) => name.replace(/@[^@/]*$/, '');

/** The capability that answers interface `iface` (with or without version), if any. */
export function capabilityFor(iface: string): AnyCapability | undefined {
  const name = unversioned(iface);
  return capabilities.find((c) => c.interfaces.includes(name));
}

/** The capabilities a world gets: those whose interface it imports, each once, in list order. */
export function capabilitiesOf(imports: readonly string[]): AnyCapability[] {
  const wanted = new Set(imports.map(unversioned));
  return capabilities.filter((c) => c.interfaces.some((i) => wanted.has(i)));
}
