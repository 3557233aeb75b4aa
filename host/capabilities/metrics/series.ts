// The naming rules of edgehost:platform/metrics (wit/metrics.wit): checked the
// first time a module reports a series, never again for that series.

export type SeriesType = 'counter' | 'gauge';
export type Labels = readonly (readonly [string, string])[];

export const MAX_NAME_LENGTH = 64;
export const MAX_LABELS = 8;
export const MAX_LABEL_NAME_LENGTH = 32;
export const MAX_LABEL_VALUE_LENGTH = 128;
const SNAKE = /^[a-z][a-z0-9_]*$/;

/** Why `name` cannot name a series of `type`, or undefined. */
export function nameProblem(name: string, type: SeriesType): string | undefined {
  if (!SNAKE.test(name) || name.length > MAX_NAME_LENGTH) {
    return `metric name "${cut(name)}": use lowercase snake case ([a-z][a-z0-9_]*), at most ${MAX_NAME_LENGTH} characters`;
  }
  // The host's own families are edgehost_guest_call_*: a guest name there would collide with them.
  if (name.startsWith('call_')) return `metric name "${name}": names starting with call_ are the host's; choose another`;
  const total = name.endsWith('_total');
  if (type === 'counter' && !total) return `counter "${name}": a counter's name ends in _total (${name}_total)`;
  if (type === 'gauge' && total) return `gauge "${name}": only counters' names end in _total; report it with counter-add, or rename it`;
  return undefined;
}

/** Why `labels` cannot label a series, or undefined. */
export function labelsProblem(labels: Labels): string | undefined {
  if (labels.length > MAX_LABELS) return `${labels.length} labels: at most ${MAX_LABELS}`;
  const seen = new Set<string>();
  for (const [name, value] of labels) {
    if (!SNAKE.test(name) || name.length > MAX_LABEL_NAME_LENGTH) {
      return `label name "${cut(name)}": use lowercase snake case ([a-z][a-z0-9_]*), at most ${MAX_LABEL_NAME_LENGTH} characters`;
    }
    if (name === 'module') return 'label "module" is the host\'s: it adds the module\'s name itself';
    if (seen.has(name)) return `label "${name}" is given twice`;
    seen.add(name);
    if (value.length > MAX_LABEL_VALUE_LENGTH) return `label "${name}": its value has ${value.length} characters, at most ${MAX_LABEL_VALUE_LENGTH}`;
  }
  return undefined;
}

/**
 * A key for a name and labels as given. Label names cannot contain the
 * separators once valid, and each value is length-prefixed, so two valid
 * series never share a key.
 */
export function seriesKey(name: string, labels: Labels): string {
  let key = name;
  for (const [k, v] of labels) key += `\u0000${k}=${v.length}:${v}`;
  return key;
}

/** The labels in name order: the same series whatever order a call gives them in. */
export function sortedLabels(labels: Labels): [string, string][] {
  return labels.map(([k, v]): [string, string] => [k, v]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const cut = (s: string) => (s.length > MAX_NAME_LENGTH ? `${s.slice(0, MAX_NAME_LENGTH)}...` : s);
