// MQTT topic names and filters (3.1.1 section 4.7; 5.0 section 4.7 is the same). Dependency-free on purpose:
// guests bundle this file too, so the bus and the server module agree on matching.

/** Topic names and filters are UTF-8 strings of at most 65535 bytes [MQTT-4.7.3-3]. */
const MAX_TOPIC_BYTES = 65535;

/** Bytes `s` takes in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function commonProblem(s: string, what: string): string | undefined {
  // [MQTT-4.7.3-1] at least one character long.
  if (s.length === 0) return `${what} is empty`;
  if (utf8Length(s) > MAX_TOPIC_BYTES) return `${what} is longer than ${MAX_TOPIC_BYTES} bytes`;
  // [MQTT-4.7.3-2] must not include the null character.
  if (s.includes('\u0000')) return `${what} contains U+0000`;
  return undefined;
}

/** Why `topic` is not a valid topic name to publish to, or undefined when it is. */
export function topicNameProblem(topic: string): string | undefined {
  const common = commonProblem(topic, 'topic');
  if (common) return common;
  // [MQTT-3.3.2-2] the topic name in a PUBLISH must not contain wildcards.
  if (topic.includes('+') || topic.includes('#')) return `topic "${topic}" contains a wildcard (+ or #)`;
  return undefined;
}

/** Why `filter` is not a valid topic filter, or undefined when it is. */
export function topicFilterProblem(filter: string): string | undefined {
  const common = commonProblem(filter, 'filter');
  if (common) return common;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.includes('#')) {
      // [MQTT-4.7.1-2] '#' occupies a whole level and is the last character.
      if (level !== '#' || i !== levels.length - 1) return `filter "${filter}": # must be the whole last level`;
    }
    // [MQTT-4.7.1-3] '+' occupies a whole level.
    if (level.includes('+') && level !== '+') return `filter "${filter}": + must be a whole level`;
  }
  return undefined;
}

/**
 * Whether `topic` (a valid topic name) matches `filter` (a valid filter).
 * A filter starting with a wildcard does not match a topic starting with '$' [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 36 /* $ */ && (filter[0] === '+' || filter[0] === '#')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    // '#' also matches the parent level: "a/#" matches "a" [MQTT-4.7.1-2]
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Whether every topic `filter` can match is also matched by `grant`. Used to
 * check a subscription against a module's subscribe grants: `sensors/#` covers
 * `sensors/+/temp`, `+/temp` does not cover `#`, and a grant starting with a
 * wildcard does not cover a filter for `$` topics.
 */
export function filterCovers(grant: string, filter: string): boolean {
  const g = grant.split('/');
  const f = filter.split('/');
  if (f[0].startsWith('$') && (g[0] === '+' || g[0] === '#')) return false;
  for (let i = 0; i < g.length; i++) {
    if (g[i] === '#') return true;
    if (i >= f.length) return false;
    if (f[i] === '#') return false;
    if (g[i] === '+') continue;
    if (g[i] !== f[i]) return false;
  }
  return g.length === f.length;
}

/** Number of levels in a topic name or filter: one more than its '/' separators. */
export function topicLevelCount(s: string): number {
  let n = 1;
  for (let i = s.indexOf('/'); i >= 0; i = s.indexOf('/', i + 1)) n++;
  return n;
}

/** A server's own bounds on topic names and filters, tighter than the protocol's. */
export interface TopicLimits {
  /** Most levels a topic name or filter may have. */
  maxLevels: number;
  /** Most UTF-8 bytes a topic name or filter may take. */
  maxBytes: number;
}

/**
 * Why `s` (a topic name or filter) exceeds `limits`, or undefined when it does not.
 * Cheap on hostile input: the length is checked before the levels are counted, and
 * nothing is split.
 */
export function topicLimitProblem(s: string, limits: TopicLimits, what = 'topic'): string | undefined {
  // Every UTF-16 unit takes at least one byte in UTF-8: the cheap bound first.
  if (s.length > limits.maxBytes || utf8Length(s) > limits.maxBytes) return `${what} is longer than ${limits.maxBytes} bytes`;
  const levels = topicLevelCount(s);
  if (levels > limits.maxLevels) return `${what} has ${levels} levels, more than ${limits.maxLevels}`;
  return undefined;
}

/** A shared subscription (MQTT 5.0 section 4.8.2): `$share/{group}/{filter}`. */
export interface SharedFilter {
  group: string;
  filter: string;
}

const SHARE_PREFIX = '$share/';

/** Whether `filter` asks for a shared subscription (it starts with `$share/`). */
export function isSharedFilter(filter: string): boolean {
  return filter.startsWith(SHARE_PREFIX);
}

/**
 * Splits a `$share/{group}/{filter}` subscription into its share name and topic
 * filter; returns a reason string when it is not a valid one. A filter that does not
 * start with `$share/` is not shared: check with isSharedFilter() first.
 */
export function parseSharedFilter(filter: string): SharedFilter | string {
  const rest = filter.slice(SHARE_PREFIX.length);
  const slash = rest.indexOf('/');
  // [MQTT-4.8.2-2] the share name is followed by '/' and a topic filter.
  if (slash < 0) return `shared subscription "${filter}" has no topic filter after the share name`;
  const group = rest.slice(0, slash);
  // [MQTT-4.8.2-1] a share name is at least one character and has no '/', '+' or '#'.
  if (group.length === 0) return `shared subscription "${filter}" has an empty share name`;
  if (group.includes('+') || group.includes('#')) return `shared subscription "${filter}": the share name must not contain + or #`;
  const inner = rest.slice(slash + 1);
  const problem = topicFilterProblem(inner);
  if (problem) return `shared subscription "${filter}": ${problem}`;
  return { group, filter: inner };
}
