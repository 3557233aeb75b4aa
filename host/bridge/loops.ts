// Loop and echo prevention. Three mechanisms, each closing one path:
//
// 1. Ping-pong between hosts. A message a bridge brings in is published on the local bus
//    with the publisher `bridge:<name>`; no bridge sends out a message whose publisher is a
//    bridge (its own through the bus's noLocal, any other one in the out path). So host B
//    never returns what came from host A, whatever the rules, and a message that came in over
//    one broker never leaves over another (relaying between brokers is the brokers' job).
// 2. Self-echo at the broker (what a host sends out coming back in through its own in rule).
//    With MQTT 5 the in subscriptions carry No Local [MQTT-3.8.3-3], so the broker does not
//    send a connection its own publishes. MQTT 3.1.1 has no such flag, so there a bridge whose
//    in rules could match what its out rules send is refused (at config time for
//    protocolVersion 4; at connect time when an MQTT 5 bridge meets a 3.1.1-only broker).
// 3. Echo through another connection of the same host (two bridges to one broker). Under
//    MQTT 5 each publish carries the user property `edgehost-origin` with the bridge's client
//    id; an in path drops messages whose origin is a client id of this host.
import type { BusMessage } from '../bus/bus.ts';
import { type BridgeRule, remoteFilter } from './topics.ts';

const PUBLISHER_PREFIX = 'bridge:';

/** The bus publisher (and subscriber id) of a bridge: no module name contains ':', so they never collide. */
export const bridgeId = (name: string): string => `${PUBLISHER_PREFIX}${name}`;

/** Whether a bus message was brought in by a bridge. */
export const cameOverABridge = (message: BusMessage): boolean => message.publisher?.startsWith(PUBLISHER_PREFIX) ?? false;

/** MQTT 5 user property naming the client id that published a message to the broker. */
export const ORIGIN_PROPERTY = 'edgehost-origin';

/** The origin a publish from the broker carries, if any (MQTT 5 user properties may repeat a key). */
export function originOf(properties: { userProperties?: Record<string, string | string[]> } | undefined): string[] {
  const value = properties?.userProperties?.[ORIGIN_PROPERTY];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Whether some topic matches both filters (both valid). `+` matches any one level, `#` any
 * rest including the parent level, and a filter starting with a wildcard matches no `$` topic.
 */
export function filtersIntersect(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  const wild = (level: string) => level === '+' || level === '#';
  if ((wild(x[0]) && y[0].startsWith('$')) || (wild(y[0]) && x[0].startsWith('$'))) return false;
  for (let i = 0; ; i++) {
    if (x[i] === '#' || y[i] === '#') return true;
    if (x[i] === undefined || y[i] === undefined) return x[i] === y[i];
    if (x[i] !== '+' && y[i] !== '+' && x[i] !== y[i]) return false;
  }
}

/** Pairs of (out rule, in rule) where what the out rule sends could come back through the in rule. */
export function echoPaths(out: readonly BridgeRule[], inRules: readonly BridgeRule[]): { out: number; in: number }[] {
  const found: { out: number; in: number }[] = [];
  for (const [o, outRule] of out.entries()) {
    for (const [i, inRule] of inRules.entries()) if (filtersIntersect(remoteFilter(outRule), remoteFilter(inRule))) found.push({ out: o, in: i });
  }
  return found;
}

/** Pairs of in rules whose remote filters overlap: the broker may send a message once per matching subscription. */
export function overlappingInRules(inRules: readonly BridgeRule[]): [number, number][] {
  const found: [number, number][] = [];
  for (let i = 0; i < inRules.length; i++) {
    for (let j = i + 1; j < inRules.length; j++) if (filtersIntersect(remoteFilter(inRules[i]), remoteFilter(inRules[j]))) found.push([i, j]);
  }
  return found;
}
