import type { Capability } from './capability.ts';
import { config } from './config/index.ts';
import { logging } from './logging/index.ts';
import { outboundHttp } from './outbound-http/index.ts';
import { pubsub } from './pubsub/index.ts';
import { socket } from './socket/index.ts';
import { timer } from './timer/index.ts';

/** Every host capability. The host builds a module's imports from the ones its world imports. */
export const capabilities: readonly Capability<any>[] = [logging, config, pubsub, outboundHttp, socket, timer];

export function capabilityFor(iface: string): Capability<any> | undefined {
  return capabilities.find((c) => c.interface === iface);
}
