import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  isSharedFilter,
  parseSharedFilter,
  topicFilterProblem,
  topicLevelCount,
  topicLimitProblem,
  topicMatches,
  topicNameProblem,
} from '../../../packages/mqtt-topic/topic.ts';
import { TopicIndex } from '../../../packages/mqtt-topic/topic-index.ts';

// [filter, topic, matches]; spec references are to MQTT 3.1.1 section 4.7.
const matchCases: [string, string, boolean][] = [
  // 4.7.1.2 multi-level wildcard
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/tennis/player1/#', 'sport/tennis/player2', false],
  ['sport/tennis/player1/#', 'sport/tennis', false],
  ['sport/#', 'sport', true],
  ['sport/#', 'sport/', true],
  ['sport/#', 'sports', false],
  ['#', 'sport/tennis/player1', true],
  ['#', '/', true],
  ['#', '/finance', true],
  // 4.7.1.3 single-level wildcard
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true], // + matches an empty level
  ['+', 'sport', true],
  ['+', '/finance', false],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+/tennis/#', 'sport/tennis/player1', true],
  ['+/tennis/#', 'sport/tennis', true],
  ['+/+/+', 'a//c', true],
  ['a/+/c', 'a//c', true],
  ['+/#', '/', true],
  ['+/+', 'a', false],
  // 4.7.2 topics beginning with $
  ['#', '$SYS/broker/load', false],
  ['+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['+', '$SYS', false],
  ['+/#', '$SYS/x', false],
  ['$SYS/#', '$SYS/monitor/Clients', true],
  ['$SYS/#', '$SYS', true],
  ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
  ['$SYS/+', '$SYS/monitor/Clients', false],
  ['a/$b/#', 'a/$b/c', true],
  ['a/+', 'a/$b', true], // only a first-level $ is special
  // 4.7.3 topic semantics: levels are compared exactly
  ['ACCOUNTS', 'Accounts', false],
  ['Accounts', 'Accounts', true],
  ['sport/tennis', 'sport/tennis/', false], // a trailing slash adds an empty level
  ['sport/tennis/', 'sport/tennis/', true],
  ['sport/tennis/', 'sport/tennis', false],
  ['/', '/', true],
  ['/finance', 'finance', false],
  ['finance', '/finance', false],
  ['a//b', 'a/b', false],
  ['a//b', 'a//b', true],
  ['Accounts payable', 'Accounts payable', true], // spaces are allowed
  ['a b/+', 'a b/c d', true],
  ['ü/+', 'ü/ß', true],
  ['a/b', 'a/b/c', false],
  ['a/b/c', 'a/b', false],
];

test('topicMatches: MQTT 3.1.1 section 4.7 cases', () => {
  const wrong = matchCases.filter(([f, t, want]) => topicMatches(f, t) !== want);
  assert.deepEqual(wrong, []);
});

test('the match table uses only valid filters and topic names', () => {
  for (const [f, t] of matchCases) {
    assert.equal(topicFilterProblem(f), undefined, f);
    assert.equal(topicNameProblem(t), undefined, t);
  }
});

const filterProblems: [string, string | undefined][] = [
  ['a/#/b', 'filter "a/#/b": # must be the whole last level'],
  ['a#', 'filter "a#": # must be the whole last level'],
  ['a/b#', 'filter "a/b#": # must be the whole last level'],
  ['#/', 'filter "#/": # must be the whole last level'],
  ['a+/b', 'filter "a+/b": + must be a whole level'],
  ['a/+b', 'filter "a/+b": + must be a whole level'],
  ['++', 'filter "++": + must be a whole level'],
  ['', 'filter is empty'],
  ['a/\u0000', 'filter contains U+0000'],
  ['x'.repeat(65536), 'filter is longer than 65535 bytes'],
  ['é'.repeat(32768), 'filter is longer than 65535 bytes'], // 2 bytes each in UTF-8
  // valid
  ['#', undefined],
  ['+', undefined],
  ['+/+/#', undefined],
  ['/', undefined],
  ['$SYS/#', undefined],
  ['x'.repeat(65535), undefined],
];

test('topicFilterProblem', () => {
  for (const [filter, want] of filterProblems) assert.equal(topicFilterProblem(filter), want, filter.slice(0, 20));
});

const nameProblems: [string, string | undefined][] = [
  ['', 'topic is empty'],
  ['a/\u0000/b', 'topic contains U+0000'],
  ['a/+', 'topic "a/+" contains a wildcard (+ or #)'],
  ['a/#', 'topic "a/#" contains a wildcard (+ or #)'],
  ['a+b', 'topic "a+b" contains a wildcard (+ or #)'],
  ['#', 'topic "#" contains a wildcard (+ or #)'],
  ['😀'.repeat(16384), 'topic is longer than 65535 bytes'], // 4 bytes each
  // valid
  ['😀'.repeat(16383), undefined],
  ['/', undefined],
  ['a//b/', undefined],
  ['$SYS/x', undefined],
];

test('topicNameProblem', () => {
  for (const [topic, want] of nameProblems) assert.equal(topicNameProblem(topic), want, topic.slice(0, 20));
});

// The index must agree with topicMatches, which the table above pins down.

/** A small seeded PRNG (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Few distinct levels, so random filters and topics collide often; '' and '$s' cover empty levels and the $ rule.
const topicLevels = ['a', 'b', '', '$s'];

function randomTopic(r: () => number): string {
  const n = 1 + Math.floor(r() * 4);
  const topic = Array.from({ length: n }, () => topicLevels[Math.floor(r() * topicLevels.length)]).join('/');
  return topic === '' ? randomTopic(r) : topic;
}

function randomFilter(r: () => number): string {
  const n = 1 + Math.floor(r() * 4);
  const levels = Array.from({ length: n }, () => {
    const x = r();
    return x < 0.25 ? '+' : topicLevels[Math.floor(r() * topicLevels.length)];
  });
  if (r() < 0.3) levels[n - 1] = '#';
  const filter = levels.join('/');
  return filter === '' ? randomFilter(r) : filter;
}

function indexMatches(index: TopicIndex<string>, topic: string): string[] {
  const out: string[] = [];
  index.match(topic, (f) => out.push(f));
  return out.sort();
}

test('TopicIndex agrees with topicMatches on random filters and topics', () => {
  const r = rng(20240601);
  const filters = [...new Set(Array.from({ length: 400 }, () => randomFilter(r)))];
  const index = new TopicIndex<string>();
  for (const f of filters) {
    assert.equal(topicFilterProblem(f), undefined, f);
    index.add(f, f);
  }
  assert.equal(index.size, filters.length);
  const check = (live: string[]) => {
    for (let i = 0; i < 3000; i++) {
      const topic = randomTopic(r);
      const want = live.filter((f) => topicMatches(f, topic)).sort();
      assert.deepEqual(indexMatches(index, topic), want, `topic ${JSON.stringify(topic)}`);
    }
  };
  check(filters);
  // Removal must prune without losing filters that share a branch.
  const kept = filters.filter((_, i) => i % 2 === 0);
  for (const f of filters.filter((_, i) => i % 2 === 1)) assert.equal(index.remove(f, f), true);
  assert.equal(index.size, kept.length);
  check(kept);
});

test('TopicIndex: several values per filter, add and remove are idempotent', () => {
  const index = new TopicIndex<string>();
  assert.equal(index.add('a/+', 'x'), true);
  assert.equal(index.add('a/+', 'x'), false);
  assert.equal(index.add('a/+', 'y'), true);
  assert.equal(index.add('a/#', 'x'), true);
  // One visit per (filter, value): x matches twice, through a/+ and a/#.
  assert.deepEqual(indexMatches(index, 'a/b'), ['x', 'x', 'y']);
  assert.equal(index.remove('a/+', 'x'), true);
  assert.equal(index.remove('a/+', 'x'), false);
  assert.equal(index.remove('nope/+', 'x'), false);
  assert.deepEqual(indexMatches(index, 'a/b'), ['x', 'y']);
  assert.equal(index.remove('a/+', 'y'), true);
  assert.equal(index.remove('a/#', 'x'), true);
  assert.equal(index.size, 0);
  assert.deepEqual(indexMatches(index, 'a/b'), []);
  assert.deepEqual(indexMatches(index, 'a'), []);
});

test('TopicIndex: the $ rule and # matching its parent level', () => {
  const index = new TopicIndex<string>();
  for (const f of ['#', '+/x', '$SYS/#', 'sport/#', '+']) index.add(f, f);
  assert.deepEqual(indexMatches(index, '$SYS/x'), ['$SYS/#']);
  assert.deepEqual(indexMatches(index, '$SYS'), ['$SYS/#']);
  assert.deepEqual(indexMatches(index, 'sport'), ['#', '+', 'sport/#']);
  assert.deepEqual(indexMatches(index, 'a/x'), ['#', '+/x']);
});

test('a topic and a filter of 100,000 levels are matched without overflowing the stack', () => {
  const deep = Array.from({ length: 100_000 }, (_, i) => `l${i % 7}`).join('/');
  const index = new TopicIndex<string>();
  index.add(deep, 'exact');
  index.add(`${deep.split('/').slice(0, 50_000).join('/')}/#`, 'prefix');
  index.add('+/#', 'wild');
  const seen: string[] = [];
  index.match(deep, (v) => seen.push(v));
  assert.deepEqual(seen.sort(), ['exact', 'prefix', 'wild']);
  assert.equal(topicMatches(deep, deep), true);
});

test('topicLevelCount counts levels, empty ones included', () => {
  assert.equal(topicLevelCount('a'), 1);
  assert.equal(topicLevelCount('/'), 2);
  assert.equal(topicLevelCount('a//b/'), 4);
  assert.equal(topicLevelCount('/'.repeat(9999)), 10000);
});

test('topicLimitProblem: bytes are checked before levels, UTF-8 length counts', () => {
  const limits = { maxLevels: 3, maxBytes: 8 };
  assert.equal(topicLimitProblem('a/b/c', limits), undefined);
  assert.equal(topicLimitProblem('a/b/c/d', limits), 'topic has 4 levels, more than 3');
  assert.equal(topicLimitProblem('abcdefghi', limits), 'topic is longer than 8 bytes');
  assert.equal(topicLimitProblem('ééééé', limits, 'filter'), 'filter is longer than 8 bytes'); // 10 bytes in 5 units
  assert.equal(topicLimitProblem('éééé', limits), undefined); // exactly 8 bytes
  assert.equal(topicLimitProblem('/'.repeat(100_000), limits), 'topic is longer than 8 bytes');
});

test('parseSharedFilter: $share/{group}/{filter} per MQTT 5.0 4.8.2', () => {
  assert.equal(isSharedFilter('$share/g/a'), true);
  assert.equal(isSharedFilter('$shared/g/a'), false);
  assert.equal(isSharedFilter('a/$share/g'), false);
  assert.deepEqual(parseSharedFilter('$share/g/a/+'), { group: 'g', filter: 'a/+' });
  assert.deepEqual(parseSharedFilter('$share/g/#'), { group: 'g', filter: '#' });
  assert.deepEqual(parseSharedFilter('$share/g//'), { group: 'g', filter: '/' });
  // [MQTT-4.8.2-2] a filter follows the share name; [MQTT-4.8.2-1] the name has no + or #, and is not empty.
  assert.match(parseSharedFilter('$share/g') as string, /no topic filter/);
  assert.match(parseSharedFilter('$share//a') as string, /empty share name/);
  assert.match(parseSharedFilter('$share/g+/a') as string, /must not contain/);
  assert.match(parseSharedFilter('$share/#/a') as string, /must not contain/);
  assert.match(parseSharedFilter('$share/g/a/#/b') as string, /# must be the whole last level/);
  assert.match(parseSharedFilter('$share/g/') as string, /filter is empty/);
});
