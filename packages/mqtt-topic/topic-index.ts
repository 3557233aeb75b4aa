// A trie of MQTT topic filters, so matching a topic costs about its number of
// levels instead of the number of filters (the server module may hold
// thousands). It must agree with topicMatches() in topic.ts; the tests compare
// the two on random filters and topics.

interface Node<T> {
  children: Map<string, Node<T>>;
  /** Values whose filter ends at this node. */
  values: Set<T>;
}

function newNode<T>(): Node<T> {
  return { children: new Map(), values: new Set() };
}

/**
 * Maps valid topic filters to sets of values. Filters are not validated here:
 * callers check them with topicFilterProblem() first.
 */
export class TopicIndex<T> {
  readonly #root: Node<T> = newNode();
  #size = 0;

  /** Number of (filter, value) pairs held. */
  get size(): number {
    return this.#size;
  }

  /** Adds `value` under `filter`; returns false when it was already there. */
  add(filter: string, value: T): boolean {
    let node = this.#root;
    for (const level of filter.split('/')) {
      let child = node.children.get(level);
      if (!child) {
        child = newNode();
        node.children.set(level, child);
      }
      node = child;
    }
    if (node.values.has(value)) return false;
    node.values.add(value);
    this.#size++;
    return true;
  }

  /** Removes `value` from `filter`; returns false when it was not there. */
  remove(filter: string, value: T): boolean {
    const levels = filter.split('/');
    const path: Node<T>[] = [this.#root];
    let node = this.#root;
    for (const level of levels) {
      const child = node.children.get(level);
      if (!child) return false;
      path.push(child);
      node = child;
    }
    if (!node.values.delete(value)) return false;
    this.#size--;
    // Prune the branch back up to the first node still in use, so churn of
    // short-lived filters (e.g. per-client ones in the server module) does not leak.
    for (let i = levels.length; i > 0; i--) {
      const n = path[i];
      if (n.values.size > 0 || n.children.size > 0) break;
      path[i - 1].children.delete(levels[i - 1]);
    }
    return true;
  }

  /**
   * Calls `visit` for every value whose filter matches `topic` (a valid topic
   * name). A value held under several matching filters is visited once per
   * filter: deduplicate in the caller when needed.
   */
  match(topic: string, visit: (value: T) => void): void {
    const levels = topic.split('/');
    // Wildcards in the first level do not match topics starting with '$' [MQTT-4.7.2-1].
    const dollar = topic.charCodeAt(0) === 36;
    // An explicit stack, not recursion: a topic of many thousand levels must
    // cost time in proportion, never overflow the caller's stack.
    const nodes: Node<T>[] = [this.#root];
    const depths: number[] = [0];
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const i = depths.pop()!;
      const wildcardsAllowed = !(dollar && i === 0);
      if (wildcardsAllowed) {
        // '#' matches the remaining levels, including none: "a/#" matches "a" [MQTT-4.7.1-2].
        const hash = node.children.get('#');
        if (hash) for (const v of hash.values) visit(v);
      }
      if (i === levels.length) {
        for (const v of node.values) visit(v);
        continue;
      }
      if (wildcardsAllowed) {
        const plus = node.children.get('+');
        if (plus) {
          nodes.push(plus);
          depths.push(i + 1);
        }
      }
      const exact = node.children.get(levels[i]);
      if (exact) {
        nodes.push(exact);
        depths.push(i + 1);
      }
    }
  }
}
