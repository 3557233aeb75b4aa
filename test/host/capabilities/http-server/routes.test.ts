// Routes on a shared address (host/capabilities/http-server/routes.ts): what a route may say,
// which module a request goes to (the most specific route), and a route two modules claim.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRoute, RouteError, RouteTable, requestHost } from '../../../../host/capabilities/http-server/routes.ts';

describe('parseRoute', () => {
  test('a host, a wildcard host, a path, or both; "/" and "*" mean every host', () => {
    assert.deepEqual(parseRoute('api.example.com/v1'), { host: 'api.example.com', wildcard: false, path: '/v1', source: 'api.example.com/v1' });
    assert.deepEqual(parseRoute('*.Example.COM.'), { host: '.example.com', wildcard: true, path: '/', source: '*.Example.COM.' });
    assert.deepEqual(parseRoute('/metrics/'), { host: undefined, wildcard: false, path: '/metrics', source: '/metrics/' });
    assert.equal(parseRoute('*/x').host, undefined);
    assert.equal(parseRoute('/').path, '/');
  });

  test('refuses what a route cannot mean, saying why', () => {
    const refuses = (route: string, why: RegExp) =>
      assert.throws(
        () => parseRoute(route),
        (e: unknown) => e instanceof RouteError && why.test(e.message) && e.message.includes(`"${route}"`),
      );
    refuses('', /is empty/);
    refuses('http://example.com/', /has a scheme/);
    refuses('example.com:8080/x', /must not name a port/);
    refuses('/a?b=1', /query or fragment/);
    refuses('/a/../b', /"\." or "\.\." segments/);
    refuses('ex ample.com', /whitespace/);
    refuses('exa_mple.com', /is not a host name/);
    refuses('*.*.example.com', /is not a host name/);
    refuses('/<script>', /characters a request path cannot have/);
  });
});

test('requestHost compares the Host header lowercase, without its port or a trailing dot', () => {
  assert.equal(requestHost('Example.COM:8080'), 'example.com');
  assert.equal(requestHost('example.com.'), 'example.com');
  assert.equal(requestHost('[::1]:8080'), '[::1]');
  assert.equal(requestHost(undefined), '');
});

describe('RouteTable', () => {
  const table = new RouteTable<string>();
  const label = (owner: string) => (r: { source: string }) => `${owner} "${r.source}"`;
  table.add('catch-all', [parseRoute('/')], label('catch-all'));
  table.add('api', [parseRoute('/api')], label('api'));
  table.add('wild', [parseRoute('*.example.com')], label('wild'));
  table.add('deep', [parseRoute('*.eu.example.com')], label('deep'));
  table.add('exact', [parseRoute('www.example.com'), parseRoute('www.example.com/admin')], label('exact'));
  table.add('admin', [parseRoute('www.example.com/admin/keys')], label('admin'));
  const owner = (host: string | undefined, path: string) => table.match(host, path)?.owner;

  test('an exact host beats a wildcard, a longer wildcard a shorter one, a wildcard any host; then the longer path', () => {
    assert.equal(owner('www.example.com', '/'), 'exact');
    assert.equal(owner('WWW.example.com:8080', '/api'), 'exact', 'the host decides before the path');
    assert.equal(owner('www.example.com', '/admin/keys/1'), 'admin');
    assert.equal(owner('shop.example.com', '/'), 'wild');
    assert.equal(owner('x.eu.example.com', '/'), 'deep');
    assert.equal(owner('example.com', '/api/v1'), 'api', '*.example.com does not match example.com itself');
    assert.equal(owner('other.test', '/x'), 'catch-all');
    assert.equal(owner(undefined, '/api?x=1'), 'api');
  });

  test('a path prefix ends at a segment boundary', () => {
    assert.equal(owner('other.test', '/api'), 'api');
    assert.equal(owner('other.test', '/api/'), 'api');
    assert.equal(owner('other.test', '/apix'), 'catch-all');
  });

  test('without a catch-all, a request no route matches has no owner', () => {
    const t = new RouteTable<string>();
    t.add('a', [parseRoute('a.test')], label('a'));
    assert.equal(t.match('b.test', '/'), undefined);
  });

  test('a route another owner has is refused with both named, and nothing is added', () => {
    const t = new RouteTable<string>();
    t.add('one', [parseRoute('example.com/api')], label('one'));
    assert.throws(
      () => t.add('two', [parseRoute('/other'), parseRoute('EXAMPLE.com/api/')], label('two')),
      (e: unknown) =>
        e instanceof RouteError && e.message === 'one "example.com/api" and two "EXAMPLE.com/api/" claim the same route: give one of them another host or path',
    );
    assert.equal(t.size, 1);
    assert.equal(t.match('x', '/other'), undefined);
    t.remove('one');
    t.add('two', [parseRoute('example.com/api')], label('two'));
    assert.equal(t.match('example.com', '/api')?.owner, 'two');
  });
});
