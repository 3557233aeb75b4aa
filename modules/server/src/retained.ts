// Retained messages: the last retained PUBLISH of each topic, sent to new subscribers.
// Kept in a tree of topic levels, so that the retained messages matching a filter are
// found by walking the levels the filter names, not by testing every topic; and the
// walk is resumable (RetainedCursor), so a subscription matching very many is served
// over several calls within a budget per call.

import type { QoS } from './codec/packets.ts';
import { expired, type Message, type MessageSnapshot, messageSnapshot } from './message.ts';

export interface RetainedMessage {
  readonly message: Message;
  readonly qos: QoS;
}

/** A retained message as plain data, for a store. */
export interface RetainedSnapshot {
  message: MessageSnapshot;
  qos: QoS;
}

export function retainedSnapshot(r: RetainedMessage): RetainedSnapshot {
  return { message: messageSnapshot(r.message), qos: r.qos };
}

/** 'too-many': past max-retained-messages; 'too-large': past max-retained-bytes. */
export type RetainOutcome = 'stored' | 'cleared' | 'too-many' | 'too-large';

interface Node {
  /** Child levels; absent while there are none. */
  children?: Map<string, Node>;
  retained?: RetainedMessage;
}

/** Bytes a retained message counts against `max-retained-bytes`: its topic and payload. */
function cost(m: Message): number {
  return m.topicBytes.length + m.payload.length;
}

export class RetainedStore {
  private readonly root: Node = {};
  private readonly byTopic = new Map<string, RetainedMessage>();
  private readonly maxCount: number;
  private readonly maxBytes: number;
  private bytes = 0;

  constructor(maxCount: number, maxBytes: number) {
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
  }

  get size(): number {
    return this.byTopic.size;
  }

  /** Bytes of topics and payloads held. */
  get byteSize(): number {
    return this.bytes;
  }

  /**
   * Keeps `message` as the retained message of its topic, replacing the previous one
   * [MQTT-3.3.1-5]; an empty payload removes it and is not stored [MQTT-3.3.1-10] [MQTT-3.3.1-11].
   * QoS 0 messages are stored too [MQTT-3.3.1-7]. A message that would take the store
   * past its count or bytes is not stored (an existing one for its topic stays).
   */
  set(message: Message, qos: QoS): RetainOutcome {
    const topic = message.topic;
    if (message.payload.length === 0) {
      this.delete(topic);
      return 'cleared';
    }
    const previous = this.byTopic.get(topic);
    if (previous === undefined && this.byTopic.size >= this.maxCount) return 'too-many';
    if (this.bytes - (previous ? cost(previous.message) : 0) + cost(message) > this.maxBytes) return 'too-large';
    const r: RetainedMessage = { message, qos };
    if (previous) this.bytes -= cost(previous.message);
    this.bytes += cost(message);
    this.byTopic.set(topic, r);
    let node = this.root;
    for (const level of topic.split('/')) {
      node.children ??= new Map();
      let next = node.children.get(level);
      if (!next) {
        next = {};
        node.children.set(level, next);
      }
      node = next;
    }
    node.retained = r;
    return 'stored';
  }

  get(topic: string): RetainedMessage | undefined {
    return this.byTopic.get(topic);
  }

  /** Removes the retained message of `topic`; returns whether there was one. */
  delete(topic: string): boolean {
    const r = this.byTopic.get(topic);
    if (!r) return false;
    this.byTopic.delete(topic);
    this.bytes -= cost(r.message);
    const levels = topic.split('/');
    const path: Node[] = [this.root];
    let node = this.root;
    for (const level of levels) {
      const next = node.children?.get(level);
      if (!next) return true;
      path.push(next);
      node = next;
    }
    node.retained = undefined;
    // Prune empty branches, so that churn of unique topics does not leak nodes.
    for (let i = levels.length; i > 0; i--) {
      const n = path[i];
      if (n.retained !== undefined || (n.children !== undefined && n.children.size > 0)) break;
      const parent = path[i - 1];
      parent.children!.delete(levels[i - 1]);
      if (parent.children!.size === 0) parent.children = undefined;
    }
    return true;
  }

  /** A resumable walk over the retained messages matching `filter` (a valid, non-shared filter). */
  cursor(filter: string): RetainedCursor {
    return new RetainedCursor(this, filter);
  }

  /** All retained messages matching `filter`, at once: for tests and small stores. */
  matching(filter: string, now: number): RetainedMessage[] {
    const out: RetainedMessage[] = [];
    const c = this.cursor(filter);
    while (!c.done) c.next(Number.MAX_SAFE_INTEGER, now, (r) => out.push(r));
    return out;
  }

  /** Every retained message as plain data, for a store. */
  snapshot(): RetainedSnapshot[] {
    return [...this.byTopic.values()].map(retainedSnapshot);
  }

  /** @internal for RetainedCursor */
  rootNode(): Node {
    return this.root;
  }
}

/** A step of the walk: a node at a depth of the filter, and (once expanded) an iterator over its children. */
interface Frame {
  node: Node;
  depth: number;
  /** Under a '#': every descendant matches. */
  all: boolean;
  children?: Iterator<[string, Node]>;
}

/**
 * Walks the retained messages matching a filter, a bounded number of steps at a
 * time. A step is one node looked at or one child taken from an iterator, so the
 * cost of a call is bounded whatever the filter and the store hold. Messages
 * retained or cleared while a walk is paused may or may not be seen by it.
 */
export class RetainedCursor {
  private readonly levels: string[];
  private readonly store: RetainedStore;
  private readonly stack: Frame[] = [];
  private exact: string | undefined;

  constructor(store: RetainedStore, filter: string) {
    this.store = store;
    this.levels = filter.split('/');
    // A filter without wildcards names one topic: a map lookup, no walk.
    if (!filter.includes('+') && !filter.includes('#')) this.exact = filter;
    else this.stack.push({ node: store.rootNode(), depth: 0, all: false });
  }

  get done(): boolean {
    return this.exact === undefined && this.stack.length === 0;
  }

  /**
   * Takes up to `budget` steps, calling `visit` for each matching retained message
   * that has not expired (expired ones are removed [MQTT-3.3.2-5]). Returns the steps taken.
   */
  next(budget: number, now: number, visit: (r: RetainedMessage) => void): number {
    if (this.exact !== undefined) {
      const r = this.store.get(this.exact);
      this.exact = undefined;
      if (r) this.emit(r, now, visit);
      return 1;
    }
    const levels = this.levels;
    let steps = 0;
    while (steps < budget && this.stack.length > 0) {
      steps++;
      const top = this.stack[this.stack.length - 1];
      if (top.children !== undefined) {
        const next = top.children.next();
        if (next.done) {
          this.stack.pop();
          continue;
        }
        const [key, child] = next.value;
        // [MQTT-4.7.2-1] a wildcard in the first level does not match a topic starting with '$'.
        if (top.depth === 0 && key.charCodeAt(0) === 36) continue;
        this.stack.push({ node: child, depth: top.depth + 1, all: top.all });
        continue;
      }
      const { node, depth } = top;
      if (top.all) {
        // Under '#': this node and everything below it match.
        if (node.retained) this.emit(node.retained, now, visit);
        if (node.children) top.children = node.children.entries();
        else this.stack.pop();
        continue;
      }
      if (depth === levels.length) {
        if (node.retained) this.emit(node.retained, now, visit);
        this.stack.pop();
        continue;
      }
      const level = levels[depth];
      if (level === '#') {
        // '#' also matches the parent level: "a/#" matches "a" [MQTT-4.7.1-2]. (The root holds no message.)
        if (node.retained) this.emit(node.retained, now, visit);
        if (node.children) {
          top.all = true;
          top.children = node.children.entries();
        } else this.stack.pop();
        continue;
      }
      if (level === '+') {
        if (node.children) top.children = node.children.entries();
        else this.stack.pop();
        continue;
      }
      this.stack.pop();
      const child = node.children?.get(level);
      if (child) this.stack.push({ node: child, depth: depth + 1, all: false });
    }
    return steps;
  }

  private emit(r: RetainedMessage, now: number, visit: (r: RetainedMessage) => void): void {
    if (expired(r.message, now)) {
      this.store.delete(r.message.topic);
      return;
    }
    visit(r);
  }
}
