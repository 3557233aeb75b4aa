import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeMessage } from '../../../modules/server/src/message.ts';
import { RetainedStore } from '../../../modules/server/src/retained.ts';
import { SubscriptionIndex } from '../../../modules/server/src/subscriptions.ts';
import { topicMatches } from '../../../packages/mqtt-topic/topic.ts';
import { enc } from './harness.ts';

/** A small seeded PRNG (mulberry32), so a failure reproduces. */
function rng(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const words = ['a', 'b', '', '$x'];
const randomTopic = (random: (n: number) => number) => Array.from({ length: 1 + random(4) }, () => words[random(words.length)]).join('/') || 'a';
const randomFilter = (random: (n: number) => number) => {
  const levels = Array.from({ length: 1 + random(4) }, () => ['a', 'b', '', '+', '$x'][random(5)]);
  if (random(3) === 0) levels.push('#');
  return levels.join('/') || '+';
};

function matches(index: SubscriptionIndex<string, number>, topic: string): [string, string, number][] {
  const out: [string, string, number][] = [];
  index.match(topic, (e) => out.push([e.subscriber, e.filter, e.options]));
  return out.sort();
}

describe('subscription index', () => {
  it('visits each matching (subscriber, filter) with its options; adding again replaces the options', () => {
    const index = new SubscriptionIndex<string, number>();
    assert.equal(index.add('s', 'a/#', 0), true);
    assert.equal(index.add('s', 'a/+', 2), true);
    assert.equal(index.add('t', '#', 1), true);
    assert.equal(index.add('s', 'a/+', 1), false, 'a replacement is not new');
    assert.equal(index.size, 3);
    assert.deepEqual(matches(index, 'a/b'), [
      ['s', 'a/#', 0],
      ['s', 'a/+', 1],
      ['t', '#', 1],
    ]);
  });

  it('removes subscriptions; unknown ones are a no-op', () => {
    const index = new SubscriptionIndex<string, number>();
    index.add('s', 'a/b/c', 0);
    index.add('t', 'a/b', 0);
    assert.equal(index.remove('s', 'a/b/c'), true);
    assert.equal(index.remove('s', 'a/b/c'), false);
    assert.equal(index.remove('s', 'x/y'), false);
    assert.equal(index.size, 1);
    assert.deepEqual(matches(index, 'a/b/c'), []);
    assert.equal(index.remove('t', 'a/b'), true);
    assert.equal(index.size, 0);
  });

  it('agrees with topicMatches on random filters and topics', () => {
    const random = rng(7);
    const index = new SubscriptionIndex<string, number>();
    const filters = Array.from({ length: 200 }, () => randomFilter(random));
    filters.forEach((f, i) => {
      index.add(`s${i}`, f, 0);
    });
    for (let i = 0; i < 500; i++) {
      const t = randomTopic(random);
      const expected = filters.flatMap((f, j) => (topicMatches(f, t) ? [`s${j}`] : [])).sort();
      assert.deepEqual(
        matches(index, t).map(([s]) => s),
        expected,
        `topic "${t}"`,
      );
    }
  });

  it('shared groups: one group per $share/{group}/{filter}, round robin over online members', () => {
    const index = new SubscriptionIndex<string, number>();
    const share = { group: 'g', filter: 'jobs/+' };
    for (const s of ['a', 'b', 'c']) index.add(s, '$share/g/jobs/+', 1, share);
    index.add('d', '$share/h/jobs/+', 1, { group: 'h', filter: 'jobs/+' });
    assert.equal(index.groupCount, 2);
    assert.deepEqual(matches(index, 'jobs/1'), [], 'shared subscriptions are not matched as direct ones');
    const online = new Set(['a', 'c']);
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) index.matchShared('jobs/1', (g) => g.group === 'g' && picks.push(g.pick((s) => online.has(s)).subscriber));
    assert.deepEqual(picks, ['a', 'c', 'a', 'c'], 'b is offline and skipped');
    online.clear();
    const offlinePicks: string[] = [];
    for (let i = 0; i < 3; i++) index.matchShared('jobs/1', (g) => g.group === 'g' && offlinePicks.push(g.pick(() => false).subscriber));
    assert.deepEqual(offlinePicks.sort(), ['a', 'b', 'c'], 'with none online, all take turns');
    for (const s of ['a', 'b', 'c']) index.remove(s, '$share/g/jobs/+', share);
    assert.equal(index.groupCount, 1, 'an empty group is dropped');
  });
});

describe('retained index', () => {
  const retain = (store: RetainedStore, topic: string, payload = 'x') => store.set(makeMessage(topic, enc(payload)), 0);
  const topics = (list: { message: { topic: string } }[]) => list.map((r) => r.message.topic).sort();

  it('finds what topicMatches finds, on random filters and topics', () => {
    const random = rng(11);
    const store = new RetainedStore(100_000, 1 << 30);
    const all = [...new Set(Array.from({ length: 300 }, () => randomTopic(random)))];
    for (const t of all) retain(store, t);
    for (let i = 0; i < 300; i++) {
      const f = randomFilter(random);
      assert.deepEqual(topics(store.matching(f, 0)), all.filter((t) => topicMatches(f, t)).sort(), `filter "${f}"`);
    }
  });

  it('a walk takes no more steps per call than its budget, and resumes where it stopped', () => {
    const store = new RetainedStore(100_000, 1 << 30);
    for (let i = 0; i < 1000; i++) retain(store, `r/${i % 10}/${i}`);
    const cursor = store.cursor('r/+/#');
    const seen: string[] = [];
    let calls = 0;
    while (!cursor.done) {
      const steps = cursor.next(50, 0, (r) => seen.push(r.message.topic));
      assert.ok(steps <= 50, `${steps} steps`);
      calls++;
    }
    assert.equal(seen.length, 1000);
    assert.equal(new Set(seen).size, 1000);
    assert.ok(calls > 20, `${calls} calls`);
  });

  it('clearing removes the topic and prunes its levels; count and bytes are bounded', () => {
    const store = new RetainedStore(2, 10);
    assert.equal(retain(store, 'a/b', '1234'), 'stored'); // 3 + 4 bytes
    assert.equal(retain(store, 'c', '12345'), 'too-large');
    assert.equal(retain(store, 'c', '1'), 'stored');
    assert.equal(retain(store, 'd', '1'), 'too-many');
    assert.equal(retain(store, 'a/b', '123'), 'stored', 'replacing one within the bytes is fine');
    assert.equal(retain(store, 'a/b', ''), 'cleared');
    assert.equal(store.size, 1);
    assert.equal(store.byteSize, 2);
    assert.deepEqual(topics(store.matching('#', 0)), ['c']);
  });

  it('an expired message is not found and is removed', () => {
    const store = new RetainedStore(10, 1000);
    store.set(makeMessage('e', enc('x'), { expiresAt: 1000 }), 0);
    assert.equal(store.matching('e', 999).length, 1);
    assert.equal(store.matching('#', 1000).length, 0);
    assert.equal(store.size, 0);
  });
});
