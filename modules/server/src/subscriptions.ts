// The subscriptions of every session, indexed by topic level (the bus's TopicIndex) so
// that routing a message walks the levels of its topic instead of testing every
// filter; shared subscriptions ($share/{group}/{filter}) are indexed by group.

import { TopicIndex } from '../../../packages/mqtt-topic/topic-index.ts';

/** One subscription of one subscriber: what the index holds. `options` may be replaced in place. */
export interface Entry<S, O> {
  readonly subscriber: S;
  readonly filter: string;
  options: O;
}

/**
 * A shared subscription group: the sessions subscribed to `$share/{group}/{filter}`.
 * Each message matching `filter` goes to one of them, chosen by `SharedGroup.pick`.
 */
export class SharedGroup<S, O> {
  readonly group: string;
  readonly filter: string;
  readonly members: Entry<S, O>[] = [];
  private next = 0;

  constructor(group: string, filter: string) {
    this.group = group;
    this.filter = filter;
  }

  /**
   * The member that gets the next message: round robin over the members for which
   * `online` holds; when none does, round robin over all (the message queues in that
   * member's session).
   */
  pick(online: (s: S) => boolean): Entry<S, O> {
    const n = this.members.length;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      if (online(this.members[i].subscriber)) {
        this.next = (i + 1) % n;
        return this.members[i];
      }
    }
    const i = this.next % n;
    this.next = (i + 1) % n;
    return this.members[i];
  }
}

export class SubscriptionIndex<S, O> {
  private readonly direct = new TopicIndex<Entry<S, O>>();
  private readonly shared = new TopicIndex<SharedGroup<S, O>>();
  /** Groups by `{group}/{filter}`. */
  private readonly groups = new Map<string, SharedGroup<S, O>>();
  /** Each subscriber's entries by the filter it subscribed with (`$share/...` included). */
  private readonly bySubscriber = new Map<S, Map<string, Entry<S, O>>>();
  private count = 0;

  /** Number of (subscriber, filter) pairs. */
  get size(): number {
    return this.count;
  }

  /** Number of shared subscription groups. */
  get groupCount(): number {
    return this.groups.size;
  }

  /**
   * Adds `subscriber`'s subscription to `filter` (a valid filter; for a shared one,
   * `share` is its parsed group and inner filter), or replaces its options
   * [MQTT-3.8.4-3]. Returns whether it is new.
   */
  add(subscriber: S, filter: string, options: O, share?: { group: string; filter: string }): boolean {
    let mine = this.bySubscriber.get(subscriber);
    const existing = mine?.get(filter);
    if (existing) {
      existing.options = options;
      return false;
    }
    const entry: Entry<S, O> = { subscriber, filter, options };
    if (!mine) {
      mine = new Map();
      this.bySubscriber.set(subscriber, mine);
    }
    mine.set(filter, entry);
    this.count++;
    if (!share) {
      this.direct.add(filter, entry);
      return true;
    }
    const key = `${share.group}/${share.filter}`;
    let group = this.groups.get(key);
    if (!group) {
      group = new SharedGroup(share.group, share.filter);
      this.groups.set(key, group);
      this.shared.add(share.filter, group);
    }
    group.members.push(entry);
    return true;
  }

  /** Removes `subscriber`'s subscription to `filter` (as subscribed); returns whether it had one. */
  remove(subscriber: S, filter: string, share?: { group: string; filter: string }): boolean {
    const mine = this.bySubscriber.get(subscriber);
    const entry = mine?.get(filter);
    if (!mine || !entry) return false;
    mine.delete(filter);
    if (mine.size === 0) this.bySubscriber.delete(subscriber);
    this.count--;
    if (!share) {
      this.direct.remove(filter, entry);
      return true;
    }
    const key = `${share.group}/${share.filter}`;
    const group = this.groups.get(key);
    if (group) {
      const i = group.members.indexOf(entry);
      if (i >= 0) group.members.splice(i, 1);
      if (group.members.length === 0) {
        this.groups.delete(key);
        this.shared.remove(share.filter, group);
      }
    }
    return true;
  }

  /** Calls `visit` for each non-shared subscription matching `topic` (a subscriber once per matching filter). */
  match(topic: string, visit: (entry: Entry<S, O>) => void): void {
    this.direct.match(topic, visit);
  }

  /** Calls `visit` for each shared group whose filter matches `topic`. */
  matchShared(topic: string, visit: (group: SharedGroup<S, O>) => void): void {
    if (this.groups.size > 0) this.shared.match(topic, visit);
  }
}
