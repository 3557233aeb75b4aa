// MQTT topic names and filters (3.1.1 section 4.7; 5.0 section 4.7 is the same). Dependency-free on purpose:
// guests bundle this file too, so the bus and the server module agree on matching.

/** Topic names and filters are UTF-8 strings of at most 65535 bytes [MQTT-4.7.3-3]. */
const MAX_TOPIC_BYTES = 65535;

function utf8Length(s: string): number {
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
