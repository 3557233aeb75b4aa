// How a bridge's rules map topics between the local bus and the broker. A rule's
// filter is relative to both prefixes, as in Mosquitto's own bridges
// (`topic <filter> <direction> <qos> <local-prefix> <remote-prefix>`):
//
//   out: local `localPrefix + filter`  ->  remote `remotePrefix + (topic without localPrefix)`
//   in:  remote `remotePrefix + filter` ->  local `localPrefix + (topic without remotePrefix)`
//
// With both prefixes empty a topic keeps its name. Pure functions, no I/O.
import { topicMatches } from '../../packages/mqtt-topic/topic.ts';

export interface BridgeRule {
  filter: string;
  /** '' or ends with '/'; no wildcards. */
  localPrefix: string;
  remotePrefix: string;
  qos: 0 | 1;
}

/** The filter a rule matches on the local bus. */
export const localFilter = (rule: BridgeRule): string => rule.localPrefix + rule.filter;

/** The filter a rule matches at the broker. */
export const remoteFilter = (rule: BridgeRule): string => rule.remotePrefix + rule.filter;

export interface Mapped {
  topic: string;
  qos: 0 | 1;
  /** Index of the rule that matched (the first that does). */
  rule: number;
}

/** Where a local message goes at the broker: the first out rule that matches it, or undefined. */
export function toRemote(rules: readonly BridgeRule[], topic: string): Mapped | undefined {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (topicMatches(localFilter(r), topic)) return { topic: r.remotePrefix + topic.slice(r.localPrefix.length), qos: r.qos, rule: i };
  }
  return undefined;
}

/** Where a message from the broker goes on the local bus: the first in rule that matches it, or undefined. */
export function toLocal(rules: readonly BridgeRule[], topic: string): Mapped | undefined {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (topicMatches(remoteFilter(r), topic)) return { topic: r.localPrefix + topic.slice(r.remotePrefix.length), qos: r.qos, rule: i };
  }
  return undefined;
}
