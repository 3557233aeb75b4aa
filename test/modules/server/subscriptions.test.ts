import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterMatches, SubscriptionIndex } from '../../../modules/server/src/subscriptions.ts';

// Cases from the spec (4.7) and its examples: [filter, topic, matches].
const cases: [string, string, boolean][] = [
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/#', 'sport', true],
  ['#', 'sport/tennis', true],
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player1/tournament', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['+', 'a', true],
  ['/', '/', true],
  ['a/', 'a/', true],
  ['a/', 'a', false],
  ['a//b', 'a//b', true],
  ['a/+/b', 'a//b', true],
  ['#', '$SYS/x', false],
  ['+/x', '$SYS/x', false],
  ['$SYS/#', '$SYS/x', true],
  ['$SYS/+', '$SYS/x', true],
  ['a/#', '$a/b', false],
  ['A', 'a', false],
];

describe('topic matching', () => {
  for (const [filter, topic, expected] of cases) {
    it(`"${filter}" ${expected ? 'matches' : 'does not match'} "${topic}"`, () => {
      assert.equal(filterMatches(filter, topic), expected);
      const index = new SubscriptionIndex<string>();
      index.add(filter, 's', 1);
      assert.equal(index.match(topic).has('s'), expected);
    });
  }

  it('agrees with filterMatches on random filters and topics', () => {
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const words = ['a', 'b', '', '$x'];
    const topic = () => Array.from({ length: 1 + random(4) }, () => words[random(words.length)]).join('/');
    const filter = () => {
      const levels = Array.from({ length: 1 + random(4) }, () => ['a', 'b', '', '+', '$x'][random(5)]);
      if (random(3) === 0) levels.push('#');
      return levels.join('/');
    };
    const index = new SubscriptionIndex<string>();
    const filters = Array.from({ length: 200 }, filter);
    filters.forEach((f, i) => index.add(f, `s${i}`, 0));
    for (let i = 0; i < 500; i++) {
      const t = topic();
      const expected = filters
        .map((f, j) => (filterMatches(f, t) ? `s${j}` : ''))
        .filter(Boolean)
        .sort();
      assert.deepEqual([...index.match(t).keys()].sort(), expected, `topic "${t}"`);
    }
  });
});

describe('subscription index', () => {
  it('gives each subscriber once with its highest QoS', () => {
    const index = new SubscriptionIndex<string>();
    index.add('a/#', 's', 0);
    index.add('a/+', 's', 2);
    index.add('a/b', 's', 1);
    index.add('#', 't', 1);
    assert.deepEqual([...index.match('a/b')].sort(), [
      ['s', 2],
      ['t', 1],
    ]);
  });

  it('removes subscriptions and prunes empty branches', () => {
    const index = new SubscriptionIndex<string>();
    index.add('a/b/c', 's', 0);
    index.add('a/b', 't', 0);
    index.remove('a/b/c', 's');
    index.remove('a/b/c', 's');
    index.remove('x/y', 's');
    assert.equal(index.size, 1);
    assert.deepEqual([...index.match('a/b/c')], []);
    index.remove('a/b', 't');
    assert.equal(index.size, 0);
    assert.equal((index as unknown as { root: { children: Map<string, unknown> } }).root.children.size, 0);
  });
});
