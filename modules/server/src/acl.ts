// Which topics clients may publish to and which filters they may subscribe to.
// Deny by default: an empty list allows nothing. The module's default config
// allows every topic that does not start with '$' (filters starting with a
// wildcard never match '$' topics), as Mosquitto does.

import { filterCovers, topicMatches } from '../../../packages/mqtt-topic/topic.ts';

export interface AclRules {
  /** Filters of the topics clients may publish to. */
  publish: string[];
  /** Filters clients may subscribe to, or narrower ones. */
  subscribe: string[];
}

export class Acl {
  private readonly rules: AclRules;

  constructor(rules: AclRules) {
    this.rules = rules;
  }

  /** Whether a client may publish to `topic` (a valid topic name). */
  canPublish(topic: string): boolean {
    return this.rules.publish.some((f) => topicMatches(f, topic));
  }

  /** Whether a client may subscribe to `filter` (a valid filter): some rule must cover every topic it can match. */
  canSubscribe(filter: string): boolean {
    return this.rules.subscribe.some((g) => filterCovers(g, filter));
  }
}
