// The subscriptions of every session, indexed by topic level so that routing a
// message walks the levels of its topic instead of testing every filter.

import type { QoS } from './codec/packets.ts';

class Node<S> {
  readonly children = new Map<string, Node<S>>();
  /** Subscribers whose filter ends at this node, with their granted QoS. */
  readonly subscribers = new Map<S, QoS>();
}

export class SubscriptionIndex<S> {
  private readonly root = new Node<S>();
  private count = 0;

  /** Number of (subscriber, filter) pairs. */
  get size(): number {
    return this.count;
  }

  /** Adds or replaces the subscription of `subscriber` to `filter` (a valid filter). */
  add(filter: string, subscriber: S, qos: QoS): void {
    let node = this.root;
    for (const level of filter.split('/')) {
      let next = node.children.get(level);
      if (!next) {
        next = new Node<S>();
        node.children.set(level, next);
      }
      node = next;
    }
    if (!node.subscribers.has(subscriber)) this.count++;
    node.subscribers.set(subscriber, qos);
  }

  remove(filter: string, subscriber: S): void {
    const path: Node<S>[] = [this.root];
    const levels = filter.split('/');
    let node = this.root;
    for (const level of levels) {
      const next = node.children.get(level);
      if (!next) return;
      path.push(next);
      node = next;
    }
    if (!node.subscribers.delete(subscriber)) return;
    this.count--;
    // Prune empty branches so that churn of unique filters does not leak nodes.
    for (let i = levels.length; i > 0; i--) {
      const n = path[i];
      if (n.subscribers.size > 0 || n.children.size > 0) break;
      path[i - 1].children.delete(levels[i - 1]);
    }
  }

  /**
   * The subscribers with a filter matching `topic`, each once with the highest QoS
   * of its matching filters (overlapping subscriptions deliver once, 3.3.5).
   */
  match(topic: string): Map<S, QoS> {
    const out = new Map<S, QoS>();
    const levels = topic.split('/');
    // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with '$'.
    const dollar = topic.charCodeAt(0) === 36;
    // Iterative, not recursive: a topic of thousands of empty levels ("////...") must not
    // exhaust the guest's stack.
    const nodes: Node<S>[] = [this.root];
    const depths: number[] = [0];
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const depth = depths.pop()!;
      const wildcardsAllowed = !(dollar && depth === 0);
      if (wildcardsAllowed) {
        // '#' matches the rest, including no more levels: "a/#" matches "a" [MQTT-4.7.1-2].
        const hash = node.children.get('#');
        if (hash) collect(hash, out);
      }
      if (depth === levels.length) {
        collect(node, out);
        continue;
      }
      const exact = node.children.get(levels[depth]);
      if (exact) {
        nodes.push(exact);
        depths.push(depth + 1);
      }
      if (wildcardsAllowed) {
        const plus = node.children.get('+');
        if (plus) {
          nodes.push(plus);
          depths.push(depth + 1);
        }
      }
    }
    return out;
  }
}

function collect<S>(node: Node<S>, out: Map<S, QoS>): void {
  for (const [s, qos] of node.subscribers) {
    const had = out.get(s);
    if (had === undefined || qos > had) out.set(s, qos);
  }
}

/** Whether `topic` matches `filter`: the bus's own matcher, so both sides agree ($ rule included). */
export { topicMatches as filterMatches } from '../../../packages/mqtt-topic/topic.ts';
